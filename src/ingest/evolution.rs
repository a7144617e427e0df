//! Evolution API v2 webhook normaliser (`whatsapp.md` §3). Pure: bytes in, [`Normalized`] out.
//! Authentication (JWT / shared token) lives in [`crate::ingest::verify`].
//!
//! Mapping decisions:
//! - `source_message_id` = `data.key.id`, the raw WhatsApp id (same id space as WAHA's raw ids and quoted
//!   `contextInfo.stanzaId`). Evolution's own DB id (`messages.update` `messageId`) is never used.
//! - event names are accepted as delivered (`messages.upsert`) or in config spelling (`MESSAGES_UPSERT`,
//!   `messages-upsert`); `data` may be one object or an array of them.
//! - chat id = `key.remoteJid` (device suffix stripped, `@s.whatsapp.net` kept as Evolution writes it); for a 1:1 chat
//!   addressed by `@lid`, the phone JID from `remoteJidAlt` when present. Groups `…@g.us`.
//! - sender: group → `key.participant` / `participantAlt` (the phone JID preferred); 1:1 → `remoteJid` /
//!   `remoteJidAlt`; own messages (`key.fromMe`) → envelope `sender` (the instance's own JID). Name = `pushName`.
//! - `sent_at` = `data.messageTimestamp` (never `date_time`, which is server-local time labelled `Z`).
//! - media: `message.base64` decoded → [`MediaFetch::Inline`] (undecodable → message kept, media `Unavailable`);
//!   else `message.mediaUrl` → [`MediaFetch::GatewayUrl`]; else [`MediaFetch::EvolutionApi`] (asked of the gateway's
//!   `getBase64FromMediaMessage`, answer parsed by [`parse_media_answer`]); the encrypted CDN `url` is never used.
//! - `messages.update` → [`StatusUpdate`] (`READ` → `read`, `DELIVERY_ACK` → `delivered`, `SERVER_ACK` → `sent`,
//!   `PLAYED` → `played`, `ERROR` → `failed`); status `DELETED` and `messages.delete` → revoke [`MessageChange`];
//!   `messages.edited` (a Baileys `protocolMessage`) → edit or revoke by its `type`.
//! - Status/delete events carry no event time of their own: [`normalize_received`] uses the caller's receive time;
//!   plain [`normalize`] falls back to `date_time` (which is off by the Evolution server's UTC offset).

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ingest::cloud::{nonempty, str_of, unix_millis, unix_time};
use crate::ingest::model::{
    ChatRef, InboundMessage, MediaFetch, MediaRef, MessageChange, MessageType, NormalizeError,
    Normalized, Reaction, Source, StatusUpdate,
};
use crate::ingest::waha::{
    canonical_jid, contact_names, content_of, content_with_hint, is_contact_key, is_forwarded,
    is_group_jid, is_ignored_chat, is_media_key, is_phone_jid, location_of_content, media_kind,
    sender_from_candidates, text_of_content,
};

const EXPECTED: &str = "Evolution API webhook";

/// Normalise one Evolution webhook POST body. Events without their own time use the envelope `date_time`.
pub fn normalize(body: &[u8]) -> Result<Normalized, NormalizeError> {
    inner(body, None)
}

/// As [`normalize`], but events without their own time (`messages.update`, `messages.delete`) get `received_at`.
pub fn normalize_received(
    body: &[u8],
    received_at: DateTime<Utc>,
) -> Result<Normalized, NormalizeError> {
    inner(body, Some(received_at))
}

fn shape(detail: &str) -> NormalizeError {
    NormalizeError::Shape {
        expected: EXPECTED,
        detail: detail.to_string(),
    }
}

/// `MESSAGES_UPSERT` / `messages-upsert` / `messages.upsert` → `messages.upsert`.
fn event_name(e: &str) -> String {
    e.trim().to_ascii_lowercase().replace(['_', '-'], ".")
}

/// Normalises one `data` item into `out`; `Err` = the reason it was skipped (listed in `ignored`).
type Handler = fn(&Env, &Value, &mut Normalized) -> Result<(), String>;

struct Env {
    own_jid: Option<String>,
    instance: Option<String>,
    fallback_time: Option<DateTime<Utc>>,
}

