//! API events as Arrow data: the one event schema and the page decoder.

mod decode;
mod schema;
#[cfg(test)]
mod tests;

pub use decode::{MAX_LOG_NAME_LEN, columns_to_batch, page_to_batch, with_log_name};
pub use schema::{
    SCHEMA_VERSION, TIMESTAMP_TZ, columns, event_schema, logs_table_schema, logset_type,
    timestamp_type,
};
