//! Shared pieces of the benchmarks (see `src/bin/` and `benches/`).

pub mod load;
