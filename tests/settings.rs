//! The settings screens' API against the real `tapak serve`: users and API tokens managed by administrators, the
//! WhatsApp connections (configuration, webhook addresses, last delivery, a test message through the outbox to a fake
//! Graph API, WAHA's session status from a fake WAHA), vendors with their people and tickets assigned to a vendor, and
//! a site's reminder settings checked on the way in.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// A fake Meta Graph API and WAHA on loopback: Cloud sends (`POST /{version}/{phone_id}/messages`) and WAHA's session
/// (`GET /api/sessions/{name}`, which wants `X-Api-Key: waha-key`). Every request body sent is kept.
struct FakeWhatsApp {
    url: String,
    sent: Arc<Mutex<Vec<Value>>>,
    _task: tokio::task::JoinHandle<()>,
}

impl FakeWhatsApp {
    async fn start() -> FakeWhatsApp {
        use axum::extract::{Path, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::response::IntoResponse;
        let sent = Arc::new(Mutex::new(vec![]));
        async fn send(
            State(sent): State<Arc<Mutex<Vec<Value>>>>,
            h: HeaderMap,
            axum::Json(body): axum::Json<Value>,
        ) -> axum::response::Response {
            if h.get("authorization").and_then(|v| v.to_str().ok())
                != Some(&format!("Bearer {ACCESS_TOKEN}"))
            {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            sent.lock().unwrap().push(body);
            axum::Json(
                json!({"messaging_product": "whatsapp", "messages": [{"id": "wamid.test-ok"}]}),
            )
            .into_response()
        }
        async fn session(h: HeaderMap, Path(name): Path<String>) -> axum::response::Response {
            if h.get("x-api-key").and_then(|v| v.to_str().ok()) != Some("waha-key") {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            if name != "ops" {
                return StatusCode::NOT_FOUND.into_response();
            }
            axum::Json(json!({"name": "ops", "status": "SCAN_QR_CODE", "me": {"id": "60380001234@c.us", "pushName": "Ops phone"}}))
                .into_response()
        }
        let router = axum::Router::new()
            .route("/{version}/{phone}/messages", axum::routing::post(send))
            .route("/api/sessions/{name}", axum::routing::get(session))
            .with_state(sent.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeWhatsApp {
            url,
            sent,
            _task: task,
        }
    }
}

/// Logs in through the API with a cookie client; answers the CSRF token.
async fn login(c: &reqwest::Client, s: &Server, user: &str, password: &str) -> (u16, Value) {
    let r = c
        .post(s.u("/api/v1/auth/login"))
        .json(&json!({"username": user, "password": password}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn no_secrets(v: &Value) {
    let text = v.to_string();
    assert!(
        !text.contains("hash") && !text.contains("$argon2"),
        "a hash in the answer: {text}"
    );
}

#[tokio::test]
async fn admins_manage_users_and_tokens_and_the_last_admin_cannot_be_demoted() {
    let s = Server::start("");
    let c = client();
    let admin = s.token("admin");
    let manager = s.token("manager");
    s.add_user("root", "admin", "root-password-1");
    let url = |p: &str| s.u(p);

    // Only administrators.
    assert_eq!(get_json(&c, &url("/api/v1/users"), &manager).await.0, 403);
    let (st, _) = send_json(
        &c,
        Method::POST,
        &url("/api/v1/users"),
        &manager,
        &json!({"name": "siti", "role": "manager", "password": "siti-password"}),
    )
    .await;
    assert_eq!(st, 403);

    // Add: a weak password and an unknown role are refused, naming the field; a taken name is a conflict.
    let (st, v) = send_json(
        &c,
        Method::POST,
        &url("/api/v1/users"),
        &admin,
        &json!({"name": "siti", "role": "manager", "password": "short"}),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("password:"),
        "{v}"
    );
    let (st, v) = send_json(
        &c,
        Method::POST,
        &url("/api/v1/users"),
        &admin,
        &json!({"name": "siti", "role": "boss", "password": "siti-password"}),
    )
    .await;
    assert_eq!(st, 400, "{v}");
    let (st, siti) = send_json(
        &c,
        Method::POST,
        &url("/api/v1/users"),
        &admin,
        &json!({"name": "siti", "role": "manager", "password": "siti-password"}),
    )
    .await;
    assert_eq!(st, 201, "{siti}");
    assert_eq!(
        (&siti["name"], &siti["role"], &siti["disabled"]),
        (&json!("siti"), &json!("manager"), &json!(false))
    );
    no_secrets(&siti);
    let (st, _) = send_json(
        &c,
        Method::POST,
        &url("/api/v1/users"),
        &admin,
        &json!({"name": "SITI", "role": "viewer", "password": "siti-password"}),
    )
    .await;
    assert_eq!(st, 409);
    let (_, list) = get_json(&c, &url("/api/v1/users"), &admin).await;
    no_secrets(&list);
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");

    // The new user logs in; a role change shows at once; a password reset ends the session.
    let sc = cookie_client();
    let (st, me) = login(&sc, &s, "siti", "siti-password").await;
    assert_eq!((st, &me["user"]["role"]), (200, &json!("manager")));
    let sid = siti["id"].as_i64().unwrap();
    let (st, v) = send_json(
        &c,
        Method::PATCH,
        &url(&format!("/api/v1/users/{sid}")),
        &admin,
        &json!({"role": "viewer"}),
    )
    .await;
    assert_eq!((st, &v["role"]), (200, &json!("viewer")), "{v}");
    let me = sc
        .get(url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(me["user"]["role"], "viewer");
    let (st, _) = send_json(
        &c,
        Method::PATCH,
        &url(&format!("/api/v1/users/{sid}")),
        &admin,
        &json!({"password": "new-siti-password"}),
    )
    .await;
    assert_eq!(st, 200);
    assert_eq!(
        sc.get(url("/api/v1/auth/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(login(&sc, &s, "siti", "siti-password").await.0, 401);
    assert_eq!(login(&sc, &s, "siti", "new-siti-password").await.0, 200);
    // Disabled: the session ends and the login is refused.
    let (st, v) = send_json(
        &c,
        Method::PATCH,
        &url(&format!("/api/v1/users/{sid}")),
        &admin,
        &json!({"disabled": true}),
    )
    .await;
    assert_eq!((st, &v["disabled"]), (200, &json!(true)));
    assert_eq!(
        sc.get(url("/api/v1/auth/me"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(login(&sc, &s, "siti", "new-siti-password").await.0, 401);

    // The last enabled administrator can be neither demoted nor disabled.
    let (_, list) = get_json(&c, &url("/api/v1/users"), &admin).await;
    let root = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "root")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    for body in [json!({"role": "manager"}), json!({"disabled": true})] {
        let (st, v) = send_json(
            &c,
            Method::PATCH,
            &url(&format!("/api/v1/users/{root}")),
            &admin,
            &body,
        )
        .await;
        assert_eq!(
            (st, &v["error"]["code"]),
            (409, &json!("conflict")),
            "{body}: {v}"
        );
    }
    // With a second administrator the first may step down, and then the second is the last one.
    let (st, boss) = send_json(
        &c,
        Method::POST,
        &url("/api/v1/users"),
        &admin,
        &json!({"name": "boss", "role": "admin", "password": "boss-password"}),
    )
    .await;
    assert_eq!(st, 201);
    let (st, _) = send_json(
        &c,
        Method::PATCH,
        &url(&format!("/api/v1/users/{root}")),
        &admin,
        &json!({"role": "manager"}),
    )
    .await;
    assert_eq!(st, 200);
    let boss_id = boss["id"].as_i64().unwrap();
    let (st, _) = send_json(
        &c,
        Method::PATCH,
        &url(&format!("/api/v1/users/{boss_id}")),
        &admin,
        &json!({"disabled": true}),
    )
    .await;
    assert_eq!(st, 409);

    // In the browser session, writes need the CSRF token.
    let bc = cookie_client();
    let (st, info) = login(&bc, &s, "boss", "boss-password").await;
    assert_eq!(st, 200);
    let csrf = info["csrf_token"].as_str().unwrap().to_string();
    let body = json!({"name": "aminah", "role": "inspector", "password": "aminah-password"});
    let r = bc
        .post(url("/api/v1/users"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a cookie write without X-CSRF-Token");
    let r = bc
        .post(url("/api/v1/users"))
        .header("x-csrf-token", &csrf)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    // Tokens: created (shown once), listed without the secret, revoked; a token cannot revoke itself.
    let (st, t) = send_json(
        &c,
        Method::POST,
        &url("/api/v1/tokens"),
        &admin,
        &json!({"name": "reporting script", "role": "viewer"}),
    )
    .await;
    assert_eq!(st, 201, "{t}");
    let secret = t["token"].as_str().unwrap().to_string();
    assert!(secret.starts_with("tpk_"));
    assert_eq!(get_json(&c, &url("/api/v1/messages"), &secret).await.0, 200);
    let (_, tokens) = get_json(&c, &url("/api/v1/tokens"), &admin).await;
    assert!(!tokens.to_string().contains(&secret));
    no_secrets(&tokens);
    assert!(tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["name"] == "reporting script" && x["revoked"] == false));
    let tid = t["id"].as_i64().unwrap();
    let r = c
        .delete(url(&format!("/api/v1/tokens/{tid}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(get_json(&c, &url("/api/v1/messages"), &secret).await.0, 401);
    let (_, tokens) = get_json(&c, &url("/api/v1/tokens"), &admin).await;
    let admin_token = tokens["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "test-admin")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = c
        .delete(url(&format!("/api/v1/tokens/{admin_token}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(get_json(&c, &url("/api/v1/users"), &admin).await.0, 200);

    // The OpenAPI document describes the new routes.
    let (_, doc) = get_json(&c, &url("/api/v1/openapi.json"), &admin).await;
    for p in [
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/tokens",
        "/api/v1/tokens/{id}",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from openapi.json"
        );
    }
}

fn whatsapp_config(fake: &str, waha: &str) -> String {
    format!(
        r#"{}
[server]
public_url = "https://tapak.example.com/"

[whatsapp.waha]
base_url = "{waha}"
api_key = "waha-key"
webhook_token = "waha-webhook-token"
session = "ops"

[reminders]
# Quiet all day but a minute: a test message is not held by quiet hours.
quiet_hours = "00:00-23:59"
"#,
        default_config(fake)
    )
}

#[tokio::test]
async fn connections_show_their_setup_and_last_delivery_and_a_test_message_goes_out() {
    let fake = FakeWhatsApp::start().await;
    let s = Server::start(&whatsapp_config(&fake.url, &fake.url));
    let c = client();
    let admin = s.token("admin");
    let manager = s.token("manager");
    let viewer = s.token("viewer");
    assert_eq!(
        get_json(&c, &s.u("/api/v1/settings/connections"), &viewer)
            .await
            .0,
        403
    );

    let (st, v) = get_json(&c, &s.u("/api/v1/settings/connections"), &manager).await;
    assert_eq!(st, 200, "{v}");
    let by = |v: &Value, src: &str| {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["source"] == src)
            .unwrap()
            .clone()
    };
    let cloud = by(&v, "cloud_api");
    assert_eq!(
        cloud["webhook_url"],
        "https://tapak.example.com/webhooks/whatsapp"
    );
    assert_eq!(
        (&cloud["receiving"], &cloud["sending"]),
        (&json!(true), &json!(true))
    );
    assert!(cloud["last_delivery"].is_null(), "{cloud}");
    let waha = by(&v, "waha");
    assert_eq!(
        (&waha["receiving"], &waha["sending"], &waha["session"]),
        (&json!(true), &json!(true), &json!("ops"))
    );
    assert_eq!(
        waha["webhook_url"],
        "https://tapak.example.com/webhooks/waha"
    );
    let evo = by(&v, "evolution");
    assert_eq!(
        (&evo["receiving"], &evo["sending"]),
        (&json!(false), &json!(false))
    );
    assert!(
        evo["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "whatsapp.evolution.base_url"),
        "{evo}"
    );
    assert!(
        !v.to_string().contains("waha-key") && !v.to_string().contains(ACCESS_TOKEN),
        "secrets in {v}"
    );

    // A delivery from the phone: the last delivery shows, and the phone is inside the 24-hour window.
    let body = cloud_group_msg(
        "wamid.hello",
        "60123456701",
        "Aminah",
        chrono::Utc::now().timestamp(),
        Some("Selamat pagi"),
        None,
        None,
    );
    assert_eq!(post_cloud(&c, &s, &body).await.status(), 200);
    let (_, v) = get_json(&c, &s.u("/api/v1/settings/connections"), &manager).await;
    let last = by(&v, "cloud_api")["last_delivery"].clone();
    assert_eq!(last["outcome"], "stored", "{v}");
    assert!(last["received_at"].as_str().is_some());
    assert!(by(&v, "waha")["last_delivery"].is_null());

    // A test message: administrators only, a real phone number, a configured route; it goes out through the outbox.
    let to = json!({"to": "+60 12-345 6701"});
    let u = s.u("/api/v1/settings/connections/cloud_api/test");
    assert_eq!(send_json(&c, Method::POST, &u, &manager, &to).await.0, 403);
    let (st, v) = send_json(&c, Method::POST, &u, &admin, &json!({"to": "call me"})).await;
    assert_eq!(st, 400, "{v}");
    let (st, v) = send_json(
        &c,
        Method::POST,
        &s.u("/api/v1/settings/connections/evolution/test"),
        &admin,
        &to,
    )
    .await;
    assert_eq!(st, 409, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("whatsapp.evolution.base_url"),
        "{v}"
    );
    let (st, v) = send_json(
        &c,
        Method::POST,
        &s.u("/api/v1/settings/connections/telegram/test"),
        &admin,
        &to,
    )
    .await;
    assert_eq!(st, 404, "{v}");
    let (st, queued) = send_json(&c, Method::POST, &u, &admin, &to).await;
    assert_eq!(st, 201, "{queued}");
    assert_eq!(
        (&queued["to"], &queued["purpose"], &queued["route"]),
        (&json!("60123456701"), &json!("test"), &json!("cloud_api"))
    );
    let id = queued["id"].as_i64().unwrap();
    let sent = eventually(20, "the test message sent", || {
        let (c, u, t) = (c.clone(), s.u("/api/v1/outbox?purpose=test"), admin.clone());
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            v["items"]
                .as_array()?
                .iter()
                .find(|x| x["id"] == id && x["state"] == "sent")
                .cloned()
        }
    })
    .await;
    assert_eq!(sent["wa_message_id"], "wamid.test-ok");
    let bodies = fake.sent.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["to"], "60123456701");
    assert_eq!(bodies[0]["type"], "text");
    assert!(bodies[0]["text"]["body"]
        .as_str()
        .unwrap()
        .contains("Test message from tapak"));

    // WAHA's session, as WAHA says.
    let (st, v) = get_json(
        &c,
        &s.u("/api/v1/settings/connections/waha/session"),
        &manager,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        (&v["reachable"], &v["status"], &v["account"]),
        (&json!(true), &json!("SCAN_QR_CODE"), &json!("Ops phone")),
        "{v}"
    );

    let (st, d) = get_json(&c, &s.u("/api/v1/settings/reminders"), &viewer).await;
    assert_eq!((st, &d["quiet_hours"]), (200, &json!("00:00-23:59")));
}

#[tokio::test]
async fn an_unreachable_or_misconfigured_waha_is_reported_clearly() {
    // Nothing listens on the port of a closed listener.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let s = Server::start(&whatsapp_config("http://127.0.0.1:9", &closed));
    let c = client();
    let manager = s.token("manager");
    let (st, v) = get_json(
        &c,
        &s.u("/api/v1/settings/connections/waha/session"),
        &manager,
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["reachable"], false, "{v}");
    assert!(v["error"].as_str().unwrap().contains(&closed), "{v}");
    // A WAHA that answers but refuses the key.
    let fake = FakeWhatsApp::start().await;
    let cfg = whatsapp_config("http://127.0.0.1:9", &fake.url)
        .replace("api_key = \"waha-key\"", "api_key = \"wrong\"");
    let s2 = Server::start(&cfg);
    let manager = s2.token("manager");
    let (_, v) = get_json(
        &c,
        &s2.u("/api/v1/settings/connections/waha/session"),
        &manager,
    )
    .await;
    assert_eq!(v["reachable"], false, "{v}");
    assert!(v["error"].as_str().unwrap().contains("API key"), "{v}");
    // Not configured at all: a conflict naming the key.
    let s3 = Server::start("");
    let manager = s3.token("manager");
    let (st, v) = get_json(
        &c,
        &s3.u("/api/v1/settings/connections/waha/session"),
        &manager,
    )
    .await;
    assert_eq!(st, 409, "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("whatsapp.waha.base_url"));
}

#[tokio::test]
async fn a_ticket_is_assigned_to_a_vendor_and_the_vendor_lists_its_people() {
    let graph = FakeGraph::start(vec![], 0).await;
    let mut s = Server::start(&default_config(&graph.url));
    let c = client();
    let manager = s.token("manager");
    let t0 = 1_796_000_000;
    let body = cloud_group_msg(
        "wamid.v1",
        "60133334405",
        "Farid",
        t0,
        Some("Paip bocor tingkat 5 blok A"),
        None,
        None,
    );
    assert_eq!(post_cloud(&c, &s, &body).await.status(), 200);
    let issue = eventually(30, "the ticket", || {
        let (c, u, t) = (c.clone(), s.u("/api/v1/issues"), manager.clone());
        async move { get_json(&c, &u, &t).await.1["items"].as_array()?.first()?["id"].as_i64() }
    })
    .await;
    let (st, vendor) = send_json(
        &c,
        Method::POST,
        &s.u("/api/v1/vendors"),
        &manager,
        &json!({"name": "PaipPro Sdn Bhd", "trade": "plumbing"}),
    )
    .await;
    assert_eq!(st, 201, "{vendor}");
    let vid = vendor["id"].as_i64().unwrap();
    assert_eq!(vendor["people"], json!([]));
    let (_, people) = get_json(&c, &s.u("/api/v1/people"), &manager).await;
    let farid = people["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phone"] == "60133334405")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let (st, _) = send_json(
        &c,
        Method::PATCH,
        &s.u(&format!("/api/v1/people/{farid}")),
        &manager,
        &json!({"vendor": vid}),
    )
    .await;
    assert_eq!(st, 200);

    // Unknown vendor: 404, nothing recorded; then the ticket goes to the vendor.
    let assign = s.u(&format!("/api/v1/issues/{issue}/assign"));
    assert_eq!(
        send_json(&c, Method::POST, &assign, &manager, &json!({"vendor": 999}))
            .await
            .0,
        404
    );
    assert_eq!(
        send_json(
            &c,
            Method::POST,
            &assign,
            &manager,
            &json!({"note": "who?"})
        )
        .await
        .0,
        400
    );
    let (st, v) = send_json(
        &c,
        Method::POST,
        &assign,
        &manager,
        &json!({"vendor": vid, "note": "their contract"}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["vendor"],
        json!({"id": vid, "name": "PaipPro Sdn Bhd"}),
        "{v}"
    );
    assert!(v["owner"].is_null());

    let (_, vendors) = get_json(&c, &s.u("/api/v1/vendors"), &manager).await;
    let pp = vendors["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == vid)
        .unwrap()
        .clone();
    assert_eq!(pp["open_issues"], 1, "{pp}");
    assert_eq!(
        pp["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![farid]
    );
    let (_, list) = get_json(&c, &s.u("/api/v1/issues"), &manager).await;
    assert_eq!(list["items"][0]["vendor"]["id"], vid);

    // The ticket's history says so.
    let (_, h) = get_json(
        &c,
        &s.u(&format!("/api/v1/issues/{issue}/timeline")),
        &manager,
    )
    .await;
    let e = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "vendor_assigned")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (&e["vendor"], &e["note"]),
        (&json!("PaipPro Sdn Bhd"), &json!("their contract")),
        "{h}"
    );
    assert!(
        e["summary"]
            .as_str()
            .unwrap_or("")
            .starts_with("Assigned to vendor PaipPro Sdn Bhd by"),
        "{e}"
    );
    // Renamed; the name is unique.
    let (st, v) = send_json(
        &c,
        Method::PATCH,
        &s.u(&format!("/api/v1/vendors/{vid}")),
        &manager,
        &json!({"name": "PaipPro Plumbing"}),
    )
    .await;
    assert_eq!((st, &v["name"]), (200, &json!("PaipPro Plumbing")), "{v}");
    send_json(
        &c,
        Method::POST,
        &s.u("/api/v1/vendors"),
        &manager,
        &json!({"name": "LiftCo"}),
    )
    .await;
    assert_eq!(
        send_json(
            &c,
            Method::PATCH,
            &s.u(&format!("/api/v1/vendors/{vid}")),
            &manager,
            &json!({"name": "liftco"})
        )
        .await
        .0,
        409
    );

    // The assignment is a correction: it survives a restart, and null takes the vendor away again.
    s.restart();
    let (_, v) = get_json(&c, &s.u(&format!("/api/v1/issues/{issue}")), &manager).await;
    assert_eq!(v["vendor"]["name"], "PaipPro Plumbing", "{v}");
    let (st, v) = send_json(
        &c,
        Method::POST,
        &s.u(&format!("/api/v1/issues/{issue}/assign")),
        &manager,
        &json!({"vendor": null, "person": farid}),
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert!(v["vendor"].is_null(), "{v}");
    assert_eq!(v["owner"]["id"], farid);
}

#[tokio::test]
async fn a_sites_reminder_settings_are_checked_on_the_way_in() {
    let s = Server::start("");
    let c = client();
    let manager = s.token("manager");
    let (st, site) = send_json(
        &c,
        Method::POST,
        &s.u("/api/v1/sites"),
        &manager,
        &json!({"name": "Seri Mutiara"}),
    )
    .await;
    assert_eq!(st, 201);
    let u = s.u(&format!("/api/v1/sites/{}", site["id"]));
    for (bad, field) in [
        (
            json!({"quiet_hours": "late"}),
            "settings.reminders.quiet_hours",
        ),
        (
            json!({"audience": "everyone"}),
            "settings.reminders.audience",
        ),
        (json!({"route": "sms"}), "settings.reminders.route"),
        (json!({"language": "fr"}), "settings.reminders.language"),
        (json!("23:00-06:00"), "settings.reminders"),
    ] {
        let (st, v) = send_json(
            &c,
            Method::PATCH,
            &u,
            &manager,
            &json!({"settings": {"reminders": bad}}),
        )
        .await;
        assert_eq!(st, 400, "{bad}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(field),
            "{v}"
        );
    }
    let good = json!({"reminders": {"quiet_hours": "23:00-06:00", "audience": "both", "route": "waha", "language": "ms"}});
    let (st, v) = send_json(&c, Method::PATCH, &u, &manager, &json!({"settings": good})).await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["settings"]["reminders"]["quiet_hours"], "23:00-06:00");
    let (st, _) = send_json(
        &c,
        Method::PATCH,
        &u,
        &manager,
        &json!({"settings": {"reminders": {"quiet_hours": ""}}}),
    )
    .await;
    assert_eq!(
        st, 200,
        "an empty override switches quiet hours off at the site"
    );
}