fn inner(body: &[u8], received_at: Option<DateTime<Utc>>) -> Result<Normalized, NormalizeError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| NormalizeError::Json(e.to_string()))?;
    if !root.is_object() {
        return Err(shape("top level is not a JSON object"));
    }
    let event = event_name(str_of(&root, "event").ok_or_else(|| shape("no `event` string"))?);
    let data = root.get("data").unwrap_or(&Value::Null);
    let env = Env {
        own_jid: str_of(&root, "sender")
            .filter(|s| !s.is_empty())
            .map(|j| canonical_jid(j, false)),
        instance: nonempty(&root, "instance"),
        fallback_time: received_at.or_else(|| {
            str_of(&root, "date_time")
                .and_then(|d| DateTime::parse_from_rfc3339(d).ok())
                .map(|d| d.with_timezone(&Utc))
        }),
    };
    let items: Vec<&Value> = match data {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let handler: Option<Handler> = match event.as_str() {
        "messages.upsert" | "send.message" | "messages.set" => Some(upsert),
        "messages.update" => Some(update),
        "messages.edited" => Some(edited),
        "messages.delete" => Some(delete),
        _ => None,
    };
    let mut out = Normalized::default();
    let Some(handler) = handler else {
        out.ignored.push(format!("event {event}"));
        return Ok(out);
    };
    if items.iter().any(|d| !d.is_object()) {
        return Err(shape(&format!(
            "`{event}` event whose data is not an object"
        )));
    }
    for (i, d) in items.into_iter().enumerate() {
        if let Err(why) = handler(&env, d, &mut out) {
            out.ignored.push(format!("{event} data[{i}]: {why}"));
        }
    }
    Ok(out)
}

/// Chat JID of a Baileys key: group as is; 1:1 prefers the phone JID among `remoteJid`/`remoteJidAlt`.
fn chat_of(key: &Value) -> Option<String> {
    let primary = str_of(key, "remoteJid").filter(|s| !s.is_empty())?;
    if is_group_jid(primary) || is_phone_jid(primary) {
        return Some(canonical_jid(primary, false));
    }
    let alt = [str_of(key, "remoteJidAlt"), str_of(key, "senderPn")]
        .into_iter()
        .flatten()
        .find(|j| is_phone_jid(j));
    Some(canonical_jid(alt.unwrap_or(primary), false))
}

fn upsert(env: &Env, d: &Value, out: &mut Normalized) -> Result<(), String> {
    let key = d
        .get("key")
        .filter(|k| k.is_object())
        .ok_or("no `key` object")?;
    let id = str_of(key, "id")
        .filter(|s| !s.is_empty())
        .ok_or("no `key.id`")?;
    let chat = chat_of(key).ok_or("no `key.remoteJid`")?;
    if is_ignored_chat(&chat) {
        out.ignored.push(format!(
            "message {id}: chat {chat} (status/newsletter/broadcast)"
        ));
        return Ok(());
    }
    let message = d.get("message").unwrap_or(&Value::Null);
    // A protocol message (edit / revoke) arriving as an upsert: treat like messages.edited.
    if message.get("protocolMessage").is_some_and(Value::is_object) {
        return edited(env, d, out);
    }
    let sent_at = d
        .get("messageTimestamp")
        .and_then(unix_time)
        .ok_or("no readable `messageTimestamp`")?;
    let from_me = key.get("fromMe").and_then(Value::as_bool).unwrap_or(false);
    let is_group = is_group_jid(&chat);
    let push_name = nonempty(d, "pushName");
    let sender = if from_me {
        env.own_jid
            .as_deref()
            .and_then(|j| sender_from_candidates(&[j], push_name))
    } else {
        let cands: Vec<&str> = if is_group {
            [
                str_of(key, "participant"),
                str_of(key, "participantAlt"),
                str_of(key, "participantPn"),
                str_of(d, "participant"),
            ]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect()
        } else {
            [
                str_of(key, "remoteJid"),
                str_of(key, "remoteJidAlt"),
                str_of(key, "senderPn"),
            ]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect()
        };
        sender_from_candidates(&cands, push_name)
    };

    // Content: `messageType` names the key when it is present, else the first content key.
    let (ckey, cval) = content_with_hint(message, str_of(d, "messageType"))
        .unwrap_or((str_of(d, "messageType").unwrap_or("unknown"), &Value::Null));
    let ckey = ckey.to_string();

    let ctx_info = d
        .get("contextInfo")
        .filter(|c| c.is_object())
        .or_else(|| cval.get("contextInfo").filter(|c| c.is_object()))
        .unwrap_or(&Value::Null);
    let reply_to = str_of(ctx_info, "stanzaId")
        .filter(|s| !s.is_empty())
        .map(str::to_string);

    let mut msg = InboundMessage {
        source: Source::Evolution,
        source_message_id: id.to_string(),
        chat: ChatRef {
            external_id: chat,
            name: None,
            is_group,
        },
        sender,
        from_me,
        sent_at,
        msg_type: MessageType::Other,
        source_type: ckey.clone(),
        text: text_of_content(&ckey, cval),
        reply_to,
        forwarded: is_forwarded(ctx_info),
        edited: false,
        deleted: false,
        media: Vec::new(),
        reaction: None,
        location: None,
    };

    if is_media_key(&ckey) {
        msg.msg_type = MessageType::Media;
        let mime = nonempty(cval, "mimetype");
        let b64 = message
            .get("base64")
            .or_else(|| d.get("base64"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let fetch = match (
            b64,
            nonempty(message, "mediaUrl").or_else(|| nonempty(d, "mediaUrl")),
        ) {
            (Some(b), url) => match decode_base64(b) {
                Some(bytes) => MediaFetch::Inline { bytes },
                None => url.map_or(MediaFetch::Unavailable, |url| MediaFetch::GatewayUrl {
                    url,
                }),
            },
            (None, Some(url)) => MediaFetch::GatewayUrl { url },
            (None, None) => MediaFetch::EvolutionApi {
                message_id: id.to_string(),
                instance: env.instance.clone(),
            },
        };
        msg.media.push(MediaRef {
            kind: media_kind(
                &ckey,
                mime.as_deref(),
                cval.get("ptt").and_then(Value::as_bool),
            ),
            mime,
            sha256: nonempty(cval, "fileSha256"),
            filename: nonempty(cval, "fileName"),
            fetch,
        });
    } else if let Some(loc) = location_of_content(&ckey, cval) {
        msg.msg_type = MessageType::Location;
        msg.location = Some(loc);
        msg.text = None;
    } else if is_contact_key(&ckey) {
        msg.msg_type = MessageType::Contact;
        msg.text = contact_names(&ckey, cval);
    } else if ckey == "reactionMessage" {
        msg.msg_type = MessageType::Reaction;
        msg.text = None;
        msg.reaction = cval
            .get("key")
            .and_then(|k| str_of(k, "id"))
            .filter(|s| !s.is_empty())
            .map(|t| Reaction {
                target_id: t.to_string(),
                emoji: nonempty(cval, "text"),
            });
    } else if matches!(ckey.as_str(), "conversation" | "extendedTextMessage") && msg.text.is_some()
    {
        msg.msg_type = MessageType::Text;
    }
    out.messages.push(msg);
    Ok(())
}

/// Evolution's answer to `POST /chat/getBase64FromMediaMessage/{instance}` (`whatsapp.md` §3.5):
/// `{mediaType, fileName, size, mimetype, base64}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaAnswer {
    pub bytes: Vec<u8>,
    pub mime: Option<String>,
    pub filename: Option<String>,
}

/// Parses the `getBase64FromMediaMessage` response body; `Err` when it carries no decodable `base64`.
pub fn parse_media_answer(body: &[u8]) -> Result<MediaAnswer, NormalizeError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| NormalizeError::Json(e.to_string()))?;
    if !v.is_object() {
        return Err(NormalizeError::Shape {
            expected: "Evolution getBase64FromMediaMessage answer",
            detail: "top level is not a JSON object".into(),
        });
    }
    let b64 = str_of(&v, "base64").ok_or_else(|| NormalizeError::Shape {
        expected: "Evolution getBase64FromMediaMessage answer",
        detail: "no `base64` string".into(),
    })?;
    let bytes = decode_base64(b64).ok_or_else(|| NormalizeError::Shape {
        expected: "Evolution getBase64FromMediaMessage answer",
        detail: "`base64` is empty or does not decode".into(),
    })?;
    Ok(MediaAnswer {
        bytes,
        mime: nonempty(&v, "mimetype"),
        filename: nonempty(&v, "fileName"),
    })
}

