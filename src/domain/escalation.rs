//! Escalation by emoji as a pure rule: given a request, a reaction, who
//! reacted and their earlier escalations, either the new (more severe)
//! severity or the reason the reaction changes nothing.
//!
//! Escalation only raises. Each person escalates a request at most once per
//! level, at most `per_person_limit` times, and not again within `cooldown`.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::request::Request;
use crate::domain::severity::{Severities, SeverityKey};
use crate::domain::state::State;

/// What an escalation emoji does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscalationRule {
    /// One level more severe.
    Up,
    /// Straight to this severity (if it is more severe).
    To(SeverityKey),
}

/// The limits on one person's escalations.
#[derive(Debug, Clone)]
pub struct EscalationPolicy {
    pub emoji: BTreeMap<String, EscalationRule>,
    pub cooldown: TimeDelta,
    pub per_person_limit: usize,
}

/// An escalation recorded earlier on the same request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastEscalation {
    pub user: String,
    pub to: SeverityKey,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// Not one of the configured escalation emoji.
    NotEscalation,
    /// Rejected or closed: reopen it first.
    Finished,
    /// Resolved: the submitter says "Still broken", or a triager reopens it.
    Resolved,
    /// Already at (or above) what the emoji asks for.
    NotHigher,
    /// This person already escalated it to this level.
    AlreadyAtThisLevel,
    /// This person escalated it too recently; they may again from `until`.
    CoolingDown { until: DateTime<Utc> },
    /// This person has used up their escalations of this request.
    LimitReached,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Escalate { to: SeverityKey },
    Ignore(Ignored),
}

/// The base name of a reaction: `arrow_up::skin-tone-2` counts as `arrow_up`.
pub fn base_emoji(reaction: &str) -> &str {
    reaction.split("::").next().unwrap_or(reaction).trim_matches(':')
}

/// Rank on the ladder: 0 is the most severe.
fn rank(severities: &Severities, key: &SeverityKey) -> Option<usize> {
    severities.iter().position(|s| &s.key == key)
}

