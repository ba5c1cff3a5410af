//! [`Rapid7FlightSql`]: the `FlightSqlService` over one shared [`Rapid7`].

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::{FlightService, FlightServiceServer};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionCancelQueryRequest, ActionCancelQueryResult, ActionClosePreparedStatementRequest,
    ActionCreatePreparedStatementRequest, ActionCreatePreparedStatementResult, Any,
    CommandGetCatalogs, CommandGetDbSchemas, CommandGetPrimaryKeys, CommandGetSqlInfo,
    CommandGetTableTypes, CommandGetTables, CommandGetXdbcTypeInfo, CommandPreparedStatementQuery,
    CommandStatementQuery, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{
    Action, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus, FlightDescriptor,
    FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse, IpcMessage, SchemaAsIpc,
    Ticket, decode::FlightRecordBatchStream,
};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use futures::{Stream, StreamExt, TryStreamExt};
use prost::Message;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use super::auth::{Auth, User};
use super::error::Error;
use super::limits::{ServeLimits, Slots};
use super::metadata;
use super::policy;
use super::session::{SessionKey, Sessions};
use super::statements::{
    Cancel, Outcome, Pending, Prepared, Record, Running, Statements, new_handle,
};
use super::status::{df_status, status};
use crate::Rapid7;
use crate::client::QueryMeter;
use crate::trace::statement_span_for;

type DoGetStream = <Rapid7FlightSql as FlightService>::DoGetStream;

/// The Arrow Flight SQL service of `rapid7-sql serve`: every client's SQL
/// through one [`Rapid7`] (one cache, one rate limiter, one fetcher). See
/// the [module docs](super) for sessions, the SQL accepted and the limits.
/// Cheap to clone: clones share everything.
#[derive(Debug, Clone)]
pub struct Rapid7FlightSql {
    inner: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    sessions: Sessions,
    statements: Arc<Statements>,
    slots: Arc<Slots>,
    auth: Auth,
    limits: ServeLimits,
    /// Set by [`Rapid7FlightSql::drain`]: no new statement.
    draining: AtomicBool,
}

/// What a statement is planned from.
enum Source {
    Sql(String),
    Prepared(Box<Prepared>),
}

impl Rapid7FlightSql {
    /// The service over `rapid7`, its callers proved by `auth`, within
    /// `limits`. The source's `max_fetch_events` is the server's limit: a
    /// session may lower it (`SET rapid7.max_fetch_events`) but never raise
    /// or lift it; build the source with
    /// [`Rapid7Config::with_fetch_limit_ceiling`](crate::config::Rapid7Config::with_fetch_limit_ceiling).
    pub fn new(rapid7: Rapid7, auth: Auth, limits: ServeLimits) -> Self {
        Self::try_new(rapid7, auth, limits)
            .expect("a runtime with a memory pool and the default disk manager builds")
    }

    /// [`Rapid7FlightSql::new`], with the error of a runtime that does not
    /// build.
    pub fn try_new(rapid7: Rapid7, auth: Auth, limits: ServeLimits) -> crate::Result<Self> {
        Ok(Rapid7FlightSql {
            inner: Arc::new(Shared {
                sessions: Sessions::new(rapid7, limits.memory_pool_bytes)?,
                statements: Arc::default(),
                slots: Arc::default(),
                auth,
                limits,
                draining: AtomicBool::new(false),
            }),
        })
    }

    /// The tonic service to serve.
    pub fn into_server(self) -> FlightServiceServer<Self> {
        FlightServiceServer::new(self)
    }

    /// The limits.
    pub fn limits(&self) -> &ServeLimits {
        &self.inner.limits
    }

