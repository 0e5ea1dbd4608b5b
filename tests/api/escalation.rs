//! Emoji escalation through the Events API with real reaction payloads:
//! once per person and level, retries ignored, bots and unrelated messages
//! ignored, removal ignored, the off-ramp on reaching critical, demand.

use testkit::*;

/// Files a Low request (#1) and waits until its intake post is out.
async fn low_request() -> (TestApp, FakeSlack, TestDb) {
    spawn_with_request("sev4").await
}

fn posted(slack: &FakeSlack) -> Vec<String> {
    slack.calls_to("chat.postMessage").iter().map(shown).collect()
}

#[tokio::test]
async fn three_colleagues_make_a_low_request_critical_and_show_demand() {
    let (app, slack, _db) = low_request().await;
    assert_eq!(
        app.react(
            "reaction_added",
            "U0OTHER001",
            "arrow_up",
            (INTAKE_CHANNEL, &slack.first_card_ts()),
            "Ev1"
        )
        .await
        .status,
        200
    );
    app.settle_events().await;
    assert_eq!(app.request_no(1).await.severity.as_str(), "sev3");
    assert!(
        posted(&slack)
            .iter()
            .any(|m| m.contains("Escalated to Medium by <@U0OTHER001> with :arrow_up:"))
    );

    assert_eq!(
        app.react(
            "reaction_added",
            "U0OTHER002",
            "rotating_light",
            (INTAKE_CHANNEL, &slack.first_card_ts()),
            "Ev2"
        )
        .await
        .status,
        200
    );
    assert_eq!(
        app.react(
            "reaction_added",
            "U0OTHER003",
            "+1",
            (INTAKE_CHANNEL, &slack.first_card_ts()),
            "Ev3"
        )
        .await
        .status,
        200
    );
    app.settle_events().await;
    let request = app.request_no(1).await;
    assert_eq!((request.severity.as_str(), request.demand), ("sev1", 1));
    let oncall: Vec<String> = slack
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.str("channel").as_deref() == Some(ONCALL_CHANNEL))
        .map(shown)
        .collect();
    assert_eq!(oncall.len(), 1, "on-call is paged once");
    assert!(oncall[0].contains(&format!("<!subteam^{ONCALL_GROUP}>")));
    let dms: Vec<String> = slack
        .calls_to("chat.postMessage")
        .iter()
        .filter(|c| c.str("channel").as_deref() == Some(SUBMITTER))
        .map(shown)
        .collect();
    assert!(
        dms.iter()
            .any(|m| m.contains("escalated your request") && m.contains("Critical")),
        "{dms:?}"
    );
    let card = shown(slack.calls_to("chat.update").last().expect("card updated"));
    assert!(
        card.contains("*Severity:* Critical") && card.contains("+1 other needs this"),
        "{card}"
    );

    // Slack retries the same events: nothing changes.
    let before = slack.calls().len();
    for id in ["Ev1", "Ev2", "Ev3"] {
        assert_eq!(
            app.react(
                "reaction_added",
                "U0OTHER001",
                "arrow_up",
                (INTAKE_CHANNEL, &slack.first_card_ts()),
                id
            )
            .await
            .status,
            200
        );
    }
    app.settle_events().await;
    assert_eq!(slack.calls().len(), before, "retries change nothing");
    let status = app.command_as("1", STRANGER).await.json()["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        status.matches("escalate").count(),
        2,
        "the history shows who escalated: {status}"
    );
}

