//! Log lines and metrics of a server: the shell's log lines on stderr (with
//! each statement's `flight_statement` line at the default level), and the
//! metrics layer beside them with its own filter.

use std::sync::Arc;

use datafusion_rapid7::env::Origin;
use tracing::Level;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{EnvFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use super::metrics::{Metrics, MetricsLayer};
use crate::args::{Global, LogFormat};
use crate::setup::{log_format, log_level};

/// The default log filter of `serve`: warnings, the Flight service's INFO
/// events (one `flight_statement` line per statement, token reloads) and the
/// server's own (`serve_listening`, `serve_stopped`), which an operator
/// watching a unit's journal needs to see.
pub(crate) const DEFAULT_FILTER: &str =
    "warn,datafusion_rapid7::flight=info,rapid7_sql::serve=info";

/// Log lines on stderr and the metrics layer; the metrics the layer feeds.
pub(crate) fn init(global: &Global) -> Result<Arc<Metrics>, String> {
    let (filter, origin) = log_level(global);
    let filter = match origin {
        Origin::Default => DEFAULT_FILTER.to_string(),
        _ => filter,
    };
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|e| {
        eprintln!("warning: bad --log-level {filter:?} ({e}); using {DEFAULT_FILTER}");
        EnvFilter::new(DEFAULT_FILTER)
    });
    let metrics = Arc::new(Metrics::default());
    // The library's INFO events, whatever the log filter; counted before
    // their line is written (a test that reads the line then scrapes sees
    // the count).
    let counted = Targets::new().with_target("datafusion_rapid7", Level::INFO);
    let registry = tracing_subscriber::registry()
        .with(MetricsLayer(Arc::clone(&metrics)).with_filter(counted));
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let set = match log_format(global)?.0 {
        LogFormat::Json => registry.with(lines.json().with_filter(filter)).try_init(),
        LogFormat::Text => registry.with(lines.with_filter(filter)).try_init(),
    };
    set.map_err(|e| format!("cannot set up logging: {e}"))?;
    Ok(metrics)
}
