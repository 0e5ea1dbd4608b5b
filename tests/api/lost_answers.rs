//! Sends whose outcome the bot never learned (the answer came too late,
//! the connection dropped, the dispatcher lost its lease): nothing is
//! posted twice where Slack lets us check, and a throttled channel waits
//! alone. Issue 14.

use std::time::Duration;

use chrono::{Datelike, TimeDelta, TimeZone, Utc, Weekday};
use intake::domain::request::RequestNumber;
use intake::store::outbox::{self, Lease};
use intake::store::requests;
use testkit::*;

/// A Slack timeout of one second, and a lease that outlives it.
fn short_timeout(config: &mut intake::config::RawConfig) {
    config.slack.request_timeout_secs = 1;
    config.outbox.lease_secs = 5;
}

const LATE: Failure = Failure::AnswerLate(Duration::from_millis(1600));

#[tokio::test]
async fn a_card_whose_answer_was_lost_is_found_by_its_key_and_not_posted_again() {
    let (app, slack, _db) = spawn_app_with(short_timeout).await;
    slack.fail_next("chat.postMessage", LATE, 1);
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    app.settle().await;

    assert_eq!(slack.messages_in(INTAKE_CHANNEL), 1, "the card is in the channel once");
    assert_eq!(slack.posts().duplicate_keys, 0);
    let card = &slack.posts_to(INTAKE_CHANNEL)[0];
    assert_eq!(card.params["metadata"]["event_type"], "intake_message");
    assert_eq!(card.params["metadata"]["event_payload"]["key"], "req:1:intake_post");
    let lookup = slack.calls_to("conversations.history");
    assert_eq!(lookup.len(), 1, "looked for before posting again");
    assert_eq!(lookup[0].str("channel").as_deref(), Some(INTAKE_CHANNEL));
    assert_eq!(lookup[0].str("include_all_metadata").as_deref(), Some("true"));

    // The card found is the request's card: the receipt links to it.
    let message = requests::intake_message(app.db(), RequestNumber(1))
        .await
        .unwrap()
        .expect("the card's address is known");
    assert_eq!(message.ts, slack.first_card_ts());
    assert_eq!(slack.messages_in(SUBMITTER), 1, "the receipt followed");
    let rows = outbox::for_request(app.db(), RequestNumber(1)).await.unwrap();
    assert_eq!((rows[0].status.as_str(), rows[0].in_doubt), ("sent", false));
}

#[tokio::test]
async fn a_dm_whose_answer_was_lost_is_looked_for_in_the_dm() {
    let (app, slack, _db) = spawn_app_with(short_timeout).await;
    slack.fail_channel("chat.postMessage", SUBMITTER, LATE);
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    app.settle().await;

    assert_eq!(slack.messages_in(SUBMITTER), 1, "one receipt");
    let opened = slack.calls_to("conversations.open");
    assert!(
        opened.iter().any(|c| c.params["users"] == SUBMITTER),
        "the DM's channel is asked for"
    );
    let lookup = slack.calls_to("conversations.history");
    assert_eq!(lookup.len(), 1);
    assert!(lookup[0].str("channel").unwrap().starts_with('D'), "looked in the DM");
}

#[tokio::test]
async fn when_history_cannot_be_read_the_post_is_sent_again_and_counted() {
    let (app, slack, _db) = spawn_app_with(short_timeout).await;
    slack.fail_next("chat.postMessage", LATE, 1);
    slack.fail_always("conversations.history", Failure::SlackError("missing_scope".into()));
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    app.settle().await;

    assert_eq!(
        slack.messages_in(INTAKE_CHANNEL),
        2,
        "sent again: the documented duplicate"
    );
    assert_eq!(slack.posts().duplicate_keys, 1);
    let metrics = app.request("GET", "/metrics", &[], vec![]).await.body;
    assert!(
        metrics.contains("intake_outbox_possible_duplicates_total{method=\"chat.postMessage\"}"),
        "operators see it: {metrics}"
    );
}

#[tokio::test]
async fn an_outcome_is_not_recorded_by_a_dispatcher_that_lost_its_lease() {
    let slack = FakeSlack::start().await;
    let db = TestDb::new().await;
    let no_dispatcher = Parts {
        dispatcher: false,
        scheduler: false,
    };
    let app = TestApp::start(test_config(&db, &slack), no_dispatcher).await;
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    let writer = app.context().store.writer();

    // Dispatcher A claims the card, then stalls past its lease; B takes over.
    let lapsed = TimeDelta::seconds(-60);
    let a = outbox::claim_due(writer, "a:1", Utc::now(), lapsed, 1).await.unwrap();
    assert!(!a[0].in_doubt, "a first claim is not in doubt");
    let b = outbox::claim_due(writer, "b:1", Utc::now(), TimeDelta::seconds(60), 1)
        .await
        .unwrap();
    assert_eq!(b[0].id, a[0].id);
    assert!(b[0].in_doubt, "a lapsed lease puts the message in doubt");

    assert_eq!(
        outbox::mark_sent(writer, &a[0], "a:1", Utc::now()).await.unwrap(),
        Lease::Lost
    );
    let row = &outbox::for_request(app.db(), RequestNumber(1)).await.unwrap()[0];
    assert_eq!(
        (row.status.as_str(), row.lease_owner.as_deref()),
        ("pending", Some("b:1")),
        "A's late answer changed nothing"
    );
    assert_eq!(
        outbox::mark_sent(writer, &b[0], "b:1", Utc::now()).await.unwrap(),
        Lease::Held
    );
}

/// The first weekday 09:00:30 UTC after now (the default digest schedule).
fn next_digest() -> chrono::DateTime<Utc> {
    let mut day = Utc::now().date_naive() + TimeDelta::days(1);
    while matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        day += TimeDelta::days(1);
    }
    Utc.from_utc_datetime(&day.and_hms_opt(9, 0, 30).unwrap())
}

#[tokio::test]
async fn retry_after_holds_its_channel_only() {
    let (app, slack, _db) = spawn_app_with(|config| config.schedule.digest = "0 0 9 * * Mon-Fri".into()).await;
    slack.fail_channel(
        "chat.postMessage",
        INTAKE_CHANNEL,
        Failure::RateLimited { retry_after_secs: 60 },
    );
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    slack.wait_for_attempts("chat.postMessage", 1).await;
    slack.clear_failures();

    // A second card for the same channel, then the digest for another.
    let second = Form {
        title: Some("Export times out".into()),
        ..Form::default()
    };
    assert_eq!(app.submit(&second).await.status, 200);
    let lines = app.run_jobs(next_digest()).await;
    assert!(lines.iter().any(|l| l.contains("[digest:")), "{lines:?}");
    let digest_posted = async {
        while slack.posts_to("#product").is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), digest_posted)
        .await
        .expect("the digest went out while the intake channel waited");
    assert_eq!(
        slack.attempts_to("chat.postMessage"),
        2,
        "the throttled card, then only the digest: {:?}",
        slack.calls()
    );
    // The second card's task may record its wait just after the digest went.
    let mut waiting = outbox::for_request(app.db(), RequestNumber(2)).await.unwrap().remove(0);
    for _ in 0..500 {
        if waiting.next_attempt_at > Utc::now() + TimeDelta::seconds(30) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        waiting = outbox::for_request(app.db(), RequestNumber(2)).await.unwrap().remove(0);
    }
    assert_eq!(waiting.status, "pending");
    assert_eq!(waiting.attempts, 0, "waiting out a 429 is not a failed attempt");
    assert!(waiting.next_attempt_at > Utc::now() + TimeDelta::seconds(30));
}
