//! Teams (issue 17): `[[teams]]` in config; `/request who` answering which
//! team owns what a person describes; a request routed by its area to its
//! team's channel, on-call, SLA table and office hours.

use intake::config::file::{RawConfig, RawSeverity, RawTeam};
use intake::domain::request::RequestNumber;
use intake::store::requests;
use testkit::*;

const CORE_CHANNEL: &str = "C0CORE0001";
const PAYMENTS_CHANNEL: &str = "C0PAYMENT1";
const PAYMENTS_ONCALL: &str = "C0PAYONCL1";
const PAYMENTS_ONCALL_GROUP: &str = "S0PAYONCL1";
const PAYMENTS_TRIAGER: &str = "U0PAYTRIA1";

fn team(key: &str, name: &str, channel: &str, areas: &[&str], hours: &str) -> RawTeam {
    RawTeam {
        key: key.into(),
        name: name.into(),
        channel: channel.into(),
        areas: areas.iter().map(|a| a.to_string()).collect(),
        office_hours: hours.into(),
        triagers: vec![TRIAGER.into()],
        ..RawTeam::default()
    }
}

async fn who(app: &TestApp, words: &str) -> String {
    let response = app.slash_command(&format!("who {words}")).await;
    assert_eq!(response.status, 200);
    let body = response.json();
    assert_eq!(body["response_type"], "ephemeral", "only the asker sees it");
    body["text"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn who_names_the_team_that_owns_the_area_with_its_channel_and_hours() {
    let (app, _slack, _db) = spawn_app_with(|config| {
        config.teams = vec![
            team("core", "Core", "C0CORE0001", &["Accounts", "Search"], ""),
            team(
                "payments",
                "Payments",
                "C0PAYMENT1",
                &["Checkout", "Invoices & receipts"],
                "Payments office hours: Thursdays 10:00 UTC",
            ),
        ];
    })
    .await;
    let text = who(&app, "invoice PDFs are blank").await;
    assert!(
        text.contains("*Invoices &amp; receipts* is owned by *Payments*: file with `/request` in <#C0PAYMENT1>."),
        "{text}"
    );
    assert!(text.contains("Payments office hours: Thursdays 10:00 UTC"), "{text}");
    assert!(!text.contains("Core"), "{text}");

    let nothing = who(&app, "the <!channel> weather").await;
    assert!(nothing.contains("No team lists an area matching"), "{nothing}");
    assert!(
        nothing.contains("&lt;!channel&gt;"),
        "user words are escaped: {nothing}"
    );
    assert!(
        nothing.contains("*Core* (Accounts, Search)")
            && nothing.contains("*Payments* (Checkout, Invoices &amp; receipts)"),
        "every team and its areas: {nothing}"
    );
}

#[tokio::test]
async fn without_teams_the_product_team_owns_the_configured_areas() {
    let (app, _slack, _db) = spawn_app().await;
    let text = who(&app, "search results").await;
    assert!(text.contains("*Search* is owned by *Product*"), "{text}");
    let asked_nothing = who(&app, "").await;
    assert!(asked_nothing.contains("Tell me what it is about"), "{asked_nothing}");
}

/// Core (the default team, owning Accounts and Search) and Payments (its
/// own on-call, triager, office hours and a 10-minute Critical response).
fn two_teams(config: &mut RawConfig) {
    let mut payments = team(
        "payments",
        "Payments",
        PAYMENTS_CHANNEL,
        &["Checkout", "Billing"],
        "Thursdays 10:00 UTC",
    );
    payments.oncall_channel = PAYMENTS_ONCALL.into();
    payments.oncall_usergroup = PAYMENTS_ONCALL_GROUP.into();
    payments.triagers = vec![PAYMENTS_TRIAGER.into()];
    let critical = config.severities.iter().find(|s| s.key == "sev1").expect("sev1");
    payments.severities = vec![RawSeverity {
        response: "10m".into(),
        ..critical.clone()
    }];
    config.teams = vec![
        team("core", "Core", CORE_CHANNEL, &["Accounts", "Search"], ""),
        payments,
    ];
}

/// The default form with `area` picked.
fn in_area(area: &str) -> Form {
    Form {
        area: Some(area.into()),
        ..Form::default()
    }
}

/// Files `form` and waits until the messages it causes are sent.
async fn file(app: &TestApp, form: Form) {
    assert_eq!(app.submit(&form).await.status, 200);
    app.settle().await;
}

fn posts_in(slack: &FakeSlack, channel: &str) -> Vec<String> {
    slack.posts_to(channel).iter().map(shown).collect()
}

#[tokio::test]
async fn a_request_goes_to_the_team_that_owns_its_area() {
    let (app, slack, _db) = spawn_app_with(two_teams).await;
    let critical_checkout = Form {
        severity: Some("sev1".into()),
        title: Some("Card payments fail".into()),
        ..in_area("Checkout")
    };
    file(&app, critical_checkout).await;

    let card = posts_in(&slack, PAYMENTS_CHANNEL);
    assert_eq!(card.len(), 1, "the card is in Payments' channel");
    assert!(card[0].contains("#1 Card payments fail"), "{}", card[0]);
    let page = posts_in(&slack, PAYMENTS_ONCALL);
    assert_eq!(page.len(), 1, "Payments' on-call is paged");
    assert!(
        page[0].contains(&format!("<!subteam^{PAYMENTS_ONCALL_GROUP}>")),
        "{}",
        page[0]
    );
    for elsewhere in [CORE_CHANNEL, INTAKE_CHANNEL, ONCALL_CHANNEL] {
        assert!(posts_in(&slack, elsewhere).is_empty(), "nothing in {elsewhere}");
    }
    let receipt = posts_in(&slack, SUBMITTER);
    assert!(
        receipt[0].contains("*Team:* Payments (<#C0PAYMENT1>). Office hours: Thursdays 10:00 UTC."),
        "the receipt names the team and its office hours: {}",
        receipt[0]
    );

    let filed = app.request_no(1).await;
    assert_eq!(filed.team, "payments");
    assert_eq!(
        filed.deadlines.response_due - filed.created_at,
        chrono::TimeDelta::minutes(10),
        "Payments' own Critical response time"
    );

    // An area of the default team goes to its channel, under the global table.
    let search = Form {
        severity: Some("sev1".into()),
        ..in_area("Search")
    };
    file(&app, search).await;
    assert_eq!(posts_in(&slack, CORE_CHANNEL).len(), 1);
    let core = app.request_no(2).await;
    assert_eq!(core.team, "core");
    assert_eq!(
        core.deadlines.response_due - core.created_at,
        chrono::TimeDelta::minutes(30)
    );
    // Core has no on-call channel of its own: the global one is paged.
    assert_eq!(posts_in(&slack, ONCALL_CHANNEL).len(), 1);
}

#[tokio::test]
async fn the_form_groups_areas_by_team_and_a_team_channel_preselects_its_own() {
    let (app, slack, _db) = spawn_app_with(two_teams).await;
    let area_of = |call: &Call| {
        let blocks = call.params["view"]["blocks"].as_array().expect("blocks").clone();
        blocks
            .into_iter()
            .find(|b| b["block_id"] == "area")
            .expect("area block")["element"]
            .clone()
    };

    assert_eq!(app.command_in("", ("C0GENERAL1", "general")).await.status, 200);
    let opened = slack.wait_for("views.open", 1).await;
    let area = area_of(&opened[0]);
    let groups: Vec<(String, Vec<String>)> = area["option_groups"]
        .as_array()
        .expect("option groups")
        .iter()
        .map(|g| {
            let areas = g["options"].as_array().unwrap().iter();
            (
                g["label"]["text"].as_str().unwrap().to_string(),
                areas.map(|o| o["value"].as_str().unwrap().to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("Core".to_string(), vec!["Accounts".to_string(), "Search".to_string()]),
            (
                "Payments".to_string(),
                vec!["Checkout".to_string(), "Billing".to_string()]
            ),
        ]
    );
    assert!(area.get("initial_option").is_none(), "nothing preselected elsewhere");

    // Slack gives the channel's id and name; either may be configured.
    assert_eq!(
        app.command_in("", (PAYMENTS_CHANNEL, "payments-intake")).await.status,
        200
    );
    let opened = slack.wait_for("views.open", 2).await;
    assert_eq!(area_of(&opened[1])["initial_option"]["value"], "Checkout");
}

#[tokio::test]
async fn without_teams_requests_belong_to_the_default_team() {
    let (app, slack, _db) = spawn_app().await;
    file(&app, in_area("Checkout")).await;
    assert_eq!(posts_in(&slack, INTAKE_CHANNEL).len(), 1);
    let stored = requests::find(app.db(), RequestNumber(1))
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.team, "default");
}

/// Request #1 filed in Payments' area Checkout (High), its messages sent.
async fn filed_for_payments() -> (TestApp, FakeSlack, TestDb) {
    let (app, slack, db) = spawn_app_with(two_teams).await;
    file(&app, in_area("Checkout")).await;
    (app, slack, db)
}

#[tokio::test]
async fn a_triager_of_another_team_is_told_whose_request_it_is() {
    let (app, slack, _db) = filed_for_payments().await;
    // TRIAGER triages Core, not Payments.
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    app.settle().await;
    let told = slack.wait_for("chat.postEphemeral", 1).await;
    assert_eq!(told[0].str("user").as_deref(), Some(TRIAGER));
    let text = told[0].str("text").unwrap_or_default();
    assert!(text.contains("#1 belongs to Payments; ask in <#C0PAYMENT1>."), "{text}");
    assert!(app.request_no(1).await.owner.is_none(), "nothing changed");

    // Payments' own triager may.
    assert_eq!(app.click("take", 1, PAYMENTS_TRIAGER).await.status, 200);
    app.settle().await;
    assert_eq!(app.request_no(1).await.owner.as_deref(), Some(PAYMENTS_TRIAGER));
}

#[tokio::test]
async fn a_request_moved_to_another_team_follows_its_rules_and_everyone_is_told() {
    let (app, slack, _db) = filed_for_payments().await;
    let filed = app.request_no(1).await;
    let old_card = requests::intake_message(app.db(), RequestNumber(1))
        .await
        .unwrap()
        .expect("card");
    let old_card_ts = old_card.ts;
    // Core's card offers Payments' select and vice versa.
    let card = shown(&slack.posts_to(PAYMENTS_CHANNEL)[0]);
    assert!(
        card.contains("Move to team…") && card.contains("\"value\":\"core\""),
        "{card}"
    );

    // A triager of another team may not move it; Payments' triager may.
    assert_eq!(app.click_with("move_team", 1, TRIAGER, Some("core")).await.status, 200);
    app.settle().await;
    assert_eq!(app.request_no(1).await.team, "payments");
    assert_eq!(
        app.click_with("move_team", 1, PAYMENTS_TRIAGER, Some("core"))
            .await
            .status,
        200
    );
    app.settle().await;

    let moved = app.request_no(1).await;
    assert_eq!(moved.team, "core");
    // High is the same in both tables, so the deadlines stay where they were
    // (time used kept); the new card is in Core's channel.
    assert_eq!(moved.deadlines, filed.deadlines);
    let core_cards = posts_in(&slack, CORE_CHANNEL);
    assert_eq!(core_cards.len(), 1, "the card is posted in Core's channel");
    assert!(core_cards[0].contains("#1 Invoices render blank"), "{}", core_cards[0]);
    let message = requests::intake_message(app.db(), RequestNumber(1))
        .await
        .unwrap()
        .expect("new address");
    assert_eq!(
        message.channel, CORE_CHANNEL,
        "reactions and refreshes follow the new card"
    );

    let updates = slack.calls_to("chat.update");
    let old = updates
        .iter()
        .rfind(|u| u.str("ts").as_deref() == Some(old_card_ts.as_str()))
        .expect("the old card is updated");
    assert_eq!(old.str("channel").as_deref(), Some(PAYMENTS_CHANNEL));
    let old = shown(old);
    assert!(
        old.contains("was moved to *Core* by <@U0PAYTRIA1>: follow it in <#C0CORE0001>"),
        "{old}"
    );
    assert!(!old.contains("\"actions\""), "no controls left on the old card: {old}");

    let dms = posts_in(&slack, SUBMITTER);
    let told = dms.last().expect("the submitter is told");
    assert!(
        told.contains("moved your request *#1 Invoices render blank* to *Core*") && told.contains("<#C0CORE0001>"),
        "{told}"
    );

    // Now Core triages it.
    assert_eq!(app.click("take", 1, TRIAGER).await.status, 200);
    app.settle().await;
    assert_eq!(app.request_no(1).await.owner.as_deref(), Some(TRIAGER));
}

#[tokio::test]
async fn moving_a_critical_request_puts_it_under_the_new_teams_sla_from_filing() {
    let (app, slack, _db) = spawn_app_with(two_teams).await;
    // Filed in Core's area: Critical answers in 30 minutes there.
    let form = Form {
        severity: Some("sev1".into()),
        ..in_area("Search")
    };
    file(&app, form).await;
    let filed = app.request_no(1).await;
    assert_eq!(
        app.click_with("move_team", 1, TRIAGER, Some("payments")).await.status,
        200
    );
    app.settle().await;
    let moved = app.request_no(1).await;
    let told: Vec<String> = slack.calls_to("chat.postEphemeral").iter().map(shown).collect();
    assert_eq!(moved.team, "payments", "{told:?}");
    // Payments answers Critical in 10 minutes, counted from the filing.
    let shortened = (filed.deadlines.response_due - moved.deadlines.response_due).num_seconds();
    assert!(
        (20 * 60 - 5..=20 * 60).contains(&shortened),
        "20 minutes sooner, less the seconds between filing and the move: {shortened}s"
    );
    assert_eq!(posts_in(&slack, PAYMENTS_CHANNEL).len(), 1);
}

#[tokio::test]
async fn app_home_shows_a_triager_the_queue_of_their_own_teams() {
    let (app, slack, _db) = filed_for_payments().await;
    let search = Form {
        title: Some("Search is slow".into()),
        ..in_area("Search")
    };
    file(&app, search).await;
    let home_of = |user: &str| {
        let calls = slack.calls_to("views.publish");
        let last = calls
            .iter()
            .rev()
            .find(|c| c.str("user_id").as_deref() == Some(user))
            .expect("a published Home");
        last.params["view"].to_string()
    };
    assert_eq!(app.open_home(TRIAGER).await.status, 200);
    app.settle().await;
    let core = home_of(TRIAGER);
    assert!(
        core.contains("Search is slow") && !core.contains("Invoices render blank"),
        "{core}"
    );
    assert_eq!(app.open_home(PAYMENTS_TRIAGER).await.status, 200);
    app.settle().await;
    let payments = home_of(PAYMENTS_TRIAGER);
    assert!(
        payments.contains("Invoices render blank") && !payments.contains("Search is slow"),
        "{payments}"
    );
}

#[tokio::test]
async fn each_team_gets_its_digest_and_the_digest_channel_a_line_per_team() {
    const PAYMENTS_DIGEST: &str = "C0PAYDIGE1";
    let (app, _slack, _db) = spawn_app_with(|config| {
        two_teams(config);
        config.teams[1].digest_channel = PAYMENTS_DIGEST.into();
        config.channels.digest = "C0DIGEST01".into();
    })
    .await;
    for area in ["Checkout", "Billing", "Search"] {
        file(&app, in_area(area)).await;
    }
    let messages = intake::service::scheduled::manual_digest(app.context(), chrono::Utc::now())
        .await
        .unwrap();
    let channels: Vec<&str> = messages
        .iter()
        .map(|m| m.payload["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, [PAYMENTS_DIGEST, "C0DIGEST01"], "Core has no digest channel");
    let payments = messages[0].payload.to_string();
    assert!(
        payments.contains("Payments intake digest") && payments.contains("*2* new"),
        "{payments}"
    );
    let global = messages[1].payload.to_string();
    assert!(
        global.contains("*Core* (<#C0CORE0001>): 1 open, 0 breached, median time to triage –"),
        "{global}"
    );
    assert!(
        global.contains("*Payments* (<#C0PAYMENT1>): 2 open, 0 breached"),
        "{global}"
    );
}
