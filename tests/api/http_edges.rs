//! The HTTP boundary: signatures, replays, sizes, malformed payloads,
//! validation errors, the URL check and the ops endpoints.

use intake::store::requests;
use testkit::*;

const FORM: &str = "application/x-www-form-urlencoded";

#[tokio::test]
async fn unsigned_forged_and_stale_requests_are_refused_and_do_nothing() {
    let (app, slack, _db) = spawn_app().await;
    let body = command_body("hello");
    let unsigned = app
        .request(
            "POST",
            "/slack/commands",
            &[("content-type", FORM.into())],
            body.clone(),
        )
        .await;
    assert_eq!(unsigned.status, 401);
    assert!(unsigned.body.contains("missing"), "{}", unsigned.body);

    let mut forged = signing::slack_headers("not-the-secret", signing::now_ts(), &body);
    forged.push(("content-type", FORM.into()));
    let forged = app.request("POST", "/slack/commands", &forged, body.clone()).await;
    assert_eq!(forged.status, 401);
    assert!(forged.body.contains("signature"), "{}", forged.body);

    let stale = app
        .post_signed_at("/slack/commands", FORM, &body, signing::now_ts() - 301)
        .await;
    assert_eq!(stale.status, 401);
    assert!(stale.body.contains("stale"), "{}", stale.body);

    // A correctly signed body that was altered on the way.
    let mut headers = signing::slack_headers(SIGNING_SECRET, signing::now_ts(), &body);
    headers.push(("content-type", FORM.into()));
    let tampered = app
        .request("POST", "/slack/commands", &headers, command_body("hellO"))
        .await;
    assert_eq!(tampered.status, 401);

    let submission = app
        .request(
            "POST",
            "/slack/interactions",
            &[("content-type", FORM.into())],
            Form::default().body(),
        )
        .await;
    assert_eq!(submission.status, 401);
    assert_eq!(slack.calls().len(), 0, "nothing reached Slack");
    assert_eq!(requests::count(app.db()).await.unwrap(), 0, "nothing was stored");
}

#[tokio::test]
async fn url_verification_echoes_the_challenge() {
    let (app, _slack, _db) = spawn_app().await;
    let body = sample("events/url_verification.json");
    let response = app.post_signed("/slack/events", "application/json", &body).await;
    assert_eq!(response.status, 200);
    let expected: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(response.json()["challenge"], expected["challenge"]);
}

/// Reactions on ordinary channel chatter are acknowledged and forgotten:
/// nothing is stored for them and nothing is posted, however often Slack
/// sends them. (Retries of a reaction on a request count once:
/// `escalation::three_colleagues_…` replays event ids.)
#[tokio::test]
async fn a_reaction_on_a_message_that_is_no_request_is_acknowledged_and_forgotten() {
    let (app, slack, _db) = spawn_app().await;
    let body = sample("events/reaction_added.json");
    for _ in 0..2 {
        assert_eq!(
            app.post_signed("/slack/events", "application/json", &body).await.status,
            200
        );
    }
    let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let id = event["event_id"].as_str().unwrap();
    use sea_orm::EntityTrait;
    let stored = intake::store::entities::slack_event_seen::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap();
    assert!(stored.is_none(), "the event was not stored");
    app.settle_events().await;
    assert!(slack.calls().is_empty(), "{:?}", slack.calls());
}

#[tokio::test]
async fn oversized_and_malformed_bodies_get_4xx_with_a_reason() {
    let (app, _slack, _db) = spawn_app().await;
    let huge = vec![b'a'; 300 * 1024];
    let response = app.post_signed("/slack/interactions", FORM, &huge).await;
    assert_eq!(response.status, 413);

    let garbage = app
        .post_signed("/slack/interactions", FORM, b"payload=%7Bnot-json")
        .await;
    assert_eq!(garbage.status, 400);
    assert!(
        garbage.body.contains("malformed interaction payload"),
        "{}",
        garbage.body
    );

    let no_payload = app.post_signed("/slack/interactions", FORM, b"something=else").await;
    assert_eq!(no_payload.status, 400);

    let bad_event = app.post_signed("/slack/events", "application/json", b"[1,2").await;
    assert_eq!(bad_event.status, 400);

    let bad_command = app.post_signed("/slack/commands", FORM, b"text=only").await;
    assert_eq!(bad_command.status, 400);
    assert!(
        bad_command.body.contains("malformed slash command"),
        "{}",
        bad_command.body
    );

    assert_eq!(app.request("GET", "/slack/commands", &[], vec![]).await.status, 405);
    assert_eq!(app.request("GET", "/nope", &[], vec![]).await.status, 404);
}

