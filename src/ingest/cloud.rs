//! Meta WhatsApp Cloud API webhooks (`whatsapp.md` §1): POST payload normaliser and the GET verification handshake.
//! Pure functions: bytes in, [`Normalized`] out. Signature checking lives in [`crate::ingest::verify`].
//!
//! Mapping decisions:
//! - every `entry[] × changes[] × messages[]/statuses[]/errors[]` is visited; a `value` with none of them and any
//!   `field` other than `messages` (group lifecycle, account updates…) is listed in `Normalized::ignored`;
//! - a message that lacks `id` or a readable `timestamp` is listed in `ignored` (the raw payload is stored anyway);
//! - 1:1 chat id = `"{phone_number_id}:{user}"` where user = sender phone digits, else the BSUID (`user_id`), else
//!   `unknown`; a Groups-API message (`group_id`) uses the group id as chat id and `is_group = true`;
//! - sender id = phone digits when known, else the BSUID; display name = `contacts[].profile.name` (else
//!   `profile.username`) of the contact whose `wa_id`/`user_id` equals `from`/`from_user_id`. When nothing matches
//!   and the value carries exactly one contact and one message, that contact is the sender;
//! - unknown message types are kept as `MessageType::Other` (never dropped); `unsupported` too, its `errors[]` go to
//!   `Normalized::errors` prefixed with the message id;
//! - statuses are returned in payload order (out-of-order delivery is the store's job; see [`status_rank`]).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ingest::model::{
    normalize_phone, ChatRef, EvidenceKind, GeoLocation, InboundMessage, MediaFetch, MediaRef,
    MessageType, NormalizeError, Normalized, Reaction, SenderRef, Source, StatusUpdate,
};

const EXPECTED: &str = "WhatsApp Cloud API webhook";

/// Normalise one Cloud API webhook POST body (raw bytes, as received).
pub fn normalize(body: &[u8]) -> Result<Normalized, NormalizeError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| NormalizeError::Json(e.to_string()))?;
    let obj = root
        .as_object()
        .ok_or_else(|| shape("top level is not a JSON object"))?;
    let mut out = Normalized::default();

    let object = obj.get("object").and_then(Value::as_str);
    let entries = match obj.get("entry") {
        Some(Value::Array(a)) => a,
        Some(_) => return Err(shape("`entry` is not an array")),
        None if object.is_some() => {
            out.ignored
                .push(format!("object {}: no entry[]", object.unwrap_or_default()));
            return Ok(out);
        }
        None => return Err(shape("neither `object` nor `entry` present")),
    };
    if let Some(o) = object {
        if o != "whatsapp_business_account" {
            out.ignored.push(format!(
                "object {o}: not whatsapp_business_account ({} entries)",
                entries.len()
            ));
            return Ok(out);
        }
    }

    for (ei, entry) in entries.iter().enumerate() {
        let Some(changes) = entry.get("changes").and_then(Value::as_array) else {
            out.ignored.push(format!("entry[{ei}]: no changes[]"));
            continue;
        };
        for (ci, change) in changes.iter().enumerate() {
            let at = format!("entry[{ei}].changes[{ci}]");
            let field = change.get("field").and_then(Value::as_str).unwrap_or("");
            let Some(value) = change.get("value").filter(|v| v.is_object()) else {
                out.ignored
                    .push(format!("{at}: field `{field}` without a value object"));
                continue;
            };
            normalize_value(&at, field, entry, value, &mut out);
        }
    }
    Ok(out)
}

fn shape(detail: &str) -> NormalizeError {
    NormalizeError::Shape {
        expected: EXPECTED,
        detail: detail.to_string(),
    }
}

fn normalize_value(at: &str, field: &str, entry: &Value, value: &Value, out: &mut Normalized) {
    let messages = value.get("messages").and_then(Value::as_array);
    let statuses = value.get("statuses").and_then(Value::as_array);
    let errors = value.get("errors").and_then(Value::as_array);
    if field != "messages" && messages.is_none() && statuses.is_none() && errors.is_none() {
        out.ignored.push(describe_other_field(at, field, value));
        return;
    }
    if messages.is_none() && statuses.is_none() && errors.is_none() {
        out.ignored.push(format!(
            "{at}: messages value without messages/statuses/errors"
        ));
        return;
    }

    let metadata = value.get("metadata");
    let phone_number_id = metadata
        .and_then(|m| str_of(m, "phone_number_id"))
        .or_else(|| metadata.and_then(|m| str_of(m, "display_phone_number")))
        .or_else(|| str_of(entry, "id"))
        .unwrap_or("unknown");
    let contacts: &[Value] = value
        .get("contacts")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);

    if let Some(msgs) = messages {
        let single = msgs.len() == 1 && contacts.len() == 1;
        for (mi, m) in msgs.iter().enumerate() {
            let here = format!("{at}.messages[{mi}]");
            match normalize_message(m, phone_number_id, contacts, single, out) {
                Ok(msg) => out.messages.push(msg),
                Err(why) => out.ignored.push(format!("{here}: {why}")),
            }
        }
    }
    if let Some(sts) = statuses {
        for (si, s) in sts.iter().enumerate() {
            match normalize_status(s) {
                Ok(st) => out.statuses.push(st),
                Err(why) => out.ignored.push(format!("{at}.statuses[{si}]: {why}")),
            }
        }
    }
    if let Some(errs) = errors {
        out.errors.extend(errs.iter().map(describe_error));
    }
}

