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
        // Lossy decoding only changes bytes that were not UTF-8, which then
        // fail the signature like any other tampering.
        let body = String::from_utf8_lossy(body);
        self.0.verify(signature, &body, timestamp).map_err(|e| match e {
            SlackEventSignatureVerifierError::IncorrectOrExpiredTimestampError(_) => VerifyError::Stale,
            _ => VerifyError::Forged,
        })
    }
}
