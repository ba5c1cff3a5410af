//! LEQL statements: pure construction and escaping, no I/O.
//!
//! Every statement the crate sends is built here, in one canonical text per
//! meaning, so that equal requests are equal strings (the filtered segments
//! of pushdown key the cache by it).

mod filter;

pub use filter::{Filter, MAX_PUSHED_STATEMENT_BYTES, escape_literal, pushable_literal};

/// `where(FILTER)`: the statement of the events `filter` selects, or the
/// empty statement (every event) without one.
///
/// `filter` is the inside of a `where(...)` clause, as built by this module.
pub fn events_statement(filter: Option<&str>) -> String {
    filter.map(|f| format!("where({f})")).unwrap_or_default()
}

/// `[where(FILTER)] calculate(count) [timeslice(N)]`.
///
/// `filter` is the inside of a `where(...)` clause, as built by this module.
pub fn count_statement(filter: Option<&str>, timeslice: Option<u32>) -> String {
    let mut out = String::new();
    if let Some(f) = filter.filter(|f| !f.trim().is_empty()) {
        out.push_str("where(");
        out.push_str(f);
        out.push_str(") ");
    }
    out.push_str("calculate(count)");
    if let Some(n) = timeslice {
        out.push_str(&format!(" timeslice({n})"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_statements() {
        assert_eq!(events_statement(None), "");
        assert_eq!(events_statement(Some("/a/ AND /b/")), "where(/a/ AND /b/)");
    }

    #[test]
    fn count_statements() {
        assert_eq!(count_statement(None, None), "calculate(count)");
        assert_eq!(
            count_statement(None, Some(144)),
            "calculate(count) timeslice(144)"
        );
        assert_eq!(
            count_statement(Some("/10\\.1\\.2\\.3/"), Some(1)),
            "where(/10\\.1\\.2\\.3/) calculate(count) timeslice(1)"
        );
        assert_eq!(count_statement(Some("  "), None), "calculate(count)");
    }
}
