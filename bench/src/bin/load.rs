//! HTTP load benchmark: intake side by side with a floor, in one run.
//!
//! Starts the test kit's fake Slack Web API in-process (fast mode: no call
//! log), a *floor* handler (hyper + tokio: verify the Slack signature, one
//! pooled `views.open`, 200) as a child process, and `target/release/intake serve` as another child on a
//! fresh SQLite file against the fake, then drives both with correctly signed requests at concurrency 1,
//! 16 and 64 and prints a Markdown table: req/s, intake's ratio to the
//! floor, p50/p99 and errors; plus cold start, idle RSS, and correctness
//! checks (every submission posted once, nothing lost or duplicated).
//! Exits non-zero when a check fails.
//!
//! `bash bench/run-load.sh [--seconds N]` builds intake and runs this;
//! directly: `cargo run --release -p intake-bench --bin load -- [--seconds N]`.
//! Traffic goes to 127.0.0.1 only.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use intake_bench::load::generator::{self, BodyFn, HttpClient, Load, Outcome};
use intake_bench::load::intake_proc::Intake;
use intake_bench::load::report::{self, Row};
use intake_bench::load::socket::SocketServer;
use intake_bench::load::{bodies, floor};
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use testkit::FakeSlack;

const SECRET: &str = testkit::SIGNING_SECRET;
/// The channel the fake Slack counts intake posts in.
const INTAKE_CHANNEL: &str = testkit::INTAKE_CHANNEL;
/// A message ts no request has.
const UNKNOWN_TS: &str = "1111111111.000001";
const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
const CONCURRENCIES: [usize; 3] = [1, 16, 64];
/// Upper bound on every wait for intake's background work.
const SETTLE_BOUND: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);
/// Upper bound on waiting for intake's reaction worker to empty its queue.
const EVENTS_BOUND: Duration = Duration::from_secs(120);

/// Everything a case needs.
struct Bench {
    client: HttpClient,
    seq: Arc<AtomicU64>,
    duration: Duration,
    fake: FakeSlack,
    floor: floor::FloorProcess,
    intake: Intake,
    /// A read connection to intake's SQLite file, to check what it stored.
    store: DatabaseConnection,
    /// Failed correctness checks, in words.
    failures: Vec<String>,
    notes: Vec<String>,
}

fn seconds_arg() -> u64 {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--seconds") {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .filter(|&s| (1..=600).contains(&s))
            .expect("--seconds takes a whole number of seconds, 1 to 600"),
        None => 5,
    }
}

impl Bench {
    fn load(&self, base: &str, path: &str, content_type: &'static str, body: &BodyFn) -> Load {
        Load {
            uri: format!("{base}{path}").parse().expect("a valid target URI"),
            content_type,
            body: Arc::clone(body),
        }
    }

    async fn drive(&self, load: &Load, concurrency: usize) -> Outcome {
        generator::run(&self.client, load, SECRET, &self.seq, concurrency, self.duration).await
    }

    /// Runs one case against the floor (if `with_floor`) and intake at each
    /// concurrency; returns intake's `views.open` calls per run too.
    async fn case(
        &mut self,
        case: &'static str,
        path: &str,
        content_type: &'static str,
        body: BodyFn,
        concurrencies: &[usize],
        with_floor: bool,
    ) -> Vec<(Row, u64)> {
        let floor_load = self.load(&self.floor.base, path, content_type, &body);
        let intake_load = self.load(&self.intake.base, path, content_type, &body);
        let mut rows = Vec::new();
        for &concurrency in concurrencies {
            eprintln!("running: {case}, c={concurrency}");
            let floor = match with_floor {
                true => Some(self.drive(&floor_load, concurrency).await),
                false => None,
            };
            let before = self.fake.counts().views_open.load(Relaxed);
            let intake = self.drive(&intake_load, concurrency).await;
            let views_opened = self.fake.counts().views_open.load(Relaxed) - before;
            let row = Row {
                case,
                concurrency,
                floor,
                intake,
            };
            rows.push((row, views_opened));
        }
        rows
    }

    /// Polls `done` every 20 ms until it holds or [`SETTLE_BOUND`] passes.
    async fn wait_until(&self, mut done: impl FnMut(&FakeSlack) -> bool) -> bool {
        let deadline = Instant::now() + SETTLE_BOUND;
        while Instant::now() < deadline {
            if done(&self.fake) {
                return true;
            }
            tokio::time::sleep(POLL).await;
        }
        done(&self.fake)
    }

