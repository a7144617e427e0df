//! The one internal message shape every source (Cloud API, WAHA, Evolution, chat export) is normalised into: a
//! domain type below both `ingest` (which produces it) and `store` (which files it).
//! Pure data: no I/O, no HTTP, no SQL.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    CloudApi,
    Waha,
    Evolution,
    Import,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::CloudApi => "cloud_api",
            Source::Waha => "waha",
            Source::Evolution => "evolution",
            Source::Import => "import",
        }
    }
    pub fn parse(s: &str) -> Option<Source> {
        Some(match s {
            "cloud_api" => Source::CloudApi,
            "waha" => Source::Waha,
            "evolution" => Source::Evolution,
            "import" => Source::Import,
            _ => return None,
        })
    }
}

/// Message type as exposed in the API (`interfaces.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum MessageType {
    Text,
    Media,
    System,
    Deleted,
    Reaction,
    Location,
    Contact,
    Other,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Text => "text",
            MessageType::Media => "media",
            MessageType::System => "system",
            MessageType::Deleted => "deleted",
            MessageType::Reaction => "reaction",
            MessageType::Location => "location",
            MessageType::Contact => "contact",
            MessageType::Other => "other",
        }
    }
    pub fn parse(s: &str) -> MessageType {
        match s {
            "text" => MessageType::Text,
            "media" => MessageType::Media,
            "system" => MessageType::System,
            "deleted" => MessageType::Deleted,
            "reaction" => MessageType::Reaction,
            "location" => MessageType::Location,
            "contact" => MessageType::Contact,
            _ => MessageType::Other,
        }
    }
}

/// Kind of evidence file (`interfaces.md` evidence.kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    Photo,
    Video,
    Voice,
    Audio,
    Sticker,
    Document,
    Other,
}

impl EvidenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EvidenceKind::Photo => "photo",
            EvidenceKind::Video => "video",
            EvidenceKind::Voice => "voice",
            EvidenceKind::Audio => "audio",
            EvidenceKind::Sticker => "sticker",
            EvidenceKind::Document => "document",
            EvidenceKind::Other => "other",
        }
    }
    pub fn parse(s: &str) -> EvidenceKind {
        match s {
            "photo" => EvidenceKind::Photo,
            "video" => EvidenceKind::Video,
            "voice" => EvidenceKind::Voice,
            "audio" => EvidenceKind::Audio,
            "sticker" => EvidenceKind::Sticker,
            "document" => EvidenceKind::Document,
            _ => EvidenceKind::Other,
        }
    }
}

/// A photo's perceptual hashes (64 bits each), kept with its evidence to spot the same picture sent again. Computed
/// and compared by `evidence::photo_hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PhotoHash {
    pub dhash: u64,
    pub phash: u64,
}

/// A chat (group or direct) as identified by its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatRef {
    /// Stable id within the source: Cloud API `group_id` or `<phone_number_id>:<wa_id>`; gateway JID (`…@g.us`,
    /// `…@c.us`); for exports a name-derived key (`export:<chat name>`).
    pub external_id: String,
    pub name: Option<String>,
    pub is_group: bool,
}

/// The person who sent a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SenderRef {
    /// Stable id within the source: phone digits when known, else a gateway id (`…@lid`, BSUID) or an export author string.
    pub external_id: String,
    /// Digits with country code, no `+` (`60123456701`), when known.
    pub phone: Option<String>,
    /// Push name / profile name / export author as shown.
    pub display_name: Option<String>,
}

/// How the bytes of a media item can be obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum MediaFetch {
    /// Cloud API media id: two-step download through the Graph API.
    CloudMediaId { media_id: String },
    /// A URL on the gateway's own host (WAHA `media.url`, Evolution `mediaUrl`).
    GatewayUrl { url: String },
    /// Evolution media with neither inline `base64` nor `mediaUrl`: asked of the configured Evolution gateway with
    /// `POST /chat/getBase64FromMediaMessage/{instance}` for this raw message id (`key.id`). `instance` is the
    /// webhook envelope's instance name, when it had one.
    EvolutionApi {
        message_id: String,
        instance: Option<String>,
    },
    /// Bytes carried inline (Evolution `base64`), already decoded.
    Inline {
        #[serde(with = "serde_bytes_b64")]
        bytes: Vec<u8>,
    },
    /// A file inside a chat-export archive, by its file name.
    ExportFile { filename: String },
    /// Named in the source but not obtainable (e.g. `<Media omitted>`, WAHA `media: null`).
    Unavailable,
}

