//! The triage state machine (DESIGN §2): events, roles, and
//! `transition(request, event, actor, policy, now) → Result<Step, TransitionError>`.
//!
//! Pure: no I/O; `now` is an argument. A step decides everything it does
//! to the request — state, owner, severity, deadlines (paused time kept),
//! the reminder stage, revisit date, tracker, resolved time — and who must
//! be told ([`Effect`]), paging on-call included. The Slack adapter words
//! it, the store writes it, the outbox sends it.

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::policy::Policy;
use crate::domain::reminders;
use crate::domain::request::Request;
use crate::domain::severity::{Severities, Severity, SeverityKey};
use crate::domain::sla;
use crate::domain::state::State;
use crate::domain::text::{Text, Tracker};

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
    /// A person in Slack, with the teams (keys) they triage: from each
    /// team's `triagers` or user group.
    Person { user: String, triages: Vec<String> },
    /// The scheduler (revisits, auto-close).
    Scheduler,
    /// The tracker issue a request was accepted into (its webhook): it may
    /// resolve and reopen the requests it tracks, nothing else.
    Tracker { tracker: Tracker },
}

impl Actor {
    pub fn person(user: &str, triages: Vec<String>) -> Self {
        Actor::Person {
            user: user.to_string(),
            triages,
        }
    }

    pub fn user(&self) -> Option<&str> {
        match self {
            Actor::Person { user, .. } => Some(user),
            Actor::Scheduler | Actor::Tracker { .. } => None,
        }
    }

    /// Who acted, as the audit log records it: a Slack user id,
    /// `scheduler`, or `tracker:` and the issue (`tracker:PROJ-7`).
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Person { user, .. } => user.clone(),
            Actor::Scheduler => "scheduler".to_string(),
            Actor::Tracker { tracker } => format!("tracker:{}", tracker.as_str()),
        }
    }

    /// Whether this is the tracker issue that tracks `request`.
    fn tracks(&self, request: &Request) -> bool {
        match (self, &request.tracker) {
            (Actor::Tracker { tracker }, Some(tracked)) => tracker.as_str() == tracked.as_str(),
            _ => false,
        }
    }

    /// Does this person triage the team that owns `request`?
    fn triages(&self, request: &Request) -> bool {
        matches!(self, Actor::Person { triages, .. } if triages.contains(&request.team))
    }

    /// Does this person triage some team (not necessarily this request's)?
    fn triages_any(&self) -> bool {
        matches!(self, Actor::Person { triages, .. } if !triages.is_empty())
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
    /// A triager moves the request to team `to` (filed in the wrong
    /// place); `table` is that team's SLA table.
    MoveTeam {
        to: String,
        table: Severities,
    },
    /// The scheduler: a deferred request's revisit date arrived.
    Revisit,
    /// The scheduler: no answer to a resolution for too long.
    AutoClose,
}

/// What kind of step an event is, without its details: what the card
/// offers, what a form collects, what the audit log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepKind {
    Take,
    Assign,
    SetSeverity,
    Escalate,
    AskInfo,
    AddInfo,
    Resume,
    Accept,
    Defer,
    Reject,
    Resolve,
    Confirm,
    Reopen,
    Revisit,
    AutoClose,
    MoveTeam,
}

impl StepKind {
    pub const ALL: [StepKind; 16] = [
        StepKind::Take,
        StepKind::Assign,
        StepKind::SetSeverity,
        StepKind::Escalate,
        StepKind::AskInfo,
        StepKind::AddInfo,
        StepKind::Resume,
        StepKind::Accept,
        StepKind::Defer,
        StepKind::Reject,
        StepKind::Resolve,
        StepKind::Confirm,
        StepKind::Reopen,
        StepKind::Revisit,
        StepKind::AutoClose,
        StepKind::MoveTeam,
    ];

