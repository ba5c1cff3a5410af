//! Statements through Flight: exact rows, one fetch for two clients, the
//! fetch limit, prepared statements (executed, or read by DoGet directly),
//! cancellation, disconnects and limits.

use std::time::Duration;

use arrow_flight::sql::CommandPreparedStatementQuery;
use arrow_flight::{Action, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus, Ticket};
use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::prelude::SessionContext;
use datafusion_rapid7::Rapid7Config;
use datafusion_rapid7::cache::SegmentCache;
use datafusion_rapid7::flight::{ServeLimits, User};
use datafusion_rapid7::mock::{Faults, MockConfig, MockServer};
use futures::{StreamExt, TryStreamExt};
use prost::Message;

use super::{
    MIN, StatementEvents, code, fetch, firewall, lines, run, serve, slow_server, two_at_once,
    window,
};
use crate::support::{self, T0};

/// The rows of `sql` through a plain `SessionContext` with `register`
/// (no cache), as text.
async fn direct(server: &MockServer, sql: &str) -> Vec<String> {
    let ctx = SessionContext::new();
    datafusion_rapid7::register(
        &ctx,
        Rapid7Config::new(support::client_for(server), SegmentCache::bypass()),
    )
    .await
    .unwrap();
    lines(&ctx.sql(sql).await.unwrap().collect().await.unwrap())
}

#[tokio::test]
async fn rows_are_exact_against_the_simulator_and_a_plain_session() {
    let server = support::server().await;
    let served = serve(&server, ServeLimits::default(), |c| c).await;
    let mut client = served.client(None).await;
    let sql = firewall(T0, T0 + 10 * MIN);
    let batches = run(&mut client, &sql).await.unwrap();
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let fw = support::log_id(&server, "Firewall");
    assert_eq!(rows, support::truth(&server, &fw, T0, T0 + 10 * MIN).len());
    assert!(rows > 0);
    assert_eq!(lines(&batches), direct(&server, &sql).await);
    // Read from the cache the second time, still exact.
    server.clear_requests();
    assert_eq!(
        lines(&run(&mut client, &sql).await.unwrap()),
        direct(&server, &sql).await
    );
}

#[tokio::test]
async fn a_ticket_is_read_once() {
    let server = support::server().await;
    let served = serve(&server, ServeLimits::default(), |c| c).await;
    let mut client = served.client(None).await;
    let info = client.execute("SELECT 1".into(), None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    fetch(&mut client, info).await.unwrap();
    let e = match client.do_get(ticket).await {
        Ok(stream) => stream.try_collect::<Vec<_>>().await.unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(code(&e).0, tonic::Code::NotFound);
}

/// The one `count(*)` of `batches`.
fn one_count(batches: &[RecordBatch]) -> i64 {
    let counts: Vec<i64> = batches
        .iter()
        .filter(|b| b.num_rows() > 0)
        .map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .value(0)
        })
        .collect();
    assert_eq!(counts.len(), 1, "{batches:?}");
    counts[0]
}

