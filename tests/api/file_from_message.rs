//! Filing from a message (issue 15): the *File as request* shortcut opens
//! the form filled from the message, and the filed request answers under
//! it; where the bot cannot post, the person hears by DM.

use serde_json::Value;
use testkit::*;

const GENERAL: &str = "C0GENERAL1";
const MESSAGE_TS: &str = "1732528700.000050";

async fn shortcut(app: &TestApp, callback_id: &str, text: &str) -> Response {
    let body = message_action_body(callback_id, SUBMITTER, (GENERAL, MESSAGE_TS), text);
    app.post_signed("/slack/interactions", "application/x-www-form-urlencoded", &body)
        .await
}

/// The modal the last `views.open` opened.
fn opened_view(slack: &FakeSlack) -> Value {
    let calls = slack.calls_to("views.open");
    calls.last().expect("a views.open call").params["view"].clone()
}

fn initial(view: &Value, block: &str) -> Option<String> {
    let block = view["blocks"].as_array()?.iter().find(|b| b["block_id"] == block)?;
    block["element"]["initial_value"].as_str().map(str::to_owned)
}

#[tokio::test]
async fn file_as_request_opens_the_form_filled_from_the_message() {
    let (app, slack, _db) = spawn_app().await;
    let text = "checkout hangs at the payment step &amp; the spinner never stops\nseen by three customers today";
    assert_eq!(shortcut(&app, "file_as_request", text).await.status, 200);
    let view = opened_view(&slack);
    assert_eq!(view["callback_id"], "new_request");
    assert_eq!(
        initial(&view, "title").as_deref(),
        Some("checkout hangs at the payment step & the spinner never stops…")
    );
    assert_eq!(
        initial(&view, "description").as_deref(),
        Some("checkout hangs at the payment step & the spinner never stops\nseen by three customers today"),
        "the whole message, Slack's entities decoded"
    );
    assert_eq!(
        initial(&view, "link").as_deref(),
        Some("https://acme-eng.slack.com/archives/C0GENERAL1/p1732528700000050"),
        "the link is the message's permalink"
    );
}

#[tokio::test]
async fn a_filed_message_gets_a_reply_in_its_thread_linking_to_the_card() {
    let (app, slack, _db) = spawn_app().await;
    shortcut(&app, "file_as_request", "anyone else seeing checkout hang?").await;
    let metadata = opened_view(&slack)["private_metadata"]
        .as_str()
        .expect("metadata")
        .to_owned();
    let form = Form {
        title: Some("Checkout hangs <!channel>".into()),
        ..Form::default()
    };
    let response = app
        .post_signed(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            &form.body_with_metadata(&metadata),
        )
        .await;
    assert_eq!(response.status, 200);
    app.settle().await;
    let replies = slack.posts_to(GENERAL);
    assert_eq!(replies.len(), 1, "one reply under the message: {replies:?}");
    let reply = &replies[0];
    assert_eq!(reply.str("thread_ts").as_deref(), Some(MESSAGE_TS));
    let text = reply.str("text").unwrap_or_default();
    assert!(text.contains("Filed as *#1 Checkout hangs &lt;!channel&gt;*"), "{text}");
    let card = format!("archives/{INTAKE_CHANNEL}/p{}", slack.first_card_ts().replace('.', ""));
    assert!(text.contains(&card), "links to the card: {text}");
    assert_eq!(slack.posts_to(INTAKE_CHANNEL).len(), 1, "the card, as for any request");

    // The same modal sent again (a Slack retry) files and replies once.
    app.post_signed(
        "/slack/interactions",
        "application/x-www-form-urlencoded",
        &form.body_with_metadata(&metadata),
    )
    .await;
    app.settle().await;
    assert_eq!(slack.posts_to(GENERAL).len(), 1);
}