    /// Waits (bounded) until intake's outbox has no pending message;
    /// returns how long that took, or `None` on timeout.
    async fn wait_outbox_drained(&self) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < EVENTS_BOUND {
            if matches!(intake::store::outbox::counts(&self.store).await, Ok((0, _, _))) {
                return Some(started.elapsed());
            }
            tokio::time::sleep(POLL).await;
        }
        None
    }

    /// Waits (bounded) until intake's reaction worker has processed every
    /// recorded event; returns how long that took, or `None` on timeout.
    async fn wait_events_processed(&self) -> Option<Duration> {
        let started = Instant::now();
        while started.elapsed() < EVENTS_BOUND {
            let pending = intake::store::events::pending(&self.store).await;
            if matches!(pending, Ok(0)) {
                return Some(started.elapsed());
            }
            tokio::time::sleep(POLL).await;
        }
        None
    }

    fn check(&mut self, ok: bool, what: String) {
        if !ok {
            self.failures.push(what);
        }
    }
}

/// a. `/request`: verify, parse, `views.open`, ack. Every 2xx must have
/// opened exactly one view.
async fn slash_commands(bench: &mut Bench) -> Vec<Row> {
    let runs = bench
        .case(
            report::COMMANDS,
            "/slack/commands",
            FORM,
            bodies::slash_command(),
            &CONCURRENCIES,
            true,
        )
        .await;
    let mut rows = Vec::new();
    for (row, views_opened) in runs {
        let ok = row.intake.ok;
        bench.check(
            views_opened == ok,
            format!(
                "/request c={}: {views_opened} views.open for {ok} acks",
                row.concurrency
            ),
        );
        rows.push(row);
    }
    rows
}

/// b. A reaction on a message that is no request: recorded, then ignored.
async fn unknown_reactions(bench: &mut Bench) -> Vec<Row> {
    let body = bodies::reaction(INTAKE_CHANNEL, UNKNOWN_TS, "+1", false);
    let runs = bench
        .case(
            "reaction, unknown message",
            "/slack/events",
            JSON,
            body,
            &CONCURRENCIES,
            true,
        )
        .await;
    let drained = bench.wait_events_processed().await;
    bench.check(
        drained.is_some(),
        "unknown reactions: events still pending after 120 s".to_owned(),
    );
    bench.notes.push(format!(
        "reaction events on an unknown message: the worker's queue was empty {} after the last run",
        secs(drained)
    ));
    runs.into_iter().map(|(row, _)| row).collect()
}

fn secs(elapsed: Option<Duration>) -> String {
    elapsed.map_or("not within the 120 s bound".to_owned(), |d| {
        format!("{:.1} s", d.as_secs_f64())
    })
}

/// Files one request through the modal and returns the ts of its intake post.
async fn file_one_request(bench: &Bench) -> String {
    let load = bench.load(&bench.intake.base, "/slack/interactions", FORM, &bodies::submission());
    let body = (load.body)(bench.seq.fetch_add(1, Relaxed));
    let answer = generator::send(&bench.client, generator::signed(&load, SECRET, body.clone())).await;
    assert!(
        matches!(answer, Some((200, 0))),
        "the setup submission was refused: {answer:?}; body: {}; intake log:\n{}",
        String::from_utf8_lossy(&body),
        bench.intake.log_text()
    );
    let posted = bench.wait_until(|fake| fake.posts().first_intake_ts.is_some()).await;
    assert!(posted, "intake never posted the setup request to {INTAKE_CHANNEL}");
    // Give the dispatcher time to record the post as the request's message.
    bench.wait_until(|fake| fake.counts().permalink.load(Relaxed) > 0).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    bench.fake.posts().first_intake_ts.clone().expect("checked above")
}

