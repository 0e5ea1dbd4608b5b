//! `/request` → modal → submit → stored → intake post → receipt DM, and the
//! on-call off-ramp, against the fake Slack and a real database.

use intake::domain::request::RequestNumber;
use intake::store::outbox;
use intake::store::requests;
use testkit::*;

#[tokio::test]
async fn slash_command_opens_the_form_with_the_title_prefilled() {
    let (app, slack, _db) = spawn_app().await;
    let response = app.slash_command("checkout page times out").await;
    assert_eq!(response.status, 200, "{}", response.body);
    let opened = slack.wait_for("views.open", 1).await;
    let call = &opened[0];
    assert_eq!(call.str("trigger_id").as_deref(), Some("1337.42.abcdef0123456789"));
    assert_eq!(
        call.authorization.as_deref(),
        Some(format!("Bearer {BOT_TOKEN}").as_str())
    );
    let view = &call.params["view"];
    assert_eq!(view["callback_id"], "new_request");
    let blocks = view["blocks"].as_array().expect("blocks");
    let title = blocks.iter().find(|b| b["block_id"] == "title").expect("title block");
    assert_eq!(title["element"]["initial_value"], "checkout page times out");
    let severity = blocks
        .iter()
        .find(|b| b["block_id"] == "severity")
        .expect("severity block");
    let labels: Vec<&str> = severity["element"]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["text"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "Critical — triage within 30 minutes",
            "High — triage within 4 business hours",
            "Medium — triage within 1 business day",
            "Low — triage within 3 business days",
        ]
    );
}

#[tokio::test]
async fn request_help_lists_severities_without_opening_a_form() {
    let (app, slack, _db) = spawn_app().await;
    let response = app.slash_command("help").await;
    assert_eq!(response.status, 200);
    let reply = response.json();
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .contains("*High*: triage within 4 business hours")
    );
    assert_eq!(slack.attempts_to("views.open"), 0);
}

#[tokio::test]
async fn views_open_failure_tells_the_person_what_to_do() {
    let (app, slack, _db) = spawn_app().await;
    slack.fail_next("views.open", Failure::SlackError("expired_trigger_id".into()), 1);
    let response = app.slash_command("").await;
    assert_eq!(response.status, 200);
    let text = response.json()["text"].as_str().unwrap().to_string();
    // What to do, not Slack's error code (that goes to the log).
    assert!(
        !text.contains("expired_trigger_id") && text.contains("run `/request` again"),
        "{text}"
    );
}

#[tokio::test]
async fn a_submitted_request_is_stored_posted_to_intake_and_acknowledged_by_dm() {
    let (app, slack, _db) = spawn_app().await;
    let response = app.submit(&Form::default()).await;
    assert_eq!(
        (response.status, response.body.as_str()),
        (200, ""),
        "an empty 200 closes the modal"
    );

    let posts = slack.wait_for("chat.postMessage", 2).await;
    let intake = &posts[0];
    assert_eq!(intake.str("channel").as_deref(), Some(INTAKE_CHANNEL));
    let card = shown(intake);
    for expected in [
        "#1 Invoices render blank",
        "Bug",
        "High",
        "<@U0SUBMIT01>",
        "new",
        "Since Monday every invoice",
    ] {
        assert!(card.contains(expected), "intake post lacks {expected:?}: {card}");
    }
    assert!(card.contains("https://status.example.com/incidents/7781"));

    let dm = &posts[1];
    assert_eq!(
        dm.str("channel").as_deref(),
        Some(SUBMITTER),
        "the receipt is a DM to the submitter"
    );
    let receipt = shown(dm);
    assert!(receipt.contains("#1 Invoices render blank"), "{receipt}");
    assert!(
        receipt.contains("triage within 4 business hours, resolution within 3 business days"),
        "{receipt}"
    );
    let permalink = slack.wait_for("chat.getPermalink", 1).await;
    assert_eq!(permalink[0].str("channel").as_deref(), Some(INTAKE_CHANNEL));
    assert!(
        receipt.contains("https://acme-eng.slack.com/archives/C0INTAKE01/p"),
        "receipt links the post: {receipt}"
    );

    // The intake message's address is kept for in-place updates and reactions.
    let db = app.db();
    let request = requests::find(db, RequestNumber(1)).await.unwrap().expect("stored");
    assert_eq!(request.state.as_str(), "new");
    assert_eq!(request.severity.as_str(), "sev2");
    assert!(request.deadlines.response_due > request.created_at);
    assert!(request.deadlines.resolution_due > request.deadlines.response_due);
    let message = requests::intake_message(db, RequestNumber(1))
        .await
        .unwrap()
        .expect("intake message");
    assert_eq!(message.channel, INTAKE_CHANNEL);
    assert_eq!(message.ts, slack.first_card_ts(), "the ts Slack answered");
    assert_eq!(
        slack.calls_to("chat.postMessage").len(),
        2,
        "nothing else was posted (no on-call for High)"
    );
}

