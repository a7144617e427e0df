//! Test kit: start the real `tapak` binary on 127.0.0.1:0 with a temporary data dir, talk to it over HTTP, and run a
//! fake Graph API / gateway on loopback (the only simulated party is WhatsApp itself).
#![allow(dead_code)]

pub mod appliance;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const APP_SECRET: &str = "9f8e7d6c5b4a39281706f5e4d3c2b1a0";
pub const VERIFY_TOKEN: &str = "tapak-verify-7f3a";
pub const ACCESS_TOKEN: &str = "test-access-token";

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

pub fn read_fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tapak")
}

pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(body);
    format!("sha256={}", hex::encode(m.finalize().into_bytes()))
}

/// A running `tapak serve`.
pub struct Server {
    pub child: Option<Child>,
    pub url: String,
    pub data: PathBuf,
    pub config: PathBuf,
    _dir: Option<tempfile::TempDir>,
    pub stderr: Arc<Mutex<String>>,
}

pub fn default_config(graph_base: &str) -> String {
    format!(
        r#"
[whatsapp.cloud]
verify_token = "{VERIFY_TOKEN}"
app_secret = "{APP_SECRET}"
access_token = "{ACCESS_TOKEN}"
phone_number_id = "109876543210987"
graph_base_url = "{graph_base}"

[evidence]
max_attempts = 3
"#
    )
}

