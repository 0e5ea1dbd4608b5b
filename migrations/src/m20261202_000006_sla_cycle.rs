//! The SLA cycle: a count of the times a request's SLA started over (a new
//! severity, a reopen), part of its reminders' keys so a new cycle's
//! reminders are not silenced by the last one's. And whether the owner
//! cannot be reached (Slack refused a DM to them: they left), shown on the
//! card until someone else is assigned.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    SlaCycle,
    OwnerUnreachable,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Requests::Table)
                    .add_column(ColumnDef::new(Requests::SlaCycle).integer().not_null().default(0))
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Requests::Table)
                    .add_column(
                        ColumnDef::new(Requests::OwnerUnreachable)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Requests::Table)
                    .drop_column(Requests::OwnerUnreachable)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Requests::Table)
                    .drop_column(Requests::SlaCycle)
                    .to_owned(),
            )
            .await
    }
}
