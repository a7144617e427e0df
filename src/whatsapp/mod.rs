//! Talking to WhatsApp: the outbound HTTP calls to Meta's Cloud API and the WAHA / Evolution gateways.
//!
//! [`client`] sends messages for the outbox. (Issue 16: the media download and `@lid` lookup helpers that live in
//! `evidence::fetch` and `gateway` are to move here too.)

pub mod client;
