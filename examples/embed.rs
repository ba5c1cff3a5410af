//! Embedding `rapid7_logs` in your own DataFusion application.
//!
//! This runs against the bundled simulator of the Rapid7 API, with a cache in
//! a temporary directory, so it needs no key. Against Rapid7 itself, build the
//! configuration with `Rapid7Config::from_env()` (RAPID7_API_KEY, ...).
//!
//! ```sh
//! cargo run --example embed
//! ```

use datafusion::prelude::SessionContext;
use datafusion_rapid7::Rapid7Config;
use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
use datafusion_rapid7::client::{ClientBuilder, RateLimitConfig};
use datafusion_rapid7::mock::{MockConfig, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. A Rapid7 API: here the simulator on 127.0.0.1.
    let server = MockServer::start(MockConfig::default()).await?;
    let client = ClientBuilder::new()
        .with_endpoint(server.url())
        .with_api_key(server.api_key())
        .with_rate_limit(RateLimitConfig::unlimited())
        .build()?;

    // 2. A segment cache: a directory (or an object-store URL such as s3://bucket/prefix).
    let dir = tempfile::tempdir()?;
    let cache = SegmentCache::open(
        dir.path().to_str().ok_or("non-UTF-8 temp dir")?,
        CacheConfig::default(),
    )?;

    // 3. Your session, with rapid7_logs, the rapid7 schema and the table functions.
    let ctx = SessionContext::new();
    datafusion_rapid7::register(&ctx, Rapid7Config::new(client, cache)).await?;

    let queries = [
        // Every log, last 5 minutes: fetched from the API, then cached.
        "SELECT log_name, count(*) AS events, min(timestamp) AS first, max(timestamp) AS last \
         FROM rapid7_logs WHERE timestamp >= now() - interval '5 minutes' \
         GROUP BY log_name ORDER BY events DESC",
        // One log by its table in the rapid7 schema, a fixed window.
        "SELECT date_trunc('minute', timestamp) AS minute, count(*) AS events \
         FROM rapid7.\"Auth Service\" \
         WHERE timestamp BETWEEN '2026-02-10T00:00:00Z' AND '2026-02-10T00:04:59.999Z' \
         GROUP BY 1 ORDER BY 1",
        // What is in the cache now.
        "SELECT log_name, \"from\", \"to\", rows, parts FROM rapid7_cache() ORDER BY log_name, \"from\"",
    ];
    for sql in queries {
        println!("> {sql}");
        ctx.sql(sql).await?.show().await?;
    }
    println!("API query requests made: {}", server.query_requests());
    Ok(())
}
