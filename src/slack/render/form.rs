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

const TRIGGER: &str = "<intake:slot:trigger>";
const TITLE: &str = "<intake:slot:title>";
const DESCRIPTION: &str = "<intake:slot:description>";
const METADATA: &str = "<intake:slot:metadata>";

/// `views.open` bodies for the `/request` modal.
pub struct RequestForm {
    with_both: JsonTemplate,
    with_title: JsonTemplate,
    without_title: JsonTemplate,
}

impl RequestForm {
    pub fn new(severities: &Severities, default_severity: &str, areas: &[String]) -> Self {
        let body = |title: &str, description: &str| {
            let filled = Prefill {
                title,
                description,
                ..Prefill::default()
            };
            let view = request_modal_with(severities, default_severity, areas, &filled, METADATA.to_string());
            let body = json!({"trigger_id": TRIGGER, "view": view}).to_string();
            JsonTemplate::new(&body, &[TRIGGER, TITLE, DESCRIPTION, METADATA])
        };
        Self {
            with_both: body(TITLE, DESCRIPTION),
            with_title: body(TITLE, ""),
            without_title: body("", ""),
        }
    }

    /// The body of `views.open` for this trigger, the same as rendering
    /// [`request_modal`] with `title` and `source_channel`.
    pub fn open_body(&self, trigger_id: &str, title: &str, source_channel: &str) -> String {
        let (title, description) = prefill(title);
        let metadata = super::form_metadata(source_channel, None);
        let template = match (title.is_empty(), description.is_empty()) {
            (true, _) => &self.without_title,
            (false, true) => &self.with_title,
            (false, false) => &self.with_both,
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
        let mut out = String::with_capacity(size);
        for (literal, &slot) in self.literals.iter().zip(&self.slots) {
            out.push_str(literal);
            out.push_str(&serde_json::Value::from(values[slot]).to_string());
        }
        out.push_str(self.literals.last().map_or("", String::as_str));
        out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::domain::severity::{Severity, SeverityKey};
    use crate::domain::sla::{ClockKind, SlaSpan};

    fn rendered(trigger: &str, title: &str, channel: &str, areas: &[String]) -> (Value, Value) {
        let sev = |k: &str| Severity {
            key: SeverityKey::new(k).unwrap(),
            label: format!("{k} \"label\""),
            response: SlaSpan::Hours(4),
            resolution: SlaSpan::Days(3),
            clock: ClockKind::Business,
            oncall: false,
        };
        let severities = Severities::new(vec![sev("sev1"), sev("sev2")]).unwrap();
        let form = RequestForm::new(&severities, "sev2", areas);
        let spliced: Value = serde_json::from_str(&form.open_body(trigger, title, channel)).expect("valid JSON");
        let built = json!({"trigger_id": trigger, "view": super::super::request_modal(&severities, "sev2", areas, title, channel)});
        (spliced, built)
    }

    #[test]
    fn the_spliced_form_is_the_rendered_form_whatever_the_title() {
        let areas = vec!["Billing".to_string(), "Search \"beta\"".to_string()];
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
            let (spliced, built) = rendered("1337.42.abcdef", title, "C0123ABC", &areas);
            assert_eq!(spliced, built, "title {title:?}");
        }
        let (spliced, built) = rendered("t\"rigger", "A title", "C\"odd", &[]);
        assert_eq!(spliced, built);
    }
}
