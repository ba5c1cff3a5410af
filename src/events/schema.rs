//! The one event schema of `rapid7_logs` (design §3.1).

use std::sync::{Arc, LazyLock};

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Column names, in schema order.
pub mod columns {
    /// Rapid7 receipt time, `Timestamp(Millisecond, "UTC")`.
    pub const TIMESTAMP: &str = "timestamp";
    /// Log id (uuid).
    pub const LOG_ID: &str = "log_id";
    /// Log name from the management API.
    pub const LOG_NAME: &str = "log_name";
    /// Sequence number, parsed from `sequence_number_str`.
    pub const SEQUENCE_NUMBER: &str = "sequence_number";
    /// The raw log line.
    pub const MESSAGE: &str = "message";
    /// Label ids.
    pub const LABELS: &str = "labels";
    /// The names of the log sets the row's log is in, sorted (an empty list
    /// for a log in none). A column of `rapid7_logs` only, never of a cached
    /// part: like `log_name`, each read fills it from the log list, so it
    /// shows the log's sets now ([`logs_table_schema`](super::logs_table_schema)).
    pub const LOGSET: &str = "logset";
}

/// Version of the event schema written into segment manifests.
pub const SCHEMA_VERSION: u32 = 1;

/// The time zone of the `timestamp` column.
pub const TIMESTAMP_TZ: &str = "UTC";

/// The Arrow type of the `timestamp` column.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some(TIMESTAMP_TZ.into()))
}

static EVENT_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new(columns::TIMESTAMP, timestamp_type(), false),
        Field::new(columns::LOG_ID, DataType::Utf8, false),
        Field::new(columns::LOG_NAME, DataType::Utf8, true),
        Field::new(columns::SEQUENCE_NUMBER, DataType::UInt64, false),
        Field::new(columns::MESSAGE, DataType::Utf8, false),
        Field::new(
            columns::LABELS,
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            true,
        ),
    ]))
});

/// The schema of every cached Parquet part, and of the events a page
/// decodes to.
pub fn event_schema() -> SchemaRef {
    Arc::clone(&EVENT_SCHEMA)
}

/// The type of the `logset` column: a list of log set names.
pub fn logset_type() -> DataType {
    DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true)))
}

static LOGS_TABLE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let mut fields: Vec<Field> = EVENT_SCHEMA
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new(columns::LOGSET, logset_type(), false));
    Arc::new(Schema::new(fields))
});

/// The schema of `rapid7_logs`: the [`event_schema`] and, last, `logset`
/// (added to every row at read time, never stored).
pub fn logs_table_schema() -> SchemaRef {
    Arc::clone(&LOGS_TABLE_SCHEMA)
}
