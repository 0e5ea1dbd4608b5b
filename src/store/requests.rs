//! Requests and their append-only event log.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use super::StoreError;
use super::entities::{request, request_event};
use crate::domain::request::{NewRequest, Request, RequestKind, RequestNumber, SlaDeadlines};
use crate::domain::severity::SeverityKey;
use crate::domain::triage::State;

/// Where a submission came from: the modal (whose id makes it idempotent)
/// and the channel the person typed `/request` in.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub view_id: String,
    pub source_channel: Option<String>,
}

/// A validated submission to store.
#[derive(Debug, Clone)]
pub struct Filing {
    pub new: NewRequest,
    pub origin: Origin,
    pub deadlines: SlaDeadlines,
    pub next_reminder_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

/// Inserts new requests in state `new`, each with its "submitted" audit
/// row, in two statements however many there are. For each filing, the
/// stored request, or `None` if its modal was already submitted (Slack
/// retried, the person clicked twice, or it is twice in this batch).
///
/// Written without a read first: a read-then-write SQLite transaction can
/// fail at once when another writer committed in between. The unique view
/// id turns a second submission of the same modal into a no-op.
pub async fn insert_new(conn: &impl ConnectionTrait, filings: &[Filing]) -> Result<Vec<Option<Request>>, StoreError> {
    let mut distinct = std::collections::HashSet::new();
    let rows: Vec<request::ActiveModel> = filings
        .iter()
        .filter(|f| distinct.insert(f.origin.view_id.as_str()))
        .map(|f| request::ActiveModel {
            kind: Set(f.new.kind.as_str().to_string()),
            title: Set(f.new.title.as_str().to_string()),
            description: Set(f.new.description.clone()),
            area: Set(f.new.area.clone()),
            link: Set(f.new.link.as_ref().map(|l| l.as_str().to_string())),
            severity: Set(f.new.severity.as_str().to_string()),
            state: Set(State::New.as_str().to_string()),
            submitter: Set(f.new.submitter.clone()),
            owner: Set(None),
            source_channel: Set(f.origin.source_channel.clone()),
            view_id: Set(Some(f.origin.view_id.clone())),
            response_due_at: Set(f.deadlines.response_due),
            resolution_due_at: Set(f.deadlines.resolution_due),
            intake_channel: Set(None),
            intake_ts: Set(None),
            version: Set(0),
            created_at: Set(f.at),
            updated_at: Set(f.at),
            next_reminder_at: Set(f.next_reminder_at),
            ..Default::default()
        })
        .collect();
    let inserted = request::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([request::Column::ViewId])
        .exec_with_returning_many(conn)
        .await?;
    let inserted = match inserted {
        sea_orm::TryInsertResult::Inserted(models) => models,
        _ => Vec::new(),
    };
    // RETURNING promises no order: match rows to filings by view id.
    let mut by_view: std::collections::HashMap<String, Request> = std::collections::HashMap::new();
    for model in inserted {
        let view_id = model.view_id.clone().unwrap_or_default();
        by_view.insert(view_id, to_domain(model)?);
    }
    let stored: Vec<Option<Request>> = filings.iter().map(|f| by_view.remove(&f.origin.view_id)).collect();
    let audit: Vec<request_event::ActiveModel> = stored
        .iter()
        .flatten()
        .map(|request| {
            event_row(
                request.number,
                &request.submitter,
                "submitted",
                None,
                State::New,
                &serde_json::json!({}),
                request.created_at,
            )
        })
        .collect();
    if !audit.is_empty() {
        request_event::Entity::insert_many(audit)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(stored)
}

/// One row of the audit log; never updated or deleted.
#[allow(clippy::too_many_arguments)]
pub async fn append_event(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
    actor: &str,
    kind: &str,
    from: Option<State>,
    to: State,
    payload: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    event_row(number, actor, kind, from, to, &payload, at)
        .insert(conn)
        .await?;
    Ok(())
}

fn event_row(
    number: RequestNumber,
    actor: &str,
    kind: &str,
    from: Option<State>,
    to: State,
    payload: &serde_json::Value,
    at: DateTime<Utc>,
) -> request_event::ActiveModel {
    request_event::ActiveModel {
        request_id: Set(number.0),
        at: Set(at),
        actor: Set(actor.to_string()),
        kind: Set(kind.to_string()),
        from_state: Set(from.map(|s| s.as_str().to_string())),
        to_state: Set(to.as_str().to_string()),
        payload: Set(payload.to_string()),
        ..Default::default()
    }
}

pub async fn find(conn: &impl ConnectionTrait, number: RequestNumber) -> Result<Option<Request>, StoreError> {
    request::Entity::find_by_id(number.0)
        .one(conn)
        .await?
        .map(to_domain)
        .transpose()
}

/// The intake message of a request, once posted: `(channel, ts)`.
pub async fn intake_message(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
) -> Result<Option<(String, String)>, StoreError> {
    let row = request::Entity::find_by_id(number.0)
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound(number.0))?;
    Ok(row.intake_channel.zip(row.intake_ts))
}

/// Which of a request's posts a message address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Post {
    /// The card in the intake channel: updated in place, reactions count.
    Intake,
    /// The on-call post: reactions count.
    Oncall,
}

