//! Bad input never stops the database writer: extreme timestamps from every webhook source, hostile settings, and a
//! deterministic storm of random payloads at every write route, each followed by ordinary writes that must still work.

mod common;

use common::*;
use serde_json::{json, Value};

const WAHA_TOKEN: &str = "waha-token-robust";
const EVO_TOKEN: &str = "evo-token-robust";

/// Times that chrono can hold but no time zone conversion or deadline can: year +262000 and -262000.
const EXTREME: [i64; 2] = [8_210_266_876_799, -8_334_601_228_800];

fn config() -> String {
    format!(
        "{}\n[whatsapp.waha]\nwebhook_token = \"{WAHA_TOKEN}\"\n\n[whatsapp.evolution]\nwebhook_token = \"{EVO_TOKEN}\"\n",
        default_config("http://127.0.0.1:9")
    )
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn waha_text(id: &str, ts: i64, text: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": "message", "session": "default",
        "payload": {"id": format!("false_120363401234567890@g.us_{id}_60123456701@c.us"), "timestamp": ts,
            "from": "120363401234567890@g.us", "participant": "60123456701@c.us", "fromMe": false,
            "body": text, "hasMedia": false, "_data": {"notifyName": "Aminah"}}
    }))
    .unwrap()
}

fn evolution_text(id: &str, ts: i64, text: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": "messages.upsert", "instance": "ops",
        "data": {"key": {"remoteJid": "120363401234567890@g.us", "fromMe": false, "id": id,
                "participant": "60123456701@s.whatsapp.net"},
            "pushName": "Aminah", "message": {"conversation": text}, "messageType": "conversation",
            "messageTimestamp": ts}
    }))
    .unwrap()
}

async fn post(c: &reqwest::Client, s: &Server, path: &str, body: &[u8]) -> (u16, Value) {
    let mut r = c
        .post(s.u(path))
        .header("content-type", "application/json")
        .body(body.to_vec());
    r = match path {
        "/webhooks/whatsapp" => r.header("x-hub-signature-256", sign(APP_SECRET, body)),
        "/webhooks/waha" => r.header("x-tapak-token", WAHA_TOKEN),
        _ => r.bearer_auth(EVO_TOKEN),
    };
    let r = r.send().await.unwrap();
    let st = r.status().as_u16();
    (st, r.json().await.unwrap_or(Value::Null))
}

