//! Property tests at volume: generated inputs by the million, fed to the
//! code every Slack request goes through, with no I/O: the signature check
//! (`slack::verify`), the slash command, interaction and Events API parsers
//! (`slack::inbound`, with the pure steps their use cases take next) and the
//! mrkdwn escaping (`slack::render`).
//!
//! Inputs come from a seeded generator (the same seed gives the same inputs):
//! the real samples in `testkit/samples`, mutated at the byte level
//! (truncations, bit flips, splices, invalid UTF-8, NUL), at the JSON level
//! (values swapped for hostile text or extreme numbers, keys dropped or
//! added, deep nesting, huge strings and arrays), as forms with odd
//! encodings, sent to the wrong parser, or random bytes; user text is full
//! of mrkdwn metacharacters, `<!channel>`, emoji, RTL marks and NUL.
//!
//! Every call runs under `catch_unwind` on a thread with tokio's 2 MiB
//! worker stack; panics are counted, and the first panicking input of a
//! target is written to the temp directory. Property checks (the signature
//! verdict against an independent oracle, the escaping invariants, the
//! `views.open` body staying valid JSON) count as violations. Prints one
//! line per target and exits non-zero on any panic or violation.
//!
//! `cargo run --release -p intake-bench --bin fuzz -- [--cases N] [--seed S]
//! [--only signature,command,interaction,event,escape]`

use std::cell::RefCell;
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use hyper::HeaderMap;
use hyper::header::HeaderValue;
use intake::config::{Settings, load_raw};
use intake::domain::request::NewRequest;
use intake::domain::text::Tracker;
use intake::slack::action::Action;
use intake::slack::inbound::{self, CommandIntent, EventEnvelope, Interaction, Reaction, ReactionEnvelope};
use intake::slack::render::{self, RequestForm};
use intake::slack::verify::Verifier;
use serde_json::{Map, Value, json};
use sha2::Sha256;
use testkit::signing::{SIGNATURE_HEADER, TIMESTAMP_HEADER, now_ts};

const SECRET: &str = testkit::SIGNING_SECRET;
/// tokio's default worker stack: where the parsers run in production.
const STACK: usize = 2 << 20;
/// The default `server.max_body_bytes`: no body the parsers see is larger.
const MAX_BODY: usize = 262_144;
const TARGETS: [&str; 5] = ["signature", "command", "interaction", "event", "escape"];

/// xorshift64*: small, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// True `n` times in `of`.
    fn chance(&mut self, n: usize, of: usize) -> bool {
        self.below(of) < n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Pieces of hostile user text: mrkdwn control sequences and mentions,
/// entities, emoji, RTL, zero-width and control characters, words the
/// parsers treat specially, and things that look like encodings.
const PIECES: &[&str] = &[
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<@U0SUBMIT01>",
    "<@W0ENTERPR1|boss>",
    "<#C0INTAKE01|intake>",
    "<!subteam^S0TRIAGE1>",
    "<https://evil.example|https://good.example>",
    "<!date^1795615200^{date}|x>",
    "&lt;!channel&gt;",
    "&amp;",
    "&lt;",
    "&gt;",
    "&#60;",
    "&",
    "<",
    ">",
    "<<>>",
    "*bold*",
    "_it_",
    "~strike~",
    "`code`",
    "```",
    "> quote",
    "|",
    "\u{202E}",
    "\u{200F}",
    "\u{200B}",
    "\u{FEFF}",
    "שלום עולם",
    "مرحبا",
    "😀",
    "👩‍👩‍👧‍👦",
    "🏳️‍🌈",
    "e\u{301}",
    "\u{0}",
    "\n",
    "\r\n",
    "\t",
    " ",
    "\u{3000}",
    "%",
    "%25",
    "%00",
    "%FF",
    "+",
    "=",
    "&text=",
    "#42",
    "42",
    "#0",
    "-1",
    "list",
    "list all",
    "LIST ALL",
    "help",
    "?",
    "#",
    "99999999999999999999",
    "9223372036854775807",
    "İ",
    "ß",
    "\u{10FFFF}",
    "\u{FFFD}",
    "\\",
    "\"",
    "'",
    "\\u0000",
    "\\ud800",
    "{",
    "}",
    "[",
    "]",
    "null",
    "https://",
    "https://status.example.com/incidents/7781",
    "javascript:alert(1)",
    "PROJ-7",
    "2026-02-30",
    "9999-12-31",
    "+262143-12-31",
    "triage_accept",
    "new_request",
    "req:42",
    "arrow_up::skin-tone-2",
    ":+1:",
];

/// Keys the parsers look for, to add where they do not belong.
const KEYS: &[&str] = &[
    "type",
    "payload",
    "event",
    "event_id",
    "user",
    "id",
    "actions",
    "action_id",
    "value",
    "block_id",
    "selected_user",
    "selected_option",
    "view",
    "callback_id",
    "private_metadata",
    "state",
    "values",
    "channel",
    "container",
    "channel_id",
    "challenge",
    "authorizations",
    "is_bot",
    "user_id",
    "item",
    "ts",
    "reaction",
    "trigger_id",
    "selected_date",
    "text",
];

const VIEW_CALLBACKS: &[&str] = &[
    "new_request",
    "triage_ask_info",
    "triage_add_info",
    "triage_accept",
    "triage_defer",
    "triage_reject",
    "triage_resolve",
    "triage_take",
    "triage_",
    "triage_triage_accept",
    "",
];
const STEP_BLOCKS: &[&str] = &[
    "question",
    "answer",
    "note",
    "reason",
    "tracker",
    "expectation",
    "revisit",
    "type",
    "title",
    "description",
    "severity",
    "area",
    "link",
];
const EVENT_TYPES: &[&str] = &[
    "reaction_added",
    "reaction_removed",
    "message",
    "app_mention",
    "app_home_opened",
    "",
];
const ENVELOPE_TYPES: &[&str] = &[
    "event_callback",
    "url_verification",
    "app_rate_limited",
    "EVENT_CALLBACK",
    "",
];

fn random_char(rng: &mut Rng) -> char {
    match rng.below(10) {
        0..=4 => (b' ' + rng.below(95) as u8) as char,
        5 => char::from(rng.below(32) as u8),
        _ => loop {
            if let Some(c) = char::from_u32(rng.below(0x11_0000) as u32) {
                break c;
            }
        },
    }
}

/// User text: mostly pieces and words, sometimes random characters or long.
fn text(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => (0..rng.below(64)).map(|_| random_char(rng)).collect(),
        1 => {
            let most = if rng.chance(1, 20) { 20_000 } else { 300 };
            rng.pick(PIECES).repeat(1 + rng.below(most))
        }
        2 => String::new(),
        _ => {
            let mut out = String::new();
            for _ in 0..1 + rng.below(8) {
                match rng.below(3) {
                    0 => out.push_str(rng.pick::<&str>(&["checkout", "page", "times", "out", "a", "the", "Invoices"])),
                    1 => out.push(random_char(rng)),
                    _ => out.push_str(rng.pick::<&str>(PIECES)),
                }
                if rng.chance(1, 2) {
                    out.push(' ');
                }
            }
            out
        }
    }
}

