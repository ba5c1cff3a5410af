//! Table functions: `rapid7_cache()`, `rapid7_coverage(log, from, to)` and
//! `rapid7_fields(log, from, to [, sample])`.

mod args;
mod cache;
mod coverage;
mod fields;

pub(crate) use cache::CacheFunction;
pub(crate) use coverage::CoverageFunction;
pub use fields::DEFAULT_FIELD_SAMPLE;
pub(crate) use fields::FieldsFunction;
