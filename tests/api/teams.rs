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

fn posts_in(slack: &FakeSlack, channel: &str) -> Vec<String> {
    slack.posts_to(channel).iter().map(shown).collect()
}

#[tokio::test]
async fn a_request_goes_to_the_team_that_owns_its_area() {
    let (app, slack, _db) = spawn_app_with(two_teams).await;
    let critical_checkout = Form {
        severity: Some("sev1".into()),
        area: Some("Checkout".into()),
        title: Some("Card payments fail".into()),
        ..Form::default()
    };
    assert_eq!(app.submit(&critical_checkout).await.status, 200);
    app.settle().await;

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
        area: Some("Search".into()),
        ..Form::default()
    };
    assert_eq!(app.submit(&search).await.status, 200);
    app.settle().await;
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
    let form = Form {
        area: Some("Checkout".into()),
        ..Form::default()
    };
    assert_eq!(app.submit(&form).await.status, 200);
    app.settle().await;
    assert_eq!(posts_in(&slack, INTAKE_CHANNEL).len(), 1);
    let stored = requests::find(app.db(), RequestNumber(1))
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(stored.team, "default");
}
