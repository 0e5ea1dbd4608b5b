//! A request whose card Slack refuses for good is not silently orphaned:
//! the submitter's receipt says so, the triagers hear (with Slack's error,
//! what to do and a *Post again* button), lists show it as "not posted",
//! and posting it again sends what waited for the card, once.

use intake::domain::request::RequestNumber;
use intake::service::repost::{Reposted, repost};
use intake::store::outbox;
use testkit::*;

/// Files request #1 while the intake channel refuses its card
/// (`channel_not_found`), and waits until the outbox has settled.
async fn orphaned() -> (TestApp, FakeSlack, TestDb) {
    let (app, slack, db) = spawn_app().await;
    slack.fail_next("chat.postMessage", Failure::SlackError("channel_not_found".into()), 1);
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    // The receipt, then one notice per triager.
    slack.wait_for("chat.postMessage", 3).await;
    app.settle().await;
    (app, slack, db)
}

fn posts_to(slack: &FakeSlack, channel: &str) -> Vec<Call> {
    slack
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|c| c.str("channel").as_deref() == Some(channel))
        .collect()
}

/// The buttons of a message, as (action_id, value).
fn buttons(call: &Call) -> Vec<(String, String)> {
    let blocks = call.params["blocks"].as_array().cloned().unwrap_or_default();
    blocks
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("action_id"), s("value"))
        })
        .collect()
}

/// `user` clicks *Post again* on request `number` in their DM with the app.
async fn click_post_again(app: &TestApp, number: i64, user: &str) -> Response {
    let body = click_body("repost", number, user, None, "D0TRIAGE01");
    app.post_signed("/slack/interactions", "application/x-www-form-urlencoded", &body)
        .await
}