fn describe_other_field(at: &str, field: &str, value: &Value) -> String {
    let mut s = format!("{at}: field `{field}`");
    if let Some(groups) = value.get("groups").and_then(Value::as_array) {
        for g in groups {
            let kind = str_of(g, "type").unwrap_or("?");
            let id = str_of(g, "group_id").unwrap_or("?");
            s.push_str(&format!("; {kind} {id}"));
            if let Some(subj) = str_of(g, "subject") {
                s.push_str(&format!(" subject {subj:?}"));
            }
        }
    }
    s
}

fn normalize_message(
    m: &Value,
    phone_number_id: &str,
    contacts: &[Value],
    single: bool,
    out: &mut Normalized,
) -> Result<InboundMessage, String> {
    let id = str_of(m, "id")
        .filter(|s| !s.is_empty())
        .ok_or("message without `id`")?;
    let sent_at = m
        .get("timestamp")
        .and_then(unix_time)
        .ok_or("message without a readable `timestamp`")?;
    let msg_type = str_of(m, "type").unwrap_or("unknown");

    // Sender: phone from `from`, BSUID from the message (unverified field names) or the matched contact.
    let from_raw = str_of(m, "from").filter(|s| !s.trim().is_empty());
    let from_user_id = str_of(m, "from_user_id").or_else(|| str_of(m, "user_id"));
    let from_phone = from_raw.and_then(normalize_phone);
    let contact = contacts
        .iter()
        .find(|c| {
            let wa = str_of(c, "wa_id").and_then(normalize_phone);
            let uid = str_of(c, "user_id");
            (wa.is_some() && wa == from_phone)
                || (uid.is_some() && (uid == from_raw || uid == from_user_id))
        })
        // One message and one contact in the same value: that contact is the sender even when the ids are written
        // differently (no `from`, or a `wa_id` that differs from `from`, as happens for some country formats).
        .or_else(|| if single { contacts.first() } else { None });
    let phone = from_phone.clone().or_else(|| {
        contact
            .and_then(|c| str_of(c, "wa_id"))
            .and_then(normalize_phone)
    });
    let bsuid = from_user_id
        .or_else(|| contact.and_then(|c| str_of(c, "user_id")))
        .or_else(|| from_raw.filter(|f| normalize_phone(f).is_none()));
    let display_name = contact.and_then(|c| c.get("profile")).and_then(|p| {
        let ok = |s: &&str| !s.trim().is_empty();
        str_of(p, "name")
            .filter(ok)
            .or_else(|| str_of(p, "username").filter(ok))
    });
    let user_key = phone.clone().or_else(|| bsuid.map(str::to_string));
    let sender = user_key.clone().map(|external_id| SenderRef {
        external_id,
        phone: phone.clone(),
        display_name: display_name.map(str::to_string),
    });

    let chat = match str_of(m, "group_id").filter(|g| !g.is_empty()) {
        Some(g) => ChatRef {
            external_id: g.to_string(),
            name: None,
            is_group: true,
        },
        None => ChatRef {
            external_id: format!(
                "{phone_number_id}:{}",
                user_key.as_deref().unwrap_or("unknown")
            ),
            name: None,
            is_group: false,
        },
    };

    let context = m.get("context");
    let reply_to = context
        .and_then(|c| str_of(c, "id"))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let forwarded = context.is_some_and(|c| {
        c.get("forwarded").and_then(Value::as_bool).unwrap_or(false)
            || c.get("frequently_forwarded")
                .and_then(Value::as_bool)
                .unwrap_or(false)
    });

    let mut msg = InboundMessage {
        source: Source::CloudApi,
        source_message_id: id.to_string(),
        chat,
        sender,
        from_me: false,
        sent_at,
        msg_type: MessageType::Other,
        source_type: msg_type.to_string(),
        text: None,
        reply_to,
        forwarded,
        edited: false,
        deleted: false,
        media: Vec::new(),
        reaction: None,
        location: None,
    };

    let body = m.get(msg_type);
    match msg_type {
        "text" => {
            msg.msg_type = MessageType::Text;
            msg.text = body.and_then(|b| nonempty(b, "body"));
        }
        "image" | "video" | "audio" | "document" | "sticker" => {
            msg.msg_type = MessageType::Media;
            let b = body.unwrap_or(&Value::Null);
            msg.text = nonempty(b, "caption");
            let kind = match msg_type {
                "image" => EvidenceKind::Photo,
                "video" => EvidenceKind::Video,
                "audio" if b.get("voice").and_then(Value::as_bool) == Some(true) => {
                    EvidenceKind::Voice
                }
                "audio" => EvidenceKind::Audio,
                "document" => EvidenceKind::Document,
                _ => EvidenceKind::Sticker,
            };
            let fetch = match str_of(b, "id").filter(|s| !s.is_empty()) {
                Some(media_id) => MediaFetch::CloudMediaId {
                    media_id: media_id.to_string(),
                },
                None => MediaFetch::Unavailable,
            };
            msg.media.push(MediaRef {
                kind,
                mime: nonempty(b, "mime_type"),
                sha256: nonempty(b, "sha256"),
                filename: nonempty(b, "filename"),
                fetch,
            });
        }
        "location" => {
            msg.msg_type = MessageType::Location;
            msg.location = body.and_then(|b| {
                Some(GeoLocation {
                    latitude: b.get("latitude").and_then(num)?,
                    longitude: b.get("longitude").and_then(num)?,
                    name: nonempty(b, "name"),
                    address: nonempty(b, "address"),
                })
            });
        }
        "contacts" => {
            msg.msg_type = MessageType::Contact;
            msg.text = m
                .get("contacts")
                .and_then(Value::as_array)
                .map(|cs| describe_contacts(cs))
                .filter(|s| !s.is_empty());
        }
        "reaction" => {
            msg.msg_type = MessageType::Reaction;
            msg.reaction = body
                .and_then(|b| str_of(b, "message_id"))
                .map(|t| Reaction {
                    target_id: t.to_string(),
                    emoji: body.and_then(|b| nonempty(b, "emoji")),
                });
        }
        "interactive" => {
            msg.msg_type = MessageType::Text;
            let b = body.unwrap_or(&Value::Null);
            let kind = str_of(b, "type").unwrap_or("");
            let reply = b.get(kind).unwrap_or(&Value::Null);
            msg.text = nonempty(reply, "title").or_else(|| nonempty(reply, "body"));
            if !kind.is_empty() {
                msg.source_type = format!("interactive.{kind}");
            }
        }
        "button" => {
            msg.msg_type = MessageType::Text;
            msg.text = body.and_then(|b| nonempty(b, "text").or_else(|| nonempty(b, "payload")));
        }
        "system" => {
            msg.msg_type = MessageType::System;
            msg.text = body.and_then(|b| nonempty(b, "body"));
        }
        _ => {
            // `unsupported`, `order`, `request_welcome` and types added later: kept, not dropped.
            msg.text = body.and_then(|b| nonempty(b, "body").or_else(|| nonempty(b, "text")));
        }
    }

    if let Some(errs) = m.get("errors").and_then(Value::as_array) {
        let sub = body
            .and_then(|b| str_of(b, "type"))
            .map(|t| format!(" ({msg_type} {t})"))
            .unwrap_or_default();
        for e in errs {
            out.errors
                .push(format!("message {id}{sub}: {}", describe_error(e)));
        }
    }
    Ok(msg)
}

