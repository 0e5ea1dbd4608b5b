//! Requests: filing, reading, and writing a triage step (with its audit
//! row, `store::audit`) under optimistic concurrency.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use super::StoreError;
use super::audit;
use super::entities::{request, request_event};
use crate::domain::audit::{Details, Entry, EntryKind};
use crate::domain::request::{
    Link, MessageRef, NewRequest, PostKind, Request, RequestKind, RequestNumber, SlaDeadlines, SourceMessage, Title,
};
use crate::domain::schedule::Schedule;
use crate::domain::severity::SeverityKey;
use crate::domain::state::State;
use crate::domain::text::Tracker;

/// Where a submission came from: the modal (whose id makes it idempotent)
/// and the channel the person typed `/request` in.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub view_id: String,
    pub source_channel: Option<String>,
    /// The message it was filed from, which gets a "Filed as" reply.
    pub source_message: Option<SourceMessage>,
    /// Who filed it for the submitter (the file emoji's reactor).
    pub filed_by: Option<String>,
}

/// A validated submission to store.
#[derive(Debug, Clone)]
pub struct Filing {
    pub new: NewRequest,
    pub origin: Origin,
    pub deadlines: SlaDeadlines,
    pub next_reminder_at: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
    /// The team that owns the request (its area's owner).
    pub team: String,
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
            team: Set(f.team.clone()),
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
    let entries: Vec<request_event::ActiveModel> = filings
        .iter()
        .zip(&stored)
        .filter_map(|(filing, request)| Some((filing, request.as_ref()?)))
        .map(|(filing, request)| {
            audit::row(
                request.number,
                &Entry {
                    at: request.created_at,
                    actor: request.submitter.clone(),
                    kind: EntryKind::Submitted,
                    from: None,
                    to: State::New,
                    details: Details {
                        filed_by: filing.origin.filed_by.clone(),
                        ..Details::default()
                    },
                },
            )
        })
        .collect();
    if !entries.is_empty() {
        request_event::Entity::insert_many(entries)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(stored)
}

/// Whether a request was filed under this origin id (a modal, or a
/// message filed with the file emoji).
pub async fn filed_as(conn: &impl ConnectionTrait, view_id: &str) -> Result<bool, StoreError> {
    Ok(request::Entity::find()
        .select_only()
        .column(request::Column::Id)
        .filter(request::Column::ViewId.eq(view_id))
        .into_tuple::<i64>()
        .one(conn)
        .await?
        .is_some())
}

pub async fn find(conn: &impl ConnectionTrait, number: RequestNumber) -> Result<Option<Request>, StoreError> {
    request::Entity::find_by_id(number.0)
        .one(conn)
        .await?
        .map(to_domain)
        .transpose()
}

/// The intake message of a request, once posted.
pub async fn intake_message(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
) -> Result<Option<MessageRef>, StoreError> {
    let row = request::Entity::find_by_id(number.0)
        .one(conn)
        .await?
        .ok_or(StoreError::NotFound(number.0))?;
    Ok(row
        .intake_channel
        .zip(row.intake_ts)
        .map(|(c, t)| MessageRef::new(c, t)))
}

/// Remembers where a request's post went, so it can be updated in place and
/// reactions on it can be matched to the request.
pub async fn set_post(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
    post: PostKind,
    message: &MessageRef,
) -> Result<(), StoreError> {
    let (channel_column, ts_column) = match post {
        PostKind::Intake => (request::Column::IntakeChannel, request::Column::IntakeTs),
        PostKind::Oncall => (request::Column::OncallChannel, request::Column::OncallTs),
        PostKind::Receipt => (request::Column::ReceiptChannel, request::Column::ReceiptTs),
    };
    let mut update = request::Entity::update_many()
        .col_expr(channel_column, message.channel.as_str().into())
        .col_expr(ts_column, message.ts.as_str().into());
    if post == PostKind::Intake {
        // A card is up: the request is no longer "not posted".
        update = update.col_expr(request::Column::IntakeError, Option::<String>::None.into());
    }
    update.filter(request::Column::Id.eq(number.0)).exec(conn).await?;
    Ok(())
}

/// Records why a request's card could not be posted (`Some`, Slack's
/// error), or that it is being posted again (`None`).
pub async fn set_intake_error(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
    error: Option<&str>,
) -> Result<(), StoreError> {
    request::Entity::update_many()
        .col_expr(request::Column::IntakeError, error.map(str::to_string).into())
        .filter(request::Column::Id.eq(number.0))
        .exec(conn)
        .await?;
    Ok(())
}

/// Records that `owner`, still the request's owner, cannot be reached (a
/// DM to them died). Bumps the version, so a step read before this does
/// not write the flag back, but not `updated_at` (it is not a step).
/// `false` if they no longer own it or it was already recorded.
pub async fn set_owner_unreachable(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
    owner: &str,
) -> Result<bool, StoreError> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let result = request::Entity::update_many()
        .col_expr(request::Column::OwnerUnreachable, true.into())
        .col_expr(request::Column::Version, Expr::col(request::Column::Version).add(1))
        .filter(request::Column::Id.eq(number.0))
        .filter(request::Column::Owner.eq(owner))
        .filter(request::Column::OwnerUnreachable.eq(false))
        .exec(conn)
        .await?;
    Ok(result.rows_affected > 0)
}

