//! The evidence store: media files on disk, content-addressed by SHA-256, with thumbnails; and the background fetcher.
//!
//! Layout under the data dir: `evidence/ab/cd/<sha256>` (original bytes), `thumbs/ab/<sha256>.jpg`, `tmp/` (partial
//! writes, emptied at start). A file is written to `tmp/`, fsynced, renamed into place, and only then is the database
//! row updated, so a crash leaves at most an orphan file, never a row pointing at nothing.

pub mod fetch;
pub mod image_info;
pub mod photo_hash;

use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct EvidenceStore {
    root: PathBuf,
    thumbs: PathBuf,
    tmp: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EvidenceError + '_ {
    move |source| EvidenceError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl EvidenceStore {
    /// Prepares the directories under `data_dir` and empties `tmp/`.
    pub fn open(data_dir: &Path) -> Result<EvidenceStore, EvidenceError> {
        let s = EvidenceStore {
            root: data_dir.join("evidence"),
            thumbs: data_dir.join("thumbs"),
            tmp: data_dir.join("tmp"),
        };
        for d in [&s.root, &s.thumbs, &s.tmp] {
            std::fs::create_dir_all(d).map_err(io(d))?;
        }
        // Leftovers of a crash are removed; files younger than an hour may belong to another tapak process working
        // on the same data dir right now (a `tapak import` while `serve` spools an upload), so they stay.
        if let Ok(entries) = std::fs::read_dir(&s.tmp) {
            for e in entries.flatten() {
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_none_or(|age| age > std::time::Duration::from_secs(3600));
                if old {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        Ok(s)
    }

    pub fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    pub fn path_of(&self, sha256: &str) -> PathBuf {
        let (a, b) = (
            &sha256[..2.min(sha256.len())],
            &sha256[2.min(sha256.len())..4.min(sha256.len())],
        );
        self.root.join(a).join(b).join(sha256)
    }

    pub fn thumb_of(&self, sha256: &str) -> PathBuf {
        self.thumbs
            .join(&sha256[..2.min(sha256.len())])
            .join(format!("{sha256}.jpg"))
    }

    /// Stores bytes durably under their SHA-256; returns the hex digest. Storing the same bytes twice is a no-op.
    pub fn put(&self, bytes: &[u8]) -> Result<String, EvidenceError> {
        let sha = hex::encode(Sha256::digest(bytes));
        let dest = self.path_of(&sha);
        if dest.exists() {
            return Ok(sha);
        }
        write_atomic(&self.tmp, &dest, bytes)?;
        Ok(sha)
    }

    /// Moves a file written (and fsynced) in `tmp/` into place as the file whose SHA-256 is `sha256`; when that file
    /// is there already, the temporary one is removed.
    pub fn put_file(&self, tmp: tempfile::TempPath, sha256: &str) -> Result<(), EvidenceError> {
        let dest = self.path_of(sha256);
        if dest.exists() {
            return Ok(()); // `tmp` is removed as it drops
        }
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        tmp.persist(&dest).map_err(|e| EvidenceError::Io {
            path: dest.clone(),
            source: e.error,
        })?;
        sync_dir(&dest);
        Ok(())
    }

    pub fn put_thumbnail(&self, sha256: &str, jpeg: &[u8]) -> Result<(), EvidenceError> {
        write_atomic(&self.tmp, &self.thumb_of(sha256), jpeg)
    }
}

/// temp file → fsync → rename → fsync dir.
pub fn write_atomic(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut f = tempfile::NamedTempFile::new_in(tmp_dir).map_err(io(tmp_dir))?;
    f.write_all(bytes).map_err(io(dest))?;
    f.as_file().sync_all().map_err(io(dest))?;
    f.persist(dest).map_err(|e| EvidenceError::Io {
        path: dest.to_path_buf(),
        source: e.error,
    })?;
    sync_dir(dest);
    Ok(())
}

/// Makes a rename into `path`'s folder durable.
fn sync_dir(path: &Path) {
    if let Some(parent) = path.parent() {
        if let Ok(d) = std::fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
}

/// Compares bytes with a source-given SHA-256 in hex or base64 (Meta uses both).
pub fn sha256_matches(expected: &str, actual_hex: &str) -> bool {
    use base64::Engine;
    let e = expected.trim();
    if e.len() == 64 && e.chars().all(|c| c.is_ascii_hexdigit()) {
        return e.eq_ignore_ascii_case(actual_hex);
    }
    for engine in [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE,
    ] {
        if let Ok(raw) = engine.decode(e) {
            return hex::encode(raw) == actual_hex;
        }
    }
    if let Ok(raw) =
        base64::engine::general_purpose::STANDARD_NO_PAD.decode(e.trim_end_matches('='))
    {
        return hex::encode(raw) == actual_hex;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_content_addressed_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let s = EvidenceStore::open(dir.path()).unwrap();
        let sha = s.put(b"hello").unwrap();
        assert_eq!(
            sha,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(std::fs::read(s.path_of(&sha)).unwrap(), b"hello");
        assert_eq!(s.put(b"hello").unwrap(), sha);
        assert_eq!(
            std::fs::read_dir(s.tmp_dir()).unwrap().count(),
            0,
            "no temp files left"
        );
    }

    #[test]
    fn sha_in_hex_or_base64() {
        let hex = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        assert!(sha256_matches(hex, hex));
        assert!(sha256_matches(&hex.to_uppercase(), hex));
        assert!(sha256_matches(
            "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=",
            hex
        ));
        assert!(!sha256_matches("abc", hex));
    }
}
