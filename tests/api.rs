//! The appliance over real HTTP: webhooks, storage, media, auth, roles, UI fallback, restarts and crashes.

mod common;

use common::*;
use serde_json::{json, Value};

const CLOUD_FIXTURES: &[&str] = &[
    "batch_message_and_status_two_changes.json",
    "batch_two_messages.json",
    "document.json",
    "forwarded_text.json",
    "frequently_forwarded_text.json",
    "group_lifecycle_create.json",
    "group_status_sent.json",
    "group_text.json",
    "image_caption.json",
    "interactive_button_reply.json",
    "interactive_list_reply.json",
    "location.json",
    "reaction.json",
    "reaction_removed.json",
    "reply_with_context.json",
    "status_failed_131047.json",
    "status_sent.json",
    "statuses_read_and_delivered_out_of_order.json",
    "sticker.json",
    "system_user_changed_number.json",
    "template_quick_reply_button.json",
    "text.json",
    "unsupported.json",
    "value_errors.json",
    "video.json",
    "voice_note.json",
];

#[tokio::test]
async fn handshake_follows_the_fixture_cases() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let cases: Value = serde_json::from_slice(&read_fixture(
        "whatsapp/cloud-api/verification/handshake_cases.json",
    ))
    .unwrap();
    for case in cases["cases"].as_array().unwrap() {
        let req = case["request"].as_str().unwrap();
        let path = req.strip_prefix("GET ").unwrap();
        let r = c.get(s.u(path)).send().await.unwrap();
        assert_eq!(
            r.status().as_u16() as u64,
            case["expect_status"].as_u64().unwrap(),
            "{}",
            case["name"]
        );
        if let Some(body) = case["expect_body"].as_str() {
            assert_eq!(r.text().await.unwrap(), body, "raw challenge, no JSON");
        }
    }
}

