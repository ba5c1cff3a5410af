//! Log sets as SQL: the `rapid7_logsets` schema, one table per log set.
//!
//! A log set is a named group of logs (InsightIDR groups logs by event
//! source type; rapid7-api.md §5). A log may be in several. The sets come
//! from `GET /management/logsets` (one request beside the log list, each
//! time the list is read: sets without a log too), and from each log's
//! `logsets_info` in the log list; where the endpoint is refused (403,
//! 404) or fails, from `logsets_info` alone, with a warning
//! (`log_sets_list_refused`): a set without a log is then not known. The
//! cache keeps them (`_LOGSETS.json`), so an offline session still knows
//! them (with the logs the cache holds, as `rapid7`).
//!
//! The table of a set is `rapid7_logs` restricted to the set's logs, a view
//! of `SELECT * FROM rapid7_logs WHERE array_has(logset, 'Name')`: the same
//! columns, each row once (a row belongs to one log, whatever sets the log
//! is in), every pushdown of `rapid7_logs` (the view is inlined before
//! planning, and the `logset` filter picks the logs as a `log_name` filter
//! does). A set whose name another set shares (the column shows both as
//! one name) is a view of `log_id IN (…)` instead. A set without a log is
//! an empty table. Tables are named after their set as per-log tables are
//! after their log: the name (quoted in SQL when it is not a plain
//! identifier: `rapid7_logsets."Ops team"`), or the set's id where no name
//! or a shared one; an id names its set too.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::datasource::{ViewTable, provider_as_source};
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::functions_nested::expr_fn::array_has;
use datafusion::logical_expr::{LogicalPlanBuilder, col, lit};

use super::scan::{LogRef, LogSet, labels, logset_column_name};
use super::source::Rapid7;
use crate::events::columns;

/// Name of the schema with one table per log set.
pub const LOGSETS_SCHEMA: &str = "rapid7_logsets";

/// The table names of `sets` (see the module docs).
pub(crate) fn table_names(sets: &[LogSet]) -> Vec<String> {
    labels(sets.iter().map(|s| {
        (
            s.id.as_str(),
            Some(s.name.as_str()).filter(|n| !n.is_empty()),
        )
    }))
}

