//! A person who left: a DM Slack refuses because its recipient is gone
//! (`user_not_found`, `account_inactive`) or is a bot (`cannot_dm_bot`)
//! becomes a line in the request's thread naming who could not be reached,
//! and an owner who cannot be reached shows on the card, in `/request`
//! lists and in the digest until a triager assigns someone else.

use chrono::{Duration, Utc};
use intake::outbox::DedupeKey;
use intake::service::scheduled::digest_message;
use testkit::*;

const GONE: &str = "U0GONE0001";

/// Files a High request (#1) and waits until its intake post is out.
async fn filed(slack: &FakeSlack, app: &TestApp) {
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    slack.wait_for("chat.postMessage", 2).await;
    app.settle().await;
}

/// What the lines in the request's thread say.
fn thread_lines(slack: &FakeSlack) -> Vec<String> {
    slack
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.str("thread_ts").is_some())
        .map(shown)
        .collect()
}

/// The thread lines saying that `user` could not be reached.
fn unreachable_lines(slack: &FakeSlack, user: &str) -> Vec<String> {
    thread_lines(slack)
        .into_iter()
        .filter(|l| l.contains(&format!("<@{user}>")) && l.contains("could not reach"))
        .collect()
}

fn last_card(slack: &FakeSlack) -> String {
    let updates = slack.calls_to("chat.update");
    shown(updates.last().expect("the card was updated"))
}

#[tokio::test]
async fn an_owner_who_left_is_named_in_the_thread_and_shown_until_someone_else_is_assigned() {
    let (app, slack, _db) = spawn_app().await;
    slack.fail_channel("chat.postMessage", GONE, Failure::SlackError("account_inactive".into()));
    filed(&slack, &app).await;

    assert_eq!(app.click_with("assign", 1, TRIAGER, Some(GONE)).await.status, 200);
    app.settle().await;
    assert!(slack.attempts_to("chat.postMessage") > slack.calls_to("chat.postMessage").len());
    let lines = unreachable_lines(&slack, GONE);
    assert_eq!(lines.len(), 1, "{:?}", thread_lines(&slack));
    assert!(lines[0].contains("deactivated"), "{}", lines[0]);
    let card = last_card(&slack);
    assert!(card.contains(&format!("<@{GONE}> (owner unreachable)")), "{card}");
    let queue = app.command_as("list all", TRIAGER).await.json();
    let queue = queue["text"].as_str().unwrap();
    assert!(queue.contains("owner unreachable"), "{queue}");
    let at = Utc::now() + Duration::days(60);
    let digest = digest_message(app.context(), DedupeKey::manual_digest(at), at - Duration::days(1), at)
        .await
        .expect("digest")
        .payload
        .to_string();
    assert!(digest.contains("owner unreachable"), "{digest}");

    // A triager assigns someone else: the card no longer says it.
    assert_eq!(app.click_with("assign", 1, TRIAGER, Some(TRIAGER_2)).await.status, 200);
    app.settle().await;
    let card = last_card(&slack);
    assert!(
        card.contains(&format!("*Owner:* <@{TRIAGER_2}>")) && !card.contains("unreachable"),
        "{card}"
    );
    let queue = app.command_as("list all", TRIAGER).await.json();
    assert!(!queue["text"].as_str().unwrap().contains("unreachable"));
}

#[tokio::test]
async fn a_submitter_who_left_is_named_in_the_thread_and_no_owner_is_flagged() {
    let (app, slack, _db) = spawn_app().await;
    slack.fail_channel(
        "chat.postMessage",
        SUBMITTER,
        Failure::SlackError("user_not_found".into()),
    );
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    slack.wait_for("chat.postMessage", 1).await;
    app.settle().await;
    // The receipt died; the thread says so.
    let lines = unreachable_lines(&slack, SUBMITTER);
    assert_eq!(lines.len(), 1, "{:?}", thread_lines(&slack));

    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    app.settle().await;
    assert_eq!(unreachable_lines(&slack, SUBMITTER).len(), 2, "one line per DM lost");
    let card = last_card(&slack);
    assert!(
        card.contains(&format!("*Owner:* <@{TRIAGER}>")) && !card.contains("unreachable"),
        "{card}"
    );
}

#[tokio::test]
async fn other_refusals_of_a_dm_add_no_thread_line() {
    let (app, slack, _db) = spawn_app().await;
    slack.fail_channel(
        "chat.postMessage",
        SUBMITTER,
        Failure::SlackError("invalid_blocks".into()),
    );
    filed_and_taken(&app, &slack).await;
    assert!(
        unreachable_lines(&slack, SUBMITTER).is_empty(),
        "{:?}",
        thread_lines(&slack)
    );
}

async fn filed_and_taken(app: &TestApp, slack: &FakeSlack) {
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    slack.wait_for("chat.postMessage", 1).await;
    app.settle().await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    app.settle().await;
    assert_eq!(thread_lines(slack).len(), 1, "the step's own line only");
}