#[tokio::test]
async fn critical_requests_take_the_oncall_off_ramp_mentioning_the_group() {
    let (app, slack, _db) = spawn_app().await;
    let form = Form {
        severity: Some("sev1".into()),
        title: Some("Checkout is down".into()),
        ..Form::default()
    };
    assert_eq!(app.submit(&form).await.status, 200);
    let posts = slack.wait_for("chat.postMessage", 3).await;
    let oncall = posts
        .iter()
        .find(|c| c.str("channel").as_deref() == Some(ONCALL_CHANNEL))
        .expect("on-call post");
    let text = shown(oncall);
    assert!(text.contains(&format!("<!subteam^{ONCALL_GROUP}>")), "{text}");
    assert!(text.contains("Checkout is down"), "{text}");
    assert!(
        text.contains("https://acme-eng.slack.com/archives/C0INTAKE01/p"),
        "links the intake post: {text}"
    );
}

#[tokio::test]
async fn a_modal_submitted_twice_files_one_request() {
    let (app, slack, _db) = spawn_app().await;
    let form = Form::default();
    for _ in 0..2 {
        let answer = app.submit(&form).await;
        assert_eq!(answer.status, 200);
        // A plain ack closes the modal; a body would show the person an error.
        assert_eq!(answer.body, "", "the second submission is acknowledged like the first");
    }
    slack.wait_for("chat.postMessage", 2).await;
    assert_eq!(requests::count(app.db()).await.unwrap(), 1);
    let messages = outbox::for_request(app.db(), RequestNumber(1)).await.unwrap();
    assert_eq!(messages.len(), 2, "one intake post and one receipt");
}

#[tokio::test]
async fn user_text_never_pings_anyone() {
    let (app, slack, _db) = spawn_app().await;
    let form = Form {
        title: Some("<!channel> checkout & <@U0OTHER001>".into()),
        description: Some("<!here> see <https://evil.example|this> & <!everyone> <#C0GENERAL1>".into()),
        area: Some("<!subteam^S0123ABC>".into()),
        severity: Some("sev1".into()),
        ..Form::default()
    };
    assert_eq!(app.submit(&form).await.status, 200);
    let posts = slack.wait_for("chat.postMessage", 3).await;
    for post in &posts {
        let text = shown(post);
        for mention in [
            "<!channel>",
            "<@U0OTHER001>",
            "<!here>",
            "<!everyone>",
            "<#C0GENERAL1>",
            "<!subteam^S0123ABC>",
            "<https://evil",
        ] {
            assert!(!text.contains(mention), "{mention} reached Slack unescaped: {text}");
        }
        assert!(
            text.contains("&lt;!channel&gt; checkout &amp; &lt;@U0OTHER001&gt;"),
            "{text}"
        );
        // The top-level notification text is escaped too.
        assert!(!post.str("text").unwrap_or_default().contains("<!channel>"));
    }
    let intake = shown(&posts[0]);
    assert!(
        intake.contains("&lt;!here&gt;") && intake.contains("&lt;!subteam^S0123ABC&gt;"),
        "{intake}"
    );
}

