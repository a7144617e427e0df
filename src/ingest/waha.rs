//! WAHA (devlikeapro/waha) webhook normaliser (`whatsapp.md` §2). Pure: bytes in, [`Normalized`] out.
//! Authentication (`X-Webhook-Hmac`) lives in [`crate::ingest::verify::waha_hmac`].
//!
//! Mapping decisions:
//! - `source_message_id` is the **raw WhatsApp message id** (`_data.key.id` for NOWEB/GOWS, `_data.id.id` for WEBJS,
//!   else the id part of the serialized `"{fromMe}_{chat}_{id}[_{participant}]"` payload id). That is the id that
//!   `message.edited` (`editedMessageId`), `message.revoked` (`revokedMessageId`), NOWEB quotes (`replyTo.id`),
//!   reactions (`reaction.messageId`, reduced the same way), acks, and Evolution's `key.id` use, so all of them match.
//!   The raw id is random per message (20+ hex chars); duplicates across chats are not expected in practice.
//! - chat id = the gateway JID with any device suffix stripped and `@s.whatsapp.net` written as `@c.us`
//!   (`…@g.us` groups, `…@c.us` people). For a 1:1 chat whose primary id is a `@lid`, the phone JID is used when the
//!   payload carries one (`_data.key.remoteJidAlt` / `senderPn`), otherwise the `@lid`.
//! - sender: group → `participant` / `author` (or `_data` equivalents); 1:1 → `from`; own messages → `me`.
//!   `@lid` senders are mapped to a phone when any sender field in the payload is a phone JID
//!   (`_data.key.participantAlt`, `participantPn`, `senderPn`, …). `SenderRef.external_id` = phone digits when known,
//!   else the `…@lid` JID. Display name = `_data.pushName` (NOWEB/GOWS) or `_data.notifyName` (WEBJS). A lid the
//!   payload does not map is looked up later through the gateway's lids API ([`parse_lid_answer`], `crate::gateway`).
//! - own API-sent echoes (`fromMe && source == "api"` on `message.any`) go to `ignored`; own messages typed on the
//!   phone are kept with `from_me = true`.
//! - `status@broadcast`, `…@broadcast` and `…@newsletter` chats are ignored.
//! - media: `media.url` → [`MediaFetch::GatewayUrl`] (fetch it at once with `X-Api-Key`; WAHA deletes files after
//!   180 s by default); `media: null` or `media.error` set → [`MediaFetch::Unavailable`].

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ingest::cloud::{nonempty, num, str_of, unix_millis, unix_time};
use crate::ingest::model::{
    normalize_phone, ChatRef, EvidenceKind, GeoLocation, InboundMessage, MediaFetch, MediaRef,
    MessageChange, MessageType, NormalizeError, Normalized, Reaction, SenderRef, Source,
    StatusUpdate,
};

const EXPECTED: &str = "WAHA webhook";

/// The envelope `id` (`evt_…`), for redelivery dedupe. `None` for older WAHA versions without it or unparsable bodies.
pub fn event_id(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    v.get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Normalise one WAHA webhook POST body.
pub fn normalize(body: &[u8]) -> Result<Normalized, NormalizeError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| NormalizeError::Json(e.to_string()))?;
    if !root.is_object() {
        return Err(shape("top level is not a JSON object"));
    }
    let event = str_of(&root, "event").ok_or_else(|| shape("no `event` string"))?;
    let payload = root.get("payload").unwrap_or(&Value::Null);
    let env_time = root.get("timestamp").and_then(unix_millis);
    let me = Me::from(root.get("me"));
    let mut out = Normalized::default();

    let is_message_event = matches!(
        event,
        "message"
            | "message.any"
            | "message.reaction"
            | "message.ack"
            | "message.ack.group"
            | "message.edited"
            | "message.revoked"
    );
    if is_message_event && !payload.is_object() {
        return Err(shape(&format!("`{event}` event without a payload object")));
    }
    let ctx = Ctx { me: &me, env_time };
    let res = match event {
        "message" | "message.any" => message(&ctx, payload, &mut out),
        "message.reaction" => reaction(&ctx, payload, &mut out),
        "message.ack" | "message.ack.group" => ack(&ctx, payload, &mut out),
        "message.edited" => edited(&ctx, payload, &mut out),
        "message.revoked" => revoked(&ctx, payload, &mut out),
        _ => {
            out.ignored.push(describe_other(event, payload));
            Ok(())
        }
    };
    if let Err(why) = res {
        out.ignored.push(format!("{event}: {why}"));
    }
    Ok(out)
}

fn shape(detail: &str) -> NormalizeError {
    NormalizeError::Shape {
        expected: EXPECTED,
        detail: detail.to_string(),
    }
}

struct Me {
    jid: Option<String>,
    lid: Option<String>,
    name: Option<String>,
}

impl Me {
    fn from(v: Option<&Value>) -> Me {
        let v = v.unwrap_or(&Value::Null);
        Me {
            jid: str_of(v, "id").map(|j| canonical_jid(j, true)),
            lid: str_of(v, "lid").map(|j| canonical_jid(j, true)),
            name: nonempty(v, "pushName"),
        }
    }
    fn is_me(&self, jid: &str) -> bool {
        let j = canonical_jid(jid, true);
        self.jid.as_deref() == Some(j.as_str()) || self.lid.as_deref() == Some(j.as_str())
    }
    fn sender(&self) -> Option<SenderRef> {
        let jid = self.jid.as_deref()?;
        let phone = jid_phone(jid);
        Some(SenderRef {
            external_id: phone.clone().unwrap_or_else(|| jid.to_string()),
            phone,
            display_name: self.name.clone(),
        })
    }
}

struct Ctx<'a> {
    me: &'a Me,
    env_time: Option<DateTime<Utc>>,
}