/// The set `name` names: its id, its name, or its name ignoring case when
/// only one set has it so. Anything else is an error listing the sets.
pub(crate) fn find<'a>(sets: &'a [LogSet], name: &str) -> Result<&'a LogSet, String> {
    if let Some(set) = sets.iter().find(|s| s.id == name) {
        return Ok(set);
    }
    let named: Vec<&LogSet> = sets.iter().filter(|s| s.name == name).collect();
    let named = match named.as_slice() {
        [] => sets
            .iter()
            .filter(|s| s.name.eq_ignore_ascii_case(name))
            .collect(),
        _ => named,
    };
    match named.as_slice() {
        [one] => Ok(one),
        [] => Err(unknown(sets, name)),
        many => Err(format!(
            "{} log sets are named {name:?}; name one by its id: {}",
            many.len(),
            many.iter()
                .map(|s| format!("{LOGSETS_SCHEMA}.\"{}\"", s.id))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn unknown(sets: &[LogSet], name: &str) -> String {
    if sets.is_empty() {
        return format!(
            "no log set {name:?}: the log list names no log set (its logs' logsets_info is \
             empty); read the logs by name in rapid7_logs, or from the rapid7 schema"
        );
    }
    let known: Vec<String> = table_names(sets)
        .iter()
        .map(|n| format!("{LOGSETS_SCHEMA}.{}", sql_ident(n)))
        .collect();
    format!(
        "no log set {name:?}; the log sets are: {} (`\\d` lists them; quote names that are \
         not lower case: {LOGSETS_SCHEMA}.\"Network\")",
        known.join(", ")
    )
}

/// `name` as SQL writes it: bare when DataFusion reads it back unchanged,
/// else in double quotes.
fn sql_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A log set and its logs, as the last log list showed them
/// ([`Rapid7::find_log_set`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSetRef {
    /// Log set id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its logs.
    pub logs: Vec<LogRef>,
}

impl Rapid7 {
    /// The log set `name` names (its id, its name, or its name in any case
    /// when only one set has it so) and its logs, as the log list shows
    /// them (see `rapid7_logsets`). Anything else is an error listing the
    /// sets.
    pub async fn find_log_set(&self, name: &str) -> crate::Result<LogSetRef> {
        let sets = self.inner.directory.logsets().await?;
        let set = find(&sets, name)
            .map_err(|m| crate::Error::DataFusion(Box::new(DataFusionError::Plan(m))))?;
        let logs = self.inner.directory.list().await?;
        Ok(LogSetRef {
            id: set.id.clone(),
            name: set.name.clone(),
            logs: logs
                .iter()
                .filter(|l| set.logs.contains(&l.id))
                .cloned()
                .collect(),
        })
    }
}

/// The `rapid7_logsets` schema (see the module docs).
#[derive(Debug)]
pub(crate) struct LogSetSchema {
    pub(crate) rapid7: Rapid7,
    /// The name `rapid7_logs` is registered under.
    pub(crate) logs_table: &'static str,
}

impl LogSetSchema {
    /// The table of `set` (one of `sets`): `rapid7_logs` restricted to its
    /// logs, by its name in the `logset` column where no other set shares
    /// it, else by their ids.
    fn table_of(&self, set: &LogSet, sets: &[LogSet]) -> DfResult<Arc<dyn TableProvider>> {
        let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
        let name = logset_column_name(set);
        let shared = sets
            .iter()
            .any(|s| s.id != set.id && logset_column_name(s) == name);
        let (filter, condition) = if shared {
            let ids: Vec<_> = set.logs.iter().map(|id| lit(id.as_str())).collect();
            let listed: Vec<String> = set.logs.iter().map(|id| quote(id)).collect();
            match ids.is_empty() {
                // `IN ()` is no SQL: a set without a log reads nothing.
                true => (lit(false), "false".to_string()),
                false => (
                    col(columns::LOG_ID).in_list(ids, false),
                    format!("log_id IN ({})", listed.join(", ")),
                ),
            }
        } else {
            (
                array_has(col(columns::LOGSET), lit(name)),
                format!("array_has(logset, {})", quote(name)),
            )
        };
        let source = provider_as_source(self.rapid7.table());
        let plan = LogicalPlanBuilder::scan(self.logs_table, source, None)?
            .filter(filter)?
            .build()?;
        let definition = format!("SELECT * FROM {} WHERE {condition}", self.logs_table);
        Ok(Arc::new(ViewTable::new(plan, Some(definition))))
    }
}

#[async_trait]
impl SchemaProvider for LogSetSchema {
    fn table_names(&self) -> Vec<String> {
        table_names(&self.rapid7.inner.directory.last_known_logsets())
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let sets = self.rapid7.inner.directory.logsets().await?;
        let set = find(&sets, name).map_err(DataFusionError::Plan)?;
        self.table_of(set, &sets).map(Some)
    }

    fn table_exist(&self, name: &str) -> bool {
        let sets = self.rapid7.inner.directory.last_known_logsets();
        sets.iter().any(|s| s.id == name || s.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_found_by_id_name_or_name_in_any_case_and_unknown_ones_list_the_rest() {
        let set = |id: &str, name: &str| LogSet {
            id: id.into(),
            name: name.into(),
            logs: vec!["a".into()],
        };
        let sets = [
            set("1", "Network"),
            set("2", "Ops team"),
            set("3", "Twice"),
            set("4", "Twice"),
        ];
        assert_eq!(find(&sets, "1").unwrap().name, "Network");
        assert_eq!(find(&sets, "Network").unwrap().id, "1");
        assert_eq!(find(&sets, "network").unwrap().id, "1");
        let twice = find(&sets, "Twice").unwrap_err();
        assert!(
            twice.contains("rapid7_logsets.\"3\"") && twice.contains("\"4\""),
            "{twice}"
        );
        let unknown = find(&sets, "Netwrk").unwrap_err();
        assert!(
            unknown.contains("rapid7_logsets.\"Network\"")
                && unknown.contains("rapid7_logsets.\"Ops team\""),
            "{unknown}"
        );
        // Shared names are tables by id; the rest by name.
        assert_eq!(table_names(&sets), ["3", "4", "Network", "Ops team"]);
        assert!(find(&[], "x").unwrap_err().contains("names no log set"));
    }
}
