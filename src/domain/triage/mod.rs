//! The triage state machine (DESIGN §2): states, events, roles, and
//! `transition(request, event, actor) → Result<Transition, TransitionError>`.
//!
//! Pure: no I/O, no clock. The transition says what the request becomes and
//! who must be told ([`Effect`]); the Slack adapter words it, the store
//! writes it, the outbox sends it.

mod text;

use std::fmt;

use chrono::NaiveDate;

use crate::domain::request::Request;
use crate::domain::severity::{Severity, SeverityKey};

pub use text::{Text, TextError, Tracker};

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

/// A message a step causes; the Slack adapter renders it, the outbox sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// The request's card in the intake channel (later updated in place).
    IntakePost,
    /// The submitter's DM: number, severity, what the SLA means, a link.
    SubmitterReceipt,
    /// The on-call off-ramp: a post in the on-call channel.
    OncallAlert,
}

/// A new request starts in `new`; these are the messages it causes, in the
/// order they must be delivered: both others link to the intake post, and
/// the on-call page must not wait behind the receipt.
pub fn on_submit(severity: &Severity) -> Vec<Notice> {
    let mut notices = vec![Notice::IntakePost];
    if severity.oncall {
        notices.push(Notice::OncallAlert);
    }
    notices.push(Notice::SubmitterReceipt);
    notices
}

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person in Slack; `triager` from config or the triage user group.
    Person { user: String, triager: bool },
    /// The scheduler (revisits, auto-close).
    Scheduler,
}

impl Actor {
    pub fn person(user: &str, triager: bool) -> Self {
        Actor::Person {
            user: user.to_string(),
            triager,
        }
    }

    pub fn user(&self) -> Option<&str> {
        match self {
            Actor::Person { user, .. } => Some(user),
            Actor::Scheduler => None,
        }
    }

    fn is_triager(&self) -> bool {
        matches!(self, Actor::Person { triager: true, .. })
    }

    fn is(&self, user: Option<&str>) -> bool {
        user.is_some() && self.user() == user
    }
}

/// Something that happens to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Take,
    Assign {
        to: String,
    },
    SetSeverity {
        to: SeverityKey,
    },
    /// Anyone raised the severity with an escalation emoji.
    Escalate {
        to: SeverityKey,
        emoji: String,
    },
    AskInfo {
        question: Text,
    },
    AddInfo {
        answer: Text,
    },
    /// The owner picks it up again (from needs info or deferred).
    Resume,
    Accept {
        tracker: Tracker,
        expectation: Option<Text>,
    },
    Defer {
        until: NaiveDate,
        reason: Text,
    },
    Reject {
        reason: Text,
    },
    Resolve {
        note: Text,
    },
    Confirm,
    Reopen,
    /// The scheduler: a deferred request's revisit date arrived.
    Revisit,
    /// The scheduler: no answer to a resolution for too long.
    AutoClose,
}

impl Event {
    /// The event's name in the audit log (and the Slack action it comes from).
    pub fn name(&self) -> &'static str {
        match self {
            Event::Take => "take",
            Event::Assign { .. } => "assign",
            Event::SetSeverity { .. } => "set_severity",
            Event::Escalate { .. } => "escalate",
            Event::AskInfo { .. } => "ask_info",
            Event::AddInfo { .. } => "add_info",
            Event::Resume => "resume",
            Event::Accept { .. } => "accept",
            Event::Defer { .. } => "defer",
            Event::Reject { .. } => "reject",
            Event::Resolve { .. } => "resolve",
            Event::Confirm => "confirm",
            Event::Reopen => "reopen",
            Event::Revisit => "revisit",
            Event::AutoClose => "auto_close",
        }
    }

    /// Words for people: "take", "ask for info".
    pub fn label(&self) -> &'static str {
        match self {
            Event::AskInfo { .. } => "ask for info",
            Event::AddInfo { .. } => "add info",
            Event::SetSeverity { .. } => "change the severity of",
            Event::AutoClose => "close",
            other => other.name(),
        }
    }
}

