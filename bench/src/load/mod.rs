//! The HTTP load benchmark's parts (`src/bin/load.rs`). The fake Slack and
//! Slack request signing come from the test kit (`testkit`).

pub mod bodies;
pub mod floor;
pub mod generator;
pub mod intake_proc;
pub mod report;
pub mod server;
pub mod socket;
