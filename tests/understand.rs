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

// ---- Voice notes become text ----

/// CRC-32 of Ogg pages (polynomial 0x04c11db7, no reflection, no final xor).
fn ogg_crc(data: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in data {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04c1_1db7
            } else {
                crc << 1
            };
        }
    }
    crc
}

fn ogg_page(flags: u8, granule: u64, seq: u32, packets: &[Vec<u8>]) -> Vec<u8> {
    let mut lacing = vec![];
    for p in packets {
        lacing.extend(std::iter::repeat_n(255u8, p.len() / 255));
        lacing.push((p.len() % 255) as u8);
    }
    let mut page = b"OggS".to_vec();
    page.push(0);
    page.push(flags);
    page.extend(granule.to_le_bytes());
    page.extend(0x7a70_616bu32.to_le_bytes()); // stream serial
    page.extend(seq.to_le_bytes());
    page.extend([0; 4]);
    page.push(lacing.len() as u8);
    page.extend(lacing);
    for p in packets {
        page.extend(p);
    }
    let crc = ogg_crc(&page);
    page[22..26].copy_from_slice(&crc.to_le_bytes());
    page
}

/// A real Ogg Opus voice note as WhatsApp sends them (mono, 48 kHz): `frames` 20 ms frames of silence; `tag` goes in
/// the comment header so that different notes have different bytes.
fn opus_voice_note(frames: usize, tag: &str) -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.push(1); // version
    head.push(1); // channels
    head.extend(312u16.to_le_bytes()); // pre-skip
    head.extend(48_000u32.to_le_bytes());
    head.extend(0i16.to_le_bytes());
    head.push(0); // mapping family
    let mut tags = b"OpusTags".to_vec();
    let vendor = format!("tapak-test {tag}");
    tags.extend((vendor.len() as u32).to_le_bytes());
    tags.extend(vendor.as_bytes());
    tags.extend(0u32.to_le_bytes());
    // CELT-only, fullband, 20 ms, one frame: the silence frame F8 FF FE.
    let audio: Vec<Vec<u8>> = (0..frames).map(|_| vec![0xf8, 0xff, 0xfe]).collect();
    let mut out = ogg_page(0x02, 0, 0, &[head]);
    out.extend(ogg_page(0, 0, 1, &[tags]));
    out.extend(ogg_page(0x04, 312 + 960 * frames as u64, 2, &audio));
    out
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// A Cloud API voice note (`audio`, `voice: true`) in the test group.
fn cloud_voice(id: &str, from: &str, name: &str, ts: i64, media_id: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&cloud_group_msg(
        id,
        from,
        name,
        ts,
        None,
        Some(media_id),
        None,
    ))
    .unwrap();
    let m = &mut v["entry"][0]["changes"][0]["value"]["messages"][0];
    m["type"] = "audio".into();
    m.as_object_mut().unwrap().remove("image");
    m["audio"] = json!({"id": media_id, "mime_type": "audio/ogg; codecs=opus", "voice": true});
    serde_json::to_vec(&v).unwrap()
}

/// Rajesh's report that opens the pump ticket (Cloud API, at T0).
fn pump_report(id: &str) -> Vec<u8> {
    let text = "Water pump tripped at pump room, no water blk A";
    cloud_group_msg(id, "60167654302", "Rajesh", T0, Some(text), None, None)
}

/// A config whose `[transcribe]` runs the fake transcriber with transcripts from `dir`.
fn transcribing_config(graph: &str, dir: &std::path::Path, extra: &str) -> String {
    let script = fixture("transcribe/fake-whisper.sh");
    format!(
        "{}\n[transcribe]\ncommand = \"sh '{}' '{}' {{file}}\"\n{extra}\n",
        default_config(graph),
        script.display(),
        dir.display()
    )
}

async fn message(c: &reqwest::Client, s: &Server, token: &str, id: i64) -> Value {
    get_json(c, &s.u(&format!("/api/v1/messages/{id}")), token)
        .await
        .1
}

/// Every message, oldest first.
async fn all_messages(c: &reqwest::Client, s: &Server, token: &str) -> Vec<Value> {
    let (_, v) = get_json(c, &s.u("/api/v1/messages?limit=100"), token).await;
    let mut items = v["items"].as_array().unwrap().clone();
    items.reverse(); // oldest first
    items
}

