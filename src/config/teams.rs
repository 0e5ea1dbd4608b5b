//! `[[teams]]`: the teams that share one front door, each with its intake
//! channel, triagers, areas and SLA overrides. With none configured, one
//! team is built from the single-team keys (`channels.*`, `triage.*`,
//! `intake.areas`), so existing configurations keep working.

use std::collections::BTreeMap;

use super::file::{RawConfig, RawSeverity, RawTeam};
use super::{ChannelRef, ConfigError, check_areas, invalid, optional_id, severities, slack_id};
use crate::domain::severity::Severities;
use crate::domain::team::{Team, Teams};

/// The key of the team built from the single-team keys.
pub const DEFAULT_TEAM: &str = "default";

pub fn validate(raw: &RawConfig, global: &Severities) -> Result<Teams, ConfigError> {
    let teams = match raw.teams.is_empty() {
        true => vec![single_team(raw, global)?],
        false => {
            let mut teams: Vec<Team> = Vec::with_capacity(raw.teams.len());
            let mut owners: BTreeMap<String, (usize, String)> = BTreeMap::new();
            for (i, entry) in raw.teams.iter().enumerate() {
                let team = team(i, entry, &raw.severities)?;
                if let Some(j) = teams.iter().position(|t| t.key == team.key) {
                    return Err(invalid(
                        format!("teams[{i}].key"),
                        format!("{:?} is already the key of teams[{j}]", team.key),
                    ));
                }
                for area in &team.areas {
                    if let Some((j, owner)) = owners.get(&area.to_lowercase()) {
                        return Err(invalid(
                            format!("teams[{i}].areas"),
                            format!("{area:?} is already owned by team {owner} (teams[{j}]): an area has one owner"),
                        ));
                    }
                    owners.insert(area.to_lowercase(), (i, team.key.clone()));
                }
                teams.push(team);
            }
            teams
        }
    };
    Teams::new(teams).ok_or_else(|| invalid("teams", "needs at least one team"))
}

/// The one team of a configuration without `[[teams]]`.
fn single_team(raw: &RawConfig, global: &Severities) -> Result<Team, ConfigError> {
    Ok(Team {
        key: DEFAULT_TEAM.to_string(),
        name: "Product".to_string(),
        channel: ChannelRef::parse("channels.intake", &raw.channels.intake)?
            .as_str()
            .to_string(),
        oncall_channel: Some(
            ChannelRef::parse("channels.oncall", &raw.channels.oncall)?
                .as_str()
                .to_string(),
        ),
        oncall_usergroup: optional_id("oncall.usergroup", &raw.oncall.usergroup, &['S'], "user group")?,
        digest_channel: Some(
            ChannelRef::parse("channels.digest", &raw.channels.digest)?
                .as_str()
                .to_string(),
        ),
        triagers: users("triage.triagers", &raw.triage.triagers)?,
        usergroup: optional_id("triage.usergroup", &raw.triage.usergroup, &['S'], "user group")?,
        office_hours: raw.triage.office_hours.trim().to_string(),
        areas: areas(&raw.intake.areas),
        severities: global.clone(),
    })
}

fn team(i: usize, raw: &RawTeam, global: &[RawSeverity]) -> Result<Team, ConfigError> {
    let at = |field: &str| format!("teams[{i}].{field}");
    let key = raw.key.trim();
    let key_ok = !key.is_empty()
        && key.len() <= 32
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !key_ok {
        return Err(invalid(
            at("key"),
            format!("{key:?} must be 1 to 32 lowercase letters, digits, - or _"),
        ));
    }
    if raw.channel.trim().is_empty() {
        return Err(invalid(at("channel"), "is required: the team's intake channel"));
    }
    check_areas(&at("areas"), &raw.areas)?;
    let channel = |field: &str, value: &str| -> Result<Option<String>, ConfigError> {
        match value.trim() {
            "" => Ok(None),
            value => ChannelRef::parse(&at(field), value).map(|c| Some(c.as_str().to_string())),
        }
    };
    Ok(Team {
        key: key.to_string(),
        name: Some(raw.name.trim())
            .filter(|n| !n.is_empty())
            .unwrap_or(key)
            .to_string(),
        channel: ChannelRef::parse(&at("channel"), &raw.channel)?.as_str().to_string(),
        oncall_channel: channel("oncall_channel", &raw.oncall_channel)?,
        oncall_usergroup: optional_id(&at("oncall_usergroup"), &raw.oncall_usergroup, &['S'], "user group")?,
        digest_channel: channel("digest_channel", &raw.digest_channel)?,
        triagers: users(&at("triagers"), &raw.triagers)?,
        usergroup: optional_id(&at("usergroup"), &raw.usergroup, &['S'], "user group")?,
        office_hours: raw.office_hours.trim().to_string(),
        areas: areas(&raw.areas),
        severities: overridden(i, &raw.severities, global)?,
    })
}

