//! Storage: one connection pool, migrations, and every query the service
//! runs (no other module uses sea-orm). Each module is one table or one
//! question: `requests`, `audit`, `demand`, `outbox`, `events`, `due` (what
//! the scheduler must look at), `digest` (the digest's figures).
//!
//! SQLite (WAL, busy timeout) is the embedded default; PostgreSQL runs the
//! same code. Functions that must commit together take any
//! [`ConnectionTrait`], so the caller passes its open transaction.
//!
//! Reads go through [`Store::db`], writes through [`Store::writer`] (or a
//! [`Store::write`] transaction). On SQLite the writer is one connection:
//! SQLite lets one writer in at a time anyway, and writers queueing for that
//! connection in the pool wait in order, where writers racing for the file
//! lock back off in SQLite's busy handler, sleeping up to 100 ms a try (it
//! made `view_submission`'s p99 250 ms under load; BENCHMARKS.md).

pub mod audit;
pub mod batch;
pub mod demand;
pub mod digest;
pub mod due;
pub mod entities;
pub mod events;
pub mod home;
pub mod outbox;
pub mod requests;

use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

/// An open write transaction (`Store::write`), for code outside the store
/// that must add to it without running queries itself.
pub type Transaction = DatabaseTransaction;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("request #{0} does not exist")]
    NotFound(i64),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

/// The advisory lock key replicas take turns on while migrating ("intake").
const MIGRATION_LOCK: i64 = 0x696e_7461_6b65;

#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    /// The same pool as `db` except on SQLite (see the module doc).
    writer: DatabaseConnection,
    /// How many write transactions can usefully run at once.
    concurrent_writes: usize,
}

impl Store {
    /// Opens the pools. SQLite gets WAL (readers never wait for the writer),
    /// `synchronous = NORMAL` (durable at each WAL checkpoint, the usual
    /// pairing with WAL), in-memory temp storage and a busy timeout.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let db = Self::pool(url, max_connections).await?;
        let file_backed = !(url.contains(":memory:") || url.contains("mode=memory"));
        let (writer, concurrent_writes) = match db.get_database_backend() {
            sea_orm::DbBackend::Sqlite if file_backed => (Self::pool(url, 1).await?, 1),
            sea_orm::DbBackend::Sqlite => (db.clone(), 1),
            // PostgreSQL writes rows in parallel; keep half the pool for reads.
            _ => (db.clone(), (max_connections as usize / 2).max(1)),
        };
        Ok(Self {
            db,
            writer,
            concurrent_writes,
        })
    }

    async fn pool(url: &str, max_connections: u32) -> Result<DatabaseConnection, StoreError> {
        let mut options = ConnectOptions::new(url.to_string());
        options
            .max_connections(max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(5))
            .acquire_timeout(Duration::from_secs(10))
            // A ping before every checkout doubles the round trips of a
            // one-statement query; only a connection idle a while (which a
            // database restart may have broken) is tested first.
            .test_before_acquire_if_idle_for(Duration::from_secs(30))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    // Statement journals and sort b-trees stay in memory:
                    // on disk each was a temp file created and deleted,
                    // ~100 a second under load (seen with strace).
                    .pragma("temp_store", "memory")
            });
        // Processes opening a fresh SQLite file together race to switch it
        // to WAL, and the loser is told "database is locked" at once
        // (SQLite's busy handler does not cover that switch): try again.
        let mut attempt = 0;
        loop {
            match Database::connect(options.clone()).await {
                Err(e) if attempt < 20 && e.to_string().contains("database is locked") => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                connected => return Ok(connected?),
            }
        }
    }

    /// Applies pending migrations, all in one transaction: a crash half
    /// way leaves the schema as it was (SQLite and PostgreSQL both change
    /// their schema transactionally). Replicas started together take turns:
    /// on SQLite the transaction begins IMMEDIATE, holding the write lock;
    /// on PostgreSQL it takes an advisory lock first. Whoever comes second
    /// finds nothing left to do.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let txn = self.write().await?;
        if self.db.get_database_backend() == sea_orm::DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
                .await?;
        }
        Migrator::up(&txn, None).await?;
        txn.commit().await?;
        self.optimize().await;
        Ok(())
    }

    /// Lets SQLite refresh the statistics its query planner uses, for the
    /// tables whose size changed a lot (SQLite's advice for long-lived
    /// connections; `analysis_limit` keeps it to milliseconds). No-op
    /// elsewhere.
    pub async fn optimize(&self) {
        if self.db.get_database_backend() == sea_orm::DbBackend::Sqlite {
            let _ = self.writer.execute_unprepared("PRAGMA analysis_limit=1000").await;
            let _ = self.writer.execute_unprepared("PRAGMA optimize=0x10002").await;
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
        Ok(self.writer.begin_with_options(options).await?)
    }

    /// How many write transactions are worth running at once: 1 on SQLite
    /// (one writer at a time), several on PostgreSQL.
    pub fn concurrent_writes(&self) -> usize {
        self.concurrent_writes
    }

    /// For reads. Several at once; on SQLite they never wait for the writer.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// For a single write outside a [`Store::write`] transaction. Never
    /// call it while holding such a transaction: on SQLite that waits for
    /// the very connection the transaction holds.
    pub fn writer(&self) -> &DatabaseConnection {
        &self.writer
    }

    pub async fn close(self) {
        self.optimize().await;
        let _ = self.db.close().await;
        let _ = self.writer.close().await;
    }
}
