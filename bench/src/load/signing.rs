//! Slack request signing, both sides: the generator signs every request as
//! Slack does, the floor verifies it as any Slack app must.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use hyper::HeaderMap;
use sha2::Sha256;

pub const TIMESTAMP_HEADER: &str = "x-slack-request-timestamp";
pub const SIGNATURE_HEADER: &str = "x-slack-signature";
/// Slack's replay window: requests older (or newer) than this are refused.
const MAX_SKEW_SECS: i64 = 300;

fn mac(secret: &str, ts: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts a key of any length");
    mac.update(format!("v0:{ts}:").as_bytes());
    mac.update(body);
    mac
}

/// `v0=` + hex(HMAC-SHA256(secret, `v0:{ts}:{body}`)).
pub fn signature(secret: &str, ts: i64, body: &[u8]) -> String {
    format!("v0={}", hex::encode(mac(secret, ts, body).finalize().into_bytes()))
}

/// Now, in unix seconds.
pub fn now_ts() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("system clock is after 1970");
    i64::try_from(since_epoch.as_secs()).expect("unix time fits in i64")
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
