//! kill -9: the real `intake serve`, killed 20 times at random points while
//! signed submissions stream in and a fifth of Slack's `chat.postMessage`
//! answers are 500s or 429s, restarted each time on the same database.
//! Nothing a person was told was received is lost, and a crash costs at
//! most one duplicate post.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use intake::store::entities::{outbox_message, request};
use intake::store::{Store, outbox};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use testkit::*;
use tokio::process::{Child, Command};

const KILLS: usize = 20;
/// Clients submitting at once, so some submissions are in flight at a kill.
const SUBMITTERS: usize = 3;
/// Bounds against hanging, not timing assertions.
const READY_BOUND: Duration = Duration::from_secs(30);
// Every receipt goes to the one test submitter's DM, and each 429 there
// holds that channel for its Retry-After, as Slack asks: hundreds of
// receipts drain at ~10 a second under the fault mix. The loop ends as
// soon as the outbox is empty; this only bounds a hang.
const DRAIN_BOUND: Duration = Duration::from_secs(120);
/// Answers of the fake Slack while sends should be in flight at the kill.
const SLOW_SLACK: Duration = Duration::from_millis(300);

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn seed() -> u64 {
    std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_260_514)
}

/// `intake serve` as a child process on `db`, listening on `bind`.
struct Serve {
    db_url: String,
    slack_url: String,
    bind: String,
    log: PathBuf,
}

