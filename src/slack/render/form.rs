//! The `/request` form, rendered once at startup.
//!
//! Opening the form is the hottest path Slack waits on. Building the modal
//! as a JSON tree and serialising it for every `/request` was its largest
//! allocation cost (BENCHMARKS.md), and all but two strings of it never
//! change. So [`RequestForm`] renders `views.open`'s body once with
//! placeholders and, per use, splices in the JSON-encoded trigger id,
//! pre-filled title (and description, for words too long for a title) and
//! private metadata.

use serde_json::json;

use super::{Prefill, prefill, request_modal_with};
use crate::domain::severity::Severities;
use crate::domain::team::{Team, Teams};

const TRIGGER: &str = "<intake:slot:trigger>";
const TITLE: &str = "<intake:slot:title>";
const DESCRIPTION: &str = "<intake:slot:description>";
const METADATA: &str = "<intake:slot:metadata>";

/// `views.open` bodies for the `/request` modal: one set for anywhere, and
/// with several teams one per team channel, its first area preselected
/// (`/request` typed in a team's intake channel is most likely for it).
pub struct RequestForm {
    anywhere: Bodies,
    in_team_channel: Vec<(Team, Bodies)>,
}

/// The modal's body with a title and description, with a title, without.
struct Bodies {
    with_both: JsonTemplate,
    with_title: JsonTemplate,
    without_title: JsonTemplate,
}

impl Bodies {
    fn new(severities: &Severities, default_severity: &str, teams: &Teams, area: &str) -> Self {
        let body = |title: &str, description: &str| {
            let filled = Prefill {
                title,
                description,
                area,
                ..Prefill::default()
            };
            let view = request_modal_with(severities, default_severity, teams, &filled, METADATA.to_string());
            let body = json!({"trigger_id": TRIGGER, "view": view}).to_string();
            JsonTemplate::new(&body, &[TRIGGER, TITLE, DESCRIPTION, METADATA])
        };
        Self {
            with_both: body(TITLE, DESCRIPTION),
            with_title: body(TITLE, ""),
            without_title: body("", ""),
        }
    }
}

impl RequestForm {
    pub fn new(severities: &Severities, default_severity: &str, teams: &Teams) -> Self {
        let in_team_channel = match teams.all().len() {
            1 => Vec::new(),
            _ => teams
                .all()
                .iter()
                .filter_map(|team| {
                    let first = team.areas.first()?;
                    Some((team.clone(), Bodies::new(severities, default_severity, teams, first)))
                })
                .collect(),
        };
        Self {
            anywhere: Bodies::new(severities, default_severity, teams, ""),
            in_team_channel,
        }
    }

    /// The body of `views.open` for this trigger, the same as rendering
    /// [`request_modal`] with `title` and `source_channel` (named
    /// `channel_name`, when Slack says).
    pub fn open_body(&self, trigger_id: &str, title: &str, source_channel: &str, channel_name: Option<&str>) -> String {
        let (title, description) = prefill(title);
        let metadata = super::form_metadata(source_channel, None);
        let bodies = self
            .in_team_channel
            .iter()
            .find(|(team, _)| team.is_channel(source_channel, channel_name))
            .map_or(&self.anywhere, |(_, bodies)| bodies);
        let template = match (title.is_empty(), description.is_empty()) {
            (true, _) => &bodies.without_title,
            (false, true) => &bodies.with_title,
            (false, false) => &bodies.with_both,
        };
        template.fill(&[trigger_id, &title, &description, &metadata])
    }
}

/// A JSON text with placeholder strings, cut at each placeholder.
struct JsonTemplate {
    /// Text between the placeholders; one more than `slots`.
    literals: Vec<String>,
    /// For each gap, the index of the value that goes there.
    slots: Vec<usize>,
}

