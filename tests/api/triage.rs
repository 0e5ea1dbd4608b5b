//! Triage end to end from Slack: every path of the state machine through
//! buttons and modals, with the intake message updated in place, a thread
//! line per step and a DM to the submitter, plus refusals and races.

use serde_json::Value;
use testkit::*;

/// Files a High request (#1) and waits until its intake post is out.
async fn filed() -> (TestApp, FakeSlack, TestDb) {
    spawn_with_request("sev2").await
}

/// Posts made after the first `skip` postMessage calls.
fn posts_since(slack: &FakeSlack, skip: usize) -> Vec<Call> {
    slack.calls_to("chat.postMessage").into_iter().skip(skip).collect()
}

/// What `calls` posted to `channel`; for a person, in their DM with intake
/// too (a DM in the receipt's thread is posted to the DM's `D…` id).
fn to(calls: &[Call], channel: &str) -> Vec<String> {
    let dm = channel.replacen('U', "D", 1);
    calls
        .iter()
        .filter(|c| c.str("channel").is_some_and(|to| to == channel || to == dm))
        .map(shown)
        .collect()
}

fn last_card(slack: &FakeSlack) -> String {
    let updates = slack.calls_to("chat.update");
    let card = updates.last().expect("the intake message was updated");
    assert_eq!(card.str("channel").as_deref(), Some(INTAKE_CHANNEL));
    assert_eq!(
        card.str("ts").as_deref(),
        Some(slack.first_card_ts().as_str()),
        "updated in place, never re-posted"
    );
    shown(card)
}

fn card_actions(slack: &FakeSlack) -> Vec<String> {
    let card = slack.calls_to("chat.update").last().cloned().expect("card");
    let blocks = card.params["blocks"].as_array().cloned().unwrap_or_default();
    let actions = blocks
        .iter()
        .find(|b| b["type"] == "actions")
        .cloned()
        .unwrap_or(Value::Null);
    actions["elements"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|el| el["action_id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_request_goes_from_new_to_closed_entirely_in_slack() {
    let (app, slack, _db) = filed().await;

    // Take.
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    app.settle().await;
    let card = last_card(&slack);
    assert!(
        card.contains("*Status:* triaged") && card.contains(&format!("*Owner:* <@{TRIAGER}>")),
        "{card}"
    );
    assert!(
        !card_actions(&slack).contains(&"take".to_string()),
        "Take is gone once owned"
    );
    let posts = posts_since(&slack, 2);
    let thread = posts
        .iter()
        .find(|c| c.str("thread_ts").is_some())
        .expect("a thread line");
    assert_eq!(thread.str("thread_ts").as_deref(), Some(slack.first_card_ts().as_str()));
    assert!(shown(thread).contains("took ownership"));
    assert!(to(&posts, SUBMITTER)[0].contains("now has an owner"));

    // Ask for info: the button opens a modal, the answer comes back by modal.
    assert_eq!(app.click("ask_info", 1, TRIAGER).await.status, 200);
    let opened = slack.wait_for("views.open", 1).await;
    assert_eq!(opened[0].params["view"]["callback_id"], "triage_ask_info");
    let before = slack.calls_to("chat.postMessage").len();
    assert_eq!(
        app.step("ask_info", 1, TRIAGER, &[("question", "Which browser?")])
            .await
            .body,
        ""
    );
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "needs_info");
    let dm = to(&posts_since(&slack, before), SUBMITTER).join("\n");
    assert!(
        dm.contains("Which browser?") && dm.contains("office hours") && dm.contains("add_info"),
        "{dm}"
    );

    let before = slack.calls_to("chat.postMessage").len();
    assert_eq!(app.click("add_info", 1, SUBMITTER).await.status, 200);
    slack.wait_for("views.open", 2).await;
    assert_eq!(
        app.step("add_info", 1, SUBMITTER, &[("answer", "Firefox 140 on macOS")])
            .await
            .body,
        ""
    );
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "triaged");
    let posts = posts_since(&slack, before);
    assert!(
        to(&posts, TRIAGER)[0].contains("Firefox 140 on macOS"),
        "the owner hears the answer"
    );

    // Accept with a tracker key.
    let before = slack.calls_to("chat.postMessage").len();
    assert_eq!(
        app.step(
            "accept",
            1,
            TRIAGER,
            &[("tracker", "PROJ-7"), ("expectation", "next sprint")]
        )
        .await
        .body,
        ""
    );
    app.settle().await;
    assert!(last_card(&slack).contains("*Tracked in:* PROJ-7"));
    assert!(to(&posts_since(&slack, before), SUBMITTER)[0].contains("PROJ-7"));

    // Resolve: the submitter is asked to confirm.
    let before = slack.calls_to("chat.postMessage").len();
    assert_eq!(
        app.step("resolve", 1, TRIAGER, &[("note", "Fixed in 4.2")]).await.body,
        ""
    );
    app.settle().await;
    let dm = to(&posts_since(&slack, before), SUBMITTER).join("\n");
    assert!(
        dm.contains("Fixed in 4.2") && dm.contains("confirm") && dm.contains("reopen"),
        "{dm}"
    );

    // Confirm closes it.
    let before = slack.calls_to("chat.postMessage").len();
    assert_eq!(app.click("confirm", 1, SUBMITTER).await.status, 200);
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "closed");
    assert!(last_card(&slack).contains("*Status:* closed"));
    assert_eq!(card_actions(&slack), ["reopen"]);
    assert!(to(&posts_since(&slack, before), SUBMITTER)[0].contains("is closed"));

    // The history shows every step.
    let status = app.command_as("1", SUBMITTER).await.json()["text"]
        .as_str()
        .unwrap()
        .to_string();
    for step in [
        "submitted",
        "take",
        "ask info",
        "add info",
        "accept",
        "resolve",
        "confirm",
    ] {
        assert!(status.contains(step), "history lacks {step}: {status}");
    }
    assert_eq!(slack.attempts_to("chat.postEphemeral"), 0, "nothing was refused");
}