    /// Take no new statement from now on, on any connection: planning a
    /// statement (`GetFlightInfo` of a statement or a prepared statement),
    /// creating a prepared statement and `DoGet` of a prepared statement are
    /// refused with `UNAVAILABLE`, saying the server is stopping. Statements
    /// already planned may still be read (their tickets work) and run to
    /// their end; [`Rapid7FlightSql::statements_held`] tells when they are
    /// done. Metadata calls still answer. For a graceful stop: stop
    /// accepting connections, drain, wait for the statements held (within
    /// a grace period), then [`Rapid7::stop`]. Cannot be undone.
    pub fn drain(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    /// Whether [`Rapid7FlightSql::drain`] was called.
    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// `Err(UNAVAILABLE)` once draining: no new statement.
    fn check_open(&self) -> Result<(), Status> {
        match self.is_draining() {
            true => Err(status(&Error::Stopping.into())),
            false => Ok(()),
        }
    }

    /// The statements `user` holds now (planned and unread, or streaming).
    pub fn statements_held(&self, user: &User) -> usize {
        self.inner.slots.held(user)
    }

    /// The prepared statement `query` names, if `key`'s session holds it.
    fn prepared(
        &self,
        query: &CommandPreparedStatementQuery,
        key: &SessionKey,
    ) -> Result<Source, Status> {
        let handle = String::from_utf8_lossy(&query.prepared_statement_handle);
        let prepared = self
            .inner
            .statements
            .prepared(&handle, key, &self.inner.limits)
            .map_err(|e| status(&e.into()))?;
        Ok(Source::Prepared(Box::new(prepared)))
    }

    fn caller<T>(&self, request: &Request<T>) -> Result<SessionKey, Status> {
        let user = self.inner.auth.authenticate(request.metadata())?;
        SessionKey::of(user, request.metadata()).map_err(Status::invalid_argument)
    }

    async fn session<T>(
        &self,
        request: &Request<T>,
    ) -> Result<(SessionKey, SessionContext), Status> {
        let key = self.caller(request)?;
        let ctx = self
            .inner
            .sessions
            .get(&key)
            .await
            .map_err(|e| status(&e))?;
        Ok((key, ctx))
    }

    /// Plan a statement for `key` and hold it under a ticket: its
    /// `FlightInfo`. Every failure here ends the statement's record.
    async fn plan(
        &self,
        key: SessionKey,
        source: Source,
        descriptor: FlightDescriptor,
    ) -> Result<FlightInfo, Status> {
        let mut pending = self.plan_pending(key, source).await?;
        let info = FlightInfo::new()
            .try_with_schema(&pending.schema)
            .map_err(|e| {
                refuse(
                    &mut pending.record,
                    Outcome::Error,
                    Status::internal(e.to_string()),
                )
            })?;
        let handle = self.inner.statements.hold(pending, &self.inner.limits);
        let ticket = TicketStatementQuery {
            statement_handle: handle.into_bytes().into(),
        };
        let endpoint =
            FlightEndpoint::new().with_ticket(Ticket::new(ticket.as_any().encode_to_vec()));
        Ok(info.with_endpoint(endpoint).with_descriptor(descriptor))
    }

    /// Plan a statement for `key`, holding a slot: refused once draining,
    /// or over a limit. Every failure here ends the statement's record.
    async fn plan_pending(&self, key: SessionKey, source: Source) -> Result<Pending, Status> {
        let rapid7 = self.inner.sessions.rapid7();
        let mut record = Record::start(key.user.clone());
        if let Err(s) = self.check_open() {
            return Err(refuse(&mut record, Outcome::Refused, s));
        }
        let slot = match self
            .inner
            .slots
            .acquire(&key.user, self.inner.limits.statements_per_user)
        {
            Ok(slot) => slot,
            Err(e) => return Err(refuse(&mut record, Outcome::Refused, status(&e.into()))),
        };
        let span = statement_span_for(record.id);
        let meter = record.meter.clone();
        let planned = meter
            .clone()
            .scope(self.plan_in_span(&key, source, meter))
            .instrument(span)
            .await;
        let (plan, task, schema) = match planned {
            Ok(p) => p,
            Err((outcome, s)) => return Err(refuse(&mut record, outcome, s)),
        };
        let cost = rapid7.estimate(&plan);
        if let Some(refusal) = cost.refusal() {
            return Err(refuse(&mut record, Outcome::Refused, status(&refusal)));
        }
        Ok(Pending::new(key, plan, task, schema, record, slot))
    }

    /// Run `pending` (cancellable under `handle`) as a DoGet stream.
    fn stream(&self, pending: Pending, handle: String) -> Result<Response<DoGetStream>, Status> {
        let schema = Arc::clone(&pending.schema);
        let running = Running::start(
            pending,
            handle,
            Arc::clone(&self.inner.statements),
            self.inner.limits.clone(),
        )?;
        let stream = FlightDataEncoderBuilder::new()
            .with_schema(schema)
            .build(running)
            .map_err(Status::from);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn plan_in_span(
        &self,
        key: &SessionKey,
        source: Source,
        meter: QueryMeter,
    ) -> Result<
        (
            Arc<dyn datafusion::physical_plan::ExecutionPlan>,
            Arc<datafusion::execution::TaskContext>,
            SchemaRef,
        ),
        (Outcome, Status),
    > {
        let error = |s: Status| (Outcome::Error, s);
        let ctx = self
            .inner
            .sessions
            .get(key)
            .await
            .map_err(|e| error(status(&e)))?;
        let plan = match source {
            Source::Sql(sql) => self.logical(&ctx, &sql).await?,
            Source::Prepared(p) => match p.params {
                Some(params) => p
                    .plan
                    .with_param_values(params)
                    .map_err(|e| error(df_status(&e)))?,
                None => p.plan,
            },
        };
        // SET is applied here, to this session only.
        let df = ctx
            .execute_logical_plan(plan)
            .await
            .map_err(|e| error(df_status(&e)))?;
        // The statement's plan nodes count its queries to its meter.
        let task = df.task_ctx();
        let config = task
            .session_config()
            .clone()
            .with_extension(Arc::new(meter));
        let task = Arc::new(task.with_session_config(config));
        let physical = df
            .create_physical_plan()
            .await
            .map_err(|e| error(df_status(&e)))?;
        // What the stream's batches carry (nullability included).
        let schema = physical.schema();
        Ok((physical, task, schema))
    }

    /// `sql` planned (not run) in `ctx`, if the policy accepts it.
    async fn logical(
        &self,
        ctx: &SessionContext,
        sql: &str,
    ) -> Result<LogicalPlan, (Outcome, Status)> {
        let plan = ctx
            .state()
            .create_logical_plan(sql)
            .await
            .map_err(|e| (Outcome::Error, df_status(&e)))?;
        policy::check(&plan, self.inner.sessions.rapid7().config())
            .map_err(|e| (Outcome::Refused, status(&e.into())))?;
        Ok(plan)
    }

    fn cancel_info(&self, info: &FlightInfo, user: &User) -> Result<Cancel, Status> {
        let mut result = Cancel::NotCancellable;
        for endpoint in &info.endpoint {
            let Some(ticket) = &endpoint.ticket else {
                continue;
            };
            let any = Any::decode(&*ticket.ticket)
                .map_err(|e| Status::invalid_argument(format!("unreadable ticket: {e}")))?;
            let Ok(Some(t)) = any.unpack::<TicketStatementQuery>() else {
                continue;
            };
            let handle = String::from_utf8_lossy(&t.statement_handle);
            if self.inner.statements.cancel(&handle, user) == Cancel::Cancelled {
                result = Cancel::Cancelled;
            }
        }
        Ok(result)
    }
}

/// End `record` with `outcome` and the status's message; the status.
fn refuse(record: &mut Record, outcome: Outcome, status: Status) -> Status {
    record.finish(outcome, Some(status.message()));
    status
}

/// One batch as a DoGet stream.
fn one_batch<E>(schema: SchemaRef, batch: Result<RecordBatch, E>) -> Response<DoGetStream>
where
    FlightError: From<E>,
{
    let batch = batch.map_err(FlightError::from);
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::once(async { batch }))
        .map_err(Status::from);
    Response::new(Box::pin(stream))
}

/// A `FlightInfo` for a metadata command: its schema, and the command
/// itself as the ticket.
fn metadata_info(
    schema: &Schema,
    command: impl ProstMessageExt,
    descriptor: FlightDescriptor,
) -> Result<Response<FlightInfo>, Status> {
    let ticket = Ticket::new(command.as_any().encode_to_vec());
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(e.to_string()))?
        .with_endpoint(FlightEndpoint::new().with_ticket(ticket))
        .with_descriptor(descriptor);
    Ok(Response::new(info))
}

