//! `rapid7-sql publish` and `--published`: the library's Delta tables,
//! wired to flags.

use datafusion_rapid7::Error;
use datafusion_rapid7::ops::publish::{
    PUBLISHED_SCHEMA, TableLocation, optimize, register_published, vacuum,
};
use datafusion_rapid7::time::TimeRange;

use crate::args::PublishArgs;
use crate::inert::inert;
use crate::setup::Session;

/// Data files `--optimize` aims at.
const OPTIMIZE_TARGET_BYTES: u64 = 128 << 20;

/// The table or prefix a flag names.
pub(crate) fn target(url: &str) -> Result<TableLocation, Error> {
    TableLocation::open(url)
}

/// Publish, then optimize and vacuum as asked; the JSON report.
pub(crate) async fn run(
    session: &Session,
    args: &PublishArgs,
    window: Option<TimeRange>,
) -> Result<serde_json::Value, Error> {
    let target = target(&args.table)?;
    let reports = session.rapid7.publish(&args.logs, &target, window).await?;
    let tables: Vec<TableLocation> = if args.logs.len() == 1 {
        vec![target.clone()]
    } else {
        reports
            .iter()
            .map(|r| target.child(&r.log_id))
            .collect::<Result<_, _>>()?
    };
    let mut out = serde_json::json!({ "published": reports });
    if args.optimize {
        let mut done = Vec::new();
        for t in &tables {
            done.push(optimize(t, OPTIMIZE_TARGET_BYTES).await?);
        }
        out["optimized"] = serde_json::to_value(done).unwrap_or_default();
    }
    if args.vacuum {
        let mut done = Vec::new();
        for t in &tables {
            done.push(vacuum(t, args.vacuum_retention, args.dry_run).await?);
        }
        out["vacuumed"] = serde_json::to_value(done).unwrap_or_default();
    }
    Ok(out)
}

/// `--published URL`: register the tables there; a line on stderr names them.
pub(crate) async fn register(session: &Session, url: &str, quiet: bool) -> Result<(), Error> {
    let names = session.rapid7.log_names().await?;
    let tables = register_published(&session.ctx, &target(url)?, &names).await?;
    if !quiet {
        let list: Vec<String> = tables
            .iter()
            .map(|t| format!("{PUBLISHED_SCHEMA}.\"{}\"", inert(&t.name)))
            .collect();
        eprintln!("published tables: {}", list.join(", "));
    }
    Ok(())
}
