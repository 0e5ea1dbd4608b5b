//! The digest's figures, gathered with bounded, indexed queries: counts are
//! computed by the database, lists are capped, and only the last 30 days are
//! read for the process figures.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::domain::digest::{DigestSummary, Listing, running_deadline};
use crate::domain::state::State;
use crate::store::StoreError;
use crate::store::entities::{request, request_event};
use crate::store::requests::to_domain;

/// How many requests each list shows before "and N more".
pub const LISTED: u64 = 8;

pub(crate) const FINISHED: [&str; 2] = ["rejected", "closed"];
/// States in which the resolution SLA runs.
const WORKING: [&str; 2] = ["triaged", "accepted"];
/// Open, not resolved, and the resolution clock running.
const UNRESOLVED: [&str; 3] = ["new", "triaged", "accepted"];

/// Whose requests a digest or a queue covers.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Every request (one team, the global summary, a triager of all).
    Every,
    /// The requests of these teams (keys).
    Teams(&'a [String]),
}

impl Scope<'_> {
    pub(crate) fn condition(self) -> Condition {
        match self {
            Scope::Every => Condition::all(),
            Scope::Teams(keys) => Condition::all().add(request::Column::Team.is_in(keys.iter().map(String::as_str))),
        }
    }
}

/// How a listing's total is counted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Count {
    /// Every match: the digest, once a day.
    Exact,
    /// Up to this many ("500+"): App Home, on every change, where counting
    /// 200,000 breached requests would cost a second.
    AtMost(u64),
}

pub(crate) async fn listing(
    conn: &impl ConnectionTrait,
    condition: Condition,
    order: request::Column,
    count: Count,
) -> Result<Listing, StoreError> {
    listing_by(conn, condition, order, sea_orm::Order::Asc, count).await
}

async fn listing_by(
    conn: &impl ConnectionTrait,
    condition: Condition,
    order: request::Column,
    direction: sea_orm::Order,
    count: Count,
) -> Result<Listing, StoreError> {
    let matching = request::Entity::find().filter(condition.clone());
    let total = match count {
        Count::Exact => matching.count(conn).await?,
        Count::AtMost(cap) => matching
            .select_only()
            .column(request::Column::Id)
            .limit(cap)
            .into_tuple::<i64>()
            .all(conn)
            .await?
            .len() as u64,
    };
    let rows = request::Entity::find()
        .filter(condition)
        .order_by(order, direction)
        .limit(LISTED)
        .all(conn)
        .await?;
    let shown = rows.into_iter().map(to_domain).collect::<Result<_, _>>()?;
    Ok(Listing { total, shown })
}

