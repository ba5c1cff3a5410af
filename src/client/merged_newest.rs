//! A merged query newest first: the newest events of several logs over one
//! window, by merged queries asked `most_recent_first=true`, for a caller
//! that stops once it has the newest events it needs.
//!
//! It pages as a single log's newest-first query does (`query.rs`), since
//! Rapid7 documents no cursor for newest-first pages: each page is a new
//! merged query of the window with `to` one past the oldest millisecond
//! returned, the events already returned dropped as repeats; only the
//! presence of a `Next` link is taken to mean more remain. A page holding nothing
//! older than what was read (a millisecond of `per_page` events or more,
//! all logs together) has its millisecond read whole, oldest first, by a
//! merged query of that millisecond ([`MergedQuery`]'s documented cursor);
//! then newest first below it. Each request reaches strictly lower: the
//! pages end.
//!
//! Every page is checked as an oldest-first merged page is (`page/merged.rs`),
//! mirrored: every event of a log asked for, the page's stream strictly
//! decreasing in `(timestamp, sequence_number)`. Across pages the caller
//! checks that each page goes back in time (`provider/scan/newest_rule.rs`:
//! a page may repeat the millisecond the request's `to` reaches). A page
//! that breaks a rule fails the query with [`Error::MergedAnswer`].
//!
//! As for oldest-first merged queries, `to` is the exclusive end asked, and
//! events stamped at or after it are dropped, exact whichever way Rapid7
//! reads `to`.

use super::error::{Error, Result};
use super::merged::{MergedPage, MergedQuery};
use super::page::Resume;
use super::rest::Client;

/// The newest events of several logs over one window; see the module docs.
#[derive(Debug)]
pub struct MergedNewest {
    client: Client,
    logs: Vec<String>,
    window: (i64, i64),
    statement: String,
    /// Every event of the window at or after this millisecond was returned.
    done_from: i64,
    /// The `to` of the next newest-first page, if there is one.
    next_to: Option<i64>,
    /// What was returned: a page's repeats are dropped by it.
    resume: Resume,
    /// The millisecond being read whole, oldest first, and its query.
    burst: Option<(i64, MergedQuery)>,
    page_number: u64,
}

impl Client {
    /// The events of `logs` (at least one, at most
    /// [`super::MAX_LOGS_PER_QUERY`]) with `from <= timestamp < to` that
    /// `statement` selects, newest first; see the module docs. Nothing is
    /// requested until the first page is asked for.
    pub fn query_merged_newest(
        &self,
        logs: &[&str],
        from: i64,
        to: i64,
        statement: &str,
    ) -> Result<MergedNewest> {
        // The same checks as every step's query.
        self.query_merged(logs, from, to, statement)?;
        Ok(MergedNewest {
            client: self.clone(),
            logs: logs.iter().map(|l| (*l).to_string()).collect(),
            window: (from, to),
            statement: statement.to_string(),
            done_from: to,
            next_to: Some(to),
            resume: Resume::default(),
            burst: None,
            page_number: 0,
        })
    }
}

impl MergedNewest {
    /// The next page, split by log, or `None` when every event of the
    /// window was returned.
    pub async fn next_page(&mut self) -> Result<Option<MergedPage>> {
        loop {
            if let Some((_, burst)) = &mut self.burst {
                if let Some(page) = burst.next_page().await? {
                    return Ok(Some(self.numbered(page)));
                }
                if let Some((ms, burst)) = self.burst.take() {
                    self.resume.absorb(ms, burst.resume());
                    self.done_from = ms;
                    self.next_to = (ms > self.window.0).then_some(ms);
                }
                continue;
            }
            let Some(to) = self.next_to.take() else {
                return Ok(None);
            };
            let ids: Vec<&str> = self.logs.iter().map(String::as_str).collect();
            let mut query = self
                .client
                .query_merged(&ids, self.window.0, to, &self.statement)?
                .newest_first()
                .after(std::mem::take(&mut self.resume));
            let page = query.next_page().await?;
            self.resume = query.resume().clone();
            let Some(page) = page else {
                return Ok(None);
            };
            self.step(query.more(), page.stats.min_timestamp)?;
            return Ok(Some(self.numbered(page)));
        }
    }

    /// `page`, numbered within this read.
    fn numbered(&mut self, mut page: MergedPage) -> MergedPage {
        self.page_number += 1;
        page.page_number = self.page_number;
        for log in &mut page.logs {
            log.page_number = self.page_number;
        }
        page
    }

    /// After a newest-first page (`more`: it had a `Next` link; `oldest`:
    /// its oldest timestamp): ask the window again below what was
    /// returned, or, when the page held nothing older, read the millisecond
    /// below the returned part whole, oldest first.
    fn step(&mut self, more: bool, oldest: Option<i64>) -> Result<()> {
        let from = self.window.0;
        match oldest {
            _ if !more => {}
            // No event at all: nothing is left below.
            None => {}
            Some(ms) if ms.saturating_add(1) < self.done_from => {
                self.done_from = ms.saturating_add(1).max(from);
                self.next_to = (self.done_from > from).then_some(self.done_from);
            }
            _ if self.done_from > from => {
                let ms = self.done_from - 1;
                let ids: Vec<&str> = self.logs.iter().map(String::as_str).collect();
                let whole = self
                    .client
                    .query_merged(&ids, ms, ms + 1, &self.statement)?
                    .after(self.resume.seeded(ms));
                tracing::debug!(
                    log_id = %format!("{} logs", self.logs.len()),
                    ms,
                    detail = "a merged page held nothing older: its millisecond is read whole",
                    "logsearch_newest_millisecond"
                );
                self.burst = Some((ms, whole));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Whether `e` says a merged answer is not to be used (so the logs are to
/// be read one by one): `Some(true)` when it broke a rule (remember the
/// endpoint), `Some(false)` when it was refused or unusable (a 4xx, a
/// beyond-retention answer), `None` for any other error.
pub(crate) fn merged_unusable(e: &Error) -> Option<bool> {
    match e {
        Error::MergedAnswer { broken, .. } => Some(*broken),
        api @ Error::Api { .. }
            if api
                .status()
                .is_some_and(|s| (400..500).contains(&s) && s != 429) =>
        {
            Some(false)
        }
        _ => None,
    }
}
