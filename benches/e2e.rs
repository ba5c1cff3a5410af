//! End-to-end benchmarks (placeholder while the suite is written).
fn main() {}
