//! Chaos: thousands of operations (submissions, clicks, step modals,
//! reactions, scheduler ticks) while a fifth of Slack's answers are faults
//! (429, 5xx, connection resets before and after the call took effect,
//! answers past the client's timeout). Afterwards every message the stored
//! state calls for has arrived, and a post arrived twice only when its
//! answer was lost and Slack's history could not be read to check (an
//! ephemeral, which has no history, when its answer was lost).

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::{TimeDelta, Utc};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use intake::slack::render;
use intake::store::entities::{outbox_message, request, request_event};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::EntityTrait;
use serde_json::{Value, json};
use testkit::chaos::Kind;
use testkit::*;

/// Concurrent clients, and operations each.
const LANES: u64 = 8;
const OPS_PER_LANE: u64 = 250;
/// The client timeout intake is given; slow answers come later than this.
const TIMEOUT_SECS: u64 = 1;
/// The simulated clock of the scheduler ticks stays short of the outbox's
/// retention (30 days), so no sent row is pruned before it is checked.
const MAX_TICK_AHEAD: TimeDelta = TimeDelta::days(20);
/// A bound on the drain after the operations, not a timing assertion.
const SETTLE_BOUND: Duration = Duration::from_secs(45);

/// The methods whose calls are messages (the outbox's).
const MESSAGE_METHODS: [&str; 4] = ["chat.postMessage", "chat.update", "chat.postEphemeral", "views.publish"];
/// Methods whose second call shows nothing new: a card updated, a Home
/// published again.
const IDEMPOTENT: [&str; 2] = ["chat.update", "views.publish"];
/// How intake looks for a post whose answer it never got.
const LOOKUPS: [&str; 3] = ["conversations.history", "conversations.replies", "conversations.open"];

fn seed() -> u64 {
    std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_260_514)
}

/// 20 % faults on every method; 429s kept rare, as each holds its channel
/// for a whole second (Retry-After), and slow answers too, as each holds its
/// request's later messages for the whole timeout.
fn mix() -> Mix {
    Mix {
        rate_limited: 0.01,
        server_error: 0.10,
        reset_before: 0.04,
        reset_after: 0.045,
        slow: 0.005,
    }
}

