//! The conversation relay (issue 15), from outside: replies in a request's
//! intake thread reach its submitter in their receipt's thread, and the
//! submitter's replies there reach the intake thread; while the request
//! needs info, the submitter's reply is their answer. Bots, edits,
//! deletions, top-level messages and other threads relay nothing, and a
//! message delivered twice is relayed once.

use serde_json::{Value, json};
use testkit::*;

/// The submitter's DM with intake, as the fake names it.
const SUBMITTER_DM: &str = "D0SUBMIT01";

/// A High request (#1), filed and delivered (card, receipt).
async fn filed() -> (TestApp, FakeSlack, TestDb) {
    spawn_with_request("sev2").await
}

/// `user` writes `text` as message `ts` in `channel`, in the thread
/// `thread_ts` (none: top-level), delivered as event `event_id`: a
/// channel's thread reply shaped as `message_channels_thread_reply.json`,
/// a DM's as `message_im.json`.
fn message(channel: &str, user: &str, text: &str, ts: &str, thread_ts: Option<&str>, event_id: &str) -> Value {
    let sample = match channel.starts_with('D') {
        true => "events/message_im.json",
        false => "events/message_channels_thread_reply.json",
    };
    let mut body = sample_json(sample);
    let event = &mut body["event"];
    event["channel"] = json!(channel);
    event["user"] = json!(user);
    event["text"] = json!(text);
    event["blocks"][0]["elements"][0]["elements"][0]["text"] = json!(text);
    event["ts"] = json!(ts);
    event["event_ts"] = json!(ts);
    match thread_ts {
        Some(parent) => event["thread_ts"] = json!(parent),
        None => {
            let fields = event.as_object_mut().expect("an object");
            fields.remove("thread_ts");
            fields.remove("parent_user_id");
        }
    }
    body["event_id"] = json!(event_id);
    body
}

/// Delivers an event callback to `/slack/events`, signed, and waits until
/// it is processed and what it caused is sent.
async fn deliver(app: &TestApp, body: &Value) {
    let response = app
        .post_signed("/slack/events", "application/json", body.to_string().as_bytes())
        .await;
    assert_eq!(response.status, 200, "acked: {}", response.body);
    app.settle_events().await;
}

/// Where the submitter's receipt DM went (recorded when it was sent).
async fn receipt_ts(app: &TestApp) -> String {
    let receipt = app
        .request_no(1)
        .await
        .receipt
        .expect("the receipt's address is recorded");
    assert_eq!(receipt.channel, SUBMITTER_DM, "the DM's channel, as Slack answered");
    receipt.ts
}

/// Posts in the submitter's DM (relays and threaded step DMs).
fn dm_posts(slack: &FakeSlack) -> Vec<Call> {
    slack.posts_to(SUBMITTER_DM)
}

/// Lines intake posted in the request's intake thread.
fn intake_thread(slack: &FakeSlack) -> Vec<String> {
    let card = slack.first_card_ts();
    slack
        .posts_to(INTAKE_CHANNEL)
        .iter()
        .filter(|c| c.str("thread_ts").as_deref() == Some(card.as_str()))
        .filter_map(|c| c.str("text"))
        .collect()
}

/// An owner takes #1 and asks the submitter a question by modal.
async fn asked(app: &TestApp) {
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    let asked = app
        .step("ask_info", 1, TRIAGER, &[("question", "Which browser?")])
        .await;
    assert_eq!(asked.body, "");
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "needs_info");
}

#[tokio::test]
async fn an_owners_reply_in_the_intake_thread_reaches_the_submitter_in_the_receipts_thread() {
    let (app, slack, _db) = filed().await;
    let card = slack.first_card_ts();
    let reply = "Can you try again? <!channel> & <@U0OTHER001> said it works";
    deliver(
        &app,
        &message(
            INTAKE_CHANNEL,
            TRIAGER,
            reply,
            "1900000000.000100",
            Some(&card),
            "EvOwner1",
        ),
    )
    .await;

    let receipt = receipt_ts(&app).await;
    let relayed = dm_posts(&slack);
    assert_eq!(relayed.len(), 1, "one DM relayed: {relayed:?}");
    assert_eq!(relayed[0].str("thread_ts"), Some(receipt), "in the receipt's thread");
    assert_eq!(
        relayed[0].str("text").as_deref(),
        Some("<@U0TRIAGE01> on #1: Can you try again? &lt;!channel&gt; &amp; &lt;@U0OTHER001&gt; said it works"),
        "escaped: nobody is pinged by the relayed words"
    );
    assert_eq!(
        relayed[0].params["reply_broadcast"], true,
        "also shown in the DM, so the submitter sees it"
    );
}