/// Base64 media as Evolution sends it (standard alphabet; tolerates a `data:` prefix, line breaks, missing padding,
/// URL-safe alphabet). `None` if it does not decode or is empty.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    let s = match s.strip_prefix("data:") {
        Some(rest) => rest.split_once(',').map(|(_, b)| b)?,
        None => s,
    };
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let e = &base64::engine::general_purpose::STANDARD;
    let bytes = e
        .decode(&clean)
        .or_else(|_| {
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(clean.trim_end_matches('='))
        })
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(clean.trim_end_matches('='))
        })
        .ok()?;
    (!bytes.is_empty()).then_some(bytes)
}

fn update(env: &Env, d: &Value, out: &mut Normalized) -> Result<(), String> {
    let key = d.get("key").unwrap_or(&Value::Null);
    let id = str_of(d, "keyId")
        .or_else(|| str_of(key, "id"))
        .filter(|s| !s.is_empty())
        .ok_or("no `keyId`")?;
    let remote = str_of(d, "remoteJid").or_else(|| str_of(key, "remoteJid"));
    if remote.is_some_and(is_ignored_chat) {
        out.ignored
            .push(format!("update {id}: status/newsletter chat"));
        return Ok(());
    }
    let at = d
        .get("messageTimestamp")
        .and_then(unix_time)
        .or_else(|| d.get("timestampMs").and_then(unix_millis))
        .or(env.fallback_time)
        .ok_or("no time: neither data time nor envelope date_time")?;
    let Some(raw_status) = d.get("status").and_then(|s| match s {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }) else {
        out.ignored
            .push(format!("update {id}: no status (poll update or other)"));
        return Ok(());
    };
    let status = match raw_status.to_ascii_uppercase().as_str() {
        "ERROR" | "0" => "failed".to_string(),
        "PENDING" | "1" => "pending".to_string(),
        "SERVER_ACK" | "2" => "sent".to_string(),
        "DELIVERY_ACK" | "3" => "delivered".to_string(),
        "READ" | "4" => "read".to_string(),
        "PLAYED" | "5" => "played".to_string(),
        "DELETED" => {
            out.changes.push(MessageChange {
                source: Source::Evolution,
                target_id: id.to_string(),
                chat_external_id: remote.map(|r| canonical_jid(r, false)),
                at,
                new_text: None,
            });
            return Ok(());
        }
        _ => raw_status.to_ascii_lowercase(),
    };
    let recipient = str_of(d, "participant")
        .or_else(|| str_of(key, "participant"))
        .filter(|s| !s.is_empty())
        .or(remote)
        .map(|j| crate::ingest::waha::jid_phone(j).unwrap_or_else(|| canonical_jid(j, false)));
    out.statuses.push(StatusUpdate {
        source: Source::Evolution,
        message_id: id.to_string(),
        status,
        at,
        recipient_id: recipient,
        errors: Vec::new(),
        callback: None,
    });
    Ok(())
}