#[tokio::test]
async fn where_the_bot_cannot_reply_the_submitter_hears_by_dm() {
    let (app, slack, _db) = spawn_app().await;
    slack.fail_channel(
        "chat.postMessage",
        GENERAL,
        Failure::SlackError("not_in_channel".into()),
    );
    shortcut(&app, "file_as_request", "the export button does nothing").await;
    let metadata = opened_view(&slack)["private_metadata"].as_str().unwrap().to_owned();
    app.post_signed(
        "/slack/interactions",
        "application/x-www-form-urlencoded",
        &Form::default().body_with_metadata(&metadata),
    )
    .await;
    app.settle().await;
    assert!(slack.posts_to(GENERAL).is_empty());
    let dms: Vec<String> = slack
        .posts_to(SUBMITTER)
        .iter()
        .map(|c| c.str("text").unwrap_or_default())
        .collect();
    assert!(
        dms.iter()
            .any(|t| t.contains("filed the message in <#C0GENERAL1> as #1") && t.contains("not_in_channel")),
        "{dms:?}"
    );
}

#[tokio::test]
async fn a_message_with_no_text_is_explained_and_opens_nothing() {
    let (app, slack, _db) = spawn_app().await;
    assert_eq!(shortcut(&app, "file_as_request", "   ").await.status, 200);
    app.settle().await;
    assert!(slack.calls_to("views.open").is_empty());
    let ephemeral = slack.calls_to("chat.postEphemeral");
    assert_eq!(ephemeral.len(), 1);
    assert_eq!(ephemeral[0].str("channel").as_deref(), Some(GENERAL));
    assert_eq!(ephemeral[0].str("user").as_deref(), Some(SUBMITTER));
    assert!(ephemeral[0].str("text").unwrap().contains("no text to file"));
}

#[tokio::test]
async fn an_explanation_in_a_channel_the_bot_is_not_in_arrives_by_dm() {
    let (app, slack, _db) = spawn_app().await;
    slack.fail_channel(
        "chat.postEphemeral",
        GENERAL,
        Failure::SlackError("not_in_channel".into()),
    );
    shortcut(&app, "file_as_request", "").await;
    app.settle().await;
    let dms = slack.posts_to(SUBMITTER);
    assert_eq!(dms.len(), 1, "{dms:?}");
    assert!(dms[0].str("text").unwrap().contains("no text to file"));
}

#[tokio::test]
async fn another_shortcut_is_acknowledged_and_ignored() {
    let (app, slack, _db) = spawn_app().await;
    assert_eq!(shortcut(&app, "some_other_app_shortcut", "hello").await.status, 200);
    app.settle().await;
    assert!(slack.calls_to("views.open").is_empty());
    assert!(slack.calls_to("chat.postEphemeral").is_empty());
}

/// A message by `author` in #general, for history to return.
fn a_message(slack: &FakeSlack, author: &str, text: &str, ts: &str, thread_ts: Option<&str>) {
    slack.add_message(GENERAL, author, text, ts, thread_ts);
}

const AUTHOR: &str = STRANGER;

#[tokio::test]
async fn the_file_emoji_files_the_message_for_its_author() {
    let (app, slack, _db) = spawn_app().await;
    a_message(
        &slack,
        AUTHOR,
        "exports to CSV drop every row after 10k &lt;sigh&gt;",
        MESSAGE_TS,
        None,
    );
    let response = app
        .react("reaction_added", TRIAGER, "ticket", (GENERAL, MESSAGE_TS), "EvFILE0001")
        .await;
    assert_eq!(response.status, 200);
    app.settle_events().await;

    let request = app.request_no(1).await;
    assert_eq!(request.submitter, AUTHOR, "the message's author is the submitter");
    assert_eq!(request.title.as_str(), "exports to CSV drop every row after 10k <sigh>");
    assert_eq!(
        request.link.as_ref().map(|l| l.as_str()),
        Some("https://acme-eng.slack.com/archives/C0GENERAL1/p1732528700000050")
    );
    let history = intake::store::audit::history(app.db(), request.number)
        .await
        .expect("audit");
    assert_eq!(history[0].actor, AUTHOR);
    assert_eq!(
        history[0].details.filed_by.as_deref(),
        Some(TRIAGER),
        "the reactor is in the audit log"
    );

    // The author's receipt says who filed it and offers Edit.
    let receipt = slack
        .posts_to(AUTHOR)
        .into_iter()
        .find(|c| c.str("text").unwrap_or_default().starts_with("Received #1"))
        .expect("a receipt for the author");
    let shown = shown(&receipt);
    assert!(shown.contains(&format!("<@{TRIAGER}> filed your message")), "{shown}");
    assert!(shown.contains("\"action_id\":\"edit_request\""), "{shown}");
    // The card, and the reply under the message.
    assert_eq!(slack.posts_to(INTAKE_CHANNEL).len(), 1);
    let replies = slack.posts_to(GENERAL);
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].str("thread_ts").as_deref(), Some(MESSAGE_TS));
    assert!(
        replies[0]
            .str("text")
            .unwrap()
            .contains("Filed as *#1 exports to CSV drop every row after 10k &lt;sigh&gt;*")
    );
}

