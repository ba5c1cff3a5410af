//! How the command line words things: numbers, plurals, and errors, with
//! the flags that do what a library error's hint names as a setting.

use datafusion::error::DataFusionError;
use datafusion_rapid7::Error;

/// `41210` → `41,210`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

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
            if matches!(inner.downcast_ref::<Error>(), Some(Error::FetchBudget { .. }))
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
    Some(match e {
        Error::MissingApiKey => "or run `rapid7-sql --demo` to try the bundled simulator".into(),
        Error::Offline { .. } => "run without --offline".into(),
        Error::CorruptSegment { .. } => {
            "`rapid7-sql cache drop --log NAME` drops the log's segments, \
             or run with --bypass-cache"
                .into()
        }
        Error::FetchBudget { .. } => {
            "pass --max-fetch-events 0 for a deliberate backfill (or a larger N); \
             the interactive shell asks instead"
                .into()
        }
        Error::Config { key, .. } => format!("the flag is {}", crate::knobs::flag_of(key)?),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(41_210), "41,210");
        assert_eq!(thousands(1_000_000), "1,000,000");
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

        let corrupt = error(&Error::CorruptSegment {
            segment: "logs/x/from=1/to=2".into(),
            message: "footer".into(),
        });
        assert!(
            corrupt.contains("cache drop") && corrupt.contains("--bypass-cache"),
            "{corrupt}"
        );
        assert!(error(&Error::MissingApiKey).contains("--demo"));
        let region = error(&Error::Config {
            key: "RAPID7_REGION".into(),
            message: "unknown region".into(),
        });
        assert!(region.ends_with("the flag is --region"), "{region}");
        let other = error(&Error::Cancelled);
        assert_eq!(other, "cancelled");
    }
}
