//! Count pushdown: `count(*)` over `rapid7_logs`, plain or per time bin
//! (`groups.rs`: which group expressions, in which bins) and/or log, answered from Rapid7's statistics for the ranges the cache
//! lacks and from the cache for the rest, exactly (see `rule.rs` for which
//! statements, `exact.rs` for why the counts are exact whatever Rapid7's
//! `to` means, `exec.rs` for how ranges are counted).

mod bin;
mod exact;
mod exec;
mod filters;
mod groups;
mod rule;
mod table;

pub use bin::Bin;
pub(crate) use exact::ToConvention;
pub use exec::Rapid7CountsExec;
pub use rule::CountPushdown;
pub use table::Rapid7CountsTable;
