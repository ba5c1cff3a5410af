//! Statements between their planning and the end of their result: planned
//! ones waiting for their ticket to be read, running ones (cancellable),
//! prepared ones; and the `flight_statement` event each statement ends with.
//!
//! A statement is planned once, when its `FlightInfo` is asked for; its
//! ticket names the plan, and reading the ticket takes it: a ticket is read
//! at most once, so nothing runs twice. Unread tickets and unused prepared
//! statements expire after [`ServeLimits::handle_ttl`].

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use arrow_flight::error::FlightError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ParamValues;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use futures::Stream;
use futures::stream::{AbortHandle, Abortable};

use super::auth::User;
use super::error::Error;
use super::limits::{ServeLimits, Slot};
use super::session::SessionKey;
use super::status::{df_status, status};
use crate::client::QueryMeter;
use crate::locks::lock;
use crate::trace::QueryId;

/// How a statement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Ok,
    Error,
    Refused,
    Cancelled,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::Refused => "refused",
            Outcome::Cancelled => "cancelled",
        }
    }
}

/// One statement's account, written as its `flight_statement` event once
/// it ends (or, if dropped unended, as cancelled: the client went away).
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) user: User,
    pub(crate) id: QueryId,
    started: Instant,
    /// The API queries made for this statement alone: its planning runs
    /// under it, and its plan nodes run under it through the `TaskContext`
    /// (a fetch another statement started and this one waits on counts to
    /// that one: [`QueryMeter`]).
    pub(crate) meter: QueryMeter,
    rows: u64,
    bytes: u64,
    done: bool,
}

impl Record {
    pub(crate) fn start(user: User) -> Self {
        Record {
            user,
            id: QueryId::next(),
            started: Instant::now(),
            meter: QueryMeter::new(),
            rows: 0,
            bytes: 0,
            done: false,
        }
    }

    /// Write the event (once).
    pub(crate) fn finish(&mut self, outcome: Outcome, error: Option<&str>) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        tracing::info!(
            user = %self.user,
            query_id = %self.id,
            outcome = outcome.as_str(),
            duration_ms = self.started.elapsed().as_millis() as u64,
            rows = self.rows,
            bytes = self.bytes,
            queries_spent = self.meter.queries(),
            error,
            "flight_statement"
        );
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        self.finish(
            Outcome::Cancelled,
            Some("the client went away before the result was read"),
        );
    }
}

/// A planned statement whose ticket was not read yet.
pub(crate) struct Pending {
    pub(crate) owner: SessionKey,
    pub(crate) plan: Arc<dyn ExecutionPlan>,
    pub(crate) task: Arc<TaskContext>,
    pub(crate) schema: SchemaRef,
    pub(crate) record: Record,
    pub(crate) slot: Slot,
    made: Instant,
}

impl Pending {
    pub(crate) fn new(
        owner: SessionKey,
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
        schema: SchemaRef,
        record: Record,
        slot: Slot,
    ) -> Self {
        Pending {
            owner,
            plan,
            task,
            schema,
            record,
            slot,
            made: Instant::now(),
        }
    }
}

/// A prepared statement: its plan (placeholders unbound) and the values
/// bound last.
#[derive(Clone)]
pub(crate) struct Prepared {
    pub(crate) owner: SessionKey,
    pub(crate) plan: LogicalPlan,
    pub(crate) params: Option<ParamValues>,
    used: Instant,
}

impl Prepared {
    pub(crate) fn new(owner: SessionKey, plan: LogicalPlan) -> Self {
        Prepared {
            owner,
            plan,
            params: None,
            used: Instant::now(),
        }
    }
}

/// Every statement the server holds.
#[derive(Default)]
pub(crate) struct Statements {
    pending: Mutex<HashMap<String, Pending>>,
    running: Mutex<HashMap<String, (User, AbortHandle)>>,
    prepared: Mutex<HashMap<String, Prepared>>,
}

impl std::fmt::Debug for Statements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statements")
            .field("pending", &lock(&self.pending).len())
            .field("running", &lock(&self.running).len())
            .field("prepared", &lock(&self.prepared).len())
            .finish()
    }
}

/// A new handle: 128 random bits, hex.
pub(crate) fn new_handle() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// What a cancel did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Cancel {
    Cancelled,
    NotCancellable,
}

impl Statements {
    /// Hold `pending` under a new ticket handle; drops expired ones.
    pub(crate) fn hold(&self, pending: Pending, limits: &ServeLimits) -> String {
        let handle = new_handle();
        let mut map = lock(&self.pending);
        map.retain(|_, p| {
            let keep = p.made.elapsed() < limits.handle_ttl;
            if !keep {
                p.record
                    .finish(Outcome::Cancelled, Some("its ticket expired unread"));
            }
            keep
        });
        map.insert(handle.clone(), pending);
        handle
    }

    /// Take the statement of `handle` if `user` owns it.
    pub(crate) fn take(
        &self,
        handle: &str,
        user: &User,
        limits: &ServeLimits,
    ) -> Result<Pending, Error> {
        let mut map = lock(&self.pending);
        match map.get(handle) {
            Some(p) if &p.owner.user == user && p.made.elapsed() < limits.handle_ttl => {
                Ok(map.remove(handle).expect("present"))
            }
            _ => Err(Error::UnknownHandle {
                what: "ticket",
                ttl_s: limits.handle_ttl.as_secs(),
            }),
        }
    }

