//! Benchmark of the empirical NTK (placeholder until the network lands).
fn main() {}