/// A JSON value a field should not hold.
fn odd_value(rng: &mut Rng) -> Value {
    match rng.below(14) {
        0 => Value::Null,
        1 => json!(true),
        2 => json!(0),
        3 => json!(-1),
        4 => json!(i64::MAX),
        5 => json!(u64::MAX),
        6 => json!(1e308),
        7 => json!(0.5),
        8 => json!([]),
        9 => json!({}),
        10 => json!([text(rng)]),
        11 => json!({ *rng.pick(KEYS): text(rng) }),
        _ => json!(text(rng)),
    }
}

/// One change somewhere in a JSON tree: a random walk from the root.
fn mutate_json(rng: &mut Rng, value: &mut Value, depth: usize) {
    let descend = depth < 12 && rng.chance(2, 3);
    match value {
        Value::Object(map) if descend && !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).cloned().unwrap_or_default();
            if let Some(child) = map.get_mut(&key) {
                return mutate_json(rng, child, depth + 1);
            }
        }
        Value::Array(items) if descend && !items.is_empty() => {
            let i = rng.below(items.len());
            return mutate_json(rng, &mut items[i], depth + 1);
        }
        _ => {}
    }
    match (rng.below(6), &mut *value) {
        (0, Value::Object(map)) if !map.is_empty() => {
            let key = map.keys().nth(rng.below(map.len())).cloned().unwrap_or_default();
            map.remove(&key);
        }
        (1, Value::Object(map)) => {
            map.insert(rng.pick(KEYS).to_string(), odd_value(rng));
        }
        (0, Value::Array(items)) if !items.is_empty() => {
            items.remove(rng.below(items.len()));
        }
        (1, Value::Array(items)) if !items.is_empty() => {
            let copy = items[rng.below(items.len())].clone();
            items.push(copy);
        }
        (2, Value::String(s)) => s.push_str(&text(rng)),
        (3, _) => *value = json!([value.take()]),
        (4, _) => *value = json!(text(rng)),
        _ => *value = odd_value(rng),
    }
}

