//! What the client says about a page's completeness: events the decoder
//! rejected (counted per page, never dropped silently) and
//! `x-beyond-retention`, on the page it came with.

use datafusion_rapid7::mock::Faults;
use futures::TryStreamExt;

use crate::support::*;

#[tokio::test]
async fn events_without_a_timestamp_are_counted_on_their_page() {
    let server = server().await;
    server.set_faults(Faults {
        events_without_timestamp: Some(7),
        to_exclusive: true,
        ..Faults::default()
    });
    let client = builder_for(&server).with_per_page(200).build().unwrap();
    let fw = log_id(&server, "Firewall");
    let (from, to) = (T0, T0 + 5_000);
    let pages: Vec<_> = client
        .query_events(&fw, from, to)
        .unwrap()
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    assert!(pages.len() > 3, "several pages");
    let truth = truth(&server, &fw, from, to);
    let rejected: Vec<_> = truth.iter().filter(|r| r.1 % 7 == 0).collect();
    let failed: u64 = pages.iter().map(|p| p.stats.failed).sum();
    let accepted: u64 = pages.iter().map(|p| p.stats.accepted).sum();
    assert_eq!(failed, rejected.len() as u64);
    assert_eq!(
        accepted + failed,
        truth.len() as u64,
        "every event accounted for"
    );
    assert!(pages.iter().all(|p| !p.stats.beyond_retention));
    let s = client.stats();
    assert_eq!((s.events_failed, s.pages_beyond_retention), (failed, 0));
    let got = fetch(&client, &fw, from, to).await.unwrap();
    let want: Vec<_> = truth.into_iter().filter(|r| r.1 % 7 != 0).collect();
    assert!(got == want, "the readable events, exactly");
}

#[tokio::test]
async fn beyond_retention_comes_with_its_page() {
    let server = server().await;
    // Retention starts at the burst second.
    let cut = T0;
    server.set_faults(Faults {
        retention_start_ms: Some(cut),
        ..Faults::default()
    });
    let client = builder_for(&server).with_per_page(200).build().unwrap();
    let fw = log_id(&server, "Firewall");
    let (from, to) = (T0 - 5_000, T0 + 5_000);
    let pages: Vec<_> = client
        .query_events(&fw, from, to)
        .unwrap()
        .into_stream()
        .try_collect()
        .await
        .unwrap();
    // The first page asked from `from`, before the cut: Rapid7 said so.
    // Its Next links start after the cut: those pages are inside retention.
    assert!(pages.len() > 1);
    assert!(pages[0].stats.beyond_retention);
    let message = pages[0].beyond_retention_message.as_deref().unwrap();
    assert!(message.contains("retention"), "{message}");
    assert!(pages[1..].iter().all(|p| !p.stats.beyond_retention));
    assert_eq!(client.stats().pages_beyond_retention, 1);
    let events: u64 = pages.iter().map(|p| p.stats.accepted).sum();
    assert_eq!(events, server.dataset().count(&fw, cut, to));
}
