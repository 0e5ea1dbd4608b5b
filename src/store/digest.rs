//! The digest's figures, gathered with bounded, indexed queries: counts are
//! computed by the database, lists are capped, and only the last 30 days are
//! read for the process figures.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::domain::digest::{DigestSummary, Listing};
use crate::domain::state::State;
use crate::store::StoreError;
use crate::store::entities::{request, request_event};
use crate::store::requests::to_domain;

/// How many requests each list shows before "and N more".
pub const LISTED: u64 = 8;

const FINISHED: [&str; 2] = ["rejected", "closed"];

async fn listing(
    conn: &impl ConnectionTrait,
    condition: Condition,
    order: request::Column,
) -> Result<Listing, StoreError> {
    listing_by(conn, condition, order, sea_orm::Order::Asc).await
}

async fn listing_by(
    conn: &impl ConnectionTrait,
    condition: Condition,
    order: request::Column,
    direction: sea_orm::Order,
) -> Result<Listing, StoreError> {
    let total = request::Entity::find().filter(condition.clone()).count(conn).await?;
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
    since: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<DigestSummary, StoreError> {
    let open: Vec<(String, String, i64)> = request::Entity::find()
        .select_only()
        .column(request::Column::State)
        .column(request::Column::Severity)
        .column_as(Expr::col(request::Column::Id).count(), "count")
        .filter(request::Column::State.is_not_in(FINISHED))
        .group_by(request::Column::State)
        .group_by(request::Column::Severity)
        .into_tuple()
        .all(conn)
        .await?;
    // Past the first reminder but not breached (the breach notice is stage
    // 1000). The stage is reset when no SLA runs, so it implies an active
    // state; filtering on the stage alone lets the planner use its index.
    let at_risk = Condition::all()
        .add(request::Column::SlaStage.gt(0))
        .add(request::Column::SlaStage.lt(1000));
    let month_ago = at - TimeDelta::days(30);
    let resolved_recently = request::Entity::find().filter(request::Column::ResolvedAt.gte(month_ago));
    let met = resolved_recently
        .clone()
        .filter(Expr::col(request::Column::ResolvedAt).lte(Expr::col(request::Column::ResolutionDueAt)))
        .count(conn)
        .await?;
    Ok(DigestSummary {
        open,
        new_since: listing(
            conn,
            Condition::all().add(request::Column::CreatedAt.gt(since)),
            request::Column::Id,
        )
        .await?,
        at_risk: listing(conn, at_risk, request::Column::ResolutionDueAt).await?,
        breached: breached_listing(conn, at).await?,
        oldest_untriaged: listing(
            conn,
            Condition::all().add(request::Column::State.eq(State::New.as_str())),
            request::Column::CreatedAt,
        )
        .await?,
        most_wanted: listing_by(
            conn,
            Condition::all()
                .add(request::Column::State.is_not_in(FINISHED))
                .add(request::Column::Demand.gt(0)),
            request::Column::Demand,
            sea_orm::Order::Desc,
        )
        .await?,
        resolved_since: request::Entity::find()
            .filter(request::Column::ResolvedAt.gt(since))
            .count(conn)
            .await?,
        closed_since: request::Entity::find()
            .filter(request::Column::State.eq(State::Closed.as_str()))
            .filter(request::Column::UpdatedAt.gt(since))
            .count(conn)
            .await?,
        median_time_to_triage: median_time_to_triage(conn, month_ago).await?,
        sla_attainment: (met, resolved_recently.count(conn).await?),
    })
}

/// Breached requests: untriaged past the response SLA, or being worked on
/// past the resolution SLA. Two indexed queries (state + due column) merged,
/// rather than one OR that would sort every breached request.
async fn breached_listing(conn: &impl ConnectionTrait, at: DateTime<Utc>) -> Result<Listing, StoreError> {
    let untriaged = Condition::all()
        .add(request::Column::State.eq("new"))
        .add(request::Column::ResponseDueAt.lt(at));
    let working = Condition::all()
        .add(request::Column::State.is_in(["triaged", "accepted"]))
        .add(request::Column::ResolutionDueAt.lt(at));
    let mut first = listing(conn, untriaged, request::Column::ResponseDueAt).await?;
    let second = listing(conn, working, request::Column::ResolutionDueAt).await?;
    first.total += second.total;
    first.shown.extend(second.shown);
    first.shown.sort_by_key(|r| r.deadlines.resolution_due);
    first.shown.truncate(LISTED as usize);
    Ok(first)
}

/// Median time from filing to the first triage step, over requests whose
/// first step happened in the last 30 days: one join, read as pairs.
async fn median_time_to_triage(
    conn: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<Option<TimeDelta>, StoreError> {
    use sea_orm::sea_query::{Alias, Query};
    let (events, requests) = (Alias::new("request_events"), Alias::new("requests"));
    let query = Query::select()
        .expr_as(
            Expr::col((events.clone(), request_event::Column::At)),
            Alias::new("stepped"),
        )
        .expr_as(
            Expr::col((requests.clone(), request::Column::CreatedAt)),
            Alias::new("filed"),
        )
        .from(events.clone())
        .inner_join(
            requests.clone(),
            Expr::col((requests, request::Column::Id)).equals((events.clone(), request_event::Column::RequestId)),
        )
        .and_where(Expr::col((events.clone(), request_event::Column::FromState)).eq(State::New.as_str()))
        .and_where(Expr::col((events, request_event::Column::At)).gte(since))
        .to_owned();
    let rows = conn.query_all(&query).await?;
    let mut waits: Vec<TimeDelta> = rows
        .iter()
        .filter_map(|row| {
            let stepped: DateTime<Utc> = row.try_get("", "stepped").ok()?;
            let filed: DateTime<Utc> = row.try_get("", "filed").ok()?;
            Some(stepped - filed)
        })
        .collect();
    if waits.is_empty() {
        return Ok(None);
    }
    waits.sort();
    Ok(waits.get(waits.len() / 2).copied())
}