    /// The step's name in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Take => "take",
            StepKind::Assign => "assign",
            StepKind::SetSeverity => "set_severity",
            StepKind::Escalate => "escalate",
            StepKind::AskInfo => "ask_info",
            StepKind::AddInfo => "add_info",
            StepKind::Resume => "resume",
            StepKind::Accept => "accept",
            StepKind::Defer => "defer",
            StepKind::Reject => "reject",
            StepKind::Resolve => "resolve",
            StepKind::Confirm => "confirm",
            StepKind::Reopen => "reopen",
            StepKind::Revisit => "revisit",
            StepKind::AutoClose => "auto_close",
            StepKind::MoveTeam => "move_team",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }
}

impl Event {
    pub fn kind(&self) -> StepKind {
        match self {
            Event::Take => StepKind::Take,
            Event::Assign { .. } => StepKind::Assign,
            Event::SetSeverity { .. } => StepKind::SetSeverity,
            Event::Escalate { .. } => StepKind::Escalate,
            Event::AskInfo { .. } => StepKind::AskInfo,
            Event::AddInfo { .. } => StepKind::AddInfo,
            Event::Resume => StepKind::Resume,
            Event::Accept { .. } => StepKind::Accept,
            Event::Defer { .. } => StepKind::Defer,
            Event::Reject { .. } => StepKind::Reject,
            Event::Resolve { .. } => StepKind::Resolve,
            Event::Confirm => StepKind::Confirm,
            Event::Reopen => StepKind::Reopen,
            Event::Revisit => StepKind::Revisit,
            Event::AutoClose => StepKind::AutoClose,
            Event::MoveTeam { .. } => StepKind::MoveTeam,
        }
    }

    /// The event's name in the audit log.
    pub fn name(&self) -> &'static str {
        self.kind().as_str()
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
    /// DM whoever owned it before a reassignment.
    TellPreviousOwner,
    /// Take the on-call off-ramp: the step raised the request into an
    /// on-call severity (a critical submission does the same; the outbox
    /// key is shared, so on-call is paged once per request).
    PageOncall,
    /// Post the card in its new team's channel, and mark the old card
    /// with where it went.
    MoveCard,
}

/// An accepted step: the request as it is afterwards, and who must hear.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub from: State,
    pub after: Request,
    pub effects: Vec<Effect>,
}

impl Step {
    pub fn to(&self) -> State {
        self.after.state
    }
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
    /// The tracker issue the request was accepted into.
    Tracker,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("already owned by {owner}")]
    AlreadyOwned { owner: String },
    #[error("{} is not possible in {state}", step.as_str())]
    NotNow { step: StepKind, state: State },
    #[error("{} is for {allowed:?} only", step.as_str())]
    Forbidden { step: StepKind, allowed: Allowed },
    /// A triager of another team: the request's own team triages it.
    #[error("{} is for the triagers of the request's team", step.as_str())]
    OtherTeam { step: StepKind },
    #[error("nothing changes")]
    Unchanged,
}

fn allowed(rule: Allowed, actor: &Actor, request: &Request) -> bool {
    let owner = actor.is(request.owner.as_deref());
    let submitter = actor.is(Some(&request.submitter));
    match rule {
        Allowed::Anyone => actor.user().is_some(),
        Allowed::Triagers => actor.triages(request),
        Allowed::TriagersAndOwner => actor.triages(request) || owner,
        Allowed::SubmitterAndOwner => submitter || owner,
        Allowed::Submitter => submitter,
        Allowed::Scheduler => *actor == Actor::Scheduler,
        Allowed::Tracker => actor.tracks(request),
    }
}

use Effect::{RefreshCard, TellOwner, TellPreviousOwner, TellSubmitter, ThreadNote};
use State::{Accepted, Closed, Deferred, NeedsInfo, New, Rejected, Resolved, Triaged};