fn describe_contacts(cs: &[Value]) -> String {
    cs.iter()
        .map(|c| {
            let name = c
                .get("name")
                .and_then(|n| str_of(n, "formatted_name"))
                .unwrap_or("");
            let phones: Vec<&str> = c
                .get("phones")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| str_of(p, "phone").or_else(|| str_of(p, "wa_id")))
                        .collect()
                })
                .unwrap_or_default();
            match (name.is_empty(), phones.is_empty()) {
                (_, true) => name.to_string(),
                (true, false) => phones.join(", "),
                (false, false) => format!("{name}: {}", phones.join(", ")),
            }
        })
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

fn normalize_status(s: &Value) -> Result<StatusUpdate, String> {
    let id = str_of(s, "id")
        .filter(|x| !x.is_empty())
        .ok_or("status without `id`")?;
    let status = str_of(s, "status")
        .filter(|x| !x.is_empty())
        .ok_or("status without `status`")?;
    let at = s
        .get("timestamp")
        .and_then(unix_time)
        .ok_or("status without a readable `timestamp`")?;
    let recipient_id = str_of(s, "recipient_id")
        .or_else(|| str_of(s, "recipient_user_id"))
        .map(|r| normalize_phone(r).unwrap_or_else(|| r.to_string()));
    let errors = s
        .get("errors")
        .and_then(Value::as_array)
        .map(|es| es.iter().map(describe_error).collect())
        .unwrap_or_default();
    Ok(StatusUpdate {
        source: Source::CloudApi,
        message_id: id.to_string(),
        status: status.to_string(),
        at,
        recipient_id,
        errors,
        callback: str_of(s, "biz_opaque_callback_data").map(str::to_string),
    })
}

