//! A summary of a window of logs as JSON: row count, columns, time span,
//! events per log and per time bucket, and the cache segments used — all
//! computed by DataFusion aggregates.
//!
//! ```sh
//! cargo run --example summary
//! ```

use datafusion::prelude::SessionContext;
use datafusion_rapid7::Rapid7Config;
use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
use datafusion_rapid7::client::{ClientBuilder, RateLimitConfig};
use datafusion_rapid7::mock::{MockConfig, MockServer};
use datafusion_rapid7::ops::SummaryRequest;
use datafusion_rapid7::time::TimeRange;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::start(MockConfig::default()).await?;
    let client = ClientBuilder::new()
        .with_endpoint(server.url())
        .with_api_key(server.api_key())
        .with_rate_limit(RateLimitConfig::unlimited())
        .build()?;
    let dir = tempfile::tempdir()?;
    let cache = SegmentCache::open(
        dir.path().to_str().ok_or("non-UTF-8 temp dir")?,
        CacheConfig::default(),
    )?;
    let ctx = SessionContext::new();
    let rapid7 = datafusion_rapid7::register(&ctx, Rapid7Config::new(client, cache)).await?;

    // 2026-02-10 00:00 to 00:10 UTC, two logs, one-minute buckets (automatic).
    let request = SummaryRequest {
        logs: vec!["Firewall".into(), "Auth Service".into()],
        window: TimeRange::new(1_770_681_600_000, 1_770_682_200_000)?,
        bucket: None,
        output: None,
    };
    let summary = rapid7.summarize(&ctx, &request).await?;
    println!("{}", summary.to_json());
    Ok(())
}
