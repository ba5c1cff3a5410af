//! From arguments and environment to a configured session.

use std::time::Duration;

use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_rapid7::cache::SegmentCache;
use datafusion_rapid7::client::{ClientBuilder, RateLimitConfig};
use datafusion_rapid7::config::{self, EnvOverrides, Rapid7Config};
use datafusion_rapid7::mock::{MockConfig, MockServer, RateLimits};
use datafusion_rapid7::{Error, Rapid7};

use crate::args::{Global, LogFormat};

/// A session ready for SQL, and what keeps it alive.
pub(crate) struct Session {
    pub(crate) ctx: SessionContext,
    pub(crate) rapid7: Rapid7,
    /// The simulator of `--demo`; dropped with the session.
    pub(crate) demo: Option<MockServer>,
}

/// Log lines on stderr: warnings only unless asked, as text or JSON.
pub(crate) fn init_tracing(global: &Global) {
    use tracing_subscriber::EnvFilter;
    let filter = global
        .log_level
        .clone()
        .or_else(|| std::env::var("RAPID7_LOG").ok())
        .unwrap_or_else(|| "warn".into());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|e| {
        eprintln!("warning: bad --log-level {filter:?} ({e}); using warn");
        EnvFilter::new("warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match global.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// The configuration the flags and the environment describe.
pub(crate) fn rapid7_config(global: &Global) -> Result<Rapid7Config, Error> {
    Rapid7Config::from_env_with(&EnvOverrides {
        offline: global.offline,
        cache: global.cache.clone(),
        bypass_cache: global.bypass_cache,
        region: global.region.as_deref().map(str::parse).transpose()?,
        endpoint: global.endpoint.clone(),
        settle: global.settle,
        max_fetch_events: global.max_fetch_events,
    })
}

fn settle(global: &Global) -> Result<Option<Duration>, Error> {
    match global.settle {
        Some(s) => Ok(Some(s)),
        None => Ok(datafusion_rapid7::env::env_duration(config::ENV_SETTLE)?),
    }
}

/// `--demo`: the simulator on loopback, generous limits, a demo cache.
async fn demo_config(global: &Global) -> Result<(Rapid7Config, MockServer), Error> {
    let server = MockServer::start(MockConfig {
        // Plenty of quota: the demo shows the product, not Rapid7's limits.
        limits: RateLimits {
            query: 1_000_000,
            poll: 1_000_000,
            management: 1_000_000,
            window: Duration::from_secs(900),
        },
        ..MockConfig::default()
    })
    .await
    .map_err(|e| Error::Config {
        key: "--demo".into(),
        message: format!("cannot start the simulator on 127.0.0.1: {e}"),
    })?;
    let client = ClientBuilder::new()
        .with_endpoint(server.url())
        .with_api_key(server.api_key())
        .with_rate_limit(RateLimitConfig::unlimited())
        .build()?;
    let cache = match &global.cache {
        Some(location) => config::cache_from(Some(location), global.bypass_cache)?,
        None if global.bypass_cache => SegmentCache::bypass(),
        None => {
            let dir = config::default_cache_dir()?.join("demo");
            config::cache_from(Some(&dir.display().to_string()), false)?
        }
    };
    let mut config = Rapid7Config::new(client, cache).with_offline(global.offline);
    if let Some(settle) = settle(global)? {
        config = config.with_settle(settle);
    }
    config.field_schemas = config::field_schemas_from_env()?;
    let max_fetch_events = match global.max_fetch_events {
        Some(n) => Some(n),
        None => datafusion_rapid7::env::env_var(config::ENV_MAX_FETCH_EVENTS)
            .map(|v| datafusion_rapid7::env::parse_count(config::ENV_MAX_FETCH_EVENTS, &v))
            .transpose()?,
    };
    if let Some(n) = max_fetch_events {
        config = config.with_max_fetch_events(n);
    }
    if let Some(v) = datafusion_rapid7::env::env_var(config::ENV_PUSHDOWN_AGGREGATES) {
        config = config.with_pushdown_aggregates(datafusion_rapid7::env::parse_bool(
            config::ENV_PUSHDOWN_AGGREGATES,
            &v,
        )?);
    }
    Ok((config, server))
}

/// A session with everything registered.
pub(crate) async fn session(global: &Global) -> Result<Session, Error> {
    let (config, demo) = if global.demo {
        let (config, server) = demo_config(global).await?;
        (config, Some(server))
    } else {
        (rapid7_config(global)?, None)
    };
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
    let rapid7 = datafusion_rapid7::register(&ctx, config).await?;
    Ok(Session { ctx, rapid7, demo })
}