impl JsonTemplate {
    /// `placeholders` appear in `rendered` as JSON strings, at most once
    /// each; a missing one is simply never filled.
    fn new(rendered: &str, placeholders: &[&str]) -> Self {
        let mut found: Vec<(usize, usize, usize)> = placeholders
            .iter()
            .enumerate()
            .filter_map(|(slot, p)| {
                let quoted = format!("\"{p}\"");
                rendered.find(&quoted).map(|at| (at, quoted.len(), slot))
            })
            .collect();
        found.sort_unstable();
        let (mut literals, mut slots, mut from) = (Vec::new(), Vec::new(), 0);
        for (at, len, slot) in found {
            literals.push(rendered[from..at].to_string());
            slots.push(slot);
            from = at + len;
        }
        literals.push(rendered[from..].to_string());
        Self { literals, slots }
    }

    /// The text with each placeholder replaced by `values[slot]` as a JSON string.
    fn fill(&self, values: &[&str]) -> String {
        let size =
            self.literals.iter().map(String::len).sum::<usize>() + values.iter().map(|v| v.len() + 8).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        for (literal, &slot) in self.literals.iter().zip(&self.slots) {
            out.extend_from_slice(literal.as_bytes());
            // Escaped straight into the body: no `Value`, no string per slot.
            let _ = serde_json::to_writer(&mut out, values[slot]);
        }
        out.extend_from_slice(self.literals.last().map_or("", String::as_str).as_bytes());
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::domain::severity::{Severity, SeverityKey};
    use crate::domain::sla::{ClockKind, SlaSpan};

    fn rendered(trigger: &str, title: &str, channel: &str, teams: &Teams) -> (Value, Value) {
        let sev = |k: &str| Severity {
            key: SeverityKey::new(k).unwrap(),
            label: format!("{k} \"label\""),
            response: SlaSpan::Hours(4),
            resolution: SlaSpan::Days(3),
            clock: ClockKind::Business,
            oncall: false,
        };
        let severities = Severities::new(vec![sev("sev1"), sev("sev2")]).unwrap();
        let form = RequestForm::new(&severities, "sev2", teams);
        let spliced: Value = serde_json::from_str(&form.open_body(trigger, title, channel, None)).expect("valid JSON");
        let built = json!({"trigger_id": trigger, "view": super::super::request_modal(&severities, "sev2", teams, title, channel)});
        (spliced, built)
    }

    #[test]
    fn the_spliced_form_is_the_rendered_form_whatever_the_title() {
        let teams = Teams::sample(&[("default", &["Billing", "Search \"beta\""])]);
        for title in [
            "",
            "   ",
            "Invoices render blank",
            "quotes \" and \\ backslashes, <!channel>, <intake:slot:title>",
            "ünïcödé ✓ and a newline\nhere",
            &"x".repeat(500),
            &"several words that go on ".repeat(12),
            "a first line\nand a second one",
        ] {
            let (spliced, built) = rendered("1337.42.abcdef", title, "C0123ABC", &teams);
            assert_eq!(spliced, built, "title {title:?}");
        }
        let (spliced, built) = rendered("t\"rigger", "A title", "C\"odd", &Teams::sample(&[("default", &[])]));
        assert_eq!(spliced, built);
    }

    fn area_field(body: &Value) -> &Value {
        let blocks = body["view"]["blocks"].as_array().expect("blocks");
        &blocks.iter().find(|b| b["block_id"] == "area").expect("an area block")["element"]
    }

    #[test]
    fn with_several_teams_areas_are_grouped_and_a_team_channel_preselects_its_area() {
        let teams = Teams::sample(&[("core", &["Search"]), ("payments", &["Checkout", "Billing"])]);
        let severities = crate::domain::policy::Policy::sample().severities;
        let form = RequestForm::new(&severities, "sev2", &teams);
        let anywhere: Value = serde_json::from_str(&form.open_body("t", "", "C0RANDOM1", Some("random"))).unwrap();
        let area = area_field(&anywhere);
        assert_eq!(area["option_groups"][1]["label"]["text"], "PAYMENTS");
        assert_eq!(area["option_groups"][1]["options"][1]["value"], "Billing");
        assert!(area.get("initial_option").is_none(), "nothing preselected elsewhere");
        let in_payments: Value =
            serde_json::from_str(&form.open_body("t", "", "C0PAYMENT1", Some("payments-intake"))).unwrap();
        assert_eq!(area_field(&in_payments)["initial_option"]["value"], "Checkout");
    }
}
