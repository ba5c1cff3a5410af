//! `SET rapid7.<key> = …`: the settings a session may change, as a
//! DataFusion configuration extension under the `rapid7` prefix.

use std::any::Any;
use std::fmt::Display;

use datafusion::config::{
    ConfigEntry, ConfigExtension, ConfigField, ConfigOptions, ExtensionOptions, Visit,
};

use crate::config::{OnIncomplete, Rapid7Config};

impl ConfigField for OnIncomplete {
    fn visit<V: Visit>(&self, v: &mut V, key: &str, description: &'static str) {
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

/// Per-session settings of the rapid7 source (`SET rapid7.<key> = …`,
/// `SHOW rapid7.<key>`, `SHOW ALL`).
///
/// Written out rather than by DataFusion's `extensions_options!`, whose
/// listing drops the prefix: `information_schema.df_settings` would name
/// `pushdown_filters`, and DataFusion's own `SHOW rapid7.pushdown_filters`
/// would find no such variable. Here every key is listed as it is set.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Rapid7Options {
    /// Most events a statement may page from Rapid7 (by the estimate
    /// asked before any event page); 0 means no limit. Unset: the
    /// source's `Rapid7Config::max_fetch_events` (RAPID7_MAX_FETCH_EVENTS).
    pub max_fetch_events: Option<u64>,
    /// Answer `count(*)` over ranges the cache lacks from Rapid7's
    /// statistics instead of paging their events.
    pub pushdown_aggregates: bool,
    /// Send predicates on `message` that imply substrings (`LIKE`,
    /// `ILIKE`, `strpos`, `contains`, `starts_with`) to Rapid7 as a
    /// `where(...)` superset, and cache what comes back as filtered
    /// segments.
    pub pushdown_filters: bool,
    /// Read `ORDER BY timestamp DESC … LIMIT n` newest first
    /// (`most_recent_first=true`), stopping once the newest `n` are in
    /// hand, instead of paging the whole window.
    pub pushdown_newest_first: bool,
    /// What a statement does with a cached segment that lacks events
    /// (rejected by the decoder, or past the log's retention): `warn`
    /// reads it, `fail` fails the statement naming it. Unset: the
    /// source's `Rapid7Config::on_incomplete` (RAPID7_ON_INCOMPLETE).
    pub on_incomplete: Option<OnIncomplete>,
}

impl Default for Rapid7Options {
    fn default() -> Self {
        Rapid7Options {
            max_fetch_events: None,
            pushdown_aggregates: true,
            pushdown_filters: true,
            pushdown_newest_first: true,
            on_incomplete: None,
        }
    }
}

/// Each setting's name and description, in the order they are listed.
const KEYS: [(&str, &str); 5] = [
    (
        "max_fetch_events",
        "Most events a statement may page from Rapid7 (by the estimate asked before any event \
         page); 0 means no limit. Unset: RAPID7_MAX_FETCH_EVENTS.",
    ),
    (
        "pushdown_aggregates",
        "Answer count(*) over ranges the cache lacks from Rapid7's statistics instead of \
         paging their events.",
    ),
    (
        "pushdown_filters",
        "Send predicates on message that imply substrings to Rapid7 as a where(...) superset.",
    ),
    (
        "pushdown_newest_first",
        "Read ORDER BY timestamp DESC LIMIT n newest first, stopping once the newest n are in \
         hand.",
    ),
    (
        "on_incomplete",
        "What a statement does with a cached segment that lacks events: warn or fail. Unset: \
         RAPID7_ON_INCOMPLETE.",
    ),
];

impl ConfigField for Rapid7Options {
    fn visit<V: Visit>(&self, v: &mut V, key_prefix: &str, _description: &'static str) {
        let [max, aggregates, filters, newest, incomplete] = KEYS;
        let key = |name: &str| match key_prefix {
            "" => name.to_string(),
            prefix => format!("{prefix}.{name}"),
        };
        self.max_fetch_events.visit(v, &key(max.0), max.1);
        self.pushdown_aggregates
            .visit(v, &key(aggregates.0), aggregates.1);
        self.pushdown_filters.visit(v, &key(filters.0), filters.1);
        self.pushdown_newest_first
            .visit(v, &key(newest.0), newest.1);
        self.on_incomplete
            .visit(v, &key(incomplete.0), incomplete.1);
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::error::Result<()> {
        let (name, rest) = key.split_once('.').unwrap_or((key, ""));
        match name {
            "max_fetch_events" => self.max_fetch_events.set(rest, value),
            "pushdown_aggregates" => self.pushdown_aggregates.set(rest, value),
            "pushdown_filters" => self.pushdown_filters.set(rest, value),
            "pushdown_newest_first" => self.pushdown_newest_first.set(rest, value),
            "on_incomplete" => self.on_incomplete.set(rest, value),
            _ => datafusion::common::config_err!(
                "rapid7.{key} is not a setting; the settings are {}",
                KEYS.map(|(name, _)| format!("rapid7.{name}")).join(", ")
            ),
        }
    }
}

impl ExtensionOptions for Rapid7Options {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> datafusion::error::Result<()> {
        ConfigField::set(self, key, value)
    }