/// A picked option, as Slack sends it (`text` is required).
fn option(value: &str) -> Value {
    json!({"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value}})
}

/// An answer a person could give in `block` of a form, often with hostile
/// words in it, so validation passes as often as it refuses.
fn plausible_answer(rng: &mut Rng, block: &str) -> Value {
    let words = format!("{} because the export changed {}", text(rng), text(rng));
    match block {
        "revisit" => {
            let date = format!("20{:02}-{:02}-{:02}", 26 + rng.below(80), rng.below(14), rng.below(33));
            json!({"type": "datepicker", "selected_date": date})
        }
        "type" | "severity" => {
            let value = match block {
                "type" => *rng.pick(&["bug", "feature", "question"]),
                _ => *rng.pick(&["sev1", "sev2", "sev3", "sev4", "high"]),
            };
            option(value)
        }
        "tracker" | "link" => {
            let value = match rng.below(3) {
                0 => format!("PROJ-{}", rng.below(100_000)),
                1 => format!("https://tracker.example/{}", text(rng)),
                _ => text(rng),
            };
            json!({"type": "plain_text_input", "value": value})
        }
        "title" | "area" => {
            let title = format!("{} checkout {}", rng.pick(PIECES), rng.pick(PIECES));
            json!({"type": "plain_text_input", "value": title})
        }
        _ => json!({"type": "plain_text_input", "value": words}),
    }
}

/// A byte sequence that is not UTF-8, or a NUL.
fn bad_bytes(rng: &mut Rng) -> &'static [u8] {
    rng.pick::<&[u8]>(&[
        &b"\xff"[..],
        b"\xc0\x80",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xe2\x82",
        b"\x80",
        b"\0",
    ])
}

/// One to four byte-level changes; `corpus` feeds splices.
fn mutate_bytes(rng: &mut Rng, body: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(4) {
        let len = body.len();
        let at = rng.below(len + 1);
        match rng.below(8) {
            0 => body.truncate(at),
            1 if len > 0 => body[at.min(len - 1)] ^= 1 << rng.below(8),
            2 if len > 0 => {
                body[at.min(len - 1)] = *rng.pick(&b"\0\xff\x80%&=+\"{}[]\\<>:,"[..]);
            }
            3 => {
                let bytes = bad_bytes(rng);
                body.splice(at..at, bytes.iter().copied());
            }
            4 => {
                let end = (at + rng.below(64)).min(len);
                body.drain(at..end);
            }
            5 => {
                let end = (at + rng.below(64)).min(len);
                let copy = body[at..end].to_vec();
                body.splice(at..at, copy);
            }
            6 => {
                let other = rng.pick(corpus);
                let from = rng.below(other.len());
                let to = (from + rng.below(256)).min(other.len());
                body.splice(at..at, other[from..to].iter().copied());
            }
            _ => {
                let piece = text(rng);
                body.splice(at..at, piece.bytes());
            }
        }
    }
}

fn random_bytes(rng: &mut Rng) -> Vec<u8> {
    (0..rng.below(512)).map(|_| rng.next() as u8).collect()
}

/// JSON text with a value nested hundreds or thousands deep, or made huge.
fn monster_json(rng: &mut Rng, json_text: &str) -> String {
    let inner = match rng.below(4) {
        0 => {
            let depth = 1 + rng.below(5_000);
            format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
        }
        1 => {
            let depth = 1 + rng.below(5_000);
            format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))
        }
        2 => format!("\"{}\"", "x".repeat(rng.below(MAX_BODY))),
        _ => format!("[{}0]", "0,".repeat(rng.below(MAX_BODY / 2))),
    };
    // Put it after a random `:` so it replaces nothing but sits in a value.
    let colons: Vec<usize> = json_text.match_indices(':').map(|(i, _)| i).collect();
    match colons.get(rng.below(colons.len())) {
        Some(&at) => format!("{}{inner},\"x\"{}", &json_text[..=at], &json_text[at + 1..]),
        _ => inner,
    }
}

/// A form body from `pairs`, encoded correctly or in one of many odd ways.
fn encode_form(rng: &mut Rng, pairs: &[(String, String)]) -> Vec<u8> {
    let correct = || serde_urlencoded::to_string(pairs).unwrap_or_default();
    let mut body = match rng.below(10) {
        0..=4 => correct(),
        // %20 for spaces, lower-case hex.
        5 => correct().replace('+', "%20").to_lowercase(),
        // Not encoded at all.
        6 => pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&"),
        // Encoded twice.
        7 => serde_urlencoded::to_string([("x", correct())])
            .unwrap_or_default()
            .trim_start_matches("x=")
            .to_string(),
        // Separators and pairs where they should not be.
        8 => {
            let junk = rng.pick(&[
                "&&",
                "&=",
                "&x",
                ";",
                "&payload=",
                "&text=",
                "=&",
                "&%",
                "&%G1=1",
                "&a=%F",
            ]);
            let body = correct();
            let at = rng.below(body.len() + 1);
            if body.is_char_boundary(at) {
                format!("{}{junk}{}", &body[..at], &body[at..])
            } else {
                body + junk
            }
        }
        // A value percent-encoded as bytes that are not UTF-8.
        _ => format!(
            "{}&text=%FF%FE%00%C0%80{}",
            correct(),
            rng.pick(&["", "%", "%E2%82", "%ED%A0%80"])
        ),
    }
    .into_bytes();
    if rng.chance(1, 20) {
        let dup = body.clone();
        body.push(b'&');
        body.extend_from_slice(&dup);
    }
    body
}

/// What the generators start from.
struct Seeds {
    /// Slash command fields, as Slack sends them.
    command_fields: Vec<Vec<(String, String)>>,
    interactions: Vec<Value>,
    events: Vec<Value>,
    /// Every sample's bytes: splices, and bodies for the wrong parser.
    corpus: Vec<Vec<u8>>,
}