pub fn decide(
    request: &Request,
    reaction: &str,
    user: &str,
    policy: &EscalationPolicy,
    severities: &Severities,
    past: &[PastEscalation],
    now: DateTime<Utc>,
) -> Decision {
    let Some(rule) = policy.emoji.get(base_emoji(reaction)) else {
        return Decision::Ignore(Ignored::NotEscalation);
    };
    if !request.state.is_open() {
        return Decision::Ignore(Ignored::Finished);
    }
    if request.state == State::Resolved {
        return Decision::Ignore(Ignored::Resolved);
    }
    let Some(current) = rank(severities, &request.severity) else {
        return Decision::Ignore(Ignored::NotHigher);
    };
    let target = match rule {
        EscalationRule::Up => current.checked_sub(1),
        EscalationRule::To(key) => rank(severities, key).filter(|r| *r < current),
    };
    let Some(to) = target.and_then(|r| severities.iter().nth(r)).map(|s| s.key.clone()) else {
        return Decision::Ignore(Ignored::NotHigher);
    };
    let mine: Vec<&PastEscalation> = past.iter().filter(|p| p.user == user).collect();
    if mine.iter().any(|p| p.to == to) {
        return Decision::Ignore(Ignored::AlreadyAtThisLevel);
    }
    if mine.len() >= policy.per_person_limit {
        return Decision::Ignore(Ignored::LimitReached);
    }
    if let Some(latest) = mine.iter().map(|p| p.at).max()
        && now - latest < policy.cooldown
    {
        return Decision::Ignore(Ignored::CoolingDown {
            until: latest + policy.cooldown,
        });
    }
    Decision::Escalate { to }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::severity::Severity;
    use crate::domain::sla::{ClockKind, SlaSpan};
    use chrono::TimeZone;

    fn key(k: &str) -> SeverityKey {
        SeverityKey::new(k).unwrap()
    }

    fn severities() -> Severities {
        let sev = |k: &str| Severity {
            key: key(k),
            label: k.to_uppercase(),
            response: SlaSpan::Hours(1),
            resolution: SlaSpan::Days(1),
            clock: ClockKind::Wall,
            oncall: k == "sev1",
        };
        Severities::new(vec![sev("sev1"), sev("sev2"), sev("sev3"), sev("sev4")]).unwrap()
    }

    fn policy() -> EscalationPolicy {
        EscalationPolicy {
            emoji: BTreeMap::from([
                ("arrow_up".to_string(), EscalationRule::Up),
                ("rotating_light".to_string(), EscalationRule::To(key("sev1"))),
            ]),
            cooldown: TimeDelta::hours(1),
            per_person_limit: 2,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap()
    }

    fn request(severity: &str, state: State) -> Request {
        Request::sample(state, severity, now())
    }

    fn decide_for(severity: &str, state: State, reaction: &str, past: &[PastEscalation]) -> Decision {
        decide(
            &request(severity, state),
            reaction,
            "U1",
            &policy(),
            &severities(),
            past,
            now(),
        )
    }

    #[test]
    fn every_severity_state_and_emoji() {
        let sevs = ["sev1", "sev2", "sev3", "sev4"];
        for (i, sev) in sevs.iter().enumerate() {
            for state in State::ALL {
                for (emoji, expected_rank) in [("arrow_up", i.checked_sub(1)), ("rotating_light", (i > 0).then_some(0))]
                {
                    let got = decide_for(sev, state, emoji, &[]);
                    let want = if !state.is_open() {
                        Decision::Ignore(Ignored::Finished)
                    } else if state == State::Resolved {
                        Decision::Ignore(Ignored::Resolved)
                    } else {
                        match expected_rank {
                            Some(r) => Decision::Escalate { to: key(sevs[r]) },
                            None => Decision::Ignore(Ignored::NotHigher),
                        }
                    };
                    assert_eq!(got, want, "{sev} {state} {emoji}");
                }
                assert_eq!(
                    decide_for(sev, state, "tada", &[]),
                    Decision::Ignore(Ignored::NotEscalation)
                );
            }
        }
    }

    #[test]
    fn skin_tones_count_as_the_base_emoji() {
        assert_eq!(base_emoji("arrow_up::skin-tone-2"), "arrow_up");
        assert_eq!(
            decide_for("sev3", State::New, "arrow_up::skin-tone-5", &[]),
            Decision::Escalate { to: key("sev2") }
        );
    }

    #[test]
    fn one_person_escalates_once_per_level_within_limits() {
        let past = |to: &str, minutes_ago: i64| PastEscalation {
            user: "U1".into(),
            to: key(to),
            at: now() - TimeDelta::minutes(minutes_ago),
        };
        assert_eq!(
            decide_for("sev2", State::Triaged, "rotating_light", &[past("sev2", 120)]),
            Decision::Escalate { to: key("sev1") }
        );
        assert_eq!(
            decide_for("sev3", State::Triaged, "arrow_up", &[past("sev2", 120)]),
            Decision::Ignore(Ignored::AlreadyAtThisLevel)
        );
        assert_eq!(
            decide_for("sev2", State::Triaged, "arrow_up", &[past("sev2", 5)]),
            Decision::Ignore(Ignored::CoolingDown {
                until: now() + TimeDelta::minutes(55)
            })
        );
        assert_eq!(
            decide_for("sev3", State::Triaged, "rotating_light", &[past("sev1", 300)]),
            Decision::Ignore(Ignored::AlreadyAtThisLevel)
        );
        assert_eq!(
            decide_for(
                "sev4",
                State::New,
                "rotating_light",
                &[past("sev3", 300), past("sev2", 200)]
            ),
            Decision::Ignore(Ignored::LimitReached)
        );
        // Someone else's escalations do not count against this person.
        let other = PastEscalation {
            user: "U2".into(),
            to: key("sev2"),
            at: now(),
        };
        assert_eq!(
            decide_for("sev3", State::New, "arrow_up", &[other]),
            Decision::Escalate { to: key("sev2") }
        );
    }
}
