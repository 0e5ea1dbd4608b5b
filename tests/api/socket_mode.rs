//! Socket Mode against a fake Socket Mode server on 127.0.0.1: the same
//! use cases as over HTTP, acks that carry what the HTTP body would,
//! Slack's re-deliveries counted once, reconnection after `disconnect` or a
//! dropped connection, and frames intake cannot read survived.

use serde_json::{Value, json};
use testkit::fake_socket::{interactive, reaction, request_command};
use testkit::*;

/// Cards in the intake channel, receipts, and messages posted twice.
fn post_counts(slack: &FakeSlack) -> (usize, u64, u64) {
    let cards = slack
        .posts_to(INTAKE_CHANNEL)
        .iter()
        .filter(|c| c.str("thread_ts").is_none())
        .count();
    let posts = slack.posts();
    (cards, posts.receipts, posts.duplicate_keys)
}

fn posted(slack: &FakeSlack) -> Vec<String> {
    slack.calls_to("chat.postMessage").iter().map(shown).collect()
}

async fn requests(app: &TestApp) -> u64 {
    intake::store::requests::count(app.db()).await.expect("count")
}

#[tokio::test]
async fn request_opens_the_form_refuses_a_missing_title_and_files_over_socket_mode() {
    let (app, slack, socket, _db) = spawn_socket_app().await;
    let opened = slack.calls_to("apps.connections.open");
    assert_eq!(opened.len(), 1);
    assert_eq!(
        opened[0].authorization.as_deref(),
        Some(format!("Bearer {APP_TOKEN}").as_str()),
        "the connection is opened with the app-level token, not the bot's"
    );

    // `/request`: the form opens with the command's trigger; a plain ack.
    let command = request_command("checkout times out");
    let id = socket.send(&command);
    assert_eq!(socket.ack(&id).await, json!({"envelope_id": id}));
    let views = slack.calls_to("views.open");
    assert_eq!(views.len(), 1, "views.open is called before the ack");
    assert_eq!(
        views[0].str("trigger_id"),
        command["payload"]["trigger_id"].as_str().map(str::to_owned)
    );
    assert!(views[0].params.to_string().contains("checkout times out"));

    // A submission without a title: the errors ride in the ack's payload.
    let untitled = Form {
        title: None,
        ..Form::default()
    };
    let id = socket.send(&interactive(untitled.payload()));
    let ack = socket.ack(&id).await;
    assert_eq!(ack["envelope_id"], id.as_str());
    assert_eq!(ack["payload"]["response_action"], "errors", "{ack}");
    assert!(ack["payload"]["errors"]["title"].is_string(), "{ack}");
    assert_eq!(requests(&app).await, 0);

    // A valid one is filed: card, receipt, the same services as over HTTP.
    let form = Form {
        title: Some("Invoices render blank over the socket".into()),
        ..Form::default()
    };
    let id = socket.send(&interactive(form.payload()));
    assert_eq!(socket.ack(&id).await, json!({"envelope_id": id}));
    app.settle().await;
    assert_eq!(
        app.request_no(1).await.title.as_str(),
        "Invoices render blank over the socket"
    );
    assert_eq!(post_counts(&slack), (1, 1, 0));
    assert!(
        posted(&slack)
            .iter()
            .any(|m| m.contains("Invoices render blank over the socket"))
    );
    assert_eq!(socket.connections(), 1);
}

