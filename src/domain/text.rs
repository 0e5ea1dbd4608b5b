//! The words a triage step carries: questions, answers, reasons, notes and
//! tracker references. Each is validated once, here.

use std::fmt;

pub const TEXT_MAX: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TextError(pub String);

/// Free text a person wrote for a step, trimmed and within limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(String);

impl Text {
    /// Any non-empty text up to [`TEXT_MAX`] characters.
    pub fn parse(value: &str, what: &str) -> Result<Self, TextError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(TextError(format!("Please write the {what}.")));
        }
        let chars = value.chars().count();
        if chars > TEXT_MAX {
            return Err(TextError(format!(
                "The {what} is {chars} characters; the limit is {TEXT_MAX}."
            )));
        }
        Ok(Self(value.to_string()))
    }

    /// A reason the submitter will read: at least a sentence, not a shrug.
    pub fn reason(value: &str) -> Result<Self, TextError> {
        let text = Self::parse(value, "reason")?;
        let words = text.0.split_whitespace().count();
        if words < 4 || text.0.chars().count() < 20 {
            return Err(TextError(
                "Please give the reason in at least a sentence: the submitter will read it.".into(),
            ));
        }
        Ok(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where accepted work is tracked: an issue key like `PROJ-7`, or a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tracker {
    Key(String),
    Url(String),
}

impl Tracker {
    pub fn parse(value: &str) -> Result<Self, TextError> {
        let value = value.trim();
        if let Some((project, number)) = value.split_once('-') {
            let project_ok = project.len() >= 2
                && project.len() <= 20
                && project.starts_with(|c: char| c.is_ascii_uppercase())
                && project.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
            if project_ok && !number.is_empty() && number.len() <= 9 && number.chars().all(|c| c.is_ascii_digit()) {
                return Ok(Tracker::Key(value.to_string()));
            }
        }
        match url::Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() && value.len() <= 2000 => {
                Ok(Tracker::Url(value.to_string()))
            }
            _ => Err(TextError(
                "Give a tracker key like PROJ-7 or a link starting with https://.".into(),
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Tracker::Key(key) | Tracker::Url(key) => key,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shrug_is_not_a_reason() {
        assert!(Text::reason("no").is_err());
        assert!(Text::reason("won't fix").is_err());
        assert!(Text::reason("This is covered by the new billing export, shipping in March.").is_ok());
    }

    #[test]
    fn tracker_accepts_keys_and_links_only() {
        assert_eq!(Tracker::parse(" PROJ-7 "), Ok(Tracker::Key("PROJ-7".into())));
        assert!(matches!(
            Tracker::parse("https://linear.app/acme/issue/ENG-12"),
            Ok(Tracker::Url(_))
        ));
        assert!(Tracker::parse("soon").is_err());
        assert!(Tracker::parse("proj-7").is_err());
        assert!(Tracker::parse("javascript:alert(1)").is_err());
    }

    #[test]
    fn empty_and_overlong_text_is_refused() {
        assert!(Text::parse("   ", "question").is_err());
        assert!(Text::parse(&"x".repeat(TEXT_MAX + 1), "question").is_err());
        assert_eq!(Text::parse(" why? ", "question").unwrap().as_str(), "why?");
    }
}