#[tokio::test]
async fn prepared_statements_bind_parameters_executed_or_read_by_do_get() {
    let server = support::server().await;
    let served = serve(&server, ServeLimits::default(), |c| c).await;
    let mut client = served.client(None).await;
    let sql = format!(
        "SELECT count(*) AS n FROM rapid7_logs WHERE log_name = 'Firewall' AND {} \
         AND sequence_number > $1",
        window(T0, T0 + 5 * MIN)
    );
    let mut prepared = client.prepare(sql, None).await.unwrap();
    assert_eq!(prepared.dataset_schema().unwrap().field(0).name(), "n");
    let params = prepared.parameter_schema().unwrap().clone();
    assert_eq!(params.fields().len(), 1);
    assert_eq!(params.field(0).name(), "$1");
    assert_eq!(
        params.field(0).data_type(),
        &DataType::UInt64,
        "typed after the column"
    );
    let fw = support::log_id(&server, "Firewall");
    let truth = support::truth(&server, &fw, T0, T0 + 5 * MIN);
    let mut command = None;
    for cut in [truth[truth.len() / 3].1, truth[truth.len() / 2].1] {
        let expected = truth.iter().filter(|r| r.1 > cut).count() as i64;
        let batch = RecordBatch::try_new(
            std::sync::Arc::new(Schema::new(vec![Field::new("$1", DataType::Int64, false)])),
            vec![std::sync::Arc::new(Int64Array::from(vec![cut as i64]))],
        )
        .unwrap();
        prepared.set_parameters(batch).unwrap();
        // Binds the parameters (DoPut) and plans one run, read by its ticket.
        let info = prepared.execute().await.unwrap();
        // The command a client sends to read the prepared statement directly.
        let cmd = info.flight_descriptor.clone().expect("a descriptor").cmd;
        let any = arrow_flight::sql::Any::decode(&*cmd).unwrap();
        assert!(
            any.unpack::<CommandPreparedStatementQuery>()
                .unwrap()
                .is_some()
        );
        assert_eq!(
            one_count(&fetch(&mut client, info).await.unwrap()),
            expected
        );
        // Read directly (DoGet of the command): run with the values bound last.
        let direct: Vec<RecordBatch> = client
            .do_get(Ticket::new(cmd.clone()))
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(one_count(&direct), expected, "parameter {cut}");
        command = Some(cmd);
    }
    // Once closed, it is gone.
    prepared.close().await.unwrap();
    let e = match client.do_get(Ticket::new(command.unwrap())).await {
        Ok(stream) => stream.try_collect::<Vec<_>>().await.unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(code(&e).0, tonic::Code::NotFound);
}

#[tokio::test]
async fn two_clients_on_one_uncached_window_cause_one_fetch() {
    let sql = firewall(T0, T0 + 30 * MIN);
    // One client alone: the event queries one fetch of the window takes.
    let alone = support::server().await;
    let served = serve(&alone, ServeLimits::default(), |c| c).await;
    let mut client = served.client(None).await;
    let expected = lines(&run(&mut client, &sql).await.unwrap());
    let one_fetch = alone.event_query_requests();
    assert!(one_fetch > 0);

    // Two clients, both planned before either runs, run at once (each page
    // slowed so that the fetches overlap).
    let (events, _guard) = StatementEvents::capture();
    let server = slow_server().await;
    let served = serve(&server, ServeLimits::default(), |c| c).await;
    let (planning, [ra, rb]) = two_at_once(&served, &server, [&sql, &sql]).await;
    let planning = planning as u64;
    assert_eq!(lines(&ra), expected);
    assert_eq!(lines(&rb), expected);
    assert_eq!(
        server.event_query_requests(),
        one_fetch,
        "one fetch for both"
    );
    assert_eq!(
        server.query_requests() as u64,
        planning + one_fetch as u64,
        "no other query"
    );
    // Both planned alike (the same estimate); the fetch's queries count to
    // the statement that started it, none to the one that waited on it.
    let mut spent: Vec<u64> = events.all().iter().map(|e| e.queries_spent).collect();
    spent.sort_unstable();
    assert_eq!(spent.len(), 2);
    assert_eq!(spent[0] * 2, planning, "{spent:?}");
    assert_eq!(spent[1], spent[0] + one_fetch as u64, "{spent:?}");
}

#[tokio::test]
async fn a_statement_over_the_fetch_limit_fails_with_its_estimate() {
    let server = support::server().await;
    let served = serve(&server, ServeLimits::default(), |c| {
        c.with_max_fetch_events(100)
    })
    .await;
    let mut client = served.client(None).await;
    let e = run(&mut client, &firewall(T0, T0 + 60 * MIN))
        .await
        .unwrap_err();
    let (c, message) = code(&e);
    assert_eq!(c, tonic::Code::ResourceExhausted, "{message}");
    assert!(
        message.contains("events") && message.contains("RAPID7_MAX_FETCH_EVENTS"),
        "{message}"
    );
    assert!(
        message.contains('≈'),
        "the estimate is in the message: {message}"
    );
    assert_eq!(server.event_query_requests(), 0, "no event page");
}

#[tokio::test]
async fn result_limits_cut_with_an_error_naming_them() {
    let server = support::server().await;
    let served = serve(
        &server,
        ServeLimits::default().with_rows_per_result(10),
        |c| c,
    )
    .await;
    let mut client = served.client(None).await;
    let e = run(&mut client, &firewall(T0, T0 + 5 * MIN))
        .await
        .unwrap_err();
    let (c, message) = code(&e);
    assert_eq!(c, tonic::Code::ResourceExhausted);
    assert!(
        message.contains("result cut") && message.contains("rows_per_result"),
        "{message}"
    );
    // Under the limit, fine.
    let ok = run(&mut client, "SELECT 1 AS x").await.unwrap();
    assert_eq!(ok.iter().map(RecordBatch::num_rows).sum::<usize>(), 1);
}

/// Wait (bounded) until `user` holds no statement on `served`.
async fn until_released(served: &super::Served, user: &User) {
    for _ in 0..1000 {
        if served.service.statements_held(user) == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the statement's slot was never freed");
}

#[tokio::test]
async fn a_cancelled_statement_frees_its_slot() {
    let server = support::server().await;
    let limits = ServeLimits::default().with_statements_per_user(1);
    let served = serve(&server, limits, |c| c).await;
    let mut client = served.client(None).await;
    let first = client.execute("SELECT 1".into(), None).await.unwrap();
    // The one slot is taken: the next statement is refused, naming the limit.
    let e = client.execute("SELECT 2".into(), None).await.unwrap_err();
    let (c, message) = code(&e);
    assert_eq!(c, tonic::Code::ResourceExhausted);
    assert!(message.contains("statements_per_user"), "{message}");
    // Cancelled (CancelFlightInfo), the slot is free again.
    let action = Action::new(
        "CancelFlightInfo",
        CancelFlightInfoRequest::new(first.clone()).encode_to_vec(),
    );
    let mut results = client.do_action(action).await.unwrap();
    let body = results.next().await.unwrap().unwrap().body;
    let result = CancelFlightInfoResult::decode(body).unwrap();
    assert_eq!(result.status, CancelStatus::Cancelled as i32);
    assert_eq!(served.service.statements_held(&User::new("anonymous")), 0);
    let e = fetch(&mut client, first).await.unwrap_err();
    assert_eq!(
        code(&e).0,
        tonic::Code::NotFound,
        "a cancelled ticket is gone"
    );
    assert_eq!(
        lines(&run(&mut client, "SELECT 2 AS two").await.unwrap()).len(),
        5
    );

    // A running one: cancelled mid-fetch over a slow simulator.
    server.set_faults(Faults {
        latency: Duration::from_millis(50),
        ..Faults::default()
    });
    let info = client
        .execute(firewall(T0, T0 + 120 * MIN), None)
        .await
        .unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let mut stream = client.do_get(ticket).await.unwrap();
    let cancel = Action::new(
        "CancelFlightInfo",
        CancelFlightInfoRequest::new(info.clone()).encode_to_vec(),
    );
    let mut other = served.client(None).await;
    let mut results = other.do_action(cancel).await.unwrap();
    let body = results.next().await.unwrap().unwrap().body;
    let status = CancelFlightInfoResult::decode(body).unwrap().status;
    assert_eq!(status, CancelStatus::Cancelled as i32);
    let mut outcome = None;
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            outcome = Some(code(&e).0);
            break;
        }
    }
    assert_eq!(outcome, Some(tonic::Code::Cancelled));
    until_released(&served, &User::new("anonymous")).await;
    server.set_faults(Faults::default());
    run(&mut client, "SELECT 3").await.unwrap();
}

