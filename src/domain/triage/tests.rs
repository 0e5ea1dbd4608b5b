//! Every state × event × role against the table in DESIGN §2, written out
//! again here independently, plus property tests over random histories.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;

const SUBMITTER: &str = "U0SUBMIT01";
const OWNER: &str = "U0OWNER001";
const TRIAGER: &str = "U0TRIAGE01";
const STRANGER: &str = "U0OTHER001";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Triager,
    Owner,
    Submitter,
    Stranger,
    Scheduler,
}

const ROLES: [Role; 5] = [
    Role::Triager,
    Role::Owner,
    Role::Submitter,
    Role::Stranger,
    Role::Scheduler,
];

fn actor(role: Role) -> Actor {
    match role {
        Role::Triager => Actor::person(TRIAGER, true),
        Role::Owner => Actor::person(OWNER, false),
        Role::Submitter => Actor::person(SUBMITTER, false),
        Role::Stranger => Actor::person(STRANGER, false),
        Role::Scheduler => Actor::Scheduler,
    }
}

fn request(state: State) -> Request {
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
    Request {
        submitter: SUBMITTER.into(),
        owner: (state != State::New).then(|| OWNER.to_string()),
        ..Request::sample(state, "sev3", at)
    }
}

fn text(s: &str) -> Text {
    Text::parse(s, "text").unwrap()
}

fn events() -> Vec<Event> {
    vec![
        Event::Take,
        Event::Assign {
            to: "U0NEWOWN01".into(),
        },
        Event::SetSeverity {
            to: SeverityKey::new("sev1").unwrap(),
        },
        Event::Escalate {
            to: SeverityKey::new("sev2").unwrap(),
            emoji: "arrow_up".into(),
        },
        Event::AskInfo {
            question: text("Which browser?"),
        },
        Event::AddInfo {
            answer: text("Firefox 140"),
        },
        Event::Resume,
        Event::Accept {
            tracker: Tracker::parse("PROJ-7").unwrap(),
            expectation: None,
        },
        Event::Defer {
            until: chrono::NaiveDate::from_ymd_opt(2027, 1, 10).unwrap(),
            reason: text("After the freeze"),
        },
        Event::Reject {
            reason: Text::reason("Covered by the new export that ships in March.").unwrap(),
        },
        Event::Resolve {
            note: text("Fixed in 4.2"),
        },
        Event::Confirm,
        Event::Reopen,
        Event::Revisit,
        Event::AutoClose,
    ]
}

/// DESIGN §2, restated: the state an event leads to, if `role` may do it.
fn expected(state: State, event: &Event, role: Role) -> Option<State> {
    use Role::*;
    use State::*;
    let owner_or_triager = matches!(role, Triager) || (matches!(role, Owner) && state != New);
    match (event, state) {
        (Event::Take, New) if role == Triager => Some(Triaged),
        (Event::Assign { .. }, New) if role == Triager => Some(Triaged),
        (Event::Assign { .. } | Event::SetSeverity { .. }, s) if s.is_open() && role == Triager => Some(s),
        (Event::Escalate { .. }, s) if s.is_open() && role != Scheduler => Some(s),
        (Event::AskInfo { .. }, New | Triaged) if owner_or_triager => Some(NeedsInfo),
        (Event::AddInfo { .. }, NeedsInfo) if role == Submitter => Some(Triaged),
        (Event::Resume, NeedsInfo | Deferred) if owner_or_triager => Some(Triaged),
        (Event::Accept { .. }, Triaged) if owner_or_triager => Some(Accepted),
        (Event::Defer { .. }, Triaged | Accepted) if owner_or_triager => Some(Deferred),
        (Event::Reject { .. }, New | Triaged | NeedsInfo) if owner_or_triager => Some(Rejected),
        (Event::Resolve { .. }, Triaged | Accepted) if owner_or_triager => Some(Resolved),
        (Event::Confirm, Resolved) if role == Submitter => Some(Closed),
        (Event::Reopen, Resolved) if role == Submitter => Some(Triaged),
        (Event::Reopen, Rejected | Closed) if role == Triager => Some(Triaged),
        (Event::Revisit, Deferred) if role == Scheduler => Some(Triaged),
        (Event::AutoClose, Resolved) if role == Scheduler => Some(Closed),
        _ => None,
    }
}

