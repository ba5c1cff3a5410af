//! A live progress line on stderr while fetches run (terminals only).

use std::io::Write;
use std::time::Duration;

use datafusion_rapid7::Rapid7;
use datafusion_rapid7::provider::FetchProgress;
use tokio::task::JoinSet;

use crate::exec::thousands;

/// Redraws one stderr line every 200 ms until stopped.
pub(crate) struct Progress {
    task: JoinSet<()>,
}

impl Progress {
    pub(crate) fn start(rapid7: Rapid7) -> Self {
        let mut task = JoinSet::new();
        task.spawn(async move {
            let mut drawn = false;
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            loop {
                tick.tick().await;
                let active = rapid7.progress();
                let waits = rapid7
                    .client()
                    .map(|c| c.stats().rate_limit_waits)
                    .unwrap_or(0);
                let mut err = std::io::stderr().lock();
                if active.is_empty() {
                    if drawn {
                        let _ = write!(err, "\r\x1b[2K");
                        drawn = false;
                    }
                    continue;
                }
                let _ = write!(err, "\r\x1b[2K{}", line(&active, waits));
                let _ = err.flush();
                drawn = true;
            }
        });
        Progress { task }
    }

    /// Stop and erase the line.
    pub(crate) async fn stop(mut self) {
        self.task.abort_all();
        while self.task.join_next().await.is_some() {}
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

/// `fetching Firewall 2026-02-10T00:00 → 01:00: 41 pages, 20,500 events,
/// 3,100 ev/s, 34%, ETA 13s (+2 more, 1 rate-limit wait)`.
fn line(active: &[FetchProgress], waits: u64) -> String {
    let p = active
        .iter()
        .max_by_key(|p| p.started.elapsed())
        .expect("not empty");
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
    let mut extra = Vec::new();
    if active.len() > 1 {
        extra.push(format!("+{} more", active.len() - 1));
    }
    if waits > 0 {
        extra.push(format!(
            "{waits} rate-limit wait{}",
            if waits == 1 { "" } else { "s" }
        ));
    }
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(" ({})", extra.join(", "))
    };
    format!(
        "{} {} {}: {} pages, {} events, {} ev/s{eta}{extra}",
        if p.caching {
            "fetching"
        } else {
            "reading recent"
        },
        p.log,
        datafusion_rapid7::provider::fmt_range(p.range),
        p.pages,
        thousands(p.events),
        thousands(rate as u64),
    )
}