/// Remembers where a request's post went, so it can be updated in place and
/// reactions on it can be matched to the request.
pub async fn set_post(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
    post: Post,
    channel: &str,
    ts: &str,
) -> Result<(), StoreError> {
    let (channel_column, ts_column) = match post {
        Post::Intake => (request::Column::IntakeChannel, request::Column::IntakeTs),
        Post::Oncall => (request::Column::OncallChannel, request::Column::OncallTs),
    };
    request::Entity::update_many()
        .col_expr(channel_column, channel.into())
        .col_expr(ts_column, ts.into())
        .filter(request::Column::Id.eq(number.0))
        .exec(conn)
        .await?;
    Ok(())
}

/// A triage step to store: the request as it becomes.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub before: &'a Request,
    pub after: &'a Request,
    pub actor: &'a str,
    pub event: &'a str,
    pub payload: serde_json::Value,
    pub schedule: Schedule,
}

/// When the scheduler must next look at a request (see `scheduler`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Schedule {
    pub next_reminder_at: Option<DateTime<Utc>>,
    pub followup_at: Option<DateTime<Utc>>,
    pub auto_close_at: Option<DateTime<Utc>>,
}

/// Writes a triage step if the request is still at the version it was read
/// at; `false` if someone changed it first (the caller re-reads and retries
/// or tells the person). Appends the audit row in the same transaction.
pub async fn apply_change(
    conn: &impl ConnectionTrait,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let after = change.after;
    let update = request::Entity::update_many()
        .col_expr(request::Column::State, after.state.as_str().into())
        .col_expr(request::Column::Owner, after.owner.clone().into())
        .col_expr(request::Column::Severity, after.severity.as_str().into())
        .col_expr(request::Column::ResponseDueAt, after.deadlines.response_due.into())
        .col_expr(request::Column::ResolutionDueAt, after.deadlines.resolution_due.into())
        .col_expr(request::Column::Tracker, after.tracker.clone().into())
        .col_expr(request::Column::RevisitOn, after.revisit_on.into())
        .col_expr(request::Column::Version, Expr::col(request::Column::Version).add(1))
        .col_expr(request::Column::UpdatedAt, now.into())
        .col_expr(request::Column::ResolvedAt, after.resolved_at.into())
        .col_expr(request::Column::SlaPausedAt, after.sla_paused_at.into())
        .col_expr(request::Column::NextReminderAt, change.schedule.next_reminder_at.into())
        .col_expr(request::Column::FollowupAt, change.schedule.followup_at.into())
        .col_expr(request::Column::AutoCloseAt, change.schedule.auto_close_at.into());
    // A different SLA starts running (triage done) or stops: its reminders start over.
    let update = if crate::domain::reminders::running_sla(change.before.state)
        != crate::domain::reminders::running_sla(after.state)
    {
        update.col_expr(request::Column::SlaStage, 0.into())
    } else {
        update
    };
    let result = update
        .filter(request::Column::Id.eq(after.number.0))
        .filter(request::Column::Version.eq(change.before.version))
        .exec(conn)
        .await?;
    if result.rows_affected == 0 {
        return Ok(false);
    }
    append_event(
        conn,
        after.number,
        change.actor,
        change.event,
        Some(change.before.state),
        after.state,
        change.payload,
        now,
    )
    .await?;
    Ok(true)
}

/// Open requests filed by `submitter`, newest first.
pub async fn open_for_submitter(
    conn: &impl ConnectionTrait,
    submitter: &str,
    limit: u64,
) -> Result<Vec<Request>, StoreError> {
    use sea_orm::QueryOrder;
    let query = request::Entity::find()
        .filter(request::Column::Submitter.eq(submitter))
        .order_by_desc(request::Column::Id);
    open_requests(conn, query, limit).await
}

/// The triage queue: every open request, oldest first.
pub async fn open_queue(conn: &impl ConnectionTrait, limit: u64) -> Result<Vec<Request>, StoreError> {
    use sea_orm::QueryOrder;
    open_requests(conn, request::Entity::find().order_by_asc(request::Column::Id), limit).await
}

