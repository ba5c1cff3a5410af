//! Every error as a `tonic::Status`: its code says what kind of failure it
//! is, its message is the error's own (which never holds the API key or a
//! token).
//!
//! | error | code |
//! |---|---|
//! | SQL that does not parse or plan, a bad time window, an unknown log | `INVALID_ARGUMENT` |
//! | the SQL policy (DDL, DML, `COPY`, a `SET` not allowed or above the ceiling) | `PERMISSION_DENIED` |
//! | a [`ServeLimits`](super::ServeLimits) limit, the memory pool, the fetch limit (with its estimate) | `RESOURCE_EXHAUSTED` |
//! | Rapid7 unreachable, failing or refusing the server's key; the server stopping | `UNAVAILABLE` |
//! | a cancelled statement | `CANCELLED` |
//! | an unknown or expired ticket or handle | `NOT_FOUND` |
//! | data the cache lacks offline, incomplete segments | `FAILED_PRECONDITION` |
//! | anything else | `INTERNAL` |

use datafusion::error::DataFusionError;
use tonic::{Code, Status};

use super::error::Error as FlightError;
use crate::client;
use crate::error::Error;

/// `e` as a status.
pub(crate) fn status(e: &Error) -> Status {
    Status::new(code(e), message(&e.to_string()))
}

/// A DataFusion error (which may hold one of ours) as a status.
pub(crate) fn df_status(e: &DataFusionError) -> Status {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(ours) = s.downcast_ref::<Error>()
            && !matches!(ours, Error::DataFusion(_))
        {
            return Status::new(code(ours), message(&ours.to_string()));
        }
        source = s.source();
    }
    let root = e.find_root();
    let mut text = message(&e.strip_backtrace());
    if matches!(root, DataFusionError::ResourcesExhausted(_)) {
        text.push_str(
            " (the server's memory pool, limit memory_pool_bytes, shared by every statement: \
             narrow the query, or ask the server's operator to raise \
             ServeLimits::memory_pool_bytes)",
        );
    }
    Status::new(df_code(root), text)
}

fn message(text: &str) -> String {
    text.trim_start_matches("External error: ").to_string()
}

fn code(e: &Error) -> Code {
    match e {
        Error::Flight(f) => match f {
            FlightError::Policy { .. } | FlightError::AboveCeiling { .. } => Code::PermissionDenied,
            FlightError::Limit { .. } => Code::ResourceExhausted,
            FlightError::UnknownHandle { .. } => Code::NotFound,
            FlightError::Cancelled => Code::Cancelled,
            FlightError::Stopping => Code::Unavailable,
            FlightError::BadRequest(_) => Code::InvalidArgument,
        },
        Error::FetchBudget(_) => Code::ResourceExhausted,
        Error::Cancelled => Code::Cancelled,
        Error::Stopped => Code::Unavailable,
        Error::TimeWindow(_) => Code::InvalidArgument,
        Error::Client(
            client::Error::UnknownLog { .. }
            | client::Error::AmbiguousLog { .. }
            | client::Error::InvalidRange { .. }
            | client::Error::InvalidLogId { .. },
        ) => Code::InvalidArgument,
        Error::Client(_) => Code::Unavailable,
        Error::Offline { .. } | Error::Incomplete { .. } | Error::ObjectMessages { .. } => {
            Code::FailedPrecondition
        }
        Error::DataFusion(e) => df_code(e.find_root()),
        _ => Code::Internal,
    }
}

fn df_code(e: &DataFusionError) -> Code {
    match e {
        DataFusionError::ResourcesExhausted(_) => Code::ResourceExhausted,
        DataFusionError::Internal(_) | DataFusionError::IoError(_) => Code::Internal,
        DataFusionError::ObjectStore(_) | DataFusionError::ParquetError(_) => Code::Internal,
        _ => Code::InvalidArgument,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_kind_of_failure() {
        let policy = Error::from(FlightError::Policy {
            what: "COPY".into(),
        });
        assert_eq!(status(&policy).code(), Code::PermissionDenied);
        // Through DataFusion, the crate's error is found again.
        let wrapped = DataFusionError::External(Box::new(Error::from(FlightError::Cancelled)));
        assert_eq!(df_status(&wrapped).code(), Code::Cancelled);
        let shared = DataFusionError::Shared(std::sync::Arc::new(wrapped));
        assert_eq!(df_status(&shared).code(), Code::Cancelled);
        let plan = DataFusionError::Plan("table 'x' not found".into());
        assert_eq!(df_status(&plan).code(), Code::InvalidArgument);
        let pool = DataFusionError::ResourcesExhausted("pool".into());
        assert_eq!(df_status(&pool).code(), Code::ResourceExhausted);
    }
}
