//! The append-only audit log: one row per accepted step, never updated or
//! deleted. The payload is the domain's typed `audit::Details`, written and
//! read back here only.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use super::StoreError;
use super::entities::request_event;
use crate::domain::audit::{Details, Entry, EntryKind};
use crate::domain::escalation::PastEscalation;
use crate::domain::request::RequestNumber;
use crate::domain::severity::SeverityKey;
use crate::domain::state::State;
use crate::domain::triage::StepKind;

pub(crate) fn row(number: RequestNumber, entry: &Entry) -> request_event::ActiveModel {
    request_event::ActiveModel {
        request_id: Set(number.0),
        at: Set(entry.at),
        actor: Set(entry.actor.clone()),
        kind: Set(entry.kind.as_str().to_string()),
        from_state: Set(entry.from.map(|s| s.as_str().to_string())),
        to_state: Set(entry.to.as_str().to_string()),
        payload: Set(serde_json::to_string(&entry.details).unwrap_or_else(|_| "{}".into())),
        ..Default::default()
    }
}

/// Appends one entry to a request's log.
pub async fn append(conn: &impl ConnectionTrait, number: RequestNumber, entry: &Entry) -> Result<(), StoreError> {
    row(number, entry).insert(conn).await?;
    Ok(())
}

fn to_entry(row: request_event::Model) -> Result<Entry, StoreError> {
    let corrupt = |what: &str, value: &str| StoreError::Corrupt(format!("audit row {}: {what} {value:?}", row.id));
    Ok(Entry {
        kind: EntryKind::parse(&row.kind).ok_or_else(|| corrupt("kind", &row.kind))?,
        from: match &row.from_state {
            Some(from) => Some(State::parse(from).ok_or_else(|| corrupt("from", from))?),
            None => None,
        },
        to: State::parse(&row.to_state).ok_or_else(|| corrupt("to", &row.to_state))?,
        // A payload that no longer reads keeps the row, without details.
        details: serde_json::from_str::<Details>(&row.payload).unwrap_or_default(),
        at: row.at,
        actor: row.actor,
    })
}

/// A request's audit log, oldest first.
pub async fn history(conn: &impl ConnectionTrait, number: RequestNumber) -> Result<Vec<Entry>, StoreError> {
    request_event::Entity::find()
        .filter(request_event::Column::RequestId.eq(number.0))
        .order_by_asc(request_event::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(to_entry)
        .collect()
}

/// Earlier emoji escalations of a request, from its audit log.
pub async fn past_escalations(
    conn: &impl ConnectionTrait,
    number: RequestNumber,
) -> Result<Vec<PastEscalation>, StoreError> {
    let rows = request_event::Entity::find()
        .filter(request_event::Column::RequestId.eq(number.0))
        .filter(request_event::Column::Kind.eq(StepKind::Escalate.as_str()))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| to_entry(row).ok())
        .filter_map(|entry| {
            Some(PastEscalation {
                to: SeverityKey::new(entry.details.severity.as_deref()?).ok()?,
                user: entry.actor,
                at: entry.at,
            })
        })
        .collect())
}