impl Server {
    pub fn start(config: &str) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let cfg = dir.path().join("config.toml");
        std::fs::write(&cfg, config).unwrap();
        let mut s = Server {
            child: None,
            url: String::new(),
            data,
            config: cfg,
            _dir: Some(dir),
            stderr: Arc::new(Mutex::new(String::new())),
        };
        s.spawn(&[]);
        s
    }

    pub fn start_demo(config: &str) -> Server {
        let mut s = Server::start(config);
        s.stop();
        s.spawn(&["--demo"]);
        s
    }

    /// Runs a CLI command against this server's data dir and config.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> std::process::Output {
        let mut c = Command::new(bin());
        c.arg("--data")
            .arg(&self.data)
            .arg("--config")
            .arg(&self.config)
            .args(args);
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        } else {
            drop(child.stdin.take());
        }
        child.wait_with_output().unwrap()
    }

    pub fn spawn(&mut self, extra: &[&str]) {
        let mut c = Command::new(bin());
        c.arg("--data")
            .arg(&self.data)
            .arg("--config")
            .arg(&self.config)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .env("TAPAK_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().expect("start tapak");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = self.stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = log.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = String::new();
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
            // keep draining
            let mut sink = String::new();
            while r.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("tapak did not print its URL; stderr:\n{}", self.log()));
        let url = line.trim().to_string();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "first stdout line must be the URL, got {url:?}\n{}",
            self.log()
        );
        self.url = url;
        self.child = Some(child);
    }

    pub fn log(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Graceful stop (SIGTERM), waiting for exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    assert!(
                        status.success(),
                        "tapak exited with {status} on SIGTERM\n{}",
                        self.log()
                    );
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("tapak did not stop within 20 s of SIGTERM\n{}", self.log());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// kill -9.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn(&[]);
    }

    pub fn u(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// Creates a login and an API token with the given role; returns the token.
    pub fn token(&self, role: &str) -> String {
        let out = self.cli(
            &[
                "token",
                "create",
                "--name",
                &format!("test-{role}"),
                "--role",
                role,
            ],
            None,
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    pub fn add_user(&self, name: &str, role: &str, password: &str) {
        let out = self.cli(
            &["user", "add", name, "--role", role],
            Some(&format!("{password}\n")),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A client that opens a new connection for every request. For tests whose requests the server may answer before
/// reading their body (and then closes the connection): a pooled client can pick that connection just as it closes
/// and fail with "IncompleteMessage", a client-side race that is no finding about the server.
pub fn fresh_connection_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// POSTs a signed Cloud API webhook.
pub async fn post_cloud(c: &reqwest::Client, s: &Server, body: &[u8]) -> reqwest::Response {
    c.post(s.u("/webhooks/whatsapp"))
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sign(APP_SECRET, body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

pub async fn get_json(c: &reqwest::Client, url: &str, token: &str) -> (u16, serde_json::Value) {
    let r = c.get(url).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    let v = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, v)
}

/// Sends `body` as JSON with `method` (POST, PATCH…) and answers the status and the JSON reply.
pub async fn send_json(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let r = c
        .request(method, url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let v = r.json().await.unwrap_or(serde_json::Value::Null);
    (status, v)
}

/// Polls until `f` returns Some, or panics after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A real JPEG with some structure.
pub fn jpeg(w: u32, h: u32, seed: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            ((x * 3 + seed as u32) % 256) as u8,
            ((y * 2) % 256) as u8,
            ((x ^ y) % 256) as u8,
        ])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

/// A fake Meta Graph API: `GET /{version}/{media_id}` → JSON with a download URL on itself, then `GET /dl/{id}` → bytes.
/// Both require the bearer token. `fail_first` makes the first N lookups answer 500 (to test retries).
/// Downloads of ids starting `chunked-` come without a Content-Length; `cut-` sends half the bytes and drops the
/// connection once `release` is notified; `held-` sends half, then the rest once `release` is notified.
pub struct FakeGraph {
    pub url: String,
    pub hits: Arc<Mutex<Vec<String>>>,
    pub release: Arc<tokio::sync::Notify>,
    _task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct GraphState {
    media: Arc<Mutex<std::collections::HashMap<String, Vec<u8>>>>,
    hits: Arc<Mutex<Vec<String>>>,
    fail_first: Arc<Mutex<u32>>,
    base: Arc<Mutex<String>>,
    release: Arc<tokio::sync::Notify>,
}

impl FakeGraph {
    pub async fn start(media: Vec<(&str, Vec<u8>)>, fail_first: u32) -> FakeGraph {
        use axum::extract::{Path as AxPath, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::IntoResponse;
        let st = GraphState {
            media: Arc::new(Mutex::new(
                media.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            )),
            hits: Arc::new(Mutex::new(vec![])),
            fail_first: Arc::new(Mutex::new(fail_first)),
            base: Arc::new(Mutex::new(String::new())),
            release: Arc::new(tokio::sync::Notify::new()),
        };
        fn authed(h: &HeaderMap) -> bool {
            h.get("authorization").and_then(|v| v.to_str().ok())
                == Some(&format!("Bearer {ACCESS_TOKEN}"))
        }
        async fn lookup(
            State(st): State<GraphState>,
            h: HeaderMap,
            AxPath((_v, id)): AxPath<(String, String)>,
        ) -> axum::response::Response {
            st.hits.lock().unwrap().push(format!("lookup {id}"));
            if !authed(&h) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            {
                let mut f = st.fail_first.lock().unwrap();
                if *f > 0 {
                    *f -= 1;
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                }
            }
            let Some(bytes) = st.media.lock().unwrap().get(&id).cloned() else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let base = st.base.lock().unwrap().clone();
            axum::Json(serde_json::json!({
                "messaging_product": "whatsapp",
                "url": format!("{base}/dl/{id}"),
                "mime_type": "image/jpeg",
                "file_size": bytes.len().to_string(),
                "id": id,
            }))
            .into_response()
        }
        async fn download(
            State(st): State<GraphState>,
            h: HeaderMap,
            AxPath(id): AxPath<String>,
        ) -> axum::response::Response {
            st.hits.lock().unwrap().push(format!("download {id}"));
            if !authed(&h) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let Some(b) = st.media.lock().unwrap().get(&id).cloned() else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let half = b[..b.len() / 2].to_vec();
            let rest = b[b.len() / 2..].to_vec();
            let chunk = |v: Vec<u8>| Ok::<_, std::io::Error>(axum::body::Bytes::from(v));
            let body = if id.starts_with("chunked-") {
                axum::body::Body::from_stream(futures_util::stream::iter([
                    chunk(half),
                    chunk(rest),
                ]))
            } else if id.starts_with("cut-") {
                let release = st.release.clone();
                let cut = futures_util::stream::once(async move {
                    release.notified().await;
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "cut",
                    ))
                });
                axum::body::Body::from_stream(futures_util::StreamExt::chain(
                    futures_util::stream::iter([chunk(half)]),
                    cut,
                ))
            } else if id.starts_with("held-") {
                let release = st.release.clone();
                let later = futures_util::stream::once(async move {
                    release.notified().await;
                    chunk(rest)
                });
                axum::body::Body::from_stream(futures_util::StreamExt::chain(
                    futures_util::stream::iter([chunk(half)]),
                    later,
                ))
            } else {
                return b.into_response();
            };
            body.into_response()
        }
        let router = axum::Router::new()
            .route("/{version}/{id}", axum::routing::get(lookup))
            // Sends (texts and templates) are accepted and counted.
            .route(
                "/{version}/{id}/messages",
                axum::routing::post(|State(st): State<GraphState>, h: HeaderMap| async move {
                    st.hits.lock().unwrap().push("send".into());
                    if !authed(&h) {
                        return StatusCode::UNAUTHORIZED.into_response();
                    }
                    axum::Json(serde_json::json!({"messaging_product": "whatsapp", "messages": [{"id": "wamid.fake-send"}]}))
                        .into_response()
                }),
            )
            .route("/dl/{id}", axum::routing::get(download))
            .with_state(st.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        *st.base.lock().unwrap() = url.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeGraph {
            url,
            hits: st.hits.clone(),
            release: st.release.clone(),
            _task: task,
        }
    }
}

pub fn cookie_client() -> reqwest::Client {
    client();
    reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap()
}

/// A Cloud API group message payload (text or image with caption) — the only simulated party is Meta.
pub fn cloud_group_msg(
    id: &str,
    from: &str,
    name: &str,
    ts: i64,
    text: Option<&str>,
    image_media_id: Option<&str>,
    reply_to: Option<&str>,
) -> Vec<u8> {
    let mut msg = serde_json::json!({
        "from": from,
        "group_id": "Y2FwaV9ncm91cDpURVNUWkQ",
        "id": id,
        "timestamp": ts.to_string(),
    });
    match image_media_id {
        Some(mid) => {
            msg["type"] = "image".into();
            msg["image"] = serde_json::json!({"id": mid, "mime_type": "image/jpeg"});
            if let Some(t) = text {
                msg["image"]["caption"] = t.into();
            }
        }
        None => {
            msg["type"] = "text".into();
            msg["text"] = serde_json::json!({"body": text.unwrap_or("")});
        }
    }
    if let Some(r) = reply_to {
        msg["context"] = serde_json::json!({"from": from, "id": r});
    }
    serde_json::to_vec(&serde_json::json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "201234567890123", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "60380001234", "phone_number_id": "109876543210987"},
            "contacts": [{"profile": {"name": name}, "wa_id": from}],
            "messages": [msg]
        }}]}]
    }))
    .unwrap()
}