impl Ctx<'_> {
    fn time(&self, p: &Value) -> Option<DateTime<Utc>> {
        let data = p.get("_data").unwrap_or(&Value::Null);
        p.get("timestamp")
            .and_then(unix_time)
            .or_else(|| data.get("messageTimestamp").and_then(unix_time))
            .or_else(|| data.get("t").and_then(unix_time))
            .or(self.env_time)
    }

    /// The chat JID of a payload (group if either end is a group; else the end that is not us).
    fn chat_jid(&self, p: &Value, from_me: bool) -> Option<String> {
        let data = p.get("_data").unwrap_or(&Value::Null);
        let key = data.get("key").unwrap_or(&Value::Null);
        let (a, b) = if from_me {
            (str_of(p, "to"), str_of(p, "from"))
        } else {
            (str_of(p, "from"), str_of(p, "to"))
        };
        let cands: Vec<&str> = [
            a,
            b,
            str_of(key, "remoteJid"),
            data.get("id").and_then(|i| str_of(i, "remote")),
        ]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect();
        if let Some(g) = cands.iter().find(|c| is_group_jid(c)) {
            return Some(canonical_jid(g, true));
        }
        let primary = cands.iter().find(|c| !self.me.is_me(c)).or(cands.first())?;
        // 1:1 with a hidden id: prefer the phone JID of the same party when the payload gives it.
        if !is_phone_jid(primary) {
            let alts = [
                str_of(key, "remoteJidAlt"),
                str_of(key, "senderPn"),
                str_of(data, "senderPn"),
            ];
            if let Some(pn) = alts.into_iter().flatten().find(|j| is_phone_jid(j)) {
                return Some(canonical_jid(pn, true));
            }
        }
        Some(canonical_jid(primary, true))
    }

    /// The sender of a payload, `@lid` mapped to a phone where any sender field carries the phone JID.
    fn sender(&self, p: &Value, chat: &str, from_me: bool) -> Option<SenderRef> {
        let data = p.get("_data").unwrap_or(&Value::Null);
        let key = data.get("key").unwrap_or(&Value::Null);
        let name = nonempty(data, "pushName")
            .or_else(|| nonempty(data, "notifyName"))
            .or_else(|| nonempty(p, "notifyName"))
            .or_else(|| nonempty(p, "pushName"));
        if from_me {
            let mut s = self.me.sender()?;
            if s.display_name.is_none() {
                s.display_name = name;
            }
            return Some(s);
        }
        let cands: Vec<&str> = if is_group_jid(chat) {
            vec![
                str_of(p, "participant"),
                str_of(p, "author"),
                str_of(key, "participant"),
                data.get("id").and_then(|i| str_of(i, "participant")),
                str_of(data, "author"),
                str_of(data, "participant"),
                str_of(key, "participantAlt"),
                str_of(key, "participantPn"),
                str_of(data, "participantAlt"),
                str_of(data, "participantPn"),
                str_of(key, "senderPn"),
            ]
        } else {
            vec![
                str_of(p, "from"),
                str_of(key, "remoteJid"),
                str_of(key, "remoteJidAlt"),
                str_of(key, "senderPn"),
                str_of(data, "senderPn"),
                str_of(data, "from"),
            ]
        }
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty() && !is_group_jid(s))
        .collect();
        sender_from_candidates(&cands, name)
    }
}

/// WAHA's answer to `GET /api/{session}/lids/{lid}` (`whatsapp.md` §2.5): `{"lid": "…@lid", "pn": "…@c.us" | null}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LidAnswer {
    /// The lid the answer is about, canonical (`<digits>@lid`, device suffix stripped), when the gateway echoed it.
    pub lid: Option<String>,
    /// Phone digits when the gateway knows the number (`pn` as a phone JID with or without device suffix, or bare
    /// digits); `None` for `pn: null` / missing / anything that is not a phone.
    pub phone: Option<String>,
}

/// Parses the lids API response body.
pub fn parse_lid_answer(body: &[u8]) -> Result<LidAnswer, NormalizeError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| NormalizeError::Json(e.to_string()))?;
    if !v.is_object() {
        return Err(NormalizeError::Shape {
            expected: "WAHA lids answer",
            detail: "top level is not a JSON object".into(),
        });
    }
    let lid = str_of(&v, "lid")
        .filter(|s| s.contains('@'))
        .map(|l| canonical_jid(l, true));
    let phone = str_of(&v, "pn").and_then(|pn| {
        if pn.contains('@') {
            jid_phone(pn)
        } else {
            normalize_phone(pn)
        }
    });
    Ok(LidAnswer { lid, phone })
}

/// Build a sender from JIDs that all denote the same person: phone from the first phone JID, id = phone or the
/// first JID (device suffix stripped).
pub(crate) fn sender_from_candidates(cands: &[&str], name: Option<String>) -> Option<SenderRef> {
    let first = cands.first()?;
    let phone = cands.iter().find_map(|j| jid_phone(j));
    Some(SenderRef {
        external_id: phone.clone().unwrap_or_else(|| canonical_jid(first, true)),
        phone,
        display_name: name,
    })
}

