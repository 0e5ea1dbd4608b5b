//! Severities and the SLA policy each one carries.
//!
//! The list comes from config, most severe first: that order is the
//! escalation ladder. Pure data; no I/O.

use crate::domain::sla::{ClockKind, SlaSpan};

/// A configured severity's key, e.g. `sev2`: short, lowercase, stable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeverityKey(String);

impl SeverityKey {
    pub fn new(key: &str) -> Result<Self, String> {
        let ok = !key.is_empty()
            && key.len() <= 32
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if ok {
            Ok(Self(key.to_string()))
        } else {
            Err(format!("{key:?} must be 1–32 characters of a-z, 0-9, _ or -"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Severity {
    pub key: SeverityKey,
    pub label: String,
    /// Time until someone owns the request.
    pub response: SlaSpan,
    /// Time until it is resolved.
    pub resolution: SlaSpan,
    pub clock: ClockKind,
    /// Also posted to the on-call channel.
    pub oncall: bool,
}

impl Severity {
    /// "triage within 4 business hours, resolution within 3 business days"
    pub fn sla_in_words(&self) -> String {
        format!(
            "triage within {}, resolution within {}",
            self.response.describe(self.clock),
            self.resolution.describe(self.clock)
        )
    }
}

/// The configured severities, most severe first; never empty, keys unique.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Severities(Vec<Severity>);

impl Severities {
    pub fn new(list: Vec<Severity>) -> Result<Self, String> {
        if list.is_empty() {
            return Err("at least one severity is required".into());
        }
        if list.len() > 100 {
            return Err("at most 100 severities fit in a Slack select".into());
        }
        for (i, s) in list.iter().enumerate() {
            if list[..i].iter().any(|earlier| earlier.key == s.key) {
                return Err(format!("severity key {:?} appears twice", s.key.as_str()));
            }
        }
        Ok(Self(list))
    }

    pub fn get(&self, key: &str) -> Option<&Severity> {
        self.0.iter().find(|s| s.key.as_str() == key)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Severity> {
        self.0.iter()
    }

    pub fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|s| s.key.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sev(key: &str) -> Severity {
        Severity {
            key: SeverityKey::new(key).unwrap(),
            label: key.to_uppercase(),
            response: SlaSpan::Hours(4),
            resolution: SlaSpan::Days(3),
            clock: ClockKind::Business,
            oncall: false,
        }
    }

    #[test]
    fn duplicate_keys_are_refused() {
        assert!(Severities::new(vec![sev("a"), sev("a")]).is_err());
        assert!(Severities::new(vec![]).is_err());
    }

    #[test]
    fn sla_in_words_reads_like_a_promise() {
        assert_eq!(
            sev("sev2").sla_in_words(),
            "triage within 4 business hours, resolution within 3 business days"
        );
    }

    #[test]
    fn keys_must_be_simple() {
        assert!(SeverityKey::new("Sev 1").is_err());
        assert!(SeverityKey::new("sev1").is_ok());
    }
}
