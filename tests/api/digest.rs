//! The daily digest's figures against known data: requests filed and
//! stepped through Slack, then their timestamps moved with sea-orm, and the
//! digest rendered at a fixed instant. Every section is checked, and empty
//! digests are skipped unless `digest.post_when_empty` is set.

use chrono::{DateTime, Duration, TimeZone, Utc};
use intake::outbox::DedupeKey;
use intake::service::scheduled::{digest_message, run_due};
use intake::store::entities::{request, request_event};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set};
use serde_json::Value;
use testkit::*;

/// Files a request and waits until its messages are out; returns its number.
async fn file(app: &TestApp, title: &str, severity: &str) -> i64 {
    let form = Form {
        title: Some(title.into()),
        severity: Some(severity.into()),
        ..Form::default()
    };
    assert_eq!(app.submit(&form).await.status, 200);
    app.settle().await;
    let newest = request::Entity::find()
        .order_by_desc(request::Column::Id)
        .one(app.db())
        .await
        .unwrap()
        .expect("filed");
    assert_eq!(newest.title, title);
    newest.id
}

/// A step that answers with an empty body (accepted).
async fn stepped(app: &TestApp, action: &str, number: i64, user: &str, fields: &[(&str, &str)]) {
    let reply = app.step(action, number, user, fields).await;
    assert_eq!(reply.body, "", "{action} #{number}");
    app.settle().await;
}

async fn clicked(app: &TestApp, action: &str, number: i64, user: &str, choice: Option<&str>) {
    assert_eq!(app.click_with(action, number, user, choice).await.status, 200);
    app.settle().await;
}

/// Rewrites request `number`'s row.
async fn set(app: &TestApp, number: i64, change: impl FnOnce(&mut request::ActiveModel)) {
    let row = request::Entity::find_by_id(number)
        .one(app.db())
        .await
        .unwrap()
        .expect("stored");
    let mut model = row.into_active_model();
    change(&mut model);
    model.update(app.db()).await.unwrap();
}

/// Moves request `number`'s audit rows, oldest first, to `times` (filed,
/// then each step in order); returns how many rows it has.
async fn set_events(app: &TestApp, number: i64, times: &[DateTime<Utc>]) -> usize {
    let rows = request_event::Entity::find()
        .filter(request_event::Column::RequestId.eq(number))
        .order_by_asc(request_event::Column::Id)
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(rows.len(), times.len(), "#{number}'s audit rows: {rows:#?}");
    for (row, at) in rows.iter().zip(times) {
        let mut model = row.clone().into_active_model();
        model.at = Set(*at);
        model.update(app.db()).await.unwrap();
    }
    rows.len()
}

/// Files `title` and moves it (row and audit) to `filed`, with its steps
/// at `steps` after filing.
async fn filed_at(app: &TestApp, number: i64, filed: DateTime<Utc>, steps: &[Duration]) {
    let mut times = vec![filed];
    times.extend(steps.iter().map(|d| filed + *d));
    set_events(app, number, &times).await;
    set(app, number, |m| {
        m.created_at = Set(filed);
        m.updated_at = Set(*times.last().unwrap());
    })
    .await;
}

/// What people see of a payload: its text and its blocks.
fn words(payload: &Value) -> String {
    format!("{} {}", payload["text"].as_str().unwrap_or_default(), payload["blocks"])
}

/// The block (as text) whose text starts with `*title*`.
fn section(payload: &Value, title: &str) -> Option<String> {
    payload["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"]["text"].as_str())
        .find(|t| t.starts_with(&format!("*{title}*")))
        .map(str::to_string)
}

/// The digest's closing figures line.
fn figures(payload: &Value) -> String {
    let blocks = payload["blocks"].as_array().unwrap();
    let context = blocks.iter().rev().find(|b| b["type"] == "context").expect("figures");
    context["elements"][0]["text"].as_str().unwrap().to_string()
}

