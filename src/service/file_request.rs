//! Filing a new request: the request, its audit row and the messages it
//! causes are written in one transaction, then the dispatcher is woken.
//!
//! Submissions that arrive together share that transaction (group commit,
//! `store::batch`): everything waiting is stored in three statements and one
//! commit, then each submitter's handler is answered. On SQLite, where
//! writes take turns, a transaction per submission capped filing near 500 a
//! second (BENCHMARKS.md).

use chrono::{DateTime, Utc};
use tracing::{Span, info, warn};

use crate::config::Settings;
use crate::context::{Context, Outbox};
use crate::domain::request::{NewRequest, PostKind, Request, SlaDeadlines};
use crate::domain::schedule;
use crate::domain::severity::Severity;
use crate::domain::state::State;
use crate::domain::triage::{self, Notice};
use crate::outbox::{DedupeKey, OutboundMessage};
use crate::slack::Reply;
use crate::slack::inbound::RequestSubmission;
use crate::slack::render::{self, replies};
use crate::store::batch::Batcher;
use crate::store::requests::{self, Filing, Origin};
use crate::store::{Store, StoreError};

/// The /request modal was submitted: validate, file, ack.
pub async fn submitted(ctx: &Context, filer: &Filer, submission: RequestSubmission) -> Reply {
    let user = submission.user;
    Span::current().record("user", user.as_str());
    let new = match NewRequest::validate(&submission.form, &user, &ctx.settings.policy.severities) {
        Ok(new) => new,
        Err(errors) => return Reply::Json(render::field_errors(&errors)),
    };
    let unshowable = render::too_long_to_show(&new);
    if !unshowable.0.is_empty() {
        return Reply::Json(render::field_errors(&unshowable));
    }
    let origin = Origin {
        view_id: submission.view_id,
        source_channel: submission.source_channel,
        source_message: submission.source_message,
        filed_by: None,
    };
    match file(ctx, filer, &new, &origin, Utc::now()).await {
        Ok(Some(request)) => {
            Span::current().record("request", request.number.0);
            info!(
                request = request.number.0,
                severity = request.severity.as_str(),
                "request filed"
            );
            Reply::Ack
        }
        Ok(None) => {
            info!("modal submitted again; the request was already filed");
            Reply::Ack
        }
        Err(e) => {
            tracing::error!(error = %e, "could not store a request");
            Reply::Json(replies::request_not_saved())
        }
    }
}

/// Stores a validated request; `None` if this modal was already submitted.
pub async fn file(
    ctx: &Context,
    filer: &Filer,
    new: &NewRequest,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<Option<Request>, StoreError> {
    filer.0.submit(filing(&ctx.settings, new, origin, now)?).await
}

/// Stores one request now, in its own transaction (the reaction worker's
/// path: nobody waits on it, so it need not join a batch).
pub async fn file_alone(
    ctx: &Context,
    new: &NewRequest,
    origin: &Origin,
    now: DateTime<Utc>,
) -> Result<Option<Request>, StoreError> {
    let filing = filing(&ctx.settings, new, origin, now)?;
    let stored = file_together(&ctx.settings, &ctx.store, std::slice::from_ref(&filing))
        .await?
        .pop()
        .flatten();
    if let Some(request) = &stored {
        count_filed(request);
        ctx.outbox.wake();
    }
    Ok(stored)
}

/// A validated request with its deadlines, ready to store: it belongs to
/// the team that owns its area, and runs that team's SLA.
fn filing(settings: &Settings, new: &NewRequest, origin: &Origin, now: DateTime<Utc>) -> Result<Filing, StoreError> {
    let team = settings.team_for_area(new.area.as_deref());
    let policy = settings.policy_of(&team.key);
    let severity = severity_of(settings, &team.key, new.severity.as_str())?;
    let deadlines = SlaDeadlines::for_severity(severity, now, &policy.calendar);
    Ok(Filing {
        new: new.clone(),
        origin: origin.clone(),
        next_reminder_at: schedule::next_reminder(State::New, severity, &deadlines, policy, now),
        deadlines,
        at: now,
        team: team.key.clone(),
    })
}

fn count_filed(request: &Request) {
    metrics::counter!("intake_requests_submitted_total", "severity" => request.severity.as_str().to_string())
        .increment(1);
}

/// A severity in a team's table.
fn severity_of<'a>(settings: &'a Settings, team: &str, key: &str) -> Result<&'a Severity, StoreError> {
    settings
        .policy_of(team)
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
    pub fn start(ctx: &Context) -> Self {
        let (settings, store, outbox) = (ctx.settings.clone(), ctx.store.clone(), ctx.outbox.clone());
        let workers = store.concurrent_writes();
        Self(Batcher::start("filing", workers, FILING_BATCH, move |filings| {
            let (settings, store, outbox) = (settings.clone(), store.clone(), outbox.clone());
            async move { file_batch(&settings, &store, &outbox, filings).await }
        }))
    }
}

/// Files a batch together; if that fails, each alone, so one bad
/// submission cannot fail the others.
async fn file_batch(
    settings: &Settings,
    store: &Store,
    outbox: &Outbox,
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
        count_filed(request);
    }
    if filed {
        outbox.wake();
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
    for (filing, request) in filings.iter().zip(&stored) {
        let Some(request) = request else { continue };
        let severity = severity_of(settings, &request.team, request.severity.as_str())?;
        for notice in triage::on_submit(severity) {
            messages.push(match (notice, &filing.origin.filed_by) {
                // Filed for them: the receipt says by whom, and offers Edit.
                (Notice::SubmitterReceipt, Some(by)) => OutboundMessage::post(
                    Some(request.number),
                    DedupeKey::receipt(request.number),
                    render::receipt_dm_filed_for(request, severity, settings.team(&request.team), by),
                )
                .recording(PostKind::Receipt),
                _ => notice_message(notice, request, severity, settings),
            });
        }
        if let Some(message) = &filing.origin.source_message {
            // After the card in the request's chain, so it can link to it.
            messages.push(OutboundMessage::post(
                Some(request.number),
                DedupeKey::filed_reply(request.number),
                render::filed_reply(request, message),
            ));
        }
    }
    let now = filings.iter().map(|f| f.at).max().unwrap_or_else(Utc::now);
    crate::store::outbox::enqueue_posts(&txn, messages, now).await?;
    let submitters = stored.iter().flatten().map(|r| r.submitter.as_str());
    crate::store::outbox::enqueue_homes(&txn, submitters, now).await?;
    txn.commit().await?;
    Ok(stored)
}

/// The outbox message that delivers a notice about a new (or newly
/// critical) request.
pub fn notice_message(notice: Notice, request: &Request, severity: &Severity, settings: &Settings) -> OutboundMessage {
    let number = request.number;
    let team = settings.team(&request.team);
    match notice {
        Notice::IntakePost => OutboundMessage::post(
            Some(number),
            DedupeKey::intake_post(number),
            render::intake_post(request, &settings.teams),
        )
        .recording(PostKind::Intake),
        Notice::SubmitterReceipt => OutboundMessage::post(
            Some(number),
            DedupeKey::receipt(number),
            render::receipt_dm(request, severity, team),
        )
        .recording(PostKind::Receipt),
        Notice::OncallAlert => OutboundMessage::post(
            Some(number),
            DedupeKey::oncall_page(number),
            render::oncall_alert(
                request,
                severity,
                // A team without its own on-call channel pages the global one.
                team.oncall_channel
                    .as_deref()
                    .unwrap_or(settings.oncall_channel.as_str()),
                team.oncall_usergroup.as_deref(),
            ),
        )
        .recording(PostKind::Oncall),
    }
}
