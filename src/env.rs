//! Environment parsing: booleans, durations, sizes, counts and rates read
//! from `RAPID7_*` variables (and the command line's values of the same
//! settings), what describes a setting ([`KeySpec`]) and where its value
//! came from ([`Origin`]). A leaf: it imports nothing of the crate. Each
//! area keeps its own keys beside its settings (`client::keys`,
//! `cache::keys`, `config::keys`).
//!
//! One pattern names every setting: the variable `RAPID7_<NAME>` and the
//! option `<name>` (lower case, `-` for `_`), which the command line spells
//! `--<name>`: `RAPID7_MAX_FETCH_EVENTS` is `--max-fetch-events`.

use std::fmt;
use std::time::Duration;

/// The prefix of every variable.
pub const ENV_PREFIX: &str = "RAPID7_";

/// Where the value of a setting came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Nobody set it: the default.
    #[default]
    Default,
    /// A `RAPID7_*` environment variable.
    Environment,
    /// A command-line flag (or any caller that sets it over the environment).
    Flag,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Default => "default",
            Origin::Environment => "environment",
            Origin::Flag => "flag",
        })
    }
}

/// What describes one setting: its variable, what it does and what it
/// accepts. The option name follows from the variable
/// ([`KeySpec::option_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySpec {
    /// The environment variable, `RAPID7_<NAME>`.
    pub env: &'static str,
    /// What kind of value it takes, for help texts (`N`, `DURATION`, …).
    pub value_name: &'static str,
    /// What it does, one line.
    pub help: &'static str,
    /// What it accepts; an invalid value's error ends with it.
    pub accepted: &'static str,
    /// A switch: `true`/`false`, and a bare flag means `true`.
    pub switch: bool,
    /// A secret (the API key): read from the environment only, never shown.
    pub secret: bool,
}

impl KeySpec {
    /// A setting that takes a value (not a switch, not a secret).
    pub const fn new(
        env: &'static str,
        value_name: &'static str,
        help: &'static str,
        accepted: &'static str,
    ) -> KeySpec {
        KeySpec {
            env,
            value_name,
            help,
            accepted,
            switch: false,
            secret: false,
        }
    }

    /// The option name: the variable without `RAPID7_`, lower case, `-` for
    /// `_` (`RAPID7_MAX_FETCH_EVENTS` → `max-fetch-events`).
    pub fn option_name(&self) -> String {
        self.env
            .strip_prefix(ENV_PREFIX)
            .unwrap_or(self.env)
            .to_ascii_lowercase()
            .replace('_', "-")
    }

    /// Whether `name` names this setting: its variable, its option name
    /// (with or without `--`) or its snake-case name, in any case.
    pub fn is_named(&self, name: &str) -> bool {
        let name = name.trim().trim_start_matches("--");
        let option = self.option_name();
        name.eq_ignore_ascii_case(self.env)
            || name.eq_ignore_ascii_case(&option)
            || name.eq_ignore_ascii_case(&option.replace('-', "_"))
    }

    /// An error about `value`: `detail`, then what is accepted.
    pub fn invalid(&self, detail: impl fmt::Display) -> ConfigError {
        ConfigError::new(self.env, format!("{detail}; use {}", self.accepted))
    }

    /// `value` as a count in `min..=max` (decimal units allowed: `10k`).
    pub fn count_in(&self, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
        let n = parse_count(self.env, value).map_err(|_| self.invalid(not_a(value, "count")))?;
        self.in_range(value, n, min, max)
    }

    /// `value` as a size in `min..=max` bytes (binary units: `64MiB`).
    pub fn size_in(&self, value: &str, min: usize, max: usize) -> Result<usize, ConfigError> {
        let n = parse_size(self.env, value).map_err(|_| self.invalid(not_a(value, "size")))?;
        self.in_range(value, n, min, max)
    }

    /// `value` as a duration in `min..=max` (`30s`, `5m`, `2h`).
    pub fn duration_in(
        &self,
        value: &str,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        let d = humantime::parse_duration(value.trim())
            .map_err(|e| self.invalid(format!("{value:?} is not a duration ({e})")))?;
        self.in_range(value, d, min, max)
    }

    /// `value` as a boolean.
    pub fn switch_value(&self, value: &str) -> Result<bool, ConfigError> {
        parse_bool(self.env, value).map_err(|_| self.invalid(not_a(value, "boolean")))
    }

