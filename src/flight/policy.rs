//! Which SQL the server runs: `SELECT`, `EXPLAIN`, `SHOW`, `DESCRIBE`, and
//! `SET` / `RESET` of the settings in [`ALLOWED_SETTINGS`]. DDL, DML and
//! `COPY` (everything that would read or write the server's files, such as
//! `CREATE EXTERNAL TABLE` or `COPY … TO '/tmp/x'`) are refused by
//! DataFusion's [`SQLOptions`] before anything runs; other statements
//! (`PREPARE`, transactions) and `SET` of anything else by [`check`].

use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::{LogicalPlan, Statement};

use super::error::Error;
use crate::config::Rapid7Config;

/// The settings a session may `SET` (and `RESET`). `rapid7.max_fetch_events`
/// only at or below the server's limit.
pub const ALLOWED_SETTINGS: &[&str] = &[
    "rapid7.max_fetch_events",
    "rapid7.pushdown_aggregates",
    "rapid7.pushdown_filters",
    "rapid7.pushdown_newest_first",
    "rapid7.on_incomplete",
    "datafusion.execution.time_zone",
    "datafusion.sql_parser.dialect",
];

/// DDL and DML (`COPY` included) refused; statements checked by [`check`].
pub(crate) fn sql_options() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(true)
}

/// Whether `plan` (a statement planned, not run) may run on a server over
/// a source configured as `config`.
pub(crate) fn check(plan: &LogicalPlan, config: &Rapid7Config) -> Result<(), Error> {
    sql_options().verify_plan(plan).map_err(|e| Error::Policy {
        what: e
            .strip_backtrace()
            .trim_start_matches("Error during planning: ")
            .to_string(),
    })?;
    let LogicalPlan::Statement(statement) = plan else {
        return Ok(());
    };
    let (variable, value) = match statement {
        Statement::SetVariable(set) => (set.variable.as_str(), Some(set.value.as_str())),
        Statement::ResetVariable(reset) => (reset.variable.as_str(), None),
        other => {
            return Err(Error::Policy {
                what: format!("statement {} is not accepted", other.name()),
            });
        }
    };
    let name = variable.trim().to_ascii_lowercase();
    if !ALLOWED_SETTINGS.contains(&name.as_str()) {
        return Err(Error::Policy {
            what: format!("SET {variable} is not accepted (not on the list of settings)"),
        });
    }
    if name == "rapid7.max_fetch_events"
        && let Some(value) = value
    {
        let ceiling = config.max_fetch_events;
        let asked = value
            .trim()
            .trim_matches('\'')
            .parse::<u64>()
            .map_err(|_| Error::Policy {
                what: format!(
                    "SET rapid7.max_fetch_events = {value}: not a whole number of events"
                ),
            })?;
        if ceiling > 0 && (asked == 0 || asked > ceiling) {
            return Err(Error::AboveCeiling { asked, ceiling });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::SegmentCache;
    use datafusion::prelude::{SessionConfig, SessionContext};

    async fn verdict(sql: &str) -> Result<(), String> {
        let ctx =
            SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
        let plan = ctx.state().create_logical_plan(sql).await.unwrap();
        let config = Rapid7Config::offline_only(SegmentCache::bypass()).with_max_fetch_events(100);
        check(&plan, &config).map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn reads_and_listed_settings_pass_everything_else_is_refused() {
        for ok in [
            "SELECT 1",
            "EXPLAIN SELECT 1",
            "SHOW TABLES",
            "SET datafusion.execution.time_zone = '+01:00'",
            "SET rapid7.pushdown_filters = false",
            "SET rapid7.max_fetch_events = 50",
            "SET rapid7.max_fetch_events = 100",
            "RESET rapid7.max_fetch_events",
        ] {
            assert_eq!(verdict(ok).await, Ok(()), "{ok}");
        }
        for (refused, says) in [
            ("COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            (
                "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
                "DDL",
            ),
            ("CREATE TABLE t AS SELECT 1", "DDL"),
            ("CREATE VIEW v AS SELECT 1", "DDL"),
            ("EXPLAIN COPY (SELECT 1) TO '/tmp/x.csv'", "COPY"),
            (
                "SET datafusion.execution.target_partitions = 1",
                "not on the list",
            ),
            (
                "SET rapid7.max_fetch_events = 1000",
                "lower it but not raise",
            ),
            ("SET rapid7.max_fetch_events = 0", "lower it but not raise"),
            ("PREPARE p AS SELECT 1", "Prepare"),
        ] {
            let err = verdict(refused).await.unwrap_err();
            assert!(err.contains(says), "{refused}: {err}");
            assert!(err.starts_with("refused"), "{refused}: {err}");
        }
    }
}
