//! intake: a Slack bot that gives a product team one front door for bug and
//! feature requests. See ARCHITECTURE.md for the map; `app` is where the
//! pieces are put together.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod handlers;
pub mod http;
pub mod manifest;
pub mod outbox;
pub mod reactions;
pub mod scheduler;
pub mod slack;
pub mod store;
pub mod submission;
pub mod telemetry;
pub mod triage_flow;
