//! Follow-ups understood in context (issue 17) over real HTTP: a reply through WAHA or Evolution links to the ticket of
//! the message it quotes, and voice notes become text through the configured transcription command.

mod common;

use common::*;
use serde_json::{json, Value};

const T0: i64 = 1_772_414_132; // 2026-03-02 09:15:32 +08:00
const GROUP: &str = "120363401234567890@g.us";

async fn post_gateway(c: &reqwest::Client, s: &Server, path: &str, body: &Value, token: &str) {
    let r = c
        .post(s.u(path))
        .header("content-type", "application/json")
        .header("x-tapak-token", token)
        .body(serde_json::to_vec(body).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{path}: {}", r.text().await.unwrap());
}

/// A WAHA (NOWEB engine) group text; a reply carries `replyTo` (raw stanza id) and the quoted stanza in `contextInfo`.
fn waha_text(
    raw_id: &str,
    phone: &str,
    name: &str,
    ts: i64,
    body: &str,
    reply: Option<&str>,
) -> Value {
    let mut payload = json!({
        "id": format!("false_{GROUP}_{raw_id}_{phone}@c.us"),
        "timestamp": ts,
        "from": GROUP,
        "fromMe": false,
        "source": "app",
        "to": GROUP,
        "participant": format!("{phone}@c.us"),
        "body": body,
        "hasMedia": false,
        "media": null,
        "_data": {
            "key": {"remoteJid": GROUP, "fromMe": false, "id": raw_id,
                    "participant": format!("{phone}@s.whatsapp.net")},
            "messageTimestamp": ts,
            "pushName": name,
            "message": {"conversation": body}
        }
    });
    if let Some(q) = reply {
        payload["replyTo"] = json!({"id": q, "participant": "60167654302@c.us", "body": "…"});
        payload["_data"]["message"] = json!({"extendedTextMessage": {"text": body,
            "contextInfo": {"stanzaId": q, "participant": "60167654302@s.whatsapp.net",
                            "quotedMessage": {"conversation": "…"}}}});
    }
    json!({
        "id": format!("evt_{raw_id}"),
        "timestamp": ts * 1000,
        "event": "message",
        "session": "default",
        "me": {"id": "60380001234@c.us", "pushName": "Tapak Ops"},
        "payload": payload,
        "engine": "NOWEB"
    })
}

/// An Evolution `messages.upsert` group text. A reply's quoted-message info sits in `data.contextInfo` when
/// `top_level`, else inside `extendedTextMessage.contextInfo` (both shapes are seen).
fn evo_text(
    raw_id: &str,
    phone: &str,
    name: &str,
    ts: i64,
    body: &str,
    reply: Option<(&str, bool)>,
) -> Value {
    let mut data = json!({
        "key": {"remoteJid": GROUP, "fromMe": false, "id": raw_id,
                "participant": format!("{phone}@s.whatsapp.net")},
        "pushName": name,
        "message": {"conversation": body},
        "messageType": "conversation",
        "messageTimestamp": ts,
    });
    if let Some((q, top_level)) = reply {
        let ctx = json!({"stanzaId": q, "participant": "60167654302@s.whatsapp.net",
                         "quotedMessage": {"conversation": "…"}});
        if top_level {
            data["contextInfo"] = ctx;
        } else {
            data["message"] = json!({"extendedTextMessage": {"text": body, "contextInfo": ctx}});
            data["messageType"] = "extendedTextMessage".into();
        }
    }
    json!({
        "event": "messages.upsert",
        "instance": "ops-menara-contoh",
        "data": data,
        "sender": "60380001234@s.whatsapp.net"
    })
}

const GATEWAYS: &str = r#"
[whatsapp.waha]
webhook_token = "waha-token-1"

[whatsapp.evolution]
webhook_token = "evo-token-1"
"#;

/// Which webhook a scenario's messages arrive through.
#[derive(Clone, Copy, PartialEq)]
enum Route {
    Cloud,
    Waha,
    /// Evolution; the first reply carries its quote in `data.contextInfo`, the second inside the text message.
    Evolution,
}

/// Two tickets open; a technician who touched neither replies to the first one's report with words of a new report
/// (and another ticket was opened since), and a manager acknowledges it by reply. Asserts the reply is the first
/// ticket's follow-up, the strongest link there is, and the acknowledgement stays chatter.
async fn a_reply_links_to_the_quoted_tickets_follow_up(route: Route) {
    let graph = FakeGraph::start(vec![], 0).await;
    let s = Server::start(&format!("{}{GATEWAYS}", default_config(&graph.url)));
    let c = client();
    let token = s.token("manager");
    let sends = [
        (
            "AA01",
            "60167654302",
            "Rajesh",
            0,
            "Water pump tripped at pump room, no water blk A",
            None,
        ),
        (
            "AA02",
            "60123456701",
            "Aminah",
            60,
            "Lift C stuck at level 3, no one inside",
            None,
        ),
        (
            "AA03",
            "60124445566",
            "Ahmad Technician",
            600,
            "At pump room, motor burnt, need rewind",
            Some("AA01"),
        ),
        (
            "AA04",
            "60198765403",
            "Tan (Manager)",
            700,
            "Ok noted 👍",
            Some("AA01"),
        ),
    ];
    let id = |short: &str| format!("3A10000000000000{short}");
    for (n, (short, phone, name, dt, text, reply)) in sends.iter().enumerate() {
        let (raw, reply) = (id(short), reply.map(id));
        let ts = T0 + dt;
        match route {
            Route::Cloud => {
                let body =
                    cloud_group_msg(&raw, phone, name, ts, Some(text), None, reply.as_deref());
                assert_eq!(post_cloud(&c, &s, &body).await.status(), 200);
            }
            Route::Waha => {
                // The second reply names the quoted message by its serialized id, as some engines do.
                let reply = match reply {
                    Some(q) if n == 3 => Some(format!("false_{GROUP}_{q}_60167654302@c.us")),
                    r => r,
                };
                let body = waha_text(&raw, phone, name, ts, text, reply.as_deref());
                post_gateway(&c, &s, "/webhooks/waha", &body, "waha-token-1").await;
            }
            Route::Evolution => {
                let reply = reply.as_deref().map(|q| (q, n == 2));
                let body = evo_text(&raw, phone, name, ts, text, reply);
                post_gateway(&c, &s, "/webhooks/evolution", &body, "evo-token-1").await;
            }
        }
    }
    wait_processed(&c, &s, &token, sends.len()).await;
    let (_, issues) = get_json(&c, &s.u("/api/v1/issues"), &token).await;
    let items = issues["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "the reply opened no ticket: {issues}");
    let pump = items
        .iter()
        .find(|i| i["title"].as_str().unwrap_or("").starts_with("Water pump"))
        .expect("pump ticket");
    let (_, detail) = get_json(&c, &s.u(&format!("/api/v1/issues/{}", pump["id"])), &token).await;
    assert_eq!(detail["status"], "in_progress", "{detail}");
    let timeline = detail["timeline"].as_array().unwrap();
    let texts: Vec<&str> = timeline.iter().filter_map(|m| m["text"].as_str()).collect();
    assert_eq!(texts, [sends[0].4, sends[2].4], "{detail}");
    let reply = &timeline[1];
    assert_eq!(reply["kind"], "issue_update", "{reply}");
    let why = reply["link_reason"].as_str().unwrap();
    assert!(
        why.starts_with("replies to a message of this ticket"),
        "{why}"
    );
    assert!(why.contains("replies to its message (+6.0)"), "{why}");
    assert!(
        why.contains("read as issue_update of an open ticket, not issue_report"),
        "{why}"
    );
    let (_, all) = get_json(&c, &s.u("/api/v1/messages?limit=50"), &token).await;
    let all = all["items"].as_array().unwrap();
    let ack = all
        .iter()
        .find(|m| m["text"] == sends[3].4)
        .expect("the acknowledgement");
    assert_eq!(ack["reply_to"], id("AA01"), "{ack}");
    assert_eq!(ack["kind"], "chatter", "{ack}");
    assert!(ack["record"].is_null(), "{ack}");
}

/// Cloud API `context.id`. Before issue 17 the reply opened a second ticket (a reply only counted for messages
/// already classified as updates).
#[tokio::test]
async fn a_cloud_reply_to_a_tickets_message_is_its_follow_up() {
    a_reply_links_to_the_quoted_tickets_follow_up(Route::Cloud).await;
}

/// WAHA `replyTo.id` (raw or serialized) with the quoted stanza in `contextInfo`.
#[tokio::test]
async fn a_waha_reply_to_a_tickets_message_is_its_follow_up() {
    a_reply_links_to_the_quoted_tickets_follow_up(Route::Waha).await;
}

/// Evolution `contextInfo.stanzaId`, at the top of `data` or inside the text message.
#[tokio::test]
async fn an_evolution_quoted_message_is_the_quoted_tickets_follow_up() {
    a_reply_links_to_the_quoted_tickets_follow_up(Route::Evolution).await;
}
