//! The first schema: requests, their append-only event log, the outbox and
//! the Slack event ids already seen.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    Id,
    Kind,
    Title,
    Description,
    Area,
    Link,
    Severity,
    State,
    Submitter,
    Owner,
    SourceChannel,
    ViewId,
    ResponseDueAt,
    ResolutionDueAt,
    IntakeChannel,
    IntakeTs,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RequestEvents {
    Table,
    Id,
    RequestId,
    At,
    Actor,
    Kind,
    FromState,
    ToState,
    Payload,
}

#[derive(DeriveIden, Clone, Copy)]
enum Outbox {
    Table,
    Id,
    RequestId,
    DedupeKey,
    Method,
    Payload,
    OnSent,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseOwner,
    LeaseUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SlackEventsSeen {
    Table,
    EventId,
    SeenAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Requests::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Requests::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Requests::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(Requests::Title).string_len(600).not_null())
                    .col(ColumnDef::new(Requests::Description).text().not_null())
                    .col(ColumnDef::new(Requests::Area).string_len(320))
                    .col(ColumnDef::new(Requests::Link).text())
                    .col(ColumnDef::new(Requests::Severity).string_len(32).not_null())
                    .col(ColumnDef::new(Requests::State).string_len(16).not_null())
                    .col(ColumnDef::new(Requests::Submitter).string_len(32).not_null())
                    .col(ColumnDef::new(Requests::Owner).string_len(32))
                    .col(ColumnDef::new(Requests::SourceChannel).string_len(32))
                    .col(ColumnDef::new(Requests::ViewId).string_len(64))
                    .col(
                        ColumnDef::new(Requests::ResponseDueAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Requests::ResolutionDueAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Requests::IntakeChannel).string_len(32))
                    .col(ColumnDef::new(Requests::IntakeTs).string_len(32))
                    .col(ColumnDef::new(Requests::Version).integer().not_null().default(0))
                    .col(
                        ColumnDef::new(Requests::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Requests::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // A modal submitted twice (a retry, a double click) is one request.
        index(
            manager,
            "ux_requests_view_id",
            Requests::Table,
            &[Requests::ViewId],
            true,
        )
        .await?;
        // Reactions find their request by the message they were added to.
        index(
            manager,
            "ix_requests_intake_message",
            Requests::Table,
            &[Requests::IntakeChannel, Requests::IntakeTs],
            false,
        )
        .await?;
        index(
            manager,
            "ix_requests_submitter_state",
            Requests::Table,
            &[Requests::Submitter, Requests::State],
            false,
        )
        .await?;
        index(
            manager,
            "ix_requests_state_response_due",
            Requests::Table,
            &[Requests::State, Requests::ResponseDueAt],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(RequestEvents::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(RequestEvents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(RequestEvents::RequestId).big_integer().not_null())
                    .col(ColumnDef::new(RequestEvents::At).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(RequestEvents::Actor).string_len(32).not_null())
                    .col(ColumnDef::new(RequestEvents::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(RequestEvents::FromState).string_len(16))
                    .col(ColumnDef::new(RequestEvents::ToState).string_len(16).not_null())
                    .col(ColumnDef::new(RequestEvents::Payload).text().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(RequestEvents::Table, RequestEvents::RequestId)
                            .to(Requests::Table, Requests::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_request_events_request",
            RequestEvents::Table,
            &[RequestEvents::RequestId, RequestEvents::Id],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Outbox::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Outbox::RequestId).big_integer())
                    .col(ColumnDef::new(Outbox::DedupeKey).string_len(200).not_null())
                    .col(ColumnDef::new(Outbox::Method).string_len(64).not_null())
                    .col(ColumnDef::new(Outbox::Payload).text().not_null())
                    .col(ColumnDef::new(Outbox::OnSent).string_len(32))
                    .col(ColumnDef::new(Outbox::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Outbox::Attempts).integer().not_null().default(0))
                    .col(
                        ColumnDef::new(Outbox::NextAttemptAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Outbox::LeaseOwner).string_len(128))
                    .col(ColumnDef::new(Outbox::LeaseUntil).timestamp_with_time_zone())
                    .col(ColumnDef::new(Outbox::LastError).text())
                    .col(ColumnDef::new(Outbox::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Outbox::SentAt).timestamp_with_time_zone())
                    .to_owned(),
            )
            .await?;
        // Exactly once: every message has a deterministic key.
        index(
            manager,
            "ux_outbox_dedupe_key",
            Outbox::Table,
            &[Outbox::DedupeKey],
            true,
        )
        .await?;
        index(
            manager,
            "ix_outbox_due",
            Outbox::Table,
            &[Outbox::Status, Outbox::NextAttemptAt],
            false,
        )
        .await?;
        // Per-request order: "is an earlier message of this request unsent?"
        index(
            manager,
            "ix_outbox_request",
            Outbox::Table,
            &[Outbox::RequestId, Outbox::Status, Outbox::Id],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(SlackEventsSeen::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(SlackEventsSeen::EventId)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(SlackEventsSeen::SeenAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            SlackEventsSeen::Table.into_iden(),
            Outbox::Table.into_iden(),
            RequestEvents::Table.into_iden(),
            Requests::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn index<T: IntoIden + Copy + 'static, C: IntoIden + Copy + 'static>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[C],
    unique: bool,
) -> Result<(), DbErr> {
    let mut statement = Index::create();
    statement.name(name).table(table).if_not_exists();
    for column in columns {
        statement.col(*column);
    }
    if unique {
        statement.unique();
    }
    manager.create_index(statement.to_owned()).await
}