/// c. "+1" from distinct users on a known request: each one counts demand.
async fn known_reactions(bench: &mut Bench) -> Vec<Row> {
    let ts = file_one_request(bench).await;
    let updates_before = bench.fake.counts().update.load(Relaxed);
    let body = bodies::reaction(INTAKE_CHANNEL, &ts, "+1", true);
    let runs = bench
        .case(report::KNOWN_REACTION, "/slack/events", JSON, body, &[16, 64], true)
        .await;
    let rows: Vec<Row> = runs.into_iter().map(|(row, _)| row).collect();
    let (sent, ok): (u64, u64) = rows
        .iter()
        .fold((0, 0), |(s, o), r| (s + r.intake.sent, o + r.intake.ok));
    let drained = bench.wait_events_processed().await;
    let outbox_drained = bench.wait_outbox_drained().await;
    bench.check(
        drained.is_some(),
        "known reactions: events still unprocessed after 120 s".to_owned(),
    );
    bench.check(
        outbox_drained.is_some(),
        "known reactions: outbox still pending after 120 s".to_owned(),
    );
    let updates = bench.fake.counts().update.load(Relaxed) - updates_before;
    let counted = intake::store::entities::request_reaction::Entity::find()
        .count(&bench.store)
        .await
        .expect("count the stored reactions");
    bench.notes.push(format!(
        "reaction events on a known request: sent {sent}, answered 200 {ok}, not 200 {}; \
         the worker's queue was empty {} after the last run; +1 reactions stored: {counted}/{ok}; \
         `chat.update` calls (demand refreshes) the fake saw: {updates}; the outbox was empty {} after that",
        sent - ok,
        secs(drained),
        secs(outbox_drained)
    ));
    bench.check(
        sent == ok,
        format!("known reactions: {} of {sent} events not acknowledged", sent - ok),
    );
    bench.check(
        counted == ok,
        format!("known reactions: {counted} stored for {ok} acknowledged events"),
    );
    rows
}

/// d + e. `/request` modal submissions, then the outbox drain: every
/// accepted submission must be posted once to the intake channel and once
/// as a receipt DM, nothing twice. `database` names the store in the notes.
async fn submissions(bench: &mut Bench, case: &'static str, database: &str) -> Vec<Row> {
    let (intake_before, receipts_before, dups_before) = {
        let posts = bench.fake.posts();
        (posts.intake, posts.receipts, posts.duplicates)
    };
    bench.fake.reset_window();
    let mut runs = bench
        .case(case, "/slack/interactions", FORM, bodies::submission(), &[16], false)
        .await;
    let load_ended = Instant::now();
    let (row, _) = runs.pop().expect("one run at c=16");
    let accepted = row.intake.ok - row.intake.ok_with_body;
    bench
        .wait_until(|fake| {
            let posts = fake.posts();
            posts.intake - intake_before >= accepted && posts.receipts - receipts_before >= accepted
        })
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await; // catch any extra post
    let posts = bench.fake.posts();
    let (intake_posts, receipts) = (posts.intake - intake_before, posts.receipts - receipts_before);
    let duplicates = posts.duplicates - dups_before;
    let (count, first, last) = (posts.window_count, posts.window_first, posts.window_last);
    drop(posts);
    let span = match (first, last) {
        (Some(first), Some(last)) => last.duration_since(first),
        _ => Duration::ZERO,
    };
    let tail = last.map_or(Duration::ZERO, |last| last.saturating_duration_since(load_ended));
    let lost = (2 * accepted).saturating_sub(intake_posts + receipts);
    bench.notes.push(format!(
        "view_submission on {database}: accepted {accepted} ({} answered with field errors); \
         accounted: intake posts {intake_posts}/{accepted}, receipt DMs {receipts}/{accepted}",
        row.intake.ok_with_body
    ));
    bench.notes.push(format!(
        "outbox drain on {database}: {count} `chat.postMessage` at {:.0} msg/s (first to last post, during and after the load); \
         last post {:.0} ms after the load ended; lost {lost}, duplicates {duplicates}",
        count as f64 / span.as_secs_f64().max(1e-9),
        tail.as_secs_f64() * 1e3
    ));
    bench.check(
        intake_posts == accepted && receipts == accepted,
        format!(
            "submissions on {database}: {intake_posts} intake posts and {receipts} receipts for {accepted} accepted"
        ),
    );
    bench.check(
        row.intake.ok_with_body == 0,
        format!(
            "submissions on {database}: {} refused by validation",
            row.intake.ok_with_body
        ),
    );
    bench.check(
        lost == 0 && duplicates == 0,
        format!("outbox on {database}: lost {lost}, duplicates {duplicates}"),
    );
    vec![row]
}