impl Seeds {
    fn load() -> Self {
        let mut corpus = Vec::new();
        let mut read = |dir: &str| -> Vec<(String, Vec<u8>)> {
            let mut files: Vec<_> = std::fs::read_dir(format!("{}/{dir}", testkit::SAMPLES))
                .unwrap_or_else(|e| panic!("{dir}: {e}"))
                .filter_map(Result::ok)
                .map(|f| f.file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            files
                .into_iter()
                .map(|name| {
                    let bytes = testkit::sample(&format!("{dir}/{name}"));
                    corpus.push(bytes.clone());
                    (name, bytes)
                })
                .collect()
        };
        let commands = read("commands");
        let interactivity = read("interactivity");
        let events = read("events");
        let socket = read("socket-mode");
        let socket_payload = |name: &str| {
            let (_, bytes) = socket.iter().find(|(n, _)| n == name).expect("socket-mode sample");
            serde_json::from_slice::<Value>(bytes).expect("JSON")["payload"].clone()
        };
        let mut command_fields: Vec<Vec<(String, String)>> = commands
            .iter()
            .map(|(_, body)| serde_urlencoded::from_bytes(body).expect("a form"))
            .collect();
        if let Value::Object(fields) = socket_payload("slash_commands.json") {
            command_fields.push(
                fields
                    .into_iter()
                    .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                    .collect(),
            );
        }
        let mut interactions: Vec<Value> = interactivity
            .iter()
            .filter(|(name, _)| name.ends_with(".json") && !name.starts_with("response_action"))
            .map(|(_, body)| serde_json::from_slice(body).expect("JSON"))
            .collect();
        interactions.push(socket_payload("interactive.json"));
        let mut events: Vec<Value> = events
            .iter()
            .map(|(_, body)| serde_json::from_slice(body).expect("JSON"))
            .collect();
        events.push(socket_payload("events_api.json"));
        Self {
            command_fields,
            interactions,
            events,
            corpus,
        }
    }

    fn other_body(&self, rng: &mut Rng) -> Vec<u8> {
        if rng.chance(1, 3) {
            random_bytes(rng)
        } else {
            rng.pick(&self.corpus).clone()
        }
    }

    /// A `/request` form body.
    fn command(&self, rng: &mut Rng) -> Vec<u8> {
        if rng.chance(1, 20) {
            return self.other_body(rng);
        }
        let mut fields = rng.pick(&self.command_fields).clone();
        for field in &mut fields {
            let hostile = if field.0 == "text" { 4 } else { 1 };
            if rng.chance(hostile, 5) {
                field.1 = text(rng);
            }
        }
        if rng.chance(1, 10) && !fields.is_empty() {
            fields.remove(rng.below(fields.len()));
        }
        if rng.chance(1, 10) {
            fields.push((rng.pick(KEYS).to_string(), text(rng)));
        }
        let mut body = encode_form(rng, &fields);
        if rng.chance(1, 4) {
            mutate_bytes(rng, &mut body, &self.corpus);
        }
        body
    }

    /// An interaction payload: a sample with the fields our parser reads
    /// set to what a client could send, then mutated.
    fn interaction_payload(&self, rng: &mut Rng) -> Value {
        let mut payload = rng.pick(&self.interactions).clone();
        if payload["type"] == "view_submission" && rng.chance(3, 4) {
            if rng.chance(2, 3) {
                payload["view"]["callback_id"] = json!(rng.pick(VIEW_CALLBACKS));
            }
            payload["view"]["private_metadata"] = match rng.below(4) {
                0 => json!(json!({"request": odd_value(rng), "channel": text(rng)}).to_string()),
                1 => json!(json!({"channel_id": odd_value(rng)}).to_string()),
                2 => json!(text(rng)),
                _ => json!(json!({"request": 42, "channel": "C0INTAKE01", "channel_id": "C0GENERAL1"}).to_string()),
            };
            // Answers a person could give (the sample's own, or fresh ones
            // for every block of every form), then a few hostile ones.
            let mut values = match &payload["view"]["state"]["values"] {
                Value::Object(values) if rng.chance(1, 2) => values.clone(),
                _ => Map::new(),
            };
            for block in STEP_BLOCKS {
                if rng.chance(2, 3) {
                    values.insert(
                        block.to_string(),
                        json!({ format!("{block}_input"): plausible_answer(rng, block) }),
                    );
                }
            }
            for _ in 0..rng.below(4) {
                let block = *rng.pick(STEP_BLOCKS);
                let entry = match rng.below(3) {
                    0 => json!({"type": "datepicker", "selected_date": text(rng)}),
                    1 => option(&text(rng)),
                    _ => json!({"type": "plain_text_input", "value": text(rng)}),
                };
                values.insert(block.to_string(), json!({ format!("{block}_input"): entry }));
            }
            payload["view"]["state"]["values"] = Value::Object(values);
        }
        if payload["type"] == "block_actions" && rng.chance(3, 4) {
            let action = &mut payload["actions"][0];
            if rng.chance(1, 2) {
                action["action_id"] = json!(rng.pick(&Action::ALL).id());
            } else {
                action["action_id"] = json!(text(rng));
            }
            action["value"] = match rng.below(3) {
                0 => json!(text(rng)),
                1 => odd_value(rng),
                _ => json!(format!("{}", rng.next() as i64)),
            };
            action["block_id"] = json!(format!(
                "req:{}",
                rng.pick(&["0", "-5", "42", "9223372036854775808", "", "x"])
            ));
            action["selected_user"] = json!(text(rng));
        }
        if rng.chance(1, 2) {
            for _ in 0..1 + rng.below(3) {
                mutate_json(rng, &mut payload, 0);
            }
        }
        payload
    }

    /// An interaction form body (`payload=<json>`).
    fn interaction(&self, rng: &mut Rng) -> Vec<u8> {
        if rng.chance(1, 20) {
            return self.other_body(rng);
        }
        let payload = self.interaction_payload(rng);
        let mut json_text = payload.to_string();
        if rng.chance(1, 200) {
            json_text = monster_json(rng, &json_text);
        } else if rng.chance(1, 10) {
            let mut bytes = json_text.into_bytes();
            mutate_bytes(rng, &mut bytes, &self.corpus);
            json_text = String::from_utf8_lossy(&bytes).into_owned();
        }
        let mut fields = vec![("payload".to_string(), json_text)];
        if rng.chance(1, 10) {
            fields.insert(rng.below(2), (rng.pick(KEYS).to_string(), text(rng)));
        }
        let mut body = encode_form(rng, &fields);
        if rng.chance(1, 10) {
            mutate_bytes(rng, &mut body, &self.corpus);
        }
        body
    }

    /// An Events API body.
    fn event(&self, rng: &mut Rng) -> Vec<u8> {
        if rng.chance(1, 20) {
            return self.other_body(rng);
        }
        let mut envelope = rng.pick(&self.events).clone();
        if rng.chance(1, 2) {
            envelope["type"] = json!(rng.pick(ENVELOPE_TYPES));
            envelope["event"]["type"] = json!(rng.pick(EVENT_TYPES));
            envelope["event"]["reaction"] = json!(text(rng));
            envelope["event"]["user"] = json!(rng.pick(&["U0OTHER001", "U0INTAKE01", ""]));
            envelope["event"]["item"]["type"] = json!(rng.pick(&["message", "file", "file_comment", ""]));
            envelope["challenge"] = json!(text(rng));
            if rng.chance(1, 3) {
                envelope["authorizations"] = odd_value(rng);
            }
        }
        for _ in 0..rng.below(4) {
            mutate_json(rng, &mut envelope, 0);
        }
        let mut body = envelope.to_string();
        if rng.chance(1, 200) {
            body = monster_json(rng, &body);
        }
        if rng.chance(1, 20) {
            // A key twice: serde takes the first for some types and refuses others.
            body = body.replacen('{', &format!("{{\"type\":{},", json!(rng.pick(ENVELOPE_TYPES))), 1);
        }
        let mut body = body.into_bytes();
        if rng.chance(1, 4) {
            mutate_bytes(rng, &mut body, &self.corpus);
        }
        body
    }
}

/// A signed request as the HTTP layer sees it.
struct SignedRequest {
    headers: HeaderMap,
    body: Vec<u8>,
}

fn hmac_hex(secret: &str, ts: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(ts.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

fn signed_request(seeds: &Seeds, rng: &mut Rng) -> SignedRequest {
    let mut body = match rng.below(8) {
        0 => seeds.command(rng),
        1 => seeds.interaction(rng),
        2 => seeds.event(rng),
        3 => random_bytes(rng),
        4 if rng.chance(1, 100) => vec![b'a'; rng.below(MAX_BODY)],
        4 => Vec::new(),
        _ => rng.pick(&seeds.corpus).clone(),
    };
    let now = now_ts();
    // Fresh is well inside the five minutes and stale well outside, so the
    // clock ticking during the run changes no verdict.
    let ts = match rng.below(12) {
        0..=5 => (now - 250 + rng.below(500) as i64).to_string(),
        6 => (now - 310 - rng.below(10_000_000) as i64).to_string(),
        7 => (now + 310 + rng.below(10_000_000) as i64).to_string(),
        // Where `now - ts` overflows an i64.
        8 => {
            let wrap = now.wrapping_sub(i64::MIN).wrapping_add(rng.below(3) as i64 - 1);
            rng.pick(&[i64::MIN, i64::MAX, i64::MIN + 1, wrap, -now, 0, -1])
                .to_string()
        }
        9 => format!("{}{now}", rng.pick(&["+", "0", "00", " ", "-", "0x", "١"])),
        10 => format!("{now}{}", rng.pick(&[".0", " ", "e0", "0", "\t", "\u{0}"])),
        _ => text(rng),
    };
    let secret = if rng.chance(1, 20) { "not-the-secret" } else { SECRET };
    let mut signature = hmac_hex(secret, &ts, &body);
    match rng.below(16) {
        0 => signature = signature.to_uppercase(),
        1 => signature = signature.replacen("v0=", "v1=", 1),
        2 => signature.truncate(rng.below(signature.len())),
        3 => signature.push(*rng.pick(&['0', ' ', 'x'])),
        4 => signature = text(rng),
        // Signed, then changed on the way.
        5 => {
            let before = body.clone();
            mutate_bytes(rng, &mut body, &seeds.corpus);
            if body == before {
                body.push(b' ');
            }
        }
        _ => {}
    }
    let mut headers = HeaderMap::new();
    let mut add = |name: &'static str, value: &[u8]| {
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    };
    match rng.below(20) {
        0 => {}
        1 => add(TIMESTAMP_HEADER, ts.as_bytes()),
        2 => add(SIGNATURE_HEADER, signature.as_bytes()),
        // Not ASCII: readable as bytes, not as text.
        3 => {
            add(TIMESTAMP_HEADER, ts.as_bytes());
            add(SIGNATURE_HEADER, &[signature.as_bytes(), b"\xe9"].concat());
        }
        // Twice: the first is the one read.
        4 => {
            let forged = hmac_hex("not-the-secret", &ts, &body);
            let (first, second) = if rng.chance(1, 2) {
                (&signature, &forged)
            } else {
                (&forged, &signature)
            };
            add(TIMESTAMP_HEADER, ts.as_bytes());
            add(SIGNATURE_HEADER, first.as_bytes());
            add(SIGNATURE_HEADER, second.as_bytes());
        }
        _ => {
            add(TIMESTAMP_HEADER, ts.as_bytes());
            add(SIGNATURE_HEADER, signature.as_bytes());
        }
    }
    SignedRequest { headers, body }
}

/// Whether Slack's rules accept the request, worked out independently of
/// the code under test: both headers, text, a decimal timestamp within five
/// minutes of now, the body UTF-8 (Slack sends nothing else) and the
/// signature exactly `v0=` + lower-case hex of the HMAC.
fn should_accept(request: &SignedRequest, now: i64) -> bool {
    let header = |name| request.headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(signature), Some(ts)) = (header(SIGNATURE_HEADER), header(TIMESTAMP_HEADER)) else {
        return false;
    };
    let Ok(at) = ts.parse::<i64>() else {
        return false;
    };
    (i128::from(now) - i128::from(at)).abs() <= 300
        && std::str::from_utf8(&request.body).is_ok()
        && signature == hmac_hex(SECRET, ts, &request.body)
}

/// What one input did.
enum Outcome {
    /// Taken, as this kind of input (counted, to show what was reached).
    Accepted(&'static str),
    Rejected,
    /// A property broke; what broke.
    Violation(String),
}

#[derive(Default)]
struct Tally {
    inputs: u64,
    accepted: u64,
    rejected: u64,
    panics: u64,
    violations: u64,
    /// Time spent in the code under test.
    busy: Duration,
    first_panic: Option<String>,
    first_violation: Option<String>,
    /// Accepted inputs by kind.
    kinds: std::collections::BTreeMap<&'static str, u64>,
}

thread_local! {
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `check` on `cases` generated inputs, catching panics.
fn run<T>(
    name: &str,
    cases: u64,
    seed: u64,
    mut generate: impl FnMut(&mut Rng) -> T,
    check: impl Fn(&T) -> Outcome,
    bytes: impl Fn(&T) -> Vec<u8>,
) -> Tally {
    // Every target gets its own stream, so `--only` reproduces a full run.
    let mut rng = Rng(seed
        ^ name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        }));
    let mut tally = Tally::default();
    let save = |i: u64, input: &T| {
        let path = std::env::temp_dir().join(format!("intake-fuzz-{name}-{i}.bin"));
        match std::fs::write(&path, bytes(input)) {
            Ok(()) => path.display().to_string(),
            Err(e) => format!("(not saved: {e})"),
        }
    };
    for i in 0..cases {
        let input = generate(&mut rng);
        let started = Instant::now();
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| check(&input)));
        tally.busy += started.elapsed();
        tally.inputs += 1;
        match outcome {
            Ok(Outcome::Accepted(kind)) => {
                tally.accepted += 1;
                *tally.kinds.entry(kind).or_default() += 1;
            }
            Ok(Outcome::Rejected) => tally.rejected += 1,
            Ok(Outcome::Violation(what)) => {
                tally.violations += 1;
                if tally.first_violation.is_none() {
                    tally.first_violation = Some(format!("input {i}: {what}; saved to {}", save(i, &input)));
                }
            }
            Err(_) => {
                tally.panics += 1;
                if tally.first_panic.is_none() {
                    let message = PANIC.with(|p| p.borrow_mut().take()).unwrap_or_default();
                    tally.first_panic = Some(format!("input {i}: {message}; saved to {}", save(i, &input)));
                }
            }
        }
    }
    tally
}

