//! Every state × event × role against the table in DESIGN §2, written out
//! again here independently, plus property tests over random histories.

use chrono::{TimeDelta, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::domain::request::SlaDeadlines;
use crate::domain::sla::{ClockKind, SlaSpan};

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
    /// The tracker issue the request was accepted into.
    Tracker,
}

const ROLES: [Role; 6] = [
    Role::Triager,
    Role::Owner,
    Role::Submitter,
    Role::Stranger,
    Role::Scheduler,
    Role::Tracker,
];

const TRACKED_IN: &str = "PROJ-7";

fn actor(role: Role) -> Actor {
    match role {
        Role::Triager => Actor::person(TRIAGER, vec!["default".into()]),
        Role::Owner => Actor::person(OWNER, vec![]),
        Role::Submitter => Actor::person(SUBMITTER, vec![]),
        Role::Stranger => Actor::person(STRANGER, vec![]),
        Role::Scheduler => Actor::Scheduler,
        Role::Tracker => Actor::Tracker {
            tracker: Tracker::parse(TRACKED_IN).unwrap(),
        },
    }
}

fn request(state: State) -> Request {
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
    Request {
        submitter: SUBMITTER.into(),
        owner: (state != State::New).then(|| OWNER.to_string()),
        tracker: Some(Tracker::parse(TRACKED_IN).unwrap()),
        ..Request::sample(state, "sev3", at)
    }
}

fn filed_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
}

/// The step at a fixed instant under the shipped policy.
fn step(request: &Request, event: &Event, actor: &Actor) -> Result<Step, TransitionError> {
    transition(request, event, actor, &Policy::sample(), filed_at())
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
        Event::MoveTeam {
            to: "payments".into(),
            table: Policy::sample().severities,
        },
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
        (Event::Escalate { .. }, s) if s.is_open() && !matches!(role, Scheduler | Tracker) => Some(s),
        (Event::AskInfo { .. }, New | Triaged) if owner_or_triager => Some(NeedsInfo),
        (Event::AddInfo { .. }, NeedsInfo) if role == Submitter => Some(Triaged),
        (Event::Resume, NeedsInfo | Deferred) if owner_or_triager => Some(Triaged),
        (Event::Accept { .. }, Triaged) if owner_or_triager => Some(Accepted),
        (Event::Defer { .. }, Triaged | Accepted) if owner_or_triager => Some(Deferred),
        (Event::Reject { .. }, New | Triaged | NeedsInfo) if owner_or_triager => Some(Rejected),
        (Event::Resolve { .. }, Triaged | Accepted) if owner_or_triager || role == Tracker => Some(Resolved),
        (Event::Confirm, Resolved) if role == Submitter => Some(Closed),
        (Event::Reopen, Resolved) if role == Submitter => Some(Triaged),
        (Event::Reopen, Resolved) if role == Tracker => Some(Accepted),
        (Event::Reopen, Rejected | Closed) if role == Triager => Some(Triaged),
        (Event::Revisit, Deferred) if role == Scheduler => Some(Triaged),
        (Event::AutoClose, Resolved) if role == Scheduler => Some(Closed),
        (Event::MoveTeam { .. }, s) if s.is_open() && s != Resolved && role == Triager => Some(s),
        _ => None,
    }
}

