//! Submit a query and poll its `Self` link until it is finished (rapid7-api.md
//! §3): the one loop behind event pages, statistical queries and the
//! doctor's probes.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::time::Instant;

use super::error::{Error, Result, Wait};
use super::http::Outgoing;
use super::model::{Link, find_link};
use super::page::ParsedBody;
use super::rate_limit::Namespace;
use super::rest::Client;

/// Shortest wait between two polls of a running query: a zero setting must
/// not spin on the API.
pub(crate) const MIN_POLL_DELAY: Duration = Duration::from_millis(1);

/// The finished body of page `page` of an event query of `label` (one log's
/// or a merged one), submitted as `submit` and polled through its `Self`
/// links by [`poll_until_finished`] (`request` sends one request). Any answer
/// for the page (submit, polls, resubmits) may say the window is beyond
/// retention: the first that does is the body's.
pub(crate) async fn poll_body<F, Fut>(
    client: &Client,
    submit: &Outgoing,
    label: &str,
    page: u64,
    request: F,
) -> Result<ParsedBody>
where
    F: FnMut(Outgoing, Namespace) -> Fut,
    Fut: Future<Output = Result<ParsedBody>>,
{
    let who = Polling {
        log_id: label,
        page: Some(page),
        max_resubmits: client.inner.config.poll.max_resubmits,
    };
    let mut beyond_retention = None;
    let finished = poll_until_finished(
        client,
        submit,
        who,
        request,
        |body: &ParsedBody| find_link(&body.links, "Self").map(|l| l.href.clone()),
        |body| beyond_retention = beyond_retention.take().or(body.beyond_retention.take()),
    )
    .await?;
    let mut body = finished.body;
    body.beyond_retention = beyond_retention;
    Ok(body)
}

/// Who polls, for the log event of an expired continuation, and how often
/// the query may be submitted again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Polling<'a> {
    /// The log (or logs) queried.
    pub(crate) log_id: &'a str,
    /// The page of an event query; `None` for one answer.
    pub(crate) page: Option<u64>,
    /// Submits again after an expired continuation (404 on a poll).
    pub(crate) max_resubmits: u32,
}

/// The final body of a query, and the polls it took.
#[derive(Debug)]
pub(crate) struct Finished<B> {
    pub(crate) body: B,
    pub(crate) polls: u32,
}

/// Send `submit` with `request`, then poll until a body without a `Self`
/// link (`self_link` reads it) arrives, and return that final body.
///
/// Every body, in progress or final, is shown to `seen` first. The waits
/// between polls start at `poll.initial` and double up to `poll.max`, never
/// shorter than [`MIN_POLL_DELAY`]. An expired continuation (404 on a
/// poll) submits `submit` again, at most `who.max_resubmits` times. A query
/// not finished after `poll.query_timeout` fails.
pub(crate) async fn poll_until_finished<B, F, Fut>(
    client: &Client,
    submit: &Outgoing,
    who: Polling<'_>,
    mut request: F,
    self_link: impl Fn(&B) -> Option<String>,
    mut seen: impl FnMut(&mut B),
) -> Result<Finished<B>>
where
    F: FnMut(Outgoing, Namespace) -> Fut,
    Fut: Future<Output = Result<B>>,
{
    let poll = client.inner.config.poll;
    let mut resubmits = 0;
    let mut polls = 0;
    'submit: loop {
        let mut body = request(submit.clone(), Namespace::Query).await?;
        seen(&mut body);
        let started = Instant::now();
        let mut delay = poll.initial.max(MIN_POLL_DELAY);
        while let Some(href) = self_link(&body) {
            if started.elapsed() > poll.query_timeout {
                return Err(Error::Timeout {
                    method: submit.method(),
                    url: submit.url.to_string(),
                    wait: Wait::Query,
                    after: poll.query_timeout,
                    source: None,
                });
            }
            let self_url = client.checked_link(&href)?;
            tokio::time::sleep(delay).await;
            delay = next_delay(delay, poll.max);
            match request(Outgoing::get(self_url), Namespace::Poll).await {
                Ok(next) => {
                    body = next;
                    seen(&mut body);
                    polls += 1;
                }
                Err(e) if e.status() == Some(404) && resubmits < who.max_resubmits => {
                    resubmits += 1;
                    client.inner.stats.resubmits.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        log_id = who.log_id,
                        page = who.page,
                        resubmits,
                        detail = if who.page.is_some() {
                            "resubmitting the page"
                        } else {
                            "resubmitting the query"
                        },
                        "logsearch_continuation_expired"
                    );
                    continue 'submit;
                }
                Err(e) => return Err(e),
            }
        }
        return Ok(Finished { body, polls });
    }
}

