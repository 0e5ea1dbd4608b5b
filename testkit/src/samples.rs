//! Slack's wire formats, as sample files inside this crate (`samples/`, see
//! its README): slash commands, events, interactions, Web API answers and
//! Socket Mode envelopes.

use serde_json::Value;

/// The sample directory, `testkit/samples`.
pub const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");

/// The bytes of the sample at `path` under [`SAMPLES`], e.g.
/// `commands/request.form`; panics with the path when it is missing.
pub fn sample(path: &str) -> Vec<u8> {
    std::fs::read(format!("{SAMPLES}/{path}")).unwrap_or_else(|e| panic!("{SAMPLES}/{path}: {e}"))
}

/// The sample at `path`, parsed as JSON; panics when it is not JSON.
pub fn sample_json(path: &str) -> Value {
    serde_json::from_slice(&sample(path)).unwrap_or_else(|e| panic!("{SAMPLES}/{path} is not JSON: {e}"))
}
