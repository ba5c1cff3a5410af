//! Table functions: `rapid7_cache()`, `rapid7_coverage(log, from, to)`,
//! `rapid7_fields(log, from, to [, sample])` and
//! `rapid7_leql(log, from, to, statement)`.

mod args;
mod cache;
mod coverage;
mod fields;
mod leql;

pub(crate) use cache::CacheFunction;
pub(crate) use coverage::CoverageFunction;
pub use fields::DEFAULT_FIELD_SAMPLE;
pub(crate) use fields::FieldsFunction;
pub(crate) use leql::LeqlFunction;