/// The wait after `delay`: twice as long, at most `max`, at least
/// [`MIN_POLL_DELAY`] (even when `max` is zero).
fn next_delay(delay: Duration, max: Duration) -> Duration {
    delay.saturating_mul(2).min(max).max(MIN_POLL_DELAY)
}

/// `Err` for a `202 Accepted` whose body has no `Self` link: a running
/// query that cannot be polled.
pub(crate) fn pollable(status: StatusCode, links: &[Link]) -> std::result::Result<(), String> {
    if status == StatusCode::ACCEPTED && find_link(links, "Self").is_none() {
        return Err("202 without a Self link to poll".to_string());
    }
    Ok(())
}

/// Send `submit` and poll it to its final body; `parse` gets every body (in
/// progress or final) and returns its links with the parsed value.
pub(crate) async fn fetch_finished<T>(
    client: &Client,
    submit: &Outgoing,
    log_id: &str,
    parse: impl Fn(&[u8]) -> std::result::Result<(Vec<Link>, T), String>,
) -> Result<T> {
    let parse = &parse;
    let request = |req: Outgoing, ns: Namespace| async move {
        client
            .send_parsed(&req, ns, |resp| {
                let (links, value) = parse(&resp.body)?;
                pollable(resp.status, &links)?;
                Ok((links, value))
            })
            .await
    };
    let who = Polling {
        log_id,
        page: None,
        max_resubmits: client.inner.config.poll.max_resubmits,
    };
    let self_link = |(links, _): &(Vec<Link>, T)| find_link(links, "Self").map(|l| l.href.clone());
    let finished = poll_until_finished(client, submit, who, request, self_link, |_| {}).await?;
    Ok(finished.body.1)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;
    use crate::client::{ClientBuilder, PollConfig};

    /// Whatever `poll.initial` and `poll.max` say, a poll follows the answer
    /// before it by at least [`MIN_POLL_DELAY`]: answers that come back at
    /// once (a paused clock, a request that takes no time) must not make
    /// the loop spin. Statistics and probes had no such floor (#33).
    #[tokio::test(start_paused = true)]
    async fn zero_poll_settings_still_wait_a_millisecond_between_polls() {
        const ENDPOINT: &str = "https://us.api.insight.rapid7.com";
        let client = ClientBuilder::new()
            .with_endpoint(ENDPOINT)
            .with_api_key("k")
            .with_poll(PollConfig {
                initial: Duration::ZERO,
                max: Duration::ZERO,
                query_timeout: Duration::from_secs(60),
                max_resubmits: 0,
            })
            .build()
            .unwrap();
        let submit = Outgoing::get(format!("{ENDPOINT}/query/logs/x").parse().unwrap());
        let sent = AtomicU32::new(0);
        // Answer `n` (0 the submit) is in progress until the 50th poll.
        let request = |_: Outgoing, _: Namespace| {
            let n = sent.fetch_add(1, Ordering::Relaxed);
            async move { Ok(n) }
        };
        let self_link = |n: &u32| (*n < 50).then(|| format!("{ENDPOINT}/query/q1"));
        let who = Polling {
            log_id: "x",
            page: None,
            max_resubmits: 0,
        };
        let started = Instant::now();
        let finished = poll_until_finished(&client, &submit, who, request, self_link, |_| {})
            .await
            .unwrap();
        assert_eq!((finished.body, finished.polls), (50, 50));
        assert!(
            started.elapsed() >= 50 * MIN_POLL_DELAY,
            "50 polls in {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn waits_double_up_to_the_cap_and_never_reach_zero() {
        let ms = Duration::from_millis;
        assert_eq!(next_delay(ms(50), ms(2_000)), ms(100));
        assert_eq!(next_delay(ms(1_500), ms(2_000)), ms(2_000));
        assert_eq!(next_delay(Duration::ZERO, Duration::ZERO), MIN_POLL_DELAY);
        assert_eq!(next_delay(ms(5), Duration::ZERO), MIN_POLL_DELAY);
        assert_eq!(next_delay(Duration::MAX, Duration::MAX), Duration::MAX);
    }
}