fn raw_id_of(p: &Value) -> Option<String> {
    let data = p.get("_data").unwrap_or(&Value::Null);
    data.get("key")
        .and_then(|k| str_of(k, "id"))
        .or_else(|| data.get("id").and_then(|i| str_of(i, "id")))
        .or_else(|| str_of(p, "id").map(raw_message_id))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn message(ctx: &Ctx, p: &Value, out: &mut Normalized) -> Result<(), String> {
    let from_me = p.get("fromMe").and_then(Value::as_bool).unwrap_or(false);
    let id = raw_id_of(p).ok_or("message without an id")?;
    if from_me && str_of(p, "source") == Some("api") {
        out.ignored.push(format!(
            "message {id}: own API-sent echo (fromMe, source=api)"
        ));
        return Ok(());
    }
    let chat = ctx
        .chat_jid(p, from_me)
        .ok_or("message without a chat id")?;
    if is_ignored_chat(&chat) {
        out.ignored.push(format!(
            "message {id}: chat {chat} (status/newsletter/broadcast)"
        ));
        return Ok(());
    }
    let sent_at = ctx.time(p).ok_or("message without a readable timestamp")?;
    let sender = ctx.sender(p, &chat, from_me);
    let data = p.get("_data").unwrap_or(&Value::Null);
    let content = data.get("message").and_then(content_of);
    let (ckey, cval) = content.unwrap_or(("", &Value::Null));
    let webjs_type = str_of(data, "type");
    let source_type = if !ckey.is_empty() {
        ckey.to_string()
    } else {
        webjs_type.unwrap_or("message").to_string()
    };

    let text = nonempty(p, "body")
        .or_else(|| text_of_content(ckey, cval))
        .filter(|s| !s.is_empty());
    let ctx_info = cval.get("contextInfo").unwrap_or(&Value::Null);
    let reply_to = p
        .get("replyTo")
        .and_then(|r| str_of(r, "id"))
        .map(raw_message_id)
        .or_else(|| str_of(ctx_info, "stanzaId"))
        .or_else(|| str_of(data, "quotedStanzaID"))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let forwarded = is_forwarded(ctx_info)
        || data
            .get("isForwarded")
            .and_then(Value::as_bool)
            .unwrap_or(false)
        || p.get("isForwarded")
            .and_then(Value::as_bool)
            .unwrap_or(false);

    let mut msg = InboundMessage {
        source: Source::Waha,
        source_message_id: id,
        chat: ChatRef {
            is_group: is_group_jid(&chat),
            external_id: chat,
            name: None,
        },
        sender,
        from_me,
        sent_at,
        msg_type: MessageType::Other,
        source_type,
        text,
        reply_to,
        forwarded,
        edited: false,
        deleted: false,
        media: Vec::new(),
        reaction: None,
        location: None,
    };

    let has_media = p.get("hasMedia").and_then(Value::as_bool).unwrap_or(false)
        || p.get("media").is_some_and(Value::is_object)
        || is_media_key(ckey)
        || matches!(
            webjs_type,
            Some("image" | "video" | "ptt" | "audio" | "document" | "sticker")
        );
    let location = p.get("location").filter(|l| l.is_object()).and_then(|l| {
        Some(GeoLocation {
            latitude: l.get("latitude").and_then(num)?,
            longitude: l.get("longitude").and_then(num)?,
            name: nonempty(l, "name").or_else(|| nonempty(l, "description")),
            address: nonempty(l, "address"),
        })
    });
    let vcards: Vec<&str> = p
        .get("vCards")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();

    if has_media {
        msg.msg_type = MessageType::Media;
        let media = p.get("media").filter(|m| m.is_object());
        let url = media
            .and_then(|m| nonempty(m, "url"))
            .or_else(|| nonempty(p, "mediaUrl"))
            .filter(|_| {
                media
                    .and_then(|m| m.get("error"))
                    .is_none_or(|e| e.is_null() || e == &Value::Bool(false))
            });
        let mime = media
            .and_then(|m| nonempty(m, "mimetype"))
            .or_else(|| nonempty(cval, "mimetype"));
        let ptt = cval
            .get("ptt")
            .and_then(Value::as_bool)
            .or(match webjs_type {
                Some("ptt") => Some(true),
                Some("audio") => Some(false),
                _ => None,
            });
        let kind_key = if ckey.is_empty() {
            webjs_kind_key(webjs_type)
        } else {
            ckey
        };
        msg.media.push(MediaRef {
            kind: media_kind(kind_key, mime.as_deref(), ptt),
            mime,
            sha256: nonempty(cval, "fileSha256"),
            filename: media
                .and_then(|m| nonempty(m, "filename"))
                .or_else(|| nonempty(cval, "fileName")),
            fetch: match url {
                Some(url) => MediaFetch::GatewayUrl { url },
                None => MediaFetch::Unavailable,
            },
        });
    } else if let Some(loc) = location.or_else(|| location_of_content(ckey, cval)) {
        msg.msg_type = MessageType::Location;
        msg.location = Some(loc);
    } else if !vcards.is_empty()
        || matches!(webjs_type, Some("vcard" | "multi_vcard"))
        || is_contact_key(ckey)
    {
        msg.msg_type = MessageType::Contact;
        if msg
            .text
            .as_deref()
            .is_none_or(|t| t.starts_with("BEGIN:VCARD"))
        {
            let names = vcards
                .iter()
                .filter_map(|v| vcard_summary(v))
                .collect::<Vec<_>>()
                .join("\n");
            msg.text = (!names.is_empty())
                .then_some(names)
                .or_else(|| contact_names(ckey, cval));
        }
    } else if ckey == "reactionMessage" {
        msg.msg_type = MessageType::Reaction;
        msg.text = None;
        msg.reaction = cval
            .get("key")
            .and_then(|k| str_of(k, "id"))
            .map(|t| Reaction {
                target_id: t.to_string(),
                emoji: nonempty(cval, "text"),
            });
    } else if webjs_type == Some("revoked") {
        msg.msg_type = MessageType::Deleted;
        msg.deleted = true;
    } else if matches!(
        webjs_type,
        Some("e2e_notification" | "notification_template" | "gp2" | "notification" | "call_log")
    ) {
        msg.msg_type = MessageType::System;
    } else if msg.text.is_some()
        && !matches!(
            ckey,
            "pollCreationMessage" | "pollCreationMessageV2" | "pollCreationMessageV3"
        )
    {
        msg.msg_type = MessageType::Text;
    }
    out.messages.push(msg);
    Ok(())
}

fn reaction(ctx: &Ctx, p: &Value, out: &mut Normalized) -> Result<(), String> {
    let from_me = p.get("fromMe").and_then(Value::as_bool).unwrap_or(false);
    let id = raw_id_of(p).ok_or("reaction without an id")?;
    let chat = ctx
        .chat_jid(p, from_me)
        .ok_or("reaction without a chat id")?;
    if is_ignored_chat(&chat) {
        out.ignored.push(format!(
            "reaction {id}: chat {chat} (status/newsletter/broadcast)"
        ));
        return Ok(());
    }
    let r = p
        .get("reaction")
        .ok_or("reaction event without `reaction`")?;
    let target = str_of(r, "messageId")
        .map(raw_message_id)
        .filter(|s| !s.is_empty())
        .ok_or("reaction without messageId")?;
    let sent_at = ctx.time(p).ok_or("reaction without a readable timestamp")?;
    out.messages.push(InboundMessage {
        source: Source::Waha,
        source_message_id: id,
        sender: ctx.sender(p, &chat, from_me),
        chat: ChatRef {
            is_group: is_group_jid(&chat),
            external_id: chat,
            name: None,
        },
        from_me,
        sent_at,
        msg_type: MessageType::Reaction,
        source_type: "reaction".to_string(),
        text: None,
        reply_to: None,
        forwarded: false,
        edited: false,
        deleted: false,
        media: Vec::new(),
        reaction: Some(Reaction {
            target_id: target.to_string(),
            emoji: nonempty(r, "text"),
        }),
        location: None,
    });
    Ok(())
}

fn ack(ctx: &Ctx, p: &Value, out: &mut Normalized) -> Result<(), String> {
    let id = raw_id_of(p).ok_or("ack without an id")?;
    let status = match (str_of(p, "ackName"), p.get("ack").and_then(Value::as_i64)) {
        (Some(name), _) if !name.is_empty() => ack_status(name),
        (_, Some(n)) => ack_number(n),
        _ => return Err("ack without ack/ackName".to_string()),
    };
    let at = ctx.time(p).ok_or("ack without a readable timestamp")?;
    let from_me = p.get("fromMe").and_then(Value::as_bool).unwrap_or(true);
    let recipient = str_of(p, "participant")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| ctx.chat_jid(p, from_me))
        .map(|j| jid_phone(&j).unwrap_or_else(|| canonical_jid(&j, true)));
    out.statuses.push(StatusUpdate {
        source: Source::Waha,
        message_id: id,
        status,
        at,
        recipient_id: recipient,
        errors: Vec::new(),
        callback: None,
    });
    Ok(())
}

