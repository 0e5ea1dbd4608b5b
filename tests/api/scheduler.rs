//! The scheduler with an injected clock: SLA reminders and breaches (once
//! each, the most urgent only), the paused clock, follow-ups and auto-close,
//! revisits, the daily digest, and two schedulers racing on one database.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc, Weekday};
use testkit::*;

fn keys(slack: &FakeSlack) -> Vec<String> {
    slack.calls_to("chat.postMessage").iter().map(shown).collect()
}

/// What a run did, leaving out the daily digest (its own test covers it).
async fn jobs(app: &TestApp, at: DateTime<Utc>) -> Vec<String> {
    app.run_jobs(at)
        .await
        .into_iter()
        .filter(|l| !l.contains("[digest:"))
        .collect()
}

async fn filed(app: &TestApp, slack: &FakeSlack, severity: &str, count: usize) -> DateTime<Utc> {
    let before = Utc::now();
    assert_eq!(
        app.submit(&Form {
            severity: Some(severity.into()),
            ..Form::default()
        })
        .await
        .status,
        200
    );
    slack.wait_for("chat.postMessage", count).await;
    app.settle().await;
    before
}

#[tokio::test]
async fn reminders_go_out_once_each_and_the_breach_is_announced() {
    let (app, slack, _db) = spawn_app().await;
    let t0 = filed(&app, &slack, "sev1", 3).await; // Critical: triage within 30 wall minutes
    assert!(
        jobs(&app, t0 + Duration::minutes(5)).await.is_empty(),
        "nothing due yet"
    );

    let first = jobs(&app, t0 + Duration::minutes(16)).await;
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].contains("sla:1:response:500"));
    app.settle().await;
    let reminder = slack.calls_to("chat.postMessage").last().cloned().unwrap();
    assert_eq!(
        reminder.str("thread_ts").as_deref(),
        Some(slack.first_card_ts().as_str()),
        "unowned: in the intake thread"
    );
    assert_eq!(
        reminder.params["reply_broadcast"], true,
        "unowned: the channel sees it, since nobody owns it"
    );
    assert!(
        shown(&reminder).contains("response SLA due in 1"),
        "{}",
        shown(&reminder)
    );

    assert!(
        jobs(&app, t0 + Duration::minutes(16)).await.is_empty(),
        "the same instant twice sends nothing"
    );
    assert!(jobs(&app, t0 + Duration::minutes(28)).await[0].contains("sla:1:response:900"));
    let breach = jobs(&app, t0 + Duration::minutes(31)).await;
    assert!(
        breach[0].contains("sla:1:response:1000") && breach[0].contains("breached"),
        "{breach:?}"
    );
    app.settle().await;
    let last = slack.calls_to("chat.postMessage").last().cloned().unwrap();
    assert_eq!(last.params["reply_broadcast"], true, "the breach shows in the channel");
    assert!(jobs(&app, t0 + Duration::hours(5)).await.is_empty());
    assert_eq!(slack.calls_to("chat.postMessage").len(), 3 + 3);
}

#[tokio::test]
async fn a_reprioritised_request_gets_its_reminders_again() {
    let (app, slack, _db) = spawn_app().await;
    let t0 = filed(&app, &slack, "sev1", 3).await;
    let reminders = || {
        slack
            .calls_to("chat.postMessage")
            .iter()
            .filter(|c| shown(c).contains("response SLA due in"))
            .count()
    };
    let first = jobs(&app, t0 + Duration::minutes(16)).await;
    assert!(first.iter().any(|l| l.contains("sla:1:response:500")), "{first:?}");
    app.settle().await;
    assert_eq!(reminders(), 1);
    for severity in ["sev2", "sev1"] {
        assert_eq!(
            app.click_with("set_severity", 1, TRIAGER, Some(severity)).await.status,
            200
        );
    }
    app.settle().await;
    // A new SLA cycle: its 50 % reminder is not silenced by the first one's.
    let again = jobs(&app, t0 + Duration::minutes(17)).await;
    app.settle().await;
    assert_eq!(reminders(), 2, "{again:?}");
}

#[tokio::test]
async fn a_request_found_past_several_thresholds_gets_only_the_most_urgent() {
    let (app, slack, _db) = spawn_app().await;
    let t0 = filed(&app, &slack, "sev1", 3).await;
    let lines = jobs(&app, t0 + Duration::minutes(45)).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("sla:1:response:1000"));
}