/// The digest for the day before `at`, rendered.
async fn digest(app: &TestApp, at: DateTime<Utc>) -> Value {
    digest_message(app.context(), DedupeKey::manual_digest(at), at - Duration::days(1), at)
        .await
        .expect("digest")
        .payload
}

/// How `at` shows in a message (Slack's date token carries the timestamp).
fn date(at: DateTime<Utc>) -> String {
    format!("<!date^{}^", at.timestamp())
}

/// A whole second, so stored and compared instants are exact.
fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(Utc::now().timestamp(), 0).unwrap()
}

#[tokio::test]
async fn median_time_to_triage_counts_each_request_once_from_filing_to_its_first_step() {
    let (app, _slack, _db) = spawn_app().await;
    let at = now();
    let filed = at - Duration::days(2);
    // #1: its severity changed twice while new, then it was taken after 2 h
    // and asked about; only the take is its time to triage.
    let first = file(&app, "Checkout spins", "sev3").await;
    clicked(&app, "set_severity", first, TRIAGER, Some("sev2")).await;
    clicked(&app, "set_severity", first, TRIAGER, Some("sev4")).await;
    clicked(&app, "take", first, TRIAGER, None).await;
    stepped(&app, "ask_info", first, TRIAGER, &[("question", "Which browser?")]).await;
    let minutes = |m| Duration::minutes(m);
    filed_at(
        &app,
        first,
        filed,
        &[minutes(5), minutes(10), minutes(120), minutes(180)],
    )
    .await;
    // #2 taken after 1 h, #3 after 4 h.
    let second = file(&app, "Search is slow", "sev3").await;
    clicked(&app, "take", second, TRIAGER, None).await;
    filed_at(&app, second, filed, &[minutes(60)]).await;
    let third = file(&app, "Export fails", "sev3").await;
    clicked(&app, "take", third, TRIAGER, None).await;
    filed_at(&app, third, filed, &[minutes(240)]).await;
    // #4 is still new: it has no time to triage yet.
    let fourth = file(&app, "Dark mode", "sev4").await;
    filed_at(&app, fourth, filed, &[]).await;

    // Waits 2 h, 1 h and 4 h: the median is 2 hours.
    let line = figures(&digest(&app, at).await);
    assert!(line.contains("median time to triage 2 hours"), "{line}");
}

#[tokio::test]
async fn resolution_sla_counts_open_requests_past_their_deadline_as_missed() {
    let (app, _slack, _db) = spawn_app().await;
    let at = now();
    // #1 resolved a day before its deadline.
    let on_time = file(&app, "Login loop", "sev2").await;
    clicked(&app, "take", on_time, TRIAGER, None).await;
    stepped(&app, "resolve", on_time, TRIAGER, &[("note", "Fixed in 4.2")]).await;
    filed_at(
        &app,
        on_time,
        at - Duration::days(3),
        &[Duration::hours(1), Duration::days(2)],
    )
    .await;
    set(&app, on_time, |m| {
        m.resolved_at = Set(Some(at - Duration::days(1)));
        m.resolution_due_at = Set(at);
    })
    .await;
    // #2 is being worked on, an hour past its resolution deadline.
    let late = file(&app, "Search is slow", "sev3").await;
    clicked(&app, "take", late, TRIAGER, None).await;
    set(&app, late, |m| m.resolution_due_at = Set(at - Duration::hours(1))).await;

    let line = figures(&digest(&app, at).await);
    assert!(line.contains("resolution SLA met 50% (1 of 2)"), "{line}");
}