/// f. `/request` over Socket Mode: the same commands as (a), acked through
/// one WebSocket by a second intake (transport `socket`, its own SQLite
/// file), side by side with the HTTP intake at each concurrency. Every ack
/// must have opened exactly one view.
async fn socket_commands(bench: &mut Bench) -> Vec<Row> {
    let server = SocketServer::start().await;
    bench.fake.set_socket_url(&server.url());
    let over_socket = Intake::start_socket(&bench.client, SECRET, &bench.fake.api_url(), INTAKE_CHANNEL).await;
    let connected = server.connected().await;
    bench.check(connected, "socket mode: intake did not connect within 30 s".to_owned());
    let sample = testkit::sample_json("socket-mode/slash_commands.json");
    let http = bench.load(&bench.intake.base, "/slack/commands", FORM, &bodies::slash_command());
    let mut rows = Vec::new();
    for &concurrency in &CONCURRENCIES {
        eprintln!("running: /request over Socket Mode vs HTTP, c={concurrency}");
        let over_http = bench.drive(&http, concurrency).await;
        let before = bench.fake.counts().views_open.load(Relaxed);
        let socket = match connected {
            true => server.run(&sample, concurrency, bench.duration).await,
            false => generator::Outcome::default(),
        };
        let opened = bench.fake.counts().views_open.load(Relaxed) - before;
        bench.check(
            opened == socket.ok,
            format!(
                "socket mode, c={concurrency}: {opened} views opened for {} acks",
                socket.ok
            ),
        );
        rows.push(Row {
            case: report::SOCKET,
            concurrency,
            floor: Some(over_http),
            intake: socket,
        });
    }
    over_socket.stop();
    rows
}

/// How many messages the drain case queues.
const DRAIN_MESSAGES: u64 = 20_000;
const DRAIN_CHANNEL: &str = "C0DRAIN01";