async fn healthz(c: &reqwest::Client, s: &Server) -> Value {
    c.get(s.u("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The message whose text is `text`, once it is visible in the API.
async fn message_with_text(c: &reqwest::Client, s: &Server, tok: &str, text: &str) -> Value {
    eventually(20, text, || {
        let (c, u, t, want) = (
            c.clone(),
            s.u("/api/v1/messages?limit=500"),
            tok.to_string(),
            text.to_string(),
        );
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            v["items"]
                .as_array()?
                .iter()
                .find(|m| m["text"] == want.as_str())
                .cloned()
        }
    })
    .await
}

/// Posts a signed Cloud API message from Rajesh, sent now, and answers it once it is visible in the API.
async fn report(c: &reqwest::Client, s: &Server, tok: &str, id: &str, text: &str) -> Value {
    let body = cloud_group_msg(id, "60167654302", "Rajesh", now(), Some(text), None, None);
    let (st, v) = post(c, s, "/webhooks/whatsapp", &body).await;
    assert_eq!(st, 200, "{v}\n{}", s.log());
    message_with_text(c, s, tok, text).await
}

/// A login, a normal signed webhook that becomes a visible message, a setting change and a healthy writer.
async fn ordinary_writes_still_work(c: &reqwest::Client, s: &Server, admin: &str, tag: &str) {
    let text = format!("Lift B rosak lagi {tag}");
    report(c, s, admin, &format!("wamid.ok-{tag}"), &text).await;
    let r = c
        .post(s.u("/api/v1/auth/login"))
        .json(&json!({"username": "ops-admin", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "login after {tag}");
    let pol = json!({"rules": [], "business_hours": null,
        "default": {"respond_within_mins": 240, "resolve_within_mins": 4320}});
    let (st, v) = send_json(
        c,
        reqwest::Method::PUT,
        &s.u("/api/v1/settings/sla"),
        admin,
        &pol,
    )
    .await;
    assert_eq!(st, 200, "setting change after {tag}: {v}");
    let h = healthz(c, s).await;
    assert_eq!(h["writer"], true, "{h}\n{}", s.log());
}

#[tokio::test]
async fn extreme_timestamps_from_every_source_are_kept_clamped_and_noted() {
    let s = Server::start(&config());
    let c = client();
    let admin = s.token("admin");
    s.add_user("ops-admin", "admin", "correct horse battery");
    let mut n = 0;
    for ts in EXTREME {
        for path in [
            "/webhooks/whatsapp",
            "/webhooks/waha",
            "/webhooks/evolution",
        ] {
            n += 1;
            let text = format!("Paip bocor tandas tingkat 3 #{n}");
            let id = format!("X{n}");
            let body = match path {
                "/webhooks/whatsapp" => cloud_group_msg(
                    &format!("wamid.{id}"),
                    "60123456701",
                    "Aminah",
                    ts,
                    Some(&text),
                    None,
                    None,
                ),
                "/webhooks/waha" => waha_text(&id, ts, &text),
                _ => evolution_text(&id, ts, &text),
            };
            let (st, v) = post(&c, &s, path, &body).await;
            assert_eq!(st, 200, "{path} {ts}: {v}\n{}", s.log());
            let m = message_with_text(&c, &s, &admin, &text).await;
            let sent = chrono::DateTime::parse_from_rfc3339(m["sent_at"].as_str().unwrap())
                .unwrap()
                .timestamp();
            assert!(
                (1_230_768_000..=now() + 86_400).contains(&sent),
                "{path} {ts}: sent_at {} kept within the sane range",
                m["sent_at"]
            );
        }
    }
    // Each clamp is noted with the delivery (as a source error that names the message and the original time).
    let db = rusqlite::Connection::open_with_flags(
        s.data.join("tapak.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let notes: i64 = db
        .query_row(
            "SELECT count(*) FROM source_errors WHERE detail LIKE '%outside 2009-01-01%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(notes, 6);
    ordinary_writes_still_work(&c, &s, &admin, "after extreme times").await;
    // The chat states saved in the background survive a restart too.
    let mut s = s;
    s.restart();
    ordinary_writes_still_work(&c, &s, &admin, "after restart").await;
}

#[tokio::test]
async fn huge_sla_values_are_refused_naming_the_field_and_a_stored_one_cannot_stop_the_writer() {
    let mut s = Server::start(&config());
    let c = client();
    let admin = s.token("admin");
    s.add_user("ops-admin", "admin", "correct horse battery");
    let (_, good) = get_json(&c, &s.u("/api/v1/settings/sla"), &admin).await;
    for (field, value) in [
        ("respond_within_mins", json!(9_000_000_000_000_000_i64)),
        ("resolve_within_mins", json!(i64::MAX)),
        ("resolve_within_mins", json!(0)),
        ("respond_within_mins", json!(-5)),
    ] {
        for at in ["default", "rules[1].target"] {
            let mut p = good.clone();
            match at {
                "default" => p["default"][field] = value.clone(),
                _ => p["rules"][1]["target"][field] = value.clone(),
            }
            let (st, v) = send_json(
                &c,
                reqwest::Method::PUT,
                &s.u("/api/v1/settings/sla"),
                &admin,
                &p,
            )
            .await;
            assert_eq!(st, 400, "{at}.{field} = {value}: {v}");
            let msg = v["error"]["message"].as_str().unwrap_or_default();
            assert!(msg.contains(&format!("{at}.{field}")), "{v}");
        }
    }
    ordinary_writes_still_work(&c, &s, &admin, "refused policies").await;
    // A policy stored before the check existed (written straight into the database) cannot stop the writer either.
    s.stop();
    {
        let mut bad = good.clone();
        bad["default"]["respond_within_mins"] = json!(i64::MAX);
        bad["default"]["resolve_within_mins"] = json!(i64::MIN);
        for r in bad["rules"].as_array_mut().unwrap() {
            r["target"]["resolve_within_mins"] = json!(i64::MAX);
        }
        let db = rusqlite::Connection::open(s.data.join("tapak.db")).unwrap();
        db.execute(
            "INSERT INTO settings(key, value, updated_at) VALUES ('sla_policy', ?1, 'x') \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [bad.to_string()],
        )
        .unwrap();
    }
    s.spawn(&[]);
    let text = "Lift A stuck level 2, urgent";
    let m = report(&c, &s, &admin, "wamid.sla1", text).await;
    let issue = eventually(20, "the ticket", || {
        let (c, u, t) = (c.clone(), s.u("/api/v1/issues"), admin.clone());
        async move {
            let (_, v) = get_json(&c, &u, &t).await;
            v["items"].as_array()?.first().cloned()
        }
    })
    .await;
    assert!(m["record"].is_object(), "{m}");
    let opened =
        chrono::DateTime::parse_from_rfc3339(issue["opened_at"].as_str().unwrap()).unwrap();
    let resolve_by =
        chrono::DateTime::parse_from_rfc3339(issue["sla"]["resolve_by"].as_str().unwrap()).unwrap();
    assert!(
        resolve_by - opened <= chrono::Duration::days(365),
        "a stored target is clamped to 365 days: {issue}"
    );
    ordinary_writes_still_work(&c, &s, &admin, "stored huge policy").await;
}

#[tokio::test]
async fn api_errors_are_json_answers_are_neither_sniffed_nor_stored_and_inspectors_follow_one_rule()
{
    let s = Server::start(&config());
    let c = client();
    let admin = s.token("admin");
    let inspector = s.token("inspector");
    let send = |m: reqwest::Method, path: &str| c.request(m, s.u(path)).bearer_auth(&admin).send();
    let r = send(reqwest::Method::GET, "/api/v1/issues/abc")
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "invalid_input", "{v}");
    let r = send(reqwest::Method::DELETE, "/api/v1/issues")
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "method_not_allowed", "{v}");
    let r = send(reqwest::Method::GET, "/api/v1/issues").await.unwrap();
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["cache-control"], "no-store");
    // Inspectors read records in full, message text and phones included, but not the operational stream.
    let text = "Lift B stuck at level 5, no one inside";
    let m = report(&c, &s, &admin, "wamid.i1", text).await;
    let id = m["record"]["id"].as_i64().expect("a ticket");
    let (st, issue) = get_json(&c, &s.u(&format!("/api/v1/issues/{id}")), &inspector).await;
    assert_eq!(st, 200);
    assert_eq!(issue["timeline"][0]["text"], text, "{issue}");
    assert_eq!(issue["reported_by"]["phone"], "60167654302");
    for path in [
        "/api/v1/messages",
        "/api/v1/chats",
        "/api/v1/people",
        "/api/v1/search?q=lift",
    ] {
        assert_eq!(get_json(&c, &s.u(path), &inspector).await.0, 403, "{path}");
    }
    let (_, mine) = get_json(&c, &s.u("/api/v1/dashboard"), &admin).await;
    let (st, theirs) = get_json(&c, &s.u("/api/v1/dashboard"), &inspector).await;
    assert_eq!(st, 200);
    assert!(!mine["chats"].as_array().unwrap().is_empty(), "{mine}");
    assert_eq!(theirs["chats"], json!([]), "no chat list for inspectors");
    assert_eq!(theirs["recent_issues"][0]["id"], id);
}
