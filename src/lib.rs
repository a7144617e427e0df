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
//! - [`core`](mod@core): what every feature stands on (config, database, time zone, [`clock`], evidence store, HTTP
//!   client, metrics counters, wake-ups); it imports no feature
//! - [`web`]: the HTTP layer (API, webhooks, UI, metrics); [`cli`]: the command line; [`app`]: wiring and lifecycle
//!   (only `cli` imports it)

pub mod app;
pub mod audit;
pub mod auth;
pub mod classify;
pub mod cli;
pub mod clock;
pub mod config;
pub mod core;
pub mod demo;
pub mod evidence;
pub mod gateway;
pub mod ingest;
pub mod message;
pub mod outbox;
pub mod pdf;
pub mod pipeline;
pub mod posters;
pub mod records;
pub mod reports;
pub mod schedule;
pub mod scheduler;
pub mod store;
pub mod transcribe;
pub mod web;
pub mod whatsapp;

#[cfg(test)]
mod dependency_tests {
    /// `std::sync::LazyLock` does what `once_cell::sync::Lazy` did: the crate is not a dependency, and no source
    /// file names it.
    #[test]
    fn once_cell_is_not_used() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
        let deps: toml::Table = toml::from_str(&manifest).unwrap();
        for section in ["dependencies", "dev-dependencies"] {
            let names = deps.get(section).and_then(|d| d.as_table());
            assert!(
                !names.is_some_and(|d| d.contains_key("once_cell")),
                "once_cell is still in [{section}]"
            );
        }
        let mut dirs = vec![root.join("src"), root.join("tests")];
        while let Some(dir) = dirs.pop() {
            for f in std::fs::read_dir(&dir).unwrap() {
                let p = f.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|e| e == "rs") && p != root.join("src/lib.rs") {
                    let text = std::fs::read_to_string(&p).unwrap();
                    assert!(
                        !text.contains("once_cell"),
                        "{} uses once_cell",
                        p.display()
                    );
                }
            }
        }
    }
}
