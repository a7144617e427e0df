//! tapak: a self-hosted backend for the WhatsApp groups facility-operations teams already use.
//!
//! Layers (each a module; domain modules know nothing of HTTP, and SQL lives only in `store`):
//! - [`ingest`]: Cloud API, WAHA and Evolution payloads and chat exports → one normalised message shape
//! - [`classify`]: message text → kind, status, category, location, priority, repeat (offline, multilingual)
//! - [`records`]: classified messages → task-log entries, issue tickets, evidence links, SLAs, repeats
//! - [`evidence`]: the content-addressed photo/voice/document store, thumbnails, the media fetcher
//! - [`store`](mod@store): SQLite (migrations, the group-commit writer, one file per aggregate)
//! - [`pipeline`]: the work that follows a webhook's 200 (classification, indexing, linking)
//! - [`audit`]: audit ZIPs for inspectors (signed manifest, raw bodies, evidence, event chain) and their offline check
//! - [`web`]: the HTTP layer (API, webhooks, UI, metrics); [`cli`]: the command line; [`app`]: wiring and lifecycle

pub mod app;
pub mod audit;
pub mod auth;
pub mod classify;
pub mod cli;
pub mod config;
pub mod demo;
pub mod evidence;
pub mod gateway;
pub mod ingest;
pub mod pipeline;
pub mod records;
pub mod store;
pub mod web;
