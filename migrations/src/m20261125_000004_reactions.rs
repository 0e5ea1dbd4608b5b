//! Reactions: events are kept until processed (the ack path only inserts),
//! the on-call post's address (reactions there count too), and who reacted
//! how (demand and escalations, once per person).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum SlackEventsSeen {
    Table,
    Payload,
    ProcessedAt,
    ClaimedUntil,
}

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    OncallChannel,
    OncallTs,
    Demand,
}

#[derive(DeriveIden, Clone, Copy)]
enum RequestReactions {
    Table,
    RequestId,
    UserId,
    Emoji,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let add =
            |table: DynIden, column: ColumnDef| Table::alter().table(table).add_column(column.to_owned()).to_owned();
        for column in [
            ColumnDef::new(SlackEventsSeen::Payload).text().null().to_owned(),
            ColumnDef::new(SlackEventsSeen::ProcessedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(SlackEventsSeen::ClaimedUntil)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(add(SlackEventsSeen::Table.into_iden(), column))
                .await?;
        }
        for column in [
            ColumnDef::new(Requests::OncallChannel).string_len(32).null().to_owned(),
            ColumnDef::new(Requests::OncallTs).string_len(32).null().to_owned(),
            ColumnDef::new(Requests::Demand)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
        ] {
            manager.alter_table(add(Requests::Table.into_iden(), column)).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_requests_oncall_message")
                    .table(Requests::Table)
                    .col(Requests::OncallChannel)
                    .col(Requests::OncallTs)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_slack_events_unprocessed")
                    .table(SlackEventsSeen::Table)
                    .col(SlackEventsSeen::ProcessedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RequestReactions::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(RequestReactions::RequestId).big_integer().not_null())
                    .col(ColumnDef::new(RequestReactions::UserId).string_len(32).not_null())
                    .col(ColumnDef::new(RequestReactions::Emoji).string_len(100).not_null())
                    .col(
                        ColumnDef::new(RequestReactions::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RequestReactions::RequestId)
                            .col(RequestReactions::UserId)
                            .col(RequestReactions::Emoji),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RequestReactions::Table).if_exists().to_owned())
            .await?;
        for name in ["ix_requests_oncall_message", "ix_slack_events_unprocessed"] {
            manager.drop_index(Index::drop().name(name).to_owned()).await?;
        }
        for column in [Requests::OncallChannel, Requests::OncallTs, Requests::Demand] {
            manager
                .alter_table(Table::alter().table(Requests::Table).drop_column(column).to_owned())
                .await?;
        }
        for column in [
            SlackEventsSeen::Payload,
            SlackEventsSeen::ProcessedAt,
            SlackEventsSeen::ClaimedUntil,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(SlackEventsSeen::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