/// `"<code> <title>: <details>"` for a Meta error object (any part may be missing).
fn describe_error(e: &Value) -> String {
    let code = e.get("code").map(|c| match c {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let title = str_of(e, "title").or_else(|| str_of(e, "message"));
    let details = e.get("error_data").and_then(|d| str_of(d, "details"));
    let mut s = String::new();
    if let Some(c) = code {
        s.push_str(&c);
    }
    if let Some(t) = title {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(t);
    }
    if let Some(d) = details {
        s.push_str(": ");
        s.push_str(d);
    }
    if s.is_empty() {
        s = e.to_string();
    }
    s
}

/// Rank of a delivery status, for "keep the highest status per message" (`sent` < `delivered` < `read` < `played`).
/// `failed` ranks highest (terminal); unknown strings rank 0 so they never override a known status.
pub fn status_rank(status: &str) -> u8 {
    match status {
        "pending" => 1,
        "sent" => 2,
        "delivered" => 3,
        "read" => 4,
        "played" => 5,
        "failed" => 6,
        _ => 0,
    }
}

/// Why the GET verification handshake was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// No verify token configured: the source is refused (HTTP 403).
    #[error("no verify token is configured for the Cloud API webhook")]
    NotConfigured,
    /// `hub.mode` or `hub.challenge` missing (HTTP 400).
    #[error("handshake query lacks `{0}`")]
    Malformed(&'static str),
    /// Wrong mode or wrong token (HTTP 403).
    #[error("handshake refused: wrong hub.mode or hub.verify_token")]
    Forbidden,
}

impl HandshakeError {
    /// Suggested HTTP status code.
    pub fn http_status(&self) -> u16 {
        match self {
            HandshakeError::Malformed(_) => 400,
            HandshakeError::NotConfigured | HandshakeError::Forbidden => 403,
        }
    }
}

/// GET `?hub.mode=subscribe&hub.challenge=..&hub.verify_token=..`: on success returns the challenge, to be sent as the
/// raw 200 body. The token is compared in constant time.
pub fn handshake(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
    configured_token: &str,
) -> Result<String, HandshakeError> {
    if configured_token.is_empty() {
        return Err(HandshakeError::NotConfigured);
    }
    let mode = mode.ok_or(HandshakeError::Malformed("hub.mode"))?;
    let challenge = challenge
        .filter(|c| !c.is_empty())
        .ok_or(HandshakeError::Malformed("hub.challenge"))?;
    let token_ok =
        crate::ingest::verify::token_eq(configured_token, Some(token.unwrap_or(""))).is_ok();
    if mode == "subscribe" && token_ok {
        Ok(challenge.to_string())
    } else {
        Err(HandshakeError::Forbidden)
    }
}

// ---- small JSON helpers shared with the gateway normalisers ----

pub(crate) fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A string field, trimmed of nothing, `None` when absent, not a string, or empty.
pub(crate) fn nonempty(v: &Value, key: &str) -> Option<String> {
    str_of(v, key).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A JSON number or numeric string as f64.
pub(crate) fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// Unix seconds given as a number (possibly fractional), a numeric string, or a protobuf Long `{low, high}`.
pub(crate) fn unix_time(v: &Value) -> Option<DateTime<Utc>> {
    if let Some(obj) = v.as_object() {
        let low = obj.get("low")?.as_i64()?;
        let high = obj.get("high").and_then(Value::as_i64).unwrap_or(0);
        let secs = (high.checked_mul(1 << 32)?).checked_add(low & 0xffff_ffff)?;
        return DateTime::from_timestamp(secs, 0);
    }
    if let Some(i) = v.as_i64() {
        return DateTime::from_timestamp(i, 0);
    }
    if let Some(s) = v.as_str() {
        if let Ok(i) = s.trim().parse::<i64>() {
            return DateTime::from_timestamp(i, 0);
        }
    }
    let f = num(v)?;
    if !(-1e12..=1e12).contains(&f) {
        return None;
    }
    let secs = f.floor();
    let nanos = ((f - secs) * 1e9).round().clamp(0.0, 999_999_999.0) as u32;
    DateTime::from_timestamp(secs as i64, nanos)
}

/// Unix milliseconds (number or numeric string).
pub(crate) fn unix_millis(v: &Value) -> Option<DateTime<Utc>> {
    let ms = match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.abs() < 1e15).map(|f| f as i64)),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }?;
    DateTime::from_timestamp_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::test_support::t;
    use chrono::TimeZone;

    const DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/whatsapp/cloud-api/"
    );
    const PNID: &str = "109876543210987";

    fn fx(name: &str) -> Vec<u8> {
        std::fs::read(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
    fn norm(name: &str) -> Normalized {
        normalize(&fx(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
    fn one(name: &str) -> InboundMessage {
        let n = norm(name);
        assert_eq!(n.messages.len(), 1, "{name}: {n:?}");
        assert!(
            n.statuses.is_empty() && n.changes.is_empty() && n.ignored.is_empty(),
            "{name}: {n:?}"
        );
        n.messages.into_iter().next().unwrap()
    }
    fn kl(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn check_sender(m: &InboundMessage, phone: &str, name: Option<&str>) {
        let s = m.sender.as_ref().unwrap();
        assert_eq!(s.external_id, phone);
        assert_eq!(s.phone.as_deref(), Some(phone));
        assert_eq!(s.display_name.as_deref(), name);
        assert_eq!(
            m.chat,
            ChatRef {
                external_id: format!("{PNID}:{phone}"),
                name: None,
                is_group: false
            }
        );
        assert_eq!(m.source, Source::CloudApi);
        assert!(!m.from_me && !m.edited && !m.deleted);
    }

    #[test]
    fn every_fixture_normalises() {
        let mut n = 0;
        for e in std::fs::read_dir(DIR).unwrap() {
            let p = e.unwrap().path();
            if p.extension().and_then(|x| x.to_str()) == Some("json") {
                let r = normalize(&std::fs::read(&p).unwrap());
                let r = r.unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                assert!(
                    !r.messages.is_empty()
                        || !r.statuses.is_empty()
                        || !r.errors.is_empty()
                        || !r.ignored.is_empty(),
                    "{} produced nothing",
                    p.display()
                );
                n += 1;
            }
        }
        assert_eq!(n, 26);
        let sig = normalize(&fx("signature/body.json")).unwrap();
        let m = &sig.messages[0];
        assert_eq!(
            m.text.as_deref(),
            Some("Selamat pagi 👍 Tandas L3 siap. Café lantai 1 <tutup> 50% @ 10pg")
        );
        assert_eq!(
            normalize(&fx("signature/body_reserialized_utf8.json")).unwrap(),
            sig
        );
    }

    #[test]
    fn text() {
        let m = one("text.json");
        assert_eq!(
            m.source_message_id,
            "wamid.HBgLNjAxMjM0NTY3MDEVAgASGBQzQTdGMkM5QjFENEU4QTZDMEI1RAA="
        );
        check_sender(&m, "60123456701", Some("Aminah Yusof"));
        assert_eq!(m.sent_at, kl("2026-03-02T09:15:32+08:00"));
        assert_eq!(m.msg_type, MessageType::Text);
        assert_eq!(m.source_type, "text");
        assert_eq!(
            m.text.as_deref(),
            Some("Tandas lelaki tingkat 3 dah siap cuci ✅\nSabun tangan habis, perlu top-up 🧴")
        );
        assert!(m.media.is_empty() && m.reply_to.is_none() && !m.forwarded);
    }

    #[test]
    fn media_types() {
        let m = one("image_caption.json");
        check_sender(&m, "60167654302", Some("Rajesh Kumar"));
        assert_eq!(m.sent_at, t(1772414165));
        assert_eq!(m.msg_type, MessageType::Media);
        assert_eq!(
            m.text.as_deref(),
            Some("Pintu pagar utama Blok B rosak, tak boleh kunci. Tolong check segera.")
        );
        assert_eq!(
            m.media,
            vec![MediaRef {
                kind: EvidenceKind::Photo,
                mime: Some("image/jpeg".into()),
                sha256: Some(
                    "458ea204e25cc6a190d73612e59d4b0d95283de9e8fd332102cf7989674b9c37".into()
                ),
                filename: None,
                fetch: MediaFetch::CloudMediaId {
                    media_id: "1473958201846623".into()
                },
            }]
        );

        let m = one("voice_note.json");
        assert_eq!(m.media[0].kind, EvidenceKind::Voice);
        assert_eq!(m.media[0].mime.as_deref(), Some("audio/ogg; codecs=opus"));
        assert_eq!(
            m.media[0].fetch,
            MediaFetch::CloudMediaId {
                media_id: "918273645501928".into()
            }
        );
        assert_eq!(m.text, None);
        assert_eq!(m.sent_at, t(1772414260));

        let mut audio: Value = serde_json::from_slice(&fx("voice_note.json")).unwrap();
        audio["entry"][0]["changes"][0]["value"]["messages"][0]["audio"]["voice"] =
            Value::Bool(false);
        let n = normalize(audio.to_string().as_bytes()).unwrap();
        assert_eq!(n.messages[0].media[0].kind, EvidenceKind::Audio);

        let m = one("video.json");
        assert_eq!(m.media[0].kind, EvidenceKind::Video);
        assert_eq!(m.media[0].mime.as_deref(), Some("video/mp4"));
        assert_eq!(m.text.as_deref(), Some("Kebocoran paip bawah sinki pantri"));
        assert_eq!(
            m.media[0].fetch,
            MediaFetch::CloudMediaId {
                media_id: "1102938475610293".into()
            }
        );

        let m = one("document.json");
        check_sender(&m, "601123456704", Some("Muthu Raman"));
        assert_eq!(m.media[0].kind, EvidenceKind::Document);
        assert_eq!(
            m.media[0].filename.as_deref(),
            Some("Quotation_Aircond_Mac2026.pdf")
        );
        assert_eq!(m.media[0].mime.as_deref(), Some("application/pdf"));
        assert_eq!(m.text.as_deref(), Some("Quotation servis aircond Mac 2026"));
        assert_eq!(m.sent_at, kl("2026-03-02T14:30:00+08:00"));

        let m = one("sticker.json");
        assert_eq!(m.msg_type, MessageType::Media);
        assert_eq!(m.media[0].kind, EvidenceKind::Sticker);
        assert_eq!(m.media[0].mime.as_deref(), Some("image/webp"));
        assert_eq!(
            m.media[0].fetch,
            MediaFetch::CloudMediaId {
                media_id: "771829304857162".into()
            }
        );
        assert_eq!(m.text, None);
    }

    #[test]
    fn location_contacts_reactions() {
        let m = one("location.json");
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

        let m = one("reaction.json");
        check_sender(&m, "60198765403", Some("Tan Wei Ling"));
        assert_eq!(m.msg_type, MessageType::Reaction);
        assert_eq!(
            m.reaction,
            Some(Reaction {
                target_id: "wamid.HBgLNjAxNjc2NTQzMDIVAgARGBIwRjFFMkQzQzRCNUE2OTc4ODcA".into(),
                emoji: Some("👍".into())
            })
        );
        assert_eq!(m.sent_at, t(1772414747));
        let m = one("reaction_removed.json");
        assert_eq!(m.reaction.as_ref().unwrap().emoji, None);
        assert_eq!(
            m.reaction.unwrap().target_id,
            "wamid.HBgLNjAxNjc2NTQzMDIVAgARGBIwRjFFMkQzQzRCNUE2OTc4ODcA"
        );

        // vCard-like `contacts` message type (no fixture; documented shape).
        let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":"109876543210987"},
            "contacts":[{"profile":{"name":"Aminah Yusof"},"wa_id":"60123456701"}],
            "messages":[{"from":"60123456701","id":"wamid.C1","timestamp":"1772414132","type":"contacts",
              "contacts":[{"name":{"formatted_name":"Pak Ali Plumber"},"phones":[{"phone":"+60 12-111 2222","type":"CELL"}]}]}]}}]}]}"#;
        let m = normalize(body.as_bytes()).unwrap().messages.remove(0);
        assert_eq!(m.msg_type, MessageType::Contact);
        assert_eq!(m.text.as_deref(), Some("Pak Ali Plumber: +60 12-111 2222"));
    }

    #[test]
    fn replies_forwards_interactive_button() {
        let m = one("reply_with_context.json");
        assert_eq!(
            m.reply_to.as_deref(),
            Some("wamid.HBgLNjAxOTg3NjU0MDMVAgARGBJBMUIyQzNENEU1RjZBN0I4QzkA")
        );
        assert!(!m.forwarded);
        assert_eq!(m.sent_at, t(1772414411));

        let m = one("forwarded_text.json");
        assert!(m.forwarded);
        assert_eq!(m.reply_to, None);
        check_sender(&m, "60133334405", Some("Farid Hakim"));
        let m = one("frequently_forwarded_text.json");
        assert!(m.forwarded);
        assert_eq!(
            m.text.as_deref(),
            Some("Tips keselamatan kebakaran - sila baca.")
        );

        let m = one("interactive_button_reply.json");
        assert_eq!(m.msg_type, MessageType::Text);
        assert_eq!(m.text.as_deref(), Some("Selesai"));
        assert_eq!(m.source_type, "interactive.button_reply");
        assert_eq!(
            m.reply_to.as_deref(),
            Some("wamid.HBgLNjAxNjc2NTQzMDIVAgARGBIwRjFFMkQzQzRCNUE2OTc4ODcA")
        );
        let m = one("interactive_list_reply.json");
        assert_eq!(m.text.as_deref(), Some("Tinggi"));
        assert_eq!(m.source_type, "interactive.list_reply");

        let m = one("template_quick_reply_button.json");
        assert_eq!(m.msg_type, MessageType::Text);
        assert_eq!(m.source_type, "button");
        assert_eq!(m.text.as_deref(), Some("Terima"));
        check_sender(&m, "60123456701", Some("Aminah Yusof"));
    }

    #[test]
    fn system_and_unsupported() {
        let m = one("system_user_changed_number.json");
        assert_eq!(m.msg_type, MessageType::System);
        assert_eq!(
            m.text.as_deref(),
            Some("User Farid Hakim changed from 60133334405 to 60133334499")
        );
        check_sender(&m, "60133334405", None); // no contacts[] in this webhook

        let n = norm("unsupported.json");
        let m = &n.messages[0];
        assert_eq!(m.msg_type, MessageType::Other);
        assert_eq!(m.source_type, "unsupported");
        assert_eq!(m.text, None);
        check_sender(m, "60198765403", Some("Tan Wei Ling"));
        assert_eq!(n.errors.len(), 1);
        assert!(
            n.errors[0].contains("131051") && n.errors[0].contains("poll_creation"),
            "{:?}",
            n.errors
        );
        assert!(n.errors[0].contains(&m.source_message_id));

        // An unknown type is kept as Other too.
        let body = String::from_utf8(fx("text.json"))
            .unwrap()
            .replace(r#""type": "text""#, r#""type": "order""#);
        let n = normalize(body.as_bytes()).unwrap();
        assert_eq!(n.messages[0].msg_type, MessageType::Other);
        assert_eq!(n.messages[0].source_type, "order");
    }

    #[test]
    fn batches_and_groups() {
        let n = norm("batch_two_messages.json");
        assert_eq!(n.messages.len(), 2);
        // Payload order kept (not time order); names matched by wa_id.
        check_sender(&n.messages[0], "60123456701", Some("Aminah Yusof"));
        check_sender(&n.messages[1], "60167654302", Some("Rajesh Kumar"));
        assert_eq!(n.messages[0].sent_at, t(1772414520));
        assert_eq!(n.messages[1].sent_at, t(1772414411));
        assert!(n.messages[1].sent_at < n.messages[0].sent_at);

        // Contacts in reverse order still match by wa_id, not index.
        let mut v: Value = serde_json::from_slice(&fx("batch_two_messages.json")).unwrap();
        v["entry"][0]["changes"][0]["value"]["contacts"]
            .as_array_mut()
            .unwrap()
            .reverse();
        let n2 = normalize(v.to_string().as_bytes()).unwrap();
        assert_eq!(n2.messages, n.messages);

        let n = norm("batch_message_and_status_two_changes.json");
        assert_eq!(n.messages.len(), 1);
        assert_eq!(n.statuses.len(), 1);
        assert_eq!(
            n.messages[0].source_message_id,
            "wamid.HBgLNjAxMjM0NTY3MDEVAgASGBQzQjAwMDAwMDAwMDAwMDAwMDBDMwA="
        );
        assert_eq!(n.statuses[0].status, "sent");
        assert_eq!(n.statuses[0].recipient_id.as_deref(), Some("60198765403"));

        let m = one("group_text.json");
        let gid = "Y2FwaV9ncm91cDo2MDM4MDAwMTIzNDoxMjAzNjM0MDk5ODg3NzY2NTUZD";
        assert_eq!(
            m.chat,
            ChatRef {
                external_id: gid.into(),
                name: None,
                is_group: true
            }
        );
        let s = m.sender.unwrap();
        assert_eq!(
            (s.external_id.as_str(), s.phone.as_deref()),
            ("60123456701", Some("60123456701"))
        );
        assert_eq!(s.display_name.as_deref(), Some("Aminah Yusof"));
        assert_eq!(m.sent_at, t(1772417100));

        let n = norm("group_status_sent.json");
        assert_eq!(n.statuses[0].recipient_id.as_deref(), Some(gid));
        assert_eq!(n.statuses[0].status, "sent");
        assert_eq!(n.statuses[0].at, t(1772417100));

        let n = norm("group_lifecycle_create.json");
        assert!(n.messages.is_empty() && n.statuses.is_empty());
        assert_eq!(n.ignored.len(), 1);
        assert!(
            n.ignored[0].contains("group_lifecycle_update") && n.ignored[0].contains(gid),
            "{:?}",
            n.ignored
        );
    }

    #[test]
    fn statuses_and_errors() {
        let n = norm("status_sent.json");
        assert_eq!(
            n.statuses,
            vec![StatusUpdate {
                source: Source::CloudApi,
                message_id: "wamid.HBgLNjAxOTg3NjU0MDMVAgARGBJBMUIyQzNENEU1RjZBN0I4QzkA".into(),
                status: "sent".into(),
                at: kl("2026-03-02T09:15:32+08:00"),
                recipient_id: Some("60198765403".into()),
                errors: vec![],
                callback: None,
            }]
        );

        let n = norm("statuses_read_and_delivered_out_of_order.json");
        assert_eq!(n.statuses.len(), 2);
        assert_eq!(
            (n.statuses[0].status.as_str(), n.statuses[0].at),
            ("read", t(1772414260))
        );
        assert_eq!(
            (n.statuses[1].status.as_str(), n.statuses[1].at),
            ("delivered", t(1772414165))
        );
        assert_eq!(n.statuses[0].message_id, n.statuses[1].message_id);
        let best = n
            .statuses
            .iter()
            .max_by_key(|s| status_rank(&s.status))
            .unwrap();
        assert_eq!(best.status, "read");
        assert!(status_rank("played") > status_rank("read") && status_rank("whatever") == 0);

        let n = norm("status_failed_131047.json");
        let s = &n.statuses[0];
        assert_eq!(s.status, "failed");
        assert_eq!(s.recipient_id.as_deref(), Some("601123456704"));
        assert_eq!(s.errors.len(), 1);
        assert!(
            s.errors[0].starts_with("131047 Re-engagement message: Message failed"),
            "{:?}",
            s.errors
        );

        let n = norm("value_errors.json");
        assert!(n.messages.is_empty() && n.statuses.is_empty());
        assert_eq!(n.errors, vec!["131000 Something went wrong: Unable to process the request due to an internal error."]);
    }

    #[test]
    fn bsuid_and_missing_from() {
        // Username user: no `from`, no `wa_id`, only a BSUID.
        let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":"109876543210987"},
            "contacts":[{"profile":{"name":"","username":"aminah.cleaner"},"user_id":"MY.1502576394655843"}],
            "messages":[{"id":"wamid.B1","timestamp":"1772414132","type":"text","text":{"body":"hi"}}]}}]}]}"#;
        let m = normalize(body.as_bytes()).unwrap().messages.remove(0);
        let s = m.sender.unwrap();
        assert_eq!(s.external_id, "MY.1502576394655843");
        assert_eq!(s.phone, None);
        assert_eq!(s.display_name.as_deref(), Some("aminah.cleaner"));
        assert_eq!(m.chat.external_id, "109876543210987:MY.1502576394655843");

        // Phone plus BSUID, `from` with a `+`.
        let body = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":"109876543210987"},
            "contacts":[{"profile":{"name":"Farid"},"wa_id":"60133334405","user_id":"MY.77"},{"profile":{"name":"X"},"wa_id":"1"}],
            "messages":[{"from":"+60133334405","id":"wamid.B2","timestamp":1772414132,"type":"text","text":{"body":"hi"}}]}}]}]}"#;
        let m = normalize(body.as_bytes()).unwrap().messages.remove(0);
        assert_eq!(
            m.sender.as_ref().unwrap().phone.as_deref(),
            Some("60133334405")
        );
        assert_eq!(
            m.sender.as_ref().unwrap().display_name.as_deref(),
            Some("Farid")
        );
        assert_eq!(m.chat.external_id, "109876543210987:60133334405");

        // Nothing identifies the sender at all: kept, sender None.
        let body = r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":"109876543210987"},
            "messages":[{"id":"wamid.B3","timestamp":"1772414132","type":"text","text":{"body":"?"}}]}}]}]}"#;
        let m = normalize(body.as_bytes()).unwrap().messages.remove(0);
        assert_eq!(m.sender, None);
        assert_eq!(m.chat.external_id, "109876543210987:unknown");
    }

    #[test]
    fn tolerant_of_unknowns_and_broken_parts() {
        let n = normalize(br#"{"object":"page","entry":[{"id":"1","changes":[]}]}"#).unwrap();
        assert_eq!(n.ignored.len(), 1);
        let n = normalize(br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"account_update","value":{"event":"X"}}]},{"id":"2"}]}"#).unwrap();
        assert_eq!(n.ignored.len(), 2);
        // Message without id / bad timestamp listed in ignored; good sibling kept.
        let body = r#"{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
            "metadata":{"phone_number_id":"1"},
            "messages":[{"from":"60123456701","timestamp":"1772414132","type":"text","text":{"body":"a"}},
                        {"from":"60123456701","id":"w2","timestamp":"yesterday","type":"text"},
                        {"from":"60123456701","id":"w3","timestamp":"1772414132","type":"text","text":{"body":"c"}}],
            "statuses":[{"id":"s1"}]}}]}]}"#;
        let n = normalize(body.as_bytes()).unwrap();
        assert_eq!(n.messages.len(), 1);
        assert_eq!(n.messages[0].source_message_id, "w3");
        assert_eq!(n.ignored.len(), 3, "{:?}", n.ignored);
    }

    #[test]
    fn malformed_and_wrong_shape() {
        assert!(matches!(
            normalize(b"{not json"),
            Err(NormalizeError::Json(_))
        ));
        assert!(matches!(normalize(b""), Err(NormalizeError::Json(_))));
        for body in [
            &b"[]"[..],
            b"\"x\"",
            b"42",
            b"null",
            b"{}",
            br#"{"entry":{}}"#,
            br#"{"object":"whatsapp_business_account","entry":"x"}"#,
        ] {
            assert!(
                matches!(normalize(body), Err(NormalizeError::Shape { .. })),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let names: Vec<_> = std::fs::read_dir(DIR)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().and_then(|x| x.to_str()) == Some("json"))
            .collect();
        let mut parsed = 0;
        for p in &names {
            let orig = std::fs::read(p).unwrap();
            for round in 0..200 {
                let mut b = orig.clone();
                let edits = 1 + (rnd() % 4) as usize;
                for _ in 0..edits {
                    if b.is_empty() {
                        break;
                    }
                    let i = (rnd() as usize) % b.len();
                    match rnd() % 4 {
                        0 => b[i] = (rnd() & 0xff) as u8,
                        1 => {
                            b.remove(i);
                        }
                        2 => b.insert(i, b"{}[]\",:0-e.\\"[(rnd() % 12) as usize]),
                        _ => b.truncate(i.max(1)),
                    }
                }
                if round % 50 == 0 {
                    b = (0..(rnd() % 300)).map(|_| (rnd() & 0xff) as u8).collect();
                }
                if normalize(&b).is_ok() {
                    parsed += 1;
                }
            }
            // Structural mutations that keep valid JSON: swap every scalar type.
            let v: Value = serde_json::from_slice(&orig).unwrap();
            for repl in [
                Value::Null,
                Value::Bool(true),
                serde_json::json!(-1e300),
                serde_json::json!([]),
                serde_json::json!({}),
                serde_json::json!(""),
            ] {
                let _ = normalize(replace_leaves(&v, &repl).to_string().as_bytes());
            }
        }
        assert!(parsed > 0);
    }

    fn replace_leaves(v: &Value, repl: &Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), replace_leaves(x, repl)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.iter().map(|x| replace_leaves(x, repl)).collect()),
            _ => repl.clone(),
        }
    }

    #[test]
    fn handshake_cases_file() {
        let v: Value = serde_json::from_slice(&fx("verification/handshake_cases.json")).unwrap();
        let configured = v["configured_verify_token"].as_str().unwrap();
        let mut n = 0;
        for case in v["cases"].as_array().unwrap() {
            let req = case["request"].as_str().unwrap();
            let query = req.split_once('?').unwrap().1.split(' ').next().unwrap();
            let get = |k: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.split_once('=').filter(|(a, _)| *a == k).map(|(_, b)| b))
            };
            let r = handshake(
                get("hub.mode"),
                get("hub.verify_token"),
                get("hub.challenge"),
                configured,
            );
            let status = case["expect_status"].as_u64().unwrap() as u16;
            match r {
                Ok(body) => {
                    assert_eq!(status, 200, "{}", case["name"]);
                    assert_eq!(Some(body.as_str()), case["expect_body"].as_str());
                }
                Err(e) => assert_eq!(e.http_status(), status, "{}: {e}", case["name"]),
            }
            n += 1;
        }
        assert_eq!(n, 4);
        assert_eq!(
            handshake(Some("subscribe"), Some(""), Some("1"), ""),
            Err(HandshakeError::NotConfigured)
        );
        assert_eq!(
            handshake(Some("subscribe"), None, Some("1"), configured),
            Err(HandshakeError::Forbidden)
        );
        assert_eq!(
            handshake(None, Some(configured), Some("1"), configured),
            Err(HandshakeError::Malformed("hub.mode"))
        );
    }

    #[test]
    fn time_helpers() {
        assert_eq!(unix_time(&Value::from("1772414132")), Some(t(1772414132)));
        assert_eq!(unix_time(&Value::from(1772414132)), Some(t(1772414132)));
        assert_eq!(
            unix_time(&serde_json::json!(1772416933.25)),
            Some(Utc.timestamp_opt(1772416933, 250_000_000).unwrap())
        );
        assert_eq!(
            unix_time(&serde_json::json!({"low": 1772414132, "high": 0, "unsigned": false})),
            Some(t(1772414132))
        );
        assert_eq!(unix_time(&serde_json::json!(1e300)), None);
        assert_eq!(unix_time(&Value::from(i64::MAX)), None);
        assert_eq!(unix_time(&Value::from("abc")), None);
        assert_eq!(
            unix_millis(&Value::from(1772414132611_i64)),
            Some(Utc.timestamp_opt(1772414132, 611_000_000).unwrap())
        );
    }
}
