//! The cache's settings as typed keys ([`CacheKey`]): one `RAPID7_*`
//! variable each, applied to a [`CacheConfig`] with [`CacheConfig::set`].

use std::time::Duration;

use super::config::{CacheConfig, PartCompression};
use crate::env::{ConfigError, KeySpec, fmt_duration, fmt_size};

/// A setting of the cache ([`CacheConfig`]). Where the cache is, and
/// whether there is one, are settings of the composition root
/// (`config::Rapid7Key::Cache`, `config::Rapid7Key::BypassCache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum CacheKey {
    /// `RAPID7_FLUSH_ROWS`: [`CacheConfig::flush_rows`].
    FlushRows,
    /// `RAPID7_FLUSH_BYTES`: [`CacheConfig::flush_bytes`].
    FlushBytes,
    /// `RAPID7_COMPRESSION`: [`CacheConfig::compression`].
    Compression,
    /// `RAPID7_RETENTION`: [`CacheConfig::retention`].
    Retention,
}

/// Shortest retention accepted: anything shorter would drop what was
/// fetched minutes ago.
pub const MIN_RETENTION: Duration = Duration::from_secs(3600);

impl CacheKey {
    /// Every cache setting, in documentation order.
    pub const ALL: [CacheKey; 4] = [
        CacheKey::FlushRows,
        CacheKey::FlushBytes,
        CacheKey::Compression,
        CacheKey::Retention,
    ];

    /// What describes it.
    pub fn spec(self) -> &'static KeySpec {
        const FLUSH_ROWS: KeySpec = KeySpec::new(
            "RAPID7_FLUSH_ROWS",
            "N",
            "a fetch writes a Parquet part every this many rows",
            "1 to 1073741824 rows (binary units: 128k is 131072)",
        );
        const FLUSH_BYTES: KeySpec = KeySpec::new(
            "RAPID7_FLUSH_BYTES",
            "SIZE",
            "a fetch also writes a part when its buffer reaches this size (bounds fetch memory)",
            "1KiB to 16GiB",
        );
        const COMPRESSION: KeySpec = KeySpec::new(
            "RAPID7_COMPRESSION",
            "CODEC",
            "compression of the Parquet parts the cache writes",
            "zstd, zstd:LEVEL (1 to 22), snappy or none",
        );
        const RETENTION: KeySpec = KeySpec::new(
            "RAPID7_RETENTION",
            "DURATION",
            "sync and cache gc retire segments that ended longer ago than this",
            "a duration of at least 1h (e.g. 30d), or off",
        );
        match self {
            CacheKey::FlushRows => &FLUSH_ROWS,
            CacheKey::FlushBytes => &FLUSH_BYTES,
            CacheKey::Compression => &COMPRESSION,
            CacheKey::Retention => &RETENTION,
        }
    }

    /// The value `config` holds for this setting, as the setting is written.
    pub fn show(self, config: &CacheConfig) -> String {
        match self {
            CacheKey::FlushRows => config.flush_rows.to_string(),
            CacheKey::FlushBytes => fmt_size(config.flush_bytes as u64),
            CacheKey::Compression => config.compression.to_string(),
            CacheKey::Retention => config.retention.map_or_else(|| "off".into(), fmt_duration),
        }
    }
}

impl CacheConfig {
    /// Set one setting from its text, as its variable would. An invalid
    /// value names the variable and what it accepts.
    pub fn set(&mut self, key: CacheKey, value: &str) -> Result<(), ConfigError> {
        let spec = key.spec();
        match key {
            CacheKey::FlushRows => self.flush_rows = spec.size_in(value, 1, 1 << 30)?,
            CacheKey::FlushBytes => self.flush_bytes = spec.size_in(value, 1 << 10, 16 << 30)?,
            CacheKey::Compression => self.compression = parse_compression(spec, value)?,
            CacheKey::Retention => self.retention = parse_retention(spec, value)?,
        }
        Ok(())
    }
}

/// A retention (`30d`; `off` for none), at least [`MIN_RETENTION`].
pub fn parse_retention(spec: &KeySpec, value: &str) -> Result<Option<Duration>, ConfigError> {
    if matches!(value.trim().to_ascii_lowercase().as_str(), "off" | "none") {
        return Ok(None);
    }
    spec.duration_in(value, MIN_RETENTION, Duration::MAX)
        .map(Some)
}

fn parse_compression(spec: &KeySpec, value: &str) -> Result<PartCompression, ConfigError> {
    let v = value.trim().to_ascii_lowercase();
    let level = |l: &str| match l.trim_end_matches(')').parse::<i32>() {
        Ok(n) if (1..=22).contains(&n) => Ok(PartCompression::Zstd(n)),
        _ => Err(spec.invalid(format!("{value:?} is not a zstd level"))),
    };
    match v.as_str() {
        "zstd" => Ok(PartCompression::Zstd(3)),
        "snappy" => Ok(PartCompression::Snappy),
        "none" | "uncompressed" => Ok(PartCompression::Uncompressed),
        _ => match v.strip_prefix("zstd:").or_else(|| v.strip_prefix("zstd(")) {
            Some(l) => level(l),
            None => Err(spec.invalid(format!("{value:?} is not a codec"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cache_knob_parses_and_shows_as_written() {
        let mut c = CacheConfig::default();
        for (key, value, shown) in [
            (CacheKey::FlushRows, "1000", "1000"),
            (CacheKey::FlushBytes, "16MiB", "16MiB"),
            (CacheKey::Compression, "zstd:9", "zstd:9"),
            (CacheKey::Compression, "zstd(1)", "zstd:1"),
            (CacheKey::Compression, "SNAPPY", "snappy"),
            (CacheKey::Compression, "none", "none"),
            (CacheKey::Retention, "30d", "30days"),
            (CacheKey::Retention, "off", "off"),
        ] {
            c.set(key, value).unwrap();
            assert_eq!(key.show(&c), shown, "{key:?} {value}");
        }
        assert_eq!(
            CacheKey::Compression.show(&CacheConfig::default()),
            "zstd:3"
        );
    }

    #[test]
    fn invalid_cache_knobs_name_the_accepted_values() {
        let mut c = CacheConfig::default();
        for (key, value) in [
            (CacheKey::FlushRows, "0"),
            (CacheKey::FlushBytes, "12"),
            (CacheKey::Compression, "lz4"),
            (CacheKey::Compression, "zstd:23"),
            (CacheKey::Retention, "10m"),
            (CacheKey::Retention, "forever"),
        ] {
            let e = c.set(key, value).unwrap_err().to_string();
            assert!(
                e.contains(key.spec().env) && e.ends_with(key.spec().accepted),
                "{key:?} {value}: {e}"
            );
        }
        assert_eq!(c, CacheConfig::default(), "nothing invalid was applied");
    }
}