/// A triage step to store: the request before and as it becomes.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub before: &'a Request,
    pub after: &'a Request,
    /// The audit entry for the step.
    pub entry: Entry,
    pub schedule: Schedule,
}

/// Writes a triage step if the request is still at the version it was read
/// at; `false` if someone changed it first (the caller re-reads and retries
/// or tells the person). Appends the audit row in the same transaction.
/// Writes what the domain decided, nothing more.
pub async fn apply_change(
    conn: &impl ConnectionTrait,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let after = change.after;
    let result = request::Entity::update_many()
        .col_expr(request::Column::State, after.state.as_str().into())
        .col_expr(request::Column::Owner, after.owner.clone().into())
        .col_expr(request::Column::OwnerUnreachable, after.owner_unreachable.into())
        .col_expr(request::Column::Severity, after.severity.as_str().into())
        .col_expr(request::Column::Team, after.team.as_str().into())
        .col_expr(request::Column::ResponseDueAt, after.deadlines.response_due.into())
        .col_expr(request::Column::ResolutionDueAt, after.deadlines.resolution_due.into())
        .col_expr(
            request::Column::Tracker,
            after.tracker.as_ref().map(|t| t.as_str().to_string()).into(),
        )
        .col_expr(request::Column::RevisitOn, after.revisit_on.into())
        .col_expr(request::Column::Version, Expr::col(request::Column::Version).add(1))
        .col_expr(request::Column::UpdatedAt, now.into())
        .col_expr(request::Column::ResolvedAt, after.resolved_at.into())
        .col_expr(request::Column::SlaPausedAt, after.sla_paused_at.into())
        .col_expr(request::Column::SlaStage, after.reminder_stage.into())
        .col_expr(request::Column::SlaCycle, after.sla_cycle.into())
        .col_expr(request::Column::NextReminderAt, change.schedule.next_reminder_at.into())
        .col_expr(request::Column::FollowupAt, change.schedule.followup_at.into())
        .col_expr(request::Column::AutoCloseAt, change.schedule.auto_close_at.into())
        .filter(request::Column::Id.eq(after.number.0))
        .filter(request::Column::Version.eq(change.before.version))
        .exec(conn)
        .await?;
    if result.rows_affected == 0 {
        return Ok(false);
    }
    audit::append(conn, after.number, &change.entry).await?;
    Ok(true)
}

