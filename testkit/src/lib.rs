//! Test kit for intake, shared by the integration tests (`tests/api`) and
//! the benchmarks (`bench/`):
//!
//! - [`FakeSlack`]: a fake of Slack's Web API, recording every call for
//!   tests or counting them fast under load ([`Recording`]);
//! - [`FakeSocket`]: a fake Socket Mode server (`ws://127.0.0.1`), and
//!   [`spawn_socket_app`], intake connected to it;
//! - [`chaos`]: a seeded mix of Slack's faults (429, 5xx, connection
//!   resets, answers past the client's timeout) for [`FakeSlack`];
//! - [`signing`]: Slack's request signing, byte for byte, and its check;
//! - [`sample`]: Slack's wire formats, as files inside this crate (`samples/`);
//! - [`spawn_app`] / [`TestApp`]: intake started in-process against the fake
//!   Slack and a [`TestDb`], driven with signed requests ([`Form`],
//!   [`click_body`], …);
//! - [`TestDb`]: a SQLite file, or a PostgreSQL database when `DATABASE_URL`
//!   is set, removed when the test is done.

mod app;
mod bodies;
pub mod chaos;
mod db;
pub mod fake_slack;
pub mod fake_socket;
pub mod fake_tracker;
pub mod samples;
pub mod signing;

pub use app::{Parts, Response, TestApp, spawn_app, spawn_app_with, spawn_with_request, test_config};
pub use bodies::{Form, click_body, command_body, command_body_from, message_action_body, shown, step_body};
pub use chaos::{Chaos, Mix};
pub use db::TestDb;
pub use fake_slack::{Call, Counts, Failure, FakeSlack, Posts, Recording};
pub use fake_socket::{APP_TOKEN, FakeSocket, spawn_socket_app};
pub use fake_tracker::{
    FakeIssue, FakeTracker, GITHUB_TOKEN, JIRA_TOKEN, TrackerCall, TrackerFailure, configure_github, configure_jira,
};
/// The service's context without a listener (store migrated, Slack client),
/// for tools that run its queries directly, like the scale benchmark.
pub use intake::startup::context;
pub use samples::{SAMPLES, sample, sample_json};

pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
pub const BOT_TOKEN: &str = "xoxb-test-token";
pub const INTAKE_CHANNEL: &str = "C0INTAKE01";
pub const ONCALL_CHANNEL: &str = "C0ONCALL01";
pub const ONCALL_GROUP: &str = "S0ONCALL01";
pub const SUBMITTER: &str = "U0SUBMIT01";
pub const TRIAGER: &str = "U0TRIAGE01";
pub const TRIAGER_2: &str = "U0TRIAGE02";
pub const STRANGER: &str = "U0OTHER001";
