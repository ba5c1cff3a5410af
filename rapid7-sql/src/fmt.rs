//! How the command line words things: plurals, and errors, with the flags
//! that do what a library error's hint names as a setting. Numbers are
//! written by the library's [`group_digits`](datafusion_rapid7::text::group_digits).

use datafusion::error::DataFusionError;
use datafusion_rapid7::{Error, cache, client};

/// `""` for one, `"s"` otherwise.
pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The message of a statement's error, without DataFusion's wrapping noise,
/// with the command line's own way out added.
pub(crate) fn describe(e: &DataFusionError) -> String {
    match unwrapped(e) {
        DataFusionError::External(inner) => match inner.downcast_ref::<Error>() {
            Some(ours) => error(ours),
            None => inner.to_string(),
        },
        other => other.to_string(),
    }
}

/// Whether `e` is a statement refused by the fetch limit.
pub(crate) fn is_fetch_budget(e: &DataFusionError) -> bool {
    matches!(
        unwrapped(e),
        DataFusionError::External(inner)
            if inner.downcast_ref::<Error>().is_some_and(|e| e.fetch_budget().is_some())
    )
}

/// `e` without DataFusion's `Context` and `Shared` wrapping.
fn unwrapped(mut e: &DataFusionError) -> &DataFusionError {
    loop {
        match e {
            DataFusionError::Context(_, inner) => e = inner,
            DataFusionError::Shared(inner) => e = inner,
            other => return other,
        }
    }
}

/// A library error's message, plus the flags that do what its hint says.
pub(crate) fn error(e: &Error) -> String {
    let message = match e {
        Error::DataFusion(inner) => return describe(inner),
        other => other.to_string(),
    };
    match cli_hint(e) {
        Some(hint) => format!("{message}. With rapid7-sql: {hint}"),
        None => message,
    }
}

fn cli_hint(e: &Error) -> Option<String> {
    if let Some(key) = e.config_key() {
        return Some(format!("the flag is {}", crate::knobs::flag_of(key)?));
    }
    if let Some(wait) = e.timeout() {
        return Some(format!(
            "raise it with {}",
            crate::knobs::flag_of(wait.setting())?
        ));
    }
    Some(match e {
        Error::Client(client::Error::MissingApiKey) => {
            "or run `rapid7-sql --demo` to try the bundled simulator".into()
        }
        Error::Offline { .. } => "run without --offline".into(),
        Error::Cache(cache::Error::Unavailable { .. }) => {
            "the flags are --cache DIR and --bypass-cache".into()
        }
        Error::Cache(cache::Error::CorruptSegment { .. }) => {
            "`rapid7-sql cache drop --log NAME` drops the log's segments, \
             or run with --bypass-cache"
                .into()
        }
        Error::Incomplete { segments } => {
            let drop = match segments.first() {
                Some(s) => format!(
                    "`rapid7-sql cache drop --log {} --from {} --to {}` drops {}, so the next \
                     statement fetches it again",
                    s.log_id,
                    datafusion_rapid7::time::fmt_ms(s.range.start()),
                    datafusion_rapid7::time::fmt_ms(s.range.end()),
                    if segments.len() == 1 {
                        "the segment"
                    } else {
                        "the first segment"
                    },
                ),
                None => "`rapid7-sql cache drop` drops segments".into(),
            };
            format!("{drop}; or pass --on-incomplete warn")
        }
        Error::FetchBudget(_) => {
            "pass --max-fetch-events 0 for a deliberate backfill (or a larger N); \
             the interactive shell asks instead"
                .into()
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion_rapid7::text::group_digits;

    #[test]
    fn numbers() {
        assert_eq!(group_digits(0), "0");
        assert_eq!(group_digits(41_210), "41,210");
        assert_eq!(group_digits(1_000_000), "1,000,000");
        assert_eq!(plural(1), "");
        assert_eq!(plural(2), "s");
    }

    #[test]
    fn library_hints_gain_their_flags() {
        let offline = Error::Offline {
            missing: vec!["Firewall [a, b)".into()],
        };
        let shown = describe(&DataFusionError::Context(
            "scan".into(),
            Box::new(DataFusionError::External(Box::new(offline))),
        ));
        assert!(shown.contains("RAPID7_OFFLINE"), "{shown}");
        assert!(shown.contains("run without --offline"), "{shown}");
        assert!(!shown.contains("scan"), "{shown}");

        let corrupt = error(&Error::from(cache::Error::CorruptSegment {
            segment: "logs/x/from=1/to=2".into(),
            message: "footer".into(),
        }));
        assert!(
            corrupt.contains("cache drop") && corrupt.contains("--bypass-cache"),
            "{corrupt}"
        );
        assert!(error(&client::Error::MissingApiKey.into()).contains("--demo"));
        let region = error(&Error::Config {
            key: "RAPID7_REGION".into(),
            message: "unknown region".into(),
        });
        assert!(region.ends_with("the flag is --region"), "{region}");
        let client_region = error(&Error::from(client::Error::Config {
            key: "RAPID7_REGION".into(),
            message: "unknown region".into(),
        }));
        assert!(
            client_region.ends_with("the flag is --region"),
            "{client_region}"
        );
        let timeout = error(&Error::from(client::Error::Timeout {
            method: "GET",
            url: "u".into(),
            wait: client::Wait::Query,
            after: std::time::Duration::from_secs(600),
            source: None,
        }));
        assert!(timeout.contains("raise RAPID7_QUERY_TIMEOUT"), "{timeout}");
        assert!(
            timeout.ends_with("raise it with --query-timeout"),
            "{timeout}"
        );
        let other = error(&Error::Cancelled);
        assert_eq!(other, "cancelled");
    }
}