/// No raw `<` or `>`, and every `&` starts `&amp;`, `&lt;` or `&gt;`.
fn only_entities(escaped: &str) -> bool {
    escaped.char_indices().all(|(i, c)| match c {
        '<' | '>' => false,
        '&' => ["&amp;", "&lt;", "&gt;"].iter().any(|e| escaped[i..].starts_with(e)),
        _ => true,
    })
}

/// What a reader of the escaped text sees: the entities read back.
fn unescape(escaped: &str) -> String {
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped;
    while let Some(c) = rest.chars().next() {
        let (piece, len) = [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>')]
            .iter()
            .find(|(e, _)| rest.starts_with(e))
            .map_or((c, c.len_utf8()), |(e, c)| (*c, e.len()));
        out.push(piece);
        rest = &rest[len..];
    }
    out
}

/// Slack's special sequences, none of which user text may produce.
fn has_mention(s: &str) -> bool {
    ["<!channel>", "<!here>", "<!everyone>", "<@", "<#", "<!subteam"]
        .iter()
        .any(|m| s.contains(m))
}

/// The escaping invariants for one piece of user text.
fn check_escape(s: &str, max: usize) -> Outcome {
    let escaped = render::escape(s);
    if !only_entities(&escaped) || has_mention(&escaped) {
        return Outcome::Violation(format!("escape left markup: {escaped:?}"));
    }
    if unescape(&escaped) != s {
        return Outcome::Violation("escape lost or changed text".into());
    }
    if render::escaped_len(s) != escaped.chars().count() {
        return Outcome::Violation("escaped_len disagrees with escape".into());
    }
    let cut = render::escape_truncated(s, max);
    let fits = escaped.chars().count() <= max;
    let prefix_ok = cut == escaped || cut.strip_suffix('…').is_some_and(|kept| escaped.starts_with(kept));
    if !only_entities(&cut) || cut.chars().count() > max || !prefix_ok || (fits && cut != escaped) {
        return Outcome::Violation(format!("escape_truncated({max}) broke: {cut:?}"));
    }
    let lines = render::escape_truncated_markup(&escaped, max);
    if !only_entities(&lines) || lines.chars().count() > max {
        return Outcome::Violation(format!("escape_truncated_markup({max}) broke: {lines:?}"));
    }
    // A link in `<…>` (a tracker URL): no way out of the brackets and no
    // label of its own.
    let link = render::tracker_link(&Tracker::Url(s.to_string()));
    let inner = link.strip_prefix('<').and_then(|l| l.strip_suffix('>'));
    if !inner.is_some_and(|inner| only_entities(inner) && !inner.contains('|')) {
        return Outcome::Violation(format!("tracker link escapes its brackets: {link:?}"));
    }
    if let Ok(tracker) = Tracker::parse(s) {
        let shown = render::tracker_link(&tracker);
        if has_mention(&shown) || shown.matches('<').count() > 1 {
            return Outcome::Violation(format!("a parsed tracker shows markup: {shown:?}"));
        }
    }
    match (escaped == s, cut.ends_with('…')) {
        (true, _) => Outcome::Rejected,
        (false, true) => Outcome::Accepted("escaped and cut"),
        (false, false) => Outcome::Accepted("escaped whole"),
    }
}

fn settings() -> Settings {
    let env: HashMap<String, String> = [
        ("SLACK_BOT_TOKEN", "xoxb-bench"),
        ("SLACK_SIGNING_SECRET", SECRET),
        ("INTAKE__DATABASE__URL", "sqlite::memory:"),
        ("INTAKE__SLACK__API_URL", "http://127.0.0.1:9/api"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    Settings::validate(load_raw(None, &env).expect("config")).expect("valid config")
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn main() {
    let cases: u64 = arg("--cases").map_or(1_000_000, |n| n.parse().expect("--cases takes a number"));
    let seed: u64 = arg("--seed").map_or(0x1a7a_4e5e_ed00_0014, |s| s.parse().expect("--seed takes a number"));
    let only = arg("--only").unwrap_or_else(|| TARGETS.join(","));
    for name in only.split(',') {
        assert!(TARGETS.contains(&name), "--only takes some of {}", TARGETS.join(","));
    }
    // Panics are counted, not printed a million times.
    panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| l.to_string()).unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        PANIC.with(|p| *p.borrow_mut() = Some(format!("{message} at {at}")));
    }));
    let worker = std::thread::Builder::new()
        .name("fuzz".into())
        .stack_size(STACK)
        .spawn(move || fuzz(cases, seed, &only))
        .expect("thread");
    let failed = worker.join().unwrap_or(true);
    if failed {
        std::process::exit(1);
    }
}