#[tokio::test]
async fn the_submitters_reply_in_the_receipts_thread_lands_in_the_intake_thread() {
    let (app, slack, _db) = filed().await;
    let receipt = receipt_ts(&app).await;
    deliver(
        &app,
        &message(
            SUBMITTER_DM,
            SUBMITTER,
            "It started after &lt;b&gt; the 4.2 deploy",
            "1900000000.000200",
            Some(&receipt),
            "EvSubmitter1",
        ),
    )
    .await;

    assert_eq!(
        intake_thread(&slack),
        ["<@U0SUBMIT01> (submitter): It started after &lt;b&gt; the 4.2 deploy"],
        "Slack's escaping decoded, then escaped once for mrkdwn"
    );
    assert_eq!(
        app.request_no(1).await.state.as_str(),
        "new",
        "a plain reply changes nothing"
    );
}

#[tokio::test]
async fn while_info_is_needed_the_submitters_reply_is_their_answer() {
    let (app, slack, _db) = filed().await;
    asked(&app).await;
    let receipt = receipt_ts(&app).await;
    let question = dm_posts(&slack);
    let question = question.last().expect("the question, in the DM");
    assert_eq!(question.str("thread_ts"), Some(receipt.clone()));
    assert!(shown(question).contains("Which browser?") && shown(question).contains("reply in this thread"));
    let owner_dms = slack.posts_to(TRIAGER).len();

    let answer = message(
        SUBMITTER_DM,
        SUBMITTER,
        "Firefox 140 on macOS",
        "1900000000.000300",
        Some(&receipt),
        "EvAnswer1",
    );
    deliver(&app, &answer).await;

    assert_eq!(app.request_no(1).await.state.as_str(), "triaged", "resumed");
    let card = slack.calls_to("chat.update").last().map(shown).unwrap_or_default();
    assert!(card.contains("*Status:* triaged"), "{card}");
    let owner = slack.posts_to(TRIAGER);
    assert_eq!(owner.len(), owner_dms + 1, "the owner hears, as with Add info");
    assert!(shown(owner.last().unwrap()).contains("answered on *#1"));
    assert!(shown(owner.last().unwrap()).contains("Firefox 140 on macOS"));
    let status = app.command_as("1", SUBMITTER).await.json()["text"].to_string();
    assert!(
        status.contains("— triaged,") && status.contains("<@U0SUBMIT01> add info → triaged — Firefox 140 on macOS"),
        "`/request 1` shows the answer as a step by the submitter: {status}"
    );
    let thread = intake_thread(&slack);
    let answer_lines: Vec<&String> = thread.iter().filter(|l| l.contains("Firefox 140")).collect();
    assert_eq!(
        answer_lines,
        [&"<@U0SUBMIT01> added info: Firefox 140 on macOS".to_string()],
        "shown once, by the Add info step, not relayed again"
    );

    // The same message again under a new event id: the request is triaged
    // now, but the answer was taken; nothing is relayed.
    let mut again = answer.clone();
    again["event_id"] = json!("EvAnswer2");
    deliver(&app, &again).await;
    assert_eq!(intake_thread(&slack), thread, "nothing more in the thread");
    assert_eq!(slack.posts_to(TRIAGER).len(), owner_dms + 1);
}

