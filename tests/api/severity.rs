//! Changing a request's severity, from the Severity control and by emoji:
//! the SLA keeps the time it stood still, and reaching an on-call severity
//! pages on-call once, whichever way it was reached.

use chrono::{TimeDelta, Utc};
use intake::store::entities::request;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use testkit::*;

/// Moves #1's history `by` into the past: filed, due and paused that much
/// earlier, as if it had waited that long.
async fn backdate(app: &TestApp, by: TimeDelta) {
    let row = request::Entity::find_by_id(1_i64)
        .one(app.db())
        .await
        .unwrap()
        .expect("#1 is stored");
    let mut changed = row.clone().into_active_model();
    changed.created_at = Set(row.created_at - by);
    changed.response_due_at = Set(row.response_due_at - by);
    changed.resolution_due_at = Set(row.resolution_due_at - by);
    changed.sla_paused_at = Set(row.sla_paused_at.map(|at| at - by));
    changed.update(app.db()).await.unwrap();
}

fn posts_to(slack: &FakeSlack, channel: &str) -> Vec<String> {
    slack.posts_to(channel).iter().map(shown).collect()
}

#[tokio::test]
async fn raising_the_severity_after_weeks_waiting_for_info_is_not_a_breach() {
    let (app, slack, _db) = spawn_with_request("sev3").await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    let asked = app
        .step("ask_info", 1, TRIAGER, &[("question", "Which browser?")])
        .await;
    assert_eq!(asked.body, "");
    app.settle().await;
    // It waited three weeks for the submitter's answer.
    backdate(&app, TimeDelta::weeks(3)).await;
    let answered = app.step("add_info", 1, SUBMITTER, &[("answer", "Firefox 140")]).await;
    assert_eq!(answered.body, "");
    assert_eq!(
        app.click_with("set_severity", 1, TRIAGER, Some("sev2")).await.status,
        200
    );
    app.settle().await;

    let raised = app.request_no(1).await;
    assert_eq!(raised.severity.as_str(), "sev2");
    assert!(
        raised.deadlines.resolution_due > Utc::now(),
        "due {} although the SLA ran only minutes",
        raised.deadlines.resolution_due
    );
    let before = slack.calls_to("chat.postMessage").len();
    let sent = app.run_jobs(Utc::now() + TimeDelta::minutes(1)).await;
    app.settle().await;
    let notices: Vec<String> = slack.calls_to("chat.postMessage")[before..].iter().map(shown).collect();
    assert!(
        !notices.iter().any(|n| n.contains("breached")),
        "no breach notice: {sent:?} {notices:?}"
    );
}

#[tokio::test]
async fn a_triager_setting_an_oncall_severity_pages_oncall_once() {
    let (app, slack, _db) = spawn_with_request("sev2").await;
    assert!(posts_to(&slack, ONCALL_CHANNEL).is_empty(), "High does not page");

    assert_eq!(
        app.click_with("set_severity", 1, TRIAGER, Some("sev1")).await.status,
        200
    );
    app.settle().await;
    let pages = posts_to(&slack, ONCALL_CHANNEL);
    assert_eq!(pages.len(), 1, "{pages:?}");
    assert!(pages[0].contains(&format!("<!subteam^{ONCALL_GROUP}>")), "{}", pages[0]);
    assert!(pages[0].contains("#1"), "{}", pages[0]);

    // Down and up again: on-call already knows.
    for severity in ["sev2", "sev1"] {
        assert_eq!(
            app.click_with("set_severity", 1, TRIAGER, Some(severity)).await.status,
            200
        );
        app.settle().await;
    }
    assert_eq!(posts_to(&slack, ONCALL_CHANNEL).len(), 1, "paged once per request");
}