    /// Cancel the statement of `handle` (waiting or running) if `user` owns it.
    pub(crate) fn cancel(&self, handle: &str, user: &User) -> Cancel {
        let waiting = {
            let mut map = lock(&self.pending);
            match map.get(handle) {
                Some(p) if &p.owner.user == user => map.remove(handle),
                _ => None,
            }
        };
        if let Some(mut p) = waiting {
            p.record
                .finish(Outcome::Cancelled, Some("cancelled by the client"));
            return Cancel::Cancelled;
        }
        match lock(&self.running).get(handle) {
            Some((owner, abort)) if owner == user => {
                abort.abort();
                Cancel::Cancelled
            }
            _ => Cancel::NotCancellable,
        }
    }

    /// Hold a prepared statement under a new handle; drops expired ones.
    pub(crate) fn prepare(&self, prepared: Prepared, limits: &ServeLimits) -> String {
        let handle = new_handle();
        let mut map = lock(&self.prepared);
        map.retain(|_, p| p.used.elapsed() < limits.handle_ttl);
        map.insert(handle.clone(), prepared);
        handle
    }

    /// The prepared statement of `handle`, if `owner`'s.
    pub(crate) fn prepared(
        &self,
        handle: &str,
        owner: &SessionKey,
        limits: &ServeLimits,
    ) -> Result<Prepared, Error> {
        let mut map = lock(&self.prepared);
        match map.get_mut(handle) {
            Some(p) if &p.owner == owner && p.used.elapsed() < limits.handle_ttl => {
                p.used = Instant::now();
                Ok(p.clone())
            }
            _ => Err(Error::UnknownHandle {
                what: "prepared statement",
                ttl_s: limits.handle_ttl.as_secs(),
            }),
        }
    }

    /// Bind `params` to the prepared statement of `handle`.
    pub(crate) fn bind(
        &self,
        handle: &str,
        owner: &SessionKey,
        params: ParamValues,
        limits: &ServeLimits,
    ) -> Result<(), Error> {
        self.prepared(handle, owner, limits)?;
        if let Some(p) = lock(&self.prepared).get_mut(handle) {
            p.params = Some(params);
        }
        Ok(())
    }

    /// Close the prepared statement of `handle`.
    pub(crate) fn close(&self, handle: &str, owner: &SessionKey) {
        let mut map = lock(&self.prepared);
        if map.get(handle).is_some_and(|p| &p.owner == owner) {
            map.remove(handle);
        }
    }
}

/// A statement's result as it streams: counted against the limits,
/// cancellable, ending in its event, freeing its slot when done or dropped.
pub(crate) struct Running {
    stream: Option<Abortable<SendableRecordBatchStream>>,
    record: Record,
    limits: ServeLimits,
    statements: Arc<Statements>,
    handle: String,
    /// Freed as soon as the result ends (before the client sees its end).
    slot: Option<Slot>,
}

impl Running {
    /// Run `pending` (its ticket `handle`), registered as cancellable.
    pub(crate) fn start(
        pending: Pending,
        handle: String,
        statements: Arc<Statements>,
        limits: ServeLimits,
    ) -> Result<Self, tonic::Status> {
        let Pending {
            plan,
            task,
            mut record,
            slot,
            ..
        } = pending;
        let stream = match datafusion::physical_plan::execute_stream(plan, task) {
            Ok(s) => s,
            Err(e) => {
                let status = df_status(&e);
                record.finish(Outcome::Error, Some(status.message()));
                return Err(status);
            }
        };
        let (abort, registration) = AbortHandle::new_pair();
        lock(&statements.running).insert(handle.clone(), (record.user.clone(), abort));
        Ok(Running {
            stream: Some(Abortable::new(stream, registration)),
            record,
            limits,
            statements,
            handle,
            slot: Some(slot),
        })
    }

    fn fail(
        &mut self,
        outcome: Outcome,
        status: tonic::Status,
    ) -> Poll<Option<Result<RecordBatch, FlightError>>> {
        self.stream = None;
        self.slot = None;
        self.record.finish(outcome, Some(status.message()));
        Poll::Ready(Some(Err(FlightError::Tonic(Box::new(status)))))
    }
}

impl Stream for Running {
    type Item = Result<RecordBatch, FlightError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(stream) = this.stream.as_mut() else {
            return Poll::Ready(None);
        };
        match ready!(Pin::new(&mut *stream).poll_next(cx)) {
            Some(Ok(batch)) => {
                let rows = this.record.rows + batch.num_rows() as u64;
                let bytes = this.record.bytes + batch.get_array_memory_size() as u64;
                if let Err(e) = this.limits.check_result(rows, bytes) {
                    return this.fail(Outcome::Error, status(&e.into()));
                }
                this.record.rows = rows;
                this.record.bytes = bytes;
                Poll::Ready(Some(Ok(batch)))
            }
            Some(Err(e)) => {
                let status = df_status(&e);
                let outcome = match status.code() {
                    tonic::Code::Cancelled => Outcome::Cancelled,
                    _ => Outcome::Error,
                };
                this.fail(outcome, status)
            }
            None if stream.is_aborted() => {
                this.fail(Outcome::Cancelled, status(&Error::Cancelled.into()))
            }
            None => {
                this.stream = None;
                this.slot = None;
                this.record.finish(Outcome::Ok, None);
                Poll::Ready(None)
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        lock(&self.statements.running).remove(&self.handle);
        // Dropping the DataFusion stream stops its work (and its fetches).
        self.stream = None;
    }
}
