//! Ingestion: every source's payloads normalised into [`model::InboundMessage`].
//! Pure parsing and verification; storing is `store::ingest`, HTTP is `web::webhooks`.

pub mod cloud;
pub mod evolution;
pub mod export;
pub mod import;
pub mod model;
pub mod verify;
pub mod waha;

/// Helpers the source modules' tests share.
#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, TimeZone, Utc};

    use super::model::{ChatRef, SenderRef};

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
    /// The fixtures' group, unnamed (gateways send no group name with a message).
    pub fn group() -> ChatRef {
        ChatRef {
            external_id: GROUP.into(),
            name: None,
            is_group: true,
        }
    }
}