    /// `value` as requests per second: a positive number up to `max`, or
    /// `unlimited` (no proactive limit).
    pub fn rate(&self, value: &str, max: f64) -> Result<f64, ConfigError> {
        let v = value.trim();
        if v.eq_ignore_ascii_case("unlimited") {
            return Ok(f64::INFINITY);
        }
        match v.parse::<f64>() {
            Ok(r) if r.is_finite() && r > 0.0 && r <= max => Ok(r),
            Ok(_) => Err(self.invalid(format!("{value:?} is out of range"))),
            Err(_) => Err(self.invalid(not_a(value, "number"))),
        }
    }

    fn in_range<T: PartialOrd>(&self, value: &str, n: T, min: T, max: T) -> Result<T, ConfigError> {
        if n < min || n > max {
            return Err(self.invalid(format!("{value:?} is out of range")));
        }
        Ok(n)
    }
}

fn not_a(value: &str, what: &str) -> String {
    format!("{value:?} is not a {what}")
}

/// `bytes` in the largest binary unit that divides it: `64MiB`, `512KiB`,
/// `1000`.
pub fn fmt_size(bytes: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes >= 1 << shift && bytes.is_multiple_of(1 << shift) {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    bytes.to_string()
}

/// `d` as the duration syntax the settings accept: `5m`, `1h 30m`, `0s`.
pub fn fmt_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".into();
    }
    humantime::format_duration(d).to_string()
}

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

    const SPEC: KeySpec = KeySpec {
        env: "RAPID7_PER_PAGE",
        value_name: "N",
        help: "events per page",
        accepted: "1 to 500",
        switch: false,
        secret: false,
    };

    #[test]
    fn one_pattern_names_a_setting() {
        assert_eq!(SPEC.option_name(), "per-page");
        for name in [
            "RAPID7_PER_PAGE",
            "rapid7_per_page",
            "per-page",
            "--per-page",
            "per_page",
        ] {
            assert!(SPEC.is_named(name), "{name}");
        }
        assert!(!SPEC.is_named("page"));
    }

    #[test]
    fn invalid_values_name_the_setting_and_the_accepted_range() {
        for bad in ["0", "501", "lots", "-3", ""] {
            let e = SPEC.count_in(bad, 1, 500).unwrap_err().to_string();
            assert!(
                e.contains("RAPID7_PER_PAGE") && e.ends_with("use 1 to 500"),
                "{e}"
            );
        }
        assert_eq!(SPEC.count_in("500", 1, 500).unwrap(), 500);
        let d = |s| Duration::from_secs(s);
        assert_eq!(SPEC.duration_in("2m", d(1), d(3600)).unwrap(), d(120));
        for bad in ["0s", "2h", "soon"] {
            let e = SPEC
                .duration_in(bad, d(1), d(3600))
                .unwrap_err()
                .to_string();
            assert!(e.ends_with("use 1 to 500"), "{e}");
        }
        assert_eq!(SPEC.rate("1.5", 100.0).unwrap(), 1.5);
        assert_eq!(SPEC.rate("Unlimited", 100.0).unwrap(), f64::INFINITY);
        for bad in ["0", "-1", "NaN", "inf", "101", "fast"] {
            assert!(SPEC.rate(bad, 100.0).is_err(), "{bad}");
        }
        assert_eq!(SPEC.size_in("1MiB", 1 << 16, 1 << 30).unwrap(), 1 << 20);
        assert!(SPEC.size_in("2GiB", 1 << 16, 1 << 30).is_err());
        assert!(SPEC.switch_value("yes").unwrap());
        assert!(SPEC.switch_value("perhaps").is_err());
    }

    #[test]
    fn values_are_shown_as_they_are_written() {
        assert_eq!(fmt_size(64 << 20), "64MiB");
        assert_eq!(fmt_size(3 << 10), "3KiB");
        assert_eq!(fmt_size(1000), "1000");
        assert_eq!(fmt_size(1 << 30), "1GiB");
        assert_eq!(fmt_duration(Duration::from_secs(300)), "5m");
        assert_eq!(fmt_duration(Duration::ZERO), "0s");
        assert_eq!(fmt_duration(Duration::from_secs(5400)), "1h 30m");
        assert_eq!(Origin::Environment.to_string(), "environment");
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