fn ipc_schema(schema: &Schema) -> Result<bytes::Bytes, Status> {
    let IpcMessage(bytes) = SchemaAsIpc::new(schema, &IpcWriteOptions::default())
        .try_into()
        .map_err(|e: datafusion::arrow::error::ArrowError| Status::internal(e.to_string()))?;
    Ok(bytes)
}

/// The parameters of a prepared plan (`$1`, `$2`, …, in order), their types
/// where DataFusion infers them (`Null` where it cannot).
fn parameter_schema(plan: &LogicalPlan) -> Result<Schema, Status> {
    let types = plan.get_parameter_types().map_err(|e| df_status(&e))?;
    let mut names: Vec<(usize, String, Option<DataType>)> = types
        .into_iter()
        .map(|(name, t)| {
            let n = name.trim_start_matches('$').parse().unwrap_or(usize::MAX);
            (n, name, t)
        })
        .collect();
    names.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    Ok(Schema::new(
        names
            .into_iter()
            .map(|(_, name, t)| Field::new(name, t.unwrap_or(DataType::Null), true))
            .collect::<Vec<_>>(),
    ))
}

#[tonic::async_trait]
impl FlightSqlService for Rapid7FlightSql {
    type FlightService = Rapid7FlightSql;

    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        let metadata = request.metadata().clone();
        let mut stream = request.into_inner();
        let payload = match stream.next().await {
            Some(Ok(r)) => r.payload.to_vec(),
            Some(Err(e)) => return Err(e),
            None => Vec::new(),
        };
        let (_user, token) = self.inner.auth.handshake(&metadata, &payload)?;
        let answer = HandshakeResponse {
            protocol_version: 0,
            payload: token.clone().into_bytes().into(),
        };
        let out: Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>> =
            Box::pin(futures::stream::iter([Ok::<_, Status>(answer)]));
        let mut response = Response::new(out);
        if !token.is_empty() {
            let value = MetadataValue::try_from(format!("Bearer {token}"))
                .map_err(|_| Status::internal("the bearer token is not a header value"))?;
            response.metadata_mut().insert("authorization", value);
        }
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let key = self.caller(&request)?;
        let info = self
            .plan(key, Source::Sql(query.query), request.into_inner())
            .await?;
        Ok(Response::new(info))
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let key = self.caller(&request)?;
        let prepared = self.prepared(&query, &key)?;
        let info = self.plan(key, prepared, request.into_inner()).await?;
        Ok(Response::new(info))
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let key = self.caller(&request)?;
        let handle = String::from_utf8_lossy(&ticket.statement_handle).into_owned();
        let pending = self
            .inner
            .statements
            .take(&handle, &key.user, &self.inner.limits)
            .map_err(|e| status(&e.into()))?;
        self.stream(pending, handle)
    }

    /// A prepared statement read directly (no `FlightInfo` first): planned
    /// with the parameters bound last and run at once, as executing it and
    /// reading its ticket would.
    async fn do_get_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let key = self.caller(&request)?;
        let prepared = self.prepared(&query, &key)?;
        let pending = self.plan_pending(key, prepared).await?;
        // Its own handle: cancelled by dropping the stream (no ticket names it).
        self.stream(pending, new_handle())
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let (key, ctx) = self.session(&request).await?;
        self.check_open()?;
        let plan = self.logical(&ctx, &query.query).await.map_err(|(_, s)| s)?;
        let dataset = ipc_schema(plan.schema().as_arrow())?;
        let parameters = ipc_schema(&parameter_schema(&plan)?)?;
        let handle = self
            .inner
            .statements
            .prepare(Prepared::new(key, plan), &self.inner.limits);
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: handle.into_bytes().into(),
            dataset_schema: dataset,
            parameter_schema: parameters,
        })
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        let key = self.caller(&request)?;
        let handle = String::from_utf8_lossy(&query.prepared_statement_handle).into_owned();
        let data = request.into_inner().map_err(FlightError::from);
        let batches: Vec<RecordBatch> = FlightRecordBatchStream::new_from_flight_data(data)
            .try_collect()
            .await
            .map_err(Status::from)?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let bad = |m: String| status(&Error::BadRequest(m).into());
        if rows > 1 {
            return Err(bad(format!(
                "{rows} rows of parameters were bound; bind one row per execution"
            )));
        }
        let values = match batches.iter().find(|b| b.num_rows() == 1) {
            None => Vec::new(),
            Some(b) => b
                .columns()
                .iter()
                .map(|c| ScalarValue::try_from_array(c, 0))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(format!("unreadable parameter: {e}")))?,
        };
        // Values as the plan expects them (clients send what their language
        // has: an int64 for a UInt64 column).
        let prepared = self
            .inner
            .statements
            .prepared(&handle, &key, &self.inner.limits)
            .map_err(|e| status(&e.into()))?;
        let types = prepared
            .plan
            .get_parameter_types()
            .map_err(|e| df_status(&e))?;
        let values = values
            .into_iter()
            .enumerate()
            .map(|(i, v)| match types.get(&format!("${}", i + 1)) {
                Some(Some(t)) if &v.data_type() != t => v
                    .cast_to(t)
                    .map_err(|e| bad(format!("parameter ${}: {e}", i + 1))),
                _ => Ok(v),
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.inner
            .statements
            .bind(
                &handle,
                &key,
                ParamValues::List(values.into_iter().map(Into::into).collect()),
                &self.inner.limits,
            )
            .map_err(|e| status(&e.into()))?;
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(handle.into_bytes().into()),
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        query: ActionClosePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<(), Status> {
        let key = self.caller(&request)?;
        let handle = String::from_utf8_lossy(&query.prepared_statement_handle);
        self.inner.statements.close(&handle, &key);
        Ok(())
    }

    async fn do_action_cancel_query(
        &self,
        query: ActionCancelQueryRequest,
        request: Request<Action>,
    ) -> Result<ActionCancelQueryResult, Status> {
        let key = self.caller(&request)?;
        let info = FlightInfo::decode(&*query.info)
            .map_err(|e| Status::invalid_argument(format!("unreadable FlightInfo: {e}")))?;
        // `CancelResult` (not exported) numbers its values as `CancelStatus`.
        let result = match self.cancel_info(&info, &key.user)? {
            Cancel::Cancelled => CancelStatus::Cancelled,
            Cancel::NotCancellable => CancelStatus::NotCancellable,
        };
        Ok(ActionCancelQueryResult {
            result: result as i32,
        })
    }

    async fn do_action_fallback(
        &self,
        request: Request<Action>,
    ) -> Result<Response<<Self as FlightService>::DoActionStream>, Status> {
        if request.get_ref().r#type != "CancelFlightInfo" {
            return Err(Status::invalid_argument(format!(
                "unknown action {:?}",
                request.get_ref().r#type
            )));
        }
        let key = self.caller(&request)?;
        let cancel = CancelFlightInfoRequest::decode(&*request.get_ref().body)
            .map_err(|e| Status::invalid_argument(format!("unreadable CancelFlightInfo: {e}")))?;
        let info = cancel
            .info
            .ok_or_else(|| Status::invalid_argument("CancelFlightInfo without a FlightInfo"))?;
        let status = match self.cancel_info(&info, &key.user)? {
            Cancel::Cancelled => CancelStatus::Cancelled,
            Cancel::NotCancellable => CancelStatus::NotCancellable,
        };
        let body = CancelFlightInfoResult::new(status).encode_to_vec();
        let result = arrow_flight::Result { body: body.into() };
        let out: <Self as FlightService>::DoActionStream =
            Box::pin(futures::stream::iter([Ok::<_, Status>(result)]));
        Ok(Response::new(out))
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.into_builder().schema();
        metadata_info(&schema, query, request.into_inner())
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.clone().into_builder().schema();
        metadata_info(&schema, query, request.into_inner())
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.clone().into_builder().schema();
        metadata_info(&schema, query, request.into_inner())
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.into_builder().schema();
        metadata_info(&schema, query, request.into_inner())
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.clone().into_builder(&metadata::SQL_INFO).schema();
        metadata_info(&schema, query, request.into_inner())
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        metadata_info(
            &metadata::primary_keys_schema(),
            query,
            request.into_inner(),
        )
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.caller(&request)?;
        let schema = query.into_builder(&metadata::XDBC_INFO).schema();
        metadata_info(&schema, query, request.into_inner())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let (_, ctx) = self.session(&request).await?;
        let schema = query.into_builder().schema();
        let batch = metadata::catalogs(&ctx, query).map_err(|e| df_status(&e))?;
        Ok(one_batch(schema, Ok::<_, FlightError>(batch)))
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let (_, ctx) = self.session(&request).await?;
        let schema = query.clone().into_builder().schema();
        let batch = metadata::schemas(&ctx, query).map_err(|e| df_status(&e))?;
        Ok(one_batch(schema, Ok::<_, FlightError>(batch)))
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let (_, ctx) = self.session(&request).await?;
        let schema = query.clone().into_builder().schema();
        let batch = metadata::tables(&ctx, query)
            .await
            .map_err(|e| df_status(&e))?;
        Ok(one_batch(schema, Ok::<_, FlightError>(batch)))
    }

    async fn do_get_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let mut builder = query.into_builder();
        for t in metadata::TABLE_TYPES {
            builder.append(t);
        }
        let schema = builder.schema();
        Ok(one_batch(schema, builder.build()))
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let builder = query.into_builder(&metadata::SQL_INFO);
        let schema = builder.schema();
        Ok(one_batch(schema, builder.build()))
    }

    async fn do_get_primary_keys(
        &self,
        _query: CommandGetPrimaryKeys,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let schema = metadata::primary_keys_schema();
        Ok(one_batch(
            Arc::clone(&schema),
            Ok::<_, FlightError>(RecordBatch::new_empty(schema)),
        ))
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.caller(&request)?;
        let builder = query.into_builder(&metadata::XDBC_INFO);
        let schema = builder.schema();
        Ok(one_batch(schema, builder.build()))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}
