//! intake: a Slack bot that gives a product team one front door for bug and
//! feature requests. See ARCHITECTURE.md for the map. Modules are listed in
//! layers, lowest first; each imports only modules of lower layers (`.ci/run`
//! checks it).

// The pure core.
pub mod domain;

// Settings, and the outbox's message types.
pub mod config;
pub mod outbox;

// Adapters: the database, Slack, and the trackers (Jira, GitHub).
pub mod store;

pub mod slack;

pub mod tracker;

// The trackers' webhooks (Jira, GitHub): signature and payloads.
pub mod webhook;

// What a use case receives, and the use cases.
pub mod context;

pub mod service;

// Who calls the use cases: background loops, and the transports (HTTP,
// Socket Mode).
pub mod workers;

pub mod http;

pub mod socket;

// Process plumbing: telemetry, the composition root, the command line.
pub mod telemetry;

pub mod startup;

pub mod shutdown;

pub mod cli;
pub mod manifest;