/// What a tracker may do (issue 16): its issue done resolves the request,
/// with the same messages as the Resolve button (the submitter is asked to
/// confirm); reopened there, a resolved request is accepted work again.
fn tracker_rule(event: &Event, state: State) -> Option<(Allowed, Option<State>, Vec<Effect>)> {
    Some(match (event, state) {
        (Event::Resolve { .. }, Triaged | Accepted) => (
            Allowed::Tracker,
            Some(Resolved),
            vec![RefreshCard, ThreadNote, TellSubmitter],
        ),
        (Event::Reopen, Resolved) => (
            Allowed::Tracker,
            Some(Accepted),
            vec![RefreshCard, ThreadNote, TellSubmitter, TellOwner],
        ),
        _ => return None,
    })
}

/// The transition table of DESIGN §2: for each event, the states it may
/// happen in, who may do it, and the state it leads to (`None`: stays).
fn rule(event: &Event, request: &Request, actor: &Actor) -> Option<(Allowed, Option<State>, Vec<Effect>)> {
    let state = request.state;
    if let Actor::Tracker { .. } = actor
        && let Some(tracked) = tracker_rule(event, state)
    {
        return Some(tracked);
    }
    let tell_both = vec![RefreshCard, ThreadNote, TellSubmitter, TellOwner];
    Some(match (event, state) {
        (Event::Take, New) => (
            Allowed::Triagers,
            Some(Triaged),
            vec![RefreshCard, ThreadNote, TellSubmitter],
        ),
        (Event::Assign { .. }, New) => (Allowed::Triagers, Some(Triaged), tell_both),
        (Event::Assign { .. }, s) if s.is_open() => (
            Allowed::Triagers,
            None,
            vec![RefreshCard, ThreadNote, TellOwner, TellPreviousOwner, TellSubmitter],
        ),
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
        (Event::MoveTeam { .. }, s) if s.is_open() && s != Resolved => {
            (Allowed::Triagers, None, vec![Effect::MoveCard, TellSubmitter])
        }
        (Event::Revisit, Deferred) => (Allowed::Scheduler, Some(Triaged), tell_both),
        (Event::AutoClose, Resolved) => (
            Allowed::Scheduler,
            Some(Closed),
            vec![RefreshCard, ThreadNote, TellSubmitter],
        ),
        _ => return None,
    })
}