#[test]
fn every_state_event_and_role_follows_the_table() {
    let mut checked = 0;
    for state in State::ALL {
        for event in events() {
            for role in ROLES {
                let result = transition(&request(state), &event, &actor(role));
                match (expected(state, &event, role), &result) {
                    (Some(to), Ok(t)) => assert_eq!(t.to, to, "{state} {} by {role:?}", event.name()),
                    (None, Err(_)) => {}
                    (want, got) => panic!("{state} {} by {role:?}: expected {want:?}, got {got:?}", event.name()),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 8 * 15 * 5);
}

#[test]
fn taking_an_owned_request_names_the_owner() {
    let err = transition(&request(State::Triaged), &Event::Take, &actor(Role::Triager)).unwrap_err();
    assert_eq!(err, TransitionError::AlreadyOwned { owner: OWNER.into() });
}

#[test]
fn a_stranger_is_told_who_may_act() {
    let err = transition(&request(State::New), &Event::Take, &actor(Role::Stranger)).unwrap_err();
    assert_eq!(
        err,
        TransitionError::Forbidden {
            event: "take",
            allowed: Allowed::Triagers
        }
    );
    let reason = Text::reason("This is not something we will build, sorry.").unwrap();
    let err = transition(
        &request(State::Triaged),
        &Event::Reject { reason },
        &actor(Role::Submitter),
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "only the owner or a triager may reject it");
}

#[test]
fn take_makes_the_taker_owner_and_assign_the_assignee() {
    let taken = transition(&request(State::New), &Event::Take, &actor(Role::Triager)).unwrap();
    assert_eq!(taken.owner.as_deref(), Some(TRIAGER));
    let assigned = transition(
        &request(State::Accepted),
        &Event::Assign {
            to: "U0NEWOWN01".into(),
        },
        &actor(Role::Triager),
    )
    .unwrap();
    assert_eq!(
        (assigned.to, assigned.owner.as_deref()),
        (State::Accepted, Some("U0NEWOWN01"))
    );
    assert!(assigned.effects.contains(&Effect::TellOwner));
}

#[test]
fn assigning_the_current_owner_again_changes_nothing() {
    let same = Event::Assign { to: OWNER.into() };
    assert_eq!(
        transition(&request(State::Triaged), &same, &actor(Role::Triager)),
        Err(TransitionError::Unchanged)
    );
}

#[test]
fn every_outcome_tells_the_submitter_or_the_owner() {
    for state in State::ALL {
        for event in events() {
            for role in ROLES {
                if let Ok(t) = transition(&request(state), &event, &actor(role)) {
                    assert!(t.effects.contains(&Effect::RefreshCard), "{state} {}", event.name());
                    assert!(
                        t.effects.contains(&Effect::TellSubmitter) || t.effects.contains(&Effect::TellOwner),
                        "{state} {} tells nobody",
                        event.name()
                    );
                }
            }
        }
    }
}

fn apply(request: &mut Request, t: &Transition) {
    request.state = t.to;
    request.owner = t.owner.clone();
    request.severity = t.severity.clone();
}

proptest! {
    #[test]
    fn random_histories_keep_the_invariants(steps in prop::collection::vec((0usize..15, 0usize..5), 0..60)) {
        let mut current = request(State::New);
        let mut log: Vec<(State, State, &'static str)> = Vec::new();
        let all_events = events();
        for (e, r) in steps {
            let event = &all_events[e];
            if let Ok(t) = transition(&current, event, &actor(ROLES[r])) {
                if t.to == State::Closed {
                    prop_assert_eq!(t.from, State::Resolved, "closed only from resolved");
                    prop_assert!(matches!(event, Event::Confirm | Event::AutoClose));
                }
                if t.to == State::Rejected {
                    let has_reason = matches!(event, Event::Reject { reason } if !reason.as_str().is_empty());
                    prop_assert!(has_reason, "rejected without a reason");
                }
                log.push((t.from, t.to, event.name()));
                apply(&mut current, &t);
            }
            if current.state.needs_owner() {
                prop_assert!(current.owner.is_some(), "{} without an owner", current.state);
            }
        }
        // The log replays to the current state: each step starts where the last ended.
        let replayed = log.iter().try_fold(State::New, |at, (from, to, _)| (at == *from).then_some(*to));
        prop_assert_eq!(replayed, Some(current.state));
    }
}

#[test]
fn only_oncall_severities_take_the_off_ramp_and_it_goes_before_the_receipt() {
    let mut severity = Severity {
        key: SeverityKey::new("sev1").unwrap(),
        label: "Critical".into(),
        response: crate::domain::sla::SlaSpan::Minutes(30),
        resolution: crate::domain::sla::SlaSpan::Days(1),
        clock: crate::domain::sla::ClockKind::Wall,
        oncall: true,
    };
    assert_eq!(
        on_submit(&severity),
        [Notice::IntakePost, Notice::OncallAlert, Notice::SubmitterReceipt]
    );
    severity.oncall = false;
    assert_eq!(on_submit(&severity), [Notice::IntakePost, Notice::SubmitterReceipt]);
}