#[tokio::test]
async fn a_reopened_request_no_longer_counts_as_resolved() {
    let (app, _slack, _db) = spawn_app().await;
    let number = file(&app, "Login loop", "sev2").await;
    clicked(&app, "take", number, TRIAGER, None).await;
    stepped(&app, "resolve", number, TRIAGER, &[("note", "Fixed in 4.2")]).await;
    clicked(&app, "reopen", number, SUBMITTER, None).await;
    let reopened = app.request_no(number).await;
    assert_eq!(reopened.state.as_str(), "triaged");
    assert_eq!(reopened.resolved_at, None);

    let at = now() + Duration::minutes(1);
    let payload = digest(&app, at).await;
    let all = words(&payload);
    assert!(all.contains("*0* resolved"), "{all}");
    assert!(
        figures(&payload).contains("resolution SLA met –"),
        "{}",
        figures(&payload)
    );
}

#[tokio::test]
async fn response_sla_attainment_counts_late_triage_and_requests_still_new_past_the_deadline() {
    let (app, _slack, _db) = spawn_app().await;
    let at = now();
    let filed = at - Duration::days(2);
    // #1 taken an hour before its response deadline: met.
    let met = file(&app, "Login loop", "sev2").await;
    clicked(&app, "take", met, TRIAGER, None).await;
    filed_at(&app, met, filed, &[Duration::hours(1)]).await;
    set(&app, met, |m| m.response_due_at = Set(filed + Duration::hours(2))).await;
    // #2 taken an hour after it: missed.
    let late = file(&app, "Search is slow", "sev2").await;
    clicked(&app, "take", late, TRIAGER, None).await;
    filed_at(&app, late, filed, &[Duration::hours(3)]).await;
    set(&app, late, |m| m.response_due_at = Set(filed + Duration::hours(2))).await;
    // #3 still new past its deadline: missed.
    let waiting = file(&app, "Export fails", "sev2").await;
    filed_at(&app, waiting, filed, &[]).await;
    set(&app, waiting, |m| m.response_due_at = Set(filed + Duration::hours(2))).await;
    // #4 still new, not yet due: not counted.
    let fresh = file(&app, "Dark mode", "sev4").await;
    set(&app, fresh, |m| m.response_due_at = Set(at + Duration::hours(5))).await;
    // #5 filed 40 days ago, triaged late: outside the window.
    let old = file(&app, "Old bug", "sev2").await;
    clicked(&app, "take", old, TRIAGER, None).await;
    filed_at(&app, old, at - Duration::days(40), &[Duration::days(2)]).await;
    set(&app, old, |m| {
        m.response_due_at = Set(at - Duration::days(40) + Duration::hours(2))
    })
    .await;

    let line = figures(&digest(&app, at).await);
    assert!(line.contains("response SLA met 33% (1 of 3)"), "{line}");
}

#[tokio::test]
async fn breached_and_at_risk_show_the_running_deadline_in_its_order() {
    let (app, _slack, _db) = spawn_app().await;
    let at = now();
    // #1 new: its response deadline passed 30 minutes ago; resolution is days away.
    let untriaged = file(&app, "Checkout spins", "sev2").await;
    set(&app, untriaged, |m| {
        m.response_due_at = Set(at - Duration::minutes(30));
        m.resolution_due_at = Set(at + Duration::days(3));
        m.sla_stage = Set(1000);
    })
    .await;
    // #2 triaged: its resolution deadline passed two hours ago.
    let working = file(&app, "Search is slow", "sev2").await;
    clicked(&app, "take", working, TRIAGER, None).await;
    set(&app, working, |m| {
        m.resolution_due_at = Set(at - Duration::hours(2));
        m.sla_stage = Set(1000);
    })
    .await;
    // At risk: #3 new, response due in 2 h (resolution in 10 days) …
    let soon = file(&app, "Dark mode", "sev4").await;
    set(&app, soon, |m| {
        m.response_due_at = Set(at + Duration::hours(2));
        m.resolution_due_at = Set(at + Duration::days(10));
        m.sla_stage = Set(500);
    })
    .await;
    // … and #4 accepted, resolution due in 3 h.
    let accepted = file(&app, "Export fails", "sev2").await;
    clicked(&app, "take", accepted, TRIAGER, None).await;
    stepped(&app, "accept", accepted, TRIAGER, &[("tracker", "PROJ-9")]).await;
    set(&app, accepted, |m| {
        m.resolution_due_at = Set(at + Duration::hours(3));
        m.sla_stage = Set(900);
    })
    .await;

    let payload = digest(&app, at).await;
    let breached = section(&payload, "Breached").expect("a breached list");
    let lines: Vec<&str> = breached.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{breached}");
    assert!(
        lines[0].contains("#2 Search is slow") && lines[0].contains(&date(at - Duration::hours(2))),
        "{breached}"
    );
    assert!(
        lines[1].contains("#1 Checkout spins") && lines[1].contains(&date(at - Duration::minutes(30))),
        "the response deadline, not the resolution one: {breached}"
    );
    let at_risk = section(&payload, "At risk").expect("an at-risk list");
    let lines: Vec<&str> = at_risk.lines().skip(1).collect();
    assert_eq!(lines.len(), 2, "{at_risk}");
    assert!(
        lines[0].contains("#3 Dark mode") && lines[0].contains(&date(at + Duration::hours(2))),
        "{at_risk}"
    );
    assert!(
        lines[1].contains("#4 Export fails") && lines[1].contains(&date(at + Duration::hours(3))),
        "{at_risk}"
    );
}