/// Who must hear about a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Update the intake message in place.
    RefreshCard,
    /// Add a line to the intake message's thread.
    ThreadNote,
    /// DM the submitter what happened and what happens next.
    TellSubmitter,
    /// DM the owner (info added, reopened by the submitter, assigned).
    TellOwner,
}

/// An accepted transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub owner: Option<String>,
    pub severity: SeverityKey,
    pub effects: Vec<Effect>,
}

/// Who may do something, for the explanation when someone may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Any person (not the scheduler).
    Anyone,
    Triagers,
    TriagersAndOwner,
    SubmitterAndOwner,
    Submitter,
    Scheduler,
}

impl Allowed {
    pub fn label(self) -> &'static str {
        match self {
            Allowed::Anyone => "people",
            Allowed::Triagers => "triagers",
            Allowed::TriagersAndOwner => "the owner or a triager",
            Allowed::SubmitterAndOwner => "the submitter or the owner",
            Allowed::Submitter => "the submitter",
            Allowed::Scheduler => "the scheduler",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("already owned by {owner}")]
    AlreadyOwned { owner: String },
    #[error("cannot {event} a request that is {state}")]
    NotNow { event: &'static str, state: State },
    #[error("only {} may {event} it", allowed.label())]
    Forbidden { event: &'static str, allowed: Allowed },
    #[error("nothing changes")]
    Unchanged,
}

fn allowed(rule: Allowed, actor: &Actor, request: &Request) -> bool {
    let owner = actor.is(request.owner.as_deref());
    let submitter = actor.is(Some(&request.submitter));
    match rule {
        Allowed::Anyone => actor.user().is_some(),
        Allowed::Triagers => actor.is_triager(),
        Allowed::TriagersAndOwner => actor.is_triager() || owner,
        Allowed::SubmitterAndOwner => submitter || owner,
        Allowed::Submitter => submitter,
        Allowed::Scheduler => *actor == Actor::Scheduler,
    }
}

use Effect::{RefreshCard, TellOwner, TellSubmitter, ThreadNote};
use State::{Accepted, Closed, Deferred, NeedsInfo, New, Rejected, Resolved, Triaged};

/// The transition table of DESIGN §2: for each event, the states it may
/// happen in, who may do it, and the state it leads to (`None`: stays).
fn rule(event: &Event, request: &Request) -> Option<(Allowed, Option<State>, Vec<Effect>)> {
    let state = request.state;
    let tell_both = vec![RefreshCard, ThreadNote, TellSubmitter, TellOwner];
    Some(match (event, state) {
        (Event::Take, New) => (
            Allowed::Triagers,
            Some(Triaged),
            vec![RefreshCard, ThreadNote, TellSubmitter],
        ),
        (Event::Assign { .. }, New) => (Allowed::Triagers, Some(Triaged), tell_both),
        (Event::Assign { .. }, s) if s.is_open() => (Allowed::Triagers, None, vec![RefreshCard, ThreadNote, TellOwner]),
        (Event::SetSeverity { .. }, s) if s.is_open() => {
            (Allowed::Triagers, None, vec![RefreshCard, ThreadNote, TellSubmitter])
        }
        (Event::Escalate { .. }, s) if s.is_open() => (Allowed::Anyone, None, tell_both),
        (Event::AskInfo { .. }, New | Triaged) => (
            Allowed::TriagersAndOwner,
            Some(NeedsInfo),
            vec![RefreshCard, ThreadNote, TellSubmitter],
        ),
        (Event::AddInfo { .. }, NeedsInfo) => (
            Allowed::Submitter,
            Some(Triaged),
            vec![RefreshCard, ThreadNote, TellOwner],
        ),
        (Event::Resume, NeedsInfo | Deferred) => (
            Allowed::TriagersAndOwner,
            Some(Triaged),
            vec![RefreshCard, ThreadNote, TellSubmitter],
        ),
        (Event::Accept { .. }, Triaged) => (
            Allowed::TriagersAndOwner,
            Some(Accepted),
            vec![RefreshCard, ThreadNote, TellSubmitter],
        ),
        (Event::Defer { .. }, Triaged | Accepted) => (
            Allowed::TriagersAndOwner,
            Some(Deferred),
            vec![RefreshCard, ThreadNote, TellSubmitter],
        ),
        (Event::Reject { .. }, New | Triaged | NeedsInfo) => (
            Allowed::TriagersAndOwner,
            Some(Rejected),
            vec![RefreshCard, ThreadNote, TellSubmitter],
        ),
        (Event::Resolve { .. }, Triaged | Accepted) => (
            Allowed::TriagersAndOwner,
            Some(Resolved),
            vec![RefreshCard, ThreadNote, TellSubmitter],
        ),
        (Event::Confirm, Resolved) => (Allowed::Submitter, Some(Closed), tell_both),
        (Event::Reopen, Resolved) => (
            Allowed::Submitter,
            Some(Triaged),
            vec![RefreshCard, ThreadNote, TellOwner],
        ),
        (Event::Reopen, Rejected | Closed) => (Allowed::Triagers, Some(Triaged), tell_both),
        (Event::Revisit, Deferred) => (
            Allowed::Scheduler,
            Some(Triaged),
            vec![RefreshCard, ThreadNote, TellOwner],
        ),
        (Event::AutoClose, Resolved) => (
            Allowed::Scheduler,
            Some(Closed),
            vec![RefreshCard, ThreadNote, TellSubmitter],
        ),
        _ => return None,
    })
}

/// Applies `event` by `actor` to `request`.
pub fn transition(request: &Request, event: &Event, actor: &Actor) -> Result<Transition, TransitionError> {
    let Some((who, to, effects)) = rule(event, request) else {
        if let (Event::Take, Some(owner)) = (event, &request.owner)
            && request.state.is_open()
        {
            return Err(TransitionError::AlreadyOwned { owner: owner.clone() });
        }
        return Err(TransitionError::NotNow {
            event: event.label(),
            state: request.state,
        });
    };
    if !allowed(who, actor, request) {
        return Err(TransitionError::Forbidden {
            event: event.label(),
            allowed: who,
        });
    }
    let to = to.unwrap_or(request.state);
    let owner = match event {
        Event::Take => actor.user().map(str::to_string),
        Event::Assign { to } => Some(to.clone()),
        // Whoever asks, reopens or picks up an unowned request now owns it.
        Event::AskInfo { .. } | Event::Reopen | Event::Resume if request.owner.is_none() => {
            actor.user().map(str::to_string)
        }
        _ => request.owner.clone(),
    };
    let severity = match event {
        Event::SetSeverity { to } | Event::Escalate { to, .. } => to.clone(),
        _ => request.severity.clone(),
    };
    if to == request.state && owner == request.owner && severity == request.severity {
        return Err(TransitionError::Unchanged);
    }
    Ok(Transition {
        from: request.state,
        to,
        owner,
        severity,
        effects,
    })
}

/// The actions offered on the intake message in a state (Slack action ids).
pub fn card_actions(state: State) -> &'static [&'static str] {
    match state {
        New => &["take", "assign", "set_severity", "ask_info", "reject"],
        Triaged => &[
            "assign",
            "set_severity",
            "ask_info",
            "accept",
            "defer",
            "reject",
            "resolve",
        ],
        NeedsInfo => &["assign", "set_severity", "resume", "reject"],
        Accepted => &["assign", "set_severity", "defer", "resolve"],
        Deferred => &["assign", "set_severity", "resume"],
        Resolved => &["assign", "set_severity"],
        Rejected | Closed => &["reopen"],
    }
}

#[cfg(test)]
mod tests;
