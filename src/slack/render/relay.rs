//! The conversation relay in words: a reply in the intake thread as a DM to
//! the submitter (in their receipt's thread), and the submitter's reply as
//! a line in the intake thread. The words are escaped and cut here.

use serde_json::Value;

use super::{escape, escape_truncated, in_receipt_thread, plain_post, thread_reply};
use crate::domain::request::Request;

/// The most of a relayed message shown, once escaped: a screenful, and far
/// inside Slack's limit for a message's `text` (40,000 characters).
pub const RELAYED_MAX: usize = 3000;

fn relayed(text: &str) -> String {
    match text.trim() {
        "" => "_(shared a file)_".to_string(),
        words => escape_truncated(words, RELAYED_MAX),
    }
}

/// "<@ana> on #42: …", to the submitter in their receipt's thread (a plain
/// DM when no receipt is recorded).
pub fn to_submitter(request: &Request, from: &str, text: &str) -> Value {
    let line = format!("<@{}> on {}: {}", escape(from), request.number, relayed(text));
    in_receipt_thread(plain_post(&request.submitter, &line))
}

/// "<@sam> (submitter): …", in the request's intake thread.
pub fn to_intake_thread(request: &Request, text: &str) -> Value {
    let line = format!("<@{}> (submitter): {}", escape(&request.submitter), relayed(text));
    thread_reply(&line, false)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::state::State;

    #[test]
    fn relayed_words_are_escaped_and_cut() {
        let request = Request::sample(State::Triaged, "sev2", Utc::now());
        let dm = to_submitter(&request, "U0TRIAGE01", "<!channel> & more");
        assert_eq!(dm["text"], "<@U0TRIAGE01> on #42: &lt;!channel&gt; &amp; more");
        let long = to_intake_thread(&request, &"x".repeat(10_000));
        let text = long["text"].as_str().unwrap();
        assert!(text.starts_with("<@U0SUBMIT01> (submitter): xxx") && text.ends_with('…'));
        assert!(text.chars().count() < RELAYED_MAX + 40);
    }
}
