//! Raw answers, for checking what an endpoint really does (`rapid7-sql
//! doctor`): a query as sent, its first status (`202` or `200`), how many
//! polls it took, the rate-limit headers of its submit, and the final body
//! as JSON, undecoded. Requests go through the client's limiter and retry
//! policy like any other; the key never appears in what is returned.

use serde_json::Value;
use url::Url;

use super::error::{Error, Result};
use super::http::Outgoing;
use super::model::{find_link, links_of};
use super::poll::{Polling, poll_until_finished};
use super::rate_limit::Namespace;
use super::rest::Client;
pub use super::retry::ResetKind;
use super::retry::{RateLimitHeaders, reset_kind};
use super::stats::{Statistics, decode_statistics};
use crate::log_id::LogId;

/// The rate-limit headers of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimitSeen {
    /// `X-RateLimit-Limit`.
    pub limit: Option<u64>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u64>,
    /// `X-RateLimit-Reset`, as sent.
    pub reset: Option<u64>,
    /// How that reset reads (see [`ResetKind`]).
    pub reset_kind: Option<ResetKind>,
}

/// One answer of a probe: its status, rate-limit headers, whether it said
/// the window is beyond retention, and its body.
type Answer = (u16, RateLimitHeaders, bool, Value);

/// The rate-limit headers of an answer received now.
fn rate_limit_seen(limits: &RateLimitHeaders) -> RateLimitSeen {
    let now_ms = crate::time::now_ms();
    RateLimitSeen {
        limit: limits.limit,
        remaining: limits.remaining,
        reset: limits.reset,
        reset_kind: limits.reset.map(|r| reset_kind(r, now_ms)),
    }
}

/// One query as the endpoint answered it.
#[derive(Debug, Clone)]
pub struct RawAnswer {
    /// The status of the submit: `202` (then polled) or `200`.
    pub first_status: u16,
    /// Polls of `Self` links until the answer was final.
    pub polls: u32,
    /// The rate-limit headers of the submit.
    pub rate_limit: RateLimitSeen,
    /// Whether the answer said the window reaches past retention.
    pub beyond_retention: bool,
    /// The final body.
    pub body: Value,
}

impl RawAnswer {
    /// The `Next` link of the final body, if any.
    pub fn next_link(&self) -> Option<String> {
        find_link(&links_of(&self.body), "Next").map(|l| l.href.clone())
    }

    /// The body's `statistics`, decoded as the client decodes them.
    pub fn statistics(&self, from: i64, to: i64) -> Result<Statistics> {
        decode_statistics(&self.body, from, to).map_err(|message| Error::Decode {
            url: "(statistics probe)".into(),
            message,
        })
    }
}

impl Client {
    /// `GET /query/logs/{ids joined by ':'}` with `params`, polled to its
    /// final body. Several ids ask one query over several logs (a form
    /// Rapid7's specification calls deprecated). Each id is checked like
    /// any log id.
    pub async fn probe_query(
        &self,
        log_ids: &[&str],
        params: &[(&str, String)],
    ) -> Result<RawAnswer> {
        let mut ids = Vec::with_capacity(log_ids.len());
        for id in log_ids {
            let id = LogId::new(*id)?;
            ids.push(id.as_str().to_string());
        }
        let keys = ids.join(":");
        let mut url = self.url(&["query", "logs", &keys]);
        for (k, v) in params {
            url.query_pairs_mut().append_pair(k, v);
        }
        self.probe_url(url).await
    }

    /// A `Next` link of an earlier answer, checked like every link before
    /// the key is sent to it, polled to its final body.
    pub async fn probe_link(&self, href: &str) -> Result<RawAnswer> {
        let url = self.checked_link(href)?;
        self.probe_url(url).await
    }

    /// `url` polled to its final body ([`poll_until_finished`]); an expired
    /// continuation is not resubmitted: the probe reports what happened.
    async fn probe_url(&self, url: Url) -> Result<RawAnswer> {
        let request = |req: Outgoing, ns: Namespace| {
            self.get_parsed(req.url, ns, |resp| {
                let body: Value = serde_json::from_slice(&resp.body)
                    .map_err(|e| format!("invalid JSON ({e})"))?;
                Ok((
                    resp.status.as_u16(),
                    resp.limits,
                    resp.beyond_retention.is_some(),
                    body,
                ))
            })
        };
        let who = Polling {
            log_id: "",
            page: None,
            max_resubmits: 0,
        };
        // The first answer's status and rate-limit headers; whether any
        // answer said the window is beyond retention.
        let mut first = None;
        let mut beyond = false;
        let finished = poll_until_finished(
            self,
            &Outgoing::get(url),
            who,
            request,
            |(_, _, _, body): &Answer| find_link(&links_of(body), "Self").map(|l| l.href.clone()),
            |(status, limits, b, _): &mut Answer| {
                first.get_or_insert_with(|| (*status, rate_limit_seen(limits)));
                beyond |= *b;
            },
        )
        .await?;
        let (first_status, rate_limit) = first.unwrap_or_default();
        Ok(RawAnswer {
            first_status,
            polls: finished.polls,
            rate_limit,
            beyond_retention: beyond,
            body: finished.body.3,
        })
    }
}
