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
