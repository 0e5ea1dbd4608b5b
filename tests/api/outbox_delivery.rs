//! The outbox: nothing lost across a restart, rate limits and 5xx retried
//! until delivered exactly once, permanent errors marked dead.

use intake::domain::request::RequestNumber;
use intake::store::outbox;
use intake::store::requests;
use testkit::*;

#[tokio::test]
async fn messages_committed_before_a_crash_are_sent_after_restart() {
    let slack = FakeSlack::start().await;
    let db = TestDb::new().await;
    // The first process stores the request but dies before sending anything.
    let mut first = TestApp::start(
        test_config(&db, &slack),
        Parts {
            dispatcher: false,
            scheduler: false,
        },
    )
    .await;
    assert_eq!(
        first
            .submit(&Form {
                severity: Some("sev1".into()),
                ..Form::default()
            })
            .await
            .status,
        200
    );
    assert_eq!(
        outbox::counts(first.db()).await.unwrap(),
        (4, 0, 0),
        "the card, the on-call page, the receipt and the submitter's Home wait in the outbox"
    );
    first.stop().await;
    assert_eq!(slack.attempts_to("chat.postMessage"), 0);

    let second = TestApp::start(
        test_config(&db, &slack),
        Parts {
            dispatcher: true,
            scheduler: false,
        },
    )
    .await;
    let posts = slack.wait_for("chat.postMessage", 3).await;
    let channels: Vec<String> = posts.iter().filter_map(|c| c.str("channel")).collect();
    assert_eq!(
        channels,
        [INTAKE_CHANNEL, ONCALL_CHANNEL, SUBMITTER],
        "sent in the order they were written"
    );
    assert_eq!(
        requests::count(second.db()).await.unwrap(),
        1,
        "the request survived the restart"
    );
    assert!(requests::find(second.db(), RequestNumber(1)).await.unwrap().is_some());
    wait_until_settled(&second, 3).await;
    wait_until_settled(&second, 4).await;
    assert_eq!(outbox::counts(second.db()).await.unwrap(), (0, 4, 0));
}

