//! What the scheduler needs to find due work through indexes, never by
//! loading every request: the next SLA reminder instant, when a paused SLA
//! clock stopped, and when a resolved request is followed up or closed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    State,
    RevisitOn,
    SlaPausedAt,
    NextReminderAt,
    FollowupAt,
    AutoCloseAt,
    SlaStage,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Requests::SlaPausedAt,
            Requests::NextReminderAt,
            Requests::FollowupAt,
            Requests::AutoCloseAt,
        ] {
            let column = ColumnDef::new(column).timestamp_with_time_zone().null().to_owned();
            manager
                .alter_table(Table::alter().table(Requests::Table).add_column(column).to_owned())
                .await?;
        }
        // The most urgent reminder sent for the SLA now running (permille;
        // 1000 = breached): the digest's "at risk" and "breached".
        let stage = ColumnDef::new(Requests::SlaStage)
            .integer()
            .not_null()
            .default(0)
            .to_owned();
        manager
            .alter_table(Table::alter().table(Requests::Table).add_column(stage).to_owned())
            .await?;
        for (name, columns) in [
            ("ix_requests_next_reminder", vec![Requests::NextReminderAt]),
            (
                "ix_requests_state_followup",
                vec![Requests::State, Requests::FollowupAt],
            ),
            (
                "ix_requests_state_auto_close",
                vec![Requests::State, Requests::AutoCloseAt],
            ),
            ("ix_requests_state_revisit", vec![Requests::State, Requests::RevisitOn]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Requests::Table).if_not_exists();
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in [
            "ix_requests_next_reminder",
            "ix_requests_state_followup",
            "ix_requests_state_auto_close",
            "ix_requests_state_revisit",
        ] {
            manager
                .drop_index(Index::drop().name(name).table(Requests::Table).to_owned())
                .await?;
        }
        for column in [
            Requests::SlaPausedAt,
            Requests::NextReminderAt,
            Requests::FollowupAt,
            Requests::AutoCloseAt,
            Requests::SlaStage,
        ] {
            manager
                .alter_table(Table::alter().table(Requests::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
