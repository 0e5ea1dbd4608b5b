//! The words people read, tried as a new user would: refusals in English,
//! DMs that promise only what happens, help that lists every form, history
//! that names who acted, lists that show the deadline that is running.

use testkit::*;

/// Files a High request (#1) and waits until its card is out.
async fn filed() -> (TestApp, FakeSlack, TestDb) {
    spawn_with_request("sev2").await
}

/// DMs to `user`: to their id, or in their DM (`D…`) for a reply in
/// their receipt's thread.
fn dms_to(slack: &FakeSlack, user: &str) -> Vec<String> {
    let mut dms = slack.posts_to(user);
    dms.extend(slack.posts_to(&user.replacen('U', "D", 1)));
    dms.iter().map(shown).collect()
}

#[tokio::test]
async fn refusals_read_as_english() {
    let (app, _slack, _db) = filed().await;
    // Adding info to a request nobody asked about yet.
    let early = app
        .step("add_info", 1, SUBMITTER, &[("answer", "Firefox")])
        .await
        .json();
    let error = early["errors"]["answer"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("#1 is new now, so you cannot add info to it"), "{error}");

    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    let asked = app
        .step("ask_info", 1, TRIAGER, &[("question", "Which browser?")])
        .await;
    assert_eq!(asked.body, "");
    let stranger = app.step("add_info", 1, STRANGER, &[("answer", "Chrome")]).await.json();
    let error = stranger["errors"]["answer"].as_str().unwrap_or_default().to_string();
    assert_eq!(error, "Only the submitter can add info to #1.");
    let severity = app.step("resolve", 1, STRANGER, &[("note", "Done")]).await.json();
    let error = severity["errors"]["note"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        error,
        "#1 is waiting for information now, so you cannot resolve it (the message you clicked was out of date)."
    );
}

#[tokio::test]
async fn the_reject_dm_invites_only_a_reply_that_is_read() {
    let (app, slack, _db) = filed().await;
    let reason = "This duplicates #12, which is already planned for March.";
    assert_eq!(app.step("reject", 1, TRIAGER, &[("reason", reason)]).await.body, "");
    app.settle().await;
    let dm = dms_to(&slack, SUBMITTER).join("\n");
    assert!(dm.contains("duplicates #12"), "{dm}");
    // Replies in the receipt's thread reach the intake thread (tests/api/relay.rs).
    assert!(dm.contains("Reply in this thread to talk it over"), "{dm}");
    assert!(!dm.contains("reply here"), "{dm}");
    assert!(dm.contains("ask a triager to reopen it"), "{dm}");
}

#[tokio::test]
async fn help_lists_every_form_of_the_command() {
    let (app, _slack, _db) = spawn_app().await;
    let help = app.command_as("help", SUBMITTER).await.json();
    let text = help["text"].as_str().unwrap_or_default();
    for form in [
        "`/request list`",
        "`/request list all`",
        "`/request 42`",
        "`/request help`",
    ] {
        assert!(text.contains(form), "{form} missing from: {text}");
    }
}

#[tokio::test]
async fn history_names_intake_for_scheduler_steps_and_shows_the_reasons() {
    let (app, _slack, _db) = filed().await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    let deferred = app
        .step(
            "defer",
            1,
            TRIAGER,
            &[("revisit", "2099-03-01"), ("reason", "After the Q1 freeze")],
        )
        .await;
    assert_eq!(deferred.body, "");
    let revisit = chrono::NaiveDate::from_ymd_opt(2099, 3, 2)
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    app.run_jobs(revisit).await;
    let status = app.command_as("1", SUBMITTER).await.json();
    let text = status["text"].as_str().unwrap_or_default();
    assert!(!text.contains("<@scheduler>"), "{text}");
    assert!(text.contains("intake revisit"), "{text}");
    assert!(
        text.contains("After the Q1 freeze"),
        "the reason is in the history: {text}"
    );
    assert!(
        text.contains("Since Monday every invoice PDF is empty."),
        "the description: {text}"
    );
    assert!(
        text.contains("https://status.example.com/incidents/7781"),
        "the link: {text}"
    );
}

#[tokio::test]
async fn lists_show_the_deadline_that_is_running() {
    let (app, _slack, _db) = filed().await;
    let new = app.command_as("list", SUBMITTER).await.json();
    assert!(new["text"].as_str().unwrap_or_default().contains("triage due"), "{new}");
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    let asked = app
        .step("ask_info", 1, TRIAGER, &[("question", "Which browser?")])
        .await;
    assert_eq!(asked.body, "");
    let paused = app.command_as("list", SUBMITTER).await.json();
    let text = paused["text"].as_str().unwrap_or_default();
    assert!(text.contains("SLA paused") && !text.contains("due"), "{text}");
}

#[tokio::test]
async fn reassigning_tells_the_previous_owner_and_the_submitter() {
    let (app, slack, _db) = filed().await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    app.settle().await;
    let before_owner = dms_to(&slack, TRIAGER).len();
    let before_submitter = dms_to(&slack, SUBMITTER).len();
    assert_eq!(
        app.click_with("assign", 1, TRIAGER_2, Some("U0ASSIGN01")).await.status,
        200
    );
    app.settle().await;
    let previous = dms_to(&slack, TRIAGER)[before_owner..].join("\n");
    assert!(
        previous.contains("reassigned") && previous.contains("<@U0ASSIGN01>"),
        "{previous}"
    );
    let submitter = dms_to(&slack, SUBMITTER)[before_submitter..].join("\n");
    assert!(submitter.contains("<@U0ASSIGN01>"), "{submitter}");
}

#[tokio::test]
async fn with_involved_visibility_only_the_people_involved_see_a_request() {
    let (app, slack, _db) = spawn_app_with(|config| config.privacy.request_visibility = "involved".into()).await;
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    slack.wait_for("chat.postMessage", 2).await;
    let stranger = app.command_as("1", STRANGER).await.json();
    let text = stranger["text"].as_str().unwrap_or_default();
    assert!(text.contains("#1 is not one of them"), "{text}");
    assert!(!text.contains("Invoices render blank"), "{text}");
    for insider in [SUBMITTER, TRIAGER] {
        let seen = app.command_as("1", insider).await.json();
        assert!(
            seen["text"]
                .as_str()
                .unwrap_or_default()
                .contains("Invoices render blank"),
            "{seen}"
        );
    }
}