#[tokio::test]
async fn rejecting_needs_a_real_reason_and_the_submitter_reads_it() {
    let (app, slack, _db) = filed().await;
    let short = app.step("reject", 1, TRIAGER, &[("reason", "no")]).await.json();
    assert_eq!(short["response_action"], "errors");
    assert!(
        short["errors"]["reason"]
            .as_str()
            .unwrap()
            .contains("at least a sentence")
    );
    assert_eq!(app.request_no(1).await.state.as_str(), "new", "nothing changed");

    let reason = "This duplicates #12, which is already planned for March.";
    assert_eq!(app.step("reject", 1, TRIAGER, &[("reason", reason)]).await.body, "");
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "rejected");
    let dm = to(&posts_since(&slack, 2), SUBMITTER).join("\n");
    assert!(dm.contains("duplicates #12") && dm.contains("reopen"), "{dm}");
    assert_eq!(card_actions(&slack), ["reopen"]);

    // Only a triager reopens; it comes back to the queue.
    assert_eq!(app.click("reopen", 1, TRIAGER_2).await.status, 200);
    app.settle().await;
    let request = app.request_no(1).await;
    assert_eq!(
        (request.state.as_str(), request.owner.as_deref()),
        ("triaged", Some(TRIAGER_2))
    );
}

#[tokio::test]
async fn someone_who_may_not_act_is_told_why_and_nothing_changes() {
    let (app, slack, _db) = filed().await;
    assert_eq!(app.click("take", 1, STRANGER).await.status, 200);
    app.settle().await;
    let told = slack.wait_for("chat.postEphemeral", 1).await;
    assert_eq!(told[0].str("user").as_deref(), Some(STRANGER));
    assert_eq!(told[0].str("channel").as_deref(), Some(INTAKE_CHANNEL));
    assert!(
        told[0].str("text").unwrap().contains("Only triagers can take #1"),
        "{:?}",
        told[0].str("text")
    );
    assert_eq!(app.request_no(1).await.state.as_str(), "new");
    assert_eq!(slack.attempts_to("chat.update"), 0);

    // A button that needs a form refuses before the form opens.
    assert_eq!(app.click("reject", 1, STRANGER).await.status, 200);
    slack.wait_for("chat.postEphemeral", 2).await;
    assert_eq!(slack.attempts_to("views.open"), 0);
}

#[tokio::test]
async fn a_click_on_an_out_of_date_message_is_explained() {
    let (app, slack, _db) = filed().await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    assert_eq!(
        app.step("resolve", 1, TRIAGER, &[("note", "Fixed in 4.2")]).await.body,
        ""
    );
    app.settle().await;
    // An old copy of the card still shows Accept.
    let stale = app.step("accept", 1, TRIAGER, &[("tracker", "PROJ-9")]).await.json();
    let error = stale["errors"]["tracker"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("#1 is resolved now"), "{stale}");
    assert_eq!(app.click("take", 1, TRIAGER_2).await.status, 200);
    let told = slack.wait_for("chat.postEphemeral", 1).await;
    assert!(
        told[0]
            .str("text")
            .unwrap()
            .contains(&format!("already owned by <@{TRIAGER}>")),
        "{:?}",
        told[0]
    );
    assert_eq!(app.request_no(1).await.tracker, None);
}

#[tokio::test]
async fn two_triagers_taking_at_once_gives_exactly_one_owner() {
    let (app, slack, _db) = filed().await;
    let (a, b) = tokio::join!(app.click("take", 1, TRIAGER), app.click("take", 1, TRIAGER_2));
    assert_eq!((a.status, b.status), (200, 200));
    app.settle().await;
    let owner = app.request_no(1).await.owner.expect("owned");
    let loser = if owner == TRIAGER { TRIAGER_2 } else { TRIAGER };
    let told = slack.wait_for("chat.postEphemeral", 1).await;
    assert_eq!(told.len(), 1);
    assert_eq!(told[0].str("user").as_deref(), Some(loser));
    assert!(
        told[0]
            .str("text")
            .unwrap()
            .contains(&format!("already owned by <@{owner}>"))
    );
    let took = posts_since(&slack, 2)
        .iter()
        .filter(|c| shown(c).contains("took ownership"))
        .count();
    assert_eq!(took, 1, "one thread line, one winner");
}

