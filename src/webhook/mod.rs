//! The trackers' webhooks (Jira Cloud, GitHub): their signature, checked on
//! the raw body, and their payloads read into a [`TrackerUpdate`] — which
//! issue, and whether it is done, closed as not planned or reopened.
//!
//! An adapter like `slack/`: it reads wire formats and decides nothing about
//! requests; `service::tracker_update` asks the state machine what an
//! update does. Words people read are `slack::render`'s.

pub mod github;
pub mod jira;
pub mod signature;

use crate::domain::text::Tracker;

/// Which tracker a webhook came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Jira,
    GitHub,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Jira => "jira",
            Source::GitHub => "github",
        }
    }
}

/// The issue a webhook is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// How people name it: `PROJ-7`, `acme/app#12`.
    pub label: String,
    /// What a request's `tracker` may hold for it: the key, the link.
    pub stored_as: Vec<Tracker>,
}

/// What happened to the issue, as far as intake cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Done: the work is finished. `resolution` is Jira's (`Fixed`).
    Done { resolution: Option<String> },
    /// Closed without doing it (`Won't Do`, `not planned`, `duplicate`).
    NotPlanned { how: String },
    /// Open again after it was done.
    Reopened,
}

/// A webhook, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackerUpdate {
    /// GitHub's `ping` when a webhook is created.
    Ping,
    /// Nothing intake acts on (another event or action); why, for the log.
    Ignored(String),
    Issue {
        issue: Issue,
        change: Change,
    },
}

/// The longest issue label or resolution name a note quotes.
pub const NAME_MAX: usize = 200;

/// A payload that is not what the tracker sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(pub String);

impl Change {
    /// The resolution note a done issue gives: "Done in PROJ-7 (Fixed)".
    /// Both parts are cut to [`NAME_MAX`] characters: the note stays a
    /// valid step text whatever the payload holds.
    pub fn done_note(issue: &Issue, resolution: Option<&str>) -> String {
        let cut = |s: &str| s.chars().take(NAME_MAX).collect::<String>();
        match resolution.map(str::trim).filter(|r| !r.is_empty()) {
            Some(resolution) => format!("Done in {} ({})", cut(&issue.label), cut(resolution)),
            None => format!("Done in {}", cut(&issue.label)),
        }
    }
}

/// Keeps only what parses as a tracker reference (a key, an http(s) link).
fn references(candidates: impl IntoIterator<Item = String>) -> Vec<Tracker> {
    candidates.into_iter().filter_map(|c| Tracker::parse(&c).ok()).collect()
}
