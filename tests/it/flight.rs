//! The Flight SQL service in process: `Rapid7FlightSql` on a `127.0.0.1:0`
//! listener over the simulator on loopback, driven by arrow-flight's Rust
//! `FlightSqlServiceClient`. Expected rows come from the same SQL through a
//! plain `SessionContext` with `register`, or from the simulator's data.

mod metadata;
mod policy;
mod queries;
mod statements;

use arrow_flight::FlightInfo;
use arrow_flight::error::FlightError;
use arrow_flight::sql::client::FlightSqlServiceClient;
use datafusion::arrow::array::RecordBatch;
use datafusion_rapid7::cache::{CacheConfig, SegmentCache};
use datafusion_rapid7::flight::{Auth, Rapid7FlightSql, ServeLimits};
use datafusion_rapid7::mock::MockServer;
use datafusion_rapid7::{Rapid7, Rapid7Config};
use futures::TryStreamExt;
use tempfile::TempDir;
use tokio::task::JoinSet;
use tonic::transport::{Channel, Endpoint};

use crate::support;

/// A service serving on loopback, and what keeps it alive.
struct Served {
    service: Rapid7FlightSql,
    addr: std::net::SocketAddr,
    _dir: TempDir,
    _tasks: JoinSet<()>,
}

impl Served {
    /// A new client connection, in session `session` (none: the user's
    /// default session).
    async fn client(&self, session: Option<&str>) -> FlightSqlServiceClient<Channel> {
        let channel = Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .expect("connects");
        let mut client = FlightSqlServiceClient::new(channel);
        if let Some(s) = session {
            client.set_header("x-rapid7-session", s);
        }
        client
    }
}

/// The service over `server` with a fresh cache, `limits`, and the source's
/// configuration tuned by `tune`.
async fn serve(
    server: &MockServer,
    limits: ServeLimits,
    tune: impl FnOnce(Rapid7Config) -> Rapid7Config,
) -> Served {
    let dir = TempDir::new().unwrap();
    let cache =
        SegmentCache::open(dir.path().to_str().unwrap(), CacheConfig::default()).expect("cache");
    let config =
        tune(Rapid7Config::new(support::client_for(server), cache).with_fetch_limit_ceiling(true));
    let rapid7 = Rapid7::new(config).expect("source");
    let service = Rapid7FlightSql::new(rapid7, Auth::open(), limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    let mut tasks = JoinSet::new();
    let svc = service.clone().into_server();
    tasks.spawn(async move {
        tonic::transport::Server::builder()
            .add_service(svc)
            .serve_with_incoming(incoming)
            .await
            .expect("serves");
    });
    Served {
        service,
        addr,
        _dir: dir,
        _tasks: tasks,
    }
}

/// Every batch of every endpoint of `info`.
async fn fetch(
    client: &mut FlightSqlServiceClient<Channel>,
    info: FlightInfo,
) -> Result<Vec<RecordBatch>, FlightError> {
    let mut out = Vec::new();
    for endpoint in info.endpoint {
        let ticket = endpoint.ticket.expect("a ticket");
        let stream = client.do_get(ticket).await?;
        out.extend(stream.try_collect::<Vec<_>>().await?);
    }
    Ok(out)
}

/// `sql` run through `client`, all its batches.
async fn run(
    client: &mut FlightSqlServiceClient<Channel>,
    sql: &str,
) -> Result<Vec<RecordBatch>, FlightError> {
    let info = client.execute(sql.to_string(), None).await?;
    fetch(client, info).await
}

/// The status code and message of a failed call.
fn code(e: &FlightError) -> (tonic::Code, String) {
    match e {
        FlightError::Tonic(s) => (s.code(), s.message().to_string()),
        other => panic!("expected a status, got {other}"),
    }
}

/// The rows of `batches` as text, one line each.
fn lines(batches: &[RecordBatch]) -> Vec<String> {
    let text = datafusion::arrow::util::pretty::pretty_format_batches(batches)
        .unwrap()
        .to_string();
    text.lines().map(str::to_string).collect()
}

/// The simulator, each request answered 5 ms late (so that fetches made at
/// the same time overlap).
async fn slow_server() -> MockServer {
    let server = support::server().await;
    server.set_faults(datafusion_rapid7::mock::Faults {
        latency: std::time::Duration::from_millis(5),
        ..Default::default()
    });
    server
}

/// Each of `sql` through its own client of `served` (sessions `a` and `b`),
/// both planned before either runs, then read at once: the query requests
/// `server` had once both were planned, and the two results.
async fn two_at_once(
    served: &Served,
    server: &MockServer,
    sql: [&str; 2],
) -> (usize, [Vec<RecordBatch>; 2]) {
    let (mut a, mut b) = (
        served.client(Some("a")).await,
        served.client(Some("b")).await,
    );
    let ia = a.execute(sql[0].to_string(), None).await.unwrap();
    let ib = b.execute(sql[1].to_string(), None).await.unwrap();
    let planning = server.query_requests();
    let (ra, rb) = tokio::join!(fetch(&mut a, ia), fetch(&mut b, ib));
    (planning, [ra.unwrap(), rb.unwrap()])
}

/// Firewall's events of `[from, to)`, in order.
fn firewall(from: i64, to: i64) -> String {
    format!(
        "SELECT timestamp, sequence_number, message FROM rapid7_logs \
         WHERE log_name = 'Firewall' AND {} ORDER BY timestamp, sequence_number",
        window(from, to)
    )
}

fn window(from: i64, to: i64) -> String {
    format!("timestamp >= to_timestamp_millis({from}) AND timestamp < to_timestamp_millis({to})")
}

const MIN: i64 = 60_000;

/// The fields of one `flight_statement` event.
#[derive(Debug, Clone, Default)]
struct StatementEvent {
    outcome: String,
    rows: u64,
    queries_spent: u64,
}

/// Collects the `flight_statement` events of this thread (the test's
/// runtime: `#[tokio::test]` runs the server's tasks on it too) while its
/// guard lives.
#[derive(Clone, Default)]
struct StatementEvents(std::sync::Arc<std::sync::Mutex<Vec<StatementEvent>>>);

impl StatementEvents {
    fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
        use tracing_subscriber::layer::SubscriberExt;
        // tracing-core 0.1 caches a callsite's interest for the whole process,
        // asking only the current thread's subscriber while at most one
        // scoped subscriber is alive: a callsite first hit by another test's
        // thread (no subscriber) would stay off for this one. A second
        // subscriber kept alive makes it ask every live one.
        static KEEP: std::sync::OnceLock<tracing::Dispatch> = std::sync::OnceLock::new();
        KEEP.get_or_init(|| tracing::Dispatch::new(tracing_subscriber::registry()));
        let events = StatementEvents::default();
        let subscriber = tracing_subscriber::registry().with(events.clone());
        (events, tracing::subscriber::set_default(subscriber))
    }

    fn all(&self) -> Vec<StatementEvent> {
        self.0.lock().unwrap().clone()
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for StatementEvents {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Visit(StatementEvent, bool);
        impl tracing::field::Visit for Visit {
            fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
                match field.name() {
                    "rows" => self.0.rows = value,
                    "queries_spent" => self.0.queries_spent = value,
                    _ => {}
                }
            }
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "outcome" {
                    self.0.outcome = value.to_string();
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" && format!("{value:?}") == "flight_statement" {
                    self.1 = true;
                }
            }
        }
        let mut visit = Visit(StatementEvent::default(), false);
        event.record(&mut visit);
        if visit.1 {
            self.0.lock().unwrap().push(visit.0);
        }
    }
}