/// `messages.edited`: a Baileys `protocolMessage` (directly, or inside `message` / `editedMessage`).
fn edited(env: &Env, d: &Value, out: &mut Normalized) -> Result<(), String> {
    let message = d.get("message").unwrap_or(&Value::Null);
    let pm = message
        .get("protocolMessage")
        .or_else(|| {
            message
                .get("editedMessage")
                .and_then(|e| e.get("message"))
                .and_then(|m| m.get("protocolMessage"))
        })
        .or_else(|| d.get("protocolMessage"))
        .or_else(|| {
            (d.get("key").is_some()
                && (d.get("type").is_some() || d.get("editedMessage").is_some()))
            .then_some(d)
        })
        .filter(|p| p.is_object())
        .ok_or("no protocolMessage")?;
    let target_key = pm
        .get("key")
        .filter(|k| k.is_object())
        .ok_or("protocolMessage without `key`")?;
    let target = str_of(target_key, "id")
        .filter(|s| !s.is_empty())
        .ok_or("protocolMessage without `key.id`")?;
    let chat = chat_of(target_key).or_else(|| d.get("key").and_then(chat_of));
    if chat.as_deref().is_some_and(is_ignored_chat) {
        out.ignored
            .push(format!("edit/revoke of {target}: status/newsletter chat"));
        return Ok(());
    }
    let kind = match pm.get("type") {
        Some(Value::String(s)) => s.to_ascii_uppercase(),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(0) => "REVOKE".to_string(),
            Some(14) => "MESSAGE_EDIT".to_string(),
            _ => n.to_string(),
        },
        _ if pm.get("editedMessage").is_some() => "MESSAGE_EDIT".to_string(),
        _ => String::new(),
    };
    let at = d
        .get("messageTimestamp")
        .and_then(unix_time)
        .or_else(|| pm.get("timestampMs").and_then(unix_millis))
        .or(env.fallback_time)
        .ok_or("no time: neither data time nor envelope date_time")?;
    let new_text = match kind.as_str() {
        "MESSAGE_EDIT" => {
            let em = pm.get("editedMessage").unwrap_or(&Value::Null);
            let em = em.get("message").filter(|m| m.is_object()).unwrap_or(em);
            Some(
                content_of(em)
                    .and_then(|(k, v)| text_of_content(k, v))
                    .unwrap_or_default(),
            )
        }
        "REVOKE" => None,
        other => {
            out.ignored
                .push(format!("protocolMessage type {other:?} for {target}"));
            return Ok(());
        }
    };
    out.changes.push(MessageChange {
        source: Source::Evolution,
        target_id: target.to_string(),
        chat_external_id: chat,
        at,
        new_text,
    });
    Ok(())
}

