//! Three replicas on one database for a simulated week: every 15 simulated
//! minutes all three run the scheduled jobs at once (as three `serve`s, or
//! `run-jobs` beside them, would), while all three dispatchers drain the
//! one outbox. Slack sees one digest a day, one reminder per SLA threshold,
//! and every outbox row is sent exactly once.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use intake::store::entities::outbox_message;
use sea_orm::EntityTrait;
use testkit::*;

const REPLICAS: usize = 3;
const TICK_MINUTES: i64 = 15;
const DAYS: i64 = 7;

/// What happens to a request once filed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Then {
    Open,
    Taken,
    Resolved,
    Deferred,
}

/// Runs the scheduled jobs due at `at` on every replica at once, each on
/// its own task (a multi-threaded runtime runs them in parallel).
async fn tick(replicas: &[TestApp], at: DateTime<Utc>) {
    let runs = replicas.iter().map(|replica| {
        let ctx = replica.context().clone();
        tokio::spawn(async move { intake::service::scheduled::run_due(&ctx, at, false).await })
    });
    for run in futures_util::future::join_all(runs).await {
        run.expect("the run did not panic").expect("the jobs run");
    }
}

/// `sla:3:response:900:c1` → (3, "response", 900): which request, SLA and
/// threshold a reminder row is for, whatever its SLA cycle.
fn reminder_of(key: &str) -> Option<(i64, String, u32)> {
    let mut parts = key.strip_prefix("sla:")?.split(':');
    let number = parts.next()?.parse().ok()?;
    let kind = parts.next()?.to_string();
    let threshold = parts.next()?.parse().ok()?;
    Some((number, kind, threshold))
}

