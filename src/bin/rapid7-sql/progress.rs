//! Live progress on stderr while fetches run (terminals only): one line per
//! running fetch (the four oldest, then a count of the others).

use std::io::Write;
use std::time::Duration;

use datafusion_rapid7::Rapid7;
use datafusion_rapid7::provider::FetchProgress;
use tokio::task::JoinSet;

use crate::fmt::thousands;

/// Lines shown at most, one per fetch.
const SHOWN: usize = 4;

/// Redraws the progress lines every 200 ms until stopped.
pub(crate) struct Progress {
    task: JoinSet<()>,
    drawn: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Move up over `n` lines drawn earlier, clearing each.
fn erase(err: &mut impl Write, n: usize) {
    let _ = write!(err, "\r\x1b[2K");
    for _ in 0..n {
        let _ = write!(err, "\x1b[1A\x1b[2K");
    }
}

impl Progress {
    pub(crate) fn start(rapid7: Rapid7) -> Self {
        use std::sync::atomic::Ordering;
        let drawn = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let lines_drawn = std::sync::Arc::clone(&drawn);
        let mut task = JoinSet::new();
        task.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tick.tick().await;
                let mut active = rapid7.progress();
                active.sort_by_key(|p| p.started);
                let waits = rapid7
                    .client()
                    .map(|c| c.stats().rate_limit_waits)
                    .unwrap_or(0);
                let mut err = std::io::stderr().lock();
                erase(&mut err, lines_drawn.load(Ordering::Relaxed));
                let mut n = 0;
                for p in active.iter().take(SHOWN) {
                    let _ = writeln!(err, "{}", line(p));
                    n += 1;
                }
                let more = active.len().saturating_sub(SHOWN);
                if !active.is_empty() && (more > 0 || waits > 0) {
                    let _ = writeln!(
                        err,
                        "  {more} more fetch{}, {waits} rate-limit wait{}",
                        if more == 1 { "" } else { "es" },
                        if waits == 1 { "" } else { "s" }
                    );
                    n += 1;
                }
                let _ = err.flush();
                lines_drawn.store(n, Ordering::Relaxed);
            }
        });
        Progress { task, drawn }
    }

    /// Stop and erase the lines.
    pub(crate) async fn stop(mut self) {
        self.task.abort_all();
        while self.task.join_next().await.is_some() {}
        let mut err = std::io::stderr().lock();
        erase(
            &mut err,
            self.drawn.load(std::sync::atomic::Ordering::Relaxed),
        );
        let _ = err.flush();
    }
}

/// `fetching Firewall [2026-02-10T00:00:00.000Z, 2026-02-10T01:00:00.000Z): 41 pages,
/// 20,500 events, 3,100 ev/s, 34%, ETA 13s`.
fn line(p: &FetchProgress) -> String {
    let secs = p.started.elapsed().as_secs_f64().max(0.001);
    let rate = p.events as f64 / secs;
    let done = p.fraction_done();
    let eta = if done > 0.01 {
        format!(
            ", {:.0}%, ETA {:.0}s",
            done * 100.0,
            secs * (1.0 - done) / done
        )
    } else {
        String::new()
    };
    format!(
        "{} {} {}: {} pages, {} events, {} ev/s{eta}",
        if p.caching {
            "fetching"
        } else {
            "reading recent"
        },
        p.log,
        p.range,
        p.pages,
        thousands(p.events),
        thousands(rate as u64),
    )
}