/// What one lane did, for the summary.
#[derive(Default)]
struct Tally {
    submissions: AtomicU64,
    clicks: AtomicU64,
    steps: AtomicU64,
    reactions: AtomicU64,
    ticks: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_slack_faults_every_message_arrives_and_only_unverifiable_ones_twice() {
    let started = Instant::now();
    let (app, slack, _db) = spawn_app_with(|config| {
        config.slack.request_timeout_secs = TIMEOUT_SECS;
        // Short backoff, so an unlucky message's tenth try is not minutes away.
        config.outbox.retry_base_ms = 5;
        // One intake channel and one submitter's DM get every post here:
        // paced as for real Slack, the drain would measure the pacing.
        // A 429's Retry-After still holds its channel.
        config.outbox.posts_per_channel_per_sec = 0;
    })
    .await;
    let chaos = slack.set_chaos(
        Chaos::new(seed())
            .everywhere(mix())
            .retry_after_secs(1)
            .slow_by(Duration::from_millis(TIMEOUT_SECS * 1000 + 500))
            .late_after(Duration::from_secs(TIMEOUT_SECS)),
    );
    let app = Arc::new(app);
    let tally = Arc::new(Tally::default());
    let tick_ahead = Arc::new(AtomicI64::new(0));

    let lanes = (0..LANES).map(|lane| {
        let (app, tally, tick_ahead) = (Arc::clone(&app), Arc::clone(&tally), Arc::clone(&tick_ahead));
        tokio::spawn(async move { run_lane(&app, lane, &tally, &tick_ahead).await })
    });
    for lane in futures_util::future::join_all(lanes).await {
        lane.expect("a lane of operations ran to the end");
    }
    let ops_done = started.elapsed();

    // Faults go on while the outbox drains: retries meet them too.
    settle(&app).await;
    let settled = started.elapsed();

    // What Slack holds is read back without faults.
    chaos.pause();
    let check = check_delivery(&app, &slack).await;
    if let Some(mut app) = Arc::into_inner(app) {
        app.stop().await;
    }
    let ops = LANES * OPS_PER_LANE;
    let injected = chaos.injected();
    let faults = |methods: &[&str], kinds: &dyn Fn(Kind) -> bool| -> u64 {
        injected
            .iter()
            .filter(|((method, kind), _)| methods.contains(&method.as_str()) && kinds(*kind))
            .map(|(_, n)| n)
            .sum()
    };
    let uncertain_posts = faults(&["chat.postMessage"], &Kind::uncertain);
    let uncertain_ephemerals = faults(&["chat.postEphemeral"], &Kind::uncertain);
    // Looking a post up failed (a 429 waits instead): Slack did not let us check.
    let unchecked = faults(&LOOKUPS, &|kind| kind != Kind::RateLimited);
    // A post the fake itself took past the client's timeout (a loaded
    // machine) may take effect after intake looked for it.
    let late_posts = chaos.late("chat.postMessage");
    let allowed_posts = unchecked.min(uncertain_posts) + late_posts;
    let allowed_ephemerals = uncertain_ephemerals + chaos.late("chat.postEphemeral");
    println!(
        "chaos: {ops} ops ({} submissions, {} clicks, {} step modals, {} reactions, {} ticks) on {} requests; \
         {} Slack faults ({}); {} messages delivered, {} lost; duplicates: {} posts (at most {}: unanswered, then \
         the history look-up failed), {} ephemerals (at most {allowed_ephemerals}: unanswered, no history to \
         check); seed {}; {:.0} s",
        tally.submissions.load(Relaxed),
        tally.clicks.load(Relaxed),
        tally.steps.load(Relaxed),
        tally.reactions.load(Relaxed),
        tally.ticks.load(Relaxed),
        check.requests,
        chaos.summary().total(),
        chaos.summary(),
        check.delivered,
        check.lost.len(),
        check.duplicate_posts,
        allowed_posts,
        check.duplicate_ephemerals,
        chaos.seed(),
        settled.as_secs_f64(),
    );
    eprintln!(
        "chaos: operations took {:.1} s; answered late by the fake itself: {late_posts} posts",
        ops_done.as_secs_f64()
    );

    assert!(
        chaos.summary().total() > ops / 2,
        "faults were injected: {}",
        chaos.summary()
    );
    for kind in Kind::ALL {
        assert!(
            chaos.count(kind) > 0,
            "some {} were injected: {}",
            kind.name(),
            chaos.summary()
        );
    }
    assert!(check.requests > 100, "{} requests filed", check.requests);
    assert!(check.steps > 100, "{} triage steps taken", check.steps);
    assert_eq!(
        check.lost,
        Vec::<String>::new(),
        "messages the state calls for that never arrived"
    );
    assert_eq!(
        check.duplicate_posts,
        slack.posts().duplicate_keys,
        "the fake counts the same duplicates"
    );
    assert!(
        check.duplicate_posts <= allowed_posts,
        "{} duplicate posts, but only {} posts were unanswered and then could not be looked up \
         (and {late_posts} answered late by the fake)",
        check.duplicate_posts,
        unchecked.min(uncertain_posts)
    );
    assert!(
        check.duplicate_ephemerals <= allowed_ephemerals,
        "{} duplicate ephemerals, but only {allowed_ephemerals} went unanswered",
        check.duplicate_ephemerals
    );
}

/// One client's operations, drawn from its own seeded RNG.
async fn run_lane(app: &TestApp, lane: u64, tally: &Tally, tick_ahead: &AtomicI64) {
    let mut rng = StdRng::seed_from_u64(seed() ^ (lane + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let users = [TRIAGER, TRIAGER_2, STRANGER, SUBMITTER];
    for i in 0..OPS_PER_LANE {
        let filed = intake::store::requests::count(app.db()).await.expect("count") as i64;
        let roll: f64 = rng.random();
        // Until a few requests exist, file them.
        if filed < 5 || roll < 0.25 {
            let severity = [
                "sev1", "sev2", "sev3", "sev3", "sev4", "sev2", "sev3", "sev4", "sev3", "sev2",
            ][rng.random_range(0..10)];
            let form = Form {
                title: Some(format!("Chaos request {lane}-{i}")),
                severity: Some(severity.into()),
                ..Form::default()
            };
            let answer = app.submit(&form).await;
            assert_eq!(answer.status, 200, "submission: {}", answer.body);
            tally.submissions.fetch_add(1, Relaxed);
            continue;
        }
        let number = rng.random_range(1..=filed);
        let user = users[rng.random_range(0..users.len())];
        let answer = if roll < 0.55 {
            tally.clicks.fetch_add(1, Relaxed);
            match rng.random_range(0..8) {
                0..=2 => app.click("take", number, user).await,
                3 => app.click("confirm", number, SUBMITTER).await,
                4 => app.click("reopen", number, user).await,
                5 => {
                    app.click_with("assign", number, user, Some(users[rng.random_range(0..2)]))
                        .await
                }
                6 => {
                    let severity = ["sev1", "sev2", "sev3", "sev4"][rng.random_range(0..4)];
                    app.click_with("set_severity", number, user, Some(severity)).await
                }
                _ => app.click("ask_info", number, user).await,
            }
        } else if roll < 0.82 {
            tally.steps.fetch_add(1, Relaxed);
            let revisit = (Utc::now() + TimeDelta::days(rng.random_range(2..15)))
                .format("%Y-%m-%d")
                .to_string();
            match rng.random_range(0..7) {
                0 => {
                    app.step("ask_info", number, user, &[("question", "Which browser, please?")])
                        .await
                }
                1 => {
                    app.step("add_info", number, SUBMITTER, &[("answer", "Firefox 140 on macOS")])
                        .await
                }
                2 => {
                    let tracker = format!("PROJ-{}", rng.random_range(1..999));
                    app.step("accept", number, user, &[("tracker", &tracker)]).await
                }
                3 | 4 => app.step("resolve", number, user, &[("note", "Fixed in 4.2")]).await,
                5 => {
                    let reason = [("reason", "This is how the product is meant to work today.")];
                    app.step("reject", number, user, &reason).await
                }
                _ => {
                    let fields = [("revisit", revisit.as_str()), ("reason", "After the pricing change")];
                    app.step("defer", number, user, &fields).await
                }
            }
        } else if roll < 0.97 {
            let card =
                intake::store::requests::intake_message(app.db(), intake::domain::request::RequestNumber(number))
                    .await
                    .expect("read the card's address");
            let Some(card) = card else { continue };
            tally.reactions.fetch_add(1, Relaxed);
            let emoji = ["+1", "+1", "arrow_up", "rotating_light"][rng.random_range(0..4)];
            let reactor = format!("U0REACT{:03}", rng.random_range(0..40));
            let kind =
                ["reaction_added", "reaction_added", "reaction_added", "reaction_removed"][rng.random_range(0..4)];
            let event_id = format!("EvChaos{lane}x{i}");
            app.react(kind, &reactor, emoji, (&card.channel, &card.ts), &event_id)
                .await
        } else {
            tally.ticks.fetch_add(1, Relaxed);
            let step = rng.random_range(60..720);
            let ahead = tick_ahead
                .fetch_add(step, Relaxed)
                .saturating_add(step)
                .min(MAX_TICK_AHEAD.num_minutes());
            app.run_jobs(Utc::now() + TimeDelta::minutes(ahead)).await;
            continue;
        };
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
}

/// Waits (bounded) until every recorded event is processed and no message
/// is pending.
async fn settle(app: &TestApp) {
    let deadline = Instant::now() + SETTLE_BOUND;
    loop {
        let events = intake::store::events::pending(app.db()).await.expect("events");
        let (pending, _, _) = intake::store::outbox::counts(app.db()).await.expect("counts");
        if events == 0 && pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not settled within {SETTLE_BOUND:?}: {events} events, {pending} messages pending"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct Delivery {
    requests: usize,
    steps: usize,
    /// Messages (posts, updates, ephemerals) Slack took.
    delivered: usize,
    /// What should be in Slack and is not, described.
    lost: Vec<String>,
    /// Posts of a key posted before.
    duplicate_posts: u64,
    /// Ephemerals beyond what the outbox sent.
    duplicate_ephemerals: u64,
}

/// Compares what the stored state calls for with what Slack holds and
/// received: each request's card in the intake channel where the request
/// says it is, and its receipt in the submitter's DM; each audited step's
/// messages in the outbox; every outbox row sent (none pending or dead),
/// and each sent row's message at Slack (posts by the outbox key in their
/// metadata, the rest by what they say where).
async fn check_delivery(app: &TestApp, slack: &FakeSlack) -> Delivery {
    let db = app.db();
    let requests = request::Entity::find().all(db).await.expect("requests");
    let rows = outbox_message::Entity::find().all(db).await.expect("outbox");
    let audit = request_event::Entity::find().all(db).await.expect("audit");
    let calls: Vec<Call> = MESSAGE_METHODS.iter().flat_map(|m| slack.calls_to(m)).collect();
    let mut lost = Vec::new();

    // The requests: a card where the request says it is, and a receipt.
    let channel = history(slack, INTAKE_CHANNEL).await;
    let dm = history(slack, "D0SUBMIT01").await;
    let mut addresses = HashMap::new();
    for r in &requests {
        let card = channel.get(&format!("req:{}:intake_post", r.id));
        match (&r.intake_channel, &r.intake_ts) {
            (Some(at), Some(ts)) if at == INTAKE_CHANNEL && card.is_some_and(|found| found.contains(ts)) => {
                addresses.insert(r.id, (at.clone(), ts.clone()));
            }
            (at, ts) => lost.push(format!(
                "#{}: its card is recorded at {at:?}/{ts:?}, the channel has it at {card:?}",
                r.id
            )),
        }
        if !dm.contains_key(&format!("req:{}:receipt", r.id)) {
            lost.push(format!("#{}: no receipt in the submitter's DM", r.id));
        }
    }

    // Every audited step wrote its messages (one version each).
    let steps: Vec<&request_event::Model> = audit.iter().filter(|e| e.kind != "submitted").collect();
    let mut versions: HashMap<i64, BTreeSet<String>> = HashMap::new();
    for row in &rows {
        let mut parts = row.dedupe_key.split(':');
        if let (Some("req"), Some(_), Some(version), Some(message)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
            && version.starts_with('v')
            && message != "demand"
            && let Some(number) = row.request_id
        {
            versions.entry(number).or_default().insert(version.to_owned());
        }
    }
    for r in &requests {
        let audited = steps.iter().filter(|e| e.request_id == r.id).count();
        let written = versions.get(&r.id).map_or(0, BTreeSet::len);
        if audited != written {
            lost.push(format!(
                "#{}: {audited} steps audited, messages of {written} in the outbox",
                r.id
            ));
        }
    }

    // Every outbox row sent, and each sent row's message at Slack.
    let mut expected: HashMap<String, u64> = HashMap::new();
    for row in &rows {
        match row.status.as_str() {
            "sent" => {}
            "skipped" | "superseded" => continue,
            other => {
                lost.push(format!(
                    "outbox {} ({}) is {other}: {:?}",
                    row.id, row.dedupe_key, row.last_error
                ));
                continue;
            }
        }
        let payload = match row.request_id.and_then(|n| addresses.get(&n)) {
            Some((channel, ts)) => render::fill_intake_address(&row.payload, channel, ts),
            None => row.payload.clone(),
        };
        let mut payload: Value = serde_json::from_str(&payload).expect("a stored payload is JSON");
        match (row.method.as_str(), &payload) {
            ("chat.postMessage", _) => payload["metadata"] = json!({"event_payload": {"key": row.dedupe_key}}),
            // A Home refresh stores only whose Home; the view is rendered when sent.
            ("views.publish", Value::String(user)) => payload = json!({"user_id": user}),
            _ => {}
        }
        *expected.entry(identity(&row.method, &payload)).or_default() += 1;
    }
    let mut received: HashMap<String, u64> = HashMap::new();
    for call in &calls {
        *received.entry(identity(&call.method, &call.params)).or_default() += 1;
    }
    let (mut duplicate_posts, mut duplicate_ephemerals) = (0, 0);
    for (what, want) in &expected {
        let got = received.get(what).copied().unwrap_or(0);
        if got < *want {
            lost.push(format!("{} of {want} never arrived: {what}", want - got));
        }
        // Updating a card twice shows nothing twice; a post twice does.
        let extra = got.saturating_sub(*want);
        if what.starts_with("chat.postMessage") {
            duplicate_posts += extra;
        } else if what.starts_with("chat.postEphemeral") {
            duplicate_ephemerals += extra;
        }
    }
    for (what, got) in &received {
        if !expected.contains_key(what) && !IDEMPOTENT.iter().any(|m| what.starts_with(m)) {
            lost.push(format!("{got} call(s) no sent message accounts for: {what}"));
        }
    }
    Delivery {
        requests: requests.len(),
        steps: steps.len(),
        delivered: calls.len(),
        lost,
        duplicate_posts,
        duplicate_ephemerals,
    }
}

/// What identifies a message at Slack: a post by the outbox key in its
/// metadata; anything else by method, where, for whom and its text.
fn identity(method: &str, params: &Value) -> String {
    if let Some(key) = params.pointer("/metadata/event_payload/key").and_then(Value::as_str) {
        return format!("{method} key={key}");
    }
    let field = |key: &str| params.get(key).and_then(Value::as_str).unwrap_or_default();
    format!(
        "{method} channel={} thread={} ts={} user={}{} text={}",
        field("channel"),
        field("thread_ts"),
        field("ts"),
        field("user"),
        field("user_id"),
        field("text")
    )
}

/// A channel's top-level messages as the fake Slack's
/// `conversations.history` returns them: outbox key → the `ts`s holding it.
async fn history(slack: &FakeSlack, channel: &str) -> HashMap<String, Vec<String>> {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut found: HashMap<String, Vec<String>> = HashMap::new();
    let mut cursor = String::new();
    loop {
        let uri = format!(
            "{}/conversations.history?channel={channel}&include_all_metadata=true&limit=1000&cursor={cursor}",
            slack.url()
        );
        let request = hyper::Request::get(uri)
            .header("authorization", format!("Bearer {BOT_TOKEN}"))
            .body(Full::new(Bytes::new()))
            .expect("a request");
        let answer = client.request(request).await.expect("the fake Slack answers");
        let body = answer.into_body().collect().await.expect("a body").to_bytes();
        let page: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(page["ok"], true, "{page}");
        for message in page["messages"].as_array().into_iter().flatten() {
            if let (Some(key), Some(ts)) = (
                message.pointer("/metadata/event_payload/key").and_then(Value::as_str),
                message["ts"].as_str(),
            ) {
                found.entry(key.to_owned()).or_default().push(ts.to_owned());
            }
        }
        match page.pointer("/response_metadata/next_cursor").and_then(Value::as_str) {
            Some(next) if !next.is_empty() => cursor = next.to_owned(),
            _ => return found,
        }
    }
}

/// The scheduler writes a reminder at the instant it is told (`run-jobs
/// --at`, here 16 minutes ahead); when the reminder's answer is lost, it is
/// looked for among what Slack holds since it was really sent.
#[tokio::test]
async fn a_reminder_written_for_a_future_instant_whose_answer_was_lost_is_not_posted_again() {
    let (app, slack, _db) = spawn_app_with(|config| {
        config.slack.request_timeout_secs = 1;
        config.outbox.lease_secs = 5;
    })
    .await;
    let filed = Utc::now();
    let form = Form {
        severity: Some("sev1".into()),
        ..Form::default()
    };
    assert_eq!(app.submit(&form).await.status, 200);
    app.settle().await;

    slack.fail_next("chat.postMessage", Failure::AnswerLate(Duration::from_millis(1600)), 1);
    let lines = app.run_jobs(filed + TimeDelta::minutes(16)).await;
    assert!(lines.iter().any(|l| l.contains("sla:1:response:500")), "{lines:?}");
    app.settle().await;

    assert_eq!(
        slack.posts().duplicate_keys,
        0,
        "the reminder was found, not posted again"
    );
    let reminders = slack
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.params.pointer("/metadata/event_payload/key") == Some(&json!("sla:1:response:500")))
        .count();
    assert_eq!(reminders, 1);
    assert!(
        !slack.calls_to("conversations.replies").is_empty(),
        "looked for in the card's thread"
    );
}