async fn open_requests(
    conn: &impl ConnectionTrait,
    query: sea_orm::Select<request::Entity>,
    limit: u64,
) -> Result<Vec<Request>, StoreError> {
    const FINISHED: [&str; 2] = ["rejected", "closed"];
    query
        .filter(request::Column::State.is_not_in(FINISHED))
        .limit(limit)
        .all(conn)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

/// A request's audit log, oldest first.
pub async fn history(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
) -> Result<Vec<request_event::Model>, StoreError> {
    use sea_orm::QueryOrder;
    Ok(request_event::Entity::find()
        .filter(request_event::Column::RequestId.eq(number.0))
        .order_by_asc(request_event::Column::Id)
        .all(conn)
        .await?)
}

/// Is `channel`/`ts` a request's intake or on-call message?
pub async fn is_request_message(conn: &impl ConnectionTrait, channel: &str, ts: &str) -> Result<bool, StoreError> {
    Ok(request::Entity::find()
        .select_only()
        .column(request::Column::Id)
        .filter(message_is(channel, ts))
        .into_tuple::<i64>()
        .one(conn)
        .await?
        .is_some())
}

fn message_is(channel: &str, ts: &str) -> sea_orm::Condition {
    use sea_orm::Condition;
    let intake = Condition::all()
        .add(request::Column::IntakeChannel.eq(channel))
        .add(request::Column::IntakeTs.eq(ts));
    let oncall = Condition::all()
        .add(request::Column::OncallChannel.eq(channel))
        .add(request::Column::OncallTs.eq(ts));
    Condition::any().add(intake).add(oncall)
}

/// The request whose intake or on-call message is `channel`/`ts`.
pub async fn find_by_message(
    conn: &impl ConnectionTrait,
    channel: &str,
    ts: &str,
) -> Result<Option<Request>, StoreError> {
    request::Entity::find()
        .filter(message_is(channel, ts))
        .one(conn)
        .await?
        .map(to_domain)
        .transpose()
}

/// Earlier emoji escalations of a request, from its audit log.
pub async fn past_escalations(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
) -> Result<Vec<crate::domain::escalation::PastEscalation>, StoreError> {
    let rows = request_event::Entity::find()
        .filter(request_event::Column::RequestId.eq(number.0))
        .filter(request_event::Column::Kind.eq("escalate"))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let payload: serde_json::Value = serde_json::from_str(&row.payload).ok()?;
            let to = SeverityKey::new(payload.get("severity")?.as_str()?).ok()?;
            Some(crate::domain::escalation::PastEscalation {
                user: row.actor,
                to,
                at: row.at,
            })
        })
        .collect())
}

/// Records who reacted with `emoji` (demand); false if already recorded.
pub async fn add_reaction(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
    user: &str,
    emoji: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    use super::entities::request_reaction;
    let row = request_reaction::ActiveModel {
        request_id: Set(number.0),
        user_id: Set(user.to_string()),
        emoji: Set(emoji.to_string()),
        at: Set(now),
    };
    let inserted = request_reaction::Entity::insert(row)
        .on_conflict_do_nothing_on([
            request_reaction::Column::RequestId,
            request_reaction::Column::UserId,
            request_reaction::Column::Emoji,
        ])
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0))
}

pub async fn remove_reaction(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
    user: &str,
    emoji: &str,
) -> Result<bool, StoreError> {
    use super::entities::request_reaction;
    let result = request_reaction::Entity::delete_many()
        .filter(request_reaction::Column::RequestId.eq(number.0))
        .filter(request_reaction::Column::UserId.eq(user))
        .filter(request_reaction::Column::Emoji.eq(emoji))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// Moves a request's demand by `delta` (one person more or less) and bumps
/// its version so the card refresh is ordered after earlier changes.
pub async fn adjust_demand(conn: &impl ConnectionTrait, number: RequestNumber, delta: i32) -> Result<(), StoreError> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    request::Entity::update_many()
        .col_expr(request::Column::Demand, Expr::col(request::Column::Demand).add(delta))
        .col_expr(request::Column::Version, Expr::col(request::Column::Version).add(1))
        .filter(request::Column::Id.eq(number.0))
        .exec(conn)
        .await?;
    Ok(())
}

pub async fn count(conn: &impl ConnectionTrait) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(request::Entity::find().count(conn).await?)
}

pub(crate) fn to_domain(row: request::Model) -> Result<Request, StoreError> {
    let corrupt = |what: &str, value: &str| StoreError::Corrupt(format!("request #{}: {what} {value:?}", row.id));
    Ok(Request {
        number: RequestNumber(row.id),
        kind: RequestKind::parse(&row.kind).ok_or_else(|| corrupt("kind", &row.kind))?,
        state: State::parse(&row.state).ok_or_else(|| corrupt("state", &row.state))?,
        severity: SeverityKey::new(&row.severity).map_err(|_| corrupt("severity", &row.severity))?,
        deadlines: SlaDeadlines {
            response_due: row.response_due_at,
            resolution_due: row.resolution_due_at,
        },
        title: row.title,
        description: row.description,
        area: row.area,
        link: row.link,
        submitter: row.submitter,
        owner: row.owner,
        created_at: row.created_at,
        tracker: row.tracker,
        revisit_on: row.revisit_on,
        version: row.version,
        sla_paused_at: row.sla_paused_at,
        resolved_at: row.resolved_at,
        demand: row.demand,
    })
}
