//! The triage states of DESIGN §2, on their own so that the request, the
//! reminders and the state machine can all name them without importing
//! one another.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    New,
    Triaged,
    NeedsInfo,
    Accepted,
    Deferred,
    Rejected,
    Resolved,
    Closed,
}

impl State {
    pub const ALL: [State; 8] = [
        State::New,
        State::Triaged,
        State::NeedsInfo,
        State::Accepted,
        State::Deferred,
        State::Rejected,
        State::Resolved,
        State::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::New => "new",
            State::Triaged => "triaged",
            State::NeedsInfo => "needs_info",
            State::Accepted => "accepted",
            State::Deferred => "deferred",
            State::Rejected => "rejected",
            State::Resolved => "resolved",
            State::Closed => "closed",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Words for people: "needs info" rather than `needs_info`.
    pub fn label(self) -> &'static str {
        match self {
            State::NeedsInfo => "needs info",
            other => other.as_str(),
        }
    }

    /// Rejected and closed requests are finished; everything else is open.
    pub fn is_open(self) -> bool {
        !matches!(self, State::Rejected | State::Closed)
    }

    /// States in which the request must have exactly one owner.
    pub fn needs_owner(self) -> bool {
        matches!(
            self,
            State::Triaged | State::NeedsInfo | State::Accepted | State::Deferred | State::Resolved
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
