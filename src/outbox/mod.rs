//! The outbox's vocabulary: what a message to Slack is before it is sent.
//!
//! A message is a row written in the same transaction as the change that
//! caused it (`store::outbox`), under a deterministic [`DedupeKey`]
//! (unique), so a retried handler or a second click cannot enqueue it twice
//! and a crash after the commit only delays it. `workers::dispatcher`
//! claims due rows with a lease and sends them; rows of one request go out
//! in the order they were written. Types only: no I/O here.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use crate::domain::reminders::{Permille, SlaKind};
use crate::domain::request::{PostKind, RequestNumber};

/// The Web API method a message is sent with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    PostMessage,
    UpdateMessage,
    PostEphemeral,
    /// A person's App Home, rendered when it is sent (the payload names
    /// only the person), so a burst of changes costs one publish.
    PublishHome,
    /// An issue created in the tracker, then the Accept step it was for
    /// (the payload is an [`IssueOrder`]).
    CreateIssue,
}

/// What a [`Method::CreateIssue`] row carries: who accepted, where to
/// create the issue, and where to tell them if the tracker refuses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssueOrder {
    /// `jira` or `github`.
    pub tracker: String,
    /// Who clicked Accept.
    pub by: String,
    pub expectation: Option<String>,
    /// Where they accepted (a channel, or their id for a DM).
    pub channel: String,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PostMessage => "chat.postMessage",
            Self::UpdateMessage => "chat.update",
            Self::PostEphemeral => "chat.postEphemeral",
            Self::PublishHome => "views.publish",
            Self::CreateIssue => "tracker.create_issue",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [
            Self::PostMessage,
            Self::UpdateMessage,
            Self::PostEphemeral,
            Self::PublishHome,
            Self::CreateIssue,
        ]
        .into_iter()
        .find(|m| m.as_str() == value)
    }
}

/// Filled by the dispatcher with the ts of the request's card: a payload
/// holding it follows the card wherever it is (a refresh of "the card"),
/// one without it is addressed to one message (a moved card's last word).
pub const INTAKE_TS: &str = "<intake:ts>";

/// Which message of a triage step a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepMessage {
    /// The card, re-rendered.
    Card,
    /// The line in the card's thread.
    Thread,
    Submitter,
    Owner,
    PreviousOwner,
    /// The on-call page a step caused.
    Oncall,
    /// A moved request's old card, saying where it went.
    MovedFrom,
    /// A moved request's card in its new team's channel.
    MovedTo,
}

/// The unique key of one message: the same cause always makes the same
/// key, so the second attempt to enqueue it is a no-op. One constructor
/// per kind of message; the strings are stored, so they never change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DedupeKey(String);

impl DedupeKey {
    /// A new request's card in the intake channel.
    pub fn intake_post(number: RequestNumber) -> Self {
        Self(format!("req:{}:intake_post", number.0))
    }

    /// The request's card posted again (`intake repost`, *Post again*):
    /// the `nth` intake post of the request (the first is [`Self::intake_post`]).
    pub fn intake_repost(number: RequestNumber, nth: usize) -> Self {
        Self(format!("req:{}:intake_post:repost:{nth}", number.0))
    }

    /// A message that died for want of the card, sent again after the
    /// `nth` intake post.
    pub fn after_repost(dead: &DedupeKey, nth: usize) -> Self {
        Self(format!("{}:repost:{nth}", dead.0))
    }

    /// Telling `recipient` (a triager, or `escalation` for the escalation
    /// channel) that the intake post `failed_row` (an outbox id) died.
    pub fn intake_failed(number: RequestNumber, failed_row: i64, recipient: &str) -> Self {
        Self(format!("req:{}:intake_failed:{failed_row}:{recipient}", number.0))
    }

    /// The submitter's receipt DM.
    pub fn receipt(number: RequestNumber) -> Self {
        Self(format!("req:{}:receipt", number.0))
    }

    /// "Filed as #N" under the message a request was filed from.
    pub fn filed_reply(number: RequestNumber) -> Self {
        Self(format!("req:{}:filed-reply", number.0))
    }

    /// Told instead of a message refused for good (`dead`: its key).
    pub fn instead_of(dead: &str) -> Self {
        Self(format!("{dead}:instead"))
    }

    /// The tracker issue an Accept at `version` asked for: created once.
    pub fn create_issue(number: RequestNumber, version: i32) -> Self {
        Self(format!("req:{}:v{version}:issue", number.0))
    }

    /// Marks tracker webhook delivery `id` (from `source`: `jira`,
    /// `github`) as applied to request `number`: a retried delivery finds
    /// its key taken and changes nothing.
    pub fn webhook_delivery(source: &str, id: &str, number: RequestNumber) -> Self {
        let id: String = id.chars().filter(|c| c.is_ascii_graphic()).take(100).collect();
        Self(format!("webhook:{source}:{id}:req:{}", number.0))
    }

