//! The conversation relay: where the submitter's receipt DM went (the `D…`
//! channel Slack answered with, and its ts), so a reply in its thread finds
//! its request through an index, and a reply from the intake thread is
//! relayed into it. Requests filed before this have none: their relays are
//! plain DMs.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Requests {
    Table,
    ReceiptChannel,
    ReceiptTs,
}

const NAME: &str = "ix_requests_receipt_message";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Requests::ReceiptChannel, Requests::ReceiptTs] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Requests::Table)
                        .add_column(ColumnDef::new(column).string_len(32).null().to_owned())
                        .to_owned(),
                )
                .await?;
        }
        let columns = [Requests::ReceiptChannel, Requests::ReceiptTs];
        crate::one_index::create(manager, NAME, Requests::Table, &columns).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::one_index::drop(manager, NAME, Requests::Table).await?;
        for column in [Requests::ReceiptChannel, Requests::ReceiptTs] {
            manager
                .alter_table(Table::alter().table(Requests::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
