//! `SET rapid7.<key> = …`: the settings a session may change, as a
//! DataFusion configuration extension under the `rapid7` prefix.

use datafusion::common::extensions_options;
use datafusion::config::{ConfigExtension, ConfigOptions};

use crate::config::{OnIncomplete, Rapid7Config};

impl datafusion::config::ConfigField for OnIncomplete {
    fn visit<V: datafusion::config::Visit>(&self, v: &mut V, key: &str, description: &'static str) {
        v.some(key, self, description)
    }

    fn set(&mut self, _: &str, value: &str) -> datafusion::error::Result<()> {
        *self = datafusion::config::default_config_transform(value)?;
        Ok(())
    }

    fn reset(&mut self, key: &str) -> datafusion::error::Result<()> {
        if !key.is_empty() {
            return datafusion::common::config_err!("rapid7.on_incomplete has no field {key}");
        }
        *self = OnIncomplete::default();
        Ok(())
    }
}

extensions_options! {
    /// Per-session settings of the rapid7 source (`SET rapid7.<key> = …`,
    /// `SHOW rapid7.<key>`).
    pub struct Rapid7Options {
        /// Most events a statement may page from Rapid7 (by the estimate
        /// asked before any event page); 0 means no limit. Unset: the
        /// source's `Rapid7Config::max_fetch_events` (RAPID7_MAX_FETCH_EVENTS).
        pub max_fetch_events: Option<u64>, default = None
        /// Answer `count(*)` over ranges the cache lacks from Rapid7's
        /// statistics instead of paging their events.
        pub pushdown_aggregates: bool, default = true
        /// Send predicates on `message` that imply substrings (`LIKE`,
        /// `ILIKE`, `strpos`, `contains`, `starts_with`) to Rapid7 as a
        /// `where(...)` superset, and cache what comes back as filtered
        /// segments.
        pub pushdown_filters: bool, default = true
        /// Read `ORDER BY timestamp DESC … LIMIT n` newest first
        /// (`most_recent_first=true`), stopping once the newest `n` are in
        /// hand, instead of paging the whole window.
        pub pushdown_newest_first: bool, default = true
        /// What a statement does with a cached segment that lacks events
        /// (rejected by the decoder, or past the log's retention): `warn`
        /// reads it, `fail` fails the statement naming it. Unset: the
        /// source's `Rapid7Config::on_incomplete` (RAPID7_ON_INCOMPLETE).
        pub on_incomplete: Option<OnIncomplete>, default = None
    }
}

impl ConfigExtension for Rapid7Options {
    const PREFIX: &'static str = "rapid7";
}

impl Rapid7Options {
    /// The session's settings (the defaults when the extension is not
    /// registered).
    pub fn from_config(config: &ConfigOptions) -> Rapid7Options {
        config
            .extensions
            .get::<Rapid7Options>()
            .cloned()
            .unwrap_or_default()
    }
}

/// What a statement in a session with `options` does with incomplete
/// segments: the session's `SET rapid7.on_incomplete` over the source's
/// [`Rapid7Config::on_incomplete`].
pub(crate) fn on_incomplete(config: &Rapid7Config, options: &ConfigOptions) -> OnIncomplete {
    Rapid7Options::from_config(options)
        .on_incomplete
        .unwrap_or(config.on_incomplete)
}