/// One media attachment of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    pub kind: EvidenceKind,
    pub mime: Option<String>,
    /// Expected SHA-256 as given by the source (hex or base64), if any.
    pub sha256: Option<String>,
    pub filename: Option<String>,
    pub fetch: MediaFetch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeoLocation {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

/// A reaction to another message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reaction {
    /// Source message id of the message reacted to.
    pub target_id: String,
    /// `None` = reaction removed.
    pub emoji: Option<String>,
}

/// A normalised inbound message. Everything needed to store and process it, independent of the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub source: Source,
    /// Dedupe key, unique within `source` (wamid, gateway id, synthetic export id).
    pub source_message_id: String,
    pub chat: ChatRef,
    pub sender: Option<SenderRef>,
    /// Sent by the business / linked account itself.
    pub from_me: bool,
    pub sent_at: DateTime<Utc>,
    pub msg_type: MessageType,
    /// The source's own type name (`image`, `interactive`, `imageMessage`, `system`…), kept for audit.
    pub source_type: String,
    /// Text body or media caption; `None` when there is none.
    pub text: Option<String>,
    /// Source message id of the quoted message (reply), if any.
    pub reply_to: Option<String>,
    pub forwarded: bool,
    pub edited: bool,
    pub deleted: bool,
    pub media: Vec<MediaRef>,
    pub reaction: Option<Reaction>,
    pub location: Option<GeoLocation>,
}

/// A later change to an already-received message (gateway edit / revoke events).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageChange {
    pub source: Source,
    /// Source message id of the message that changed (raw id; stores match on it or its suffix).
    pub target_id: String,
    pub chat_external_id: Option<String>,
    pub at: DateTime<Utc>,
    /// `Some(text)` for an edit (the new text); `None` for a revoke / delete-for-everyone.
    pub new_text: Option<String>,
}

/// A delivery receipt for a message the business sent (Cloud API statuses, gateway acks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    pub source: Source,
    pub message_id: String,
    /// `sent`, `delivered`, `read`, `failed`, `played` or any unknown string, kept as is.
    pub status: String,
    pub at: DateTime<Utc>,
    pub recipient_id: Option<String>,
    /// Error codes/titles for failed statuses.
    pub errors: Vec<String>,
    /// What the sender asked to be echoed (Cloud API `biz_opaque_callback_data`): the outbox names its send there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<String>,
}

/// Everything one webhook delivery contained, after normalisation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Normalized {
    pub messages: Vec<InboundMessage>,
    pub changes: Vec<MessageChange>,
    pub statuses: Vec<StatusUpdate>,
    /// Out-of-band errors reported by the source (Cloud API `value.errors[]`), as text.
    pub errors: Vec<String>,
    /// Parts that were understood but deliberately not turned into messages (status broadcasts, lifecycle events…).
    pub ignored: Vec<String>,
}

/// Why a payload could not be normalised at all (it is still stored raw).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NormalizeError {
    #[error("body is not valid JSON: {0}")]
    Json(String),
    #[error("payload is not a {expected} event: {detail}")]
    Shape {
        expected: &'static str,
        detail: String,
    },
}

mod serde_bytes_b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// Normalise a phone number to digits with country code and no `+` (`+60 12-345 6789` → `60123456789`).
/// Returns `None` when the input does not look like a phone number (names, gateway ids).
pub fn normalize_phone(s: &str) -> Option<String> {
    let trimmed = s
        .trim()
        .trim_start_matches(['\u{200e}', '\u{202a}', '\u{202c}', '~']);
    let mut digits = String::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' | ' ' | '-' | '(' | ')' | '.' | '\u{a0}' | '\u{202f}' | '\u{2011}' => {}
            _ => return None,
        }
    }
    if digits.len() < 8 || digits.len() > 15 {
        return None;
    }
    Some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_normalise() {
        assert_eq!(
            normalize_phone("+60 12-718 2290").as_deref(),
            Some("60127182290")
        );
        assert_eq!(
            normalize_phone("60123456701").as_deref(),
            Some("60123456701")
        );
        assert_eq!(normalize_phone("Siti Cleaner"), None);
        assert_eq!(normalize_phone("123"), None);
    }
}
