//! Submit a query and poll its `Self` link until it is finished (rapid7-api.md
//! §3): the one loop behind statistical queries.

use std::sync::atomic::Ordering;

use reqwest::StatusCode;
use tokio::time::Instant;

use super::error::{Error, Result, Wait};
use super::http::Outgoing;
use super::model::{Link, find_link};
use super::rate_limit::Namespace;
use super::rest::Client;

/// Send `submit` (a GET, or a POST of a long statement), then poll until a
/// body without a `Self` link arrives, and return what `parse` made of that
/// final body. `parse` gets every body (in
/// progress or final) and returns its links with the parsed value; only the
/// final one is kept. An expired continuation (404 on a poll) resubmits
/// `submit`, at most `poll.max_resubmits` times.
pub(crate) async fn fetch_finished<T>(
    client: &Client,
    submit: &Outgoing,
    log_id: &str,
    parse: impl Fn(&[u8]) -> std::result::Result<(Vec<Link>, T), String>,
) -> Result<T> {
    let poll = client.inner.config.poll;
    let url = &submit.url;
    let parse = &parse;
    let request = |req: Outgoing, ns: Namespace| async move {
        client
            .send_parsed(&req, ns, |resp| {
                let (links, value) = parse(&resp.body)?;
                if resp.status == StatusCode::ACCEPTED && find_link(&links, "Self").is_none() {
                    return Err("202 without a Self link to poll".to_string());
                }
                Ok((links, value))
            })
            .await
    };
    let mut resubmits = 0;
    'submit: loop {
        let (mut links, mut value) = request(submit.clone(), Namespace::Query).await?;
        let started = Instant::now();
        let mut delay = poll.initial;
        while let Some(link) = find_link(&links, "Self") {
            if started.elapsed() > poll.query_timeout {
                return Err(Error::Timeout {
                    method: submit.method(),
                    url: url.to_string(),
                    wait: Wait::Query,
                    after: poll.query_timeout,
                    source: None,
                });
            }
            let self_url = client.checked_link(&link.href)?;
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(poll.max);
            match request(Outgoing::get(self_url), Namespace::Poll).await {
                Ok(next) => (links, value) = next,
                Err(e) if e.status() == Some(404) && resubmits < poll.max_resubmits => {
                    resubmits += 1;
                    client.inner.stats.resubmits.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        log_id,
                        resubmits,
                        detail = "resubmitting the query",
                        "logsearch_continuation_expired"
                    );
                    continue 'submit;
                }
                Err(e) => return Err(e),
            }
        }
        return Ok(value);
    }
}
