//! Ingestion: every source's payloads normalised into [`model::InboundMessage`].
//! Pure parsing and verification; storing is `store::ingest`, HTTP is `web::webhooks`.

pub mod cloud;
pub mod evolution;
pub mod export;
pub mod import;
pub mod model;
pub mod times;
pub mod verify;
pub mod waha;

/// Helpers the source modules' tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, TimeZone, Utc};

    use super::model::{ChatRef, InboundMessage, MessageType, SenderRef, Source};

    /// The WhatsApp group id the WAHA and Evolution fixtures use.
    pub const GROUP: &str = "120363401234567890@g.us";

    pub fn t(unix: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(unix, 0).unwrap()
    }
    pub fn sender(id: &str, phone: Option<&str>, name: Option<&str>) -> Option<SenderRef> {
        Some(SenderRef {
            external_id: id.into(),
            phone: phone.map(Into::into),
            display_name: name.map(Into::into),
        })
    }
    /// A plain text message (no media, reply or flags) in `chat`.
    pub fn text_message(
        source: Source,
        id: &str,
        chat: ChatRef,
        sender: Option<SenderRef>,
        sent_at: DateTime<Utc>,
        text: &str,
    ) -> InboundMessage {
        InboundMessage {
            source,
            source_message_id: id.into(),
            chat,
            sender,
            from_me: false,
            sent_at,
            msg_type: MessageType::Text,
            source_type: "text".into(),
            text: Some(text.into()),
            reply_to: None,
            forwarded: false,
            edited: false,
            deleted: false,
            media: vec![],
            reaction: None,
            location: None,
        }
    }
    /// The fixtures' group, unnamed (gateways send no group name with a message).
    pub fn group() -> ChatRef {
        ChatRef {
            external_id: GROUP.into(),
            name: None,
            is_group: true,
        }
    }
}
