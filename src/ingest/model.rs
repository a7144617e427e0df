//! The message model the sources produce; it lives in [`crate::message`], below both `ingest` and `store`.

pub use crate::message::*;