#[tokio::test]
async fn reacting_twice_or_by_two_people_files_the_message_once() {
    let (app, slack, _db) = spawn_app().await;
    a_message(&slack, AUTHOR, "search ignores accents", MESSAGE_TS, None);
    for (who, event_id) in [
        (TRIAGER, "EvFILE0001"),
        (TRIAGER, "EvFILE0001"),
        (SUBMITTER, "EvFILE0002"),
    ] {
        app.react("reaction_added", who, "ticket", (GENERAL, MESSAGE_TS), event_id)
            .await;
        app.settle_events().await;
    }
    // Removing and adding it again, too.
    app.react(
        "reaction_removed",
        TRIAGER,
        "ticket",
        (GENERAL, MESSAGE_TS),
        "EvFILE0003",
    )
    .await;
    app.react(
        "reaction_added",
        TRIAGER,
        "ticket::skin-tone-3",
        (GENERAL, MESSAGE_TS),
        "EvFILE0004",
    )
    .await;
    app.settle_events().await;
    assert_eq!(slack.posts_to(INTAKE_CHANNEL).len(), 1, "one card");
    assert_eq!(slack.posts_to(GENERAL).len(), 1, "one reply");
    let count = intake::store::requests::count(app.db()).await.expect("count");
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_reply_in_a_thread_is_filed_and_answered_in_that_thread() {
    let (app, slack, _db) = spawn_app().await;
    let parent = "1732528600.000010";
    a_message(&slack, SUBMITTER, "weekly sync notes", parent, None);
    a_message(
        &slack,
        AUTHOR,
        "the login page 500s on Safari",
        MESSAGE_TS,
        Some(parent),
    );
    app.react("reaction_added", TRIAGER, "ticket", (GENERAL, MESSAGE_TS), "EvFILE0001")
        .await;
    app.settle_events().await;
    assert_eq!(app.request_no(1).await.title.as_str(), "the login page 500s on Safari");
    let replies = slack.posts_to(GENERAL);
    assert_eq!(replies.len(), 1);
    assert_eq!(
        replies[0].str("thread_ts").as_deref(),
        Some(parent),
        "in the message's thread"
    );
}

#[tokio::test]
async fn a_message_the_bot_cannot_read_is_explained_to_the_reactor_by_dm() {
    let (app, slack, _db) = spawn_app().await;
    for method in ["conversations.history", "conversations.replies"] {
        slack.fail_channel(method, GENERAL, Failure::SlackError("not_in_channel".into()));
    }
    app.react("reaction_added", TRIAGER, "ticket", (GENERAL, MESSAGE_TS), "EvFILE0001")
        .await;
    app.settle_events().await;
    assert_eq!(intake::store::requests::count(app.db()).await.expect("count"), 0);
    let dms = slack.posts_to(TRIAGER);
    assert_eq!(dms.len(), 1, "{dms:?}");
    let text = dms[0].str("text").unwrap();
    assert!(
        text.contains("I could not file that message") && text.contains("not_in_channel"),
        "{text}"
    );
}

#[tokio::test]
async fn a_slack_outage_while_reading_the_message_only_delays_the_filing() {
    let (app, slack, _db) = spawn_app().await;
    a_message(&slack, AUTHOR, "dark mode flickers", MESSAGE_TS, None);
    slack.fail_next("conversations.history", Failure::Status(503), 1);
    app.react("reaction_added", TRIAGER, "ticket", (GENERAL, MESSAGE_TS), "EvFILE0001")
        .await;
    app.settle_events().await;
    assert_eq!(app.request_no(1).await.submitter, AUTHOR);
}

/// A message by the author filed with the file emoji: request #1.
async fn filed_for_author(app: &TestApp, slack: &FakeSlack) {
    a_message(slack, AUTHOR, "exports time out", MESSAGE_TS, None);
    app.react("reaction_added", TRIAGER, "ticket", (GENERAL, MESSAGE_TS), "EvFILE0001")
        .await;
    app.settle_events().await;
}

fn last_ephemeral_text(slack: &FakeSlack) -> String {
    let calls = slack.calls_to("chat.postEphemeral");
    calls.last().and_then(|c| c.str("text")).unwrap_or_default()
}

#[tokio::test]
async fn the_author_edits_what_was_filed_for_them_and_the_card_follows() {
    let (app, slack, _db) = spawn_app().await;
    filed_for_author(&app, &slack).await;
    let filed = app.request_no(1).await;
    assert_eq!(filed.severity.as_str(), "sev3");

    assert_eq!(app.click("edit_request", 1, AUTHOR).await.status, 200);
    let view = opened_view(&slack);
    assert_eq!(view["callback_id"], "edit_request");
    assert_eq!(initial(&view, "title").as_deref(), Some("exports time out"));
    let metadata = view["private_metadata"].as_str().unwrap().to_owned();

    let corrected = Form {
        kind: Some("bug".into()),
        title: Some("CSV exports time out for large accounts".into()),
        description: Some("Every export over 10k rows times out.".into()),
        severity: Some("sev1".into()),
        area: None,
        link: None,
        ..Form::default()
    };
    let response = app
        .post_signed(
            "/slack/interactions",
            "application/x-www-form-urlencoded",
            &corrected.body_as("edit_request", &metadata, AUTHOR),
        )
        .await;
    assert_eq!(response.status, 200);
    assert!(response.body.is_empty(), "saved: the modal closes ({})", response.body);
    app.settle().await;

    let edited = app.request_no(1).await;
    assert_eq!(edited.title.as_str(), "CSV exports time out for large accounts");
    assert_eq!(edited.severity.as_str(), "sev1");
    assert!(
        edited.deadlines.response_due < filed.deadlines.response_due,
        "the SLA is the new severity's, from the filing time"
    );
    let updates = slack.calls_to("chat.update");
    let card = shown(updates.last().expect("the card is refreshed"));
    assert!(card.contains("CSV exports time out for large accounts"), "{card}");
    let thread: Vec<String> = slack
        .posts_to(INTAKE_CHANNEL)
        .iter()
        .filter_map(|c| c.str("text"))
        .collect();
    assert!(
        thread
            .iter()
            .any(|t| t.contains(&format!("<@{AUTHOR}> edited the request")) && t.contains("severity")),
        "{thread:?}"
    );
    assert_eq!(
        slack.posts_to(ONCALL_CHANNEL).len(),
        1,
        "a severity that pages pages on-call"
    );
}

#[tokio::test]
async fn only_the_submitter_edits_and_only_before_triage() {
    let (app, slack, _db) = spawn_app().await;
    filed_for_author(&app, &slack).await;
    app.click("edit_request", 1, SUBMITTER).await;
    app.settle().await;
    assert!(slack.calls_to("views.open").is_empty());
    assert!(
        last_ephemeral_text(&slack).contains(&format!("Only <@{AUTHOR}>")),
        "{}",
        last_ephemeral_text(&slack)
    );

    app.click("take", 1, TRIAGER).await;
    app.settle().await;
    app.click("edit_request", 1, AUTHOR).await;
    app.settle().await;
    assert!(slack.calls_to("views.open").is_empty());
    assert!(last_ephemeral_text(&slack).contains("already being triaged"));
}
