//! Filing a new request: the request, its audit row and the messages it
//! causes are written in one transaction, then the dispatcher is woken.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::app::AppState;
use crate::config::Settings;
use crate::domain::request::{NewRequest, Request, SlaDeadlines};
use crate::domain::severity::Severity;
use crate::domain::triage::{self, Notice, State};
use crate::outbox::{self, Method, OnSent, OutboundMessage};
use crate::scheduler::plan;
use crate::slack::blocks;
use crate::store::StoreError;
use crate::store::requests::{self, Origin};

/// Stores a validated request; `None` if this modal was already submitted.
pub async fn submit(
    state: &AppState,
    new: &NewRequest,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<Option<Request>, StoreError> {
    let settings = &state.settings;
    let severity = settings
        .severities
        .get(new.severity.as_str())
        .ok_or_else(|| StoreError::Corrupt(format!("severity {:?} is not configured", new.severity.as_str())))?;
    let deadlines = SlaDeadlines::for_severity(severity, now, &settings.calendar);
    let txn = state.store.write().await?;
    let first_reminder = plan::next_reminder(State::New, severity, &deadlines, settings, now);
    let Some(request) = requests::insert_new(&txn, new, deadlines, origin, first_reminder, now).await? else {
        return Ok(None);
    };
    for notice in triage::on_submit(severity) {
        outbox::enqueue(&txn, render(notice, &request, severity, settings), now).await?;
    }
    txn.commit().await?;
    state.outbox_wake.notify_one();
    metrics::counter!("intake_requests_submitted_total", "severity" => severity.key.as_str().to_string()).increment(1);
    Ok(Some(request))
}

fn addressed(mut payload: Value, channel: &str) -> Value {
    payload["channel"] = Value::String(channel.to_string());
    payload
}

/// Renders a notice into the outbox message that delivers it.
pub fn render(notice: Notice, request: &Request, severity: &Severity, settings: &Settings) -> OutboundMessage {
    let number = request.number;
    let post = |key: &str, channel: &str, payload: Value| OutboundMessage {
        request: Some(number),
        dedupe_key: format!("req:{}:{key}", number.0),
        method: Method::PostMessage,
        payload: addressed(payload, channel),
        on_sent: None,
    };
    match notice {
        Notice::IntakePost => OutboundMessage {
            on_sent: Some(OnSent::RecordIntakeMessage),
            ..post(
                "intake_post",
                settings.intake_channel.as_str(),
                blocks::intake_message(request, &settings.severities),
            )
        },
        // A user id as the channel posts to the app's DM with that person.
        Notice::SubmitterReceipt => post("receipt", &request.submitter, blocks::receipt_dm(request, severity)),
        // The same key for a critical submission and an escalation to
        // critical: on-call is paged once per request.
        Notice::OncallAlert => OutboundMessage {
            on_sent: Some(OnSent::RecordOncallMessage),
            ..post(
                "oncall",
                settings.oncall_channel.as_str(),
                blocks::oncall_alert(request, severity, settings.oncall_usergroup.as_deref()),
            )
        },
    }
}
