//! Teams (issue 17, first part): `[[teams]]` in config, and `/request who`
//! answering which team owns what a person describes, with its channel and
//! office hours.

use intake::config::file::RawTeam;
use testkit::*;

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
