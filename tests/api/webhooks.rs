//! Resolution flows back (issue 16): Jira's and GitHub's webhooks, signed
//! as they sign them, resolve, reopen or query the requests accepted into
//! their issues — seen from Slack: the state, the card, the DMs.

use chrono::{Duration, Utc};
use secrecy::SecretString;
use serde_json::Value;
use testkit::signing::hub_signature;
use testkit::*;

const GITHUB_SECRET: &str = "gh-hook-secret-for-tests";
const JIRA_SECRET: &str = "jira-hook-secret-for-tests";
const ISSUE_URL: &str = "https://github.com/acme/app/issues/12";

fn with_trackers(config: &mut intake::config::RawConfig) {
    let github = &mut config.tracker.github;
    github.repo = "acme/app".into();
    github.token = SecretString::from("ghp-test-token");
    github.webhook_secret = SecretString::from(GITHUB_SECRET);
    let jira = &mut config.tracker.jira;
    jira.base_url = "https://acme.atlassian.net".into();
    jira.email = "pm@acme.example".into();
    jira.project_key = "PROJ".into();
    jira.api_token = SecretString::from("jira-test-token");
    jira.webhook_secret = SecretString::from(JIRA_SECRET);
    config.tracker.default = "github".into();
}

/// Request #1, taken by the triager and accepted into `tracker`, its
/// messages delivered.
async fn accepted_into(tracker: &str) -> (TestApp, FakeSlack, TestDb) {
    let (app, slack, db) = spawn_app_with(with_trackers).await;
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    app.settle().await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    assert_eq!(app.step("accept", 1, TRIAGER, &[("tracker", tracker)]).await.body, "");
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "accepted");
    (app, slack, db)
}

/// GitHub's `issues` event for issue 12 (`action`, `state_reason`).
fn github_event(action: &str, state_reason: Option<&str>, html_url: &str) -> Vec<u8> {
    let mut event = sample_json("trackers/github_issues_closed.json");
    event["action"] = action.into();
    event["issue"]["html_url"] = html_url.into();
    event["issue"]["state"] = if action == "reopened" { "open" } else { "closed" }.into();
    event["issue"]["state_reason"] = state_reason.map_or(Value::Null, Value::from);
    serde_json::to_vec(&event).unwrap()
}

async fn github(app: &TestApp, delivery: &str, body: Vec<u8>) -> Response {
    let headers = [
        ("content-type", "application/json".to_string()),
        ("x-github-event", "issues".to_string()),
        ("x-github-delivery", delivery.to_string()),
        ("x-hub-signature-256", hub_signature(GITHUB_SECRET, &body)),
    ];
    app.request("POST", "/webhooks/github", &headers, body).await
}

/// Jira's `jira:issue_updated` for PROJ-7, its status now in `category`
/// with `resolution`.
fn jira_event(category: &str, status: &str, resolution: Option<&str>) -> Vec<u8> {
    let mut event = sample_json("trackers/jira_issue_updated.json");
    let fields = &mut event["issue"]["fields"];
    fields["status"]["name"] = status.into();
    fields["status"]["statusCategory"]["key"] = category.into();
    fields["resolution"] = resolution.map_or(Value::Null, |name| serde_json::json!({ "name": name }));
    serde_json::to_vec(&event).unwrap()
}

async fn jira(app: &TestApp, body: Vec<u8>) -> Response {
    let headers = [
        ("content-type", "application/json".to_string()),
        ("x-hub-signature", hub_signature(JIRA_SECRET, &body)),
    ];
    app.request("POST", "/webhooks/jira", &headers, body).await
}

fn posts(slack: &FakeSlack) -> usize {
    slack.calls_to("chat.postMessage").len()
}

/// What was posted since the first `skip` posts to `who` (their DM too).
fn posted_to(slack: &FakeSlack, skip: usize, who: &str) -> Vec<String> {
    let dm = who.replacen('U', "D", 1);
    slack
        .calls_to("chat.postMessage")
        .into_iter()
        .skip(skip)
        .filter(|c| c.str("channel").is_some_and(|to| to == who || to == dm))
        .map(|c| shown(&c))
        .collect()
}

fn last_card(slack: &FakeSlack) -> String {
    shown(slack.calls_to("chat.update").last().expect("the card was updated"))
}