    /// The owner asked about an issue closed as not planned: once per
    /// version of the request.
    pub fn tracker_not_planned(number: RequestNumber, version: i32) -> Self {
        Self(format!("req:{}:v{version}:tracker_not_planned", number.0))
    }

    /// The on-call page: one key per request, whether a critical
    /// submission or a later step caused it, so on-call is paged once.
    pub fn oncall_page(number: RequestNumber) -> Self {
        Self(format!("req:{}:oncall", number.0))
    }

    /// A message caused by the step that made `version`.
    pub fn step(number: RequestNumber, version: i32, message: StepMessage) -> Self {
        match message {
            StepMessage::Oncall => Self::oncall_page(number),
            StepMessage::Card => Self(format!("req:{}:v{version}:card", number.0)),
            StepMessage::Thread => Self(format!("req:{}:v{version}:thread", number.0)),
            StepMessage::Submitter => Self(format!("req:{}:v{version}:submitter", number.0)),
            StepMessage::Owner => Self(format!("req:{}:v{version}:owner", number.0)),
            StepMessage::PreviousOwner => Self(format!("req:{}:v{version}:previous_owner", number.0)),
            StepMessage::MovedFrom => Self(format!("req:{}:v{version}:moved_from", number.0)),
            StepMessage::MovedTo => Self(format!("req:{}:v{version}:moved_to", number.0)),
        }
    }

    /// The card refresh after "+1"s moved the demand to `version`.
    pub fn demand_refresh(number: RequestNumber, version: i32) -> Self {
        Self(format!("req:{}:v{version}:demand", number.0))
    }

    /// The card re-rendered as stored after a refused pick in one of its
    /// selects (the interaction's trigger id).
    pub fn card_restore(number: RequestNumber, interaction: &str) -> Self {
        Self(format!("req:{}:restore:{interaction}", number.0))
    }

    /// The thread line saying that the DM in outbox row `dead` (marked
    /// dead) could not reach its recipient.
    pub fn unreachable(number: RequestNumber, dead: i64) -> Self {
        Self(format!("req:{}:unreachable:{dead}", number.0))
    }

    /// The card refresh showing that the owner the DM in outbox row `dead`
    /// was for cannot be reached.
    pub fn unreachable_owner_card(number: RequestNumber, dead: i64) -> Self {
        Self(format!("req:{}:unreachable:{dead}:card", number.0))
    }

    /// An ephemeral explanation for one interaction (its trigger id), so a
    /// retried click explains once.
    pub fn explanation(interaction: &str) -> Self {
        Self(format!("ephemeral:{interaction}"))
    }

    /// Why a reaction (Slack event `event_id`) escalated nothing.
    pub fn reaction_explanation(event_id: &str) -> Self {
        Self::explanation(&format!("react:{event_id}"))
    }

    /// An SLA reminder (or, at the breach, the breach notice) of the
    /// request's SLA `cycle` (the first cycle's keys carry no suffix, as
    /// before cycles were counted).
    pub fn reminder(number: RequestNumber, kind: SlaKind, threshold: Permille, cycle: i32) -> Self {
        let base = format!("sla:{}:{}:{threshold}", number.0, kind.as_str());
        match cycle {
            0 => Self(base),
            n => Self(format!("{base}:c{n}")),
        }
    }

    /// The copy of a breach notice in the escalation channel.
    pub fn breach_escalation(number: RequestNumber, kind: SlaKind, threshold: Permille, cycle: i32) -> Self {
        Self(format!(
            "{}:escalation",
            Self::reminder(number, kind, threshold, cycle).0
        ))
    }

    /// The follow-up DM after the resolution made at `resolved_at`.
    pub fn followup(number: RequestNumber, resolved_at: Option<DateTime<Utc>>) -> Self {
        Self(format!(
            "followup:{}:{}",
            number.0,
            resolved_at.map_or(0, |r| r.timestamp())
        ))
    }

    /// The refresh of `user`'s App Home waiting to be sent: one at a time,
    /// so a burst of changes queues one (it is rendered when sent). The
    /// dispatcher renames it ([`Self::home_sent`]) before rendering, so a
    /// change after that queues the next.
    pub fn home_waiting(user: &str) -> Self {
        Self(format!("home:{user}:waiting"))
    }

    /// A Home refresh taken by the dispatcher (outbox row `id`).
    pub fn home_sent(user: &str, id: i64) -> Self {
        Self(format!("home:{user}:{id}"))
    }

