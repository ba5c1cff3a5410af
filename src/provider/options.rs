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

/// `SHOW rapid7.<key>` as a query DataFusion can plan. DataFusion lists a
/// configuration extension's settings in `information_schema.df_settings`
/// without their prefix (`pushdown_filters`, not `rapid7.pushdown_filters`),
/// so its own `SHOW rapid7.<key>` says there is no such variable. `None`
/// for any other statement. The key is one of the extension's own, so
/// nothing of the statement's text reaches the query.
pub fn show_statement(sql: &str) -> Option<String> {
    let mut words = sql.trim().trim_end_matches(';').split_whitespace();
    if !words.next()?.eq_ignore_ascii_case("show") {
        return None;
    }
    // sqlparser shows a parsed `SHOW a.b` as `SHOW a b`: both are read.
    let variable = words.collect::<Vec<_>>().join(".");
    let (prefix, key) = variable.split_once('.')?;
    if !prefix.eq_ignore_ascii_case(<Rapid7Options as ConfigExtension>::PREFIX) {
        return None;
    }
    let key = key.to_ascii_lowercase();
    let known = datafusion::config::ExtensionOptions::entries(&Rapid7Options::default())
        .into_iter()
        .any(|e| e.key == key);
    known.then(|| {
        format!(
            "SELECT 'rapid7.{key}' AS name, value FROM information_schema.df_settings \
             WHERE name = '{key}'"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::show_statement;

    #[test]
    fn show_of_a_rapid7_setting_reads_it_under_its_unprefixed_name() {
        let q = show_statement("show RAPID7.pushdown_filters;").unwrap();
        assert!(q.contains("WHERE name = 'pushdown_filters'"), "{q}");
        assert!(q.contains("'rapid7.pushdown_filters' AS name"), "{q}");
        assert_eq!(show_statement("SHOW rapid7.no_such_setting"), None);
        assert_eq!(show_statement("SHOW datafusion.execution.time_zone"), None);
        assert_eq!(show_statement("SELECT 1"), None);
        assert_eq!(show_statement("SHOW rapid7.pushdown_filters x"), None);
        // How sqlparser prints the parsed statement back.
        assert_eq!(show_statement("SHOW rapid7 pushdown_filters"), Some(q));
    }
}
