//! A fake of Slack's Socket Mode server: a WebSocket server on 127.0.0.1
//! (`ws://`, random port). [`FakeSlack::set_socket_url`] makes the fake Web
//! API's `apps.connections.open` hand out its URL.
//!
//! Like Slack, it greets each connection with `hello`, then re-delivers
//! every envelope not yet acked, `retry_attempt` counted up. A test pushes
//! envelopes (built from `samples/socket-mode/`) to the newest connection
//! and awaits their acks; it can make an ack "lost" (received, but the
//! envelope stays un-acked, so it is re-delivered), send `disconnect`, or
//! drop the connection without a close frame.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::Message;

use crate::app::{Parts, TestApp, test_config};
use crate::{FakeSlack, SUBMITTER, TestDb, sample_json};

/// The app-level token the socket tests configure.
pub const APP_TOKEN: &str = "xapp-1-A0INTAKE01-1234567890-test";

/// Upper bound on waits: a guard against hanging, not a timing assertion.
const WAIT_BOUND: Duration = Duration::from_secs(20);
const POLL_EVERY: Duration = Duration::from_millis(10);

enum Command {
    Send(String),
    /// Close the TCP connection without a close frame.
    Drop,
}

#[derive(Default)]
struct State {
    /// Connections greeted with `hello`, in order.
    opened: usize,
    /// Connections the client ended with a close frame.
    closed_by_client: usize,
    /// The newest connection's number and commands.
    current: Option<(usize, mpsc::UnboundedSender<Command>)>,
    /// Every ack received, in arrival order.
    acks: Vec<Value>,
    /// Envelopes sent and not acked, oldest first: re-delivered on connect.
    unacked: Vec<Value>,
    /// Envelope ids whose next ack is lost.
    lose: HashSet<String>,
}

impl State {
    fn acks_of(&self, envelope_id: &str) -> Vec<Value> {
        self.acks
            .iter()
            .filter(|a| a["envelope_id"] == envelope_id)
            .cloned()
            .collect()
    }
}

pub struct FakeSocket {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    server: JoinHandle<()>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeSocket {
    /// Binds 127.0.0.1:0 and serves until dropped.
    pub async fn start() -> FakeSocket {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake Socket Mode: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake Socket Mode: local address");
        let state = Arc::new(Mutex::new(State::default()));
        let server = tokio::spawn(serve(listener, Arc::clone(&state)));
        FakeSocket { addr, state, server }
    }

    /// `ws://127.0.0.1:PORT/link/` (the fake Web API adds `?ticket=`).
    pub fn url(&self) -> String {
        format!("ws://{}/link/", self.addr)
    }

    /// Connections greeted so far.
    pub fn connections(&self) -> usize {
        lock(&self.state).opened
    }

    /// Waits until `n` connections have been greeted (and sent what they
    /// had to re-deliver).
    pub async fn wait_connected(&self, n: usize) {
        self.wait_until(&format!("{n} connection(s)"), |s| s.opened >= n).await;
    }

    /// Waits until the client has closed `n` connections with a close frame.
    pub async fn wait_closed_by_client(&self, n: usize) {
        self.wait_until(&format!("{n} connection(s) closed by the client"), |s| {
            s.closed_by_client >= n
        })
        .await;
    }

    /// Sends `envelope` on the newest connection; it stays un-acked (and is
    /// re-delivered on the next connection) until its ack arrives. Returns
    /// its `envelope_id`.
    pub fn send(&self, envelope: &Value) -> String {
        let id = envelope["envelope_id"].as_str().unwrap_or_default().to_owned();
        let mut state = lock(&self.state);
        if !id.is_empty() {
            state.unacked.push(envelope.clone());
        }
        let (_, commands) = state.current.as_ref().expect("fake Socket Mode: no open connection");
        commands
            .send(Command::Send(envelope.to_string()))
            .expect("fake Socket Mode: the connection is gone");
        id
    }

    /// [`FakeSocket::send`], but its first ack is lost: Slack never sees
    /// it, so the envelope is re-delivered when the client reconnects.
    pub fn send_losing_ack(&self, envelope: &Value) -> String {
        let id = envelope["envelope_id"].as_str().expect("an envelope_id").to_owned();
        lock(&self.state).lose.insert(id);
        self.send(envelope)
    }

    /// Sends a text frame as is (say, one that is not JSON).
    pub fn send_raw(&self, text: &str) {
        let state = lock(&self.state);
        let (_, commands) = state.current.as_ref().expect("fake Socket Mode: no open connection");
        let _ = commands.send(Command::Send(text.to_owned()));
    }

    /// Slack's `disconnect` (the sample: `refresh_requested`).
    pub fn disconnect(&self) {
        self.send_raw(&sample_json("socket-mode/disconnect.json").to_string());
    }

    /// Drops the newest connection without a close frame.
    pub fn drop_connection(&self) {
        let state = lock(&self.state);
        let (_, commands) = state.current.as_ref().expect("fake Socket Mode: no open connection");
        let _ = commands.send(Command::Drop);
    }

    /// The first ack of `envelope_id`, waiting for it.
    pub async fn ack(&self, envelope_id: &str) -> Value {
        self.acks(envelope_id, 1).await.remove(0)
    }

    /// The first `n` acks of `envelope_id`, waiting for them.
    pub async fn acks(&self, envelope_id: &str, n: usize) -> Vec<Value> {
        self.wait_until(&format!("{n} ack(s) of {envelope_id}"), |s| {
            s.acks_of(envelope_id).len() >= n
        })
        .await;
        let mut acks = lock(&self.state).acks_of(envelope_id);
        acks.truncate(n);
        acks
    }