#[tokio::test]
async fn unsigned_or_forged_webhooks_are_refused_and_change_nothing() {
    let (app, slack, _db) = accepted_into(ISSUE_URL).await;
    let before = posts(&slack);
    let done = github_event("closed", Some("completed"), ISSUE_URL);

    let unsigned = app
        .request(
            "POST",
            "/webhooks/github",
            &[("x-github-event", "issues".to_string())],
            done.clone(),
        )
        .await;
    assert_eq!(unsigned.status, 401);
    assert!(unsigned.body.contains("x-hub-signature-256"), "{}", unsigned.body);

    let forged = app
        .request(
            "POST",
            "/webhooks/github",
            &[
                ("x-github-event", "issues".to_string()),
                ("x-hub-signature-256", hub_signature("not-the-secret", &done)),
            ],
            done.clone(),
        )
        .await;
    assert_eq!(forged.status, 401);
    assert!(forged.body.contains("does not match"), "{}", forged.body);

    // Jira's header, signed for other bytes than those sent.
    let jira_forged = app
        .request(
            "POST",
            "/webhooks/jira",
            &[("x-hub-signature", hub_signature(JIRA_SECRET, b"{}"))],
            jira_event("done", "Done", Some("Fixed")),
        )
        .await;
    assert_eq!(jira_forged.status, 401);

    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "accepted");
    assert_eq!(posts(&slack), before, "nobody was told anything");
}

#[tokio::test]
async fn an_unconfigured_tracker_or_secret_is_not_found_and_garbage_is_a_bad_request() {
    let (app, _slack, _db) = spawn_app().await;
    let none = app.request("POST", "/webhooks/jira", &[], b"{}".to_vec()).await;
    assert_eq!(none.status, 404);
    assert!(none.body.contains("tracker.jira.base_url"), "{}", none.body);

    let (app, _slack, _db) = spawn_app_with(|config| {
        with_trackers(config);
        config.tracker.github.webhook_secret = SecretString::from("");
    })
    .await;
    let no_secret = app.request("POST", "/webhooks/github", &[], b"{}".to_vec()).await;
    assert_eq!(no_secret.status, 404);
    assert!(
        no_secret.body.contains("tracker.github.webhook_secret") && no_secret.body.contains("GITHUB_WEBHOOK_SECRET"),
        "{}",
        no_secret.body
    );
    assert_eq!(app.request("GET", "/webhooks/jira", &[], Vec::new()).await.status, 405);

    let garbage = jira(&app, b"{\"webhookEvent\": ".to_vec()).await;
    assert_eq!(garbage.status, 400, "{}", garbage.body);
}

#[tokio::test]
async fn done_in_github_resolves_the_request_and_asks_the_submitter_to_confirm() {
    let (app, slack, _db) = accepted_into(ISSUE_URL).await;
    let before = posts(&slack);
    let answer = github(&app, "d-1", github_event("closed", Some("completed"), ISSUE_URL)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    app.settle().await;

    assert_eq!(app.request_no(1).await.state.as_str(), "resolved");
    let dm = posted_to(&slack, before, SUBMITTER).join("\n");
    assert!(
        dm.contains("Done in acme/app#12") && dm.contains("\"confirm\"") && dm.contains("\"reopen\""),
        "the resolved DM with Yes, fixed / Still broken: {dm}"
    );
    assert!(last_card(&slack).contains("*Status:* resolved"));
    let thread = posted_to(&slack, before, INTAKE_CHANNEL).join("\n");
    assert!(thread.contains("Resolved by") && thread.contains(ISSUE_URL), "{thread}");

    // The history names the tracker as who resolved it.
    let status = app.command_as("1", SUBMITTER).await.json()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        status.contains(&format!("the tracker (<{ISSUE_URL}|acme/app#12>) resolve")),
        "{status}"
    );

    // The follow-up clock started, as with the Resolve button.
    let lines = app.run_jobs(Utc::now() + Duration::days(10)).await;
    assert!(lines.iter().any(|l| l.contains("followup:1:")), "{lines:?}");
}

