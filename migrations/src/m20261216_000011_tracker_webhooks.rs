//! What the trackers' webhooks need:
//!
//! - they find requests by the issue they were accepted into
//!   (`requests.tracker`, a key like `PROJ-7` or a link): an index keeps
//!   that one look-up per delivery from reading every request;
//! - the audit log names the tracker as actor (`tracker:` and the issue's
//!   key or link, up to 2,000 characters), where `request_events.actor`
//!   held a Slack user id (32). Widening a `varchar` is a catalogue change
//!   on PostgreSQL (no rewrite); SQLite does not enforce the length.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    Tracker,
}

#[derive(DeriveIden, Clone, Copy)]
enum RequestEvents {
    Table,
    Actor,
}

const NAME: &str = "ix_requests_tracker";

/// `tracker:` and a tracker reference (at most 2,000 characters).
const ACTOR_LEN: u32 = 2010;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::one_index::create(manager, NAME, Requests::Table, &[Requests::Tracker]).await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .alter_table(
                    Table::alter()
                        .table(RequestEvents::Table)
                        .modify_column(ColumnDef::new(RequestEvents::Actor).string_len(ACTOR_LEN).not_null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    /// Drops the index; the wider actor column stays (narrowing it would
    /// fail on the tracker's entries).
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::one_index::drop(manager, NAME, Requests::Table).await
    }
}
