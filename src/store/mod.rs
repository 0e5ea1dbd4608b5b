//! Storage: one connection pool, migrations, and the queries the service runs.
//!
//! SQLite (WAL, busy timeout) is the embedded default; PostgreSQL runs the
//! same code. Functions that must commit together take any
//! [`ConnectionTrait`], so the caller passes its open transaction.

pub mod due;
pub mod entities;
pub mod events;
pub mod requests;

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, Set,
    SqliteTransactionMode, TransactionOptions, TransactionTrait, TryInsertResult,
};

use entities::slack_event_seen;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("request #{0} does not exist")]
    NotFound(i64),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
}

impl Store {
    /// Opens the pool. SQLite gets WAL (readers never wait for the writer),
    /// `synchronous = NORMAL` (durable at each WAL checkpoint, the usual
    /// pairing with WAL) and a busy timeout so concurrent writers queue.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let mut options = ConnectOptions::new(url.to_string());
        options
            .max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        Ok(Self {
            db: Database::connect(options).await?,
        })
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        Migrator::up(&self.db, None).await?;
        self.optimize().await;
        Ok(())
    }

    /// Lets SQLite refresh the statistics its query planner uses (cheap;
    /// SQLite's advice for long-lived connections). No-op elsewhere.
    pub async fn optimize(&self) {
        if self.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
            let _ = self.db.execute_unprepared("PRAGMA optimize=0x10002").await;
        }
    }

    /// Is the database reachable and migrated? (`/readyz`)
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db.ping().await?;
        Ok(())
    }

    /// A transaction that will write. On SQLite it begins IMMEDIATE, taking
    /// the write lock up front: a deferred transaction that reads first can
    /// fail at once (SQLITE_BUSY_SNAPSHOT) when another writer commits in
    /// between, while an immediate one waits its turn (busy timeout).
    pub async fn write(&self) -> Result<DatabaseTransaction, StoreError> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        };
        Ok(self.db.begin_with_options(options).await?)
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub async fn close(self) {
        self.optimize().await;
        let _ = self.db.close().await;
    }
}

/// Records a Slack event id; false if it was seen before (a retry).
/// `payload` is kept for events processed after the ack (see `reactions`);
/// events without one are done once recorded.
pub async fn first_sighting(
    conn: &impl ConnectionTrait,
    event_id: &str,
    payload: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, StoreError> {
    let row = slack_event_seen::ActiveModel {
        event_id: Set(event_id.to_string()),
        seen_at: Set(now),
        payload: Set(payload.map(str::to_string)),
        processed_at: Set(payload.is_none().then_some(now)),
        claimed_until: Set(None),
    };
    let inserted = slack_event_seen::Entity::insert(row)
        .on_conflict_do_nothing_on([slack_event_seen::Column::EventId])
        .exec_without_returning(conn)
        .await?;
    Ok(matches!(inserted, TryInsertResult::Inserted(n) if n > 0))
}