#[tokio::test]
async fn one_person_escalates_once_per_level() {
    let (app, slack, _db) = low_request().await;
    app.react(
        "reaction_added",
        "U0OTHER001",
        "arrow_up",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev1",
    )
    .await;
    app.react(
        "reaction_removed",
        "U0OTHER001",
        "arrow_up",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev2",
    )
    .await;
    app.react(
        "reaction_added",
        "U0OTHER001",
        "arrow_up::skin-tone-3",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev3",
    )
    .await;
    app.settle_events().await;
    // Removing the reaction did not lower it; adding it again (cool-down) did not raise it.
    assert_eq!(app.request_no(1).await.severity.as_str(), "sev3");
    // Someone else's skin-toned arrow counts as the base emoji.
    app.react(
        "reaction_added",
        "U0OTHER002",
        "arrow_up::skin-tone-2",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev4",
    )
    .await;
    app.settle_events().await;
    assert_eq!(app.request_no(1).await.severity.as_str(), "sev2");
}

#[tokio::test]
async fn bots_unrelated_messages_and_other_emoji_do_nothing() {
    let (app, slack, _db) = low_request().await;
    let before = slack.calls().len();
    // The bot's own reaction (its user id is in the event's authorizations).
    app.react(
        "reaction_added",
        "U0INTAKE01",
        "arrow_up",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev1",
    )
    .await;
    // A message that is not a request.
    app.react(
        "reaction_added",
        "U0OTHER001",
        "arrow_up",
        (INTAKE_CHANNEL, "1732520000.000100"),
        "Ev2",
    )
    .await;
    // An emoji that is not an escalation.
    app.react(
        "reaction_added",
        "U0OTHER001",
        "tada",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev3",
    )
    .await;
    // A reaction on a file.
    let file = sample("events/reaction_added_file.json");
    assert_eq!(
        app.post_signed("/slack/events", "application/json", &file).await.status,
        200
    );
    app.settle_events().await;
    assert_eq!(app.request_no(1).await.severity.as_str(), "sev4");
    assert_eq!(slack.calls().len(), before);
}

#[tokio::test]
async fn reacting_to_a_closed_request_suggests_reopening() {
    let (app, slack, _db) = low_request().await;
    let reason = "This is a duplicate of #12, which is planned already.";
    assert_eq!(app.step("reject", 1, TRIAGER, &[("reason", reason)]).await.body, "");
    app.settle().await;
    app.react(
        "reaction_added",
        "U0OTHER001",
        "rotating_light",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev1",
    )
    .await;
    app.settle_events().await;
    assert_eq!(app.request_no(1).await.severity.as_str(), "sev4");
    let hint = slack.wait_for("chat.postEphemeral", 1).await;
    assert_eq!(hint[0].str("user").as_deref(), Some("U0OTHER001"));
    assert!(hint[0].str("text").unwrap().contains("reopen"));
}

#[tokio::test]
async fn the_cool_down_stops_one_person_raising_twice_in_a_row_and_says_why() {
    let (app, slack, _db) = low_request().await;
    app.react(
        "reaction_added",
        "U0OTHER001",
        "arrow_up",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev1",
    )
    .await;
    app.settle_events().await;
    assert_eq!(app.request_no(1).await.severity.as_str(), "sev3");
    app.react(
        "reaction_added",
        "U0OTHER001",
        "rotating_light",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev2",
    )
    .await;
    app.settle_events().await;
    assert_eq!(app.request_no(1).await.severity.as_str(), "sev3", "cooling down");
    let told = slack.wait_for("chat.postEphemeral", 1).await;
    assert_eq!(told[0].str("user").as_deref(), Some("U0OTHER001"));
    let text = told[0].str("text").unwrap_or_default();
    assert!(text.contains("escalated #1 a moment ago"), "{text}");
    assert!(slack.posts_to(ONCALL_CHANNEL).is_empty(), "on-call is not paged");
}

#[tokio::test]
async fn an_escalation_that_changes_nothing_tells_the_person_why() {
    let (app, slack, _db) = low_request().await;
    app.react(
        "reaction_added",
        "U0OTHER001",
        "rotating_light",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev1",
    )
    .await;
    app.settle_events().await;
    assert_eq!(app.request_no(1).await.severity.as_str(), "sev1");
    // Already the most severe: nothing to raise.
    app.react(
        "reaction_added",
        "U0OTHER002",
        "arrow_up",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev2",
    )
    .await;
    app.settle_events().await;
    let told = slack.wait_for("chat.postEphemeral", 1).await;
    assert_eq!(told[0].str("user").as_deref(), Some("U0OTHER002"));
    assert!(
        told[0].str("text").unwrap_or_default().contains("already Critical"),
        "{:?}",
        told[0].str("text")
    );
}

