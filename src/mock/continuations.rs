//! The continuation store behind the 202/poll model (rapid7-api.md §3).
//!
//! Ids are opaque and shaped like the real ones,
//! `<uuid>:0:<40 hex>:<per_page>:<40 hex>:`. A continuation lives until its
//! final poll, until it is not polled for `continuation_ttl`, or until an
//! injected expiry; at most [`MAX_CONTINUATIONS`] are kept.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::query::QuerySpec;

/// Continuations kept at most (oldest dropped first).
const MAX_CONTINUATIONS: usize = 10_000;

/// Whether `id` has the continuation shape `<uuid>:…`.
pub(crate) fn is_continuation_id(id: &str) -> bool {
    let Some((head, _)) = id.split_once(':') else {
        return false;
    };
    head.len() == 36
        && head.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[derive(Debug)]
struct Continuation {
    spec: QuerySpec,
    polls_total: u32,
    polls_done: u32,
    touched: Instant,
}

/// What a poll of a continuation finds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PollOutcome {
    /// Unknown, expired or just forgotten: 404 "Query Not Found".
    NotFound,
    /// Still running: 200 with this progress.
    InProgress(QuerySpec, u32),
    /// Finished: 200 with the page (the continuation is forgotten).
    Done(QuerySpec),
}

/// Live continuations; finished and expired ones are dropped.
#[derive(Debug, Default)]
pub(crate) struct Continuations {
    map: HashMap<String, Continuation>,
    issued: u64,
}

fn hex(n: usize) -> String {
    let mut s = String::with_capacity(n + 16);
    while s.len() < n {
        s.push_str(&format!("{:016x}", fastrand::u64(..)));
    }
    s.truncate(n);
    s
}

impl Continuations {
    /// Registers a query that needs `polls_total` polls; returns its id.
    pub(crate) fn insert(
        &mut self,
        spec: QuerySpec,
        polls_total: u32,
        now: Instant,
        ttl: Duration,
    ) -> String {
        self.map
            .retain(|_, c| now.saturating_duration_since(c.touched) < ttl);
        while self.map.len() >= MAX_CONTINUATIONS {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, c)| c.touched)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => self.map.remove(&k),
                None => break,
            };
        }
        self.issued += 1;
        let uuid = format!(
            "{}-{}-4{}-a{}-{:012x}",
            hex(8),
            hex(4),
            hex(3),
            hex(3),
            self.issued & 0xffff_ffff_ffff
        );
        let id = format!("{uuid}:0:{}:{}:{}:", hex(40), spec.per_page, hex(40));
        self.map.insert(
            id.clone(),
            Continuation {
                spec,
                polls_total: polls_total.max(1),
                polls_done: 0,
                touched: now,
            },
        );
        id
    }

    /// Forgets `id` (an injected expiry).
    pub(crate) fn forget(&mut self, id: &str) {
        self.map.remove(id);
    }

    /// The spec of a live continuation, for recording.
    pub(crate) fn spec(&self, id: &str) -> Option<&QuerySpec> {
        self.map.get(id).map(|c| &c.spec)
    }

    /// One poll of `id`.
    pub(crate) fn poll(&mut self, id: &str, now: Instant, ttl: Duration) -> PollOutcome {
        let Some(c) = self.map.get_mut(id) else {
            return PollOutcome::NotFound;
        };
        if now.saturating_duration_since(c.touched) >= ttl {
            self.map.remove(id);
            return PollOutcome::NotFound;
        }
        c.polls_done += 1;
        c.touched = now;
        if c.polls_done < c.polls_total {
            let progress = (c.polls_done * 100 / c.polls_total).min(99);
            return PollOutcome::InProgress(c.spec.clone(), progress);
        }
        match self.map.remove(id) {
            Some(c) => PollOutcome::Done(c.spec),
            None => PollOutcome::NotFound,
        }
    }

    /// How many are live.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::query::RawQuery;

    #[test]
    fn continuation_ids_and_lifecycle() {
        let mut c = Continuations::default();
        let spec = RawQuery::from_get(
            "log-1",
            &[("from".into(), "1".into()), ("to".into(), "2".into())],
        )
        .validate(0)
        .unwrap();
        let t0 = Instant::now();
        let ttl = Duration::from_secs(20);
        let id = c.insert(spec.clone(), 3, t0, ttl);
        assert!(is_continuation_id(&id), "{id}");
        assert_eq!(id.split(':').count(), 6);
        assert!(!is_continuation_id("nope") && !is_continuation_id("abc:def"));
        assert_eq!(
            c.poll(&id, t0, ttl),
            PollOutcome::InProgress(spec.clone(), 33)
        );
        assert_eq!(
            c.poll(&id, t0, ttl),
            PollOutcome::InProgress(spec.clone(), 66)
        );
        assert_eq!(c.poll(&id, t0, ttl), PollOutcome::Done(spec.clone()));
        assert_eq!(c.poll(&id, t0, ttl), PollOutcome::NotFound);
        let id2 = c.insert(spec.clone(), 1, t0, ttl);
        assert_eq!(
            c.poll(&id2, t0 + ttl, ttl),
            PollOutcome::NotFound,
            "expired"
        );
        assert_eq!(c.len(), 0);
        let id3 = c.insert(spec, 1, t0, ttl);
        c.forget(&id3);
        assert_eq!(c.len(), 0);
    }
}
