//! WAHA and Evolution API webhooks over real HTTP with the gateway fixtures: authentication, edits and revokes,
//! ignored chats, redelivery, and media fetched only from the configured gateway (a fake WAHA on loopback).

mod common;

use std::sync::{Arc, Mutex};

use base64::Engine;
use common::*;
use hmac::{Hmac, Mac};
use serde_json::Value;

const WAHA_KEY: &str = "waha-api-key-77";
const EVO_TOKEN: &str = "shared-secret-123";
const EVO_JWT_KEY: &str = "jwt-signing-secret";
const EVO_API_KEY: &str = "evo-api-key-31";

fn waha(rel: &str) -> Vec<u8> {
    read_fixture(&format!("whatsapp/waha/{rel}"))
}

fn evo(rel: &str) -> Vec<u8> {
    read_fixture(&format!("whatsapp/evolution/{rel}"))
}

fn hmac_key() -> String {
    String::from_utf8(waha("hmac/key.txt"))
        .unwrap()
        .trim()
        .to_string()
}

fn hmac512(key: &str, body: &[u8]) -> String {
    let mut m = Hmac::<sha2::Sha512>::new_from_slice(key.as_bytes()).unwrap();
    m.update(body);
    hex::encode(m.finalize().into_bytes())
}

/// An HS256 JWT as Evolution's `jsonwebtoken` produces it.
fn jwt(key: &str, claims: Value, alg: &str) -> String {
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let h = e.encode(serde_json::json!({"alg": alg, "typ": "JWT"}).to_string());
    let p = e.encode(claims.to_string());
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    m.update(format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", e.encode(m.finalize().into_bytes()))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Files requested from the fake gateway, with the `X-Api-Key` each request carried.
type Hits = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A fake WAHA: `GET /api/files/{name}` → bytes, and `GET /api/{session}/lids/{lid}` → `{"lid","pn"}` (`pn: null`
/// for lids it does not know), both only with the right `X-Api-Key`. Lids answers wait while `gate` is write-locked.
struct FakeWaha {
    url: String,
    hits: Hits,
    gate: Arc<tokio::sync::RwLock<()>>,
    _task: tokio::task::JoinHandle<()>,
}

type LidMap = std::collections::HashMap<String, Option<String>>;

#[derive(Clone)]
struct WahaState {
    files: Arc<std::collections::HashMap<String, Vec<u8>>>,
    lids: Arc<LidMap>,
    hits: Hits,
    gate: Arc<tokio::sync::RwLock<()>>,
}

fn api_key(h: &axum::http::HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl FakeWaha {
    async fn start(files: Vec<(&str, Vec<u8>)>) -> FakeWaha {
        FakeWaha::start_with(files, vec![]).await
    }

    async fn start_with(files: Vec<(&str, Vec<u8>)>, lids: Vec<(&str, Option<&str>)>) -> FakeWaha {
        use axum::extract::{Path, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::IntoResponse;
        async fn file(
            State(st): State<WahaState>,
            h: HeaderMap,
            Path(name): Path<String>,
        ) -> axum::response::Response {
            let key = api_key(&h, "x-api-key");
            st.hits.lock().unwrap().push((name.clone(), key.clone()));
            if key.as_deref() != Some(WAHA_KEY) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            match st.files.get(&name) {
                Some(b) => b.clone().into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
        async fn lid(
            State(st): State<WahaState>,
            h: HeaderMap,
            Path((session, lid)): Path<(String, String)>,
        ) -> axum::response::Response {
            let key = api_key(&h, "x-api-key");
            st.hits
                .lock()
                .unwrap()
                .push((format!("lids/{session}/{lid}"), key.clone()));
            let _open = st.gate.read().await;
            if key.as_deref() != Some(WAHA_KEY) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let pn = st.lids.get(&lid).cloned().flatten();
            axum::Json(serde_json::json!({"lid": lid, "pn": pn})).into_response()
        }
        let files: std::collections::HashMap<String, Vec<u8>> =
            files.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let lids: LidMap = lids
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
            .collect();
        let hits = Arc::new(Mutex::new(vec![]));
        let gate = Arc::new(tokio::sync::RwLock::new(()));
        let router = axum::Router::new()
            .route("/api/files/{name}", axum::routing::get(file))
            .route("/api/{session}/lids/{lid}", axum::routing::get(lid))
            .with_state(WahaState {
                files: Arc::new(files),
                lids: Arc::new(lids),
                hits: hits.clone(),
                gate: gate.clone(),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeWaha {
            url,
            hits,
            gate,
            _task: task,
        }
    }

    fn hits_for(&self, name: &str) -> Vec<Option<String>> {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, k)| k.clone())
            .collect()
    }
}

/// One `getBase64FromMediaMessage` request as the fake Evolution saw it: instance, `apikey` header, JSON body.
type EvoHit = (String, Option<String>, Value);

/// A fake Evolution API: `POST /chat/getBase64FromMediaMessage/{instance}` → `{mediaType, fileName, size, mimetype,
/// base64}` for the message ids it has, only with the right `apikey`.
struct FakeEvolution {
    url: String,
    hits: Arc<Mutex<Vec<EvoHit>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeEvolution {
    async fn start(media: Vec<(&str, Vec<u8>)>) -> FakeEvolution {
        use axum::extract::{Path, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::IntoResponse;
        type St = (
            Arc<std::collections::HashMap<String, Vec<u8>>>,
            Arc<Mutex<Vec<EvoHit>>>,
        );
        async fn get_base64(
            State((media, hits)): State<St>,
            h: HeaderMap,
            Path(instance): Path<String>,
            axum::Json(body): axum::Json<Value>,
        ) -> axum::response::Response {
            let key = api_key(&h, "apikey");
            hits.lock()
                .unwrap()
                .push((instance, key.clone(), body.clone()));
            if key.as_deref() != Some(EVO_API_KEY) {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            let id = body["message"]["key"]["id"].as_str().unwrap_or_default();
            match media.get(id) {
                Some(b) => axum::Json(serde_json::json!({
                    "mediaType": "imageMessage",
                    "fileName": format!("{id}.jpeg"),
                    "size": {"fileLength": b.len().to_string()},
                    "mimetype": "image/jpeg",
                    "base64": base64::engine::general_purpose::STANDARD.encode(b),
                }))
                .into_response(),
                None => StatusCode::BAD_REQUEST.into_response(),
            }
        }
        let media: std::collections::HashMap<String, Vec<u8>> =
            media.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let hits = Arc::new(Mutex::new(vec![]));
        let router = axum::Router::new()
            .route(
                "/chat/getBase64FromMediaMessage/{instance}",
                axum::routing::post(get_base64),
            )
            .with_state((Arc::new(media), hits.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeEvolution {
            url,
            hits,
            _task: task,
        }
    }
}

fn waha_config(base: &str, hmac: bool) -> String {
    let auth = if hmac {
        format!("webhook_hmac_key = \"{}\"", hmac_key())
    } else {
        "webhook_token = \"waha-token-1\"".to_string()
    };
    format!(
        r#"
[whatsapp.waha]
base_url = "{base}"
api_key = "{WAHA_KEY}"
{auth}

[whatsapp.evolution]
webhook_token = "{EVO_TOKEN}"
webhook_jwt_key = "{EVO_JWT_KEY}"

[evidence]
max_attempts = 3
"#
    )
}

async fn post(
    c: &reqwest::Client,
    s: &Server,
    path: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> u16 {
    let mut r = c
        .post(s.u(path))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.send().await.unwrap().status().as_u16()
}

/// The evidence record once it has left `pending` (fetched, failed…).
async fn evidence_settled(
    c: &reqwest::Client,
    s: &Server,
    tok: &str,
    eid: i64,
    what: &str,
) -> Value {
    eventually(20, what, || {
        let c = c.clone();
        let url = s.u(&format!("/api/v1/evidence/{eid}"));
        let tok = tok.to_string();
        async move {
            let (_, v) = get_json(&c, &url, &tok).await;
            (v["status"] != "pending").then_some(v)
        }
    })
    .await
}

async fn messages(c: &reqwest::Client, s: &Server, tok: &str, source: &str) -> Vec<Value> {
    let (st, v) = get_json(
        c,
        &s.u(&format!("/api/v1/messages?source={source}&limit=500")),
        tok,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

async fn count_all(c: &reqwest::Client, s: &Server, tok: &str) -> usize {
    let (_, v) = get_json(c, &s.u("/api/v1/messages?limit=500"), tok).await;
    v["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn waha_hmac_is_checked_on_the_raw_body() {
    let s = Server::start(&waha_config("http://127.0.0.1:9", true));
    let c = client();
    let tok = s.token("viewer");
    let body = waha("hmac/body.json");
    let exp: Value = serde_json::from_slice(&waha("hmac/expected.json")).unwrap();
    let good = exp["headers"]["X-Webhook-Hmac"].as_str().unwrap();
    assert_eq!(good, hmac512(&hmac_key(), &body), "fixture vector");
    assert_eq!(
        post(&c, &s, "/webhooks/waha", &body, &[]).await,
        401,
        "missing"
    );
    let forged = "0".repeat(128);
    assert_eq!(
        post(
            &c,
            &s,
            "/webhooks/waha",
            &body,
            &[("x-webhook-hmac", &forged)]
        )
        .await,
        401,
        "forged"
    );
    let mut changed = body.clone();
    changed.push(b' ');
    assert_eq!(
        post(
            &c,
            &s,
            "/webhooks/waha",
            &changed,
            &[("x-webhook-hmac", good)]
        )
        .await,
        401,
        "one byte changed"
    );
    assert_eq!(
        post(
            &c,
            &s,
            "/webhooks/waha",
            &body,
            &[("x-tapak-token", "waha-token-1")]
        )
        .await,
        401,
        "a token does not replace the HMAC once a key is set"
    );
    assert_eq!(count_all(&c, &s, &tok).await, 0);
    assert_eq!(
        post(&c, &s, "/webhooks/waha", &body, &[("x-webhook-hmac", good)]).await,
        200
    );
    let other = waha("message_text_dm.json");
    let sig = hmac512(&hmac_key(), &other);
    assert_eq!(
        post(
            &c,
            &s,
            "/webhooks/waha",
            &other,
            &[("X-Webhook-Hmac", &sig.to_uppercase())]
        )
        .await,
        200,
        "hex in either case"
    );
    assert!(count_all(&c, &s, &tok).await >= 1);
}

#[tokio::test]
async fn waha_token_and_unconfigured_sources() {
    let s = Server::start(&waha_config("http://127.0.0.1:9", false));
    let c = client();
    let tok = s.token("viewer");
    let body = waha("message_text_dm.json");
    assert_eq!(post(&c, &s, "/webhooks/waha", &body, &[]).await, 401);
    assert_eq!(
        post(
            &c,
            &s,
            "/webhooks/waha",
            &body,
            &[("x-tapak-token", "nope")]
        )
        .await,
        401
    );
    assert_eq!(count_all(&c, &s, &tok).await, 0);
    assert_eq!(
        post(
            &c,
            &s,
            "/webhooks/waha",
            &body,
            &[("x-tapak-token", "waha-token-1")]
        )
        .await,
        200
    );
    assert_eq!(count_all(&c, &s, &tok).await, 1);

    // Neither gateway configured: 403, nothing stored, whatever the credentials.
    let bare = Server::start("[evidence]\nmax_attempts = 3\n");
    let vt = bare.token("viewer");
    assert_eq!(
        post(
            &c,
            &bare,
            "/webhooks/waha",
            &body,
            &[("x-tapak-token", "waha-token-1")]
        )
        .await,
        403
    );
    assert_eq!(
        post(
            &c,
            &bare,
            "/webhooks/evolution",
            &evo("messages_upsert_text_dm.json"),
            &[("authorization", &format!("Bearer {EVO_TOKEN}"))]
        )
        .await,
        403
    );
    assert_eq!(count_all(&c, &bare, &vt).await, 0);
}

#[tokio::test]
async fn evolution_token_and_jwt() {
    let s = Server::start(&waha_config("http://127.0.0.1:9", false));
    let c = client();
    let tok = s.token("viewer");
    let path = "/webhooks/evolution";
    let body = evo("messages_upsert_text_dm.json");
    assert_eq!(post(&c, &s, path, &body, &[]).await, 401, "missing");
    assert_eq!(
        post(&c, &s, path, &body, &[("authorization", "Bearer wrong")]).await,
        401
    );
    let expired = jwt(
        EVO_JWT_KEY,
        serde_json::json!({"iat": now() - 7200, "exp": now() - 3600, "app": "evolution"}),
        "HS256",
    );
    assert_eq!(
        post(
            &c,
            &s,
            path,
            &body,
            &[("authorization", &format!("Bearer {expired}"))]
        )
        .await,
        401,
        "expired JWT"
    );
    let wrong_key = jwt(
        "not-the-key",
        serde_json::json!({"iat": now(), "exp": now() + 600}),
        "HS256",
    );
    assert_eq!(
        post(
            &c,
            &s,
            path,
            &body,
            &[("authorization", &format!("Bearer {wrong_key}"))]
        )
        .await,
        401
    );
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none = format!(
        "{}.{}.",
        e.encode(r#"{"alg":"none","typ":"JWT"}"#),
        e.encode(format!(r#"{{"exp":{}}}"#, now() + 600))
    );
    assert_eq!(
        post(
            &c,
            &s,
            path,
            &body,
            &[("authorization", &format!("Bearer {none}"))]
        )
        .await,
        401,
        "alg none"
    );
    assert_eq!(count_all(&c, &s, &tok).await, 0);
    let valid = jwt(
        EVO_JWT_KEY,
        serde_json::json!({"iat": now(), "exp": now() + 600, "app": "evolution", "action": "webhook"}),
        "HS256",
    );
    assert_eq!(
        post(
            &c,
            &s,
            path,
            &body,
            &[("authorization", &format!("Bearer {valid}"))]
        )
        .await,
        200
    );
    assert_eq!(
        post(
            &c,
            &s,
            path,
            &evo("messages_upsert_group_text_lid.json"),
            &[("authorization", &format!("Bearer {EVO_TOKEN}"))]
        )
        .await,
        200
    );
    assert_eq!(
        post(
            &c,
            &s,
            path,
            &evo("messages_upsert_location.json"),
            &[("x-tapak-token", EVO_TOKEN)]
        )
        .await,
        200
    );
    // A read receipt (no time of its own) is accepted too.
    assert_eq!(
        post(
            &c,
            &s,
            path,
            &evo("messages_update_read.json"),
            &[("x-tapak-token", EVO_TOKEN)]
        )
        .await,
        200
    );
    let msgs = messages(&c, &s, &tok, "evolution").await;
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    // The @lid participant is mapped to the phone in participantAlt.
    assert!(
        msgs.iter().any(|m| m["sender"]["phone"] == "60167654302"),
        "{msgs:?}"
    );
    // Inline base64 media become ready evidence.
    assert_eq!(
        post(
            &c,
            &s,
            path,
            &evo("messages_upsert_image_base64.json"),
            &[("x-tapak-token", EVO_TOKEN)]
        )
        .await,
        200
    );
    let img = messages(&c, &s, &tok, "evolution")
        .await
        .into_iter()
        .find(|m| m["type"] == "media")
        .unwrap();
    let eid = img["media"][0].as_i64().unwrap();
    let ev = evidence_settled(&c, &s, &tok, eid, "inline evidence ready").await;
    assert_eq!(ev["status"], "ready", "{ev}");
    assert_eq!(ev["kind"], "photo");
}

#[tokio::test]
async fn edits_keep_versions_revokes_keep_text_broadcasts_ignored_redelivery_once() {
    let s = Server::start(&waha_config("http://127.0.0.1:9", false));
    let c = client();
    let tok = s.token("viewer");
    let h = [("x-tapak-token", "waha-token-1")];
    let original = waha("message_group_text_lid.json");
    for _ in 0..3 {
        assert_eq!(post(&c, &s, "/webhooks/waha", &original, &h).await, 200);
    }
    let msgs = messages(&c, &s, &tok, "waha").await;
    assert_eq!(msgs.len(), 1, "redelivery stored once");
    let id = msgs[0]["id"].as_i64().unwrap();
    let first_text = msgs[0]["text"].as_str().unwrap().to_string();
    assert_eq!(
        post(&c, &s, "/webhooks/waha", &waha("message_edited.json"), &h).await,
        200
    );
    let (_, d) = get_json(&c, &s.u(&format!("/api/v1/messages/{id}")), &tok).await;
    assert_eq!(d["edited"], true, "{d}");
    assert!(d["text"].as_str().unwrap().contains("4 batang"), "{d}");
    let versions = d["versions"].as_array().unwrap();
    assert!(
        versions.iter().any(|v| v["text"] == first_text.as_str()),
        "the original text is kept: {d}"
    );
    // Revoke ("deleted for everyone"): flagged, text kept for the audit record.
    let kept = "Mesej ini akan dipadam oleh penghantar";
    let victim = String::from_utf8(original.clone())
        .unwrap()
        .replace("3A5F0E9D8C7B6A594837", "3A9999AAAABBBBCCCC00")
        .replace("evt_", "evt_x");
    let mut v: Value = serde_json::from_str(&victim).unwrap();
    v["payload"]["body"] = kept.into();
    if v["payload"]["_data"].get("body").is_some() {
        v["payload"]["_data"]["body"] = kept.into();
    }
    if let Some(m) = v["payload"]["_data"].get_mut("message") {
        if m.get("conversation").is_some() {
            m["conversation"] = kept.into();
        }
    }
    let victim = serde_json::to_vec(&v).unwrap();
    assert_eq!(post(&c, &s, "/webhooks/waha", &victim, &h).await, 200);
    assert_eq!(
        post(&c, &s, "/webhooks/waha", &waha("message_revoked.json"), &h).await,
        200
    );
    let m = messages(&c, &s, &tok, "waha")
        .await
        .into_iter()
        .find(|m| m["id"].as_i64() != Some(id))
        .unwrap();
    assert_eq!(m["deleted"], true, "{m}");
    assert_eq!(m["text"], kept);
    // status@broadcast is ignored.
    let mut st: Value = serde_json::from_slice(&waha("message_text_dm.json")).unwrap();
    fn to_status(v: &mut Value) {
        match v {
            Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    if matches!(k.as_str(), "from" | "remote" | "remoteJid" | "chatId")
                        && x.is_string()
                    {
                        *x = "status@broadcast".into();
                    } else {
                        to_status(x);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(to_status),
            _ => {}
        }
    }
    to_status(&mut st["payload"]);
    st["payload"]["id"] = "false_status@broadcast_3EB0STATUS0000001_60123456701@c.us".into();
    st["payload"]["participant"] = "60123456701@c.us".into();
    let before = count_all(&c, &s, &tok).await;
    assert_eq!(
        post(
            &c,
            &s,
            "/webhooks/waha",
            &serde_json::to_vec(&st).unwrap(),
            &h
        )
        .await,
        200
    );
    assert_eq!(
        count_all(&c, &s, &tok).await,
        before,
        "status broadcast not stored"
    );
}

#[tokio::test]
async fn waha_media_is_fetched_from_the_configured_gateway_only() {
    let photo = jpeg(200, 150, 3);
    let body = waha("message_image.json");
    let v: Value = serde_json::from_slice(&body).unwrap();
    let advertised = v["payload"]["media"]["url"].as_str().unwrap().to_string();
    let file = advertised.rsplit('/').next().unwrap().to_string();
    let gw = FakeWaha::start(vec![(file.as_str(), photo.clone())]).await;
    let s = Server::start(&waha_config(&gw.url, false));
    let c = client();
    let tok = s.token("viewer");
    let h = [("x-tapak-token", "waha-token-1")];
    // WAHA advertises its own host (http://waha:3000); tapak fetches the same path from base_url.
    assert!(!advertised.starts_with(&gw.url));
    assert_eq!(post(&c, &s, "/webhooks/waha", &body, &h).await, 200);
    let m = messages(&c, &s, &tok, "waha").await.remove(0);
    let eid = m["media"][0].as_i64().unwrap();
    let ev = evidence_settled(&c, &s, &tok, eid, "WAHA media fetched").await;
    assert_eq!(ev["status"], "ready", "{ev}\n{}", s.log());
    let got = c
        .get(s.u(&format!("/api/v1/evidence/{eid}/file")))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.to_vec(), photo);
    let hits = gw.hits.lock().unwrap().clone();
    assert!(
        hits.iter()
            .any(|(n, k)| *n == file && k.as_deref() == Some(WAHA_KEY)),
        "{hits:?}"
    );
    // A media URL elsewhere (not a WAHA file path) is refused; the error names the host.
    let mut evil = v.clone();
    evil["payload"]["media"]["url"] = "http://169.254.169.254/latest/meta-data/iam".into();
    let evil = String::from_utf8(serde_json::to_vec(&evil).unwrap())
        .unwrap()
        .replace("3A6B7C8D9E0F1A2B3C4D", "3A6B7C8D9E0F1A2B3C99");
    assert_eq!(
        post(&c, &s, "/webhooks/waha", evil.as_bytes(), &h).await,
        200
    );
    let m = messages(&c, &s, &tok, "waha")
        .await
        .into_iter()
        .find(|m| m["media"][0].as_i64() != Some(eid))
        .unwrap();
    let eid2 = m["media"][0].as_i64().unwrap();
    let ev = evidence_settled(&c, &s, &tok, eid2, "foreign media refused").await;
    assert_eq!(ev["status"], "failed", "{ev}");
    assert!(
        ev["error"].as_str().unwrap().contains("169.254.169.254"),
        "{ev}"
    );
    assert_eq!(
        gw.hits.lock().unwrap().len(),
        hits.len(),
        "nothing else fetched"
    );
}

/// `message_group_text_lid.json` sent by `participant` with a new message id and text, and no phone JID anywhere in
/// the payload (no `participantAlt`), so an `@lid` sender can only be mapped through the gateway.
fn lid_message(participant: &str, msg_id: &str, name: &str, text: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&waha("message_group_text_lid.json")).unwrap();
    v["id"] = format!("evt_{msg_id}").into();
    v["payload"]["id"] = format!("false_120363401234567890@g.us_{msg_id}").into();
    v["payload"]["participant"] = participant.into();
    v["payload"]["body"] = text.into();
    v["payload"]["_data"]["pushName"] = name.into();
    v["payload"]["_data"]["message"]["conversation"] = text.into();
    let key = v["payload"]["_data"]["key"].as_object_mut().unwrap();
    key.remove("participantAlt");
    key.insert("participant".into(), participant.into());
    key.insert("id".into(), msg_id.into());
    serde_json::to_vec(&v).unwrap()
}

async fn message_with_text(c: &reqwest::Client, s: &Server, tok: &str, text: &str) -> Value {
    messages(c, s, tok, "waha")
        .await
        .into_iter()
        .find(|m| m["text"] == text)
        .unwrap_or_else(|| panic!("no message {text:?}"))
}

async fn person(c: &reqwest::Client, s: &Server, tok: &str, id: &Value) -> Value {
    let (st, v) = get_json(c, &s.u("/api/v1/people"), tok).await;
    assert_eq!(st, 200, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == *id)
        .cloned()
        .unwrap_or_else(|| panic!("person {id} not listed: {v}"))
}

#[tokio::test]
async fn waha_lid_senders_get_their_phone_from_the_gateway() {
    let gw = FakeWaha::start_with(
        vec![],
        vec![
            ("215555123456789@lid", Some("60167654302@c.us")),
            ("99887766554433@lid", Some("60198765403:12@s.whatsapp.net")),
        ],
    )
    .await;
    let s = Server::start(&waha_config(&gw.url, false));
    let c = client();
    let tok = s.token("viewer");
    let h = [("x-tapak-token", "waha-token-1")];
    let lookups = |lid: &str| gw.hits_for(&format!("lids/default/{lid}"));

    // The webhook answers while the gateway has not answered the lookup yet (the lookup runs in the background).
    let gate = gw.gate.write().await;
    let first = "Lampu koridor Blok B tingkat 2 rosak";
    let body = lid_message(
        "215555123456789:12@lid",
        "3A1000000000000000A1",
        "Rajesh Security",
        first,
    );
    assert_eq!(post(&c, &s, "/webhooks/waha", &body, &h).await, 200);
    eventually(20, "the lid lookup is asked", || {
        let n = lookups("215555123456789@lid").len();
        async move { (n > 0).then_some(()) }
    })
    .await;
    let m = message_with_text(&c, &s, &tok, first).await;
    assert!(m["sender"]["phone"].is_null(), "{m}");
    assert_eq!(m["sender"]["name"], "Rajesh Security");
    let rajesh = m["sender"]["id"].clone();
    drop(gate);
    let m = eventually(20, "the phone from the lids API", || {
        let (c, s, tok) = (c.clone(), &s, tok.clone());
        async move {
            let m = message_with_text(&c, s, &tok, first).await;
            (m["sender"]["phone"] == "60167654302").then_some(m)
        }
    })
    .await;
    assert_eq!(m["sender"]["id"], rajesh, "same person, now with a phone");
    // Asked with the device suffix stripped, with the API key.
    assert_eq!(
        lookups("215555123456789@lid"),
        vec![Some(WAHA_KEY.to_string())]
    );
    let p = person(&c, &s, &tok, &rajesh).await;
    assert_eq!(p["phone"], "60167654302", "{p}");
    let ids: Vec<&str> = p["ids"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        ids.contains(&"215555123456789@lid") && ids.contains(&"60167654302"),
        "{p}"
    );

    // A later message from the phone, and another from the lid: both the same person; the lid is not asked again.
    let by_phone = "Dah tukar 3 batang lampu";
    let body = lid_message(
        "60167654302@c.us",
        "3A1000000000000000A2",
        "Rajesh",
        by_phone,
    );
    assert_eq!(post(&c, &s, "/webhooks/waha", &body, &h).await, 200);
    let again = "Lampu tingkat 3 pun rosak";
    let body = lid_message(
        "215555123456789@lid",
        "3A1000000000000000A3",
        "Rajesh Security",
        again,
    );
    assert_eq!(post(&c, &s, "/webhooks/waha", &body, &h).await, 200);
    assert_eq!(
        message_with_text(&c, &s, &tok, by_phone).await["sender"]["id"],
        rajesh
    );
    assert_eq!(
        message_with_text(&c, &s, &tok, again).await["sender"]["id"],
        rajesh
    );

    // Someone already known by phone turns up under a lid: once mapped, the two people are merged.
    let known = "Tolong check pam air Blok A";
    let body = lid_message(
        "60198765403@c.us",
        "3A1000000000000000B1",
        "Wei Ling (Manager)",
        known,
    );
    assert_eq!(post(&c, &s, "/webhooks/waha", &body, &h).await, 200);
    let wei_ling = message_with_text(&c, &s, &tok, known).await["sender"]["id"].clone();
    let hidden = "Pam air dah ok";
    let body = lid_message(
        "99887766554433@lid",
        "3A1000000000000000B2",
        "Wei Ling",
        hidden,
    );
    assert_eq!(post(&c, &s, "/webhooks/waha", &body, &h).await, 200);
    eventually(20, "the lid person merged into the phone's owner", || {
        let (c, s, tok, w) = (c.clone(), &s, tok.clone(), wei_ling.clone());
        async move { (message_with_text(&c, s, &tok, hidden).await["sender"]["id"] == w).then_some(()) }
    })
    .await;
    let p = person(&c, &s, &tok, &wei_ling).await;
    assert_eq!(p["phone"], "60198765403", "{p}");
    assert!(
        p["ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "99887766554433@lid"),
        "{p}"
    );
    let (_, people) = get_json(&c, &s.u("/api/v1/people"), &tok).await;
    let holders = people["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["ids"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i == "99887766554433@lid")
        })
        .count();
    assert_eq!(holders, 1, "{people}");

    // The gateway does not know this one (pn: null): retried with backoff, the lid person stays as it was.
    let unknown = "Saya pekerja baru";
    let body = lid_message(
        "215555000000001@lid",
        "3A1000000000000000C1",
        "Pekerja Baru",
        unknown,
    );
    assert_eq!(post(&c, &s, "/webhooks/waha", &body, &h).await, 200);
    eventually(20, "the unknown lid asked again after a backoff", || {
        let n = lookups("215555000000001@lid").len();
        async move { (n >= 2).then_some(()) }
    })
    .await;
    let m = message_with_text(&c, &s, &tok, unknown).await;
    assert!(m["sender"]["phone"].is_null(), "{m}");
    let p = person(&c, &s, &tok, &m["sender"]["id"]).await;
    assert_eq!(p["ids"], serde_json::json!(["215555000000001@lid"]), "{p}");
    assert_eq!(p["name"], "Pekerja Baru");

    // Each mapping is in the event log; merging kept every reference whole.
    assert_foreign_keys_hold(&s.data.join("tapak.db"));
    let conn = rusqlite::Connection::open_with_flags(
        s.data.join("tapak.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let mut st = conn
        .prepare(
            "SELECT entity_id, data FROM events WHERE action = 'person.lid_mapped' ORDER BY id",
        )
        .unwrap();
    let evs: Vec<(String, Value)> = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                serde_json::from_str(&r.get::<_, String>(1)?).unwrap(),
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(evs.len(), 2, "{evs:?}");
    assert_eq!(evs[0].0, rajesh.to_string());
    assert_eq!(evs[0].1["lid"], "215555123456789@lid");
    assert_eq!(evs[0].1["phone"], "60167654302");
    assert_eq!(evs[1].0, wei_ling.to_string());
    assert!(evs[1].1["merged_from"].is_i64(), "{evs:?}");
}

#[tokio::test]
async fn evolution_media_without_base64_or_url_is_asked_of_the_gateway() {
    let fx: Value = serde_json::from_slice(&evo("messages_upsert_image_base64.json")).unwrap();
    let photo = base64::engine::general_purpose::STANDARD
        .decode(fx["data"]["message"]["base64"].as_str().unwrap())
        .unwrap();
    let msg_id = fx["data"]["key"]["id"].as_str().unwrap().to_string();
    let gw = FakeEvolution::start(vec![(msg_id.as_str(), photo.clone())]).await;
    let cfg = format!(
        r#"
[whatsapp.evolution]
base_url = "{}"
api_key = "{EVO_API_KEY}"
webhook_token = "{EVO_TOKEN}"

[evidence]
max_attempts = 3
"#,
        gw.url
    );
    let s = Server::start(&cfg);
    let c = client();
    let tok = s.token("viewer");
    let mut v = fx.clone();
    v["data"]["message"]
        .as_object_mut()
        .unwrap()
        .remove("base64");
    assert!(v["data"]["message"].get("mediaUrl").is_none());
    let body = serde_json::to_vec(&v).unwrap();
    assert_eq!(
        post(
            &c,
            &s,
            "/webhooks/evolution",
            &body,
            &[("x-tapak-token", EVO_TOKEN)]
        )
        .await,
        200
    );
    let m = messages(&c, &s, &tok, "evolution").await.remove(0);
    let eid = m["media"][0].as_i64().unwrap();
    let ev = evidence_settled(&c, &s, &tok, eid, "Evolution media fetched").await;
    assert_eq!(ev["status"], "ready", "{ev}\n{}", s.log());
    assert_eq!(ev["kind"], "photo");
    let got = c
        .get(s.u(&format!("/api/v1/evidence/{eid}/file")))
        .bearer_auth(&tok)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        got.to_vec(),
        photo,
        "byte-identical to what the gateway served"
    );
    let hits = gw.hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let (instance, key, req) = &hits[0];
    assert_eq!(
        instance, "ops-menara-contoh",
        "the instance the webhook named"
    );
    assert_eq!(key.as_deref(), Some(EVO_API_KEY));
    assert_eq!(
        *req,
        serde_json::json!({"message": {"key": {"id": msg_id}}, "convertToMp4": false})
    );
}

/// Sends a POST whose head announces `len` body bytes, then only the first 64 KiB of the body, and returns the status
/// line the server answers with while the rest is still unsent (None if it waits for the body).
async fn answer_before_the_body(
    s: &Server,
    path: &str,
    headers: &[(&str, &str)],
    len: usize,
) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = s.url.trim_start_matches("http://").to_string();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {len}\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).await.unwrap();
    // The server may refuse (and close) before even this much is taken: a write error is fine.
    let _ = conn.write_all(&vec![b' '; 64 * 1024]).await;
    let mut buf = vec![0u8; 1024];
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), conn.read(&mut buf)).await;
    match read {
        Ok(Ok(n)) if n > 0 => String::from_utf8_lossy(&buf[..n])
            .lines()
            .next()
            .map(str::to_string),
        _ => None,
    }
}

#[tokio::test]
async fn a_wrong_gateway_token_is_refused_before_the_body_is_read() {
    let s = Server::start(&waha_config("http://127.0.0.1:9", false));
    let c = client();
    let tok = s.token("viewer");
    // 60 MB announced (under the Evolution limit), 64 KiB sent: the answer comes while the client is still sending.
    for (path, headers, len) in [
        (
            "/webhooks/evolution",
            vec![("x-tapak-token", "nope")],
            60_000_000,
        ),
        (
            "/webhooks/evolution",
            vec![("authorization", "Bearer nope")],
            60_000_000,
        ),
        ("/webhooks/evolution", vec![], 60_000_000),
        ("/webhooks/waha", vec![("x-tapak-token", "nope")], 6_000_000),
        ("/webhooks/waha", vec![], 6_000_000),
    ] {
        let status = answer_before_the_body(&s, path, &headers, len).await;
        assert!(
            status.as_deref().is_some_and(|l| l.contains(" 401 ")),
            "{path} {headers:?}: answered {status:?} before the body was sent"
        );
    }
    // The right token still gets its delivery read and stored.
    let body = waha("message_text_dm.json");
    let h = [("x-tapak-token", "waha-token-1")];
    assert_eq!(post(&c, &s, "/webhooks/waha", &body, &h).await, 200);
    eventually(30, "the delivery stored", || {
        let (c, tok) = (c.clone(), tok.clone());
        let s = &s;
        async move { (count_all(&c, s, &tok).await == 1).then_some(()) }
    })
    .await;
}
