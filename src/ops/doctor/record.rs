//! What doctor learnt, recorded in the cache for later sessions: the
//! endpoint's facts (`_ENDPOINTS.json`) and how each sampled log sends its
//! messages.

use super::{Doctor, Status};
use crate::cache::{ENDPOINT_FACTS_FILE, EndpointFacts, MessageForm};
use crate::provider::Rapid7;

impl Doctor<'_> {
    /// Record how each sampled log sends its messages in the cache, as an
    /// unfiltered read would: filtered segments are kept only for logs
    /// known to send text (objects, once recorded, stay).
    pub(super) async fn record_forms(&mut self, rapid7: &Rapid7) {
        if rapid7.cache().root().is_none() || self.forms.is_empty() {
            return;
        }
        let mut recorded = Vec::new();
        for (log_id, form) in std::mem::take(&mut self.forms) {
            match rapid7.record_message_form(&log_id, form).await {
                Ok(now) => recorded.push(format!(
                    "{log_id}: {}",
                    match now {
                        MessageForm::Text => "text",
                        MessageForm::Objects => "JSON objects",
                    }
                )),
                Err(e) => {
                    self.push("forms", Status::Warn, format!("not recorded: {e}"));
                    return;
                }
            }
        }
        self.push(
            "forms",
            Status::Ok,
            format!("recorded in the cache: {}", recorded.join(", ")),
        );
    }

    /// Record what was learnt in the cache's endpoint facts.
    pub(super) async fn record(&mut self, rapid7: &Rapid7, facts: &EndpointFacts) {
        if *facts == EndpointFacts::default() {
            return;
        }
        let cache = rapid7.cache();
        let Some(root) = cache.root() else {
            self.push(
                "facts",
                Status::Skipped,
                "the cache is bypassed: nothing recorded",
            );
            return;
        };
        let endpoint = self.client.endpoint().to_string();
        match cache.save_endpoint_facts(&endpoint, facts).await {
            Ok(()) => {
                let learnt: Vec<&str> = [
                    ("newest_first", facts.newest_first.is_some()),
                    ("to_inclusive", facts.to_inclusive.is_some()),
                    ("from_inclusive", facts.from_inclusive.is_some()),
                    ("slices_half_open", facts.slices_half_open.is_some()),
                ]
                .into_iter()
                .filter_map(|(n, learnt)| learnt.then_some(n))
                .collect();
                self.push(
                    "facts",
                    Status::Ok,
                    format!(
                        "recorded {} in {}/{ENDPOINT_FACTS_FILE}",
                        learnt.join(", "),
                        root.location().trim_end_matches('/')
                    ),
                );
            }
            Err(e) => self.push("facts", Status::Warn, format!("not recorded: {e}")),
        }
    }
}
