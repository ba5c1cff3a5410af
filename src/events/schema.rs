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

/// The schema of `rapid7_logs` and of every cached Parquet part.
pub fn event_schema() -> SchemaRef {
    Arc::clone(&EVENT_SCHEMA)
}