#[tokio::test]
async fn owners_get_their_resolution_reminders_by_dm() {
    let (app, slack, _db) = spawn_app().await;
    let t0 = filed(&app, &slack, "sev1", 3).await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    app.settle().await;
    // Resolution within 1 wall day: 50 % after 12 hours.
    let lines = jobs(&app, t0 + Duration::hours(13)).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("sla:1:resolution:500") && lines[0].contains(TRIAGER),
        "{lines:?}"
    );
    app.settle().await;
    let dm = slack.calls_to("chat.postMessage").last().cloned().unwrap();
    let blocks = dm.params["blocks"].to_string();
    assert!(
        blocks.contains("View #1 in the intake channel"),
        "a link to the request: {blocks}"
    );
    assert!(
        blocks.contains("\"action_id\":\"resolve\""),
        "the request's buttons: {blocks}"
    );
    app.settle().await;
    let dm = slack.calls_to("chat.postMessage").last().cloned().unwrap();
    assert_eq!(dm.str("channel").as_deref(), Some(TRIAGER));
    assert!(shown(&dm).contains("resolution SLA due in 1"), "{}", shown(&dm));
}

#[tokio::test]
async fn the_clock_stops_while_waiting_on_the_submitter() {
    let (app, slack, _db) = spawn_app().await;
    let t0 = filed(&app, &slack, "sev1", 3).await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    assert_eq!(
        app.step("ask_info", 1, TRIAGER, &[("question", "Which account?")])
            .await
            .body,
        ""
    );
    app.settle().await;
    let due_before = app.request_no(1).await.deadlines.resolution_due;
    assert!(
        jobs(&app, t0 + Duration::days(3)).await.is_empty(),
        "no reminders while paused"
    );
    // The answer comes later; the deadline moves by the time spent waiting.
    assert_eq!(
        app.step("add_info", 1, SUBMITTER, &[("answer", "acme-eu")]).await.body,
        ""
    );
    app.settle().await;
    let due_after = app.request_no(1).await.deadlines.resolution_due;
    assert!(due_after > due_before, "{due_before} → {due_after}");
}

#[tokio::test]
async fn resolved_requests_are_followed_up_then_closed() {
    let (app, slack, _db) = spawn_app().await;
    let t0 = filed(&app, &slack, "sev3", 2).await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    assert_eq!(
        app.step("resolve", 1, TRIAGER, &[("note", "Fixed in 4.2")]).await.body,
        ""
    );
    app.settle().await;
    assert!(
        !jobs(&app, t0 + Duration::days(1))
            .await
            .iter()
            .any(|l| l.contains("followup"))
    );

    let lines = jobs(&app, t0 + Duration::days(6)).await;
    assert!(lines.iter().any(|l| l.contains("followup:1:")), "{lines:?}");
    app.settle().await;
    let followup = slack.calls_to("chat.postMessage").last().cloned().unwrap();
    assert_eq!(followup.str("channel").as_deref(), Some(SUBMITTER));
    assert!(shown(&followup).contains("confirm") && shown(&followup).contains("reopen"));
    assert!(
        shown(&followup).contains("it closes on its own on <!date^"),
        "the follow-up says when: {}",
        shown(&followup)
    );
    assert!(jobs(&app, t0 + Duration::days(6)).await.is_empty(), "asked once");
    assert_eq!(app.request_no(1).await.state.as_str(), "resolved");

    let lines = jobs(&app, t0 + Duration::days(8)).await;
    assert!(lines.iter().any(|l| l.contains("#1 is now closed")), "{lines:?}");
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "closed");
    assert!(
        keys(&slack).iter().any(|m| m.contains("we did not hear back")),
        "the closure DM says why"
    );
}

