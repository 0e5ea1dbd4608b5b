//! Filing a new request: the request, its audit row and the messages it
//! causes are written in one transaction, then the dispatcher is woken.
//!
//! Submissions that arrive together share that transaction (group commit,
//! `store::batch`): everything waiting is stored in three statements and one
//! commit, then each submitter's handler is answered. On SQLite, where
//! writes take turns, a transaction per submission capped filing near 500 a
//! second (BENCHMARKS.md).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::Notify;
use tracing::warn;

use crate::app::AppState;
use crate::config::Settings;
use crate::domain::request::{NewRequest, Request, SlaDeadlines};
use crate::domain::severity::Severity;
use crate::domain::triage::{self, Notice, State};
use crate::outbox::{self, Method, OnSent, OutboundMessage};
use crate::scheduler::plan;
use crate::slack::blocks;
use crate::store::batch::Batcher;
use crate::store::requests::{self, Filing, Origin};
use crate::store::{Store, StoreError};

/// Stores a validated request; `None` if this modal was already submitted.
pub async fn submit(
    state: &AppState,
    new: &NewRequest,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<Option<Request>, StoreError> {
    let settings = &state.settings;
    let severity = severity_of(settings, new.severity.as_str())?;
    let deadlines = SlaDeadlines::for_severity(severity, now, &settings.calendar);
    let filing = Filing {
        new: new.clone(),
        origin: origin.clone(),
        next_reminder_at: plan::next_reminder(State::New, severity, &deadlines, settings, now),
        deadlines,
        at: now,
    };
    state.filer.file(filing).await
}

fn severity_of<'a>(settings: &'a Settings, key: &str) -> Result<&'a Severity, StoreError> {
    settings
        .severities
        .get(key)
        .ok_or_else(|| StoreError::Corrupt(format!("severity {key:?} is not configured")))
}

/// The filing tasks' front door (see the module doc).
#[derive(Clone)]
pub struct Filer(Batcher<Filing, Option<Request>>);

/// Most submissions one commit stores.
const FILING_BATCH: usize = 64;

impl Filer {
    /// Starts the filing tasks on the current runtime; they end when the
    /// last `Filer` is dropped.
    pub fn start(settings: Arc<Settings>, store: Store, outbox_wake: Arc<Notify>) -> Self {
        let workers = store.concurrent_writes();
        Self(Batcher::start("filing", workers, FILING_BATCH, move |filings| {
            let (settings, store, outbox_wake) = (settings.clone(), store.clone(), outbox_wake.clone());
            async move { file_batch(&settings, &store, &outbox_wake, filings).await }
        }))
    }

    /// Stores one filing with whatever else is waiting; returns once it is
    /// committed.
    async fn file(&self, filing: Filing) -> Result<Option<Request>, StoreError> {
        self.0.submit(filing).await
    }
}

/// Files a batch together; if that fails, each alone, so one bad
/// submission cannot fail the others.
async fn file_batch(
    settings: &Settings,
    store: &Store,
    outbox_wake: &Notify,
    filings: Vec<Filing>,
) -> Vec<Result<Option<Request>, String>> {
    let outcomes: Vec<Result<Option<Request>, StoreError>> = match file_together(settings, store, &filings).await {
        Ok(stored) => stored.into_iter().map(Ok).collect(),
        Err(e) if filings.len() > 1 => {
            warn!(error = %e, count = filings.len(), "filing a batch failed; filing each alone");
            let mut outcomes = Vec::with_capacity(filings.len());
            for filing in &filings {
                let alone = file_together(settings, store, std::slice::from_ref(filing)).await;
                outcomes.push(alone.map(|mut stored| stored.pop().flatten()));
            }
            outcomes
        }
        Err(e) => vec![Err(e)],
    };
    let mut filed = false;
    for request in outcomes.iter().flatten().flatten() {
        filed = true;
        metrics::counter!("intake_requests_submitted_total", "severity" => request.severity.as_str().to_string())
            .increment(1);
    }
    if filed {
        outbox_wake.notify_one();
    }
    outcomes.into_iter().map(|o| o.map_err(|e| e.to_string())).collect()
}

/// Stores filings with their audit rows and the messages they cause, in one
/// transaction.
async fn file_together(
    settings: &Settings,
    store: &Store,
    filings: &[Filing],
) -> Result<Vec<Option<Request>>, StoreError> {
    let txn = store.write().await?;
    let stored = requests::insert_new(&txn, filings).await?;
    let mut messages = Vec::new();
    for request in stored.iter().flatten() {
        let severity = severity_of(settings, request.severity.as_str())?;
        for notice in triage::on_submit(severity) {
            messages.push(render(notice, request, severity, settings));
        }
    }
    let now = filings.iter().map(|f| f.at).max().unwrap_or_else(Utc::now);
    outbox::enqueue_posts(&txn, messages, now).await?;
    txn.commit().await?;
    Ok(stored)
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
