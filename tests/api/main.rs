//! The integration tests, one test binary: intake started in-process against
//! the test kit's fake Slack and a fresh database per test (SQLite, or
//! PostgreSQL when `DATABASE_URL` is set), driven with signed Slack requests.

mod chaos;
mod crashes;
mod digest;
mod escalation;
mod file_from_message;
mod home;
mod http_edges;
mod lost_answers;
mod orphan;
mod outbox_delivery;
mod person_left;
mod relay;
mod replicas;
mod request_flow;
mod scheduler;
mod severity;
mod slow_clients;
mod socket_mode;
mod teams;
mod trackers;
mod triage;
mod webhooks;
mod words;