/// The global table with the team's entries replacing those of the same key.
fn overridden(i: usize, overrides: &[RawSeverity], global: &[RawSeverity]) -> Result<Severities, ConfigError> {
    let prefix = format!("teams[{i}].severities");
    // Each override on its own first, so a mistake names its own key.
    if !overrides.is_empty() {
        severities(&prefix, overrides)?;
    }
    for (j, entry) in overrides.iter().enumerate() {
        if !global.iter().any(|g| g.key == entry.key) {
            return Err(invalid(
                format!("{prefix}[{j}].key"),
                format!(
                    "{:?} is not a configured severity (one of {}): a team overrides the global table's severities",
                    entry.key,
                    global.iter().map(|g| g.key.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    let merged: Vec<RawSeverity> = global
        .iter()
        .map(|g| overrides.iter().find(|o| o.key == g.key).unwrap_or(g).clone())
        .collect();
    severities(&prefix, &merged)
}

fn users(key: &str, values: &[String]) -> Result<Vec<String>, ConfigError> {
    values
        .iter()
        .enumerate()
        .map(|(i, u)| slack_id(&format!("{key}[{i}]"), u, &['U', 'W'], "user"))
        .collect()
}

fn areas(values: &[String]) -> Vec<String> {
    values
        .iter()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::Settings;
    use super::super::file::load_raw;
    use super::*;

    fn raw_with(teams: Vec<RawTeam>) -> RawConfig {
        let env: HashMap<String, String> = [("SLACK_BOT_TOKEN", "xoxb-t"), ("SLACK_SIGNING_SECRET", "s")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut raw = load_raw(None, &env).expect("defaults load");
        raw.teams = teams;
        raw
    }

    fn team(key: &str, channel: &str, areas: &[&str]) -> RawTeam {
        RawTeam {
            key: key.into(),
            name: key.to_uppercase(),
            channel: channel.into(),
            areas: areas.iter().map(|a| a.to_string()).collect(),
            ..RawTeam::default()
        }
    }

    fn error(teams: Vec<RawTeam>) -> String {
        match Settings::validate(raw_with(teams)) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("should be refused"),
        }
    }

    #[test]
    fn without_teams_one_team_is_built_from_the_single_team_keys() {
        let settings = Settings::validate(raw_with(vec![])).expect("valid");
        let only = settings.teams.default_team();
        assert_eq!(only.key, DEFAULT_TEAM);
        assert_eq!(only.channel, "#product-intake");
        assert_eq!(only.areas, ["Checkout", "Search", "Accounts", "Billing", "Other"]);
        assert_eq!(settings.teams.all().len(), 1);
    }

    #[test]
    fn teams_own_their_areas_and_override_severities() {
        let mut payments = team("payments", "C0PAYMENT1", &["Checkout", "Billing"]);
        payments.severities = vec![RawSeverity {
            key: "sev1".into(),
            label: "Payments down".into(),
            response: "15m".into(),
            resolution: "4h".into(),
            clock: "wall".into(),
            oncall: true,
        }];
        let settings =
            Settings::validate(raw_with(vec![team("core", "#core-intake", &["Search"]), payments])).expect("valid");
        let teams = &settings.teams;
        assert_eq!(teams.owner_of("billing").map(|t| t.key.as_str()), Some("payments"));
        let sev1 = teams.get("payments").unwrap().severities.get("sev1").unwrap();
        assert_eq!(sev1.label, "Payments down");
        assert_eq!(
            teams.get("payments").unwrap().severities.keys(),
            settings.policy.severities.keys(),
            "the rest of the table is the global one"
        );
        assert_eq!(
            teams.get("core").unwrap().severities.get("sev1").unwrap().label,
            "Critical"
        );
    }

    #[test]
    fn each_mistake_names_its_key() {
        let twice = error(vec![
            team("core", "#core-intake", &["Search", "Billing"]),
            team("payments", "#pay-intake", &["billing"]),
        ]);
        assert!(
            twice.contains("teams[1].areas") && twice.contains("already owned by team core"),
            "{twice}"
        );
        let no_channel = error(vec![team("core", "", &["Search"])]);
        assert!(
            no_channel.contains("teams[0].channel") && no_channel.contains("required"),
            "{no_channel}"
        );
        let mut unknown = team("core", "#core-intake", &["Search"]);
        unknown.severities = vec![RawSeverity {
            key: "sev9".into(),
            label: "Nine".into(),
            response: "1h".into(),
            resolution: "1d".into(),
            clock: "wall".into(),
            oncall: false,
        }];
        let unknown = error(vec![unknown]);
        assert!(
            unknown.contains("teams[0].severities[0].key") && unknown.contains("sev9"),
            "{unknown}"
        );
        let many: Vec<String> = (0..101).map(|i| format!("Area {i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let too_many = error(vec![team("core", "#a", &many)]);
        assert!(
            too_many.contains("teams[0].areas") && too_many.contains("100"),
            "{too_many}"
        );
        let same_key = error(vec![team("core", "#a", &[]), team("core", "#b", &[])]);
        assert!(same_key.contains("teams[1].key"), "{same_key}");
    }
}