#[tokio::test]
async fn deferred_requests_come_back_at_the_start_of_the_working_day_and_everyone_is_told() {
    let (app, slack, _db) = spawn_app().await;
    filed(&app, &slack, "sev3", 2).await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    // A Sunday: the revisit waits for Monday's working hours (09:00 UTC).
    let reply = app
        .step(
            "defer",
            1,
            TRIAGER,
            &[("revisit", "2027-01-10"), ("reason", "After the freeze")],
        )
        .await;
    assert_eq!(reply.body, "");
    app.settle().await;
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    for quiet in ["2027-01-09T12:00:00Z", "2027-01-10T00:30:00Z", "2027-01-11T08:00:00Z"] {
        let lines = jobs(&app, at(quiet)).await;
        assert!(!lines.iter().any(|l| l.contains("#1 is now")), "{quiet}: {lines:?}");
    }
    let lines = jobs(&app, at("2027-01-11T09:05:00Z")).await;
    assert!(lines.iter().any(|l| l.contains("#1 is now triaged")), "{lines:?}");
    app.settle().await;
    assert_eq!(app.request_no(1).await.state.as_str(), "triaged");
    let told = |who: &str| {
        slack
            .calls_to("chat.postMessage")
            .iter()
            .filter(|c| c.str("channel").as_deref() == Some(who))
            .map(shown)
            .any(|m| m.contains("revisit date"))
    };
    assert!(told(TRIAGER), "the owner is told");
    assert!(told(SUBMITTER), "the submitter is told");
}

/// The first weekday 09:00 UTC after `t` (the default digest schedule), so
/// a request filed at `t` is new in that digest whatever the time of day.
fn next_digest(t: DateTime<Utc>) -> DateTime<Utc> {
    let mut day = t.date_naive();
    loop {
        let morning = Utc.from_utc_datetime(&day.and_hms_opt(9, 0, 30).unwrap());
        if morning > t && !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            return morning;
        }
        day += Duration::days(1);
    }
}

#[tokio::test]
async fn one_digest_per_day_even_after_a_week_away() {
    let (app, slack, _db) = spawn_app_with(|config| config.schedule.digest = "0 0 9 * * Mon-Fri".into()).await;
    let t0 = filed(&app, &slack, "sev2", 2).await;
    let morning = next_digest(t0);
    let lines = app.run_jobs(morning).await;
    let digests: Vec<&String> = lines.iter().filter(|l| l.contains("[digest:")).collect();
    assert_eq!(digests.len(), 1, "{lines:?}");
    assert!(
        app.run_jobs(morning + Duration::minutes(5))
            .await
            .iter()
            .all(|l| !l.contains("[digest:"))
    );
    app.settle().await;
    let digest = slack
        .calls_to("chat.postMessage")
        .into_iter()
        .find(|c| c.str("channel").as_deref() == Some("#product"));
    let digest = digest.expect("the digest was posted");
    let blocks = digest.params["blocks"].as_array().unwrap().len();
    assert!(blocks <= 50);
    let digest = shown(&digest);
    assert!(
        digest.contains("#1 Invoices render blank") && digest.contains("New"),
        "{digest}"
    );

    // Down for a week: one digest when it comes back, not five.
    let lines = app.run_jobs(morning + Duration::days(7)).await;
    assert_eq!(lines.iter().filter(|l| l.contains("[digest:")).count(), 1, "{lines:?}");
}

#[tokio::test]
async fn two_schedulers_at_once_send_every_reminder_exactly_once() {
    let slack = FakeSlack::start().await;
    let db = TestDb::new().await;
    let parts = Parts {
        dispatcher: true,
        scheduler: false,
    };
    let a = TestApp::start(test_config(&db, &slack), parts).await;
    let b = TestApp::start(test_config(&db, &slack), parts).await;
    let t0 = Utc::now();
    for _ in 0..8 {
        assert_eq!(
            a.submit(&Form {
                severity: Some("sev1".into()),
                ..Form::default()
            })
            .await
            .status,
            200
        );
    }
    slack.wait_for("chat.postMessage", 24).await;
    a.settle().await;
    for minutes in [16, 28, 31, 45] {
        let at = t0 + Duration::minutes(minutes);
        let (x, y) = tokio::join!(jobs(&a, at), jobs(&b, at));
        let _ = (x, y);
    }
    a.settle().await;
    b.settle().await;
    let reminders: Vec<String> = slack.calls_to("chat.postMessage").iter().skip(24).map(shown).collect();
    // Per request: 50 %, 90 % and the breach, each exactly once.
    assert_eq!(reminders.len(), 8 * 3, "{reminders:#?}");
    assert_eq!(reminders.iter().filter(|r| r.contains("breached")).count(), 8);
}