#[tokio::test]
async fn a_reaction_on_a_resolved_request_points_to_still_broken_and_pages_no_one() {
    let (app, slack, _db) = low_request().await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    assert_eq!(
        app.step("resolve", 1, TRIAGER, &[("note", "Fixed in 4.2")]).await.body,
        ""
    );
    app.settle().await;
    app.react(
        "reaction_added",
        "U0OTHER001",
        "rotating_light",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev1",
    )
    .await;
    app.settle_events().await;
    assert_eq!(app.request_no(1).await.severity.as_str(), "sev4");
    let hint = slack.wait_for("chat.postEphemeral", 1).await;
    let text = hint[0].str("text").unwrap_or_default();
    assert!(text.contains("Still broken"), "{text}");
    assert!(
        slack.posts_to(ONCALL_CHANNEL).is_empty(),
        "on-call is not paged for a resolved request"
    );
}

#[tokio::test]
async fn demand_counts_people_not_skin_tones() {
    let (app, slack, _db) = low_request().await;
    for (kind, emoji, id) in [
        ("reaction_added", "+1", "Ev1"),
        ("reaction_added", "+1::skin-tone-2", "Ev2"),
    ] {
        app.react(kind, "U0OTHER001", emoji, (INTAKE_CHANNEL, &slack.first_card_ts()), id)
            .await;
        app.settle_events().await;
    }
    assert_eq!(app.request_no(1).await.demand, 1, "one person, one vote");
    app.react(
        "reaction_removed",
        "U0OTHER001",
        "+1",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev3",
    )
    .await;
    app.settle_events().await;
    assert_eq!(app.request_no(1).await.demand, 1, "the other +1 still stands");
    app.react(
        "reaction_removed",
        "U0OTHER001",
        "+1::skin-tone-2",
        (INTAKE_CHANNEL, &slack.first_card_ts()),
        "Ev4",
    )
    .await;
    app.settle_events().await;
    assert_eq!(app.request_no(1).await.demand, 0);
}

#[tokio::test]
async fn a_reaction_that_arrives_before_the_card_is_recorded_still_counts() {
    let slack = FakeSlack::start().await;
    let now = chrono::Utc::now();
    slack.set_ts_base(now.timestamp() as u64);
    let db = TestDb::new().await;
    // No dispatcher and no worker: this test moves each of them by hand.
    let parts = Parts {
        dispatcher: false,
        scheduler: false,
    };
    let app = TestApp::start(test_config(&db, &slack), parts).await;
    let form = Form {
        severity: Some("sev4".into()),
        ..Form::default()
    };
    assert_eq!(app.submit(&form).await.status, 200);
    // Slack has posted the card (this is its ts) but intake has not yet
    // recorded where it went when someone reacts.
    let card_ts = format!("{}.000201", now.timestamp());
    let reply = app
        .react(
            "reaction_added",
            "U0OTHER001",
            "arrow_up",
            (INTAKE_CHANNEL, &card_ts),
            "Ev1",
        )
        .await;
    assert_eq!(reply.status, 200);
    let ctx = app.context();
    intake::service::reaction::process_pending(ctx, now).await.unwrap();
    intake::workers::dispatcher::Dispatcher::new(ctx).round().await.unwrap();
    let later = now + chrono::TimeDelta::seconds(30);
    intake::service::reaction::process_pending(ctx, later).await.unwrap();
    assert_eq!(
        app.request_no(1).await.severity.as_str(),
        "sev3",
        "the early reaction counted"
    );
}