/// The writer does not enforce foreign keys (statement journals cost too much under load); every test that builds a
/// database checks that the code kept them anyway.
#[allow(dead_code)]
pub fn assert_foreign_keys_hold(db: &std::path::Path) {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open database");
    let mut st = conn.prepare("PRAGMA foreign_key_check").expect("prepare");
    let bad: Vec<(String, i64, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(
        bad.is_empty(),
        "foreign keys broken (table, rowid, parent): {bad:?}"
    );
}

/// Waits until at least `n` messages are stored and every one with text is classified.
pub async fn wait_processed(c: &reqwest::Client, s: &Server, token: &str, n: usize) {
    eventually(30, "messages processed", || {
        let (c, u, t) = (
            c.clone(),
            s.u("/api/v1/messages?limit=500"),
            token.to_string(),
        );
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            let items = v["items"].as_array().cloned().unwrap_or_default();
            let done = items
                .iter()
                .filter(|m| m["type"] == "system" || !m["kind"].is_null() || m["text"].is_null())
                .count();
            (items.len() >= n && done == items.len()).then_some(())
        }
    })
    .await;
}

/// Polls `GET /api/v1/issues/{id}` until the issue has evidence linked, and returns it.
pub async fn issue_once_it_has_evidence(
    c: &reqwest::Client,
    s: &Server,
    token: &str,
    id: i64,
    what: &str,
) -> serde_json::Value {
    eventually(30, what, || {
        let (c, u, t) = (
            c.clone(),
            s.u(&format!("/api/v1/issues/{id}")),
            token.to_string(),
        );
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            v["evidence"]
                .as_array()
                .filter(|e| !e.is_empty())
                .map(|_| v.clone())
        }
    })
    .await
}