fn ack_status(name: &str) -> String {
    match name.to_ascii_uppercase().as_str() {
        "ERROR" => "failed".to_string(),
        "PENDING" => "pending".to_string(),
        "SERVER" => "sent".to_string(),
        "DEVICE" => "delivered".to_string(),
        "READ" => "read".to_string(),
        "PLAYED" => "played".to_string(),
        _ => name.to_ascii_lowercase(),
    }
}

fn ack_number(n: i64) -> String {
    match n {
        -1 => "failed",
        0 => "pending",
        1 => "sent",
        2 => "delivered",
        3 => "read",
        4 => "played",
        _ => return format!("ack{n}"),
    }
    .to_string()
}

fn edited(ctx: &Ctx, p: &Value, out: &mut Normalized) -> Result<(), String> {
    let from_me = p.get("fromMe").and_then(Value::as_bool).unwrap_or(false);
    let target = str_of(p, "editedMessageId")
        .map(raw_message_id)
        .filter(|s| !s.is_empty())
        .ok_or("message.edited without editedMessageId")?;
    let chat = ctx.chat_jid(p, from_me);
    if chat.as_deref().is_some_and(is_ignored_chat) {
        out.ignored
            .push(format!("edit of {target}: status/newsletter chat"));
        return Ok(());
    }
    let at = ctx
        .time(p)
        .ok_or("message.edited without a readable timestamp")?;
    out.changes.push(MessageChange {
        source: Source::Waha,
        target_id: target.to_string(),
        chat_external_id: chat,
        at,
        new_text: Some(str_of(p, "body").unwrap_or("").to_string()),
    });
    Ok(())
}

fn revoked(ctx: &Ctx, p: &Value, out: &mut Normalized) -> Result<(), String> {
    let after = p.get("after").filter(|a| a.is_object());
    let before = p.get("before").filter(|b| b.is_object());
    let target = str_of(p, "revokedMessageId")
        .map(raw_message_id)
        .or_else(|| before.and_then(|b| str_of(b, "id")).map(raw_message_id))
        .filter(|s| !s.is_empty())
        .ok_or("message.revoked without revokedMessageId")?;
    let side = after.or(before).unwrap_or(&Value::Null);
    let from_me = side.get("fromMe").and_then(Value::as_bool).unwrap_or(false);
    let chat = ctx.chat_jid(side, from_me);
    if chat.as_deref().is_some_and(is_ignored_chat) {
        out.ignored
            .push(format!("revoke of {target}: status/newsletter chat"));
        return Ok(());
    }
    let at = after
        .and_then(|a| ctx.time(a))
        .or(ctx.env_time)
        .ok_or("message.revoked without a readable timestamp")?;
    out.changes.push(MessageChange {
        source: Source::Waha,
        target_id: target.to_string(),
        chat_external_id: chat,
        at,
        new_text: None,
    });
    Ok(())
}

fn describe_other(event: &str, p: &Value) -> String {
    let mut s = format!("event {event}");
    if let Some(st) = str_of(p, "status") {
        s.push_str(&format!(": {st}"));
    }
    if let Some(t) = str_of(p, "type") {
        s.push_str(&format!(": {t}"));
    }
    if let Some(g) = p.get("group").and_then(|g| str_of(g, "id")) {
        s.push_str(&format!(" {g}"));
    }
    if let Some(ps) = p.get("participants").and_then(Value::as_array) {
        let ids: Vec<&str> = ps
            .iter()
            .filter_map(|x| str_of(x, "id").or_else(|| x.as_str()))
            .collect();
        s.push_str(&format!(" ({})", ids.join(", ")));
    }
    s
}

fn vcard_summary(v: &str) -> Option<String> {
    let mut name = None;
    let mut tels = Vec::new();
    for line in v.lines() {
        let line = line.trim();
        if let Some(n) = line.strip_prefix("FN:") {
            name = Some(n.trim().to_string());
        } else if line.to_ascii_uppercase().starts_with("TEL") {
            if let Some((_, t)) = line.rsplit_once(':') {
                tels.push(t.trim().to_string());
            }
        }
    }
    match (name, tels.is_empty()) {
        (Some(n), true) => Some(n),
        (Some(n), false) => Some(format!("{n}: {}", tels.join(", "))),
        (None, false) => Some(tels.join(", ")),
        (None, true) => None,
    }
}

// ---- JID and Baileys-content helpers (shared with the Evolution normaliser) ----

/// Strip a device / agent suffix from a JID (`6012…:12@s.whatsapp.net` → `6012…@s.whatsapp.net`), lowercase the
/// server, and with `c_us` write `@s.whatsapp.net` as `@c.us` (WAHA's form). Strings without `@` are returned trimmed.
pub fn canonical_jid(jid: &str, c_us: bool) -> String {
    let jid = jid.trim();
    let Some((user, server)) = jid.rsplit_once('@') else {
        return jid.to_string();
    };
    let user = user.split(':').next().unwrap_or(user);
    let server = server.to_ascii_lowercase();
    let server = if c_us && server == "s.whatsapp.net" {
        "c.us".to_string()
    } else {
        server
    };
    // Baileys "user_agent" form: only for user JIDs; group ids like `6012-1600000000` keep their shape.
    let user = if server == "c.us" || server == "s.whatsapp.net" || server == "lid" {
        user.split('_').next().unwrap_or(user)
    } else {
        user
    };
    format!("{user}@{server}")
}