/// Writes the submitter's corrections (`after`, from `Request::edited`)
/// with their audit row, if the request is still at `before`'s version;
/// `false` if something changed it in between.
pub async fn apply_edit(
    conn: &impl ConnectionTrait,
    before: &Request,
    after: &Request,
    entry: &Entry,
    next_reminder_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    let result = request::Entity::update_many()
        .col_expr(request::Column::Kind, after.kind.as_str().into())
        .col_expr(request::Column::Title, after.title.as_str().into())
        .col_expr(request::Column::Description, after.description.clone().into())
        .col_expr(request::Column::Area, after.area.clone().into())
        .col_expr(
            request::Column::Link,
            after.link.as_ref().map(|l| l.as_str().to_string()).into(),
        )
        .col_expr(request::Column::Severity, after.severity.as_str().into())
        .col_expr(request::Column::ResponseDueAt, after.deadlines.response_due.into())
        .col_expr(request::Column::ResolutionDueAt, after.deadlines.resolution_due.into())
        .col_expr(request::Column::SlaStage, after.reminder_stage.into())
        .col_expr(request::Column::SlaCycle, after.sla_cycle.into())
        .col_expr(request::Column::NextReminderAt, next_reminder_at.into())
        .col_expr(request::Column::Version, Expr::col(request::Column::Version).add(1))
        .col_expr(request::Column::UpdatedAt, now.into())
        .filter(request::Column::Id.eq(before.number.0))
        .filter(request::Column::Version.eq(before.version))
        .exec(conn)
        .await?;
    if result.rows_affected == 0 {
        return Ok(false);
    }
    audit::append(conn, before.number, entry).await?;
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

/// Is `message` a request's intake or on-call message?
pub async fn is_request_message(conn: &impl ConnectionTrait, message: &MessageRef) -> Result<bool, StoreError> {
    Ok(request::Entity::find()
        .select_only()
        .column(request::Column::Id)
        .filter(message_is(message))
        .into_tuple::<i64>()
        .one(conn)
        .await?
        .is_some())
}

fn message_is(message: &MessageRef) -> sea_orm::Condition {
    use request::Column::{IntakeChannel, IntakeTs, OncallChannel, OncallTs};
    sea_orm::Condition::any()
        .add(posted_at((IntakeChannel, IntakeTs), message))
        .add(posted_at((OncallChannel, OncallTs), message))
}

/// The request's post kept in these (channel, ts) columns is `message`.
fn posted_at((channel, ts): (request::Column, request::Column), message: &MessageRef) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(channel.eq(message.channel.as_str()))
        .add(ts.eq(message.ts.as_str()))
}

/// Has intake posted a request's card or on-call page to `channel`?
/// Two indexed lookups, not one `OR`: with statistics saying most rows
/// share one intake channel and have no on-call page, SQLite planned the
/// `OR` as a scan of every request.
pub async fn has_posted_to(conn: &impl ConnectionTrait, channel: &str) -> Result<bool, StoreError> {
    let any = |condition: sea_orm::Condition| {
        request::Entity::find()
            .select_only()
            .column(request::Column::Id)
            .filter(condition)
            .into_tuple::<i64>()
            .one(conn)
    };
    let card = sea_orm::Condition::all().add(request::Column::IntakeChannel.eq(channel));
    if any(card).await?.is_some() {
        return Ok(true);
    }
    // `oncall_ts IS NOT NULL` lets the partial on-call index serve it.
    let page = sea_orm::Condition::all()
        .add(request::Column::OncallChannel.eq(channel))
        .add(request::Column::OncallTs.is_not_null());
    Ok(any(page).await?.is_some())
}

/// The request whose intake or on-call message is `message`.
pub async fn find_by_message(conn: &impl ConnectionTrait, message: &MessageRef) -> Result<Option<Request>, StoreError> {
    request::Entity::find()
        .filter(message_is(message))
        .one(conn)
        .await?
        .map(to_domain)
        .transpose()
}

/// Which of a request's conversations a thread is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thread {
    /// The thread under its card in the intake channel.
    Intake,
    /// The thread under the submitter's receipt DM.
    Receipt,
}

