//! Trackers (issue 16): Accept with the tracker left empty creates the
//! issue in Jira or GitHub (fake servers on 127.0.0.1 speaking their REST
//! shapes), once, through the outbox; the request is accepted with a link
//! to it; a refusal leaves the request as it was and tells the person who
//! clicked.

use intake::domain::state::State;
use intake::domain::text::Tracker;
use serde_json::Value;
use testkit::*;

/// A triaged request #1 in an app with Jira (or GitHub) configured.
async fn triaged_with(
    configure: fn(&mut intake::config::file::RawConfig, &FakeTracker),
    timeout_secs: Option<u64>,
) -> (TestApp, FakeSlack, TestDb, FakeTracker) {
    let tracker = FakeTracker::start().await;
    let (app, slack, db) = spawn_app_with(|config| {
        configure(config, &tracker);
        if let Some(secs) = timeout_secs {
            config.slack.request_timeout_secs = secs;
        }
    })
    .await;
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    app.settle().await;
    app.click("take", 1, TRIAGER).await;
    app.settle().await;
    (app, slack, db, tracker)
}

async fn accept_leaving_tracker_empty(app: &TestApp) -> Response {
    let response = app
        .step("accept", 1, TRIAGER, &[("tracker", ""), ("expectation", "next sprint")])
        .await;
    app.settle().await;
    response
}

fn submitter_dms(slack: &FakeSlack) -> Vec<String> {
    slack.posts_to(SUBMITTER).iter().map(shown).collect()
}

#[tokio::test]
async fn accept_creates_the_jira_issue_and_links_it_everywhere() {
    let (app, slack, _db, jira) = triaged_with(configure_jira, None).await;
    let response = accept_leaving_tracker_empty(&app).await;
    assert_eq!(response.status, 200);
    assert!(response.body.is_empty(), "the modal closes: {}", response.body);

    let creates: Vec<TrackerCall> = jira.calls().into_iter().filter(|c| c.method == "POST").collect();
    assert_eq!(creates.len(), 1);
    let create = &creates[0];
    assert_eq!(create.target, "/rest/api/3/issue");
    let basic = format!("Basic {}", base64_of(&format!("pm@acme.example:{JIRA_TOKEN}")));
    assert_eq!(create.authorization.as_deref(), Some(basic.as_str()));
    let fields = &create.body["fields"];
    assert_eq!(fields["summary"], "Invoices render blank");
    assert_eq!(fields["project"]["key"], "PROJ");
    assert_eq!(fields["issuetype"]["name"], "Bug");
    assert_eq!(fields["labels"], serde_json::json!(["intake", "intake-1"]));
    assert_eq!(fields["description"]["type"], "doc", "Atlassian Document Format");
    let description = fields["description"].to_string();
    assert!(
        description.contains("Since Monday every invoice PDF is empty."),
        "{description}"
    );
    assert!(
        description.contains("https://status.example.com/incidents/7781"),
        "{description}"
    );

    let request = app.request_no(1).await;
    assert_eq!(request.state, State::Accepted);
    let url = format!("{}/browse/PROJ-1", jira.url());
    assert_eq!(request.tracker, Some(Tracker::Url(url.clone())));
    let link = format!("<{url}|PROJ-1>");
    assert!(
        submitter_dms(&slack)
            .iter()
            .any(|dm| dm.contains(&link) && dm.contains("next sprint")),
        "the submitter's DM links the issue: {:?}",
        submitter_dms(&slack)
    );
    let card = slack.calls_to("chat.update").last().map(shown).unwrap_or_default();
    assert!(card.contains(&link), "the card links it: {card}");
}

#[tokio::test]
async fn accept_creates_the_github_issue() {
    let (app, slack, _db, github) = triaged_with(configure_github, None).await;
    accept_leaving_tracker_empty(&app).await;
    let creates: Vec<TrackerCall> = github.calls().into_iter().filter(|c| c.method == "POST").collect();
    assert_eq!(creates.len(), 1);
    assert_eq!(creates[0].target, "/repos/acme/app/issues");
    assert_eq!(
        creates[0].authorization.as_deref(),
        Some(format!("Bearer {GITHUB_TOKEN}").as_str())
    );
    assert!(
        creates[0].user_agent.is_some(),
        "GitHub refuses calls without a User-Agent"
    );
    assert_eq!(creates[0].body["title"], "Invoices render blank");
    assert_eq!(creates[0].body["labels"], serde_json::json!(["intake", "intake-1"]));
    let body = creates[0].body["body"].as_str().unwrap_or_default();
    assert!(body.contains("Since Monday every invoice PDF is empty."), "{body}");

    let request = app.request_no(1).await;
    assert_eq!(
        request.tracker,
        Some(Tracker::Url("https://github.com/acme/app/issues/1".into()))
    );
    assert!(
        submitter_dms(&slack)
            .iter()
            .any(|dm| dm.contains("<https://github.com/acme/app/issues/1|acme/app#1>")),
        "{:?}",
        submitter_dms(&slack)
    );
}