#[tokio::test]
async fn signatures_are_checked_on_the_raw_body() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let token = s.token("viewer");
    let body = read_fixture("whatsapp/cloud-api/signature/body.json");
    let good = std::fs::read_to_string(fixture(
        "whatsapp/cloud-api/signature/x-hub-signature-256.txt",
    ))
    .unwrap();
    let send = |b: Vec<u8>, sig: Option<String>| {
        let mut r = c
            .post(s.u("/webhooks/whatsapp"))
            .header("content-type", "application/json")
            .body(b);
        if let Some(sig) = sig {
            r = r.header("x-hub-signature-256", sig);
        }
        r.send()
    };
    assert_eq!(
        send(body.clone(), None).await.unwrap().status(),
        401,
        "missing signature"
    );
    assert_eq!(
        send(body.clone(), Some("sha256=00".into()))
            .await
            .unwrap()
            .status(),
        401,
        "forged"
    );
    let mut newline = body.clone();
    newline.push(b'\n');
    assert_eq!(
        send(newline, Some(good.trim().into()))
            .await
            .unwrap()
            .status(),
        401,
        "body changed by one byte"
    );
    let reser = read_fixture("whatsapp/cloud-api/signature/body_reserialized_utf8.json");
    assert_eq!(
        send(reser, Some(good.trim().into()))
            .await
            .unwrap()
            .status(),
        401,
        "re-serialised body"
    );
    let r = send(
        body.clone(),
        Some(good.trim().to_uppercase().replace("SHA256=", "sha256=")),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200, "uppercase hex accepted");
    // Nothing from the rejected attempts was stored; the accepted one was.
    let (_, page) = get_json(&c, &s.u("/api/v1/messages"), &token).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn unconfigured_sources_are_refused_and_nothing_is_stored() {
    let s = Server::start("");
    let c = client();
    let body = read_fixture("whatsapp/cloud-api/text.json");
    let r = c
        .post(s.u("/webhooks/whatsapp"))
        .header("x-hub-signature-256", sign("", &body))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "source_not_configured");
    for path in ["/webhooks/waha", "/webhooks/evolution"] {
        let r = c
            .post(s.u(path))
            .header("x-tapak-token", "anything")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{path}");
    }
    let r = c
        .get(s.u("/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=1&hub.verify_token="))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let token = s.token("admin");
    let (_, page) = get_json(&c, &s.u("/api/v1/messages"), &token).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn every_fixture_is_accepted_normalised_and_deduplicated() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    let token = s.token("viewer");
    for f in CLOUD_FIXTURES {
        let body = read_fixture(&format!("whatsapp/cloud-api/{f}"));
        let r = post_cloud(&c, &s, &body).await;
        assert_eq!(
            r.status(),
            200,
            "{f}: {}",
            r.text().await.unwrap_or_default()
        );
    }
    let (_, page) = get_json(&c, &s.u("/api/v1/messages?limit=500"), &token).await;
    let items = page["items"].as_array().unwrap().clone();
    let n = items.len();
    assert!(n >= 20, "messages from the fixtures: {n}");
    // Redelivery of every fixture stores nothing new.
    for f in CLOUD_FIXTURES {
        let body = read_fixture(&format!("whatsapp/cloud-api/{f}"));
        assert_eq!(post_cloud(&c, &s, &body).await.status(), 200);
    }
    let (_, page) = get_json(&c, &s.u("/api/v1/messages?limit=500"), &token).await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        n,
        "redelivered messages stored once"
    );
    // Shapes: the text fixture.
    let text = items
        .iter()
        .find(|m| m["type"] == "text" && m["text"].as_str().unwrap_or("").contains("Tandas lelaki"))
        .expect("text message");
    assert!(
        text["text"].as_str().unwrap().contains('\n'),
        "multi-line body kept"
    );
    assert_eq!(text["edited"], false);
    assert_eq!(text["deleted"], false);
    assert!(text["chat"]["id"].is_i64());
    assert!(chrono::DateTime::parse_from_rfc3339(text["sent_at"].as_str().unwrap()).is_ok());
    // The image message lists its evidence at once, pending until fetched.
    let img = items
        .iter()
        .find(|m| m["type"] == "media" && m["text"].as_str().unwrap_or("").contains("Pintu pagar"))
        .expect("image");
    let eid = img["media"][0].as_i64().unwrap();
    let (st, ev) = get_json(&c, &s.u(&format!("/api/v1/evidence/{eid}")), &token).await;
    assert_eq!(st, 200);
    assert_eq!(ev["kind"], "photo");
    assert!(["pending", "failed"].contains(&ev["status"].as_str().unwrap()));
    // Voice note → voice evidence; unsupported kept as "other".
    assert!(
        items.iter().any(|m| m["type"] == "other"),
        "unsupported message kept"
    );
    let voice = items
        .iter()
        .find(|m| {
            m["media"]
                .as_array()
                .map(|a| !a.is_empty())
                .unwrap_or(false)
                && m["text"].is_null()
        })
        .expect("captionless media");
    assert!(voice["media"][0].is_i64());
    // Filters.
    let (_, by_person) = get_json(
        &c,
        &s.u("/api/v1/messages?person=%2B60%2012-345%206701"),
        &token,
    )
    .await;
    assert!(by_person["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["sender"]["phone"] == "60123456701"));
    assert!(!by_person["items"].as_array().unwrap().is_empty());
    let (st, _) = get_json(&c, &s.u("/api/v1/messages?from=2026-13-45"), &token).await;
    assert_eq!(st, 400);
    let (_, none) = get_json(&c, &s.u("/api/v1/messages?to=2020-01-01"), &token).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn malformed_and_oversized_bodies_get_clear_errors() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    for bad in [
        &b"{not json"[..],
        b"",
        b"[]",
        b"{\"object\": 5}",
        &[0xff, 0xfe, 0x00],
    ] {
        let r = post_cloud(&c, &s, bad).await;
        assert!(
            r.status() == 400 || r.status() == 200,
            "never a 5xx: {}",
            r.status()
        );
        if r.status() == 400 {
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "invalid_input");
        }
    }
    let r = post_cloud(&c, &s, b"{not json").await;
    assert_eq!(r.status(), 400);
    // Too big: refused with 413 (the server may close the connection before the client finishes sending).
    let huge = vec![b' '; 9 * 1024 * 1024];
    let r = c
        .post(s.u("/webhooks/whatsapp"))
        .header("x-hub-signature-256", sign(APP_SECRET, &huge))
        .body(huge)
        .send()
        .await;
    match r {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    // A big but allowed body (4 MB, above Meta's 3 MB) is fine.
    let mut big = read_fixture("whatsapp/cloud-api/text.json");
    let pad = vec![b' '; 4 * 1024 * 1024];
    big.splice(1..1, pad);
    assert_eq!(post_cloud(&client(), &s, &big).await.status(), 200);
    // The JSON API has a small limit.
    let token = s.token("admin");
    let r = c
        .post(s.u("/api/v1/sites"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b' '; 2 * 1024 * 1024])
        .send()
        .await;
    match r {
        Ok(r) => assert_eq!(r.status(), 413),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    // The malformed body was kept verbatim.
    s.cli(&["backup", s.data.join("copy.db").to_str().unwrap()], None);
    let conn = rusqlite::Connection::open(s.data.join("copy.db")).unwrap();
    let kept: i64 = conn.query_row("SELECT count(*) FROM raw_payloads WHERE outcome = 'malformed' AND body = x'7b6e6f74206a736f6e'", [], |r| r.get(0)).unwrap();
    assert!(kept >= 1);
}

#[tokio::test]
async fn media_is_fetched_verified_and_served_byte_identical() {
    let photo = jpeg(1600, 1200, 7);
    let corrupt = {
        let mut b = jpeg(400, 300, 9);
        b.truncate(300);
        b
    };
    let graph = FakeGraph::start(
        vec![
            ("1473958201846623", photo.clone()),
            ("999", corrupt.clone()),
        ],
        1,
    )
    .await;
    let s = Server::start(&default_config(&graph.url));
    let c = client();
    let token = s.token("inspector");
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&photo));
    let body = String::from_utf8(read_fixture("whatsapp/cloud-api/image_caption.json"))
        .unwrap()
        .replace(
            "458ea204e25cc6a190d73612e59d4b0d95283de9e8fd332102cf7989674b9c37",
            &sha,
        );
    assert_eq!(post_cloud(&c, &s, body.as_bytes()).await.status(), 200);
    let viewer = s.token("viewer");
    let (_, page) = get_json(&c, &s.u("/api/v1/messages"), &viewer).await;
    let eid = page["items"][0]["media"][0].as_i64().unwrap();
    let ev = eventually(30, "photo fetched", || {
        let (c, u, t) = (
            c.clone(),
            s.u(&format!("/api/v1/evidence/{eid}")),
            token.clone(),
        );
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            (v["status"] == "ready").then_some(v)
        }
    })
    .await;
    assert_eq!(ev["sha256"], sha);
    assert_eq!(ev["bytes"], photo.len());
    let file = c
        .get(s.u(&format!("/api/v1/evidence/{eid}/file")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(
        file.bytes().await.unwrap().to_vec(),
        photo,
        "byte-identical"
    );
    let thumb = c
        .get(s.u(&format!("/api/v1/evidence/{eid}/thumbnail")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.headers()["content-type"], "image/jpeg");
    let t = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert!(t.width() <= 320 && t.height() <= 320 && t.width() >= 100);
    assert!(
        graph
            .hits
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.starts_with("lookup"))
            .count()
            >= 2,
        "retried after a 500"
    );

    // A corrupt image is kept as the original, without a thumbnail.
    let body2 = String::from_utf8(read_fixture("whatsapp/cloud-api/image_caption.json"))
        .unwrap()
        .replace("1473958201846623", "999")
        .replace(
            "wamid.HBgLNjAxNjc2NTQzMDIVAgASGBQzQTFEMEU5RjhDN0I2QTVENEMzQgA=",
            "wamid.corrupt",
        )
        .replace(
            "458ea204e25cc6a190d73612e59d4b0d95283de9e8fd332102cf7989674b9c37",
            &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&corrupt)),
        );
    assert_eq!(post_cloud(&c, &s, body2.as_bytes()).await.status(), 200);
    let (_, page) = get_json(&c, &s.u("/api/v1/messages"), &viewer).await;
    let eid2 = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["media"][0].as_i64() != Some(eid))
        .unwrap()["media"][0]
        .as_i64()
        .unwrap();
    let ev2 = eventually(30, "corrupt photo stored", || {
        let (c, u, t) = (
            c.clone(),
            s.u(&format!("/api/v1/evidence/{eid2}")),
            token.clone(),
        );
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            (v["status"] == "ready").then_some(v)
        }
    })
    .await;
    assert_eq!(ev2["thumbnail"], false);
    let r = c
        .get(s.u(&format!("/api/v1/evidence/{eid2}/thumbnail")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let f = c
        .get(s.u(&format!("/api/v1/evidence/{eid2}/file")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(f.bytes().await.unwrap().to_vec(), corrupt);
}

#[tokio::test]
async fn a_wrong_media_hash_is_retried_then_marked_failed() {
    let graph = FakeGraph::start(vec![("1473958201846623", jpeg(100, 100, 1))], 0).await;
    let s = Server::start(&default_config(&graph.url));
    let c = client();
    let token = s.token("admin");
    let body = read_fixture("whatsapp/cloud-api/image_caption.json");
    assert_eq!(post_cloud(&c, &s, &body).await.status(), 200);
    let (_, page) = get_json(&c, &s.u("/api/v1/messages"), &token).await;
    let eid = page["items"][0]["media"][0].as_i64().unwrap();
    let ev = eventually(60, "media marked failed", || {
        let (c, u, t) = (
            c.clone(),
            s.u(&format!("/api/v1/evidence/{eid}")),
            token.clone(),
        );
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            (v["status"] == "failed").then_some(v)
        }
    })
    .await;
    assert!(ev["error"].as_str().unwrap().contains("sha256"), "{ev}");
}

#[tokio::test]
async fn auth_roles_sessions_and_csrf() {
    let s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = cookie_client();
    // No credentials: 401 everywhere under /api/v1 except login and openapi.json.
    for p in [
        "/api/v1/messages",
        "/api/v1/chats",
        "/api/v1/evidence/1",
        "/api/v1/search?q=x",
        "/api/v1/auth/me",
    ] {
        assert_eq!(c.get(s.u(p)).send().await.unwrap().status(), 401, "{p}");
    }
    let r = c
        .get(s.u("/api/v1/messages"))
        .bearer_auth("tpk_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unauthorized");
    let doc: Value = c
        .get(s.u("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/v1/messages",
        "/api/v1/search",
        "/api/v1/evidence/{id}/file",
        "/api/v1/auth/login",
    ] {
        assert!(doc["paths"][p].is_object(), "OpenAPI lists {p}");
    }
    // Every schema a response refers to is in the document (nested record shapes included).
    let mut refs = vec![];
    collect_refs(&doc, &mut refs);
    assert!(refs.len() > 20, "{refs:?}");
    for r in &refs {
        let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "OpenAPI refers to {r} but does not define it"
        );
    }
    assert!(
        refs.iter().any(|r| r.ends_with("/Backlog")),
        "the dashboard's backlog is documented"
    );
    // Roles.
    let viewer = s.token("viewer");
    let inspector = s.token("inspector");
    let manager = s.token("manager");
    assert_eq!(
        get_json(&client(), &s.u("/api/v1/messages"), &viewer)
            .await
            .0,
        200
    );
    assert_eq!(
        get_json(&client(), &s.u("/api/v1/messages"), &inspector)
            .await
            .0,
        403
    );
    let post_site = |t: String| {
        client()
            .post(s.u("/api/v1/sites"))
            .bearer_auth(t)
            .json(&json!({"name": "Menara Contoh"}))
            .send()
    };
    assert_eq!(post_site(viewer.clone()).await.unwrap().status(), 403);
    assert_eq!(post_site(inspector.clone()).await.unwrap().status(), 403);
    assert_eq!(post_site(manager.clone()).await.unwrap().status(), 201);
    assert_eq!(post_site(manager.clone()).await.unwrap().status(), 409);
    // Sessions: login, cookie flags, CSRF on writes.
    s.add_user("tan", "manager", "s3cret-pass");
    let bad = c
        .post(s.u("/api/v1/auth/login"))
        .json(&json!({"username": "tan", "password": "nope-nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let ok = c
        .post(s.u("/api/v1/auth/login"))
        .json(&json!({"username": "tan", "password": "s3cret-pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
            && !cookie.contains("Secure"),
        "{cookie}"
    );
    let info: Value = ok.json().await.unwrap();
    assert_eq!(info["user"]["role"], "manager");
    let csrf = info["csrf_token"].as_str().unwrap().to_string();
    assert_eq!(
        c.get(s.u("/api/v1/messages"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let no_csrf = c
        .post(s.u("/api/v1/vendors"))
        .json(&json!({"name": "Lift Co"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_csrf.status(),
        400,
        "cookie write without CSRF token refused"
    );
    let with_csrf = c
        .post(s.u("/api/v1/vendors"))
        .header("x-csrf-token", &csrf)
        .json(&json!({"name": "Lift Co"}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_csrf.status(), 201);
    let logout_without_csrf = c.post(s.u("/api/v1/auth/logout")).send().await.unwrap();
    assert_eq!(
        logout_without_csrf.status(),
        400,
        "logout is a cookie-authenticated write: CSRF checked"
    );
    assert_eq!(
        c.post(s.u("/api/v1/auth/logout"))
            .header("x-csrf-token", &csrf)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        c.get(s.u("/api/v1/messages"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    // Login rate limiting.
    s.add_user("ali", "viewer", "another-pass");
    let mut last = 0;
    for _ in 0..12 {
        last = client()
            .post(s.u("/api/v1/auth/login"))
            .json(&json!({"username": "ali", "password": "wrong-wrong"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
    }
    assert_eq!(last, 429);
    let r = client()
        .post(s.u("/api/v1/auth/login"))
        .json(&json!({"username": "ali", "password": "another-pass"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        429,
        "still blocked even with the right password"
    );
}

#[tokio::test]
async fn spa_fallback_and_json_404() {
    let s = Server::start("");
    let c = client();
    for p in ["/", "/inbox", "/issues/42"] {
        let r = c.get(s.u(p)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{p}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(r
            .text()
            .await
            .unwrap()
            .to_lowercase()
            .contains("<!doctype html"));
    }
    let r = c.get(s.u("/api/v1/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "not_found");
    let h: Value = c
        .get(s.u("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");
    let m = c
        .get(s.u("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(m.contains("# TYPE tapak_http_requests_total counter"));
}

#[tokio::test]
async fn restart_keeps_everything_and_search_works() {
    let mut s = Server::start(&default_config("http://127.0.0.1:9"));
    let c = client();
    for f in ["text.json", "group_text.json", "image_caption.json"] {
        assert_eq!(
            post_cloud(&c, &s, &read_fixture(&format!("whatsapp/cloud-api/{f}")))
                .await
                .status(),
            200
        );
    }
    let token = s.token("viewer");
    let (_, before) = get_json(&c, &s.u("/api/v1/messages"), &token).await;
    s.restart();
    let (_, after) = get_json(&c, &s.u("/api/v1/messages"), &token).await;
    assert_eq!(before["items"], after["items"]);
    let hits = eventually(20, "search index", || {
        let (c, u, t) = (
            c.clone(),
            s.u("/api/v1/search?q=pintu%20pagar"),
            token.clone(),
        );
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            let items = v["items"].as_array().cloned().unwrap_or_default();
            (!items.is_empty()).then_some(items)
        }
    })
    .await;
    assert!(hits[0]["snippet"].as_str().unwrap().contains('«'));
    let (st, _) = get_json(&c, &s.u("/api/v1/search?q="), &token).await;
    assert_eq!(st, 400);
    // Pagination: limit 1 walks every message once.
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(cur) => s.u(&format!("/api/v1/messages?limit=1&cursor={cur}")),
            None => s.u("/api/v1/messages?limit=1"),
        };
        let (_, p) = get_json(&c, &url, &token).await;
        seen.extend(
            p["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_i64().unwrap()),
        );
        match p["next_cursor"].as_str() {
            Some(n) => cursor = Some(n.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), after["items"].as_array().unwrap().len());
    assert_eq!(
        get_json(&c, &s.u("/api/v1/messages?cursor=garbage"), &token)
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn acknowledged_means_durable_across_kill_9() {
    killed_mid_load_keeps_every_acknowledged_delivery(&default_config("http://127.0.0.1:9")).await;
}

/// Every delivery goes through the inbox (acknowledged before it is filed): a kill -9 leaves a backlog there, which
/// the next start files.
#[tokio::test]
async fn acknowledged_from_the_inbox_means_durable_across_kill_9() {
    let config = format!(
        "{}\n[server]\ninline_filing_below = 0\n",
        default_config("http://127.0.0.1:9")
    );
    killed_mid_load_keeps_every_acknowledged_delivery(&config).await;
}

async fn killed_mid_load_keeps_every_acknowledged_delivery(config: &str) {
    let mut s = Server::start(config);
    let c = client();
    let template = String::from_utf8(read_fixture("whatsapp/cloud-api/text.json")).unwrap();
    let acked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = vec![];
    for i in 0..600 {
        let body = template.replace("wamid.", &format!("wamid.crash{i}."));
        let (c, url, acked) = (c.clone(), s.u("/webhooks/whatsapp"), acked.clone());
        tasks.push(tokio::spawn(async move {
            // Spread the load so the crash lands while requests are in flight.
            tokio::time::sleep(std::time::Duration::from_millis((i % 60) * 10)).await;
            let r = c
                .post(url)
                .header("x-hub-signature-256", sign(APP_SECRET, body.as_bytes()))
                .body(body)
                .send()
                .await;
            if let Ok(r) = r {
                if r.status() == 200 {
                    acked.lock().unwrap().push(i);
                }
            }
        }));
    }
    eventually(30, "some acknowledged webhooks", || {
        let n = acked.lock().unwrap().len();
        async move { (n >= 50).then_some(()) }
    })
    .await;
    s.crash();
    for t in tasks {
        let _ = t.await;
    }
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty());
    s.spawn(&[]);
    let token = s.token("viewer");
    // Deliveries the kill left in the inbox are filed after the start: wait until nothing waits there.
    eventually(30, "the inbox filed after the restart", || {
        let (c, url) = (c.clone(), s.u("/metrics"));
        async move {
            let m = c.get(url).send().await.ok()?.text().await.ok()?;
            m.lines()
                .any(|l| l == "tapak_inbox_deliveries 0")
                .then_some(())
        }
    })
    .await;
    assert_foreign_keys_hold(&s.data.join("tapak.db"));
    let db = rusqlite::Connection::open(s.data.join("tapak.db")).unwrap();
    let stored: std::collections::HashSet<String> = db
        .prepare("SELECT source_message_id FROM messages")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let (_, page) = get_json(&c, &s.u("/api/v1/messages?limit=1"), &token).await;
    assert!(!page["items"].as_array().unwrap().is_empty());
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|i| {
            !stored
                .iter()
                .any(|id| id.starts_with(&format!("wamid.crash{i}.")))
        })
        .collect();
    assert!(
        lost.is_empty(),
        "every acknowledged message survived: acked {}, stored {}, lost {lost:?}",
        acked.len(),
        stored.len()
    );
}

#[tokio::test]
async fn cli_contract() {
    let s = Server::start("");
    // user add reads the password from stdin; a weak one is bad input (exit 2).
    let out = s.cli(
        &["user", "add", "siti", "--role", "manager"],
        Some("short\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 8"));
    let out = s.cli(
        &["user", "add", "siti", "--role", "boss"],
        Some("long-enough-pw\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = s.cli(
        &["user", "add", "siti", "--role", "manager"],
        Some("long-enough-pw\n"),
    );
    assert!(out.status.success());
    assert!(
        out.stdout.is_empty(),
        "results only on stdout; nothing for user add"
    );
    let r = client()
        .post(s.u("/api/v1/auth/login"))
        .json(&json!({"username": "siti", "password": "long-enough-pw"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the trailing newline was stripped");
    let out = s.cli(
        &["token", "create", "--name", "ci", "--role", "viewer"],
        None,
    );
    let tok = String::from_utf8(out.stdout).unwrap();
    assert_eq!(tok.lines().count(), 1);
    assert!(tok.starts_with("tpk_"));
    // backup while serving gives a consistent, openable copy.
    let dest = s.data.join("backup.db");
    let out = s.cli(&["backup", dest.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = rusqlite::Connection::open(&dest).unwrap();
    let users: i64 = conn
        .query_row("SELECT count(*) FROM users", [], |r| r.get(0))
        .unwrap();
    assert_eq!(users, 1);
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    // Config is printed with secrets redacted.
    std::fs::write(
        &s.config,
        "[whatsapp.cloud]\napp_secret = \"super-secret-value\"\n",
    )
    .unwrap();
    let out = s.cli(&["config"], None);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("<redacted>") && !text.contains("super-secret-value"));
    // A bad config file is bad input naming the file.
    std::fs::write(&s.config, "[server]\nlisten = 5\n").unwrap();
    let out = s.cli(&["config"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("config.toml"));
}

#[tokio::test]
async fn demo_serves_a_living_system() {
    let s = Server::start_demo("");
    let c = cookie_client();
    let r = c
        .post(s.u("/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": "tapak-demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let page: Value = c
        .get(s.u("/api/v1/messages?limit=100"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let items = page["items"].as_array().unwrap();
    assert!(items.len() >= 20, "demo messages: {}", items.len());
    let with_photo = items
        .iter()
        .find(|m| !m["media"].as_array().unwrap().is_empty())
        .unwrap();
    let eid = with_photo["media"][0].as_i64().unwrap();
    let t = c
        .get(s.u(&format!("/api/v1/evidence/{eid}/thumbnail")))
        .send()
        .await
        .unwrap();
    assert_eq!(t.status(), 200);
    assert!(image::load_from_memory(&t.bytes().await.unwrap()).is_ok());
    let chats: Value = c
        .get(s.u("/api/v1/chats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(chats["items"].as_array().unwrap().len(), 2);
    assert_eq!(chats["items"][0]["site"]["name"], "Seri Mutiara Residences");
}

/// Every `$ref` in an OpenAPI document.
fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r.clone()),
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Media downloads stream to a file in the data dir's tmp/ (hashed on the way) instead of into memory: a download in
/// progress is there on disk; one above `max_media_bytes` without a Content-Length is stopped mid-stream; one whose
/// connection drops fails; and no partial file is left behind either way.
#[tokio::test]
async fn media_downloads_stream_to_a_temporary_file_and_leave_nothing_behind() {
    let photo = jpeg(500, 400, 4);
    assert!(photo.len() < 60_000, "{}", photo.len());
    let big = jpeg(1600, 1200, 5);
    assert!(big.len() > 100_000, "{}", big.len());
    let graph = FakeGraph::start(
        vec![
            ("held-photo", photo.clone()),
            ("chunked-big", big),
            ("cut-photo", photo.clone()),
        ],
        0,
    )
    .await;
    let config = default_config(&graph.url).replace(
        "max_attempts = 3",
        "max_attempts = 1\nmax_media_bytes = 65536",
    );
    let s = Server::start(&config);
    let c = client();
    let token = s.token("admin");
    let tmp = s.data.join("tmp");
    let tmp_files = || -> Vec<u64> {
        std::fs::read_dir(&tmp)
            .unwrap()
            .map(|f| f.unwrap().metadata().unwrap().len())
            .collect()
    };
    let now = chrono::Utc::now().timestamp();
    let evidence_of = |caption: &'static str| {
        let (c, u, t) = (c.clone(), s.u("/api/v1/messages?limit=50"), token.clone());
        async move {
            eventually(20, caption, || {
                let (c, u, t) = (c.clone(), u.clone(), t.clone());
                async move {
                    let (_, v) = get_json(&c, &u, &t).await;
                    v["items"]
                        .as_array()?
                        .iter()
                        .find(|m| m["text"] == caption)?["media"][0]
                        .as_i64()
                }
            })
            .await
        }
    };
    let settled = |eid: i64| {
        let (c, u, t) = (
            c.clone(),
            s.u(&format!("/api/v1/evidence/{eid}")),
            token.clone(),
        );
        async move {
            eventually(30, "the fetch settles", || {
                let (c, u, t) = (c.clone(), u.clone(), t.clone());
                async move {
                    let (_, v) = get_json(&c, &u, &t).await;
                    (v["status"] != "pending").then_some(v)
                }
            })
            .await
        }
    };

    let half = (photo.len() / 2) as u64;
    let half_on_disk = || {
        eventually(20, "the first half is on disk", move || {
            let files = tmp_files();
            async move { files.contains(&half).then_some(()) }
        })
    };

    // Held halfway: the half already received is in a file under tmp/, not in memory.
    let body = cloud_group_msg(
        "wamid.HELD",
        "60123000001",
        "A",
        now,
        Some("held photo"),
        Some("held-photo"),
        None,
    );
    assert_eq!(post_cloud(&c, &s, &body).await.status(), 200);
    let held = evidence_of("held photo").await;
    half_on_disk().await;
    graph.release.notify_one();
    let ev = settled(held).await;
    assert_eq!(ev["status"], "ready", "{ev}");
    assert_eq!(
        ev["sha256"],
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&photo))
    );
    let file = c
        .get(s.u(&format!("/api/v1/evidence/{held}/file")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(file.bytes().await.unwrap().to_vec(), photo);

    // Above the limit, with no Content-Length to refuse it up front: stopped mid-stream, for good.
    let body = cloud_group_msg(
        "wamid.BIG",
        "60123000001",
        "A",
        now,
        Some("big photo"),
        Some("chunked-big"),
        None,
    );
    assert_eq!(post_cloud(&c, &s, &body).await.status(), 200);
    let ev = settled(evidence_of("big photo").await).await;
    assert_eq!(ev["status"], "failed", "{ev}");
    assert!(
        ev["error"]
            .as_str()
            .unwrap()
            .contains("above the 65536-byte limit"),
        "{ev}"
    );

    // The connection dropped mid-body, after the first half.
    let body = cloud_group_msg(
        "wamid.CUT",
        "60123000001",
        "A",
        now,
        Some("cut photo"),
        Some("cut-photo"),
        None,
    );
    assert_eq!(post_cloud(&c, &s, &body).await.status(), 200);
    half_on_disk().await;
    graph.release.notify_one();
    let ev = settled(evidence_of("cut photo").await).await;
    assert_eq!(ev["status"], "failed", "{ev}");
    assert!(
        ev["error"]
            .as_str()
            .unwrap()
            .contains("download interrupted"),
        "{ev}"
    );

    assert_eq!(
        tmp_files(),
        Vec::<u64>::new(),
        "a partial download was left in tmp/"
    );
}

/// Evidence files answer byte ranges (206, so voice notes and videos seek in the browser, also when the browser asks
/// for gzip) and conditional requests (304 for the ETag, which is the file's SHA-256); the content type is kept.
#[tokio::test]
async fn evidence_files_answer_ranges_and_conditional_requests() {
    let photo = jpeg(300, 200, 6);
    let mut voice = b"OggS\0\x02".to_vec();
    voice.extend((0..20_000u32).map(|i| (i % 251) as u8));
    let graph = FakeGraph::start(
        vec![("photo-1", photo.clone()), ("voice-1", voice.clone())],
        0,
    )
    .await;
    let s = Server::start(&default_config(&graph.url));
    let c = client();
    let token = s.token("inspector");
    let admin = s.token("admin");
    let now = chrono::Utc::now().timestamp();
    for (id, media) in [("wamid.R1", "photo-1"), ("wamid.R2", "voice-1")] {
        let body = cloud_group_msg(id, "60123000002", "B", now, Some(media), Some(media), None);
        assert_eq!(post_cloud(&c, &s, &body).await.status(), 200);
    }
    let ids: Vec<i64> = eventually(30, "both files fetched", || {
        let (c, u, t) = (c.clone(), s.u("/api/v1/messages"), admin.clone());
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            let mut ids = vec![];
            for caption in ["photo-1", "voice-1"] {
                let m = v["items"]
                    .as_array()?
                    .iter()
                    .find(|m| m["text"] == caption)?;
                ids.push(m["media"][0].as_i64()?);
            }
            for id in &ids {
                let (_, e) =
                    get_json(&c, &u.replace("messages", &format!("evidence/{id}")), &t).await;
                (e["status"] == "ready").then_some(())?;
            }
            Some(ids)
        }
    })
    .await;
    for (id, bytes, mime) in [
        (ids[0], &photo, "image/jpeg"),
        (ids[1], &voice, "audio/ogg"),
    ] {
        let url = s.u(&format!("/api/v1/evidence/{id}/file"));
        let full = c.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(full.status(), 200);
        assert_eq!(full.headers()["content-type"], mime);
        assert_eq!(full.headers()["accept-ranges"], "bytes");
        let etag = full.headers()["etag"].to_str().unwrap().to_string();
        assert_eq!(
            etag,
            format!(
                "\"{}\"",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
            )
        );
        assert_eq!(&full.bytes().await.unwrap()[..], &bytes[..]);

        let part = c
            .get(&url)
            .bearer_auth(&token)
            .header("range", "bytes=100-1099")
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(part.status(), 206, "{mime}");
        assert_eq!(
            part.headers()["content-range"],
            format!("bytes 100-1099/{}", bytes.len()).as_str()
        );
        assert_eq!(part.headers()["content-type"], mime);
        assert!(part.headers().get("content-encoding").is_none());
        assert_eq!(&part.bytes().await.unwrap()[..], &bytes[100..1100]);

        let same = c
            .get(&url)
            .bearer_auth(&token)
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(same.status(), 304);
        assert_eq!(same.headers()["etag"], etag.as_str());
        assert!(same.bytes().await.unwrap().is_empty());
        let changed = c
            .get(&url)
            .bearer_auth(&token)
            .header("if-none-match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200);
        // The checks still come first.
        assert_eq!(
            c.get(&url)
                .header("range", "bytes=0-9")
                .send()
                .await
                .unwrap()
                .status(),
            401
        );
    }
}