fn ephemerals(slack: &FakeSlack) -> Vec<String> {
    slack
        .calls_to("chat.postEphemeral")
        .iter()
        .map(|c| c.str("text").unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn the_receipt_says_the_request_is_filed_but_not_posted_yet() {
    let (_app, slack, _db) = orphaned().await;
    let receipts = posts_to(&slack, SUBMITTER);
    assert_eq!(receipts.len(), 1);
    let receipt = shown(&receipts[0]);
    assert!(
        receipt.contains("#1 is filed, but I could not post it to the intake channel yet"),
        "{receipt}"
    );
    assert!(receipt.contains("The product team has been told"), "{receipt}");
    assert!(receipt.contains("it keeps its number, #1"), "{receipt}");
    assert!(!receipt.contains("is in the intake channel"), "{receipt}");
    assert!(
        !receipt.contains("channel_not_found"),
        "no Slack code for the submitter: {receipt}"
    );
}

#[tokio::test]
async fn each_triager_is_told_with_the_error_what_to_do_and_a_post_again_button() {
    let (app, slack, _db) = orphaned().await;
    for triager in [TRIAGER, TRIAGER_2] {
        let notices = posts_to(&slack, triager);
        assert_eq!(notices.len(), 1, "one notice for {triager}");
        let notice = shown(&notices[0]);
        for words in [
            "#1 Invoices render blank",
            &format!("<@{SUBMITTER}>"),
            "channel_not_found",
            &format!("invite the bot to <#{INTAKE_CHANNEL}> or fix `channels.intake`"),
            "click *Post again* or run `intake repost 1`",
        ] {
            assert!(notice.contains(words), "{words:?} in {notice}");
        }
        assert_eq!(buttons(&notices[0]), [("repost".to_string(), "1".to_string())]);
    }
    let request = app.request_no(1).await;
    assert_eq!(request.intake_error.as_deref(), Some("channel_not_found"));
    assert_eq!(request.intake_message, None);
}

#[tokio::test]
async fn lists_show_the_request_as_not_posted() {
    let (app, _slack, _db) = orphaned().await;
    let queue = app.command_as("list all", TRIAGER).await.json();
    let text = queue["text"].as_str().unwrap_or_default();
    assert!(text.contains("not posted (channel_not_found)"), "{text}");
    let status = app.command_as("1", TRIAGER).await.json();
    let text = status["text"].as_str().unwrap_or_default();
    assert!(text.contains("not posted (channel_not_found)"), "{text}");
    let digest = intake::service::scheduled::manual_digest(app.context(), chrono::Utc::now())
        .await
        .unwrap();
    let digest = digest[0].payload.to_string();
    assert!(
        digest.contains("#1 Invoices render blank, not posted (channel_not_found) — "),
        "{digest}"
    );
}

#[tokio::test]
async fn post_again_posts_a_fresh_card_and_what_waited_for_it_goes_out_once() {
    let (app, slack, _db) = orphaned().await;
    // A triager takes it: the card refresh and the thread line die for
    // want of a card; the submitter's DM goes out.
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    app.settle().await;
    let rows = outbox::for_request(app.db(), RequestNumber(1)).await.unwrap();
    let starved = rows
        .iter()
        .filter(|r| {
            r.last_error
                .as_deref()
                .is_some_and(|e| e.contains("has no intake message"))
        })
        .count();
    assert_eq!(starved, 2, "the card refresh and the thread line: {rows:#?}");
    assert!(posts_to(&slack, INTAKE_CHANNEL).is_empty());

    assert_eq!(click_post_again(&app, 1, TRIAGER).await.status, 200);
    app.settle().await;
    let cards: Vec<Call> = posts_to(&slack, INTAKE_CHANNEL)
        .into_iter()
        .filter(|c| c.str("thread_ts").is_none())
        .collect();
    assert_eq!(cards.len(), 1, "one fresh card");
    let card = shown(&cards[0]);
    assert!(card.contains(&format!("<@{TRIAGER}>")), "the card as it is now: {card}");
    let request = app.request_no(1).await;
    assert_eq!(request.intake_error, None, "posted now");
    let card_ts = request.intake_message.expect("the fresh card is recorded").ts;
    let thread: Vec<Call> = posts_to(&slack, INTAKE_CHANNEL)
        .into_iter()
        .filter(|c| c.str("thread_ts").as_deref() == Some(card_ts.as_str()))
        .collect();
    assert_eq!(
        thread.len(),
        1,
        "the waiting thread line, once, in the new card's thread"
    );
    assert_eq!(slack.attempts_to("chat.update"), 0, "the fresh card needs no refresh");
    assert!(
        ephemerals(&slack)
            .iter()
            .any(|e| e.contains(&format!("Posting #1 to <#{INTAKE_CHANNEL}> again"))),
        "{:?}",
        ephemerals(&slack)
    );
    let (_, _, dead) = outbox::counts(app.db()).await.unwrap();
    assert_eq!(dead, 0, "what was dead is superseded");

    // A second click (or a later run) posts nothing more.
    assert_eq!(click_post_again(&app, 1, TRIAGER_2).await.status, 200);
    app.settle().await;
    assert_eq!(
        repost(app.context(), RequestNumber(1), chrono::Utc::now())
            .await
            .unwrap(),
        Reposted::AlreadyPosted
    );
    assert_eq!(
        posts_to(&slack, INTAKE_CHANNEL).len(),
        2,
        "the card and its thread line"
    );
    assert!(ephemerals(&slack).iter().any(|e| e.contains("already posted")));
    // Later steps update the fresh card in place.
    assert_eq!(app.click_with("assign", 1, TRIAGER, Some(TRIAGER_2)).await.status, 200);
    app.settle().await;
    let updates = slack.calls_to("chat.update");
    assert_eq!(updates.len(), 1, "{updates:#?}");
    assert_eq!(updates[0].str("ts"), Some(card_ts));
}

#[tokio::test]
async fn a_stranger_cannot_post_it_again() {
    let (app, slack, _db) = orphaned().await;
    assert_eq!(click_post_again(&app, 1, STRANGER).await.status, 200);
    app.settle().await;
    assert!(posts_to(&slack, INTAKE_CHANNEL).is_empty(), "nothing posted");
    assert_eq!(ephemerals(&slack), ["Only triagers can post #1 again."]);
    let request = app.request_no(1).await;
    assert_eq!(request.intake_error.as_deref(), Some("channel_not_found"));
}

#[tokio::test]
async fn the_service_posts_again_and_a_failed_repost_is_told_again() {
    let (app, slack, _db) = orphaned().await;
    slack.fail_next("chat.postMessage", Failure::SlackError("not_in_channel".into()), 1);
    let outcome = repost(app.context(), RequestNumber(1), chrono::Utc::now())
        .await
        .unwrap();
    assert!(matches!(outcome, Reposted::Queued { waiting: 0, .. }), "{outcome:?}");
    slack.wait_for("chat.postMessage", 5).await;
    app.settle().await;
    let request = app.request_no(1).await;
    assert_eq!(request.intake_error.as_deref(), Some("not_in_channel"));
    for triager in [TRIAGER, TRIAGER_2] {
        let notices = posts_to(&slack, triager);
        assert_eq!(notices.len(), 2, "told again, with the new error");
        assert!(shown(&notices[1]).contains("not_in_channel"));
    }
    let outcome = repost(app.context(), RequestNumber(1), chrono::Utc::now())
        .await
        .unwrap();
    assert!(matches!(outcome, Reposted::Queued { waiting: 0, .. }), "{outcome:?}");
    app.settle().await;
    assert_eq!(posts_to(&slack, INTAKE_CHANNEL).len(), 1, "posted at the third try");
    assert_eq!(app.request_no(1).await.intake_error, None);
}

/// Runs the built `intake` binary against the test's database.
async fn intake_cli(db: &TestDb, slack: &FakeSlack, args: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_intake"))
        .args(args)
        .env("INTAKE__DATABASE__URL", &db.url)
        .env("INTAKE__SLACK__API_URL", slack.api_url())
        .env("INTAKE__LOG__LEVEL", "warn")
        .env("SLACK_BOT_TOKEN", BOT_TOKEN)
        .env("SLACK_SIGNING_SECRET", SIGNING_SECRET)
        .output()
        .await
        .expect("the intake binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "intake {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn outbox_list_names_the_request_not_posted_and_retry_sends_it() {
    let (app, slack, db) = orphaned().await;
    let dead = intake_cli(&db, &slack, &["outbox", "list", "--dead"]).await;
    let lines: Vec<&str> = dead.lines().collect();
    assert_eq!(lines.len(), 1, "only the card is dead: {dead}");
    for words in [
        "#1",
        "chat.postMessage",
        "dead",
        "channel_not_found",
        "request #1 not posted",
    ] {
        assert!(lines[0].contains(words), "{words:?} in {dead}");
    }
    let all = intake_cli(&db, &slack, &["outbox", "list", "--request", "1"]).await;
    assert_eq!(all.lines().count(), 4, "the card, the receipt, two notices: {all}");

    let retried = intake_cli(&db, &slack, &["outbox", "retry", "--all-dead"]).await;
    assert!(retried.contains("1 dead message(s) put back to pending"), "{retried}");
    app.settle().await;
    assert_eq!(posts_to(&slack, INTAKE_CHANNEL).len(), 1, "the card is posted");
    assert_eq!(app.request_no(1).await.intake_error, None);
    let dead = intake_cli(&db, &slack, &["outbox", "list", "--dead"]).await;
    assert_eq!(dead.trim(), "no messages");
}

#[tokio::test]
async fn without_triagers_the_escalation_channel_hears() {
    const ESCALATION: &str = "C0ESCALATE1";
    let slack = FakeSlack::start().await;
    let db = TestDb::new().await;
    let mut config = test_config(&db, &slack);
    config.triage.triagers = Vec::new();
    config.channels.escalation = ESCALATION.into();
    let app = TestApp::start(
        config,
        Parts {
            dispatcher: true,
            scheduler: false,
        },
    )
    .await;
    slack.fail_next("chat.postMessage", Failure::SlackError("not_in_channel".into()), 1);
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    slack.wait_for("chat.postMessage", 2).await;
    app.settle().await;
    let notices = posts_to(&slack, ESCALATION);
    assert_eq!(notices.len(), 1);
    assert!(shown(&notices[0]).contains("not_in_channel"));
    assert_eq!(buttons(&notices[0]), [("repost".to_string(), "1".to_string())]);
    assert!(posts_to(&slack, TRIAGER).is_empty());
}