#[tokio::test]
async fn a_client_that_drops_its_stream_leaves_the_server_healthy() {
    let server = MockServer::start(MockConfig::default()).await.unwrap();
    let limits = ServeLimits::default().with_statements_per_user(1);
    let served = serve(&server, limits, |c| c).await;
    {
        let mut client = served.client(None).await;
        // Many batches: two hours of Firewall.
        let info = client
            .execute(firewall(T0, T0 + 120 * MIN), None)
            .await
            .unwrap();
        let ticket = info.endpoint[0].ticket.clone().unwrap();
        let mut stream = client.do_get(ticket).await.unwrap();
        let first = stream.next().await.unwrap().unwrap();
        assert!(first.num_rows() > 0);
        // Dropped mid-way, connection and all.
    }
    until_released(&served, &User::new("anonymous")).await;
    let mut client = served.client(None).await;
    let sql = firewall(T0, T0 + MIN);
    assert_eq!(
        lines(&run(&mut client, &sql).await.unwrap()),
        direct(&server, &sql).await
    );
}

#[tokio::test]
async fn once_draining_no_new_statement_starts_and_tickets_planned_before_are_read() {
    let server = support::server().await;
    let served = serve(&server, ServeLimits::default(), |c| c).await;
    let mut client = served.client(None).await;
    let sql = firewall(T0, T0 + MIN);
    let planned = client.execute(sql.clone(), None).await.unwrap();
    served.service.drain();
    assert!(served.service.is_draining());
    let refused = client.execute("SELECT 1".into(), None).await.unwrap_err();
    let prepared = client.prepare("SELECT 1".into(), None).await.unwrap_err();
    for e in [refused, prepared] {
        let (c, message) = code(&e);
        assert_eq!(c, tonic::Code::Unavailable, "{message}");
        assert!(message.contains("the server is stopping"), "{message}");
    }
    // Planned before: read after, in full.
    assert_eq!(
        lines(&fetch(&mut client, planned).await.unwrap()),
        direct(&server, &sql).await
    );
    assert_eq!(served.service.statements_held(&User::new("anonymous")), 0);
}
