//! The outbox (issue 18): every send is written before it is sent and sent once. The sender runs against a fake
//! Graph API / WAHA / Evolution on loopback; time comes from the test (a fake clock), never from sleeping.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use common::*;
use tapak::config::{Config, OutboxConfig, RemindersConfig, WhatsAppConfig};
use tapak::outbox::sender::Sender;
use tapak::outbox::{About, Kind, NewSend, Purpose, Route, SendState};
use tapak::store::{outbox as store, Db};
use tapak::whatsapp::client::Client;

/// How the fake answers one request.
#[derive(Clone)]
enum Reply {
    Json(u16, Value),
    /// Never answers (the connection stays open).
    Hold,
}

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: HeaderMap,
    body: Value,
    /// The body's bytes (a multipart upload is not JSON).
    raw: Vec<u8>,
}

#[derive(Clone, Default)]
struct FakeState {
    script: Arc<Mutex<VecDeque<Reply>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A fake WhatsApp sender endpoint (Graph API, WAHA or Evolution: any POST). It answers from its script, then with
/// 200 and a new message id (in the Cloud API's and the gateways' shapes at once).
struct FakeWa {
    url: String,
    st: FakeState,
}

impl FakeWa {
    async fn start(script: Vec<Reply>) -> FakeWa {
        let st = FakeState {
            script: Arc::new(Mutex::new(script.into())),
            ..FakeState::default()
        };
        async fn any(
            State(st): State<FakeState>,
            uri: Uri,
            headers: HeaderMap,
            body: axum::body::Bytes,
        ) -> (StatusCode, axum::Json<Value>) {
            let n = {
                let mut seen = st.seen.lock().unwrap();
                seen.push(Seen {
                    path: uri.path().to_string(),
                    headers,
                    body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    raw: body.to_vec(),
                });
                seen.len()
            };
            let reply = st.script.lock().unwrap().pop_front();
            match reply {
                Some(Reply::Json(code, v)) => (StatusCode::from_u16(code).unwrap(), axum::Json(v)),
                Some(Reply::Hold) => std::future::pending().await,
                None => (
                    StatusCode::OK,
                    axum::Json(json!({
                        "messaging_product": "whatsapp",
                        "messages": [{"id": format!("wamid.{n}")}],
                        "key": {"id": format!("wamid.{n}")},
                    })),
                ),
            }
        }
        let app = axum::Router::new()
            .fallback(axum::routing::post(any))
            .with_state(st.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeWa { url, st }
    }

    fn seen(&self) -> Vec<Seen> {
        self.st.seen.lock().unwrap().clone()
    }
}

/// Noon in Kuala Lumpur (outside the default quiet hours).
fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-07T04:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn whatsapp(base: &str) -> WhatsAppConfig {
    let mut w = WhatsAppConfig::default();
    w.cloud.access_token = tapak::config::Secret(ACCESS_TOKEN.into());
    w.cloud.phone_number_id = "109876543210987".into();
    w.cloud.graph_base_url = base.into();
    w.waha.base_url = base.into();
    w.waha.api_key = tapak::config::Secret("waha-key".into());
    w.evolution.base_url = base.into();
    w.evolution.api_key = tapak::config::Secret("evo-key".into());
    w.evolution.instance = "ops".into();
    w
}

struct Kit {
    _dir: tempfile::TempDir,
    db: Db,
    sender: Sender,
}

fn kit(base: &str, tweak: impl FnOnce(&mut RemindersConfig, &mut OutboxConfig)) -> Kit {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("tapak.db")).unwrap();
    let mut reminders = RemindersConfig {
        template_name: "task_reminder".into(),
        template_language: "ms".into(),
        ..RemindersConfig::default()
    };
    let mut limits = OutboxConfig::default();
    tweak(&mut reminders, &mut limits);
    let client = Client::new(client(), whatsapp(base), StdDuration::from_secs(10));
    let sender = Sender::new(
        db.clone(),
        client,
        reminders,
        limits,
        Config::default().timezone().unwrap(),
    );
    Kit {
        _dir: dir,
        db,
        sender,
    }
}

fn reminder(to: &str, route: Route, about: i64) -> NewSend {
    let mut s = NewSend::text(
        to,
        route,
        "Cleaning report for Block C still pending. Please update.",
        Purpose::Reminder,
        About::occurrence(about),
    );
    s.template_params = vec![
        "Cleaning report".into(),
        "Block C".into(),
        "Daily cleaning".into(),
    ];
    s.rung = "remind".into();
    s
}

impl Kit {
    async fn enqueue(&self, s: NewSend, at: DateTime<Utc>) -> i64 {
        self.db
            .write(move |tx| store::enqueue(tx, &s, at))
            .await
            .unwrap()
            .expect("a new send")
    }

