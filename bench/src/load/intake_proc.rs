//! `intake serve` as a child process: the release binary beside this one,
//! on a fresh SQLite file (or a given database), pointed at the fake Slack.

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

use super::generator::{HttpClient, send};

const READY_POLL: Duration = Duration::from_millis(5);
const READY_BOUND: Duration = Duration::from_secs(30);
const STOP_BOUND: Duration = Duration::from_secs(15);

pub struct Intake {
    child: Child,
    pub base: String,
    /// The database URL intake stores into (the bench reads it to check counts).
    pub database: String,
    /// From spawn to the first `GET /readyz` 200.
    pub cold_start: Duration,
    log: PathBuf,
    launch: Launch,
    bind: String,
    _dir: tempfile::TempDir,
}

/// What `intake serve` is started with, kept for a restart.
#[derive(Clone)]
struct Launch {
    secret: String,
    slack_api_url: String,
    intake_channel: String,
    /// More environment (Socket Mode's app token and transport).
    extra: Vec<(String, String)>,
}

/// `target/release/intake`, beside the running bench binary.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the running bench binary");
    let path = exe
        .parent()
        .expect("the bench binary sits in a directory")
        .join("intake");
    assert!(
        path.exists(),
        "{} is missing: build it first (bench/run-load.sh runs `cargo build --release --bin intake -p intake`)",
        path.display()
    );
    path
}

/// `intake serve` on `database`, listening on `bind`, logging to `log`.
fn spawn_child(launch: &Launch, database: &str, bind: &str, log: &std::path::Path) -> Child {
    let stdout = File::options()
        .create(true)
        .append(true)
        .open(log)
        .expect("a log file in the temp dir");
    let stderr = stdout.try_clone().expect("a second handle on the log file");
    Command::new(binary())
        .arg("serve")
        .env("SLACK_BOT_TOKEN", "xoxb-bench")
        .env("SLACK_SIGNING_SECRET", &launch.secret)
        .env("INTAKE__SLACK__API_URL", &launch.slack_api_url)
        .env("INTAKE__DATABASE__URL", database)
        .env("INTAKE__SERVER__BIND", bind)
        .env("INTAKE__CHANNELS__INTAKE", &launch.intake_channel)
        .env("INTAKE__LOG__LEVEL", "warn")
        // The fake Slack has no rate limits to respect: measure the dispatcher.
        .env("INTAKE__OUTBOX__POSTS_PER_CHANNEL_PER_SEC", "0")
        .env("INTAKE__SCHEDULE__DIGEST", "0 0 9 * * * 2099")
        .envs(launch.extra.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("spawn target/release/intake serve")
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 to find a free port");
    listener.local_addr().expect("a bound address").port()
}

impl Intake {
    /// Spawns `intake serve` on `database` (a fresh SQLite file when `None`)
    /// and waits (bounded) until `/readyz` answers 200.
    pub async fn start(
        client: &HttpClient,
        secret: &str,
        slack_api_url: &str,
        intake_channel: &str,
        database: Option<String>,
    ) -> Intake {
        let dir = tempfile::tempdir().expect("a temp dir for the SQLite file and the log");
        let database =
            database.unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("intake.db").display()));
        let settings = Launch {
            secret: secret.to_owned(),
            slack_api_url: slack_api_url.to_owned(),
            intake_channel: intake_channel.to_owned(),
            extra: Vec::new(),
        };
        Self::launch(client, dir, database, settings).await
    }

    /// [`Intake::start`] receiving Slack over Socket Mode (the fake Web
    /// API's `apps.connections.open` says where), on a fresh SQLite file.
    pub async fn start_socket(client: &HttpClient, secret: &str, slack_api_url: &str, intake_channel: &str) -> Intake {
        let dir = tempfile::tempdir().expect("a temp dir for the SQLite file and the log");
        let database = format!("sqlite://{}?mode=rwc", dir.path().join("intake.db").display());
        let settings = Launch {
            secret: secret.to_owned(),
            slack_api_url: slack_api_url.to_owned(),
            intake_channel: intake_channel.to_owned(),
            extra: vec![
                ("SLACK_APP_TOKEN".into(), "xapp-1-A0INTAKE01-1-bench".into()),
                ("INTAKE__SLACK__TRANSPORT".into(), "socket".into()),
            ],
        };
        Self::launch(client, dir, database, settings).await
    }

    /// Stops the intake process; [`Intake::start_again`] starts it again.
    pub fn halt(&mut self) {
        self.terminate();
    }

    /// Starts intake again on the same database and port (its pending work
    /// is picked up where it was left); waits until it is ready.
    pub async fn start_again(&mut self, client: &HttpClient) {
        self.terminate();
        let started = Instant::now();
        self.child = spawn_child(&self.launch, &self.database, &self.bind, &self.log);
        self.cold_start = self.wait_ready(client, started).await;
    }

    async fn launch(client: &HttpClient, dir: tempfile::TempDir, database: String, launch: Launch) -> Intake {
        let bind = format!("127.0.0.1:{}", free_port());
        let log = dir.path().join("intake.log");
        let started = Instant::now();
        let child = spawn_child(&launch, &database, &bind, &log);
        let mut intake = Intake {
            child,
            base: format!("http://{bind}"),
            database,
            cold_start: Duration::ZERO,
            log,
            launch,
            bind,
            _dir: dir,
        };
        intake.cold_start = intake.wait_ready(client, started).await;
        intake
    }

    async fn wait_ready(&mut self, client: &HttpClient, started: Instant) -> Duration {
        let uri: hyper::Uri = format!("{}/readyz", self.base).parse().expect("a valid /readyz URI");
        while started.elapsed() < READY_BOUND {
            let probe = Request::get(uri.clone())
                .body(Full::new(Bytes::new()))
                .expect("a valid GET");
            if let Some((200, _)) = send(client, probe).await {
                return started.elapsed();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("intake exited during startup ({status}); its log:\n{}", self.log_text());
            }
            tokio::time::sleep(READY_POLL).await;
        }
        panic!("intake not ready within {READY_BOUND:?}; its log:\n{}", self.log_text());
    }

    /// `VmRSS` (or another `/proc/<pid>/status` field) in MiB.
    pub fn memory_mib(&self, field: &str) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    /// SIGTERM, then a bounded wait; SIGKILL if it does not exit in time.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").arg("-TERM").arg(&pid).status();
        let deadline = Instant::now() + STOP_BOUND;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("intake did not stop within {STOP_BOUND:?} of SIGTERM; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Intake {
    /// A panicking bench must not leave intake running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