/// Phone digits of a phone JID (`…@c.us` / `…@s.whatsapp.net`), device suffix ignored. `None` for `@lid`, groups…
pub fn jid_phone(jid: &str) -> Option<String> {
    let (user, server) = jid.trim().rsplit_once('@')?;
    let server = server.to_ascii_lowercase();
    if server != "c.us" && server != "s.whatsapp.net" {
        return None;
    }
    let user = user.split(':').next()?.split('_').next()?;
    normalize_phone(user)
}

pub fn is_phone_jid(jid: &str) -> bool {
    jid_phone(jid).is_some()
}

pub fn is_group_jid(jid: &str) -> bool {
    jid.trim().to_ascii_lowercase().ends_with("@g.us")
}

/// `status@broadcast`, broadcast lists and channels (`@newsletter`): never turned into messages.
pub fn is_ignored_chat(jid: &str) -> bool {
    let j = jid.trim().to_ascii_lowercase();
    j.ends_with("@broadcast") || j.ends_with("@newsletter")
}

/// The raw WhatsApp id inside a WAHA serialized id `"{fromMe}_{chatId}_{id}[_{participant}]"`; any other string is
/// returned unchanged (it already is a raw id).
pub fn raw_message_id(id: &str) -> &str {
    let id = id.trim();
    if id.starts_with("true_") || id.starts_with("false_") {
        if let Some(raw) = id.split('_').nth(2).filter(|s| !s.is_empty()) {
            return raw;
        }
    }
    id
}

const WRAPPERS: [&str; 7] = [
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
    "editedMessage",
    "deviceSentMessage",
];
const NOT_CONTENT: [&str; 6] = [
    "messageContextInfo",
    "senderKeyDistributionMessage",
    "base64",
    "mediaUrl",
    "speechToText",
    "contextInfo",
];

/// The single content entry of a Baileys `message` object (wrappers such as `ephemeralMessage.message` unwrapped):
/// `("conversation", "text")`, `("imageMessage", {...})`, … Bounded unwrapping depth.
pub(crate) fn content_of(message: &Value) -> Option<(&str, &Value)> {
    let mut m = message;
    for _ in 0..4 {
        let obj = m.as_object()?;
        let (k, v) = obj
            .iter()
            .find(|(k, v)| !NOT_CONTENT.contains(&k.as_str()) && !v.is_null())?;
        if WRAPPERS.contains(&k.as_str()) {
            if let Some(inner) = v.get("message").filter(|i| i.is_object()) {
                m = inner;
                continue;
            }
        }
        return Some((k.as_str(), v));
    }
    None
}

/// As [`content_of`], but when `hint` (Evolution's `messageType`) names a key present in `message`, that entry wins.
pub(crate) fn content_with_hint<'a>(
    message: &'a Value,
    hint: Option<&str>,
) -> Option<(&'a str, &'a Value)> {
    if let Some((k, v)) = hint.and_then(|h| message.as_object()?.get_key_value(h)) {
        if !v.is_null() && !NOT_CONTENT.contains(&k.as_str()) {
            if WRAPPERS.contains(&k.as_str()) {
                if let Some(inner) = v.get("message").filter(|i| i.is_object()) {
                    return content_of(inner);
                }
            }
            return Some((k.as_str(), v));
        }
    }
    content_of(message)
}

/// Text or caption of a Baileys content entry.
pub(crate) fn text_of_content(key: &str, v: &Value) -> Option<String> {
    match key {
        "conversation" => v.as_str().filter(|s| !s.is_empty()).map(str::to_string),
        "extendedTextMessage" => nonempty(v, "text"),
        "pollCreationMessage" | "pollCreationMessageV2" | "pollCreationMessageV3" => {
            nonempty(v, "name")
        }
        "buttonsResponseMessage" => nonempty(v, "selectedDisplayText"),
        "listResponseMessage" => nonempty(v, "title"),
        "templateButtonReplyMessage" => nonempty(v, "selectedDisplayText"),
        _ => nonempty(v, "caption").or_else(|| nonempty(v, "text")),
    }
}

pub(crate) fn is_media_key(key: &str) -> bool {
    matches!(
        key,
        "imageMessage"
            | "videoMessage"
            | "audioMessage"
            | "documentMessage"
            | "stickerMessage"
            | "ptvMessage"
    )
}

pub(crate) fn is_contact_key(key: &str) -> bool {
    matches!(key, "contactMessage" | "contactsArrayMessage")
}

pub(crate) fn contact_names(key: &str, v: &Value) -> Option<String> {
    let names: Vec<String> = match key {
        "contactMessage" => nonempty(v, "displayName").into_iter().collect(),
        "contactsArrayMessage" => v
            .get("contacts")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .filter_map(|c| nonempty(c, "displayName"))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    (!names.is_empty()).then(|| names.join("\n"))
}

pub(crate) fn location_of_content(key: &str, v: &Value) -> Option<GeoLocation> {
    if key != "locationMessage" && key != "liveLocationMessage" {
        return None;
    }
    Some(GeoLocation {
        latitude: v.get("degreesLatitude").and_then(num)?,
        longitude: v.get("degreesLongitude").and_then(num)?,
        name: nonempty(v, "name"),
        address: nonempty(v, "address"),
    })
}

pub(crate) fn is_forwarded(ctx_info: &Value) -> bool {
    ctx_info
        .get("isForwarded")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || ctx_info
            .get("forwardingScore")
            .and_then(num)
            .is_some_and(|s| s > 0.0)
}

fn webjs_kind_key(t: Option<&str>) -> &'static str {
    match t {
        Some("image") => "imageMessage",
        Some("video") => "videoMessage",
        Some("ptt" | "audio") => "audioMessage",
        Some("document") => "documentMessage",
        Some("sticker") => "stickerMessage",
        _ => "",
    }
}