/// Runs the chosen targets and prints their lines; true if any failed.
fn fuzz(cases: u64, seed: u64, only: &str) -> bool {
    let seeds = Seeds::load();
    let settings = settings();
    let severities = &settings.policy.severities;
    let today = settings.today(Utc::now());
    let form = RequestForm::new(severities, settings.default_severity.as_str(), &settings.teams);
    let verifier = Verifier::new(SECRET);
    let body = |b: &Vec<u8>| b.clone();
    println!(
        "Property tests at volume: {cases} inputs per target, seed {seed}, {} KiB stack",
        STACK >> 10
    );
    let mut failed = false;
    for name in only.split(',') {
        let started = Instant::now();
        let tally = match name {
            "signature" => run(
                name,
                cases,
                seed,
                |rng| signed_request(&seeds, rng),
                |request| {
                    let verdict = verifier.verify(&request.headers, &request.body).is_ok();
                    match (verdict, should_accept(request, now_ts())) {
                        (true, true) => Outcome::Accepted("signed and fresh"),
                        (false, false) => Outcome::Rejected,
                        (true, false) => Outcome::Violation(format!(
                            "accepted a request Slack's rules refuse (timestamp {:?})",
                            request.headers.get(TIMESTAMP_HEADER)
                        )),
                        (false, true) => Outcome::Violation("refused a correctly signed, fresh request".into()),
                    }
                },
                |request| {
                    let mut out = format!("{:?}\n\n", request.headers).into_bytes();
                    out.extend_from_slice(&request.body);
                    out
                },
            ),
            "command" => run(
                name,
                cases,
                seed,
                |rng| seeds.command(rng),
                |b| match inbound::command(b) {
                    Err(_) => Outcome::Rejected,
                    Ok(command) => {
                        // What `/request <words>` does next: splice the words
                        // into the `views.open` body.
                        if let CommandIntent::OpenForm { title } = &command.intent {
                            let opened = form.open_body(
                                &command.trigger_id,
                                title,
                                &command.channel,
                                command.channel_name.as_deref(),
                            );
                            let parsed: Option<Value> = serde_json::from_str(&opened).ok();
                            let metadata = parsed
                                .as_ref()
                                .and_then(|v| v["view"]["private_metadata"].as_str())
                                .and_then(|m| serde_json::from_str::<Value>(m).ok());
                            let round_trips = parsed.as_ref().is_some_and(|v| v["trigger_id"] == *command.trigger_id)
                                && metadata.is_some_and(|m| m["channel_id"] == *command.channel);
                            if !round_trips {
                                return Outcome::Violation("the views.open body is not the JSON we meant".into());
                            }
                        }
                        Outcome::Accepted(match command.intent {
                            CommandIntent::OpenForm { .. } => "form opened",
                            CommandIntent::Help => "help",
                            CommandIntent::Mine | CommandIntent::Queue => "list",
                            CommandIntent::Status(_) => "status",
                            CommandIntent::Who(_) => "who",
                        })
                    }
                },
                body,
            ),
            "interaction" => run(
                name,
                cases,
                seed,
                |rng| seeds.interaction(rng),
                |b| match inbound::interaction(b) {
                    Err(_) => Outcome::Rejected,
                    Ok(interaction) => {
                        // The pure steps the use cases take next.
                        Outcome::Accepted(match &interaction {
                            Interaction::SubmitRequest(submission) => {
                                match NewRequest::validate(&submission.form, &submission.user, severities) {
                                    Ok(_) => "request form valid",
                                    Err(_) => "request form refused",
                                }
                            }
                            Interaction::SubmitStep(submission) => match submission.event(today) {
                                Ok(_) => "step form valid",
                                Err(_) => "step form refused",
                            },
                            Interaction::Click(click) if click.action.is_ok() => "click",
                            Interaction::Click(_) => "click, unknown control",
                            Interaction::SubmitEdit(edit) => {
                                match NewRequest::validate(&edit.form, &edit.user, severities) {
                                    Ok(_) => "edit form valid",
                                    Err(_) => "edit form refused",
                                }
                            }
                            Interaction::FileMessage(_) => "message shortcut",
                            Interaction::Other => "other",
                        })
                    }
                },
                body,
            ),
            "event" => run(
                name,
                cases,
                seed,
                |rng| seeds.event(rng),
                |b| {
                    let parsed = inbound::event(b);
                    // The reaction worker reads the stored body again.
                    if let Ok(text) = std::str::from_utf8(b) {
                        let _ = ReactionEnvelope::parse(text).map(|e| e.event.message());
                    }
                    match parsed {
                        Err(_) => Outcome::Rejected,
                        Ok(EventEnvelope::UrlVerification { challenge }) => {
                            let answer = render::replies::url_challenge(&challenge);
                            if answer["challenge"] != *challenge {
                                return Outcome::Violation("the challenge is not echoed".into());
                            }
                            Outcome::Accepted("url_verification")
                        }
                        Ok(EventEnvelope::EventCallback {
                            event, authorizations, ..
                        }) => {
                            let bot = inbound::bot_user(&authorizations);
                            let Some(reaction) = Reaction::from_event(&event) else {
                                return Outcome::Accepted("other callback");
                            };
                            let _ = (reaction.added(), bot == Some(reaction.user.as_str()));
                            let _ = intake::domain::escalation::base_emoji(&reaction.reaction);
                            Outcome::Accepted(match reaction.message() {
                                Some(_) => "reaction on a message",
                                None => "reaction elsewhere",
                            })
                        }
                        Ok(EventEnvelope::Other) => Outcome::Accepted("other envelope"),
                    }
                },
                body,
            ),
            "escape" => run(
                name,
                cases,
                seed,
                |rng| {
                    let s = if rng.chance(1, 10) {
                        String::from_utf8_lossy(&random_bytes(rng)).into_owned()
                    } else {
                        text(rng)
                    };
                    let max = match rng.below(3) {
                        0 => 1 + rng.below(8),
                        1 => 1 + rng.below(render::escaped_len(&s) + 8),
                        _ => *rng.pick(&[300, 1200, 1500, render::SECTION_TEXT_MAX]),
                    };
                    (s, max)
                },
                |(s, max)| check_escape(s, *max),
                |(s, max)| format!("max {max}\n{s}").into_bytes(),
            ),
            _ => unreachable!("checked above"),
        };
        let wall = started.elapsed();
        // Escaping refuses nothing: its split is text it changed or left alone.
        let (yes, no) = match name {
            "escape" => ("escaped", "unchanged"),
            _ => ("accepted", "rejected"),
        };
        println!(
            "{name:<12} inputs {:>9}  {yes} {:>9}  {no} {:>9}  panics {}  violations {}  time {:.1} s ({:.1} s in the code under test, {:.2} µs/input)",
            tally.inputs,
            tally.accepted,
            tally.rejected,
            tally.panics,
            tally.violations,
            wall.as_secs_f64(),
            tally.busy.as_secs_f64(),
            tally.busy.as_secs_f64() * 1e6 / tally.inputs.max(1) as f64,
        );
        let kinds: Vec<String> = tally.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!("    {yes}: {}", kinds.join(", "));
        for first in [&tally.first_panic, &tally.first_violation].into_iter().flatten() {
            println!("    first: {first}");
        }
        failed |= tally.panics > 0 || tally.violations > 0;
    }
    if failed {
        println!("FAILED: a panic or a broken property (inputs saved as shown)");
    }
    failed
}