    async fn get(&self, id: i64) -> tapak::outbox::Send {
        self.db.read(move |c| store::get(c, id)).await.unwrap()
    }

    /// A Cloud API message from `phone` at `at` (what opens the 24-hour window).
    async fn inbound(&self, phone: &str, at: DateTime<Utc>) {
        let phone = phone.to_string();
        self.db
            .write(move |tx| {
                let now = at.to_rfc3339();
                tx.execute(
                    "INSERT INTO people(name, phone, created_at) VALUES ('Aminah', ?1, ?2)",
                    rusqlite::params![phone, now],
                )?;
                let person = tx.last_insert_rowid();
                tx.execute(
                    "INSERT INTO chats(source, external_id, created_at) VALUES ('cloud_api', ?1, ?2)",
                    rusqlite::params![phone, now],
                )?;
                let chat = tx.last_insert_rowid();
                tx.execute(
                    "INSERT INTO messages(source, source_message_id, chat_id, sender_id, sent_at, sent_ms, received_at, \
                     type, source_type, text, normalized) \
                     VALUES ('cloud_api', ?1, ?2, ?3, ?4, ?5, ?4, 'text', 'text', 'ok', '')",
                    rusqlite::params![format!("wamid.in.{phone}"), chat, person, now, at.timestamp_millis()],
                )?;
                Ok(())
            })
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_failed_send_is_retried_with_backoff_and_sent_once() {
    let fake = FakeWa::start(vec![Reply::Json(500, json!({"message": "try later"}))]).await;
    let k = kit(&fake.url, |_, _| {});
    let mut s = reminder("120363025555555555@g.us", Route::Waha, 1);
    s.mentions = vec!["+60 16-765 4302".into()];
    let id = k.enqueue(s, t0()).await;

    let r = k.sender.tick(t0()).await.unwrap();
    assert_eq!(r.retried, 1);
    let row = k.get(id).await;
    assert_eq!(row.state, SendState::Queued);
    assert_eq!(row.attempts, 1);
    assert!(
        row.error.as_deref().unwrap().contains("HTTP 500"),
        "{row:?}"
    );

    // Backoff: not again one second later.
    k.sender.tick(t0() + Duration::seconds(1)).await.unwrap();
    assert_eq!(fake.seen().len(), 1);
    // After the 30 s backoff it goes, once.
    let r = k.sender.tick(t0() + Duration::seconds(31)).await.unwrap();
    assert_eq!(r.sent, 1);
    k.sender.tick(t0() + Duration::hours(2)).await.unwrap();
    let seen = fake.seen();
    assert_eq!(
        seen.len(),
        2,
        "one failed attempt and one send, nothing more"
    );
    let row = k.get(id).await;
    assert_eq!(row.state, SendState::Sent);
    assert_eq!(row.attempts, 2);
    assert_eq!(row.wa_message_id.as_deref(), Some("wamid.2"));
    assert_eq!(row.error, None);
    // What WAHA was asked: the group, mentioning the person, with the API key.
    let req = &seen[1];
    assert_eq!(req.path, "/api/sendText");
    assert_eq!(req.headers["x-api-key"], "waha-key");
    assert_eq!(req.body["chatId"], "120363025555555555@g.us");
    assert_eq!(req.body["session"], "default");
    assert_eq!(req.body["mentions"], json!(["60167654302@c.us"]));
    assert_eq!(
        req.body["text"],
        "Cleaning report for Block C still pending. Please update."
    );
}

#[tokio::test]
async fn retries_stop_after_max_attempts_and_a_refused_connection_is_retried() {
    // Nothing listens on this port: the request never reaches a server, so it is safe to try again.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let k = kit(&closed, |_, o| o.max_attempts = 2);
    let id = k
        .enqueue(reminder("60167654302", Route::Evolution, 1), t0())
        .await;
    k.sender.tick(t0()).await.unwrap();
    let row = k.get(id).await;
    assert_eq!(row.state, SendState::Queued);
    assert!(row.error.as_deref().unwrap().contains("cannot connect"));
    k.sender.tick(t0() + Duration::minutes(5)).await.unwrap();
    let row = k.get(id).await;
    assert_eq!(row.state, SendState::Failed);
    assert_eq!(row.attempts, 2);
    assert!(row
        .error
        .as_deref()
        .unwrap()
        .contains("gave up after 2 attempts"));
}

#[tokio::test]
async fn a_permanent_error_fails_and_is_not_retried() {
    let fake = FakeWa::start(vec![Reply::Json(
        400,
        json!({"status": 400, "error": "Bad Request", "response": {"message": ["number does not exist"]}, "message": "number does not exist"}),
    )])
    .await;
    let k = kit(&fake.url, |_, _| {});
    let id = k
        .enqueue(reminder("+60 16-765 4302", Route::Evolution, 1), t0())
        .await;
    let r = k.sender.tick(t0()).await.unwrap();
    assert_eq!(r.failed, 1);
    for h in [1, 5, 48] {
        k.sender.tick(t0() + Duration::hours(h)).await.unwrap();
    }
    assert_eq!(fake.seen().len(), 1, "a 400 is not retried");
    let row = k.get(id).await;
    assert_eq!(row.state, SendState::Failed);
    assert_eq!(row.attempts, 1);
    let err = row.error.unwrap();
    assert!(
        err.contains("HTTP 400") && err.contains("number does not exist"),
        "{err}"
    );
    let req = &fake.seen()[0];
    assert_eq!(req.path, "/message/sendText/ops");
    assert_eq!(req.headers["apikey"], "evo-key");
    assert_eq!(req.body["number"], "60167654302");
}

#[tokio::test]
async fn outside_the_24_hour_window_a_template_is_used() {
    let fake = FakeWa::start(vec![]).await;
    let k = kit(&fake.url, |_, _| {});
    // Silent for two days: the template.
    k.inbound("60111111111", t0() - Duration::days(2)).await;
    let silent = k
        .enqueue(reminder("60111111111", Route::CloudApi, 1), t0())
        .await;
    // Never wrote at all: the template.
    let never = k
        .enqueue(reminder("60133333333", Route::CloudApi, 3), t0())
        .await;
    // Wrote an hour ago: free text.
    k.inbound("60122222222", t0() - Duration::hours(1)).await;
    let recent = k
        .enqueue(reminder("60122222222", Route::CloudApi, 2), t0())
        .await;
    let r = k.sender.tick(t0()).await.unwrap();
    assert_eq!(r.sent, 3);
    let seen = fake.seen();
    assert_eq!(seen.len(), 3);
    for req in &seen {
        assert_eq!(req.path, "/v25.0/109876543210987/messages");
        assert_eq!(
            req.headers["authorization"],
            format!("Bearer {ACCESS_TOKEN}")
        );
    }
    let by_to = |to: &str| {
        seen.iter()
            .find(|r| r.body["to"] == to)
            .unwrap_or_else(|| panic!("no request to {to}"))
            .body
            .clone()
    };
    let t = by_to("60111111111");
    assert_eq!(t["type"], "template");
    assert_eq!(t["template"]["name"], "task_reminder");
    assert_eq!(t["template"]["language"]["code"], "ms");
    assert_eq!(
        t["template"]["components"][0]["parameters"],
        json!([
            {"type": "text", "text": "Cleaning report"},
            {"type": "text", "text": "Block C"},
            {"type": "text", "text": "Daily cleaning"}
        ])
    );
    assert_eq!(t["biz_opaque_callback_data"], format!("outbox:{silent}"));
    assert_eq!(by_to("60133333333")["type"], "template");
    let x = by_to("60122222222");
    assert_eq!(x["type"], "text");
    assert_eq!(
        x["text"]["body"],
        "Cleaning report for Block C still pending. Please update."
    );
    assert_eq!(k.get(silent).await.kind, Kind::Template);
    assert_eq!(k.get(never).await.kind, Kind::Template);
    assert_eq!(k.get(recent).await.kind, Kind::Text);
}

#[tokio::test]
async fn error_131047_on_a_text_sends_the_template_instead() {
    let fake = FakeWa::start(vec![Reply::Json(
        400,
        json!({"error": {"message": "Re-engagement message", "type": "OAuthException", "code": 131047,
               "error_data": {"messaging_product": "whatsapp", "details": "more than 24 hours"}, "fbtrace_id": "x"}}),
    )])
    .await;
    let k = kit(&fake.url, |_, _| {});
    // Our records say the window is open (23 h ago), Meta says it is not.
    k.inbound("60122222222", t0() - Duration::hours(23)).await;
    let id = k
        .enqueue(reminder("60122222222", Route::CloudApi, 1), t0())
        .await;
    let r = k.sender.tick(t0()).await.unwrap();
    assert_eq!(r.sent, 1);
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].body["type"], "text");
    assert_eq!(seen[1].body["type"], "template");
    let row = k.get(id).await;
    assert_eq!(row.state, SendState::Sent);
    assert_eq!(row.kind, Kind::Template);
    assert_eq!(row.attempts, 1);
    assert_eq!(row.wa_message_id.as_deref(), Some("wamid.2"));
}

#[tokio::test]
async fn quiet_hours_hold_a_send_until_they_end() {
    let fake = FakeWa::start(vec![]).await;
    let k = kit(&fake.url, |_, o| o.urgent_passes_quiet_hours = true);
    // 23:30 in Kuala Lumpur; quiet hours are 22:00-07:00 there.
    let night = DateTime::parse_from_rfc3339("2026-12-07T15:30:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let morning = DateTime::parse_from_rfc3339("2026-12-07T23:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let id = k
        .enqueue(reminder("60167654302", Route::Waha, 1), night)
        .await;
    let mut urgent = reminder("60167654302", Route::Waha, 2);
    urgent.purpose = Purpose::Escalation;
    urgent.urgent = true;
    let urgent = k.enqueue(urgent, night).await;
    // A site whose settings switch quiet hours off.
    let site =
        k.db.write(|tx| {
            tapak::store::chats::create_site(
                tx,
                "Night Ops",
                &json!({"reminders": {"quiet_hours": ""}}),
            )
        })
        .await
        .unwrap();
    let mut at_site = reminder("60167654302", Route::Waha, 3);
    at_site.site_id = Some(site);
    let at_site = k.enqueue(at_site, night).await;

    let r = k.sender.tick(night).await.unwrap();
    assert_eq!((r.held, r.sent), (1, 2));
    let held = k.get(id).await;
    assert_eq!(held.state, SendState::Queued);
    assert_eq!(held.attempts, 0);
    assert_eq!(
        held.next_attempt_at.as_deref(),
        Some("2026-12-07T23:00:00.000Z")
    );
    assert_eq!(k.get(urgent).await.state, SendState::Sent);
    assert_eq!(k.get(at_site).await.state, SendState::Sent);

    k.sender.tick(morning - Duration::minutes(1)).await.unwrap();
    assert_eq!(k.get(id).await.state, SendState::Queued);
    assert_eq!(fake.seen().len(), 2);
    k.sender.tick(morning).await.unwrap();
    assert_eq!(k.get(id).await.state, SendState::Sent);
    assert_eq!(fake.seen().len(), 3);
}

#[tokio::test]
async fn the_per_recipient_rate_limit_spaces_sends() {
    let fake = FakeWa::start(vec![]).await;
    let k = kit(&fake.url, |_, o| o.per_recipient_per_minute = 2);
    let mut ids = Vec::new();
    for n in 1..=3 {
        ids.push(
            k.enqueue(reminder("60167654302", Route::Waha, n), t0())
                .await,
        );
    }
    let other = k
        .enqueue(reminder("60199999999", Route::Waha, 9), t0())
        .await;
    let r = k.sender.tick(t0()).await.unwrap();
    assert_eq!((r.sent, r.held), (3, 1));
    assert_eq!(k.get(ids[2]).await.state, SendState::Queued);
    assert_eq!(k.get(other).await.state, SendState::Sent);
    k.sender.tick(t0() + Duration::seconds(61)).await.unwrap();
    assert_eq!(k.get(ids[2]).await.state, SendState::Sent);
    assert_eq!(fake.seen().len(), 4);
}

fn server_config(base: &str) -> String {
    format!(
        "{}\n[reminders]\nquiet_hours = \"\"\ntemplate_name = \"task_reminder\"\n\n[outbox]\npoll_seconds = 1\n",
        default_config(base)
    )
}

/// Opens the server's database from the test (another connection, as a second process would).
async fn enqueue_into(data: &std::path::Path, sends: Vec<NewSend>) -> Vec<i64> {
    let data = data.to_path_buf();
    tokio::task::spawn_blocking(move || enqueue_blocking(&data, sends))
        .await
        .unwrap()
}

fn enqueue_blocking(data: &std::path::Path, sends: Vec<NewSend>) -> Vec<i64> {
    let db = Db::open(&data.join("tapak.db")).unwrap();
    let ids = sends
        .into_iter()
        .map(|s| {
            db.write_blocking(move |tx| store::enqueue(tx, &s, Utc::now()))
                .unwrap()
                .unwrap()
        })
        .collect();
    db.close();
    ids
}

async fn read_sends(data: &std::path::Path) -> Vec<tapak::outbox::Send> {
    let data = data.to_path_buf();
    tokio::task::spawn_blocking(move || read_blocking(&data))
        .await
        .unwrap()
}

fn read_blocking(data: &std::path::Path) -> Vec<tapak::outbox::Send> {
    let db = Db::open(&data.join("tapak.db")).unwrap();
    let rows = db
        .read_blocking(|c| store::list(c, &store::Filter::default(), 100))
        .unwrap();
    db.close();
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_between_written_and_sent_neither_loses_nor_repeats() {
    let fake = FakeWa::start(vec![Reply::Hold]).await;
    let mut server = Server::start(&server_config(&fake.url));
    let ids = enqueue_into(
        &server.data,
        vec![
            reminder("60111111111", Route::CloudApi, 1),
            reminder("60122222222", Route::CloudApi, 2),
        ],
    )
    .await;
    // The first send's request is out and held open: the row is `sending`, committed before the request.
    eventually(30, "the first request", || async {
        (!fake.seen().is_empty()).then_some(())
    })
    .await;
    let rows = read_sends(&server.data).await;
    let first = rows.iter().find(|r| r.id == ids[0]).unwrap();
    assert_eq!(first.state, SendState::Sending);
    assert_eq!(first.attempts, 1);
    server.crash();

    server.spawn(&[]);
    eventually(30, "the second send", || async {
        let rows = read_sends(&server.data).await;
        rows.iter()
            .find(|r| r.id == ids[1] && r.state == SendState::Sent)
            .map(|_| ())
    })
    .await;
    server.stop();
    let rows = read_sends(&server.data).await;
    let first = rows.iter().find(|r| r.id == ids[0]).unwrap();
    assert_eq!(
        first.state,
        SendState::Unconfirmed,
        "interrupted mid-request: not resent blindly"
    );
    assert_eq!(first.attempts, 1);
    let second = rows.iter().find(|r| r.id == ids[1]).unwrap();
    assert_eq!(second.attempts, 1);
    let seen = fake.seen();
    let to = |n: &str| seen.iter().filter(|r| r.body["to"] == n).count();
    assert_eq!(to("60111111111"), 1, "the interrupted send went out once");
    assert_eq!(
        to("60122222222"),
        1,
        "the queued send went out once after the restart"
    );
    assert_eq!(seen.len(), 2);
}

fn status_body(id: &str, status: &str, ts: i64) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "60300000000", "phone_number_id": "109876543210987"},
            "statuses": [{"id": id, "status": status, "timestamp": ts.to_string(), "recipient_id": "60111111111"}]
        }}]}]
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_webhooks_update_a_send_and_the_api_lists_it() {
    let fake = FakeWa::start(vec![]).await;
    let server = Server::start(&server_config(&fake.url));
    let ids = enqueue_into(
        &server.data,
        vec![
            reminder("60111111111", Route::CloudApi, 1),
            reminder("60122222222", Route::CloudApi, 2),
        ],
    )
    .await;
    let token = server.token("viewer");
    let c = client();
    let url = |about: i64| {
        server.u(&format!(
            "/api/v1/outbox?about=occurrence:{about}&purpose=reminder"
        ))
    };
    let item = |about: i64| {
        let (c, token, u) = (c.clone(), token.clone(), url(about));
        async move {
            let (code, v) = get_json(&c, &u, &token).await;
            assert_eq!(code, 200, "{v}");
            v["items"][0].clone()
        }
    };
    let until = |about: i64, state: &'static str| {
        let item = &item;
        async move {
            eventually(30, state, || async move {
                let v = item(about).await;
                (v["state"] == state).then_some(v)
            })
            .await
        }
    };
    let first = until(1, "sent").await;
    let second = until(2, "sent").await;
    assert_eq!(first["id"], ids[0]);
    assert_eq!(first["to"], "60111111111");
    assert_eq!(first["route"], "cloud_api");
    assert_eq!(first["kind"], "template");
    assert_eq!(first["purpose"], "reminder");
    assert_eq!(first["about"], json!({"type": "occurrence", "id": 1}));
    assert_eq!(first["attempts"], 1);
    let wamid = first["wa_message_id"].as_str().unwrap().to_string();
    let ts = Utc::now().timestamp();
    let post = |id: String, status: &'static str| {
        let c = c.clone();
        let server = &server;
        async move {
            let r = post_cloud(&c, server, &status_body(&id, status, ts)).await;
            assert_eq!(r.status(), 200);
        }
    };
    post(wamid.clone(), "delivered").await;
    until(1, "delivered").await;
    post(wamid.clone(), "read").await;
    until(1, "read").await;
    // Late receipts arrive after "read"; then a marker on the other send shows they have been filed.
    post(wamid.clone(), "delivered").await;
    post(wamid.clone(), "sent").await;
    post(
        second["wa_message_id"].as_str().unwrap().to_string(),
        "read",
    )
    .await;
    until(2, "read").await;
    assert_eq!(
        item(1).await["state"],
        "read",
        "a late receipt does not lower a send"
    );

    // Filters and errors.
    let (code, v) = get_json(&c, &server.u("/api/v1/outbox?state=read"), &token).await;
    assert_eq!(code, 200);
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    let (code, v) = get_json(&c, &server.u("/api/v1/outbox?state=failed"), &token).await;
    assert_eq!(code, 200);
    assert_eq!(v["items"], json!([]));
    let (code, v) = get_json(&c, &server.u("/api/v1/outbox?state=nonsense"), &token).await;
    assert_eq!(code, 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("state"));
    let (code, _) = get_json(&c, &server.u("/api/v1/outbox"), "not-a-token").await;
    assert_eq!(code, 401);
}