#[tokio::test]
async fn a_refused_create_leaves_the_request_and_tells_who_clicked() {
    let (app, slack, _db, jira) = triaged_with(configure_jira, None).await;
    jira.fail_next(
        "POST",
        TrackerFailure::Status(
            400,
            serde_json::json!({"errorMessages": [], "errors": {"project": "valid project is required"}}),
        ),
    );
    accept_leaving_tracker_empty(&app).await;
    let request = app.request_no(1).await;
    assert_eq!(request.state, State::Triaged, "left as it was");
    assert_eq!(request.tracker, None);
    let told: Vec<String> = slack
        .calls_to("chat.postEphemeral")
        .iter()
        .filter(|c| c.str("user").as_deref() == Some(TRIAGER))
        .filter_map(|c| c.str("text"))
        .collect();
    assert!(
        told.iter()
            .any(|t| t.contains("Jira refused to create the issue for #1") && t.contains("valid project is required")),
        "{told:?}"
    );
    assert_eq!(jira.issues().len(), 0);
}

#[tokio::test]
async fn an_outage_and_a_rate_limit_only_delay_the_issue() {
    let (app, _slack, _db, jira) = triaged_with(configure_jira, None).await;
    jira.fail_next(
        "POST",
        TrackerFailure::Status(502, serde_json::json!({"message": "Bad Gateway"})),
    );
    jira.fail_next("POST", TrackerFailure::RateLimited { retry_after_secs: 1 });
    accept_leaving_tracker_empty(&app).await;
    assert_eq!(
        jira.creates(),
        3,
        "tried again after the 502 and after waiting as asked"
    );
    assert_eq!(jira.issues().len(), 1);
    assert_eq!(app.request_no(1).await.state, State::Accepted);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_found_not_made_twice() {
    let (app, _slack, _db, jira) = triaged_with(configure_jira, Some(1)).await;
    jira.fail_next(
        "POST",
        TrackerFailure::AnswerLate(std::time::Duration::from_millis(1500)),
    );
    accept_leaving_tracker_empty(&app).await;
    assert_eq!(jira.issues().len(), 1, "one issue");
    assert_eq!(jira.creates(), 1, "the second attempt searched instead of creating");
    assert!(
        jira.calls()
            .iter()
            .any(|c| c.method == "GET" && c.target.contains("search/jql") && c.target.contains("intake-1")),
        "searched by the intake-1 label"
    );
    let request = app.request_no(1).await;
    assert_eq!(request.state, State::Accepted);
    assert_eq!(
        request.tracker,
        Some(Tracker::Url(format!("{}/browse/PROJ-1", jira.url())))
    );
}

#[tokio::test]
async fn a_typed_key_still_links_an_existing_issue_without_creating() {
    let (app, slack, _db, jira) = triaged_with(configure_jira, None).await;
    app.step("accept", 1, TRIAGER, &[("tracker", "PROJ-77")]).await;
    app.settle().await;
    assert_eq!(jira.calls().len(), 0);
    let url = format!("{}/browse/PROJ-77", jira.url());
    assert_eq!(app.request_no(1).await.tracker, Some(Tracker::Url(url.clone())));
    let card = slack.calls_to("chat.update").last().map(shown).unwrap_or_default();
    assert!(card.contains(&format!("<{url}|PROJ-77>")), "the key is a link: {card}");
}

#[tokio::test]
async fn without_a_tracker_an_empty_field_is_explained_in_the_form() {
    let (app, _slack, _db) = spawn_with_request("sev2").await;
    app.click("take", 1, TRIAGER).await;
    app.settle().await;
    let response = app.step("accept", 1, TRIAGER, &[("tracker", "")]).await;
    let body: Value = serde_json::from_str(&response.body).expect("a field error");
    assert_eq!(body["response_action"], "errors");
    assert!(body["errors"]["tracker"].as_str().is_some());
}

fn base64_of(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The whole loop: Accept creates the GitHub issue; closing it as
/// completed resolves the request and asks the submitter to confirm.
#[tokio::test]
async fn an_issue_created_on_accept_resolves_the_request_when_closed() {
    let secret = "github-hook-secret";
    let tracker = FakeTracker::start().await;
    let (app, slack, _db) = spawn_app_with(|config| {
        configure_github(config, &tracker);
        config.tracker.github.webhook_secret = secrecy::SecretString::from(secret);
    })
    .await;
    app.submit(&Form::default()).await;
    app.settle().await;
    app.click("take", 1, TRIAGER).await;
    app.settle().await;
    accept_leaving_tracker_empty(&app).await;
    assert_eq!(app.request_no(1).await.state, State::Accepted);

    let mut event = sample_json("trackers/github_issues_closed.json");
    event["action"] = "closed".into();
    event["issue"]["html_url"] = "https://github.com/acme/app/issues/1".into();
    event["issue"]["state_reason"] = "completed".into();
    let body = serde_json::to_vec(&event).unwrap();
    let headers = [
        ("content-type", "application/json".to_string()),
        ("x-github-event", "issues".to_string()),
        ("x-github-delivery", "d0e1f2a3".to_string()),
        ("x-hub-signature-256", testkit::signing::hub_signature(secret, &body)),
    ];
    let response = app.request("POST", "/webhooks/github", &headers, body).await;
    assert_eq!(response.status, 200, "{}", response.body);
    app.settle().await;
    assert_eq!(app.request_no(1).await.state, State::Resolved);
    assert!(
        submitter_dms(&slack).iter().any(|dm| dm.contains("Done in acme/app#1")),
        "{:?}",
        submitter_dms(&slack)
    );
}
