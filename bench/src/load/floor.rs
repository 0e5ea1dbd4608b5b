//! The floor: the least a correct Slack handler can do. It reads the body,
//! verifies the Slack signature and timestamp, makes one pooled Web API
//! call (`views.open`) to the fake Slack and answers 200 with no body.
//! Intake's throughput is reported as a ratio to this.
//!
//! It runs as its own process (the load binary started again with
//! `--serve-floor`), like intake, so both pay the same process boundary
//! and neither shares the load generator's runtime.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode, Uri};

use testkit::signing;

use super::generator::{HttpClient, http_client};
use super::server;

const VIEW: &str = r#"{"trigger_id":"1337.42.abcdef0123456789","view":{"type":"modal","callback_id":"new_request","title":{"type":"plain_text","text":"New request"},"blocks":[]}}"#;

struct Floor {
    secret: String,
    views_open: Uri,
    client: HttpClient,
}

/// Serves the floor on 127.0.0.1:0; returns its base URL.
pub async fn serve(secret: &str, slack_api_url: &str) -> String {
    let views_open = format!("{slack_api_url}views.open")
        .parse()
        .expect("the fake Slack URL is a valid URI");
    let floor = Arc::new(Floor {
        secret: secret.to_owned(),
        views_open,
        client: http_client(),
    });
    let addr = server::spawn("floor", move |request| handle(Arc::clone(&floor), request)).await;
    format!("http://{addr}")
}

async fn handle(floor: Arc<Floor>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let Ok(body) = body.collect().await.map(|c| c.to_bytes()) else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    if !signing::verify(&floor.secret, &parts.headers, &body) {
        return Ok(status(StatusCode::UNAUTHORIZED));
    }
    Ok(status(open_view(&floor).await))
}

/// One `views.open` through the shared pool; 200 when Slack said 200.
async fn open_view(floor: &Floor) -> StatusCode {
    let call = Request::post(floor.views_open.clone())
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .header(AUTHORIZATION, "Bearer xoxb-bench")
        .body(Full::new(Bytes::from_static(VIEW.as_bytes())))
        .expect("a static request is valid");
    match floor.client.request(call).await {
        Ok(answer) if answer.status().is_success() => match answer.into_body().collect().await {
            Ok(_) => StatusCode::OK,
            Err(_) => StatusCode::BAD_GATEWAY,
        },
        _ => StatusCode::BAD_GATEWAY,
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}

/// The floor as a child process: this binary again, with `--serve-floor`.
pub struct FloorProcess {
    child: std::process::Child,
    pub base: String,
}

/// The flag that makes the load binary serve the floor instead.
pub const SERVE_FLAG: &str = "--serve-floor";

impl FloorProcess {
    /// Starts the floor process and reads the base URL it prints.
    pub fn start(slack_api_url: &str) -> FloorProcess {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let exe = std::env::current_exe().expect("the path of the running bench binary");
        let mut child = Command::new(exe)
            .arg(SERVE_FLAG)
            .arg(slack_api_url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the floor process");
        let stdout = child.stdout.take().expect("a piped stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the floor's address");
        assert!(line.starts_with("http://"), "the floor printed {line:?}, not its URL");
        FloorProcess {
            child,
            base: line.trim().to_owned(),
        }
    }
}

impl Drop for FloorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child's side: serve, print the URL, and exit when the parent closes
/// our stdin (it ended or died), so no floor outlives its run.
pub async fn serve_until_parent_exits(secret: &str, slack_api_url: &str) {
    use tokio::io::AsyncReadExt;
    let base = serve(secret, slack_api_url).await;
    println!("{base}");
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
}