/// A weekly report's PDF as a WhatsApp document, on each route: the Cloud API uploads the file (multipart, with its
/// name and type) and sends the media id with the file name and caption; WAHA `sendFile` and Evolution `sendMedia`
/// carry the file inline. An upload that fails is retried without any message having gone out; a file gone before the
/// send fails it with the reason; a bad name or a missing file is refused when queued.
#[tokio::test]
async fn a_document_is_sent_with_its_name_and_caption_on_every_route() {
    use base64::Engine;
    use tapak::outbox::documents::enqueue_document;
    use tapak::outbox::Document;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.decode(s).unwrap();
    let fake = FakeWa::start(vec![
        Reply::Json(500, json!({"error": {"message": "try later", "code": 2}})),
        Reply::Json(200, json!({"id": "1234567890123456"})),
    ])
    .await;
    let k = kit(&fake.url, |_, _| {});
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("2026-W49.pdf");
    let bytes = b"%PDF-1.7\n1 0 obj << >> endobj\n% weekly report\n%%EOF\n".to_vec();
    std::fs::write(&pdf, &bytes).unwrap();
    let name = "Weekly report 2026-W49 (Seri Mutiara).pdf";
    let caption = "Weekly report, 1-7 Dec: 96% of scheduled work done";
    let doc = Document::new(pdf.to_str().unwrap(), name);
    assert_eq!(doc.mime, "application/pdf");
    let send = |to: &str, route: Route, about: i64| {
        NewSend::document(
            to,
            route,
            doc.clone(),
            caption,
            Purpose::Summary,
            About::report(about),
        )
    };

    // Cloud API: the first upload fails (500), nothing is sent; the retry uploads, then sends the media id. The
    // recipient wrote an hour ago, so the document goes as itself (inside the 24-hour window).
    k.inbound("60167654302", t0() - Duration::hours(1)).await;
    let id = enqueue_document(&k.db, send("+60 16-765 4302", Route::CloudApi, 1), t0())
        .await
        .unwrap()
        .expect("a new send");
    assert_eq!(
        enqueue_document(&k.db, send("60167654302", Route::CloudApi, 1), t0())
            .await
            .unwrap(),
        None,
        "the same document to the same person is queued once"
    );
    let r = k.sender.tick(t0()).await.unwrap();
    assert_eq!(r.retried, 1, "{r:?}");
    assert_eq!(fake.seen().len(), 1, "only the upload was attempted");
    let r = k.sender.tick(t0() + Duration::minutes(5)).await.unwrap();
    assert_eq!(r.sent, 1, "{r:?}");
    let seen = fake.seen();
    assert_eq!(seen.len(), 3);
    let upload = &seen[1];
    assert_eq!(upload.path, "/v25.0/109876543210987/media");
    assert_eq!(
        upload.headers["authorization"],
        format!("Bearer {ACCESS_TOKEN}").as_str()
    );
    let ctype = upload.headers["content-type"].to_str().unwrap();
    assert!(
        ctype.starts_with("multipart/form-data; boundary="),
        "{ctype}"
    );
    let raw = String::from_utf8_lossy(&upload.raw);
    assert!(
        raw.contains("name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"),
        "{raw}"
    );
    assert!(
        raw.contains("name=\"type\"\r\n\r\napplication/pdf\r\n"),
        "{raw}"
    );
    assert!(
        raw.contains(&format!("name=\"file\"; filename=\"{name}\"")),
        "{raw}"
    );
    assert!(
        upload.raw.windows(bytes.len()).any(|w| w == &bytes[..]),
        "the upload carries the file's bytes"
    );
    let msg = &seen[2];
    assert_eq!(msg.path, "/v25.0/109876543210987/messages");
    assert_eq!(
        msg.body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "60167654302",
            "type": "document",
            "document": {"id": "1234567890123456", "filename": name, "caption": caption},
            "biz_opaque_callback_data": format!("outbox:{id}"),
        })
    );
    let got = k.get(id).await;
    assert_eq!(got.state, SendState::Sent);
    assert_eq!(got.kind, Kind::Document);
    assert_eq!(got.document.as_ref().unwrap().filename, name);
    assert_eq!(got.wa_message_id.as_deref(), Some("wamid.3"));

    // WAHA and Evolution: the file inline, to a group.
    let group = "120363400000000001@g.us";
    enqueue_document(&k.db, send(group, Route::Waha, 2), t0())
        .await
        .unwrap()
        .unwrap();
    enqueue_document(&k.db, send(group, Route::Evolution, 3), t0())
        .await
        .unwrap()
        .unwrap();
    let r = k.sender.tick(t0() + Duration::minutes(6)).await.unwrap();
    assert_eq!(r.sent, 2, "{r:?}");
    let seen = fake.seen();
    let waha = seen.iter().find(|x| x.path == "/api/sendFile").unwrap();
    assert_eq!(waha.headers["x-api-key"], "waha-key");
    assert_eq!(waha.body["session"], "default");
    assert_eq!(waha.body["chatId"], group);
    assert_eq!(waha.body["caption"], caption);
    assert_eq!(waha.body["file"]["filename"], name);
    assert_eq!(waha.body["file"]["mimetype"], "application/pdf");
    assert_eq!(b64(waha.body["file"]["data"].as_str().unwrap()), bytes);
    let evo = seen
        .iter()
        .find(|x| x.path == "/message/sendMedia/ops")
        .unwrap();
    assert_eq!(evo.headers["apikey"], "evo-key");
    assert_eq!(evo.body["number"], group);
    assert_eq!(evo.body["mediatype"], "document");
    assert_eq!(evo.body["mimetype"], "application/pdf");
    assert_eq!(evo.body["fileName"], name);
    assert_eq!(evo.body["caption"], caption);
    assert_eq!(b64(evo.body["media"].as_str().unwrap()), bytes);

    // The file removed before the send: failed with the reason, nothing sent.
    let n = fake.seen().len();
    let id = enqueue_document(&k.db, send("60167654302", Route::Waha, 4), t0())
        .await
        .unwrap()
        .unwrap();
    std::fs::remove_file(&pdf).unwrap();
    let r = k.sender.tick(t0() + Duration::minutes(7)).await.unwrap();
    assert_eq!(r.failed, 1, "{r:?}");
    let got = k.get(id).await;
    assert_eq!(got.state, SendState::Failed);
    assert!(
        got.error.as_deref().unwrap().contains("cannot read"),
        "{got:?}"
    );
    assert_eq!(fake.seen().len(), n);

    // Refused when queued: a missing file, a name with a folder in it.
    let e = enqueue_document(&k.db, send("60167654302", Route::Waha, 5), t0())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("document.path: cannot read"), "{e}");
    std::fs::write(&pdf, &bytes).unwrap();
    let mut bad = send("60167654302", Route::Waha, 6);
    bad.document.as_mut().unwrap().filename = "../../etc/report.pdf".into();
    let e = enqueue_document(&k.db, bad, t0())
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("document.filename"), "{e}");
}