#[tokio::test]
async fn a_voice_note_becomes_text_that_is_classified_linked_and_searchable() {
    let note = opus_voice_note(50, "fixed");
    let transcripts = tempfile::tempdir().unwrap();
    let said = "Pump running again, water is back at block A, all ok";
    std::fs::write(
        transcripts
            .path()
            .join(format!("{}.txt", sha256_hex(&note))),
        format!(" {said}\n"),
    )
    .unwrap();
    let graph = FakeGraph::start(vec![("voice-1", note.clone())], 0).await;
    let s = Server::start(&transcribing_config(&graph.url, transcripts.path(), ""));
    let c = client();
    let token = s.token("manager");
    let sends = [
        pump_report("wamid.v1"),
        cloud_voice("wamid.v2", "60167654302", "Rajesh", T0 + 1800, "voice-1"),
        cloud_group_msg(
            "wamid.v3",
            "60198765403",
            "Tan (Manager)",
            T0 + 1900,
            Some("Thanks all 🙏"),
            None,
            None,
        ),
    ];
    for b in &sends {
        assert_eq!(post_cloud(&c, &s, b).await.status(), 200);
    }
    let msgs = all_messages(&c, &s, &token).await;
    let voice_id = msgs[1]["id"].as_i64().unwrap();
    let voice = eventually(30, "the voice note transcribed and classified", || {
        let c = c.clone();
        let token = token.clone();
        let s = &s;
        async move {
            let m = message(&c, s, &token, voice_id).await;
            (m["text_source"] == "voice_note" && !m["kind"].is_null()).then_some(m)
        }
    })
    .await;
    // Stored beside the evidence: the message keeps no text of its own, the voice note stays its evidence.
    assert!(voice["text"].is_null(), "{voice}");
    assert_eq!(voice["transcript"]["text"], said, "{voice}");
    assert_eq!(voice["transcript"]["status"], "done", "{voice}");
    assert_eq!(voice["transcript"]["attempts"], 1, "{voice}");
    let eid = voice["media"][0].as_i64().unwrap();
    assert_eq!(voice["transcript"]["evidence"], eid, "{voice}");
    let (_, ev) = get_json(&c, &s.u(&format!("/api/v1/evidence/{eid}")), &token).await;
    assert_eq!(
        (ev["kind"].as_str(), ev["status"].as_str()),
        (Some("voice"), Some("ready")),
        "{ev}"
    );
    // Classified and linked like the same words typed: the ticket's resolution.
    assert_eq!(voice["kind"], "issue_resolved", "{voice}");
    assert_eq!(voice["record"]["type"], "issue", "{voice}");
    let ticket = voice["record"]["id"].as_i64().unwrap();
    let (_, detail) = get_json(&c, &s.u(&format!("/api/v1/issues/{ticket}")), &token).await;
    assert_eq!(detail["status"], "resolved", "{detail}");
    let entry = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == voice_id)
        .cloned()
        .expect("the voice note in the timeline");
    assert_eq!(entry["transcript"], said, "{entry}");
    assert_eq!(entry["kind"], "issue_resolved", "{entry}");
    // Searchable, with a snippet of the transcript.
    let (_, found) = get_json(&c, &s.u("/api/v1/search?q=running%20water"), &token).await;
    let hits = found["items"].as_array().unwrap();
    assert_eq!(hits.len(), 1, "{found}");
    assert_eq!(hits[0]["id"], voice_id, "{found}");
    let snip = hits[0]["snippet"].as_str().unwrap();
    assert!(
        snip.contains("«running»") && snip.contains("«water»"),
        "{snip}"
    );
    // Replayable: rebuilding the chat (a dry-run correction of another message) reproduces every record.
    let thanks = msgs[2]["id"].as_i64().unwrap();
    let (st, preview) = send_json(
        &c,
        reqwest::Method::POST,
        &s.u(&format!(
            "/api/v1/messages/{thanks}/classification?dry_run=true"
        )),
        &token,
        &json!({"kind": "chatter", "reason": "check"}),
    )
    .await;
    assert_eq!(st, 200, "{preview}");
    assert_eq!(preview["side_effects"], json!([]), "{preview}");
    // The same after a restart: the transcript is read back from the database.
    let mut s = s;
    s.restart();
    let token = s.token("manager");
    let again = message(&c, &s, &token, voice_id).await;
    assert_eq!(
        (
            &again["kind"],
            &again["record"],
            &again["transcript"]["text"]
        ),
        (
            &voice["kind"],
            &voice["record"],
            &voice["transcript"]["text"]
        )
    );
}