/// Whether `event` by `actor` may happen to `request`, and the state,
/// owner and severity it leads to (see [`transition`] for the rest).
fn judge(request: &Request, event: &Event, actor: &Actor) -> Result<Judged, TransitionError> {
    let Some((who, to, effects)) = rule(event, request, actor) else {
        if let (Event::Take, Some(owner)) = (event, &request.owner)
            && request.state.is_open()
        {
            return Err(TransitionError::AlreadyOwned { owner: owner.clone() });
        }
        return Err(TransitionError::NotNow {
            step: event.kind(),
            state: request.state,
        });
    };
    if !allowed(who, actor, request) {
        if matches!(who, Allowed::Triagers | Allowed::TriagersAndOwner) && actor.triages_any() {
            return Err(TransitionError::OtherTeam { step: event.kind() });
        }
        return Err(TransitionError::Forbidden {
            step: event.kind(),
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
    let moved = matches!(event, Event::MoveTeam { to, .. } if *to != request.team);
    if to == request.state && owner == request.owner && severity == request.severity && !moved {
        return Err(TransitionError::Unchanged);
    }
    Ok(Judged {
        to,
        owner,
        severity,
        effects,
    })
}

struct Judged {
    to: State,
    owner: Option<String>,
    severity: SeverityKey,
    effects: Vec<Effect>,
}

/// The clock stops while we wait on the submitter or a revisit date.
fn is_paused(state: State) -> bool {
    matches!(state, State::NeedsInfo | State::Deferred)
}

/// Applies `event` by `actor` to `request` at `now`, under `policy`.
pub fn transition(
    request: &Request,
    event: &Event,
    actor: &Actor,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Step, TransitionError> {
    let judged = judge(request, event, actor)?;
    let mut effects = judged.effects;
    let mut after = request.clone();
    after.state = judged.to;
    after.owner = judged.owner;
    if after.owner != request.owner {
        // Whether the new owner can be reached is not known yet.
        after.owner_unreachable = false;
    }
    after.version = request.version + 1;
    if judged.severity != request.severity
        && let (Some(old), Some(new)) = (policy.severity(&request.severity), policy.severity(&judged.severity))
    {
        // Time already used counts against the new SLA; paused time never does.
        let clock_stopped_at = request.sla_paused_at.unwrap_or(now);
        after.deadlines = request
            .deadlines
            .for_new_severity(old, new, clock_stopped_at, &policy.calendar);
        after.severity = judged.severity;
        // A new SLA: its reminders start over.
        after.reminder_stage = 0;
        after.sla_cycle += 1;
        if new.oncall && !old.oncall {
            effects.push(Effect::PageOncall);
        }
    }
    if let Event::MoveTeam { to, table } = event {
        after.team = to.clone();
        // The new team's SLA from the filing time: time used counts, paused
        // time never does (as for a new severity).
        if let (Some(old), Some(new)) = (policy.severity(&request.severity), table.get(request.severity.as_str())) {
            let clock_stopped_at = request.sla_paused_at.unwrap_or(now);
            after.deadlines = request
                .deadlines
                .for_new_severity(old, new, clock_stopped_at, &policy.calendar);
        }
        after.reminder_stage = 0;
        after.sla_cycle += 1;
    }
    if is_paused(after.state) && !is_paused(request.state) {
        after.sla_paused_at = Some(now);
    }
    if !is_paused(after.state) && is_paused(request.state) {
        if let (Some(paused_at), Some(severity)) = (request.sla_paused_at, policy.severity(&after.severity)) {
            let shift = |due| sla::resumed_deadline(due, paused_at, now, severity.clock, &policy.calendar);
            after.deadlines.response_due = shift(after.deadlines.response_due);
            after.deadlines.resolution_due = shift(after.deadlines.resolution_due);
        }
        after.sla_paused_at = None;
    }
    if reminders::running_sla(request.state) != reminders::running_sla(after.state) {
        after.reminder_stage = 0;
    }
    if matches!(event, Event::Reopen) {
        // Back to work after it was finished: its SLA reminders count again.
        after.sla_cycle += 1;
    }
    if after.state == State::Resolved && request.state != State::Resolved {
        after.resolved_at = Some(now);
    }
    // Reopened: no longer resolved (a closed request keeps when it was).
    if after.state.is_open() && after.state != State::Resolved {
        after.resolved_at = None;
    }
    match event {
        Event::Accept { tracker, .. } => after.tracker = Some(tracker.clone()),
        Event::Defer { until, .. } => after.revisit_on = Some(*until),
        _ => {}
    }
    if after.state != State::Deferred {
        after.revisit_on = None;
    }
    Ok(Step {
        from: request.state,
        after,
        effects,
    })
}

/// The steps offered on the intake message in a state, in display order.
pub fn card_steps(state: State) -> &'static [StepKind] {
    use StepKind as K;
    match state {
        New => &[K::Take, K::Assign, K::SetSeverity, K::AskInfo, K::Reject, K::MoveTeam],
        Triaged => &[
            K::Assign,
            K::SetSeverity,
            K::AskInfo,
            K::Accept,
            K::Defer,
            K::Reject,
            K::Resolve,
            K::MoveTeam,
        ],
        NeedsInfo => &[K::Assign, K::SetSeverity, K::Resume, K::Reject, K::MoveTeam],
        Accepted => &[K::Assign, K::SetSeverity, K::Defer, K::Resolve, K::MoveTeam],
        Deferred => &[K::Assign, K::SetSeverity, K::Resume, K::MoveTeam],
        Resolved => &[K::Assign, K::SetSeverity],
        Rejected | Closed => &[K::Reopen],
    }
}

#[cfg(test)]
mod tests;