#[tokio::test]
async fn a_reaction_escalates_and_redelivered_envelopes_count_once() {
    let (app, slack, socket, _db) = spawn_socket_app().await;
    let form = Form {
        severity: Some("sev3".into()),
        ..Form::default()
    };
    // Filed, but Slack never sees the ack: it re-delivers on reconnect.
    let submission = socket.send_losing_ack(&interactive(form.payload()));
    socket.ack(&submission).await;
    app.settle().await;
    let arrow_up = reaction(
        STRANGER,
        "arrow_up",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "EvSocket1",
    );
    let escalation = socket.send_losing_ack(&arrow_up);
    socket.ack(&escalation).await;
    app.settle_events().await;
    assert_eq!(app.request_no(1).await.severity.as_str(), "sev2");

    socket.drop_connection();
    socket.wait_connected(2).await;
    // Both come again, marked as retries, and are acked again.
    for id in [&submission, &escalation] {
        let acks = socket.acks(id, 2).await;
        assert_eq!(acks[1], json!({"envelope_id": id}));
    }
    app.settle_events().await;
    assert_eq!(requests(&app).await, 1, "one request, however often its modal arrives");
    assert_eq!(app.request_no(1).await.severity.as_str(), "sev2", "raised once");
    let escalated = posted(&slack)
        .iter()
        .filter(|m| m.contains("Escalated to High by <@U0OTHER001> with :arrow_up:"))
        .count();
    assert_eq!(escalated, 1);
    assert_eq!(post_counts(&slack), (1, 1, 0));
}

#[tokio::test]
async fn after_disconnect_or_a_dropped_connection_it_reconnects_and_keeps_working() {
    let (mut app, slack, socket, _db) = spawn_socket_app().await;

    // Slack asks for a new connection: intake opens one and closes the old.
    socket.disconnect();
    socket.wait_connected(2).await;
    socket.wait_closed_by_client(1).await;
    assert_eq!(slack.calls_to("apps.connections.open").len(), 2);
    let id = socket.send(&request_command("after a refresh"));
    assert_eq!(socket.ack(&id).await, json!({"envelope_id": id}));
    assert_eq!(slack.calls_to("views.open").len(), 1);

    // The connection just vanishes: intake notices and connects again.
    socket.drop_connection();
    socket.wait_connected(3).await;
    assert_eq!(slack.calls_to("apps.connections.open").len(), 3);
    let id = socket.send(&request_command("after a drop"));
    socket.ack(&id).await;
    assert_eq!(slack.calls_to("views.open").len(), 2);

    // Shutting down closes the connection cleanly.
    app.stop().await;
    socket.wait_closed_by_client(2).await;
}

#[tokio::test]
async fn frames_it_cannot_read_are_acked_or_ignored_and_it_keeps_working() {
    let (app, slack, socket, _db) = spawn_socket_app().await;
    socket.send_raw("this is not JSON {");
    socket.send_raw("[1, 2, 3]");
    let unknown = socket.send(&json!({"envelope_id": "e-unknown", "type": "brand_new_type", "payload": {}}));
    assert_eq!(socket.ack(&unknown).await, json!({"envelope_id": "e-unknown"}));
    // Known types whose payload cannot be read: acked (a retry cannot help).
    for (kind, payload) in [
        ("slash_commands", json!({"text": "no user, no trigger"})),
        ("interactive", json!("not an object")),
        ("events_api", Value::Null),
    ] {
        let id = socket.send(&json!({"envelope_id": format!("e-bad-{kind}"), "type": kind, "payload": payload}));
        assert_eq!(socket.ack(&id).await, json!({"envelope_id": id}), "{kind}");
    }
    // Still the same connection, still serving.
    let id = socket.send(&request_command("still here"));
    socket.ack(&id).await;
    assert_eq!(slack.calls_to("views.open").len(), 1);
    assert_eq!(socket.connections(), 1);
    assert_eq!(requests(&app).await, 0);
}

#[tokio::test]
async fn health_and_metrics_stay_on_http_and_the_slack_routes_are_off() {
    let (app, _slack, socket, _db) = spawn_socket_app().await;
    let id = socket.send(&request_command("counted"));
    socket.ack(&id).await;
    assert_eq!(app.request("GET", "/healthz", &[], vec![]).await.status, 200);
    assert_eq!(app.request("GET", "/readyz", &[], vec![]).await.status, 200);
    let metrics = app.request("GET", "/metrics", &[], vec![]).await.body;
    assert!(
        metrics.contains(r#"intake_socket_envelopes_total{kind="command",outcome="ack"}"#),
        "{metrics}"
    );
    // No signing secret is configured: nothing on /slack/* is accepted.
    let refused = app.slash_command("over http").await;
    assert_eq!(refused.status, 404);
    assert!(refused.body.contains("Socket Mode"), "{}", refused.body);
}