/// e. The dispatcher alone: intake is stopped, 20,000 `chat.postMessage`
/// rows are queued straight into its outbox, and intake is started again.
/// The rate is posts over the span from its first to its last post; every
/// message must arrive exactly once.
async fn outbox_drain(bench: &mut Bench) {
    use sea_orm::TransactionTrait;
    bench.intake.halt();
    let txn = bench.store.begin().await.expect("a transaction on intake's database");
    let now = chrono::Utc::now();
    for n in 0..DRAIN_MESSAGES {
        let message = intake::outbox::OutboundMessage::post(
            None,
            intake::outbox::DedupeKey::stored(format!("bench-drain:{n}")),
            serde_json::json!({"channel": DRAIN_CHANNEL, "text": format!("Drain message {n}")}),
        );
        intake::store::outbox::enqueue(&txn, message, now)
            .await
            .expect("queue a message");
    }
    txn.commit().await.expect("commit the queued messages");
    let dups_before = bench.fake.posts().duplicates;
    bench.fake.reset_window();
    bench.intake.start_again(&bench.client).await;
    let started = Instant::now();
    let drained = loop {
        let count = bench.fake.posts().window_count;
        if count >= DRAIN_MESSAGES || started.elapsed() > EVENTS_BOUND {
            break count;
        }
        tokio::time::sleep(POLL).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await; // catch any extra post
    let (count, duplicates, span) = {
        let posts = bench.fake.posts();
        let span = match (posts.window_first, posts.window_last) {
            (Some(first), Some(last)) => last.duration_since(first),
            _ => Duration::ZERO,
        };
        (posts.window_count, posts.duplicates - dups_before, span)
    };
    let pending = intake::store::outbox::counts(&bench.store)
        .await
        .map(|(p, _, _)| p)
        .unwrap_or(u64::MAX);
    bench.notes.push(format!(
        "outbox drain (dispatcher alone, {DRAIN_MESSAGES} queued `chat.postMessage`, SQLite): {count} posted at {:.0} msg/s \
         (first to last post); still pending {pending}; duplicates {duplicates}",
        count as f64 / span.as_secs_f64().max(1e-9)
    ));
    bench.check(
        drained == DRAIN_MESSAGES && count == DRAIN_MESSAGES && duplicates == 0 && pending == 0,
        format!("outbox drain: {count} of {DRAIN_MESSAGES} posted, {duplicates} duplicates, {pending} pending"),
    );
}

fn print_report(bench: &Bench, rows: &[Row], cold_start: Duration, idle_rss: Option<f64>, peak_rss: Option<f64>) {
    let mib = |v: Option<f64>| v.map_or("unknown".to_owned(), |v| format!("{v:.1} MiB"));
    println!("## HTTP load: intake vs the floor\n");
    println!(
        "`bash bench/run-load.sh --seconds {}` · {} s per run · {}\n",
        bench.duration.as_secs(),
        bench.duration.as_secs(),
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    println!("Machine: {}\n", report::machine());
    println!("{}", report::table(rows));
    println!("req/s counts 2xx answers; errors are non-2xx answers plus transport errors and 10 s timeouts.\n");
    println!(
        "- cold start (spawn → first `/readyz` 200, migrations applied to a fresh SQLite file): {:.0} ms",
        cold_start.as_secs_f64() * 1e3
    );
    println!(
        "- RSS: idle after startup {}; peak over the run {}",
        mib(idle_rss),
        mib(peak_rss)
    );
    for note in &bench.notes {
        println!("- {note}");
    }
    let process = report::Process {
        cold_start_ms: cold_start.as_secs_f64() * 1e3,
        idle_rss_mib: idle_rss,
        peak_rss_mib: peak_rss,
    };
    println!("\n### Against issue 18's targets (this run)\n");
    println!("{}", report::targets(rows, &process));
    match bench.failures.as_slice() {
        [] => println!("- correctness checks: all passed"),
        failures => println!("- correctness checks FAILED: {}", failures.join("; ")),
    }
}

/// The cases to run: all, or those named by `--only a,b`
/// (commands, unknown, known, submissions, socket, drain).
fn wanted() -> impl Fn(&str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    let only: Option<Vec<String>> = args.iter().position(|a| a == "--only").map(|i| {
        args.get(i + 1)
            .map_or(Vec::new(), |v| v.split(',').map(str::to_owned).collect())
    });
    move |case| only.as_ref().is_none_or(|only| only.iter().any(|o| o == case))
}

/// `DATABASE_URL`, when it names a PostgreSQL server: the submissions case
/// then runs a second time, on a fresh database there.
fn postgres_server() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres://") || url.starts_with("postgresql://"))
}

/// Creates an empty database on the server `url` points at; returns its URL.
async fn fresh_postgres_database(url: &str) -> (DatabaseConnection, String, String) {
    use sea_orm::ConnectionTrait;
    let admin = sea_orm::Database::connect(url).await.expect("connect to DATABASE_URL");
    let name = format!("intake_bench_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the bench database");
    let base = url.rsplit_once('/').map_or(url, |(server, _)| server);
    (admin, format!("{base}/{name}"), name)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, api_url] = args.as_slice()
        && flag == floor::SERVE_FLAG
    {
        floor::serve_until_parent_exits(SECRET, api_url).await;
        return;
    }
    let duration = Duration::from_secs(seconds_arg());
    let wanted = wanted();
    let fake = FakeSlack::start_fast().await;
    let floor = floor::FloorProcess::start(&fake.api_url());
    let client = generator::http_client();
    let intake = Intake::start(&client, SECRET, &fake.api_url(), INTAKE_CHANNEL, None).await;
    let cold_start = intake.cold_start;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = intake.memory_mib("VmRSS:");
    let store = sea_orm::Database::connect(intake.database.as_str())
        .await
        .expect("open intake's SQLite file for reading");
    let mut bench = Bench {
        client,
        seq: Arc::new(AtomicU64::new(1)),
        duration,
        fake,
        floor,
        intake,
        store,
        failures: Vec::new(),
        notes: Vec::new(),
    };
    let mut rows = Vec::new();
    if wanted("commands") {
        rows.extend(slash_commands(&mut bench).await);
    }
    if wanted("unknown") {
        rows.extend(unknown_reactions(&mut bench).await);
    }
    if wanted("known") {
        rows.extend(known_reactions(&mut bench).await);
    }
    if wanted("submissions") {
        let case = report::SUBMISSIONS_SQLITE;
        rows.extend(submissions(&mut bench, case, "SQLite").await);
    }
    if wanted("socket") {
        rows.extend(socket_commands(&mut bench).await);
    }
    if wanted("drain") {
        outbox_drain(&mut bench).await;
    }
    let peak_rss = bench.intake.memory_mib("VmHWM:");
    let mut postgres = None;
    if let Some(server) = postgres_server().filter(|_| wanted("submissions")) {
        let (admin, url, name) = fresh_postgres_database(&server).await;
        let on_postgres = Intake::start(&bench.client, SECRET, &bench.fake.api_url(), INTAKE_CHANNEL, Some(url)).await;
        std::mem::replace(&mut bench.intake, on_postgres).stop();
        bench.store = sea_orm::Database::connect(bench.intake.database.as_str())
            .await
            .expect("open intake's PostgreSQL database for reading");
        let case = report::SUBMISSIONS_POSTGRES;
        rows.extend(submissions(&mut bench, case, "PostgreSQL").await);
        postgres = Some((admin, name));
    }
    print_report(&bench, &rows, cold_start, idle_rss, peak_rss);
    let failed = !bench.failures.is_empty();
    bench.intake.stop();
    if let Some((admin, name)) = postgres {
        use sea_orm::ConnectionTrait;
        let _ = bench.store.close().await;
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
    if failed {
        std::process::exit(1);
    }
}