#[tokio::test]
async fn bots_edits_deletions_top_level_messages_and_other_threads_relay_nothing() {
    let (app, slack, _db) = filed().await;
    let (card, receipt) = (slack.first_card_ts(), receipt_ts(&app).await);
    let posts = slack.calls_to("chat.postMessage").len();

    let in_thread = |body: &mut Value, channel: &str, parent: &str, id: &str| {
        body["event"]["channel"] = json!(channel);
        body["event"]["thread_ts"] = json!(parent);
        body["event_id"] = json!(id);
    };
    let mut other_bot = sample_json("events/message_bot.json");
    in_thread(&mut other_bot, INTAKE_CHANNEL, &card, "EvBot1");
    let mut own = sample_json("events/message_bot_own.json");
    in_thread(&mut own, SUBMITTER_DM, &receipt, "EvOwn1");
    let mut own_by_user = message(
        INTAKE_CHANNEL,
        "U0INTAKE01",
        "relayed",
        "1900000000.000401",
        Some(&card),
        "EvOwn2",
    );
    own_by_user["event"].as_object_mut().unwrap().remove("client_msg_id");
    let mut edit = message(
        INTAKE_CHANNEL,
        TRIAGER,
        "edited",
        "1900000000.000402",
        Some(&card),
        "EvEdit1",
    );
    edit["event"]["subtype"] = json!("message_changed");
    edit["event"]["message"] =
        json!({"type": "message", "user": TRIAGER, "text": "edited", "ts": "1900000000.000100", "thread_ts": card});
    edit["event"].as_object_mut().unwrap().remove("user");
    let mut deletion = message(
        INTAKE_CHANNEL,
        TRIAGER,
        "",
        "1900000000.000403",
        Some(&card),
        "EvDelete1",
    );
    deletion["event"]["subtype"] = json!("message_deleted");
    deletion["event"]["deleted_ts"] = json!("1900000000.000100");
    deletion["event"].as_object_mut().unwrap().remove("user");
    let top_level = message(
        INTAKE_CHANNEL,
        TRIAGER,
        "morning all",
        "1900000000.000404",
        None,
        "EvTop1",
    );
    let dm_top_level = message(SUBMITTER_DM, SUBMITTER, "hello?", "1900000000.000405", None, "EvTop2");
    let other_thread = message(
        INTAKE_CHANNEL,
        TRIAGER,
        "lunch?",
        "1900000000.000406",
        Some("1900000000.000001"),
        "EvOther1",
    );
    let stranger_in_dm = message(
        SUBMITTER_DM,
        STRANGER,
        "hi",
        "1900000000.000407",
        Some(&receipt),
        "EvStranger1",
    );
    for ignored in [
        other_bot,
        own,
        own_by_user,
        edit,
        deletion,
        top_level,
        dm_top_level,
        other_thread,
        stranger_in_dm,
    ] {
        deliver(&app, &ignored).await;
    }
    assert_eq!(
        slack.calls_to("chat.postMessage").len(),
        posts,
        "nothing was relayed: {:?}",
        slack
            .calls_to("chat.postMessage")
            .iter()
            .skip(posts)
            .map(shown)
            .collect::<Vec<_>>()
    );

    // A person's reply after them all is relayed: the events were read.
    deliver(
        &app,
        &message(
            INTAKE_CHANNEL,
            TRIAGER,
            "Any news?",
            "1900000000.000408",
            Some(&card),
            "EvReal1",
        ),
    )
    .await;
    assert_eq!(dm_posts(&slack).len(), 1);
}

#[tokio::test]
async fn a_reply_delivered_twice_is_relayed_once() {
    let (app, slack, _db) = filed().await;
    let card = slack.first_card_ts();
    let reply = message(
        INTAKE_CHANNEL,
        TRIAGER,
        "Looking now",
        "1900000000.000500",
        Some(&card),
        "EvTwice1",
    );
    // A Slack retry: the same event id.
    deliver(&app, &reply).await;
    deliver(&app, &reply).await;
    // The same message under another event id.
    let mut again = reply.clone();
    again["event_id"] = json!("EvTwice2");
    deliver(&app, &again).await;

    let relayed: Vec<String> = dm_posts(&slack).iter().map(shown).collect();
    assert_eq!(relayed.len(), 1, "{relayed:?}");
    assert!(relayed[0].contains("Looking now"));
    assert_eq!(slack.posts().duplicate_keys, 0);
}