#[tokio::test]
async fn assign_severity_and_defer_update_the_card_and_tell_people() {
    let (app, slack, _db) = filed().await;
    assert_eq!(
        app.click_with("assign", 1, TRIAGER, Some("U0ASSIGN01")).await.status,
        200
    );
    app.settle().await;
    assert!(last_card(&slack).contains("*Owner:* <@U0ASSIGN01>"));
    assert!(
        !to(&posts_since(&slack, 2), "U0ASSIGN01").is_empty(),
        "the assignee is told"
    );

    let due_before = app.request_no(1).await.deadlines.resolution_due;
    assert_eq!(
        app.click_with("set_severity", 1, TRIAGER, Some("sev1")).await.status,
        200
    );
    app.settle().await;
    let request = app.request_no(1).await;
    assert_eq!(request.severity.as_str(), "sev1");
    assert!(request.deadlines.resolution_due != due_before, "the SLA is recomputed");
    assert!(last_card(&slack).contains("*Severity:* Critical"));

    let past = app
        .step(
            "defer",
            1,
            "U0ASSIGN01",
            &[("revisit", "2020-01-01"), ("reason", "later")],
        )
        .await
        .json();
    assert!(past["errors"]["revisit"].as_str().unwrap().contains("future"));
    let before = slack.calls_to("chat.postMessage").len();
    let reply = app
        .step(
            "defer",
            1,
            "U0ASSIGN01",
            &[("revisit", "2099-03-01"), ("reason", "After the Q1 freeze")],
        )
        .await;
    assert_eq!(reply.body, "");
    app.settle().await;
    assert!(last_card(&slack).contains("*Revisit on:* 2099-03-01"));
    let dm = to(&posts_since(&slack, before), SUBMITTER).join("\n");
    assert!(dm.contains("2099-03-01") && dm.contains("After the Q1 freeze"), "{dm}");
}

#[tokio::test]
async fn request_list_shows_mine_and_the_queue_is_for_triagers() {
    let (app, _slack, _db) = filed().await;
    let mine = app.command_as("list", SUBMITTER).await.json();
    assert_eq!(mine["response_type"], "ephemeral");
    assert!(mine["text"].as_str().unwrap().contains("#1 Invoices render blank"));
    let none = app.command_as("list", STRANGER).await.json();
    assert!(none["text"].as_str().unwrap().contains("no open requests"));
    let refused = app.command_as("list all", STRANGER).await.json();
    assert!(refused["text"].as_str().unwrap().contains("Only triagers"));
    let queue = app.command_as("list all", TRIAGER).await.json();
    assert!(queue["text"].as_str().unwrap().contains("#1 Invoices render blank"));
    let missing = app.command_as("99", STRANGER).await.json();
    assert!(missing["text"].as_str().unwrap().contains("There is no request #99"));
}

#[tokio::test]
async fn the_submitter_can_say_a_fix_did_not_work() {
    let (app, slack, _db) = filed().await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    assert_eq!(
        app.step("resolve", 1, TRIAGER, &[("note", "Cache cleared")]).await.body,
        ""
    );
    app.settle().await;
    let before = slack.calls_to("chat.postMessage").len();
    assert_eq!(app.click("reopen", 1, SUBMITTER).await.status, 200);
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "triaged");
    assert!(
        to(&posts_since(&slack, before), TRIAGER)[0].contains("reopened"),
        "the owner is told"
    );
}

#[tokio::test]
async fn a_refused_severity_choice_puts_the_card_back() {
    let (app, slack, _db) = filed().await;
    assert_eq!(
        app.click_with("set_severity", 1, STRANGER, Some("sev1")).await.status,
        200
    );
    app.settle().await;
    slack.wait_for("chat.postEphemeral", 1).await;
    assert_eq!(app.request_no(1).await.severity.as_str(), "sev2");
    // The select showed the stranger's pick; the card is re-rendered as stored.
    let card = last_card(&slack);
    assert!(card.contains("*Severity:* High"), "{card}");
    let updates = slack.calls_to("chat.update");
    let actions = updates.last().unwrap().params["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .cloned()
        .unwrap();
    let select = actions["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action_id"] == "set_severity")
        .cloned()
        .unwrap();
    assert_eq!(select["initial_option"]["value"], "sev2");
}

#[tokio::test]
async fn a_tracker_link_that_would_not_fit_once_escaped_is_a_field_error() {
    let (app, slack, _db) = filed().await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    let tracker = format!("https://tracker.example.com/?{}", "&".repeat(900));
    let reply = app.step("accept", 1, TRIAGER, &[("tracker", &tracker)]).await.json();
    assert!(
        reply["errors"]["tracker"]
            .as_str()
            .unwrap_or_default()
            .contains("too long"),
        "{reply}"
    );
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "triaged");
    assert_eq!(
        slack
            .calls_to("chat.update")
            .iter()
            .filter(|c| shown(c).contains("Tracked in"))
            .count(),
        0
    );
}