/// The request whose card or receipt DM is `parent` (a thread's first
/// message), and which of the two it is. Both are indexed.
pub async fn find_by_thread(
    conn: &impl ConnectionTrait,
    parent: &MessageRef,
) -> Result<Option<(Request, Thread)>, StoreError> {
    use request::Column::{IntakeChannel, IntakeTs, ReceiptChannel, ReceiptTs};
    let either = sea_orm::Condition::any()
        .add(posted_at((IntakeChannel, IntakeTs), parent))
        .add(posted_at((ReceiptChannel, ReceiptTs), parent));
    let Some(row) = request::Entity::find().filter(either).one(conn).await? else {
        return Ok(None);
    };
    let request = to_domain(row)?;
    let thread = match request.intake_message.as_ref() == Some(parent) {
        true => Thread::Intake,
        false => Thread::Receipt,
    };
    Ok(Some((request, thread)))
}

/// The submitter's receipt DM of a request, once sent.
pub async fn receipt(conn: &impl ConnectionTrait, number: RequestNumber) -> Result<Option<MessageRef>, StoreError> {
    Ok(find(conn, number).await?.and_then(|r| r.receipt))
}

/// Most requests one tracker issue resolves at once (several requests may
/// be accepted into the same issue).
pub const TRACKED_MAX: u64 = 50;

/// The requests accepted into an issue stored as any of `stored_as` (its
/// key, its link), oldest first; read through `ix_requests_tracker`.
pub async fn tracked_by(conn: &impl ConnectionTrait, stored_as: &[Tracker]) -> Result<Vec<Request>, StoreError> {
    use sea_orm::QueryOrder;
    if stored_as.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<&str> = stored_as.iter().map(Tracker::as_str).collect();
    request::Entity::find()
        .filter(request::Column::Tracker.is_in(values))
        .order_by_asc(request::Column::Id)
        .limit(TRACKED_MAX)
        .all(conn)
        .await?
        .into_iter()
        .map(to_domain)
        .collect()
}

pub async fn count(conn: &impl ConnectionTrait) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(request::Entity::find().count(conn).await?)
}

pub(crate) fn to_domain(row: request::Model) -> Result<Request, StoreError> {
    let corrupt = |what: &str, value: &str| StoreError::Corrupt(format!("request #{}: {what} {value:?}", row.id));
    let intake_message = row
        .intake_channel
        .clone()
        .zip(row.intake_ts.clone())
        .map(|(c, t)| MessageRef::new(c, t));
    let receipt = row
        .receipt_channel
        .clone()
        .zip(row.receipt_ts.clone())
        .map(|(c, t)| MessageRef::new(c, t));
    // Only validated trackers are written; one that no longer parses is
    // still shown, as a key.
    let tracker = row.tracker.map(|t| Tracker::parse(&t).unwrap_or(Tracker::Key(t)));
    Ok(Request {
        number: RequestNumber(row.id),
        kind: RequestKind::parse(&row.kind).ok_or_else(|| corrupt("kind", &row.kind))?,
        state: State::parse(&row.state).ok_or_else(|| corrupt("state", &row.state))?,
        severity: SeverityKey::new(&row.severity).map_err(|_| corrupt("severity", &row.severity))?,
        deadlines: SlaDeadlines {
            response_due: row.response_due_at,
            resolution_due: row.resolution_due_at,
        },
        title: Title::stored(row.title),
        description: row.description,
        area: row.area,
        link: row.link.map(Link::stored),
        submitter: row.submitter,
        owner: row.owner,
        owner_unreachable: row.owner_unreachable,
        created_at: row.created_at,
        tracker,
        revisit_on: row.revisit_on,
        version: row.version,
        sla_paused_at: row.sla_paused_at,
        resolved_at: row.resolved_at,
        reminder_stage: row.sla_stage,
        sla_cycle: row.sla_cycle,
        demand: row.demand,
        intake_message,
        intake_error: row.intake_error,
        receipt,
        team: row.team,
    })
}
