//! Statistics: the client's counts, estimates and budgets, count pushdown.

mod client;
mod statements;