#[tokio::test]
async fn done_in_jira_names_the_issue_and_its_resolution() {
    let (app, slack, _db) = accepted_into("PROJ-7").await;
    let before = posts(&slack);
    let answer = jira(&app, jira_event("done", "Done", Some("Fixed"))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    app.settle().await;

    assert_eq!(app.request_no(1).await.state.as_str(), "resolved");
    let dm = posted_to(&slack, before, SUBMITTER).join("\n");
    assert!(
        dm.contains("Done in PROJ-7 (Fixed)") && dm.contains("\"confirm\""),
        "{dm}"
    );
}

#[tokio::test]
async fn closed_as_not_planned_asks_the_owner_and_tells_the_submitter_nothing() {
    let (app, slack, _db) = accepted_into(ISSUE_URL).await;
    let before = posts(&slack);
    let answer = github(&app, "d-1", github_event("closed", Some("not_planned"), ISSUE_URL)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    app.settle().await;

    assert_eq!(app.request_no(1).await.state.as_str(), "accepted");
    assert!(
        posted_to(&slack, before, SUBMITTER).is_empty(),
        "the submitter hears nothing"
    );
    let owner = posted_to(&slack, before, TRIAGER).join("\n");
    assert!(
        owner.contains("not planned") && owner.contains("acme/app#12") && owner.contains("\"resolve\""),
        "the owner is asked to decide: {owner}"
    );

    // Jira's "Won't Do" is the same, and asks once however often it is said.
    let (app, slack, _db) = accepted_into("PROJ-7").await;
    let before = posts(&slack);
    for _ in 0..2 {
        assert_eq!(
            jira(&app, jira_event("done", "Closed", Some("Won't Do"))).await.status,
            200
        );
    }
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "accepted");
    assert!(posted_to(&slack, before, SUBMITTER).is_empty());
    let owner = posted_to(&slack, before, TRIAGER);
    assert_eq!(owner.len(), 1, "{owner:?}");
    assert!(owner[0].contains("Won't Do"), "{owner:?}");
}

#[tokio::test]
async fn reopened_in_the_tracker_is_accepted_again_and_the_submitter_is_told() {
    let (app, slack, _db) = accepted_into(ISSUE_URL).await;
    assert_eq!(
        github(&app, "d-1", github_event("closed", Some("completed"), ISSUE_URL))
            .await
            .status,
        200
    );
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "resolved");

    let before = posts(&slack);
    assert_eq!(
        github(&app, "d-2", github_event("reopened", None, ISSUE_URL))
            .await
            .status,
        200
    );
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "accepted");
    let dm = posted_to(&slack, before, SUBMITTER).join("\n");
    assert!(dm.contains("being worked on again"), "{dm}");
    assert!(last_card(&slack).contains("*Status:* accepted"));

    // Jira too: out of the done category.
    let (app, slack, _db) = accepted_into("PROJ-7").await;
    assert_eq!(jira(&app, jira_event("done", "Done", Some("Fixed"))).await.status, 200);
    app.settle().await;
    let before = posts(&slack);
    assert_eq!(
        jira(&app, jira_event("indeterminate", "In Progress", None))
            .await
            .status,
        200
    );
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "accepted");
    assert!(
        !posted_to(&slack, before, SUBMITTER).is_empty(),
        "the submitter is told"
    );
}

#[tokio::test]
async fn the_same_delivery_twice_changes_things_once() {
    let (app, slack, _db) = accepted_into(ISSUE_URL).await;
    let before = posts(&slack);
    let done = github_event("closed", Some("completed"), ISSUE_URL);
    assert_eq!(github(&app, "d-1", done.clone()).await.status, 200);
    let again = github(&app, "d-1", done.clone()).await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("already applied"), "{}", again.body);
    app.settle().await;
    assert_eq!(posted_to(&slack, before, SUBMITTER).len(), 1, "one resolved DM");

    // Reopened, then the first delivery retried late: still reopened.
    assert_eq!(
        github(&app, "d-2", github_event("reopened", None, ISSUE_URL))
            .await
            .status,
        200
    );
    app.settle().await;
    assert_eq!(github(&app, "d-1", done).await.status, 200);
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "accepted");

    // A second "done" with a new delivery id while already resolved: the
    // machine refuses it, and the tracker still hears 200.
    assert_eq!(
        github(&app, "d-3", github_event("closed", Some("completed"), ISSUE_URL))
            .await
            .status,
        200
    );
    app.settle().await;
    let before = posts(&slack);
    let refused = github(&app, "d-4", github_event("closed", Some("completed"), ISSUE_URL)).await;
    assert_eq!(refused.status, 200);
    assert!(refused.body.contains("unchanged"), "{}", refused.body);
    app.settle().await;
    assert_eq!(posts(&slack), before, "nothing sent for a refused step");
}

#[tokio::test]
async fn an_issue_no_request_tracks_is_ignored() {
    let (app, slack, _db) = accepted_into(ISSUE_URL).await;
    let before = posts(&slack);
    let other = github_event("closed", Some("completed"), "https://github.com/acme/app/issues/99");
    let answer = github(&app, "d-1", other).await;
    assert_eq!(answer.status, 200);
    assert!(answer.body.contains("no request is tracked"), "{}", answer.body);
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "accepted");
    assert_eq!(posts(&slack), before);
}
