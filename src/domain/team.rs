//! Teams: who owns which areas, where their requests go, and who triages
//! them. With no `[[teams]]` configured there is one team, built from the
//! single-team keys, so existing configurations keep working.
//!
//! "Who owns what" is the discovery step the intake process asks for:
//! [`Teams::who`] matches a person's words against the configured areas.

use crate::domain::severity::Severities;

/// One team, as configured.
#[derive(Debug, Clone)]
pub struct Team {
    /// Stable id (`payments`), used in config and stored on requests.
    pub key: String,
    pub name: String,
    /// Its intake channel.
    pub channel: String,
    pub oncall_channel: Option<String>,
    pub oncall_usergroup: Option<String>,
    pub digest_channel: Option<String>,
    pub triagers: Vec<String>,
    pub usergroup: Option<String>,
    pub office_hours: String,
    /// The areas it owns (no area is owned twice).
    pub areas: Vec<String>,
    /// Its SLA table: the global one with the team's overrides.
    pub severities: Severities,
}

/// Every team; the first is the default (requests with no area go there).
#[derive(Debug, Clone)]
pub struct Teams(Vec<Team>);

/// A team that owns an area matching someone's words.
#[derive(Debug, Clone)]
pub struct Owner<'a> {
    pub team: &'a Team,
    pub area: &'a str,
}

impl Team {
    /// Is this the team's intake channel? `channel` is configured as an id
    /// (`C…`) or a name (`#payments-intake`); Slack gives both.
    pub fn is_channel(&self, id: &str, name: Option<&str>) -> bool {
        self.channel == id || name.is_some_and(|name| self.channel.strip_prefix('#') == Some(name))
    }
}

impl Teams {
    /// `teams` must not be empty and no area may be owned twice (config
    /// checks both, naming the keys).
    pub fn new(teams: Vec<Team>) -> Option<Self> {
        (!teams.is_empty()).then_some(Self(teams))
    }

    pub fn all(&self) -> &[Team] {
        &self.0
    }

    pub fn default_team(&self) -> &Team {
        &self.0[0]
    }

    pub fn get(&self, key: &str) -> Option<&Team> {
        self.0.iter().find(|t| t.key == key)
    }

    /// The team of a request's stored key (the default team for a key no
    /// longer configured: its requests stay visible and triageable).
    pub fn of(&self, key: &str) -> &Team {
        &self.0[self.position(key)]
    }

    /// Where [`Teams::of`] finds the team of `key` in [`Teams::all`] (0,
    /// the default team, for a key no longer configured).
    pub fn position(&self, key: &str) -> usize {
        self.0.iter().position(|t| t.key == key).unwrap_or(0)
    }

    /// The team that owns `area` (case-insensitive), if any.
    pub fn owner_of(&self, area: &str) -> Option<&Team> {
        let area = area.trim();
        self.0
            .iter()
            .find(|t| t.areas.iter().any(|a| a.eq_ignore_ascii_case(area)))
    }

    /// The areas (with their teams) that `words` point at: an area whose
    /// name contains the words, or shares a word of three letters or more
    /// with them (case-insensitive); a team named by the words brings its
    /// areas. Best matches first: whole-name matches, then shared words.
    pub fn who(&self, words: &str) -> Vec<Owner<'_>> {
        let query = words.trim().to_lowercase();
        if query.is_empty() {
            return Vec::new();
        }
        let asked: Vec<&str> = query
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 3)
            .collect();
        let mut scored: Vec<(u8, Owner<'_>)> = Vec::new();
        for team in &self.0 {
            let team_named = team.name.to_lowercase() == query || team.key == query;
            for area in &team.areas {
                let name = area.to_lowercase();
                let shared = name
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.chars().count() >= 3)
                    .any(|w| asked.iter().any(|a| w.starts_with(a) || a.starts_with(w)));
                let score = match () {
                    _ if name == query => 3,
                    _ if name.contains(&query) || team_named => 2,
                    _ if shared => 1,
                    _ => continue,
                };
                scored.push((score, Owner { team, area }));
            }
        }
        scored.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
        scored.into_iter().map(|(_, owner)| owner).collect()
    }
}

#[cfg(test)]
impl Team {
    /// A team with intake channel `#<key>-intake` and a one-severity
    /// table, for tests.
    pub fn sample(key: &str, name: &str, areas: &[&str]) -> Self {
        Team {
            key: key.into(),
            name: name.into(),
            channel: format!("#{key}-intake"),
            oncall_channel: None,
            oncall_usergroup: None,
            digest_channel: None,
            triagers: vec![],
            usergroup: None,
            office_hours: String::new(),
            areas: areas.iter().map(|a| a.to_string()).collect(),
            severities: one_severity(),
        }
    }
}

#[cfg(test)]
impl Teams {
    /// Teams `(key, areas)` named by their upper-cased key, for tests.
    pub fn sample(teams: &[(&str, &[&str])]) -> Self {
        let teams = teams
            .iter()
            .map(|(key, areas)| Team::sample(key, &key.to_uppercase(), areas))
            .collect();
        Self::new(teams).expect("at least one team")
    }
}

/// A one-severity SLA table, for tests.
#[cfg(test)]
fn one_severity() -> Severities {
    use crate::domain::severity::{Severity, SeverityKey};
    use crate::domain::sla::{ClockKind, SlaSpan};
    Severities::new(vec![Severity {
        key: SeverityKey::new("sev1").unwrap(),
        label: "Critical".into(),
        response: SlaSpan::Hours(1),
        resolution: SlaSpan::Days(1),
        clock: ClockKind::Wall,
        oncall: true,
    }])
    .unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn teams() -> Teams {
        Teams::new(vec![
            Team::sample("core", "Core", &["Accounts", "Search"]),
            Team::sample(
                "payments",
                "Payments",
                &["Checkout", "Billing", "Invoices and receipts"],
            ),
        ])
        .unwrap()
    }

    #[test]
    fn an_area_belongs_to_its_team_whatever_the_case() {
        let teams = teams();
        assert_eq!(teams.owner_of("billing").map(|t| t.key.as_str()), Some("payments"));
        assert_eq!(teams.owner_of("Search").map(|t| t.key.as_str()), Some("core"));
        assert!(teams.owner_of("Mobile").is_none());
    }

    #[test]
    fn who_finds_areas_by_words_best_first() {
        let teams = teams();
        let found = teams.who("invoice PDFs are blank");
        assert_eq!(found[0].area, "Invoices and receipts");
        assert_eq!(found[0].team.key, "payments");
        assert_eq!(teams.who("checkout")[0].area, "Checkout");
        let payments: Vec<&str> = teams.who("Payments").iter().map(|o| o.area).collect();
        assert_eq!(payments, ["Checkout", "Billing", "Invoices and receipts"]);
        assert!(teams.who("the weather").is_empty());
        assert!(teams.who("   ").is_empty());
    }
}