/// Evidence kind from the Baileys content key, falling back to the MIME type. `ptt` = voice-note flag when known;
/// Ogg/Opus audio without the flag is taken as a voice note (that is what WhatsApp records).
pub(crate) fn media_kind(key: &str, mime: Option<&str>, ptt: Option<bool>) -> EvidenceKind {
    let mime = mime.unwrap_or("").to_ascii_lowercase();
    let audio = |ptt: Option<bool>| match ptt {
        Some(true) => EvidenceKind::Voice,
        Some(false) => EvidenceKind::Audio,
        None if mime.starts_with("audio/ogg") => EvidenceKind::Voice,
        None => EvidenceKind::Audio,
    };
    match key {
        "imageMessage" => EvidenceKind::Photo,
        "videoMessage" | "ptvMessage" => EvidenceKind::Video,
        "audioMessage" => audio(ptt),
        "documentMessage" => EvidenceKind::Document,
        "stickerMessage" => EvidenceKind::Sticker,
        _ if mime == "image/webp" => EvidenceKind::Sticker,
        _ if mime.starts_with("image/") => EvidenceKind::Photo,
        _ if mime.starts_with("video/") => EvidenceKind::Video,
        _ if mime.starts_with("audio/") => audio(ptt),
        _ if mime.starts_with("application/") || mime.starts_with("text/") => {
            EvidenceKind::Document
        }
        _ => EvidenceKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::test_support::{group, sender, t, GROUP};
    use chrono::TimeZone;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/whatsapp/waha/");

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
            n.ignored.is_empty() && n.changes.is_empty() && n.statuses.is_empty(),
            "{name}: {n:?}"
        );
        n.messages.into_iter().next().unwrap()
    }

    #[test]
    fn every_fixture_normalises() {
        let mut n = 0;
        for e in std::fs::read_dir(DIR).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            if name.ends_with(".json") && !name.starts_with("send_") {
                let r = normalize(&std::fs::read(&p).unwrap())
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                let total = r.messages.len() + r.statuses.len() + r.changes.len() + r.ignored.len();
                assert_eq!(total, 1, "{name}: {r:?}");
                assert!(
                    event_id(&std::fs::read(&p).unwrap())
                        .unwrap()
                        .starts_with("evt_"),
                    "{name}"
                );
                n += 1;
            }
        }
        assert_eq!(n, 15);
        let m = normalize(&fx("hmac/body.json")).unwrap().messages.remove(0);
        assert_eq!(m.text.as_deref(), Some("Tandas L3 siap ✅"));
        // Outbound request fixtures are not webhook events.
        assert!(matches!(
            normalize(&fx("send_text_request.json")),
            Err(NormalizeError::Shape { .. })
        ));
    }

    #[test]
    fn text_dm() {
        let m = one("message_text_dm.json");
        assert_eq!(m.source, Source::Waha);
        assert_eq!(m.source_message_id, "3EB0A1B2C3D4E5F6A7B8");
        assert_eq!(
            m.chat,
            ChatRef {
                external_id: "60123456701@c.us".into(),
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
        assert_eq!(m.msg_type, MessageType::Text);
        assert_eq!(m.source_type, "conversation");
        assert_eq!(
            m.text.as_deref(),
            Some("Tandas lelaki tingkat 3 dah siap cuci ✅")
        );
        assert!(!m.from_me && !m.forwarded && m.reply_to.is_none() && m.media.is_empty());
        assert_eq!(
            event_id(&fx("message_text_dm.json")).as_deref(),
            Some("evt_01jnd3q0m8a7x9k2v4p6r8t0y1")
        );
    }

    #[test]
    fn group_lid_sender_mapped_to_phone() {
        let m = one("message_group_text_lid.json");
        assert_eq!(m.chat, group());
        assert_eq!(m.source_message_id, "3A5F0E9D8C7B6A594837");
        assert_eq!(
            m.sender,
            sender("60167654302", Some("60167654302"), Some("Rajesh Security"))
        );
        assert_eq!(m.sent_at, t(1772414165));
        assert_eq!(
            m.text.as_deref(),
            Some("Lampu koridor Blok B tingkat 2 rosak (3 batang). Dah report ke vendor?")
        );

        // Without participantAlt the @lid stays the id, phone unknown; device suffix stripped.
        let mut v: Value = serde_json::from_slice(&fx("message_group_text_lid.json")).unwrap();
        v["payload"]["participant"] = Value::from("215555123456789:12@lid");
        v["payload"]["_data"]["key"]
            .as_object_mut()
            .unwrap()
            .remove("participantAlt");
        v["payload"]["_data"]["key"]["participant"] = Value::from("215555123456789:12@lid");
        let m = normalize(v.to_string().as_bytes())
            .unwrap()
            .messages
            .remove(0);
        assert_eq!(
            m.sender,
            sender("215555123456789@lid", None, Some("Rajesh Security"))
        );
    }

    #[test]
    fn lid_answers() {
        let a = |s: &str| parse_lid_answer(s.as_bytes()).unwrap();
        assert_eq!(
            a(r#"{"lid":"215555123456789@lid","pn":"60167654302@c.us"}"#),
            LidAnswer {
                lid: Some("215555123456789@lid".into()),
                phone: Some("60167654302".into())
            }
        );
        // Device suffixes on either side are stripped; @s.whatsapp.net and bare digits are phones too.
        assert_eq!(
            a(r#"{"lid":"215555123456789:12@lid","pn":"60167654302:12@s.whatsapp.net"}"#),
            LidAnswer {
                lid: Some("215555123456789@lid".into()),
                phone: Some("60167654302".into())
            }
        );
        assert_eq!(
            a(r#"{"lid":"215555123456789@lid","pn":"+60 16-765 4302"}"#)
                .phone
                .as_deref(),
            Some("60167654302")
        );
        // Unknown: pn null, missing, empty, or not a phone.
        for body in [
            r#"{"lid":"215555123456789@lid","pn":null}"#,
            r#"{"lid":"215555123456789@lid"}"#,
            r#"{"lid":"215555123456789@lid","pn":""}"#,
            r#"{"lid":"215555123456789@lid","pn":"215555123456789@lid"}"#,
            r#"{"lid":"215555123456789@lid","pn":7}"#,
        ] {
            assert_eq!(
                a(body),
                LidAnswer {
                    lid: Some("215555123456789@lid".into()),
                    phone: None
                },
                "{body}"
            );
        }
        assert_eq!(a(r#"{"pn":null}"#).lid, None);
        assert!(matches!(
            parse_lid_answer(b"[]"),
            Err(NormalizeError::Shape { .. })
        ));
        assert!(matches!(
            parse_lid_answer(b"<html>"),
            Err(NormalizeError::Json(_))
        ));
    }

    #[test]
    fn group_webjs() {
        let m = one("message_group_text_webjs.json");
        assert_eq!(m.chat, group());
        assert_eq!(m.source_message_id, "3A5F0E9D8C7B6A594838");
        assert_eq!(
            m.sender,
            sender(
                "60198765403",
                Some("60198765403"),
                Some("Wei Ling (Manager)")
            )
        );
        assert_eq!(m.source_type, "chat");
        assert_eq!(m.msg_type, MessageType::Text);
        assert_eq!(m.sent_at, t(1772414260));
        assert_eq!(
            raw_message_id("false_120363401234567890@g.us_3A5F0E9D8C7B6A594838_60198765403@c.us"),
            "3A5F0E9D8C7B6A594838"
        );
    }

    #[test]
    fn media_messages() {
        let m = one("message_image.json");
        assert_eq!(m.msg_type, MessageType::Media);
        assert_eq!(m.source_message_id, "3A6B7C8D9E0F1A2B3C4D");
        assert_eq!(
            m.text.as_deref(),
            Some("Pintu pagar utama Blok B rosak, tak boleh kunci.")
        );
        assert_eq!(
            m.sender,
            sender("60167654302", Some("60167654302"), Some("Rajesh Security"))
        );
        assert_eq!(
            m.media,
            vec![MediaRef {
                kind: EvidenceKind::Photo,
                mime: Some("image/jpeg".into()),
                sha256: None,
                filename: None,
                fetch: MediaFetch::GatewayUrl {
                    url: "http://waha:3000/api/files/false_120363401234567890@g.us_3A6B7C8D9E0F1A2B3C4D.jpeg".into()
                },
            }]
        );

        let m = one("message_image_not_downloaded.json");
        assert_eq!(m.msg_type, MessageType::Media);
        assert_eq!(m.media[0].fetch, MediaFetch::Unavailable);
        assert_eq!(m.media[0].kind, EvidenceKind::Photo);
        assert_eq!(m.media[0].mime.as_deref(), Some("image/jpeg"));
        assert_eq!(
            m.text.as_deref(),
            Some("Pintu pagar utama Blok B rosak, tak boleh kunci.")
        );

        let m = one("message_voice_ptt.json");
        assert_eq!(m.media[0].kind, EvidenceKind::Voice);
        assert_eq!(m.media[0].mime.as_deref(), Some("audio/ogg; codecs=opus"));
        assert_eq!(m.text, None);
        assert_eq!(m.sent_at, t(1772414520));
        assert!(
            matches!(&m.media[0].fetch, MediaFetch::GatewayUrl { url } if url.ends_with("3EB0C0FFEE1234567890.oga"))
        );

        let m = one("message_document.json");
        assert_eq!(m.media[0].kind, EvidenceKind::Document);
        assert_eq!(
            m.media[0].filename.as_deref(),
            Some("Quotation_Aircond_Mac2026.pdf")
        );
        assert_eq!(m.media[0].mime.as_deref(), Some("application/pdf"));
        assert_eq!(
            m.sender,
            sender("601123456704", Some("601123456704"), Some("Muthu Aircond"))
        );
        assert_eq!(m.text.as_deref(), Some("Quotation servis aircond Mac 2026"));

        // media.error set → unavailable.
        let mut v: Value = serde_json::from_slice(&fx("message_image.json")).unwrap();
        v["payload"]["media"]["error"] = serde_json::json!({"message": "download failed"});
        let m = normalize(v.to_string().as_bytes())
            .unwrap()
            .messages
            .remove(0);
        assert_eq!(m.media[0].fetch, MediaFetch::Unavailable);
    }

    #[test]
    fn reply_and_reactions() {
        let m = one("message_reply_quoted.json");
        assert_eq!(m.reply_to.as_deref(), Some("3A6B7C8D9E0F1A2B3C4D"));
        assert_eq!(
            m.sender,
            sender(
                "60198765403",
                Some("60198765403"),
                Some("Wei Ling (Manager)")
            )
        );
        assert_eq!(m.source_type, "extendedTextMessage");
        assert_eq!(m.sent_at, t(1772414747));
        // Serialized replyTo id reduces to the same raw id.
        let mut v: Value = serde_json::from_slice(&fx("message_reply_quoted.json")).unwrap();
        v["payload"]["replyTo"]["id"] =
            Value::from("false_120363401234567890@g.us_3A6B7C8D9E0F1A2B3C4D_60167654302@c.us");
        assert_eq!(
            normalize(v.to_string().as_bytes()).unwrap().messages[0]
                .reply_to
                .as_deref(),
            Some("3A6B7C8D9E0F1A2B3C4D")
        );

        let m = one("message_reaction.json");
        assert_eq!(m.msg_type, MessageType::Reaction);
        assert_eq!(m.source_message_id, "3A0102030405060708AB");
        assert_eq!(m.chat, group());
        assert_eq!(
            m.reaction,
            Some(Reaction {
                target_id: "3A6B7C8D9E0F1A2B3C4D".into(),
                emoji: Some("👍".into())
            })
        );
        assert_eq!(m.sender, sender("60198765403", Some("60198765403"), None));
        assert_eq!(m.sent_at, t(1772416933));
        let m = one("message_reaction_removed.json");
        assert_eq!(
            m.reaction,
            Some(Reaction {
                target_id: "3A6B7C8D9E0F1A2B3C4D".into(),
                emoji: None
            })
        );
    }

    #[test]
    fn ack_edit_revoke() {
        let n = norm("message_ack_group.json");
        assert_eq!(
            n.statuses,
            vec![StatusUpdate {
                source: Source::Waha,
                message_id: "3EB0AB12CD34EF567890".into(),
                status: "read".into(),
                at: Utc.timestamp_millis_opt(1772417200000).unwrap(),
                recipient_id: Some("215555123456789@lid".into()),
                errors: vec![],
                callback: None,
            }]
        );

        let n = norm("message_edited.json");
        assert_eq!(
            n.changes,
            vec![MessageChange {
                source: Source::Waha,
                target_id: "3A5F0E9D8C7B6A594837".into(),
                chat_external_id: Some(GROUP.into()),
                at: t(1772417300),
                new_text: Some("Lampu koridor Blok B tingkat 2 rosak (4 batang, bukan 3).".into()),
            }]
        );
        // The edit targets the id under which the original (message_group_text_lid.json) was stored.
        assert_eq!(
            one("message_group_text_lid.json").source_message_id,
            n.changes[0].target_id
        );

        let n = norm("message_revoked.json");
        assert_eq!(
            n.changes,
            vec![MessageChange {
                source: Source::Waha,
                target_id: "3A9999AAAABBBBCCCC00".into(),
                chat_external_id: Some(GROUP.into()),
                at: t(1772417400),
                new_text: None,
            }]
        );
    }

    #[test]
    fn lifecycle_events_ignored() {
        let n = norm("group_v2_participants_join.json");
        assert!(n.messages.is_empty());
        assert!(
            n.ignored[0].contains("group.v2.participants")
                && n.ignored[0].contains("60133334405@c.us"),
            "{:?}",
            n.ignored
        );
        let n = norm("session_status_working.json");
        assert_eq!(n.ignored, vec!["event session.status: WORKING"]);
    }

    #[test]
    fn own_messages_echoes_and_broadcasts() {
        let base: Value = serde_json::from_slice(&fx("message_text_dm.json")).unwrap();
        // Own message typed on the phone (message.any, source app): kept, from_me, chat = the other party.
        let mut v = base.clone();
        v["event"] = Value::from("message.any");
        v["payload"]["fromMe"] = Value::Bool(true);
        v["payload"]["from"] = Value::from("60380001234@c.us");
        v["payload"]["to"] = Value::from("60123456701@c.us");
        v["payload"]["_data"]["pushName"] = Value::Null;
        let m = normalize(v.to_string().as_bytes())
            .unwrap()
            .messages
            .remove(0);
        assert!(m.from_me);
        assert_eq!(m.chat.external_id, "60123456701@c.us");
        assert_eq!(
            m.sender,
            sender("60380001234", Some("60380001234"), Some("Tapak Ops"))
        );
        // Own API echo: ignored.
        v["payload"]["source"] = Value::from("api");
        let n = normalize(v.to_string().as_bytes()).unwrap();
        assert!(n.messages.is_empty() && n.ignored.len() == 1, "{n:?}");
        // Status broadcast and newsletter: ignored.
        for chat in ["status@broadcast", "120363000000000001@newsletter"] {
            let mut v = base.clone();
            v["payload"]["from"] = Value::from(chat);
            v["payload"]["_data"]["key"]["remoteJid"] = Value::from(chat);
            let n = normalize(v.to_string().as_bytes()).unwrap();
            assert!(
                n.messages.is_empty() && n.ignored.len() == 1,
                "{chat}: {n:?}"
            );
        }
        // A 1:1 chat addressed by @lid with the phone given as remoteJidAlt uses the phone JID.
        let mut v = base.clone();
        v["payload"]["from"] = Value::from("99887766554433@lid");
        v["payload"]["_data"]["key"]["remoteJid"] = Value::from("99887766554433@lid");
        v["payload"]["_data"]["key"]["remoteJidAlt"] = Value::from("60123456701@s.whatsapp.net");
        let m = normalize(v.to_string().as_bytes())
            .unwrap()
            .messages
            .remove(0);
        assert_eq!(m.chat.external_id, "60123456701@c.us");
        assert_eq!(m.sender.unwrap().phone.as_deref(), Some("60123456701"));
    }

    #[test]
    fn jid_helpers() {
        assert_eq!(
            canonical_jid("60123456701:12@s.whatsapp.net", true),
            "60123456701@c.us"
        );
        assert_eq!(
            canonical_jid("60123456701:12@s.whatsapp.net", false),
            "60123456701@s.whatsapp.net"
        );
        assert_eq!(
            canonical_jid("215555123456789:3@lid", true),
            "215555123456789@lid"
        );
        assert_eq!(
            canonical_jid("60123456-1600000000@g.us", true),
            "60123456-1600000000@g.us"
        );
        assert_eq!(
            jid_phone("60123456701:12@c.us").as_deref(),
            Some("60123456701")
        );
        assert_eq!(jid_phone("215555123456789@lid"), None);
        assert_eq!(jid_phone(GROUP), None);
        assert!(
            is_ignored_chat("status@broadcast")
                && is_ignored_chat("1@newsletter")
                && !is_ignored_chat(GROUP)
        );
        assert_eq!(raw_message_id("3EB0ABC"), "3EB0ABC");
        assert_eq!(raw_message_id("true_60123456701@c.us_3EB0ABC"), "3EB0ABC");
        assert_eq!(raw_message_id("false_"), "false_");
        assert_eq!(
            media_kind("", Some("image/webp"), None),
            EvidenceKind::Sticker
        );
        assert_eq!(
            media_kind("", Some("audio/mpeg"), None),
            EvidenceKind::Audio
        );
        assert_eq!(
            media_kind("audioMessage", Some("audio/ogg; codecs=opus"), Some(false)),
            EvidenceKind::Audio
        );
    }

    #[test]
    fn malformed_and_wrong_shape() {
        assert!(matches!(
            normalize(b"{\"event\":"),
            Err(NormalizeError::Json(_))
        ));
        assert!(matches!(
            normalize(&[0xff, 0xfe]),
            Err(NormalizeError::Json(_))
        ));
        for body in [
            &b"[]"[..],
            b"{}",
            br#"{"event":1}"#,
            br#"{"event":"message","payload":[]}"#,
            br#"{"event":"message.ack"}"#,
        ] {
            assert!(
                matches!(normalize(body), Err(NormalizeError::Shape { .. })),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // Message payload missing id/timestamp → listed in ignored, not an error.
        let n =
            normalize(br#"{"event":"message","payload":{"from":"60123456701@c.us","body":"x"}}"#)
                .unwrap();
        assert!(n.messages.is_empty() && n.ignored.len() == 1);
        assert_eq!(event_id(b"not json"), None);
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for e in std::fs::read_dir(DIR).unwrap() {
            let p = e.unwrap().path();
            if p.extension().and_then(|x| x.to_str()) != Some("json") {
                continue;
            }
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
                        2 => b.insert(i, b"{}[]\",:0-e.\\@_"[(rnd() % 14) as usize]),
                        _ => b.truncate(i.max(1)),
                    }
                }
                let _ = normalize(&b);
                let _ = event_id(&b);
            }
            let v: Value = serde_json::from_slice(&orig).unwrap();
            for repl in [
                Value::Null,
                Value::Bool(false),
                serde_json::json!(1e308),
                serde_json::json!([]),
                serde_json::json!({}),
                serde_json::json!("true_x@lid_"),
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