/// The dates whose 09:00 UTC (the digest's schedule) falls in `(from, to]`.
fn digest_days(from: DateTime<Utc>, to: DateTime<Utc>) -> BTreeSet<NaiveDate> {
    from.date_naive()
        .iter_days()
        .take_while(|day| *day <= to.date_naive())
        .filter(|day| {
            let nine = day.and_hms_opt(9, 0, 0).expect("09:00 exists").and_utc();
            nine > from && nine <= to
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn three_replicas_for_a_week_send_one_digest_a_day_and_each_reminder_once() {
    let slack = FakeSlack::start().await;
    let db = TestDb::new().await;
    let parts = Parts {
        dispatcher: true,
        scheduler: false,
    };
    let mut replicas = Vec::new();
    for _ in 0..REPLICAS {
        let mut config = test_config(&db, &slack);
        config.schedule.digest = "0 0 9 * * *".into();
        replicas.push(TestApp::start(config, parts).await);
    }
    let started = std::time::Instant::now();

    // The replicas were running before anything was filed: this morning's
    // digest had nothing to report and is recorded as skipped.
    let start = Utc::now();
    tick(&replicas, start).await;

    // Requests of several severities, filed and triaged through different
    // replicas. Each threshold of each SLA is at least 24 counted minutes
    // after the previous one, so 15-minute ticks meet every one, and all
    // fall within the week (a week holds 40 working hours).
    let revisit = (start + Duration::days(3)).date_naive().to_string();
    let requests = [
        // The SLA that runs, and its span:
        ("sev1", Then::Taken), // resolution, 1 wall day
        ("sev2", Then::Open),  // response, 4 working hours
        ("sev3", Then::Open),  // response, 1 working day (8 hours)
        ("sev4", Then::Open),  // response, 3 working days
        ("sev2", Then::Taken), // resolution, 3 working days
        // None: a follow-up 3 working days after the fix …
        ("sev3", Then::Resolved),
        // … and a revisit on the first working morning from `revisit` on.
        ("sev4", Then::Deferred),
    ];
    for (i, (severity, _)) in requests.iter().enumerate() {
        let form = Form {
            title: Some(format!("Replica week request {}", i + 1)),
            severity: Some((*severity).into()),
            ..Form::default()
        };
        assert_eq!(replicas[i % REPLICAS].submit(&form).await.status, 200);
    }
    replicas[0].settle().await;
    for (i, (_, then)) in requests.iter().enumerate() {
        let number = i as i64 + 1;
        let replica = &replicas[(i + 1) % REPLICAS];
        if *then != Then::Open {
            assert_eq!(replica.click("take", number, TRIAGER).await.status, 200);
        }
        let (step, fields) = match then {
            Then::Resolved => ("resolve", vec![("note", "Fixed in 4.2")]),
            Then::Deferred => (
                "defer",
                vec![("revisit", revisit.as_str()), ("reason", "After the freeze")],
            ),
            Then::Open | Then::Taken => continue,
        };
        let answer = replica.step(step, number, TRIAGER, &fields).await;
        assert_eq!(answer.body, "", "{step} #{number}");
    }
    replicas[0].settle().await;

    let ticks = DAYS * 24 * 60 / TICK_MINUTES;
    let end = start + Duration::minutes(ticks * TICK_MINUTES);
    for n in 1..=ticks {
        tick(&replicas, start + Duration::minutes(n * TICK_MINUTES)).await;
    }
    for replica in &replicas {
        replica.settle().await;
    }

    let rows = outbox_message::Entity::find()
        .all(replicas[0].db())
        .await
        .expect("outbox");

    // One digest a day: each of the week's seven mornings once.
    let digest_rows: Vec<&outbox_message::Model> =
        rows.iter().filter(|r| r.dedupe_key.starts_with("digest:")).collect();
    let posted: BTreeSet<NaiveDate> = digest_rows
        .iter()
        .filter(|r| r.status == "sent")
        .filter_map(|r| r.dedupe_key.strip_prefix("digest:")?.parse().ok())
        .collect();
    assert_eq!(posted, digest_days(start, end), "{digest_rows:#?}");
    assert_eq!(posted.len(), DAYS as usize);
    let digests = slack.posts_to("#product");
    assert_eq!(digests.len(), DAYS as usize, "one digest post a day in Slack");

    // One reminder per (request, SLA, threshold): 50 %, 90 % and the breach
    // of the SLA each request has running.
    let mut reminders: BTreeMap<(i64, String, u32), usize> = BTreeMap::new();
    for row in &rows {
        if let Some(reminder) = reminder_of(&row.dedupe_key) {
            *reminders.entry(reminder).or_default() += 1;
        }
    }
    let expected: BTreeMap<(i64, String, u32), usize> = requests
        .iter()
        .enumerate()
        .filter_map(|(i, (_, then))| match then {
            Then::Open => Some((i, "response")),
            Then::Taken => Some((i, "resolution")),
            Then::Resolved | Then::Deferred => None,
        })
        .flat_map(|(i, kind)| [500, 900, 1000].map(|t| ((i as i64 + 1, kind.to_string(), t), 1)))
        .collect();
    assert_eq!(reminders, expected);
    let reminder_posts = slack
        .calls_to("chat.postMessage")
        .iter()
        .map(shown)
        .filter(|text| text.contains(" SLA due in ") || text.contains(" breached its "))
        .count();
    assert_eq!(reminder_posts, expected.len(), "one Slack post per reminder");

    // The follow-up asked once, and the deferred request came back once.
    let followups = rows.iter().filter(|r| r.dedupe_key.starts_with("followup:")).count();
    assert_eq!(followups, 1);
    let deferred = requests
        .iter()
        .position(|(_, then)| *then == Then::Deferred)
        .expect("one") as i64
        + 1;
    assert_eq!(replicas[0].request_no(deferred).await.state.as_str(), "triaged");
    for who in [TRIAGER, SUBMITTER] {
        let told = slack
            .calls_to("chat.postMessage")
            .iter()
            .filter(|c| c.str("channel").as_deref() == Some(who))
            .filter(|c| shown(c).contains("revisit date"))
            .count();
        assert_eq!(told, 1, "{who} is told once that #{deferred} is back");
    }

    // Every outbox row sent exactly once, and Slack got exactly as many
    // messages as the outbox sent.
    let (pending, sent, dead) = intake::store::outbox::counts(replicas[0].db()).await.expect("counts");
    assert_eq!((pending, dead), (0, 0));
    // Not sent, and rightly so: the first morning's empty digest, and card
    // refreshes replaced by a newer one before they went out.
    let unsent: Vec<&outbox_message::Model> = rows
        .iter()
        .filter(|r| r.status != "sent")
        .filter(|r| !(r.status == "superseded" && r.method == "chat.update"))
        .collect();
    assert!(
        unsent.len() == 1 && unsent[0].status == "skipped" && unsent[0].dedupe_key.starts_with("digest:"),
        "only the empty first digest and replaced card refreshes are not sent: {unsent:#?}"
    );
    assert!(
        rows.iter().filter(|r| r.status == "sent").all(|r| r.attempts == 1),
        "each sent once, at the first attempt"
    );
    for method in ["chat.postMessage", "chat.update"] {
        let rows_sent = rows.iter().filter(|r| r.status == "sent" && r.method == method).count();
        assert_eq!(
            slack.attempts_to(method),
            rows_sent,
            "{method}: calls to Slack = rows sent"
        );
    }
    assert_eq!(slack.posts().duplicates, 0, "no message posted twice");

    println!(
        "replicas: {REPLICAS} × {ticks} ticks over {DAYS} days: {} digests, {} reminders, {} duplicates; {sent} outbox rows each sent once ({:.1} s)",
        posted.len(),
        reminder_posts,
        slack.posts().duplicates,
        started.elapsed().as_secs_f64()
    );
    // Before the database goes: on this multi-threaded runtime the
    // replicas' workers would otherwise keep polling it.
    for replica in &mut replicas {
        replica.stop().await;
    }
}