    /// The settings under their full names (`rapid7.pushdown_filters`),
    /// as `SHOW` and `information_schema.df_settings` name them.
    fn entries(&self) -> Vec<ConfigEntry> {
        struct Entries(Vec<ConfigEntry>);
        impl Visit for Entries {
            fn some<V: Display>(&mut self, key: &str, value: V, description: &'static str) {
                self.0.push(ConfigEntry {
                    key: key.to_string(),
                    value: Some(value.to_string()),
                    description,
                })
            }

            fn none(&mut self, key: &str, description: &'static str) {
                self.0.push(ConfigEntry {
                    key: key.to_string(),
                    value: None,
                    description,
                })
            }
        }
        let mut entries = Entries(Vec::with_capacity(KEYS.len()));
        self.visit(&mut entries, <Self as ConfigExtension>::PREFIX, "");
        entries.0
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

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, StringArray};
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::{KEYS, Rapid7Options};

    fn session() -> SessionContext {
        let mut config = SessionConfig::new().with_information_schema(true);
        config
            .options_mut()
            .extensions
            .insert(Rapid7Options::default());
        SessionContext::new_with_config(config)
    }

    /// The statement's rows as `name=value` lines.
    async fn rows(ctx: &SessionContext, sql: &str) -> Vec<String> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let mut out = Vec::new();
        for b in batches {
            let text = |i: usize| {
                let c = datafusion::arrow::compute::cast(
                    b.column(i),
                    &datafusion::arrow::datatypes::DataType::Utf8,
                )
                .unwrap();
                c.as_any().downcast_ref::<StringArray>().unwrap().clone()
            };
            let (names, values) = (text(0), text(1));
            for r in 0..b.num_rows() {
                let value = if values.is_null(r) {
                    "NULL"
                } else {
                    values.value(r)
                };
                out.push(format!("{}={value}", names.value(r)));
            }
        }
        out
    }

    #[tokio::test]
    async fn show_and_df_settings_name_the_settings_as_set() {
        let ctx = session();
        ctx.sql("SET rapid7.pushdown_filters = false")
            .await
            .unwrap();
        ctx.sql("SET rapid7.max_fetch_events = 42").await.unwrap();
        assert_eq!(
            rows(&ctx, "SHOW rapid7.pushdown_filters").await,
            ["rapid7.pushdown_filters=false"]
        );
        assert_eq!(
            rows(&ctx, "SHOW rapid7.max_fetch_events").await,
            ["rapid7.max_fetch_events=42"]
        );
        let listed = rows(
            &ctx,
            "SELECT name, value FROM information_schema.df_settings \
             WHERE name LIKE 'rapid7.%' ORDER BY name",
        )
        .await;
        let mut expected: Vec<String> = KEYS
            .iter()
            .map(|(name, _)| format!("rapid7.{name}="))
            .collect();
        expected.sort();
        let names: Vec<String> = listed
            .iter()
            .map(|l| format!("{}=", l.split_once('=').unwrap().0))
            .collect();
        assert_eq!(names, expected, "{listed:?}");
        assert!(
            listed.contains(&"rapid7.on_incomplete=NULL".to_string()),
            "{listed:?}"
        );
    }

    #[tokio::test]
    async fn an_unknown_setting_is_refused_naming_the_settings() {
        let ctx = session();
        let e = ctx
            .sql("SET rapid7.pushdown_everything = true")
            .await
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rapid7.pushdown_everything is not a setting"),
            "{e}"
        );
        assert!(e.contains("rapid7.pushdown_newest_first"), "{e}");
        let e = ctx
            .sql("SHOW rapid7.pushdown_everything")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("rapid7.pushdown_everything"), "{e}");
    }
}
