//! Environment parsing: booleans, durations and sizes read from `RAPID7_*`
//! variables (and the command line's values of the same settings). A leaf:
//! it imports nothing of the crate. Each area keeps its own keys beside its
//! settings (`client::config`, `config`).

use std::time::Duration;

/// A setting that is missing or does not parse: names the setting and says
/// what would be accepted. Converts into the crate's
/// [`Error::Config`](crate::Error::Config) and the client's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration {key}: {message}")]
pub struct ConfigError {
    /// The setting (environment variable or option name).
    pub key: String,
    /// What is wrong and what would be accepted.
    pub message: String,
}

impl ConfigError {
    /// An error about `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Parse a boolean value (`1/0`, `true/false`, `yes/no`, `on/off`; empty is false).
pub fn parse_bool(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(ConfigError::new(
            key,
            format!("{value:?} is not a boolean; use true or false"),
        )),
    }
}

/// Parse a duration such as `5m`, `30s` or `1h 30m`.
pub fn parse_duration(key: &str, value: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(value.trim()).map_err(|e| {
        ConfigError::new(
            key,
            format!("{value:?} is not a duration ({e}); use e.g. 30s, 5m or 2h"),
        )
    })
}

/// Parse a positive count or size: `500000`, `64MiB`, `1G`, `128k`.
pub fn parse_size(key: &str, value: &str) -> Result<usize, ConfigError> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => 0,
    };
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|n| *n > 0)
        .ok_or_else(|| {
            ConfigError::new(
                key,
                format!("{value:?} is not a positive number; use e.g. 100000 or 64MiB"),
            )
        })
}

/// Parse a count that may be zero: `0`, `500000`, `1_000_000`, `2M`, `10k`
/// (decimal units: `k` = 1,000, `M` = 1,000,000, `G` = 10^9).
pub fn parse_count(key: &str, value: &str) -> Result<u64, ConfigError> {
    let v = value.trim().replace(['_', ','], "");
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let factor: u64 = match unit.trim() {
        "" => 1,
        "k" | "K" => 1_000,
        "m" | "M" => 1_000_000,
        "g" | "G" => 1_000_000_000,
        _ => 0,
    };
    digits
        .parse::<u64>()
        .ok()
        .filter(|_| factor > 0)
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| {
            ConfigError::new(
                key,
                format!("{value:?} is not a count; use e.g. 0 (no limit), 500000, 2M or 10k"),
            )
        })
}

/// A boolean environment variable; unset or empty is `false`.
pub fn env_bool(key: &str) -> Result<bool, ConfigError> {
    env_var(key).map_or(Ok(false), |v| parse_bool(key, &v))
}

/// A duration environment variable; unset or empty is `None`.
pub fn env_duration(key: &str) -> Result<Option<Duration>, ConfigError> {
    env_var(key).map(|v| parse_duration(key, &v)).transpose()
}

/// Read an environment variable, treating unset and empty alike.
pub fn env_var(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_and_durations() {
        assert!(parse_bool("K", "Yes").unwrap());
        assert!(!parse_bool("K", "0").unwrap());
        assert!(parse_bool("K", "maybe").is_err());
        assert_eq!(parse_duration("K", "5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("K", "five").is_err());
    }

    #[test]
    fn counts() {
        assert_eq!(parse_count("K", "0").unwrap(), 0);
        assert_eq!(parse_count("K", "1_000_000").unwrap(), 1_000_000);
        assert_eq!(parse_count("K", "2M").unwrap(), 2_000_000);
        assert_eq!(parse_count("K", " 10k ").unwrap(), 10_000);
        for bad in ["-1", "", "M", "1.5M", "12 parsecs", "99999999999999999999"] {
            let e = parse_count("RAPID7_MAX_FETCH_EVENTS", bad).unwrap_err();
            assert!(e.to_string().contains("RAPID7_MAX_FETCH_EVENTS"), "{e}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("K", "500000").unwrap(), 500_000);
        assert_eq!(parse_size("K", "64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("K", " 2 g").unwrap(), 2 << 30);
        assert_eq!(parse_size("K", "128k").unwrap(), 128 << 10);
        for bad in ["0", "-5", "12 parsecs", "", "MiB"] {
            let e = parse_size("RAPID7_FLUSH_ROWS", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("RAPID7_FLUSH_ROWS"), "{e}");
        }
    }
}