#[tokio::test]
async fn without_a_transcription_command_voice_notes_stay_evidence() {
    let note = opus_voice_note(25, "plain");
    let graph = FakeGraph::start(vec![("voice-1", note)], 0).await;
    let s = Server::start(&default_config(&graph.url));
    let c = client();
    let token = s.token("manager");
    for b in [
        pump_report("wamid.p1"),
        cloud_voice("wamid.p2", "60167654302", "Rajesh", T0 + 60, "voice-1"),
    ] {
        assert_eq!(post_cloud(&c, &s, &b).await.status(), 200);
    }
    let msgs = all_messages(&c, &s, &token).await;
    let voice = &msgs[1];
    let eid = voice["media"][0].as_i64().unwrap();
    let ev = eventually(20, "the voice note stored", || {
        let (c, token, s) = (c.clone(), token.clone(), &s);
        async move {
            let (_, ev) = get_json(&c, &s.u(&format!("/api/v1/evidence/{eid}")), &token).await;
            (ev["status"] == "ready").then_some(ev)
        }
    })
    .await;
    assert_eq!(ev["kind"], "voice");
    // A stored voice note is left as it was: evidence, no text, no classification, nothing queued.
    let voice = message(&c, &s, &token, voice["id"].as_i64().unwrap()).await;
    assert!(
        voice.get("transcript").is_none() && voice.get("text_source").is_none(),
        "{voice}"
    );
    assert!(
        voice["kind"].is_null() && voice["text"].is_null(),
        "{voice}"
    );
    let db = rusqlite::Connection::open(s.data.join("tapak.db")).unwrap();
    let (rows, jobs): (i64, i64) = db
        .query_row(
            "SELECT (SELECT count(*) FROM transcripts), (SELECT count(*) FROM jobs WHERE kind = 'transcribe')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((rows, jobs), (0, 0));
}

#[tokio::test]
async fn a_failing_or_hanging_transcriber_is_recorded_retried_and_never_blocks_ingest() {
    let (broken, hanging) = (
        opus_voice_note(10, "broken"),
        opus_voice_note(10, "hanging"),
    );
    let transcripts = tempfile::tempdir().unwrap();
    let hang_sha = sha256_hex(&hanging);
    // No transcript for the first (the command exits 4); the second hangs past the timeout.
    std::fs::write(transcripts.path().join(format!("{hang_sha}.hang")), "").unwrap();
    let graph = FakeGraph::start(vec![("voice-b", broken), ("voice-h", hanging)], 0).await;
    let s = Server::start(&transcribing_config(
        &graph.url,
        transcripts.path(),
        "timeout_seconds = 1\nmax_attempts = 2",
    ));
    let c = client();
    let token = s.token("manager");
    for b in [
        cloud_voice("wamid.f1", "60167654302", "Rajesh", T0, "voice-b"),
        cloud_voice("wamid.f2", "60167654302", "Rajesh", T0 + 60, "voice-h"),
    ] {
        assert_eq!(post_cloud(&c, &s, &b).await.status(), 200);
    }
    // While the transcriber hangs, a report is still taken in and linked before its 200.
    let started = transcripts.path().join(format!("{hang_sha}.started"));
    eventually(30, "the hanging transcriber started", || {
        let started = started.clone();
        async move { started.exists().then_some(()) }
    })
    .await;
    let report = cloud_group_msg(
        "wamid.f3",
        "60123456701",
        "Aminah",
        T0 + 120,
        Some("Lift C stuck at level 3, no one inside"),
        None,
        None,
    );
    assert_eq!(post_cloud(&c, &s, &report).await.status(), 200);
    let msgs = all_messages(&c, &s, &token).await;
    assert_eq!(msgs[2]["kind"], "issue_report", "{}", msgs[2]);
    assert_eq!(msgs[2]["record"]["type"], "issue", "{}", msgs[2]);
    let hanging_now = message(&c, &s, &token, msgs[1]["id"].as_i64().unwrap()).await;
    assert_eq!(
        hanging_now["transcript"]["status"], "pending",
        "{hanging_now}"
    );
    assert_eq!(hanging_now["transcript"]["attempts"], 0, "{hanging_now}");
    // Each is retried once (max_attempts = 2), then marked failed with why; the voice notes stay evidence.
    for (m, why) in [
        (&msgs[0], "failed (exit status: 4): no transcript for"),
        (&msgs[1], "still running after 1 s: killed"),
    ] {
        let id = m["id"].as_i64().unwrap();
        let done = eventually(40, "the transcription given up", || {
            let (c, token, s) = (c.clone(), token.clone(), &s);
            async move {
                let m = message(&c, s, &token, id).await;
                (m["transcript"]["status"] == "failed").then_some(m)
            }
        })
        .await;
        assert_eq!(done["transcript"]["attempts"], 2, "{done}");
        let err = done["transcript"]["error"].as_str().unwrap();
        assert!(err.contains(why), "{err}");
        assert!(
            done["kind"].is_null() && done.get("text_source").is_none(),
            "{done}"
        );
    }
    let db = rusqlite::Connection::open(s.data.join("tapak.db")).unwrap();
    let jobs: i64 = db
        .query_row(
            "SELECT count(*) FROM jobs WHERE kind = 'transcribe'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(jobs, 0, "given-up jobs leave the queue");
}
