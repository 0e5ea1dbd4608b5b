//! Whether an outbox message may already have reached Slack although its
//! outcome was never recorded: its last send went unanswered (a timeout, a
//! dropped connection), or the dispatcher that held it died mid-send (its
//! lease ran out). Before posting such a message again the dispatcher looks
//! for it in the channel's history (issue 14).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Outbox {
    Table,
    InDoubt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let column = ColumnDef::new(Outbox::InDoubt)
            .boolean()
            .not_null()
            .default(false)
            .to_owned();
        manager
            .alter_table(Table::alter().table(Outbox::Table).add_column(column).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .drop_column(Outbox::InDoubt)
                    .to_owned(),
            )
            .await
    }
}