pub async fn gather(
    conn: &impl ConnectionTrait,
    scope: Scope<'_>,
    since: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<DigestSummary, StoreError> {
    let of = || scope.condition();
    // Open states named (not "not finished"): the (state, severity) index
    // is then read for those states only, not scanned whole.
    let open_states = State::ALL.iter().map(|s| s.as_str()).filter(|s| !FINISHED.contains(s));
    let open: Vec<(String, String, i64)> = request::Entity::find()
        .filter(of())
        .select_only()
        .column(request::Column::State)
        .column(request::Column::Severity)
        .column_as(Expr::col(request::Column::Id).count(), "count")
        .filter(request::Column::State.is_in(open_states))
        .group_by(request::Column::State)
        .group_by(request::Column::Severity)
        .into_tuple()
        .all(conn)
        .await?;
    let month_ago = at - TimeDelta::days(30);
    let (median_time_to_triage, response_attainment) = triage_figures(conn, scope, month_ago, at).await?;
    Ok(DigestSummary {
        open,
        new_since: listing(
            conn,
            of().add(request::Column::CreatedAt.gt(since)),
            request::Column::Id,
            Count::Exact,
        )
        .await?,
        at_risk: at_risk_listing(conn, scope, Count::Exact).await?,
        breached: breached_listing(conn, scope, at, Count::Exact).await?,
        oldest_untriaged: listing(
            conn,
            of().add(request::Column::State.eq(State::New.as_str())),
            request::Column::CreatedAt,
            Count::Exact,
        )
        .await?,
        most_wanted: listing_by(
            conn,
            of().add(request::Column::State.is_not_in(FINISHED))
                .add(request::Column::Demand.gt(0)),
            request::Column::Demand,
            sea_orm::Order::Desc,
            Count::Exact,
        )
        .await?,
        resolved_since: request::Entity::find()
            .filter(of())
            .filter(request::Column::ResolvedAt.gt(since))
            .count(conn)
            .await?,
        closed_since: request::Entity::find()
            .filter(of())
            .filter(request::Column::State.eq(State::Closed.as_str()))
            .filter(request::Column::UpdatedAt.gt(since))
            .count(conn)
            .await?,
        median_time_to_triage,
        resolution_attainment: resolution_attainment(conn, scope, month_ago, at).await?,
        response_attainment,
    })
}

/// Listed by the deadline that runs: untriaged requests by their response
/// deadline, those being worked on by their resolution deadline. One
/// indexed query per state (state + due column), each capped, merged here:
/// a single query over two states cannot read the index in deadline order
/// and sorts every match (0.8 s among a million requests).
async fn by_running_deadline(
    conn: &impl ConnectionTrait,
    untriaged: Condition,
    working: Condition,
    count: Count,
) -> Result<Listing, StoreError> {
    let untriaged = Condition::all()
        .add(request::Column::State.eq(State::New.as_str()))
        .add(untriaged);
    let mut merged = listing(conn, untriaged, request::Column::ResponseDueAt, count).await?;
    for state in WORKING {
        let in_state = Condition::all()
            .add(request::Column::State.eq(state))
            .add(working.clone());
        let part = listing(conn, in_state, request::Column::ResolutionDueAt, count).await?;
        merged.total += part.total;
        merged.shown.extend(part.shown);
    }
    merged.shown.sort_by_key(running_deadline);
    merged.shown.truncate(LISTED as usize);
    Ok(merged)
}

/// Breached requests: untriaged past the response SLA, or being worked on
/// past the resolution SLA, longest overdue first.
pub(crate) async fn breached_listing(
    conn: &impl ConnectionTrait,
    scope: Scope<'_>,
    at: DateTime<Utc>,
    count: Count,
) -> Result<Listing, StoreError> {
    by_running_deadline(
        conn,
        scope.condition().add(request::Column::ResponseDueAt.lt(at)),
        scope.condition().add(request::Column::ResolutionDueAt.lt(at)),
        count,
    )
    .await
}

/// At risk: past the first reminder of the running SLA but not breached
/// (the breach notice is stage 1000), soonest deadline first. The stage is
/// reset when no SLA runs, and few requests are at risk at once.
///
/// Read through the `sla_stage` index and sorted here: ordered by deadline
/// in SQL, the planner walked every untriaged request in deadline order
/// looking for the few at risk (0.2 s per state among a million).
pub(crate) async fn at_risk_listing(
    conn: &impl ConnectionTrait,
    scope: Scope<'_>,
    count: Count,
) -> Result<Listing, StoreError> {
    const READ_AT_MOST: u64 = 5000;
    let limit = match count {
        Count::Exact => READ_AT_MOST,
        Count::AtMost(cap) => Ord::min(cap, READ_AT_MOST),
    };
    // The stage alone, so the sla_stage index is used (a state filter made
    // SQLite pick a state index and scan); paused states are dropped below.
    let at_risk = scope
        .condition()
        .add(request::Column::SlaStage.gt(0))
        .add(request::Column::SlaStage.lt(1000));
    // Counted from the stage index's rows, the state checked here: with the
    // state in the query, SQLite walked a state index instead (0.5 s among
    // a million).
    let total = match count {
        Count::Exact => request::Entity::find()
            .filter(at_risk.clone())
            .select_only()
            .column(request::Column::State)
            .into_tuple::<String>()
            .all(conn)
            .await?
            .iter()
            .filter(|state| UNRESOLVED.contains(&state.as_str()))
            .count() as u64,
        Count::AtMost(_) => 0,
    };
    let rows = request::Entity::find().filter(at_risk).limit(limit).all(conn).await?;
    let mut shown: Vec<_> = rows
        .into_iter()
        .filter(|row| UNRESOLVED.contains(&row.state.as_str()))
        .map(to_domain)
        .collect::<Result<_, _>>()?;
    let total = Ord::max(total, shown.len() as u64);
    shown.sort_by_key(running_deadline);
    shown.truncate(LISTED as usize);
    Ok(Listing { total, shown })
}

/// (met, counted) for the resolution SLA: requests resolved since
/// `month_ago` (met when resolved by the deadline), and the open requests
/// whose resolution clock runs (new, triaged, accepted) already past their
/// resolution deadline (missed). A paused request's deadline moves when its
/// clock resumes, so it is judged then. Three counts through the
/// `resolved_at` and `(state, resolution_due_at)` indexes.
async fn resolution_attainment(
    conn: &impl ConnectionTrait,
    scope: Scope<'_>,
    month_ago: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<(u64, u64), StoreError> {
    let resolved = request::Entity::find()
        .filter(scope.condition())
        .filter(request::Column::ResolvedAt.gte(month_ago));
    let met = resolved
        .clone()
        .filter(Expr::col(request::Column::ResolvedAt).lte(Expr::col(request::Column::ResolutionDueAt)))
        .count(conn)
        .await?;
    let resolved = resolved.count(conn).await?;
    let overdue = request::Entity::find()
        .filter(scope.condition())
        .filter(request::Column::State.is_in(UNRESOLVED))
        .filter(request::Column::ResolutionDueAt.lt(at))
        .count(conn)
        .await?;
    Ok((met, resolved + overdue))
}

/// The triage figures over the last 30 days, from one join read as rows:
/// each request's first step out of `new` since `month_ago` (through the
/// `(from_state, at)` index), with when it was filed and its response
/// deadline.
///
/// - Median time to triage: from filing to that first step (a take, an
///   assignment, a question, a rejection; a severity change while new is
///   not one), once per request; with an even count, the mean of the
///   middle two.
/// - Response SLA (met, counted), over requests filed since `month_ago`:
///   met when the first step came at or before the response deadline,
///   missed when later, or when the request is still new past the deadline
///   (one more indexed count). Still new and not yet due: not counted.
async fn triage_figures(
    conn: &impl ConnectionTrait,
    scope: Scope<'_>,
    month_ago: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<(Option<TimeDelta>, (u64, u64)), StoreError> {
    use sea_orm::sea_query::{Alias, Query};
    let (events, requests) = (Alias::new("request_events"), Alias::new("requests"));
    let mut query = Query::select()
        .expr_as(
            Expr::col((events.clone(), request_event::Column::RequestId)),
            Alias::new("request"),
        )
        .expr_as(
            Expr::col((events.clone(), request_event::Column::At)),
            Alias::new("stepped"),
        )
        .expr_as(
            Expr::col((requests.clone(), request::Column::CreatedAt)),
            Alias::new("filed"),
        )
        .expr_as(
            Expr::col((requests.clone(), request::Column::ResponseDueAt)),
            Alias::new("due"),
        )
        .from(events.clone())
        .inner_join(
            requests.clone(),
            Expr::col((requests.clone(), request::Column::Id))
                .equals((events.clone(), request_event::Column::RequestId)),
        )
        .and_where(Expr::col((events.clone(), request_event::Column::FromState)).eq(State::New.as_str()))
        .and_where(Expr::col((events.clone(), request_event::Column::ToState)).ne(State::New.as_str()))
        .and_where(Expr::col((events, request_event::Column::At)).gte(month_ago))
        .to_owned();
    if let Scope::Teams(keys) = scope {
        query.and_where(Expr::col((requests.clone(), request::Column::Team)).is_in(keys.iter().map(String::as_str)));
    }
    // `new` is never entered again, so a request has one step out of it;
    // should it have more, the earliest counts.
    let mut first_steps: HashMap<i64, FirstStep> = HashMap::new();
    for row in conn.query_all(&query).await? {
        let step = FirstStep {
            stepped: row.try_get("", "stepped")?,
            filed: row.try_get("", "filed")?,
            due: row.try_get("", "due")?,
        };
        first_steps
            .entry(row.try_get("", "request")?)
            .and_modify(|earlier| {
                if step.stepped < earlier.stepped {
                    *earlier = step;
                }
            })
            .or_insert(step);
    }
    let mut waits: Vec<TimeDelta> = first_steps.values().map(|s| s.stepped - s.filed).collect();
    waits.sort();
    let middle = waits.len() / 2;
    let median = match waits.len() {
        0 => None,
        n if n % 2 == 1 => Some(waits[middle]),
        _ => Some((waits[middle - 1] + waits[middle]) / 2),
    };
    let filed_in_window = first_steps.values().filter(|s| s.filed >= month_ago);
    let (met, triaged) = filed_in_window.fold((0, 0), |(met, all), s| (met + u64::from(s.stepped <= s.due), all + 1));
    // A deadline never precedes filing, so it bounds the index range too.
    let still_new_late = request::Entity::find()
        .filter(scope.condition())
        .filter(request::Column::State.eq(State::New.as_str()))
        .filter(request::Column::ResponseDueAt.gte(month_ago))
        .filter(request::Column::ResponseDueAt.lt(at))
        .filter(request::Column::CreatedAt.gte(month_ago))
        .count(conn)
        .await?;
    Ok((median, (met, triaged + still_new_late)))
}

#[derive(Clone, Copy)]
struct FirstStep {
    stepped: DateTime<Utc>,
    filed: DateTime<Utc>,
    due: DateTime<Utc>,
}
