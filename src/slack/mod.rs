//! The Slack adapter: verify, parse, render, call.
//!
//! Knows Slack's wire formats and wording; knows nothing about the database.

pub mod api;
pub mod blocks;
pub mod inbound;
pub mod verify;
