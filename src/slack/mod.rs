//! The Slack adapter: verify, parse, render, call.
//!
//! The only module that writes Slack JSON or words people read. It knows
//! Slack's wire formats and the domain's types, and nothing about the
//! database or the use cases that call it.

pub mod action;
pub mod api;
pub mod inbound;
pub mod render;
pub mod socket;
pub mod verify;

use serde_json::Value;

/// What a transport sends back to Slack for one inbound request (an HTTP
/// response body, or a Socket Mode ack's payload).
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// The plain ack (also closes a submitted modal).
    Ack,
    /// An ack with a JSON body (an ephemeral answer, `response_action`…).
    Json(Value),
    /// Slack sent something we cannot read (400 over HTTP).
    BadRequest(String),
    /// We could not do the work now; Slack (or the person) may retry (503).
    Unavailable(String),
}

impl From<inbound::ParseError> for Reply {
    fn from(e: inbound::ParseError) -> Self {
        Reply::BadRequest(e.0)
    }
}