/// Outside the recipient's 24-hour window a document goes as the approved document template: the file uploaded once,
/// in the template's DOCUMENT header, the caption as its body parameter. Inside the window a document Meta refuses
/// with 131047 goes the same way with the same upload; with no document template configured it fails, saying so.
#[tokio::test]
async fn outside_the_24_hour_window_a_document_goes_as_the_document_template() {
    use tapak::outbox::documents::enqueue_document;
    use tapak::outbox::Document;
    let fake = FakeWa::start(vec![
        Reply::Json(200, json!({"id": "5550001"})),
        Reply::Json(200, json!({"messages": [{"id": "wamid.tpl1"}]})),
        // Inside the window: the upload, then the document refused as outside the window, then the template.
        Reply::Json(200, json!({"id": "5550002"})),
        Reply::Json(
            400,
            json!({"error": {"message": "Re-engagement message", "code": 131047}}),
        ),
    ])
    .await;
    let k = kit(&fake.url, |r, _| {
        r.document_template_name = "weekly_report_document".into()
    });
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("2026-W49.pdf");
    std::fs::write(&pdf, b"%PDF-1.7\n%%EOF\n").unwrap();
    let name = "Weekly report 2026-W49.pdf";
    let caption = "Weekly report, 1-7 Dec";
    let send = |to: &str, about: i64, caption: &str| {
        NewSend::document(
            to,
            Route::CloudApi,
            Document::new(pdf.to_str().unwrap(), name),
            caption,
            Purpose::Summary,
            About::report(about),
        )
    };

    // Never wrote: the template, with the uploaded file in its header.
    let id = enqueue_document(&k.db, send("60167654302", 1, caption), t0())
        .await
        .unwrap()
        .unwrap();
    let r = k.sender.tick(t0()).await.unwrap();
    assert_eq!(r.sent, 1, "{r:?}");
    let seen = fake.seen();
    assert_eq!(seen.len(), 2, "one upload, one message");
    assert_eq!(seen[0].path, "/v25.0/109876543210987/media");
    assert_eq!(seen[1].path, "/v25.0/109876543210987/messages");
    assert_eq!(
        seen[1].body,
        json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "60167654302",
            "type": "template",
            "template": {
                "name": "weekly_report_document",
                "language": {"code": "ms"},
                "components": [
                    {"type": "header", "parameters": [
                        {"type": "document", "document": {"id": "5550001", "filename": name}}
                    ]},
                    {"type": "body", "parameters": [{"type": "text", "text": caption}]}
                ]
            },
            "biz_opaque_callback_data": format!("outbox:{id}"),
        })
    );
    let got = k.get(id).await;
    assert_eq!(got.state, SendState::Sent);
    assert_eq!(got.kind, Kind::Template);
    assert_eq!(got.wa_message_id.as_deref(), Some("wamid.tpl1"));

    // Wrote an hour ago, but Meta refuses the document (131047): the template with the same upload, no second one.
    k.inbound("60133333333", t0() - Duration::hours(1)).await;
    let id = enqueue_document(&k.db, send("60133333333", 2, ""), t0())
        .await
        .unwrap()
        .unwrap();
    let r = k.sender.tick(t0()).await.unwrap();
    assert_eq!(r.sent, 1, "{r:?}");
    let seen = fake.seen();
    let paths: Vec<&str> = seen[2..].iter().map(|x| x.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v25.0/109876543210987/media",
            "/v25.0/109876543210987/messages",
            "/v25.0/109876543210987/messages"
        ]
    );
    assert_eq!(seen[3].body["type"], "document");
    assert_eq!(seen[4].body["type"], "template");
    assert_eq!(
        seen[4].body["template"]["components"][0]["parameters"][0]["document"]["id"],
        "5550002"
    );
    // No caption: the file name is the body parameter.
    assert_eq!(
        seen[4].body["template"]["components"][1]["parameters"][0]["text"],
        name
    );
    assert_eq!(k.get(id).await.kind, Kind::Template);

    // No document template configured: failed, naming the setting, before anything went out.
    let fake = FakeWa::start(vec![]).await;
    let k = kit(&fake.url, |_, _| {});
    let id = enqueue_document(&k.db, send("60167654302", 3, caption), t0())
        .await
        .unwrap()
        .unwrap();
    let r = k.sender.tick(t0()).await.unwrap();
    assert_eq!(r.failed, 1, "{r:?}");
    let got = k.get(id).await;
    assert!(
        got.error
            .as_deref()
            .unwrap()
            .contains("[reminders] document_template_name"),
        "{got:?}"
    );
    assert!(fake.seen().is_empty(), "{:?}", fake.seen());
}
