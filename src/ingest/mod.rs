//! Ingestion: every source's payloads normalised into [`model::InboundMessage`].
//! Pure parsing and verification; storing is `store::ingest`, HTTP is `web::webhooks`.

pub mod cloud;
pub mod evolution;
pub mod export;
pub mod import;
pub mod model;
pub mod verify;
pub mod waha;
