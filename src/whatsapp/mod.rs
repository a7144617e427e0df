//! Talking to WhatsApp: the outbound HTTP calls to Meta's Cloud API and the WAHA / Evolution gateways.
//!
//! [`client`] is the one client for them: the outbox's sends, the media fetcher's downloads (`evidence::fetch`) and
//! the WAHA `@lid` lookups (`gateway`). `Core` holds one, built from the shared HTTP client and `[whatsapp]`.

pub mod client;
