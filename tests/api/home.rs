//! App Home (issue 15): opening the tab publishes the person's requests
//! and, for a triager, the queue with the card's controls; a click there
//! runs the same step; changes refresh the Homes of those involved, one
//! `views.publish` per person per burst.

use serde_json::Value;
use testkit::*;

/// The `views.publish` calls for `user`, oldest first.
fn homes_of(slack: &FakeSlack, user: &str) -> Vec<Value> {
    slack
        .calls_to("views.publish")
        .into_iter()
        .filter(|c| c.str("user_id").as_deref() == Some(user))
        .map(|c| c.params["view"].clone())
        .collect()
}

/// All the text a view shows, joined.
fn shown(view: &Value) -> String {
    let mut text = String::new();
    for block in view["blocks"].as_array().into_iter().flatten() {
        for path in ["/text/text", "/elements/0/text"] {
            if let Some(t) = block.pointer(path).and_then(Value::as_str) {
                text.push_str(t);
                text.push('\n');
            }
        }
    }
    text
}

/// The action ids in a view's controls for request `number`.
fn controls(view: &Value, number: i64) -> Vec<String> {
    view["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions" && b["block_id"] == format!("req:{number}"))
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["action_id"].as_str().map(str::to_owned))
        .collect()
}

async fn wait_for_home(slack: &FakeSlack, user: &str, n: usize) -> Value {
    for _ in 0..500 {
        let homes = homes_of(slack, user);
        if homes.len() >= n {
            return homes[n - 1].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!(
        "no {n} Home publish(es) for {user}: {:?}",
        slack.calls_to("views.publish")
    );
}

#[tokio::test]
async fn a_submitter_sees_their_requests_with_state_severity_deadline_and_a_link() {
    let (app, slack, _db) = spawn_with_request("sev2").await;
    let filed = homes_of(&slack, SUBMITTER).len();
    assert_eq!(app.open_home(SUBMITTER).await.status, 200);
    let home = wait_for_home(&slack, SUBMITTER, filed + 1).await;
    assert_eq!(home["type"], "home");
    let text = shown(&home);
    assert!(text.contains("My requests"), "{text}");
    assert!(text.contains("#1 Invoices render blank"), "{text}");
    assert!(text.contains("— new, High") && text.contains("triage due"), "{text}");
    let card = format!("archives/{INTAKE_CHANNEL}/p{}", slack.first_card_ts().replace('.', ""));
    assert!(text.contains(&card), "a link to the card: {text}");
    assert!(!text.contains("The queue"), "the queue is for triagers: {text}");
}

#[tokio::test]
async fn a_triager_works_the_queue_from_home_and_card_and_homes_follow() {
    let (app, slack, _db) = spawn_with_request("sev2").await;
    assert_eq!(app.open_home(TRIAGER).await.status, 200);
    let home = wait_for_home(&slack, TRIAGER, 1).await;
    let text = shown(&home);
    assert!(
        text.contains("The queue") && text.contains("Untriaged, oldest first* (1)"),
        "{text}"
    );
    assert!(controls(&home, 1).contains(&"take".to_string()), "the card's controls");

    let submitter_homes = homes_of(&slack, SUBMITTER).len();
    assert_eq!(app.click_in_home("take", 1, TRIAGER).await.status, 200);
    app.settle().await;
    assert_eq!(
        app.request_no(1).await.owner.as_deref(),
        Some(TRIAGER),
        "the same step ran"
    );
    let card = slack
        .calls_to("chat.update")
        .last()
        .cloned()
        .expect("the card was refreshed");
    assert!(
        card.params["text"].as_str().unwrap().contains("triaged"),
        "{:?}",
        card.params["text"]
    );
    let home = homes_of(&slack, TRIAGER).last().cloned().unwrap();
    let text = shown(&home);
    assert!(
        text.contains("Untriaged, oldest first* (0)") && text.contains("Mine* (1)"),
        "{text}"
    );
    assert!(
        homes_of(&slack, SUBMITTER).len() > submitter_homes,
        "the submitter's Home follows"
    );
}

#[tokio::test]
async fn a_burst_of_changes_publishes_each_home_once() {
    let slack = FakeSlack::start().await;
    let db = TestDb::new().await;
    let quiet = Parts {
        dispatcher: false,
        scheduler: false,
    };
    let mut first = TestApp::start(test_config(&db, &slack), quiet).await;
    assert_eq!(first.submit(&Form::default()).await.status, 200);
    assert_eq!(first.click("take", 1, TRIAGER).await.status, 200);
    assert_eq!(
        first.click_with("set_severity", 1, TRIAGER, Some("sev1")).await.status,
        200
    );
    assert_eq!(
        first.click_with("assign", 1, TRIAGER, Some(TRIAGER_2)).await.status,
        200
    );
    first.stop().await;

    let sender = TestApp::start(
        test_config(&db, &slack),
        Parts {
            dispatcher: true,
            scheduler: false,
        },
    )
    .await;
    sender.settle().await;
    for person in [SUBMITTER, TRIAGER, TRIAGER_2] {
        assert_eq!(homes_of(&slack, person).len(), 1, "{person}: one publish for the burst");
    }
    let home = &homes_of(&slack, SUBMITTER)[0];
    assert!(shown(home).contains("Critical"), "the latest state: {}", shown(home));
}

#[tokio::test]
async fn a_refused_click_in_home_is_explained_in_a_dm() {
    let (app, slack, _db) = spawn_with_request("sev2").await;
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    app.settle().await;
    // Taking it again from Home: refused, and Home has no channel to
    // whisper in, so the explanation comes as a DM.
    assert_eq!(app.click_in_home("take", 1, TRIAGER_2).await.status, 200);
    app.settle().await;
    let dms = slack.posts_to(TRIAGER_2);
    assert_eq!(dms.len(), 1, "{:?}", slack.calls());
    assert!(dms[0].str("text").unwrap().contains("#1"), "{:?}", dms[0].params);
    assert_eq!(slack.attempts_to("chat.postEphemeral"), 0);
}