#[tokio::test]
async fn invalid_fields_come_back_under_their_blocks_and_nothing_is_stored() {
    let (app, slack, _db) = spawn_app().await;
    let form = Form {
        kind: None,
        title: Some("x".repeat(151)),
        description: Some("   ".into()),
        severity: Some("sev9".into()),
        link: Some("not a link".into()),
        ..Form::default()
    };
    let response = app.submit(&form).await;
    assert_eq!(response.status, 200);
    let reply = response.json();
    assert_eq!(reply["response_action"], "errors");
    let errors = reply["errors"].as_object().expect("errors by block");
    let mut blocks: Vec<&str> = errors.keys().map(String::as_str).collect();
    blocks.sort();
    assert_eq!(blocks, ["description", "link", "severity", "title", "type"]);
    assert!(
        errors["title"]
            .as_str()
            .unwrap()
            .contains("151 characters; the limit is 150")
    );
    assert_eq!(requests::count(app.db()).await.unwrap(), 0);
    assert_eq!(slack.calls().len(), 0);
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let (app, _slack, _db) = spawn_app().await;
    assert_eq!(app.request("GET", "/healthz", &[], vec![]).await.status, 200);
    let ready = app.request("GET", "/readyz", &[], vec![]).await;
    assert_eq!((ready.status, ready.body.trim()), (200, "ready"));
    assert_eq!(app.submit(&Form::default()).await.status, 200);
    let metrics = app.request("GET", "/metrics", &[], vec![]).await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.body.contains("intake_requests_submitted_total"),
        "{}",
        metrics.body
    );
}

#[tokio::test]
async fn readyz_says_not_ready_without_leaking_the_database_error() {
    let (app, _slack, _db) = spawn_app().await;
    assert_eq!(app.request("GET", "/readyz", &[], vec![]).await.status, 200);
    app.context().store.clone().close().await;
    let response = app.request("GET", "/readyz", &[], vec![]).await;
    assert_eq!(response.status, 503);
    assert_eq!(response.body, "not ready: the database does not answer\n");
}

#[test]
fn check_config_redacts_the_database_password() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_intake"))
        .arg("check-config")
        .env("SLACK_BOT_TOKEN", "xoxb-secret-token")
        .env("SLACK_SIGNING_SECRET", "signing-secret-value")
        .env(
            "INTAKE__DATABASE__URL",
            "postgres://intake:hunter2pw@db.internal:5432/intake",
        )
        .output()
        .expect("intake runs");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(printed.contains("db.internal"), "{printed}");
    for secret in ["hunter2pw", "xoxb-secret-token", "signing-secret-value"] {
        assert!(!printed.contains(secret), "{secret} printed: {printed}");
    }
}

/// Reads until the server closes the connection (bounded: a guard against
/// hanging, not a timing assertion); what it sent before closing.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut seen = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read_to_end(&mut seen)).await;
    assert!(read.is_ok(), "the server never closed the connection");
    String::from_utf8_lossy(&seen).into_owned()
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    use tokio::io::AsyncWriteExt;
    let (app, _slack, _db) = spawn_app_with(|config| config.server.header_timeout_secs = 1).await;
    let mut stream = tokio::net::TcpStream::connect(addr(&app)).await.unwrap();
    stream
        .write_all(b"POST /slack/commands HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn a_body_that_never_arrives_is_answered_408() {
    use tokio::io::AsyncWriteExt;
    let (app, _slack, _db) = spawn_app_with(|config| config.server.body_timeout_secs = 1).await;
    let mut stream = tokio::net::TcpStream::connect(addr(&app)).await.unwrap();
    let head = "POST /slack/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\nConnection: close\r\n\r\ntoken=abc";
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
}

#[tokio::test]
async fn connections_past_the_limit_are_closed_and_the_others_served() {
    use tokio::io::AsyncWriteExt;
    let (app, _slack, _db) = spawn_app_with(|config| config.server.max_connections = 2).await;
    let held: Vec<tokio::net::TcpStream> = vec![
        tokio::net::TcpStream::connect(addr(&app)).await.unwrap(),
        tokio::net::TcpStream::connect(addr(&app)).await.unwrap(),
    ];
    // Let the server accept both before the third arrives.
    let mut first = held.into_iter();
    let mut a = first.next().unwrap();
    a.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    use tokio::io::AsyncReadExt;
    let n = a.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let _b = first.next().unwrap();
    let mut third = tokio::net::TcpStream::connect(addr(&app)).await.unwrap();
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let refused = read_until_closed(&mut third).await;
    assert!(
        refused.is_empty(),
        "the third connection is closed unanswered: {refused}"
    );
    drop(a);
    let mut answered = String::new();
    for _ in 0..200 {
        let response = app.request("GET", "/healthz", &[], vec![]).await;
        if response.status == 200 {
            answered = response.body;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(answered, "ok\n", "a freed slot is served again");
}

#[tokio::test]
async fn past_the_in_flight_limit_slack_is_told_to_retry_never_left_waiting() {
    let (app, slack, _db) = spawn_app_with(|config| config.server.max_in_flight = 1).await;
    slack.set_latency(std::time::Duration::from_millis(1500));
    let app = std::sync::Arc::new(app);
    let first = {
        let app = app.clone();
        tokio::spawn(async move { app.slash_command("checkout is slow").await })
    };
    // The first /request is waiting on views.open: the one slot is taken.
    slack.wait_for_attempts("views.open", 1).await;
    let body = command_body("another one");
    let mut headers = signing::slack_headers(SIGNING_SECRET, signing::now_ts(), &body);
    headers.push(("content-type", "application/x-www-form-urlencoded".to_string()));
    let busy = app.request("POST", "/slack/commands", &headers, body).await;
    assert_eq!(busy.status, 503, "{}", busy.body);
    assert_eq!(first.await.unwrap().status, 200, "the first is answered as usual");
}