#[tokio::test]
async fn the_submitters_reply_to_the_reject_dm_reaches_the_intake_thread() {
    let (app, slack, _db) = filed().await;
    let reason = "This duplicates #12, which is already planned for March.";
    assert_eq!(app.step("reject", 1, TRIAGER, &[("reason", reason)]).await.body, "");
    app.settle().await;
    let receipt = receipt_ts(&app).await;
    let rejected = dm_posts(&slack);
    let rejected = rejected.last().expect("the reject DM");
    assert!(shown(rejected).contains("Reply in this thread to talk it over"));
    assert_eq!(
        rejected.str("thread_ts"),
        Some(receipt.clone()),
        "in the thread it invites replies to"
    );
    assert_eq!(rejected.params["reply_broadcast"], true, "and shown in the DM");

    deliver(
        &app,
        &message(
            SUBMITTER_DM,
            SUBMITTER,
            "But #12 is about invoices, not checkout",
            "1900000000.000600",
            Some(&receipt),
            "EvReject1",
        ),
    )
    .await;
    let thread = intake_thread(&slack);
    assert_eq!(
        thread.last().map(String::as_str),
        Some("<@U0SUBMIT01> (submitter): But #12 is about invoices, not checkout")
    );
    assert_eq!(app.request_no(1).await.state.as_str(), "rejected");
}

#[tokio::test]
async fn a_request_filed_before_receipts_were_recorded_gets_plain_dms() {
    use sea_orm::ConnectionTrait;
    let (app, slack, _db) = filed().await;
    let card = slack.first_card_ts();
    app.db()
        .execute_unprepared("UPDATE requests SET receipt_channel = NULL, receipt_ts = NULL")
        .await
        .expect("forget the receipt, as before the migration");
    deliver(
        &app,
        &message(
            INTAKE_CHANNEL,
            TRIAGER,
            "Which page?",
            "1900000000.000700",
            Some(&card),
            "EvOld1",
        ),
    )
    .await;
    let dms = slack.posts_to(SUBMITTER);
    let relayed = dms.last().expect("a DM to the submitter");
    assert_eq!(relayed.str("text").as_deref(), Some("<@U0TRIAGE01> on #1: Which page?"));
    assert_eq!(relayed.str("thread_ts"), None, "not threaded");
    assert_eq!(relayed.str("reply_broadcast"), None);
}

/// Waits (bounded) until `done` says so: a guard against hanging, not a
/// timing assertion.
async fn until<F, Fut>(what: &str, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..1000 {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test]
async fn a_reply_before_the_receipt_is_sent_still_lands_in_its_thread() {
    let (app, slack, _db) = spawn_app().await;
    // Slack holds the receipt back (429) until told otherwise.
    slack.fail_channel(
        "chat.postMessage",
        SUBMITTER,
        Failure::RateLimited { retry_after_secs: 1 },
    );
    let form = Form {
        severity: Some("sev2".into()),
        ..Form::default()
    };
    assert_eq!(app.submit(&form).await.status, 200);
    slack.wait_for_attempts("chat.postMessage", 2).await;
    until("the card's address is recorded", || async {
        app.request_no(1).await.intake_message.is_some()
    })
    .await;
    let card = slack.first_card_ts();
    let reply = message(
        INTAKE_CHANNEL,
        TRIAGER,
        "On it",
        "1900000000.000800",
        Some(&card),
        "EvEarly1",
    );
    let response = app
        .post_signed("/slack/events", "application/json", reply.to_string().as_bytes())
        .await;
    assert_eq!(response.status, 200);
    until("the reply is processed", || async {
        intake::store::events::pending(app.db()).await.expect("events") == 0
    })
    .await;
    assert!(dm_posts(&slack).is_empty(), "the relay waits for the receipt");

    slack.clear_failures();
    app.settle().await;
    let receipt = receipt_ts(&app).await;
    let relayed = dm_posts(&slack);
    assert_eq!(relayed.len(), 1);
    assert_eq!(relayed[0].str("text").as_deref(), Some("<@U0TRIAGE01> on #1: On it"));
    assert_eq!(relayed[0].str("thread_ts"), Some(receipt), "in the receipt's thread");
}