    /// Every ack received so far.
    pub fn all_acks(&self) -> Vec<Value> {
        lock(&self.state).acks.clone()
    }

    async fn wait_until(&self, what: &str, done: impl Fn(&State) -> bool) {
        let deadline = Instant::now() + WAIT_BOUND;
        loop {
            {
                let state = lock(&self.state);
                if done(&state) {
                    return;
                }
                if Instant::now() >= deadline {
                    panic!(
                        "fake Socket Mode: no {what} within {WAIT_BOUND:?}; {} connection(s), acks: {:?}",
                        state.opened, state.acks
                    );
                }
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
}

impl Drop for FakeSocket {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Connections live in a `JoinSet` owned by this task, so aborting it
/// closes them too.
async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(POLL_EVERY).await;
            continue;
        };
        while connections.try_join_next().is_some() {}
        connections.spawn(connection(stream, Arc::clone(&state)));
    }
}

async fn connection(stream: TcpStream, state: Arc<Mutex<State>>) {
    let Ok(socket) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut frames) = socket.split();
    let (commands, mut incoming) = mpsc::unbounded_channel();
    // Hello, then what Slack still waits an ack for, counted as a retry.
    let redeliver: Vec<Value> = {
        let mut state = lock(&state);
        for envelope in &mut state.unacked {
            let attempt = envelope["retry_attempt"].as_u64().unwrap_or(0) + 1;
            envelope["retry_attempt"] = json!(attempt);
            envelope["retry_reason"] = json!("timeout");
        }
        state.unacked.clone()
    };
    let hello = sample_json("socket-mode/hello.json").to_string();
    for text in std::iter::once(hello).chain(redeliver.iter().map(Value::to_string)) {
        if sink.send(Message::text(text)).await.is_err() {
            return;
        }
    }
    let number = {
        let mut state = lock(&state);
        state.opened += 1;
        state.current = Some((state.opened, commands));
        state.opened
    };
    loop {
        tokio::select! {
            command = incoming.recv() => match command {
                Some(Command::Send(text)) => {
                    if sink.send(Message::text(text)).await.is_err() {
                        break;
                    }
                }
                Some(Command::Drop) | None => break,
            },
            frame = frames.next() => match frame {
                Some(Ok(Message::Text(text))) => received(&state, text.as_str()),
                Some(Ok(Message::Close(_))) => {
                    lock(&state).closed_by_client += 1;
                    break;
                }
                // Pings are answered by the WebSocket library.
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
        }
    }
    let mut state = lock(&state);
    if state.current.as_ref().is_some_and(|(n, _)| *n == number) {
        state.current = None;
    }
}

/// An ack from the client: recorded; the envelope settled unless its ack
/// is to be lost.
fn received(state: &Mutex<State>, text: &str) {
    let ack: Value = serde_json::from_str(text).unwrap_or_else(|_| json!({"unreadable": text}));
    let mut state = lock(state);
    if let Some(id) = ack["envelope_id"].as_str().map(str::to_owned)
        && !state.lose.remove(&id)
    {
        state.unacked.retain(|e| e["envelope_id"] != id.as_str());
    }
    state.acks.push(ack);
}

fn envelope_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A `slash_commands` envelope: `/request <text>` typed by `user`, with a
/// fresh envelope id and trigger id.
pub fn slash_command(text: &str, user: &str) -> Value {
    let mut envelope = sample_json("socket-mode/slash_commands.json");
    envelope["envelope_id"] = json!(envelope_id());
    envelope["payload"]["text"] = json!(text);
    envelope["payload"]["user_id"] = json!(user);
    envelope["payload"]["trigger_id"] = json!(format!("1337.42.{}", uuid::Uuid::new_v4().simple()));
    envelope
}

/// An `interactive` envelope carrying `payload` (say, [`crate::Form::payload`]).
pub fn interactive(payload: Value) -> Value {
    let mut envelope = sample_json("socket-mode/interactive.json");
    envelope["envelope_id"] = json!(envelope_id());
    envelope["payload"] = payload;
    envelope
}

/// An `events_api` envelope: `user` reacts with `emoji` to the message
/// `item` (channel, ts), as event `event_id`.
pub fn reaction(user: &str, emoji: &str, item: (&str, &str), event_id: &str) -> Value {
    let mut envelope = sample_json("socket-mode/events_api.json");
    envelope["envelope_id"] = json!(envelope_id());
    let callback = &mut envelope["payload"];
    callback["event_id"] = json!(event_id);
    callback["event"]["user"] = json!(user);
    callback["event"]["reaction"] = json!(emoji);
    callback["event"]["item"]["channel"] = json!(item.0);
    callback["event"]["item"]["ts"] = json!(item.1);
    envelope
}

/// `/request <text>` by the submitter.
pub fn request_command(text: &str) -> Value {
    slash_command(text, SUBMITTER)
}

/// intake in Socket Mode: a fake Web API whose `apps.connections.open`
/// points at a [`FakeSocket`], the app token set (transport `auto` picks
/// Socket Mode), no signing secret. Returns once the first connection is
/// greeted.
pub async fn spawn_socket_app() -> (TestApp, FakeSlack, FakeSocket, TestDb) {
    let slack = FakeSlack::start().await;
    let socket = FakeSocket::start().await;
    slack.set_socket_url(&socket.url());
    let db = TestDb::new().await;
    let mut config = test_config(&db, &slack);
    config.slack.app_token = SecretString::from(APP_TOKEN);
    config.slack.signing_secret = SecretString::from("");
    let parts = Parts {
        dispatcher: true,
        scheduler: false,
    };
    let app = TestApp::start(config, parts).await;
    socket.wait_connected(1).await;
    (app, slack, socket, db)
}