/// `messages.delete`: the key of a message deleted for everyone (`data` = key, or `{key: …}`).
fn delete(env: &Env, d: &Value, out: &mut Normalized) -> Result<(), String> {
    let key = d.get("key").filter(|k| k.is_object()).unwrap_or(d);
    let id = str_of(key, "id")
        .or_else(|| str_of(d, "keyId"))
        .filter(|s| !s.is_empty())
        .ok_or("no key id")?;
    let chat = chat_of(key);
    if chat.as_deref().is_some_and(is_ignored_chat) {
        out.ignored
            .push(format!("delete of {id}: status/newsletter chat"));
        return Ok(());
    }
    let at = d
        .get("messageTimestamp")
        .and_then(unix_time)
        .or(env.fallback_time)
        .ok_or("no time")?;
    out.changes.push(MessageChange {
        source: Source::Evolution,
        target_id: id.to_string(),
        chat_external_id: chat,
        at,
        new_text: None,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::model::{EvidenceKind, GeoLocation};
    use crate::ingest::test_support::{group, sender, t, GROUP};
    use chrono::TimeZone;
    use sha2::Digest;

    const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/whatsapp/evolution/"
    );

    fn fx(name: &str) -> Vec<u8> {
        std::fs::read(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
    fn fxv(name: &str) -> Value {
        serde_json::from_slice(&fx(name)).unwrap()
    }
    fn one(name: &str) -> InboundMessage {
        let n = normalize(&fx(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(n.messages.len(), 1, "{name}: {n:?}");
        assert!(
            n.ignored.is_empty() && n.changes.is_empty() && n.statuses.is_empty(),
            "{name}: {n:?}"
        );
        n.messages.into_iter().next().unwrap()
    }

    #[test]
    fn every_webhook_fixture_normalises() {
        let mut n = 0;
        for e in std::fs::read_dir(DIR).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            if name.starts_with("messages_") {
                let r = normalize(&std::fs::read(&p).unwrap())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(r.messages.len() + r.statuses.len(), 1, "{name}: {r:?}");
                assert!(r.ignored.is_empty(), "{name}: {r:?}");
                n += 1;
            }
        }
        assert_eq!(n, 8);
        // Non-webhook fixtures are refused as the wrong shape, never a panic.
        for name in [
            "send_text_request.json",
            "send_text_response.json",
            "webhook_set_request.json",
            "webhook_jwt_header_example.json",
        ] {
            assert!(
                matches!(normalize(&fx(name)), Err(NormalizeError::Shape { .. })),
                "{name}"
            );
        }
    }

    #[test]
    fn text_dm_uses_message_timestamp_not_date_time() {
        let m = one("messages_upsert_text_dm.json");
        assert_eq!(m.source, Source::Evolution);
        assert_eq!(m.source_message_id, "3EB0A1B2C3D4E5F6A7B8");
        assert_eq!(
            m.chat,
            ChatRef {
                external_id: "60123456701@s.whatsapp.net".into(),
                name: None,
                is_group: false
            }
        );
        assert_eq!(
            m.sender,
            sender("60123456701", Some("60123456701"), Some("Kak Aminah"))
        );
        assert_eq!(
            m.sent_at,
            DateTime::parse_from_rfc3339("2026-03-02T09:15:32+08:00").unwrap()
        );
        // date_time says 09:15:33Z (server-local wall time labelled Z): 8 h off.
        let dt = DateTime::parse_from_rfc3339(
            fxv("messages_upsert_text_dm.json")["date_time"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert!((dt.with_timezone(&Utc) - m.sent_at).num_hours() == 8);
        assert_eq!(m.msg_type, MessageType::Text);
        assert_eq!(m.source_type, "conversation");
        assert_eq!(
            m.text.as_deref(),
            Some("Tandas lelaki tingkat 3 dah siap cuci ✅")
        );
        assert!(!m.from_me && !m.forwarded && m.reply_to.is_none());
    }

    #[test]
    fn group_lid_prefers_phone() {
        let m = one("messages_upsert_group_text_lid.json");
        assert_eq!(m.chat, group());
        assert_eq!(m.source_message_id, "3A5F0E9D8C7B6A594837");
        assert_eq!(
            m.sender,
            sender("60167654302", Some("60167654302"), Some("Rajesh Security"))
        );
        assert_eq!(m.sent_at, t(1772414165));
        // Without participantAlt: the lid is the id.
        let mut v = fxv("messages_upsert_group_text_lid.json");
        v["data"]["key"]
            .as_object_mut()
            .unwrap()
            .remove("participantAlt");
        v["data"]["key"]["participant"] = Value::from("215555123456789:4@lid");
        let m = normalize(v.to_string().as_bytes())
            .unwrap()
            .messages
            .remove(0);
        assert_eq!(
            m.sender,
            sender("215555123456789@lid", None, Some("Rajesh Security"))
        );
        // Phone as primary and lid as alt (pn addressing) gives the same person.
        let mut v = fxv("messages_upsert_group_text_lid.json");
        v["data"]["key"]["participant"] = Value::from("60167654302@s.whatsapp.net");
        v["data"]["key"]["participantAlt"] = Value::from("215555123456789@lid");
        let m = normalize(v.to_string().as_bytes())
            .unwrap()
            .messages
            .remove(0);
        assert_eq!(
            m.sender,
            sender("60167654302", Some("60167654302"), Some("Rajesh Security"))
        );
        // 1:1 chat addressed by lid with remoteJidAlt: chat = phone JID.
        let mut v = fxv("messages_upsert_text_dm.json");
        v["data"]["key"]["remoteJid"] = Value::from("99887766554433@lid");
        v["data"]["key"]["remoteJidAlt"] = Value::from("60123456701@s.whatsapp.net");
        let m = normalize(v.to_string().as_bytes())
            .unwrap()
            .messages
            .remove(0);
        assert_eq!(m.chat.external_id, "60123456701@s.whatsapp.net");
        assert_eq!(
            m.sender,
            sender("60123456701", Some("60123456701"), Some("Kak Aminah"))
        );
    }

    #[test]
    fn image_base64_inline() {
        let m = one("messages_upsert_image_base64.json");
        assert_eq!(m.chat, group());
        assert_eq!(m.msg_type, MessageType::Media);
        assert_eq!(m.source_type, "imageMessage");
        assert_eq!(
            m.text.as_deref(),
            Some("Pintu pagar utama Blok B rosak, tak boleh kunci.")
        );
        assert_eq!(
            m.sender,
            sender("60167654302", Some("60167654302"), Some("Rajesh Security"))
        );
        let media = &m.media[0];
        assert_eq!(media.kind, EvidenceKind::Photo);
        assert_eq!(media.mime.as_deref(), Some("image/jpeg"));
        let MediaFetch::Inline { bytes } = &media.fetch else {
            panic!("{:?}", media.fetch)
        };
        assert_eq!(bytes.len(), 632);
        assert_eq!(&bytes[..3], &[0xff, 0xd8, 0xff]);
        // fileSha256 (base64) is the real SHA-256 of the decoded bytes.
        let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes));
        assert_eq!(media.sha256.as_deref(), Some(digest.as_str()));
        assert_eq!(m.reply_to, None); // contextInfo: null

        // Bad base64: message kept, media unavailable.
        let mut v = fxv("messages_upsert_image_base64.json");
        v["data"]["message"]["base64"] = Value::from("%%% not base64 %%%");
        let m = normalize(v.to_string().as_bytes())
            .unwrap()
            .messages
            .remove(0);
        assert_eq!(m.media[0].fetch, MediaFetch::Unavailable);
        assert_eq!(
            m.text.as_deref(),
            Some("Pintu pagar utama Blok B rosak, tak boleh kunci.")
        );
        // Neither base64 nor mediaUrl: asked of the gateway by message id; the encrypted `url` is not used.
        v["data"]["message"]
            .as_object_mut()
            .unwrap()
            .remove("base64");
        let m = normalize(v.to_string().as_bytes())
            .unwrap()
            .messages
            .remove(0);
        assert_eq!(
            m.media[0].fetch,
            MediaFetch::EvolutionApi {
                message_id: "3A6B7C8D9E0F1A2B3C4D".into(),
                instance: Some("ops-menara-contoh".into()),
            }
        );
        assert!(
            m.media[0].sha256.is_some(),
            "fileSha256 kept to verify the answer"
        );
        v.as_object_mut().unwrap().remove("instance");
        let m = normalize(v.to_string().as_bytes())
            .unwrap()
            .messages
            .remove(0);
        assert!(matches!(
            &m.media[0].fetch,
            MediaFetch::EvolutionApi { instance: None, .. }
        ));
    }

    #[test]
    fn media_answers() {
        let a = parse_media_answer(
            br#"{"mediaType":"imageMessage","fileName":"3A6B.jpeg","size":{"fileLength":"4"},"mimetype":"image/jpeg","base64":"/9j/4A=="}"#,
        )
        .unwrap();
        assert_eq!(
            a,
            MediaAnswer {
                bytes: vec![0xff, 0xd8, 0xff, 0xe0],
                mime: Some("image/jpeg".into()),
                filename: Some("3A6B.jpeg".into()),
            }
        );
        for bad in [
            &br#"{"mimetype":"image/jpeg"}"#[..],
            br#"{"base64":""}"#,
            br#"{"base64":"%%%"}"#,
            br#"{"base64":null}"#,
            br#"[]"#,
            b"not json",
        ] {
            assert!(
                parse_media_answer(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn voice_note_media_url() {
        let m = one("messages_upsert_audio_ptt_s3.json");
        assert_eq!(
            m.chat,
            ChatRef {
                external_id: "60123456701@s.whatsapp.net".into(),
                name: None,
                is_group: false
            }
        );
        let media = &m.media[0];
        assert_eq!(media.kind, EvidenceKind::Voice);
        assert_eq!(media.mime.as_deref(), Some("audio/ogg; codecs=opus"));
        let MediaFetch::GatewayUrl { url } = &media.fetch else {
            panic!("{:?}", media.fetch)
        };
        assert!(
            url.starts_with("http://minio:9000/evolution/")
                && url.contains("3EB0C0FFEE1234567890.oga")
        );
        assert!(!url.contains("mmg.whatsapp.net"));
        assert_eq!(m.text, None);
        assert_eq!(m.sent_at, t(1772414520));
    }

    #[test]
    fn reply_reaction_location() {
        let m = one("messages_upsert_reply_quoted.json");
        assert_eq!(m.reply_to.as_deref(), Some("3A6B7C8D9E0F1A2B3C4D"));
        assert_eq!(
            m.text.as_deref(),
            Some("Dah settle? Tolong hantar gambar selepas baiki.")
        );
        assert_eq!(
            m.sender,
            sender(
                "60198765403",
                Some("60198765403"),
                Some("Wei Ling (Manager)")
            )
        );
        assert_eq!(m.sent_at, t(1772414747));
        assert!(!m.forwarded);
        let mut v = fxv("messages_upsert_reply_quoted.json");
        v["data"]["contextInfo"]["forwardingScore"] = Value::from(3);
        assert!(normalize(v.to_string().as_bytes()).unwrap().messages[0].forwarded);

        let m = one("messages_upsert_reaction.json");
        assert_eq!(m.msg_type, MessageType::Reaction);
        assert_eq!(m.source_message_id, "3A0102030405060708AB");
        assert_eq!(
            m.reaction,
            Some(Reaction {
                target_id: "3A6B7C8D9E0F1A2B3C4D".into(),
                emoji: Some("👍".into())
            })
        );
        assert_eq!(m.text, None);
        let mut v = fxv("messages_upsert_reaction.json");
        v["data"]["message"]["reactionMessage"]["text"] = Value::from("");
        assert_eq!(
            normalize(v.to_string().as_bytes()).unwrap().messages[0]
                .reaction
                .as_ref()
                .unwrap()
                .emoji,
            None
        );

        let m = one("messages_upsert_location.json");
        assert_eq!(m.msg_type, MessageType::Location);
        assert_eq!(
            m.location,
            Some(GeoLocation {
                latitude: 3.139003,
                longitude: 101.686855,
                name: Some("Menara Contoh - Pintu B".into()),
                address: Some("Jalan Contoh 12, 50450 Kuala Lumpur".into()),
            })
        );
        assert_eq!(m.sent_at, t(1772416933));
    }

    #[test]
    fn status_update() {
        let n = normalize(&fx("messages_update_read.json")).unwrap();
        assert_eq!(n.statuses.len(), 1);
        let s = &n.statuses[0];
        assert_eq!(s.message_id, "3EB0AB12CD34EF567890"); // keyId, not the Evolution DB id
        assert_eq!(s.status, "read");
        assert_eq!(s.recipient_id.as_deref(), Some("215555123456789@lid"));
        // normalize() falls back to date_time as printed; normalize_received uses the receive time.
        assert_eq!(
            s.at,
            DateTime::parse_from_rfc3339("2026-03-02T10:05:02.300Z").unwrap()
        );
        let recv = t(1772417102);
        let n = normalize_received(&fx("messages_update_read.json"), recv).unwrap();
        assert_eq!(n.statuses[0].at, recv);
        // Same id space as the send response key.id.
        assert_eq!(
            fxv("send_text_response.json")["key"]["id"],
            "3EB0AB12CD34EF567890"
        );
    }

    #[test]
    fn edits_revokes_deletes_and_own_messages() {
        let edit = serde_json::json!({"event":"messages.edited","instance":"i","date_time":"2026-03-02T10:10:00.000Z",
            "sender":"60380001234@s.whatsapp.net",
            "data":{"key":{"remoteJid":GROUP,"fromMe":false,"id":"3AEDIT0001","participant":"60167654302@s.whatsapp.net"},
              "message":{"protocolMessage":{"key":{"remoteJid":GROUP,"fromMe":false,"id":"3A5F0E9D8C7B6A594837"},
                "type":"MESSAGE_EDIT","editedMessage":{"conversation":"Lampu rosak (4 batang)"},"timestampMs":"1772417300123"}},
              "messageTimestamp":1772417300}});
        let n = normalize(edit.to_string().as_bytes()).unwrap();
        assert_eq!(
            n.changes,
            vec![MessageChange {
                source: Source::Evolution,
                target_id: "3A5F0E9D8C7B6A594837".into(),
                chat_external_id: Some(GROUP.into()),
                at: t(1772417300),
                new_text: Some("Lampu rosak (4 batang)".into()),
            }]
        );
        // Bare protocolMessage as data, numeric REVOKE type, time from timestampMs.
        let revoke = serde_json::json!({"event":"MESSAGES_EDITED","data":{"key":{"remoteJid":GROUP,"id":"3A9999"},"type":0,"timestampMs":"1772417400500"}});
        let n = normalize(revoke.to_string().as_bytes()).unwrap();
        assert_eq!(n.changes[0].new_text, None);
        assert_eq!(n.changes[0].target_id, "3A9999");
        assert_eq!(
            n.changes[0].at,
            Utc.timestamp_millis_opt(1772417400500).unwrap()
        );
        // Other protocol message types are ignored.
        let other = serde_json::json!({"event":"messages.edited","data":{"key":{"remoteJid":GROUP,"id":"X"},"type":"EPHEMERAL_SETTING"},"date_time":"2026-03-02T10:10:00Z"});
        let n = normalize(other.to_string().as_bytes()).unwrap();
        assert!(n.changes.is_empty() && n.ignored.len() == 1);

        let del = serde_json::json!({"event":"messages.delete","date_time":"2026-03-02T10:10:00.000Z",
            "data":{"remoteJid":GROUP,"fromMe":false,"id":"3A9999AAAABBBBCCCC00","participant":"60133334405@s.whatsapp.net"}});
        let n = normalize_received(del.to_string().as_bytes(), t(1772417400)).unwrap();
        assert_eq!(
            n.changes,
            vec![MessageChange {
                source: Source::Evolution,
                target_id: "3A9999AAAABBBBCCCC00".into(),
                chat_external_id: Some(GROUP.into()),
                at: t(1772417400),
                new_text: None,
            }]
        );

        // Own message sent from the phone / by the API (send.message): from_me, sender = instance's own JID.
        let mut v = fxv("messages_upsert_text_dm.json");
        v["event"] = Value::from("send.message");
        v["data"]["key"]["fromMe"] = Value::Bool(true);
        v["data"]["pushName"] = Value::from("");
        let m = normalize(v.to_string().as_bytes())
            .unwrap()
            .messages
            .remove(0);
        assert!(m.from_me);
        assert_eq!(m.chat.external_id, "60123456701@s.whatsapp.net");
        assert_eq!(m.sender, sender("60380001234", Some("60380001234"), None));

        // status@broadcast / newsletter ignored.
        for chat in ["status@broadcast", "120363000000000001@newsletter"] {
            let mut v = fxv("messages_upsert_text_dm.json");
            v["data"]["key"]["remoteJid"] = Value::from(chat);
            let n = normalize(v.to_string().as_bytes()).unwrap();
            assert!(n.messages.is_empty() && n.ignored.len() == 1, "{chat}");
        }
        // Array data, upper-snake event name.
        let mut v = fxv("messages_upsert_text_dm.json");
        let d = v["data"].clone();
        v["data"] = Value::Array(vec![d.clone(), d]);
        v["event"] = Value::from("MESSAGES_UPSERT");
        assert_eq!(
            normalize(v.to_string().as_bytes()).unwrap().messages.len(),
            2
        );
        // Unknown events ignored.
        let n = normalize(br#"{"event":"connection.update","data":{"state":"open"}}"#).unwrap();
        assert_eq!(n.ignored, vec!["event connection.update"]);
    }

    #[test]
    fn malformed_and_wrong_shape() {
        assert!(matches!(normalize(b"{"), Err(NormalizeError::Json(_))));
        for body in [
            &b"[1]"[..],
            b"{}",
            br#"{"event":["x"]}"#,
            br#"{"event":"messages.upsert","data":"x"}"#,
            br#"{"event":"messages.upsert"}"#,
        ] {
            assert!(
                matches!(normalize(body), Err(NormalizeError::Shape { .. })),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let n = normalize(
            br#"{"event":"messages.upsert","data":{"key":{"id":"A","remoteJid":"1@g.us"}}}"#,
        )
        .unwrap();
        assert!(n.messages.is_empty() && n.ignored.len() == 1, "{n:?}");
        assert_eq!(
            decode_base64("data:image/jpeg;base64,/9j/"),
            Some(vec![0xff, 0xd8, 0xff])
        );
        assert_eq!(decode_base64("/9g"), Some(vec![0xff, 0xd8]));
        assert_eq!(decode_base64(""), None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed: u64 = 0xdead_beef_cafe_f00d;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for e in std::fs::read_dir(DIR).unwrap() {
            let p = e.unwrap().path();
            let orig = std::fs::read(&p).unwrap();
            for _ in 0..200 {
                let mut b = orig.clone();
                for _ in 0..1 + rnd() % 4 {
                    if b.is_empty() {
                        break;
                    }
                    let i = (rnd() as usize) % b.len();
                    match rnd() % 4 {
                        0 => b[i] = (rnd() & 0xff) as u8,
                        1 => {
                            b.remove(i);
                        }
                        2 => b.insert(i, b"{}[]\",:0-e.\\@="[(rnd() % 14) as usize]),
                        _ => b.truncate(i.max(1)),
                    }
                }
                let _ = normalize(&b);
            }
            let v: Value = serde_json::from_slice(&orig).unwrap();
            for repl in [
                Value::Null,
                Value::Bool(true),
                serde_json::json!(-1e308),
                serde_json::json!([]),
                serde_json::json!({}),
                serde_json::json!(""),
            ] {
                let _ = normalize(replace_leaves(&v, &repl).to_string().as_bytes());
            }
        }
    }

    fn replace_leaves(v: &Value, repl: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| {
                        (
                            k.clone(),
                            if k == "event" {
                                x.clone()
                            } else {
                                replace_leaves(x, repl)
                            },
                        )
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|x| replace_leaves(x, repl)).collect()),
            _ => repl.clone(),
        }
    }
}