/// Waits until `n` messages are finished (sent or dead).
async fn wait_until_settled(app: &TestApp, n: u64) {
    for _ in 0..1000 {
        let (_, sent, dead) = outbox::counts(app.db()).await.unwrap();
        if sent + dead >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("outbox did not settle: {:?}", outbox::counts(app.db()).await);
}

#[tokio::test]
async fn rate_limited_posts_wait_for_retry_after_and_are_delivered_once() {
    let (app, slack, _db) = spawn_app().await;
    slack.fail_next("chat.postMessage", Failure::RateLimited { retry_after_secs: 1 }, 1);
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    let posts = slack.wait_for("chat.postMessage", 2).await;
    wait_until_settled(&app, 2).await;
    assert_eq!(
        slack.attempts_to("chat.postMessage"),
        3,
        "one 429, then the post and the DM"
    );
    let intake_posts = posts
        .iter()
        .filter(|c| c.str("channel").as_deref() == Some(INTAKE_CHANNEL))
        .count();
    assert_eq!(intake_posts, 1, "delivered exactly once");
    let rows = outbox::for_request(app.db(), RequestNumber(1)).await.unwrap();
    assert_eq!(rows[0].attempts, 1, "a rate limit is not a failed attempt");
    assert_eq!(rows[0].last_error.as_deref(), Some("ratelimited"));
}

#[tokio::test]
async fn server_errors_are_retried_until_delivered() {
    let (app, slack, _db) = spawn_app().await;
    slack.fail_next("chat.postMessage", Failure::Status(503), 2);
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    slack.wait_for("chat.postMessage", 2).await;
    wait_until_settled(&app, 2).await;
    assert_eq!(slack.attempts_to("chat.postMessage"), 4);
    assert_eq!(
        slack.calls_to("chat.postMessage").len(),
        2,
        "the post and the DM, once each"
    );
    let rows = outbox::for_request(app.db(), RequestNumber(1)).await.unwrap();
    assert_eq!((rows[0].status.as_str(), rows[0].attempts), ("sent", 3));
}

#[tokio::test]
async fn permanent_errors_are_marked_dead_with_the_reason_and_not_retried() {
    let (app, slack, _db) = spawn_app().await;
    slack.fail_always("chat.postMessage", Failure::SlackError("channel_not_found".into()));
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    // The card, the receipt, and the two triagers' notices that the card
    // could not be posted (refused too); and the submitter's Home.
    wait_until_settled(&app, 5).await;
    let rows = outbox::for_request(app.db(), RequestNumber(1)).await.unwrap();
    assert_eq!(rows.len(), 4);
    for row in &rows {
        assert_eq!(row.status, "dead");
        assert_eq!(row.attempts, 1);
        assert_eq!(row.last_error.as_deref(), Some("channel_not_found"));
    }
    assert_eq!(
        slack.attempts_to("chat.postMessage"),
        4,
        "each tried once, none retried"
    );
    // Without an intake post, the receipt says where to look instead of linking.
    assert_eq!(slack.attempts_to("chat.getPermalink"), 0);
    // Operators see the dead messages on /metrics (the dispatcher keeps
    // the gauges, refreshed every second; the tests share one recorder, so
    // another test's dispatcher may have the last word for a moment).
    let mut metrics = String::new();
    for _ in 0..400 {
        metrics = app.request("GET", "/metrics", &[], vec![]).await.body;
        if metrics.contains("intake_outbox_messages{status=\"dead\"} 4") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(
        metrics.contains("intake_outbox_messages{status=\"dead\"} 4"),
        "{metrics}"
    );
}

#[tokio::test]
async fn two_dispatchers_on_one_database_send_each_message_once() {
    let slack = FakeSlack::start().await;
    let db = TestDb::new().await;
    let mut filer = TestApp::start(
        test_config(&db, &slack),
        Parts {
            dispatcher: false,
            scheduler: false,
        },
    )
    .await;
    for i in 0..15 {
        let form = Form {
            title: Some(format!("Request number {i}")),
            ..Form::default()
        };
        assert_eq!(filer.submit(&form).await.status, 200);
    }
    filer.stop().await;
    // Two replicas start at once and race for the same 30 messages.
    let (a, b) = tokio::join!(
        TestApp::start(
            test_config(&db, &slack),
            Parts {
                dispatcher: true,
                scheduler: false
            }
        ),
        TestApp::start(
            test_config(&db, &slack),
            Parts {
                dispatcher: true,
                scheduler: false
            }
        ),
    );
    slack.wait_for("chat.postMessage", 30).await;
    wait_until_settled(&a, 30).await;
    wait_until_settled(&b, 30).await;
    let posts = slack.calls_to("chat.postMessage");
    assert_eq!(posts.len(), 30, "every message exactly once");
    let mut distinct: Vec<String> = posts
        .iter()
        .map(|c| format!("{:?}{:?}", c.str("channel"), c.str("text")))
        .collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 30, "no message was sent twice");
    wait_until_settled(&a, 31).await;
    // 15 cards, 15 receipts, one Home for their (one) submitter.
    assert_eq!(outbox::counts(a.db()).await.unwrap(), (0, 31, 0));
}

#[tokio::test]
async fn replicas_started_together_on_a_fresh_database_all_migrate() {
    let db = TestDb::new().await;
    let replicas = (0..3).map(|_| {
        let url = db.url.clone();
        tokio::spawn(async move {
            let store = intake::store::Store::connect(&url, 2).await?;
            let migrated = store.migrate().await;
            store.close().await;
            migrated
        })
    });
    for replica in futures_util::future::join_all(replicas).await {
        replica.expect("the replica ran").expect("it migrated");
    }
}

#[tokio::test]
async fn sent_messages_are_pruned_after_the_retention_and_dead_ones_kept() {
    let (app, slack, _db) = spawn_with_request("sev2").await;
    slack.fail_next("chat.postEphemeral", Failure::SlackError("channel_not_found".into()), 1);
    assert_eq!(app.click("take", 1, STRANGER).await.status, 200);
    app.settle().await;
    let (_, sent, dead) = outbox::counts(app.db()).await.unwrap();
    assert!(sent >= 2 && dead == 1, "{sent} sent, {dead} dead");
    app.run_jobs(chrono::Utc::now() + chrono::TimeDelta::days(31)).await;
    let (_, sent_after, dead_after) = outbox::counts(app.db()).await.unwrap();
    assert_eq!(dead_after, 1, "dead messages wait for an operator");
    assert!(sent_after < sent, "{sent} sent before, {sent_after} after");
}
