//! [`Rapid7::publish`]: logs by name, the settled edge from the handle's
//! configuration, one table per log.

use super::location::TableLocation;
use super::write::{PublishOptions, PublishReport, publish_log};
use crate::error::{Error, Result};
use crate::provider::Rapid7;
use crate::time::TimeRange;

impl Rapid7 {
    /// Publish the cache of `logs` (names or ids) into Delta tables at
    /// `target`: with exactly one log, `target` is its table; otherwise
    /// (several, or none: every log the cache holds) `target` is a prefix and
    /// each log's table is `{target}/{log_id}`. One log is refused at a
    /// prefix that holds such tables, and several at a table. Only the window (default:
    /// everything cached) up to `now - settle` is published; a rerun
    /// publishes only what is new. [`Rapid7::stop`] stops it at once, the
    /// table at its last commit.
    pub async fn publish(
        &self,
        logs: &[String],
        target: &TableLocation,
        window: Option<TimeRange>,
    ) -> Result<Vec<PublishReport>> {
        let mut ids = Vec::new();
        for name in logs {
            ids.push(self.find_log(name).await?.id);
        }
        let single = ids.len() == 1;
        if ids.is_empty() {
            ids = self.cache().list_logs().await?;
        }
        // Rows are published under the log's current name, not the one they
        // were cached with.
        let names = self.log_names().await?;
        if !single && target.is_table().await? {
            return Err(Error::Publish {
                table: target.to_string(),
                message: "this is a table, but with several logs (or none named) the \
                          location is a prefix that holds one table per log: name one \
                          log, or give another location"
                    .into(),
                source: None,
            });
        }
        if single && !target.is_table().await? {
            let tables = target.children().await?.len();
            if tables > 0 {
                return Err(Error::Publish {
                    table: target.to_string(),
                    message: format!(
                        "this is a prefix that holds one table per log ({tables} table{}), \
                         but with one log the location is that log's table, which would be \
                         made over them: give {} (the log's table below the prefix), or \
                         another location",
                        if tables == 1 { "" } else { "s" },
                        target.child(&ids[0])?,
                    ),
                    source: None,
                });
            }
        }
        let settle = i64::try_from(self.config().settle.as_millis()).unwrap_or(i64::MAX);
        let settled = crate::time::now_ms().saturating_sub(settle);
        let options =
            |id: &str| PublishOptions::new(window, settled).with_log_name(names.get(id).cloned());
        let mut reports = Vec::new();
        for id in ids {
            if self.is_stopped() {
                return Err(Error::Publish {
                    table: target.to_string(),
                    message: format!(
                        "stopped after {} of the logs; their tables are committed, the \
                         others untouched: run it again to publish the rest",
                        reports.len()
                    ),
                    source: None,
                });
            }
            let table = if single {
                target.clone()
            } else {
                target.child(&id)?
            };
            let options = options(&id);
            // A stop (SIGTERM, SIGINT) drops the publish where it is: the
            // table stays at its last commit, as after a crash.
            tokio::select! {
                report = publish_log(self.cache(), &id, &table, &options) => reports.push(report?),
                () = self.stop_requested() => {
                    return Err(Error::Publish {
                        table: table.to_string(),
                        message: "stopped: the table is at its last commit (what was \
                                  committed is kept, files written since are unreferenced \
                                  until a vacuum); run it again to publish the rest"
                            .into(),
                        source: None,
                    });
                }
            }
        }
        Ok(reports)
    }
}
