//! A database for one test that cleans up after itself: a SQLite file in a
//! temporary directory, or, when `DATABASE_URL` names a PostgreSQL server, a
//! fresh database `intake_test_<uuid>` on it, dropped with the [`TestDb`].

use sea_orm::{ConnectOptions, ConnectionTrait, Database};

/// A database for one test; it is removed when this value is dropped.
pub struct TestDb {
    pub url: String,
    kind: Kind,
}

enum Kind {
    /// The SQLite file's directory, removed on drop.
    Sqlite { _dir: tempfile::TempDir },
    /// The server's admin URL (`DATABASE_URL`) and the database's name.
    Postgres { admin: String, name: String },
}

impl TestDb {
    pub async fn new() -> TestDb {
        match std::env::var("DATABASE_URL").ok().filter(|u| u.starts_with("postgres")) {
            Some(admin) => {
                let name = format!("intake_test_{}", uuid::Uuid::new_v4().simple());
                run_on(&admin, &format!("CREATE DATABASE {name}"))
                    .await
                    .unwrap_or_else(|e| panic!("create test database {name} on DATABASE_URL: {e}"));
                let mut url = url::Url::parse(&admin).expect("DATABASE_URL is a URL");
                url.set_path(&name);
                TestDb {
                    url: url.to_string(),
                    kind: Kind::Postgres { admin, name },
                }
            }
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("intake.db").display());
                TestDb {
                    url,
                    kind: Kind::Sqlite { _dir: dir },
                }
            }
        }
    }
}

impl Drop for TestDb {
    /// Drops the PostgreSQL database, closing any connection still open on
    /// it. A drop cannot await and may run inside the test's runtime, so the
    /// statement runs on a thread of its own with its own small runtime; the
    /// drop waits for it, so the database is gone before the test ends.
    fn drop(&mut self) {
        let Kind::Postgres { admin, name } = &self.kind else {
            return;
        };
        let (admin, name) = (admin.clone(), name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(run_on(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
        })
        .join();
        // Never panic here: the test may already be unwinding.
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("testkit: could not drop test database {}: {e}", self.url),
            Err(_) => eprintln!("testkit: dropping test database {} panicked", self.url),
        }
    }
}

/// Runs one statement on a single connection to `url`.
async fn run_on(url: &str, sql: &str) -> Result<(), String> {
    let mut options = ConnectOptions::new(url);
    options.max_connections(1).min_connections(0).sqlx_logging(false);
    let db = Database::connect(options).await.map_err(|e| e.to_string())?;
    let result = db.execute_unprepared(sql).await.map(|_| ()).map_err(|e| e.to_string());
    db.close().await.ok();
    result
}
