//! Signature check on the raw bytes of every request from Slack.
//!
//! Uses slack-morphism's verifier (HMAC-SHA256 over `v0:{ts}:{body}`,
//! constant-time compare, timestamps older than five minutes refused), so a
//! forged, unsigned or replayed request never reaches a parser.

use hyper::HeaderMap;
use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::{SlackEventSignatureVerifier, SlackEventSignatureVerifierError};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("missing X-Slack-Signature or X-Slack-Request-Timestamp header")]
    MissingHeaders,
    #[error("request timestamp is stale or not a number (replay protection: 5 minutes)")]
    Stale,
    #[error("signature does not match the signing secret")]
    Forged,
}

/// Slack's replay window.
const MAX_AGE_SECS: u64 = 300;

#[derive(Clone)]
pub struct Verifier(SlackEventSignatureVerifier);

impl Verifier {
    pub fn new(signing_secret: &str) -> Self {
        Self(SlackEventSignatureVerifier::new(&SlackSigningSecret::new(
            signing_secret.to_string(),
        )))
    }

    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(signature), Some(timestamp)) = (
            header(SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER),
            header(SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP),
        ) else {
            return Err(VerifyError::MissingHeaders);
        };
        // The window is checked here first: the library computes `now - ts`
        // in i64, which overflows for timestamps near i64::MIN (a panic in
        // debug builds; in release one such timestamp passed as fresh).
        let fresh = timestamp
            .parse::<i64>()
            .is_ok_and(|ts| chrono::Utc::now().timestamp().abs_diff(ts) <= MAX_AGE_SECS);
        if !fresh {
            return Err(VerifyError::Stale);
        }
        // Lossy decoding only changes bytes that were not UTF-8, which then
        // fail the signature like any other tampering.
        let body = String::from_utf8_lossy(body);
        self.0.verify(signature, &body, timestamp).map_err(|e| match e {
            SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_) => VerifyError::Stale,
            _ => VerifyError::Forged,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::signing::{now_ts, slack_headers};

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

    fn headers(ts: i64, body: &[u8]) -> HeaderMap {
        slack_headers(SECRET, ts, body)
            .into_iter()
            .map(|(name, value)| (name.parse().expect("name"), value.parse().expect("value")))
            .collect()
    }

    /// Found by the property run (`bench/src/bin/fuzz.rs`): correctly signed
    /// timestamps where `now - ts` overflows an i64.
    #[test]
    fn a_signed_timestamp_at_the_edge_of_i64_is_stale_not_a_panic() {
        let verifier = Verifier::new(SECRET);
        let now = now_ts();
        for ts in [i64::MIN, i64::MIN + 1, now.wrapping_sub(i64::MIN), i64::MAX] {
            assert_eq!(
                verifier.verify(&headers(ts, b"body"), b"body"),
                Err(VerifyError::Stale),
                "{ts}"
            );
        }
        assert_eq!(verifier.verify(&headers(now, b"body"), b"body"), Ok(()));
    }
}