#[test]
fn every_state_event_and_role_follows_the_table() {
    let mut checked = 0;
    for state in State::ALL {
        for event in events() {
            for role in ROLES {
                let result = step(&request(state), &event, &actor(role));
                match (expected(state, &event, role), &result) {
                    (Some(to), Ok(t)) => assert_eq!(t.to(), to, "{state} {} by {role:?}", event.name()),
                    (None, Err(_)) => {}
                    (want, got) => panic!("{state} {} by {role:?}: expected {want:?}, got {got:?}", event.name()),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 8 * 16 * 6);
}

#[test]
fn a_tracker_acts_only_on_what_it_tracks() {
    let other = Actor::Tracker {
        tracker: Tracker::parse("https://github.com/acme/app/issues/12").unwrap(),
    };
    let resolve = Event::Resolve {
        note: text("Done in acme/app#12"),
    };
    let err = step(&request(State::Accepted), &resolve, &other).unwrap_err();
    assert_eq!(
        err,
        TransitionError::Forbidden {
            step: StepKind::Resolve,
            allowed: Allowed::Tracker
        }
    );
    let untracked = Request {
        tracker: None,
        ..request(State::Resolved)
    };
    assert!(step(&untracked, &Event::Reopen, &actor(Role::Tracker)).is_err());

    let resolved = step(&request(State::Accepted), &resolve, &actor(Role::Tracker)).unwrap();
    assert_eq!(resolved.after.resolved_at, Some(filed_at()));
    assert_eq!(actor(Role::Tracker).audit_name(), "tracker:PROJ-7");
    let reopened = step(&resolved.after, &Event::Reopen, &actor(Role::Tracker)).unwrap();
    assert_eq!(
        (
            reopened.to(),
            reopened.after.resolved_at,
            reopened.after.owner.as_deref()
        ),
        (State::Accepted, None, Some(OWNER))
    );
    assert!(reopened.effects.contains(&Effect::TellSubmitter));
}

#[test]
fn taking_an_owned_request_names_the_owner() {
    let err = step(&request(State::Triaged), &Event::Take, &actor(Role::Triager)).unwrap_err();
    assert_eq!(err, TransitionError::AlreadyOwned { owner: OWNER.into() });
}

#[test]
fn a_stranger_is_told_who_may_act() {
    let err = step(&request(State::New), &Event::Take, &actor(Role::Stranger)).unwrap_err();
    assert_eq!(
        err,
        TransitionError::Forbidden {
            step: StepKind::Take,
            allowed: Allowed::Triagers
        }
    );
    let reason = Text::reason("This is not something we will build, sorry.").unwrap();
    let err = step(
        &request(State::Triaged),
        &Event::Reject { reason },
        &actor(Role::Submitter),
    )
    .unwrap_err();
    assert_eq!(
        err,
        TransitionError::Forbidden {
            step: StepKind::Reject,
            allowed: Allowed::TriagersAndOwner
        }
    );
}

#[test]
fn take_makes_the_taker_owner_and_assign_the_assignee() {
    let taken = step(&request(State::New), &Event::Take, &actor(Role::Triager)).unwrap();
    assert_eq!(taken.after.owner.as_deref(), Some(TRIAGER));
    let assigned = step(
        &request(State::Accepted),
        &Event::Assign {
            to: "U0NEWOWN01".into(),
        },
        &actor(Role::Triager),
    )
    .unwrap();
    assert_eq!(
        (assigned.to(), assigned.after.owner.as_deref()),
        (State::Accepted, Some("U0NEWOWN01"))
    );
    assert!(assigned.effects.contains(&Effect::TellOwner));
}

#[test]
fn an_unreachable_owner_stays_flagged_until_the_owner_changes() {
    let mut changed = 0;
    for state in State::ALL {
        let flagged = Request {
            owner_unreachable: true,
            ..request(state)
        };
        for event in events() {
            for role in ROLES {
                let Ok(step) = step(&flagged, &event, &actor(role)) else {
                    continue;
                };
                let same_owner = step.after.owner == flagged.owner;
                assert_eq!(step.after.owner_unreachable, same_owner, "{state:?} {event:?} {role:?}");
                changed += usize::from(!same_owner);
            }
        }
    }
    assert!(changed > 0, "some step changes the owner");
    let assigned = step(
        &Request {
            owner_unreachable: true,
            ..request(State::Triaged)
        },
        &Event::Assign {
            to: "U0NEWOWN01".into(),
        },
        &actor(Role::Triager),
    )
    .unwrap();
    assert!(!assigned.after.owner_unreachable);
}

#[test]
fn assigning_the_current_owner_again_changes_nothing() {
    let same = Event::Assign { to: OWNER.into() };
    assert_eq!(
        step(&request(State::Triaged), &same, &actor(Role::Triager)),
        Err(TransitionError::Unchanged)
    );
}

#[test]
fn every_outcome_tells_the_submitter_or_the_owner() {
    for state in State::ALL {
        for event in events() {
            for role in ROLES {
                if let Ok(t) = step(&request(state), &event, &actor(role)) {
                    let card = t.effects.contains(&Effect::RefreshCard) || t.effects.contains(&Effect::MoveCard);
                    assert!(card, "{state} {}", event.name());
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

proptest! {
    #[test]
    fn random_histories_keep_the_invariants(steps in prop::collection::vec((0usize..15, 0usize..ROLES.len()), 0..60)) {
        let mut current = request(State::New);
        let mut log: Vec<(State, State, &'static str)> = Vec::new();
        let all_events = events();
        for (e, r) in steps {
            let event = &all_events[e];
            if let Ok(t) = step(&current, event, &actor(ROLES[r])) {
                if t.to() == State::Closed {
                    prop_assert_eq!(t.from, State::Resolved, "closed only from resolved");
                    prop_assert!(matches!(event, Event::Confirm | Event::AutoClose));
                }
                if t.to() == State::Rejected {
                    let has_reason = matches!(event, Event::Reject { reason } if !reason.as_str().is_empty());
                    prop_assert!(has_reason, "rejected without a reason");
                }
                log.push((t.from, t.to(), event.name()));
                current = t.after;
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

/// Wall-clock severities with spans far longer than any history below, so
/// a request's deadlines are exact sums: filed + time paused + span.
fn roomy_policy() -> Policy {
    let severity = |key: &str, hours: u32, oncall| Severity {
        key: SeverityKey::new(key).unwrap(),
        label: key.to_uppercase(),
        response: SlaSpan::Hours(hours),
        resolution: SlaSpan::Hours(hours * 10),
        clock: ClockKind::Wall,
        oncall,
    };
    Policy {
        severities: crate::domain::severity::Severities::new(vec![
            severity("sev1", 100, true),
            severity("sev2", 200, false),
            severity("sev3", 300, false),
            severity("sev4", 400, false),
        ])
        .unwrap(),
        ..Policy::sample()
    }
}

fn severity_events() -> Vec<Event> {
    // A move changes the SLA table, not the severity (tested on its own).
    let mut all: Vec<Event> = events()
        .into_iter()
        .filter(|e| !matches!(e, Event::MoveTeam { .. }))
        .collect();
    for key in ["sev1", "sev2", "sev3", "sev4"] {
        let to = SeverityKey::new(key).unwrap();
        all.push(Event::SetSeverity { to: to.clone() });
        all.push(Event::Escalate {
            to,
            emoji: "rotating_light".into(),
        });
    }
    all
}

#[test]
fn reopening_a_request_clears_its_resolved_time() {
    let resolved_at = Some(filed_at() - TimeDelta::hours(1));
    let resolved = Request {
        resolved_at,
        ..request(State::Resolved)
    };
    let reopened = step(&resolved, &Event::Reopen, &actor(Role::Submitter)).unwrap();
    assert_eq!(reopened.after.state, State::Triaged);
    assert_eq!(reopened.after.resolved_at, None, "a reopened request is not resolved");

    let closed = step(&resolved, &Event::Confirm, &actor(Role::Submitter)).unwrap();
    assert_eq!(
        closed.after.resolved_at, resolved_at,
        "closing keeps when it was resolved"
    );
    let assign = Event::Assign {
        to: "U0NEWOWN01".into(),
    };
    let reassigned = step(&resolved, &assign, &actor(Role::Triager)).unwrap();
    assert_eq!(reassigned.after.resolved_at, resolved_at, "still resolved");

    let reopened = step(&closed.after, &Event::Reopen, &actor(Role::Triager)).unwrap();
    assert_eq!(reopened.after.state, State::Triaged);
    assert_eq!(reopened.after.resolved_at, None, "reopened after closing, too");
}

proptest! {
    /// However long a request waits for information or a revisit date, a
    /// later severity change charges only the time the clock ran.
    #[test]
    fn a_severity_change_never_loses_paused_time(
        steps in prop::collection::vec((0usize..23, 0usize..ROLES.len(), 0i64..60, 0i64..30 * 24 * 60), 0..60)
    ) {
        let policy = roomy_policy();
        let filed = filed_at();
        let sev3 = policy.severities.get("sev3").unwrap();
        let mut current = Request {
            deadlines: SlaDeadlines::for_severity(sev3, filed, &policy.calendar),
            ..request(State::New)
        };
        current.owner = None;
        let mut now = filed;
        let mut paused = TimeDelta::zero();
        let all_events = severity_events();
        for (e, r, running_minutes, paused_minutes) in steps {
            // Time passes: a little while the clock runs, up to a month while it stands.
            let wait = if current.sla_paused_at.is_some() { paused_minutes } else { running_minutes };
            now += TimeDelta::minutes(wait);
            if current.sla_paused_at.is_some() {
                paused += TimeDelta::minutes(wait);
            }
            if let Ok(t) = transition(&current, &all_events[e], &actor(ROLES[r]), &policy, now) {
                current = t.after;
            }
            let severity = policy.severity(&current.severity).unwrap();
            // While paused, the pause so far is not yet added: it is when the clock resumes.
            let counted_pause = if current.sla_paused_at.is_some() { paused - (now - current.sla_paused_at.unwrap()) } else { paused };
            let span = |s| crate::domain::sla::span_duration(s, ClockKind::Wall, &policy.calendar);
            prop_assert_eq!(current.deadlines.response_due, filed + counted_pause + span(severity.response));
            prop_assert_eq!(current.deadlines.resolution_due, filed + counted_pause + span(severity.resolution));
        }
    }

    /// A new severity is a new SLA: the reminders already sent under the
    /// old one do not silence the new one's.
    #[test]
    fn a_severity_change_resets_the_reminder_stage(state in 0usize..8, e in 0usize..23, stage in 1i32..1001) {
        let mut before = request(State::ALL[state]);
        before.reminder_stage = stage;
        if let Ok(t) = step(&before, &severity_events()[e], &actor(Role::Triager))
            && t.after.severity != before.severity
        {
            prop_assert_eq!(t.after.reminder_stage, 0);
        }
    }

    /// Whichever step raises a request into an on-call severity pages
    /// on-call; no other step does.
    #[test]
    fn reaching_an_oncall_severity_pages_oncall(state in 0usize..8, e in 0usize..23, role in 0usize..ROLES.len()) {
        let before = request(State::ALL[state]);
        if let Ok(t) = step(&before, &severity_events()[e], &actor(ROLES[role])) {
            let policy = Policy::sample();
            let reached = policy.is_oncall(&t.after.severity) && !policy.is_oncall(&before.severity);
            prop_assert_eq!(t.effects.contains(&Effect::PageOncall), reached);
        }
    }
}

#[test]
fn escalating_after_three_weeks_waiting_for_info_is_not_a_breach() {
    let policy = Policy::sample();
    let filed = filed_at();
    let sev3 = policy.severities.get("sev3").unwrap();
    let triaged = Request {
        deadlines: SlaDeadlines::for_severity(sev3, filed, &policy.calendar),
        ..request(State::Triaged)
    };
    let ask = Event::AskInfo {
        question: text("Which browser?"),
    };
    let asked = transition(
        &triaged,
        &ask,
        &actor(Role::Owner),
        &policy,
        filed + TimeDelta::hours(1),
    )
    .unwrap();
    let three_weeks = filed + TimeDelta::weeks(3);
    let answer = Event::AddInfo {
        answer: text("Firefox"),
    };
    let answered = transition(&asked.after, &answer, &actor(Role::Submitter), &policy, three_weeks).unwrap();
    let raise = Event::SetSeverity {
        to: SeverityKey::new("sev2").unwrap(),
    };
    let raised = transition(&answered.after, &raise, &actor(Role::Triager), &policy, three_weeks).unwrap();
    assert!(
        raised.after.deadlines.resolution_due > three_weeks,
        "due {} although only an hour of SLA time was used",
        raised.after.deadlines.resolution_due
    );
}

#[test]
fn a_move_takes_the_new_teams_sla_from_filing_and_other_teams_are_refused() {
    let mut table = Policy::sample().severities;
    // Payments answers Medium in half the time.
    let mut medium: Vec<Severity> = table.iter().cloned().collect();
    for severity in &mut medium {
        if severity.key.as_str() == "sev3" {
            severity.response = crate::domain::sla::SlaSpan::Hours(4);
        }
    }
    table = Severities::new(medium).unwrap();
    let calendar = Policy::sample().calendar;
    let old = Policy::sample().severities.get("sev3").unwrap().clone();
    let filed = Request {
        owner: None,
        deadlines: SlaDeadlines::for_severity(&old, filed_at(), &calendar),
        ..request(State::New)
    };
    let expected = SlaDeadlines::for_severity(table.get("sev3").unwrap(), filed_at(), &calendar);
    let event = Event::MoveTeam {
        to: "payments".into(),
        table,
    };
    let moved = step(&filed, &event, &actor(Role::Triager)).unwrap();
    assert_eq!(moved.after.team, "payments");
    assert_eq!(moved.to(), State::New);
    assert_eq!(moved.effects, [Effect::MoveCard, Effect::TellSubmitter]);
    assert_eq!(
        moved.after.deadlines, expected,
        "the new team's SLA, counted from the filing"
    );
    assert!(moved.after.deadlines.response_due < filed.deadlines.response_due);
    assert_eq!(moved.after.reminder_stage, 0);

    // Moving it where it is changes nothing.
    let again = Event::MoveTeam {
        to: "payments".into(),
        table: Policy::sample().severities,
    };
    let both = Actor::person(TRIAGER, vec!["default".into(), "payments".into()]);
    assert_eq!(
        step(&moved.after, &again, &both).unwrap_err(),
        TransitionError::Unchanged
    );
    // A triager of Core only (the request is Payments' now) is told whose it is.
    let core = Actor::person(TRIAGER, vec!["default".into()]);
    assert_eq!(
        step(&moved.after, &Event::Take, &core).unwrap_err(),
        TransitionError::OtherTeam { step: StepKind::Take }
    );
}