/// A daily digest at 09:00 UTC, and the first such morning after now.
async fn daily(post_when_empty: Option<bool>) -> (TestApp, FakeSlack, TestDb, DateTime<Utc>) {
    let slack = FakeSlack::start().await;
    let db = TestDb::new().await;
    let mut config = test_config(&db, &slack);
    config.schedule.digest = "0 0 9 * * *".into();
    if let Some(post) = post_when_empty {
        set_post_when_empty(&mut config, post);
    }
    let parts = Parts {
        dispatcher: true,
        scheduler: false,
    };
    let app = TestApp::start(config, parts).await;
    let today = Utc::now().date_naive().and_hms_opt(9, 0, 30).unwrap();
    let mut morning = Utc.from_utc_datetime(&today);
    if morning <= Utc::now() {
        morning += Duration::days(1);
    }
    (app, slack, db, morning)
}

fn set_post_when_empty(config: &mut intake::config::RawConfig, post: bool) {
    config.digest.post_when_empty = post;
}

fn digest_lines(lines: &[String]) -> Vec<&String> {
    lines.iter().filter(|l| l.contains("digest")).collect()
}

#[tokio::test]
async fn an_empty_digest_is_skipped_and_the_day_stays_skipped() {
    let (app, slack, _db, morning) = daily(None).await;
    // A fresh install: nothing at all to report.
    let dry = run_due(app.context(), morning, true).await.unwrap().lines;
    assert_eq!(digest_lines(&dry), ["digest skipped: nothing to report"], "{dry:?}");
    let lines = app.run_jobs(morning).await;
    assert_eq!(digest_lines(&lines), ["digest skipped: nothing to report"]);
    app.settle().await;
    assert!(slack.calls_to("chat.postMessage").is_empty(), "nothing is posted");

    // Something is filed later that morning: today's digest stays skipped …
    let number = file(&app, "Checkout spins", "sev3").await;
    set(&app, number, |m| m.created_at = Set(morning + Duration::hours(1))).await;
    let later = morning + Duration::hours(2);
    let dry = run_due(app.context(), later, true).await.unwrap().lines;
    assert!(digest_lines(&dry).is_empty(), "{dry:?}");
    assert!(digest_lines(&app.run_jobs(later).await).is_empty());
    // … and tomorrow's reports it.
    let lines = app.run_jobs(morning + Duration::days(1)).await;
    let digests = digest_lines(&lines);
    assert_eq!(digests.len(), 1, "{lines:?}");
    assert!(
        digests[0].contains("[digest:") && digests[0].contains("1 new"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn an_empty_digest_is_posted_when_configured() {
    let (app, slack, _db, morning) = daily(Some(true)).await;
    let lines = app.run_jobs(morning).await;
    assert_eq!(digest_lines(&lines).len(), 1, "{lines:?}");
    app.settle().await;
    let posted = slack.calls_to("chat.postMessage");
    assert_eq!(posted.len(), 1);
    assert!(shown(&posted[0]).contains("Nothing open"), "{}", shown(&posted[0]));
}

#[tokio::test]
async fn a_digest_with_only_open_requests_is_posted() {
    let (app, _slack, _db, morning) = daily(None).await;
    let number = file(&app, "Checkout spins", "sev3").await;
    set(&app, number, |m| m.created_at = Set(morning - Duration::days(3))).await;
    let lines = app.run_jobs(morning).await;
    assert_eq!(
        lines.iter().filter(|l| l.contains("[digest:")).count(),
        1,
        "open requests are worth a digest: {lines:?}"
    );
}

#[tokio::test]
async fn every_section_of_the_digest_with_known_data() {
    let (app, _slack, _db) = spawn_app().await;
    let at = now();
    let (hours, days) = (Duration::hours, Duration::days);

    // #1 Critical, new for 2 h, past its response deadline; 3 others need it.
    let spins = file(&app, "Checkout spins", "sev1").await;
    filed_at(&app, spins, at - hours(2), &[]).await;
    set(&app, spins, |m| {
        m.response_due_at = Set(at - Duration::minutes(90));
        m.resolution_due_at = Set(at + hours(22));
        m.sla_stage = Set(1000);
        m.demand = Set(3);
    })
    .await;
    // #2 Medium, taken 1 h after filing 3 days ago (response met), past
    // its resolution deadline; 1 other needs it.
    let slow = file(&app, "Search is slow", "sev3").await;
    clicked(&app, "take", slow, TRIAGER, None).await;
    filed_at(&app, slow, at - days(3), &[hours(1)]).await;
    set(&app, slow, |m| {
        m.response_due_at = Set(at - days(3) + hours(8));
        m.resolution_due_at = Set(at - hours(1));
        m.sla_stage = Set(1000);
        m.demand = Set(1);
    })
    .await;
    // #3 High, taken after 3 h (response met), accepted; resolution due in 3 h.
    let export = file(&app, "Export fails", "sev2").await;
    clicked(&app, "take", export, TRIAGER, None).await;
    stepped(&app, "accept", export, TRIAGER, &[("tracker", "PROJ-9")]).await;
    filed_at(&app, export, at - days(2), &[hours(3), hours(4)]).await;
    set(&app, export, |m| {
        m.response_due_at = Set(at - days(2) + hours(4));
        m.resolution_due_at = Set(at + hours(3));
        m.sla_stage = Set(900);
    })
    .await;
    // #4 Low, new for 1 h; response due in 2 h (at risk).
    let dark = file(&app, "Dark mode", "sev4").await;
    filed_at(&app, dark, at - hours(1), &[]).await;
    set(&app, dark, |m| {
        m.response_due_at = Set(at + hours(2));
        m.resolution_due_at = Set(at + days(30));
        m.sla_stage = Set(500);
    })
    .await;
    // #5 High, taken after 30 minutes, resolved 12 h ago, a day early.
    let login = file(&app, "Login loop", "sev2").await;
    clicked(&app, "take", login, TRIAGER, None).await;
    stepped(&app, "resolve", login, TRIAGER, &[("note", "Fixed in 4.2")]).await;
    filed_at(&app, login, at - days(5), &[Duration::minutes(30), days(5) - hours(12)]).await;
    set(&app, login, |m| {
        m.response_due_at = Set(at - days(5) + hours(4));
        m.resolution_due_at = Set(at + hours(12));
        m.resolved_at = Set(Some(at - hours(12)));
    })
    .await;
    // #6 Medium, filed 60 days ago, resolved 40 days ago, closed 2 h ago.
    let old = file(&app, "Old report", "sev3").await;
    clicked(&app, "take", old, TRIAGER, None).await;
    stepped(&app, "resolve", old, TRIAGER, &[("note", "Done")]).await;
    clicked(&app, "confirm", old, SUBMITTER, None).await;
    filed_at(&app, old, at - days(60), &[hours(2), days(20), days(60) - hours(2)]).await;
    set(&app, old, |m| {
        m.response_due_at = Set(at - days(60) + hours(8));
        m.resolution_due_at = Set(at - days(40) + hours(1));
        m.resolved_at = Set(Some(at - days(40)));
    })
    .await;

    let payload = digest(&app, at).await;
    let all = words(&payload);
    assert!(
        payload["text"]
            .as_str()
            .unwrap()
            .contains("2 new, 2 breached, 2 at risk"),
        "{all}"
    );
    assert!(all.contains("*2* new, *1* resolved, *1* closed"), "{all}");

    let open = section(&payload, "Open by state and severity").expect("open");
    let open: Vec<&str> = open.lines().skip(1).collect();
    assert_eq!(
        open,
        [
            "• new · Critical: 1",
            "• new · Low: 1",
            "• triaged · Medium: 1",
            "• accepted · High: 1",
            "• resolved · High: 1",
        ],
        "in the order of the workflow and the severity ladder"
    );

    let listed = |title: &str| -> Vec<String> {
        section(&payload, title)
            .unwrap_or_else(|| panic!("no {title} section in {all}"))
            .lines()
            .map(str::to_string)
            .collect()
    };
    let breached = listed("Breached");
    assert_eq!(breached[0], "*Breached* (2)");
    assert!(breached[1].contains("#1 Checkout spins") && breached[1].contains("no owner"));
    assert!(breached[1].contains(&date(at - Duration::minutes(90))), "{breached:?}");
    assert!(breached[2].contains("#2 Search is slow") && breached[2].contains(TRIAGER));
    assert!(breached[2].contains(&date(at - hours(1))), "{breached:?}");

    let at_risk = listed("At risk");
    assert_eq!(at_risk[0], "*At risk* (2)");
    assert!(at_risk[1].contains("#4 Dark mode") && at_risk[1].contains(&date(at + hours(2))));
    assert!(at_risk[2].contains("#3 Export fails") && at_risk[2].contains(&date(at + hours(3))));

    let new = listed("New");
    assert_eq!(new[0], "*New* (2)");
    assert!(
        new[1].contains("#1 Checkout spins") && new[1].ends_with("new"),
        "{new:?}"
    );
    assert!(new[2].contains("#4 Dark mode"), "{new:?}");

    let wanted = listed("Most wanted");
    assert_eq!(wanted[0], "*Most wanted* (2)");
    assert!(wanted[1].contains("#1 Checkout spins") && wanted[1].contains("+3 others need this"));
    assert!(wanted[2].contains("#2 Search is slow") && wanted[2].contains("+1 other needs this"));

    let untriaged = listed("Oldest untriaged");
    assert_eq!(untriaged[0], "*Oldest untriaged* (2)");
    assert!(untriaged[1].contains("#1 Checkout spins") && untriaged[1].contains(&date(at - hours(2))));
    assert!(untriaged[2].contains("#4 Dark mode") && untriaged[2].contains(&date(at - hours(1))));

    // Triaged in the last 30 days after 30 min, 1 h and 3 h; responses met
    // by #2, #3 and #5, missed by #1 (still new); resolution met by #5,
    // missed by #2 (open, overdue); #6 is older than 30 days.
    let line = figures(&payload);
    assert!(line.contains("median time to triage 60 minutes"), "{line}");
    assert!(line.contains("response SLA met 75% (3 of 4)"), "{line}");
    assert!(line.contains("resolution SLA met 50% (1 of 2)"), "{line}");
}
