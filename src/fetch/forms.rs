//! What reads teach about how each log sends `message` ([`MessageForm`]),
//! kept in the cache for every later session.
//!
//! A pushed LEQL filter is a proven superset of the SQL filter only for a
//! log whose messages come as text: Rapid7 searches a message's text, and
//! for a log that sends JSON objects that text is one this client never
//! sees. So:
//! - a page of an unfiltered read with events, none of them objects, shows
//!   the log sends text; a page with an object shows it sends objects (a
//!   filtered read too); each is recorded once per log and process;
//! - a filtered read that meets an object fails, keeping nothing
//!   ([`Error::ObjectMessages`]);
//! - planning pushes filters for logs not known to send objects, and caches
//!   what they select only for logs known to send text (see
//!   `provider/scan/plan.rs`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use tracing::{info, warn};

use crate::cache::{MessageForm, SegmentCache};
use crate::client::PageStats;
use crate::error::{Error, Result};
use crate::locks::lock;

/// The forms this process has seen or recorded, over the cache's record.
#[derive(Debug, Default)]
pub(crate) struct Forms {
    known: Mutex<HashMap<String, MessageForm>>,
}

impl Forms {
    /// The form of every log known: the cache's record, and what this
    /// process learnt (a bypassed cache records nothing).
    pub(crate) async fn all(&self, cache: &SegmentCache) -> BTreeMap<String, MessageForm> {
        let mut forms = cache.message_forms().await.unwrap_or_else(|e| {
            warn!(
                error = %e,
                detail = "no filter is cached until the record can be read",
                "message_forms_unreadable"
            );
            BTreeMap::new()
        });
        for (id, form) in lock(&self.known).iter() {
            let merged = forms.get(id).map_or(*form, |f| f.merge(*form));
            forms.insert(id.clone(), merged);
        }
        forms
    }

    /// Record `form` for `log_id`, in this process and in the cache.
    pub(crate) async fn record(
        &self,
        cache: &SegmentCache,
        log_id: &str,
        form: MessageForm,
    ) -> Result<MessageForm> {
        let now = cache.record_message_form(log_id, form).await?;
        let now = self.learn(log_id, now);
        info!(
            log_id,
            form = ?now,
            "message_form_recorded"
        );
        Ok(now)
    }

    /// Keep `form` for `log_id` in this process, merged with what it knew
    /// (objects, once seen, stay; a bypassed cache hands back what it is
    /// given); the form now known.
    fn learn(&self, log_id: &str, form: MessageForm) -> MessageForm {
        let mut known = lock(&self.known);
        let now = known.get(log_id).map_or(form, |k| k.merge(form));
        known.insert(log_id.to_string(), now);
        now
    }

    /// Before a filtered segment of `log_id` is committed: fails with
    /// [`Error::ObjectMessages`] when the log was seen sending objects since
    /// the statement was planned (by this process, or by another over the
    /// cache), and with the error when the record cannot be read: what a
    /// pushed filter selected is committed only while the log is still
    /// known to send text.
    pub(crate) async fn check_still_text(&self, cache: &SegmentCache, log_id: &str) -> Result<()> {
        let known = lock(&self.known).get(log_id).copied();
        let recorded = cache.message_forms().await?.get(log_id).copied();
        if [known, recorded].contains(&Some(MessageForm::Objects)) {
            warn!(
                log_id,
                detail = "the log was seen sending objects while the filtered read ran: nothing of it is kept",
                "filtered_segment_not_committed"
            );
            return Err(Error::ObjectMessages {
                log: log_id.to_string(),
            });
        }
        Ok(())
    }

    /// Take in a page of `log_id` read with a pushed filter or not. Fails
    /// when a filtered read meets an object message.
    pub(crate) async fn page(
        &self,
        cache: &SegmentCache,
        log_id: &str,
        filtered: bool,
        stats: &PageStats,
    ) -> Result<()> {
        let seen = if stats.object_messages > 0 {
            MessageForm::Objects
        } else if !filtered && stats.accepted > 0 {
            MessageForm::Text
        } else {
            return Ok(());
        };
        let known = lock(&self.known).get(log_id).copied();
        if known.is_none_or(|k| k.merge(seen) != k)
            && let Err(e) = self.record(cache, log_id, seen).await
        {
            // Kept in this process at least; the cache learns it next time.
            warn!(
                log_id,
                error = %e,
                "message_form_write_failed"
            );
            self.learn(log_id, seen);
        }
        if filtered && seen == MessageForm::Objects {
            return Err(Error::ObjectMessages {
                log: log_id.to_string(),
            });
        }
        Ok(())
    }
}
