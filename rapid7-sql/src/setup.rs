//! From arguments and environment to a configured session.

use std::time::Duration;

use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_rapid7::client::{ClientBuilder, ClientKey, RateLimitConfig};
use datafusion_rapid7::config::{self, Rapid7Config, Rapid7Key, Settings};
use datafusion_rapid7::env::{Origin, env_var};
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

/// The binary's own settings (log lines), beside the library's.
pub(crate) const ENV_LOG_LEVEL: &str = "RAPID7_LOG_LEVEL";
/// The old name of `RAPID7_LOG_LEVEL`, still read.
pub(crate) const ENV_LOG: &str = "RAPID7_LOG";
/// The format of log lines on stderr.
pub(crate) const ENV_LOG_FORMAT: &str = "RAPID7_LOG_FORMAT";

/// The log filter and where it came from: `--log-level`, else
/// `RAPID7_LOG_LEVEL` (or its old name `RAPID7_LOG`), else `warn`.
pub(crate) fn log_level(global: &Global) -> (String, Origin) {
    match &global.log_level {
        Some(l) => (l.clone(), Origin::Flag),
        None => match env_var(ENV_LOG_LEVEL).or_else(|| env_var(ENV_LOG)) {
            Some(l) => (l, Origin::Environment),
            None => ("warn".into(), Origin::Default),
        },
    }
}

/// The format of log lines and where it came from.
pub(crate) fn log_format(global: &Global) -> Result<(LogFormat, Origin), String> {
    if let Some(f) = global.log_format {
        return Ok((f, Origin::Flag));
    }
    match env_var(ENV_LOG_FORMAT).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok((LogFormat::Text, Origin::Default)),
        Some(v) if v == "text" => Ok((LogFormat::Text, Origin::Environment)),
        Some(v) if v == "json" => Ok((LogFormat::Json, Origin::Environment)),
        Some(v) => Err(format!(
            "invalid configuration {ENV_LOG_FORMAT}: {v:?} is not a format; use text or json. \
             With rapid7-sql: the flag is --log-format"
        )),
    }
}

/// Log lines on stderr: warnings only unless asked, as text or JSON.
pub(crate) fn init_tracing(global: &Global) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    let (filter, _) = log_level(global);
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|e| {
        eprintln!("warning: bad --log-level {filter:?} ({e}); using warn");
        EnvFilter::new("warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match log_format(global)?.0 {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    Ok(())
}

/// `--demo`: the simulator on loopback, generous limits, a demo cache.
/// Every setting applies over the demo's defaults, except where to connect
/// (the simulator, with its own key) and a cache named only by the
/// environment (the demo's synthetic logs never go into the real cache; a
/// `--cache` flag is obeyed).
async fn demo(settings: &Settings) -> Result<(Rapid7Config, MockServer, Settings), Error> {
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
    let mut settings = settings.clone();
    for key in [
        ClientKey::ApiKey,
        ClientKey::Region,
        ClientKey::Endpoint,
        ClientKey::AllowHttp,
    ] {
        settings.remove(key);
    }
    if settings.origin(Rapid7Key::Cache) == Origin::Environment {
        settings.remove(Rapid7Key::Cache);
    }
    if settings.get(Rapid7Key::BypassCache).is_none() {
        let dir = config::default_cache_dir()?.join("demo");
        settings.set_default(Rapid7Key::Cache, dir.display().to_string());
    }
    let client = ClientBuilder::new()
        .with_endpoint(server.url())
        .with_api_key(server.api_key())
        .with_rate_limit(RateLimitConfig::unlimited());
    let config = settings.build_with(client)?;
    Ok((config, server, settings))
}

/// The configuration the settings describe (for `--demo`, with the
/// simulator running), and the settings it was built from. `for_display`
/// (`rapid7-sql config`): a missing API key is no error.
pub(crate) async fn configure(
    global: &Global,
    settings: &Settings,
    for_display: bool,
) -> Result<(Rapid7Config, Option<MockServer>, Settings), Error> {
    if global.demo {
        let (config, server, settings) = demo(settings).await?;
        return Ok((config, Some(server), settings));
    }
    let config = match for_display {
        true => settings.build_for_display(ClientBuilder::new())?,
        false => settings.build()?,
    };
    Ok((config, None, settings.clone()))
}

/// A session with everything registered.
pub(crate) async fn session(global: &Global, settings: &Settings) -> Result<Session, Error> {
    let (config, demo, _) = configure(global, settings, false).await?;
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
    let rapid7 = datafusion_rapid7::register(&ctx, config).await?;
    Ok(Session { ctx, rapid7, demo })
}
