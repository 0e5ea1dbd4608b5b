//! The step most migrations here take: one index on some columns of one
//! table, created if missing and dropped by name.

use sea_orm_migration::prelude::*;

/// Creates index `name` on `table` over `columns` unless it exists.
pub async fn create<T, C>(manager: &SchemaManager<'_>, name: &str, table: T, columns: &[C]) -> Result<(), DbErr>
where
    T: IntoTableRef,
    C: IntoIndexColumn + Clone,
{
    let mut index = Index::create();
    index.name(name).table(table).if_not_exists();
    for column in columns {
        index.col(column.clone());
    }
    manager.create_index(index.to_owned()).await
}

/// Drops index `name` of `table`, if it exists.
pub async fn drop<T: IntoTableRef>(manager: &SchemaManager<'_>, name: &str, table: T) -> Result<(), DbErr> {
    manager
        .drop_index(Index::drop().name(name).table(table).if_exists().to_owned())
        .await
}