    /// A person's reply (message `ts` in `channel`) relayed to the other
    /// side of a request's conversation: one message, whatever event
    /// delivers it and however often.
    pub fn relay(channel: &str, ts: &str) -> Self {
        Self(format!("relay:{channel}:{ts}"))
    }

    /// The scheduled digest of one local date.
    pub fn digest(date: NaiveDate) -> Self {
        Self(format!("digest:{date}"))
    }

    /// One team's digest, beside the digest this key names.
    pub fn of_team(&self, team: &str) -> Self {
        Self(format!("{}:team:{team}", self.0))
    }

    /// A digest posted by hand (`intake digest`).
    pub fn manual_digest(at: DateTime<Utc>) -> Self {
        Self(format!("digest:manual:{}", at.to_rfc3339()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key read back from storage.
    pub fn stored(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Display for DedupeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message to enqueue. `payload` is the Web API request body (channel,
/// text, blocks, …), rendered by the Slack adapter when the change happened.
#[derive(Debug, Clone)]
pub struct OutboundMessage {
    pub request: Option<RequestNumber>,
    pub dedupe_key: DedupeKey,
    pub method: Method,
    pub payload: Value,
    /// For a request's post: remember where it went, as this post.
    pub records: Option<PostKind>,
}

impl OutboundMessage {
    /// A `chat.postMessage` about `request` (or about none).
    pub fn post(request: Option<RequestNumber>, dedupe_key: DedupeKey, payload: Value) -> Self {
        Self {
            request,
            dedupe_key,
            method: Method::PostMessage,
            payload,
            records: None,
        }
    }

    /// The request's card, re-rendered, as a `chat.update`.
    pub fn card_update(request: RequestNumber, dedupe_key: DedupeKey, payload: Value) -> Self {
        Self {
            method: Method::UpdateMessage,
            ..Self::post(Some(request), dedupe_key, payload)
        }
    }

    /// A `chat.postEphemeral`: only one person sees it.
    pub fn ephemeral(dedupe_key: DedupeKey, payload: Value) -> Self {
        Self {
            method: Method::PostEphemeral,
            ..Self::post(None, dedupe_key, payload)
        }
    }

    /// A refresh of `user`'s App Home.
    pub fn home(user: &str) -> Self {
        Self {
            method: Method::PublishHome,
            // The payload is only whose Home: it is rendered when sent.
            ..Self::post(None, DedupeKey::home_waiting(user), Value::String(user.to_string()))
        }
    }

    /// The tracker issue for request `number`, then its Accept step.
    pub fn create_issue(number: RequestNumber, version: i32, order: &IssueOrder) -> Self {
        Self {
            method: Method::CreateIssue,
            ..Self::post(
                Some(number),
                DedupeKey::create_issue(number, version),
                serde_json::to_value(order).unwrap_or_default(),
            )
        }
    }

    /// A post whose address the request keeps (its card, its on-call page).
    pub fn recording(self, post: PostKind) -> Self {
        Self {
            records: Some(post),
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_keep_the_shapes_already_stored() {
        let n = RequestNumber(42);
        assert_eq!(DedupeKey::intake_post(n).as_str(), "req:42:intake_post");
        assert_eq!(DedupeKey::step(n, 3, StepMessage::Card).as_str(), "req:42:v3:card");
        assert_eq!(DedupeKey::step(n, 3, StepMessage::Oncall).as_str(), "req:42:oncall");
        assert_eq!(
            DedupeKey::breach_escalation(n, SlaKind::Resolution, 1000, 0).as_str(),
            "sla:42:resolution:1000:escalation"
        );
        assert_eq!(
            DedupeKey::reminder(n, SlaKind::Response, 500, 2).as_str(),
            "sla:42:response:500:c2"
        );
        assert_eq!(DedupeKey::reaction_explanation("Ev1").as_str(), "ephemeral:react:Ev1");
        assert_eq!(DedupeKey::followup(n, None).as_str(), "followup:42:0");
        assert_eq!(DedupeKey::unreachable(n, 7).as_str(), "req:42:unreachable:7");
        assert_eq!(
            DedupeKey::unreachable_owner_card(n, 7).as_str(),
            "req:42:unreachable:7:card"
        );
        assert_eq!(
            DedupeKey::relay("C0INTAKE01", "1.000200").as_str(),
            "relay:C0INTAKE01:1.000200"
        );
        assert_eq!(DedupeKey::intake_repost(n, 1).as_str(), "req:42:intake_post:repost:1");
        assert_eq!(
            DedupeKey::after_repost(&DedupeKey::step(n, 3, StepMessage::Thread), 1).as_str(),
            "req:42:v3:thread:repost:1"
        );
        assert_eq!(
            DedupeKey::intake_failed(n, 7, "U0TRIAGE01").as_str(),
            "req:42:intake_failed:7:U0TRIAGE01"
        );
    }
}