impl Serve {
    fn spawn(&self) -> Child {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("a log file for intake serve");
        let stderr = log.try_clone().expect("a second handle on the log");
        Command::new(env!("CARGO_BIN_EXE_intake"))
            .arg("serve")
            .env("SLACK_BOT_TOKEN", BOT_TOKEN)
            .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
            .env("INTAKE__SLACK__API_URL", &self.slack_url)
            .env("INTAKE__DATABASE__URL", &self.db_url)
            .env("INTAKE__SERVER__BIND", &self.bind)
            .env("INTAKE__CHANNELS__INTAKE", INTAKE_CHANNEL)
            .env("INTAKE__CHANNELS__ONCALL", ONCALL_CHANNEL)
            .env("INTAKE__ONCALL__USERGROUP", ONCALL_GROUP)
            .env("INTAKE__TRIAGE__TRIAGERS", format!("{TRIAGER},{TRIAGER_2}"))
            .env("INTAKE__OUTBOX__POLL_INTERVAL_MS", "20")
            .env("INTAKE__OUTBOX__RETRY_BASE_MS", "20")
            // Paced as in the other tests: every card goes to one channel
            // and every receipt to one DM here.
            .env("INTAKE__OUTBOX__POSTS_PER_CHANNEL_PER_SEC", "100")
            .env("INTAKE__OUTBOX__POST_BURST", "100")
            // A killed instance's claims free up soon; still longer than a send.
            .env("INTAKE__OUTBOX__LEASE_SECS", "3")
            .env("INTAKE__SLACK__REQUEST_TIMEOUT_SECS", "2")
            // A scheduler tick every second, so some kills land mid-tick.
            .env("INTAKE__SCHEDULE__SLA_SWEEP", "* * * * * *")
            .env("INTAKE__SCHEDULE__DIGEST", "0 0 9 * * * 2099")
            .env("INTAKE__LOG__LEVEL", "warn")
            .env("INTAKE__LOG__FORMAT", "human")
            .env_remove("RUST_LOG")
            .env_remove("INTAKE_CONFIG")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("spawn intake serve")
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Waits (bounded) until `/readyz` answers 200.
    async fn wait_ready(&self, child: &mut Child, client: &HttpClient) {
        let deadline = Instant::now() + READY_BOUND;
        let uri: hyper::Uri = format!("http://{}/readyz", self.bind).parse().expect("a URI");
        loop {
            let probe = hyper::Request::get(uri.clone())
                .body(Full::new(Bytes::new()))
                .expect("a GET");
            if let Ok(Ok(response)) = tokio::time::timeout(Duration::from_secs(1), client.request(probe)).await
                && response.status() == 200
            {
                return;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("intake serve exited ({status}); its log:\n{}", self.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "intake serve not ready within {READY_BOUND:?}; its log:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// SIGKILL, and wait for the process to be gone.
async fn kill_9(child: &mut Child) {
    child.start_kill().expect("SIGKILL intake serve");
    child.wait().await.expect("intake serve is reaped");
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("a bound address").port()
}

/// Submits the /request form again and again (title `Crash {lane}-{i}`);
/// keeps the titles intake answered 200 for, and counts the submissions a
/// kill cut off.
async fn submit_until(
    stop: &AtomicBool,
    lane: usize,
    base: &str,
    client: &HttpClient,
    accepted: &Mutex<Vec<String>>,
    cut: &AtomicU64,
) {
    let mut i = 0;
    while !stop.load(Relaxed) {
        i += 1;
        let title = format!("Crash {lane}-{i}");
        let form = Form {
            title: Some(title.clone()),
            // Every fifth critical: an on-call page too.
            severity: Some(if i % 5 == 0 { "sev1" } else { "sev3" }.into()),
            ..Form::default()
        };
        let body = form.body();
        let mut request = hyper::Request::post(format!("{base}/slack/interactions"))
            .header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in signing::slack_headers(SIGNING_SECRET, signing::now_ts(), &body) {
            request = request.header(name, value);
        }
        let request = request.body(Full::new(Bytes::from(body))).expect("a request");
        let answered = tokio::time::timeout(Duration::from_secs(5), async {
            let response = client.request(request).await?;
            let status = response.status();
            // An answer cut off halfway counts as no answer.
            Ok::<_, hyper_util::client::legacy::Error>(match response.into_body().collect().await {
                Ok(_) => status,
                Err(_) => hyper::StatusCode::BAD_GATEWAY,
            })
        })
        .await;
        match answered {
            Ok(Ok(status)) if status == 200 => accepted.lock().expect("lock").push(title),
            Ok(Err(e)) if e.is_connect() => tokio::time::sleep(Duration::from_millis(5)).await,
            // Killed mid-request: Slack would show the person an error.
            _ => {
                cut.fetch_add(1, Relaxed);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_20_times_at_random_points_it_loses_nothing() {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed());
    let slack = FakeSlack::start().await;
    let chaos = slack.set_chaos(Chaos::new(seed()).method(
        "chat.postMessage",
        Mix {
            rate_limited: 0.10,
            server_error: 0.10,
            ..Mix::default()
        },
    ));
    let db = TestDb::new().await;
    let serve = Serve {
        db_url: db.url.clone(),
        slack_url: slack.api_url(),
        bind: format!("127.0.0.1:{}", free_port()),
        log: std::env::temp_dir().join(format!("intake-crashes-{}.log", uuid::Uuid::new_v4().simple())),
    };
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();

    // The first instance migrates the fresh database undisturbed.
    let mut child = serve.spawn();
    serve.wait_ready(&mut child, &client).await;

    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(Mutex::new(Vec::new()));
    let cut = Arc::new(AtomicU64::new(0));
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|lane| {
            let (stop, accepted, cut, client) = (stop.clone(), accepted.clone(), cut.clone(), client.clone());
            let base = format!("http://{}", serve.bind);
            tokio::spawn(async move { submit_until(&stop, lane, &base, &client, &accepted, &cut).await })
        })
        .collect();
    // The test's own look at the database, beside intake's.
    let store = Store::connect(&db.url, 2).await.expect("the test reads the database");
    let mut killed_mid_send = 0;

    for kill in 0..KILLS {
        // Some rounds with Slack answering slowly, so sends are in flight.
        let slow = rng.random_bool(0.4);
        slack.set_latency(if slow { SLOW_SLACK } else { Duration::ZERO });
        // Varied points: during startup, right after it (the backlog's
        // first round), mid-stream, or after a while.
        let delay = match rng.random_range(0..10) {
            0 => None,
            1..=3 => Some(Duration::from_millis(rng.random_range(0..50))),
            4..=7 => Some(Duration::from_millis(rng.random_range(50..500))),
            _ => Some(Duration::from_millis(rng.random_range(500..1500))),
        };
        match delay {
            // Not waiting for ready: killed while starting up.
            None if kill > 0 => tokio::time::sleep(Duration::from_millis(rng.random_range(0..150))).await,
            _ => {
                if kill > 0 {
                    serve.wait_ready(&mut child, &client).await;
                }
                tokio::time::sleep(delay.unwrap_or_default()).await;
            }
        }
        kill_9(&mut child).await;
        // Messages the dead instance had claimed: sends it was in the middle of.
        let claimed = outbox_message::Entity::find()
            .filter(outbox_message::Column::Status.eq(outbox::PENDING))
            .filter(outbox_message::Column::LeaseOwner.is_not_null())
            .count(store.db())
            .await
            .expect("count claimed messages");
        killed_mid_send += usize::from(claimed > 0);
        child = serve.spawn();
    }
    stop.store(true, Relaxed);
    for submitter in submitters {
        submitter.await.expect("a submitter ran");
    }
    slack.set_latency(Duration::ZERO);

    // The last instance drains what the killed ones left behind.
    serve.wait_ready(&mut child, &client).await;
    let deadline = Instant::now() + DRAIN_BOUND;
    loop {
        let (pending, _, _) = outbox::counts(store.db()).await.expect("outbox counts");
        if pending == 0 {
            break;
        }
        if Instant::now() >= deadline {
            // What is stuck, and why: the rows themselves, then the log.
            let stuck: Vec<String> = outbox_message::Entity::find()
                .filter(outbox_message::Column::Status.eq("pending"))
                .all(store.db())
                .await
                .expect("pending rows")
                .iter()
                .map(|r| {
                    format!(
                        "id {} request {:?} {} key {} attempts {} next {} lease {:?} until {:?} in_doubt {} error {:?}",
                        r.id,
                        r.request_id,
                        r.method,
                        r.dedupe_key,
                        r.attempts,
                        r.next_attempt_at,
                        r.lease_owner,
                        r.lease_until,
                        r.in_doubt,
                        r.last_error
                    )
                })
                .collect();
            panic!(
                "{pending} messages still pending after {DRAIN_BOUND:?}:\n{}\nlog:\n{}",
                stuck.join("\n"),
                serve.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    kill_9(&mut child).await;

    let accepted: Vec<String> = accepted.lock().expect("lock").clone();
    let stored = request::Entity::find().all(store.db()).await.expect("requests");
    let (pending, sent, dead) = outbox::counts(store.db()).await.expect("outbox counts");
    store.close().await;
    let posts = slack.calls_to("chat.postMessage");
    let texts = |channel: &str| -> Vec<String> {
        posts
            .iter()
            .filter(|c| c.str("channel").as_deref() == Some(channel))
            .filter_map(|c| c.str("text"))
            .collect()
    };
    let (cards, receipts, pages) = (texts(INTAKE_CHANNEL), texts(SUBMITTER), texts(ONCALL_CHANNEL));

    let titles: BTreeSet<&str> = stored.iter().map(|r| r.title.as_str()).collect();
    let mut lost = Vec::new();
    for title in &accepted {
        if !titles.contains(title.as_str()) {
            lost.push(format!("{title}: answered 200 but not stored"));
        }
    }
    // Every stored request, acknowledged or not, is posted and receipted.
    for r in &stored {
        let card = format!("#{} {} ", r.id, r.title);
        if !cards.iter().any(|t| t.starts_with(&card)) {
            lost.push(format!("#{} {}: no card", r.id, r.title));
        }
        let receipt = format!("Received #{} {}", r.id, r.title);
        if !receipts.contains(&receipt) {
            lost.push(format!("#{} {}: no receipt", r.id, r.title));
        }
        let page = format!("#{} {}", r.id, r.title);
        if r.severity == "sev1" && !pages.iter().any(|t| t.contains(&page)) {
            lost.push(format!("#{} {}: critical, but on-call was not paged", r.id, r.title));
        }
    }
    let duplicates = slack.posts().duplicates;
    let _ = std::fs::remove_file(&serve.log);
    println!(
        "crashes: {KILLS} kill -9, {} submissions, {} lost, {duplicates} duplicates \
         ({killed_mid_send} kills with sends in flight, {} submissions unanswered at a kill, {} stored, {} posts; \
         {} Slack faults: {}; {:.0} s)",
        accepted.len(),
        lost.len(),
        cut.load(Relaxed),
        stored.len(),
        posts.len(),
        chaos.summary().total(),
        chaos.summary(),
        started.elapsed().as_secs_f64()
    );

    assert!(accepted.len() >= 50, "only {} submissions accepted", accepted.len());
    assert_eq!(lost, Vec::<String>::new(), "lost across the crashes");
    assert_eq!((pending, dead), (0, 0), "{sent} sent, {pending} pending, {dead} dead");
    assert!(
        duplicates <= KILLS as u64,
        "{duplicates} duplicate posts after {KILLS} crashes: more than one per crash"
    );
}
