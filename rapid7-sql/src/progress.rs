//! Live progress on stderr while fetches run (terminals only): one line for
//! each statement's fetch (pieces and events against Rapid7's estimate, one
//! ETA, the key's quota as its headers tell it), then one per running fetch
//! (the four oldest, then a count of the others).

use std::io::Write;
use std::time::Duration;

use datafusion_rapid7::Rapid7;
use datafusion_rapid7::client::Quota;
use datafusion_rapid7::provider::{FetchProgress, StatementProgress};
use tokio::task::JoinSet;

use crate::inert::inert;
use datafusion_rapid7::text::group_digits;

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
                let statements = rapid7.statement_progress();
                let quota = rapid7.client().and_then(|c| c.quota());
                let mut err = std::io::stderr().lock();
                erase(&mut err, lines_drawn.load(Ordering::Relaxed));
                let mut n = 0;
                for s in &statements {
                    let _ = writeln!(err, "{}", statement_line(s, quota));
                    n += 1;
                }
                for p in active.iter().take(SHOWN) {
                    let _ = writeln!(err, "{}", line(p, statements.is_empty()));
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

/// `fetching 3 logs: 12 of 720 pieces, 1.2M of ≈8.6M events, 14%, ETA 2.5 h;
/// quota 1,200 of 1,500 queries left, resets in 5 min`.
fn statement_line(s: &StatementProgress, quota: Option<Quota>) -> String {
    let events = match s.events_estimated {
        Some(total) => format!("{} of ≈{} events", short(s.events_fetched), short(total)),
        None => format!("{} events", short(s.events_fetched)),
    };
    let eta = s
        .eta()
        .map(|d| format!(", ETA {}", human(d)))
        .unwrap_or_default();
    let quota = quota
        .map(|q| {
            format!(
                "; quota {} of {} queries left, resets in {}",
                group_digits(q.remaining),
                group_digits(q.limit),
                human(q.resets_in)
            )
        })
        .unwrap_or_default();
    format!(
        "fetching {} log{}: {} of {} pieces, {events}, {:.0}%{eta}{quota}",
        s.logs,
        if s.logs == 1 { "" } else { "s" },
        group_digits(s.pieces_done),
        group_digits(s.pieces_total),
        s.fraction_done() * 100.0,
    )
}

/// `8.6M`, `12k`, `950`.
fn short(n: u64) -> String {
    match n {
        0..10_000 => group_digits(n),
        10_000..1_000_000 => format!("{}k", n / 1_000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// `2.5 h`, `5 min`, `40 s`.
fn human(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s < 90.0 {
        format!("{} s", s.round() as u64)
    } else if s < 5_400.0 {
        format!("{} min", (s / 60.0).round() as u64)
    } else {
        format!("{:.1} h", s / 3_600.0)
    }
}

/// `fetching Firewall [2026-02-10T00:00:00.000Z, 2026-02-10T01:00:00.000Z): 41 pages,
/// 20,500 events, 3,100 ev/s, 34%, ETA 13s` (no ETA of its own when a
/// statement line gives the statement's).
fn line(p: &FetchProgress, own_eta: bool) -> String {
    let secs = p.started.elapsed().as_secs_f64().max(0.001);
    let rate = p.events as f64 / secs;
    let done = p.fraction_done();
    let eta = if own_eta && done > 0.01 {
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
        inert(&p.log),
        p.range,
        p.pages,
        group_digits(p.events),
        group_digits(rate as u64),
    )
}
