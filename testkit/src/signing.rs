//! Slack request signing, both sides, exactly as Slack does it: `v0=` +
//! hex(HMAC-SHA256(signing secret, `v0:{timestamp}:{raw body}`)). Tests and
//! the load generator sign requests with it; the benchmark's floor handler
//! verifies them as any Slack app must.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use hyper::HeaderMap;
use sha2::Sha256;

pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// Slack's replay window: requests older (or newer) than this are refused.
pub const MAX_SKEW_SECS: i64 = 300;

fn mac(secret: &str, ts: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts a key of any length");
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    mac
}

/// "v0=" + hex(HMAC-SHA256(secret, "v0:{ts}:{body}"))
pub fn signature(secret: &str, ts: i64, body: &[u8]) -> String {
    format!("v0={}", hex::encode(mac(secret, ts, body).finalize().into_bytes()))
}

/// Now, in unix seconds, as Slack puts it in `x-slack-request-timestamp`.
pub fn now_ts() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock is after 1970");
    i64::try_from(since_epoch.as_secs()).expect("unix time fits in i64")
}

/// The two headers Slack sends, for `body`, at `ts`.
pub fn slack_headers(secret: &str, ts: i64, body: &[u8]) -> Vec<(&'static str, String)> {
    vec![
        (TIMESTAMP_HEADER, ts.to_string()),
        (SIGNATURE_HEADER, signature(secret, ts, body)),
    ]
}

/// True when the headers carry a fresh timestamp and a valid signature of
/// `body` (constant-time comparison).
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(ts), Some(signature)) = (header(TIMESTAMP_HEADER), header(SIGNATURE_HEADER)) else {
        return false;
    };
    let Ok(ts) = ts.parse::<i64>() else {
        return false;
    };
    if (now_ts() - ts).abs() > MAX_SKEW_SECS {
        return false;
    }
    let Some(Ok(expected)) = signature.strip_prefix("v0=").map(hex::decode) else {
        return false;
    };
    mac(secret, ts, body).verify_slice(&expected).is_ok()
}

/// A tracker's webhook signature, as GitHub (`X-Hub-Signature-256`) and
/// Jira Cloud (`X-Hub-Signature`) send it: "sha256=" +
/// hex(HMAC-SHA256(webhook secret, raw body)).
pub fn hub_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    /// GitHub's worked example ("Validating webhook deliveries").
    #[test]
    fn hub_signature_matches_githubs_documented_example() {
        assert_eq!(
            super::hub_signature("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    use super::*;

    /// The worked example on Slack's "Verifying requests from Slack" page,
    /// body byte for byte (its trigger_id ends `…2c447fce8b6703c`).
    #[test]
    fn signature_matches_slacks_documented_example() {
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            signature("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body.as_bytes()),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }

    #[test]
    fn headers_carry_timestamp_and_signature() {
        let headers = slack_headers("secret", 42, b"x");
        assert_eq!(headers[0], ("x-slack-request-timestamp", "42".to_owned()));
        assert_eq!(headers[1], ("x-slack-signature", signature("secret", 42, b"x")));
    }

    fn header_map(headers: Vec<(&'static str, String)>) -> HeaderMap {
        headers
            .into_iter()
            .map(|(name, value)| (name.parse().expect("name"), value.parse().expect("value")))
            .collect()
    }

    #[test]
    fn verify_accepts_what_it_signed_and_nothing_else() {
        let now = now_ts();
        let signed = header_map(slack_headers("secret", now, b"body"));
        assert!(verify("secret", &signed, b"body"));
        assert!(!verify("other", &signed, b"body"), "wrong secret");
        assert!(!verify("secret", &signed, b"bodY"), "changed body");
        let stale = header_map(slack_headers("secret", now - MAX_SKEW_SECS - 1, b"body"));
        assert!(!verify("secret", &stale, b"body"), "outside the replay window");
        assert!(!verify("secret", &HeaderMap::new(), b"body"), "unsigned");
    }
}