#[tokio::test]
async fn text_that_looks_like_a_placeholder_is_just_text() {
    let (app, slack, _db) = spawn_app().await;
    let form = Form {
        title: Some("{{intake_ts}} <intake:ts> <intake:link>".into()),
        description: Some("<intake:channel> {{intake_link}}".into()),
        ..Form::default()
    };
    assert_eq!(app.submit(&form).await.status, 200);
    let posts = slack.wait_for("chat.postMessage", 2).await;
    app.settle().await;
    let intake = shown(&posts[0]);
    assert!(
        intake.contains("{{intake_ts}} &lt;intake:ts&gt; &lt;intake:link&gt;"),
        "{intake}"
    );
    assert_eq!(
        intake::store::outbox::counts(app.db()).await.unwrap(),
        (0, 3, 0),
        "nothing died (the card, the receipt, the submitter's Home)"
    );
}

/// A burst of submissions is stored together (group commit): each person
/// gets their own request and messages exactly once, and a modal sent twice
/// inside the same burst still files once.
#[tokio::test]
async fn a_burst_of_submissions_files_each_once() {
    let (app, slack, _db) = spawn_app().await;
    let forms: Vec<Form> = (0..12)
        .map(|n| Form {
            title: Some(format!("Burst request {n:02}")),
            ..Form::default()
        })
        .collect();
    let twice = forms[0].clone();
    let answers =
        futures_util::future::join_all(forms.iter().chain(std::iter::once(&twice)).map(|form| app.submit(form))).await;
    for answer in &answers {
        assert_eq!((answer.status, answer.body.as_str()), (200, ""));
    }
    assert_eq!(requests::count(app.db()).await.unwrap(), 12);
    let posts = slack.wait_for("chat.postMessage", 24).await;
    app.settle().await;
    assert_eq!(
        slack.calls_to("chat.postMessage").len(),
        24,
        "an intake post and a receipt each"
    );
    for n in 0..12 {
        let title = format!("Burst request {n:02}");
        let about = posts.iter().filter(|p| shown(p).contains(&title)).count();
        assert_eq!(about, 2, "{title}: one intake post and one receipt");
    }
}

#[tokio::test]
async fn a_long_slash_command_text_lands_in_the_description_instead_of_being_cut() {
    let (app, slack, _db) = spawn_app().await;
    let words = "checkout times out for customers paying with saved cards ".repeat(4)
        + "and the retry button then charges them twice, which support sees daily";
    assert!(words.chars().count() > 150);
    assert_eq!(app.slash_command(&words).await.status, 200);
    let opened = slack.wait_for("views.open", 1).await;
    let blocks = opened[0].params["view"]["blocks"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let initial = |block: &str| {
        blocks
            .iter()
            .find(|b| b["block_id"] == block)
            .and_then(|b| b["element"]["initial_value"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    let title = initial("title");
    assert!(
        title.chars().count() <= 150 && title.starts_with("checkout times out"),
        "{title}"
    );
    let description = initial("description");
    assert!(
        description.contains("charges them twice, which support sees daily"),
        "{description}"
    );
}

#[tokio::test]
async fn a_link_that_would_not_fit_once_escaped_is_a_field_error_not_a_dead_card() {
    let (app, slack, _db) = spawn_app().await;
    let link = format!("https://x.io/?{}", "&".repeat(986));
    let reply = app
        .submit(&Form {
            link: Some(link),
            ..Form::default()
        })
        .await
        .json();
    assert_eq!(reply["response_action"], "errors", "{reply}");
    assert!(
        reply["errors"]["link"]
            .as_str()
            .unwrap_or_default()
            .contains("too long"),
        "{reply}"
    );
    let description = "Q&A <beta> ".repeat(270);
    let reply = app
        .submit(&Form {
            description: Some(description),
            ..Form::default()
        })
        .await
        .json();
    assert!(
        reply["errors"]["description"]
            .as_str()
            .unwrap_or_default()
            .contains("too long"),
        "{reply}"
    );
    assert_eq!(slack.calls_to("chat.postMessage").len(), 0, "nothing was filed");
}
