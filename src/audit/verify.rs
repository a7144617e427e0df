//! Checking an audit ZIP offline, without the appliance's database: the manifest's signature, every file's size and
//! SHA-256, no file added or missing, every delivery's body against its hash, every message's delivery present,
//! every evidence record against its file, and the event chain link by link (no event changed, removed, inserted or reordered). The first broken item is named.
//!
//! A hostile ZIP cannot hurt the checker: nothing is extracted to disk, names are only compared, and no entry is read
//! past the size the manifest gives it (a decompression bomb stops there).

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{
    signing, Manifest, DELIVERIES, EVENTS, EVIDENCE, FORMAT, MANIFEST, MESSAGES, SIGNATURE,
};
use crate::store::events::Event;

/// An intact ZIP: its manifest, and the signing key's fingerprint computed here (not read from the manifest).
#[derive(Debug, Clone)]
pub struct Verified {
    pub manifest: Manifest,
    pub fingerprint: String,
    pub files: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Tampered or incomplete: the first item that does not check out, and why.
    Broken { item: String, reason: String },
    /// Not a ZIP that can be read at all.
    Unreadable(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Broken { item, reason } => write!(f, "{item}: {reason}"),
            Failure::Unreadable(r) => write!(f, "{r}"),
        }
    }
}

fn broken(item: impl Into<String>, reason: impl Into<String>) -> Failure {
    Failure::Broken {
        item: item.into(),
        reason: reason.into(),
    }
}

const MANIFEST_CAP: u64 = 64 << 20;
const LINE_CAP: u64 = 256 << 20;
/// The most entries an audit ZIP may have (a year of a busy firm has about half a million evidence files); the
/// exporter refuses to write more. The ZIP reader keeps every entry of the central directory in memory, so a ZIP
/// declaring more is refused before it is read.
pub const MAX_ENTRIES: u64 = 2_000_000;

pub fn verify(path: &Path) -> Result<Verified, Failure> {
    let f = std::fs::File::open(path)
        .map_err(|e| Failure::Unreadable(format!("cannot open {}: {e}", path.display())))?;
    verify_reader(f).map_err(|e| match e {
        Failure::Unreadable(r) => Failure::Unreadable(format!("{}: {r}", path.display())),
        other => other,
    })
}

pub fn verify_reader<R: Read + Seek>(mut r: R) -> Result<Verified, Failure> {
    check_entry_count(&mut r, MAX_ENTRIES)?;
    let mut zip = zip::ZipArchive::new(r)
        .map_err(|e| Failure::Unreadable(format!("not a readable ZIP ({e})")))?;
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    for (i, name) in names.iter().enumerate() {
        let safe = zip
            .by_index_raw(i)
            .map(|f| f.enclosed_name().is_some())
            .unwrap_or(false);
        if !safe {
            return Err(broken(name.clone(), "unsafe file name in the ZIP"));
        }
    }
    let manifest_bytes = read_small(&mut zip, MANIFEST)?;
    let sig = read_small(&mut zip, SIGNATURE)?;
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| broken(MANIFEST, format!("not a valid manifest ({e})")))?;
    if manifest.format != FORMAT {
        return Err(broken(
            MANIFEST,
            format!(
                "unknown format {:?} (this tapak reads {FORMAT})",
                manifest.format
            ),
        ));
    }
    let key = signing::check(
        &manifest.public_key,
        &manifest_bytes,
        &String::from_utf8_lossy(&sig),
    )
    .map_err(|r| broken(SIGNATURE, r))?;
    let fingerprint = signing::fingerprint(&key);

    let listed: HashMap<&str, &super::FileEntry> = manifest
        .files
        .iter()
        .map(|f| (f.path.as_str(), f))
        .collect();
    if listed.len() != manifest.files.len() {
        return Err(broken(MANIFEST, "a file is listed twice"));
    }
    for name in &names {
        if name != MANIFEST && name != SIGNATURE && !listed.contains_key(name.as_str()) {
            return Err(broken(
                name.clone(),
                "in the ZIP but not listed in the manifest",
            ));
        }
    }
    let mut evidence_files = HashSet::new();
    // The deliveries first: the messages refer to them.
    let mut deliveries = HashSet::new();
    let order = manifest
        .files
        .iter()
        .filter(|f| f.path == DELIVERIES)
        .chain(manifest.files.iter().filter(|f| f.path != DELIVERIES));
    for entry in order {
        let file = zip.by_name(&entry.path).map_err(|_| {
            broken(
                entry.path.clone(),
                "listed in the manifest but missing from the ZIP",
            )
        })?;
        let mut r = Hashing::new(file.take(entry.bytes + 1));
        // Content checks run while the file is hashed; a file that does not match the manifest is reported as such
        // first (it is the plainer finding), then what the content checks found.
        let content = match entry.path.as_str() {
            DELIVERIES => check_deliveries(&mut r, &mut deliveries).err(),
            MESSAGES => check_messages(&mut r, &deliveries).err(),
            EVENTS => check_events(&mut r, &manifest).err(),
            _ => None, // evidence.jsonl is checked below, once every evidence file's hash is known
        };
        // Whatever a checker above left unread still counts.
        std::io::copy(&mut r, &mut std::io::sink())
            .map_err(|e| broken(entry.path.clone(), format!("cannot be read ({e})")))?;
        let (sha, bytes) = r.finish();
        if bytes != entry.bytes {
            return Err(broken(
                entry.path.clone(),
                format!("{bytes} bytes where the manifest says {}", entry.bytes),
            ));
        }
        if sha != entry.sha256 {
            return Err(broken(
                entry.path.clone(),
                "content does not match its SHA-256 in the manifest",
            ));
        }
        if entry.path.starts_with("evidence/") {
            let stem = entry.path["evidence/".len()..]
                .split('.')
                .next()
                .unwrap_or("");
            if stem != sha {
                return Err(broken(
                    entry.path.clone(),
                    "the file's name is not its SHA-256",
                ));
            }
            evidence_files.insert(sha);
        }
        if let Some(e) = content {
            return Err(e);
        }
    }
    if listed.contains_key(EVIDENCE) {
        let file = zip
            .by_name(EVIDENCE)
            .map_err(|_| broken(EVIDENCE, "missing from the ZIP"))?;
        check_evidence(
            BufReader::new(file.take(listed[EVIDENCE].bytes)),
            &evidence_files,
        )?;
    }
    Ok(Verified {
        files: manifest.files.len(),
        fingerprint,
        manifest,
    })
}

/// How each posted anchor compares with the chain in an intact ZIP (`manifest` from [`verify`]): the ZIP's event of
/// that id has the posted hash, another hash, or is not in the ZIP. The event before the first (the manifest's
/// `chain.anchor`) counts as in the ZIP.
pub fn check_anchors(
    path: &Path,
    manifest: &Manifest,
    anchors: &[super::anchor::Anchor],
) -> Result<Vec<super::anchor::Match>, Failure> {
    use super::anchor::Match;
    let wanted: HashSet<i64> = anchors.iter().map(|a| a.event).collect();
    let mut found: HashMap<i64, String> = HashMap::new();
    if let Some(first) = manifest.chain.first_event {
        if wanted.contains(&(first - 1)) {
            found.insert(first - 1, manifest.chain.anchor.clone());
        }
    }
    let f = std::fs::File::open(path)
        .map_err(|e| Failure::Unreadable(format!("cannot open {}: {e}", path.display())))?;
    let mut zip = zip::ZipArchive::new(f)
        .map_err(|e| Failure::Unreadable(format!("not a readable ZIP ({e})")))?;
    if let Some(entry) = manifest.files.iter().find(|f| f.path == EVENTS) {
        let file = zip
            .by_name(EVENTS)
            .map_err(|_| broken(EVENTS, "missing from the ZIP"))?;
        each_line(EVENTS, file.take(entry.bytes), |_, v| {
            if let (Some(id), Some(hash)) = (
                v.get("id").and_then(|i| i.as_i64()),
                v.get("hash").and_then(|h| h.as_str()),
            ) {
                if wanted.contains(&id) {
                    found.insert(id, hash.to_string());
                }
            }
            Ok(())
        })?;
    }
    Ok(anchors
        .iter()
        .map(|a| match found.get(&a.event) {
            Some(h) if *h == a.head => Match::Matches,
            Some(h) => Match::Differs {
                zip_hash: h.clone(),
            },
            None => Match::Outside,
        })
        .collect())
}

fn read_small<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<Vec<u8>, Failure> {
    let f = zip
        .by_name(name)
        .map_err(|_| broken(name, "missing from the ZIP"))?;
    let mut buf = vec![];
    f.take(MANIFEST_CAP + 1)
        .read_to_end(&mut buf)
        .map_err(|e| broken(name, format!("cannot be read ({e})")))?;
    if buf.len() as u64 > MANIFEST_CAP {
        return Err(broken(name, "implausibly large"));
    }
    Ok(buf)
}

/// Reads lines of at most [`LINE_CAP`] bytes; calls `each(line_number, json)` for each non-empty line.
fn each_line<R: Read>(
    name: &str,
    r: R,
    mut each: impl FnMut(usize, serde_json::Value) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut r = BufReader::new(r);
    let mut buf = vec![];
    let mut n = 0;
    loop {
        buf.clear();
        let got = (&mut r)
            .take(LINE_CAP)
            .read_until(b'\n', &mut buf)
            .map_err(|e| broken(name, format!("cannot be read ({e})")))?;
        if got == 0 {
            return Ok(());
        }
        n += 1;
        if got as u64 == LINE_CAP && buf.last() != Some(&b'\n') {
            return Err(broken(format!("{name} line {n}"), "line too long"));
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&buf)
            .map_err(|e| broken(format!("{name} line {n}"), format!("not valid JSON ({e})")))?;
        each(n, v)?;
    }
}

/// Every delivery's body hashes to the SHA-256 given for it; collects those hashes.
fn check_deliveries<R: Read>(r: R, found: &mut HashSet<[u8; 32]>) -> Result<(), Failure> {
    each_line(DELIVERIES, r, |n, v| {
        let item = || format!("{DELIVERIES} line {n} (delivery {})", id_of(&v));
        let body = match (
            v.get("body").and_then(|b| b.as_str()),
            v.get("body_base64").and_then(|b| b.as_str()),
        ) {
            (Some(text), _) => text.as_bytes().to_vec(),
            (None, Some(b64)) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .map_err(|_| broken(item(), "the body is not valid base64"))?
            }
            (None, None) => return Err(broken(item(), "a delivery without its body")),
        };
        let sha: [u8; 32] = Sha256::digest(&body).into();
        let want = v.get("sha256").and_then(|s| s.as_str()).unwrap_or("");
        if hex::encode(sha) != want.to_ascii_lowercase() {
            return Err(broken(
                item(),
                "the webhook body does not match its SHA-256",
            ));
        }
        found.insert(sha);
        Ok(())
    })
}

/// Every message that names a delivery names one in `deliveries.jsonl`.
fn check_messages<R: Read>(r: R, deliveries: &HashSet<[u8; 32]>) -> Result<(), Failure> {
    each_line(MESSAGES, r, |n, v| {
        let item = || format!("{MESSAGES} line {n} (message {})", id_of(&v));
        let delivery = match v.get("delivery") {
            None | Some(serde_json::Value::Null) => return Ok(()),
            Some(d) => d,
        };
        let sha = delivery
            .as_str()
            .and_then(|s| hex::decode(s).ok())
            .and_then(|b| <[u8; 32]>::try_from(b).ok());
        match sha {
            Some(sha) if deliveries.contains(&sha) => Ok(()),
            Some(_) => Err(broken(
                item(),
                format!("its delivery {delivery} is not in {DELIVERIES} (removed or altered)"),
            )),
            None => Err(broken(
                item(),
                format!("its delivery {delivery} is not a SHA-256"),
            )),
        }
    })
}

fn id_of(v: &serde_json::Value) -> String {
    v.get("id")
        .map(|i| i.to_string())
        .unwrap_or_else(|| "?".into())
}

/// The event chain: consecutive ids from the manifest's first event, each linked to the one before and (unless
/// redacted) hashing to its own hash; it ends at the manifest's head.
fn check_events<R: Read>(r: R, m: &Manifest) -> Result<(), Failure> {
    let mut prev = m.chain.anchor.clone();
    let mut expect_id = m.chain.first_event;
    let mut count = 0u64;
    let mut last = None;
    each_line(EVENTS, r, |n, v| {
        let id = v.get("id").and_then(|i| i.as_i64());
        let item = format!(
            "{EVENTS} line {n} (event {})",
            id.map(|i| i.to_string()).unwrap_or_else(|| "?".into())
        );
        let Some(id) = id else {
            return Err(broken(item, "no event id"));
        };
        if Some(id) != expect_id {
            return Err(broken(
                item,
                match expect_id {
                    Some(e) => {
                        format!("expected event {e} here: events are missing or out of order")
                    }
                    None => "the manifest says the period has no events".to_string(),
                },
            ));
        }
        let text = |k: &str| v.get(k).and_then(|s| s.as_str()).map(str::to_string);
        let prev_hash = text("prev_hash").unwrap_or_default();
        if prev_hash != prev {
            return Err(broken(item, "does not link to the event before it"));
        }
        let hash = text("hash").unwrap_or_default();
        if v.get("redacted").and_then(|r| r.as_bool()) != Some(true) {
            let e: Event = serde_json::from_value(v.clone())
                .map_err(|e| broken(item.clone(), format!("not an event ({e})")))?;
            let h = e.computed_hash();
            if h != e.hash {
                return Err(broken(
                    item,
                    "its content does not match its hash (changed after it was recorded)",
                ));
            }
        }
        prev = hash;
        expect_id = Some(id + 1);
        count += 1;
        last = Some(id);
        Ok(())
    })?;
    if count != m.chain.events || last != m.chain.last_event {
        return Err(broken(
            EVENTS,
            format!("{count} events where the manifest says {}", m.chain.events),
        ));
    }
    if prev != m.chain.head {
        return Err(broken(
            EVENTS,
            "the chain does not end at the manifest's head hash",
        ));
    }
    Ok(())
}

/// Every evidence record that names a file has that file, and the file hashes to the record's SHA-256.
fn check_evidence<R: Read>(r: R, files: &HashSet<String>) -> Result<(), Failure> {
    each_line(EVIDENCE, r, |n, v| {
        let Some(file) = v.get("file").and_then(|f| f.as_str()) else {
            return Ok(());
        };
        let item = format!("{EVIDENCE} line {n} (evidence {})", id_of(&v));
        let sha = v.get("sha256").and_then(|s| s.as_str()).unwrap_or("");
        let stem = file
            .strip_prefix("evidence/")
            .unwrap_or("")
            .split('.')
            .next()
            .unwrap_or("");
        if stem != sha || !files.contains(sha) {
            return Err(broken(
                item,
                format!("its file {file} is missing or is not the file it names"),
            ));
        }
        Ok(())
    })
}

fn check_entry_count<R: Read + Seek>(r: &mut R, cap: u64) -> Result<(), Failure> {
    match declared_entries(r) {
        Ok(Some(n)) if n > cap => Err(Failure::Unreadable(format!(
            "not an audit ZIP: its central directory declares {n} entries, more than the {cap} an audit ZIP may \
             have (refused before reading it)"
        ))),
        Ok(_) => Ok(()),
        Err(e) => Err(Failure::Unreadable(format!("not a readable ZIP ({e})"))),
    }
}

/// How many entries the ZIP's end-of-central-directory record declares (its ZIP64 record's count when there is one),
/// read from the file's tail without reading the directory itself; `None` when there is no such record (the ZIP
/// reader then says what is wrong).
fn declared_entries<R: Read + Seek>(r: &mut R) -> std::io::Result<Option<u64>> {
    use std::io::SeekFrom;
    const EOCD: [u8; 4] = *b"PK\x05\x06";
    const LOCATOR: [u8; 4] = *b"PK\x06\x07";
    const EOCD64: [u8; 4] = *b"PK\x06\x06";
    let len = r.seek(SeekFrom::End(0))?;
    // The record is 22 bytes followed by a comment of at most 64 KiB.
    let tail_len = len.min(22 + 0xFFFF);
    r.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![];
    r.take(tail_len).read_to_end(&mut tail)?;
    let le16 = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    // The last signature whose comment runs exactly to the end of the file.
    let Some(at) = (0..tail.len().saturating_sub(21)).rev().find(|&i| {
        tail[i..i + 4] == EOCD && i + 22 + usize::from(le16(&tail, i + 20)) == tail.len()
    }) else {
        return Ok(None);
    };
    let entries = u64::from(le16(&tail, at + 10));
    // A ZIP64 archive: a locator right before the record points at the ZIP64 record, whose count is 64 bits.
    let eocd_pos = len - tail_len + at as u64;
    if eocd_pos < 20 {
        return Ok(Some(entries));
    }
    let mut loc = [0u8; 20];
    r.seek(SeekFrom::Start(eocd_pos - 20))?;
    r.read_exact(&mut loc)?;
    if loc[..4] != LOCATOR {
        return Ok(Some(entries));
    }
    let mut off = [0u8; 8];
    off.copy_from_slice(&loc[8..16]);
    let mut rec = [0u8; 40];
    r.seek(SeekFrom::Start(u64::from_le_bytes(off)))?;
    if r.read_exact(&mut rec).is_err() || rec[..4] != EOCD64 {
        return Ok(Some(entries));
    }
    let mut total = [0u8; 8];
    total.copy_from_slice(&rec[32..40]);
    Ok(Some(entries.max(u64::from_le_bytes(total))))
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    sha: Sha256,
    bytes: u64,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Hashing {
            inner,
            sha: Sha256::new(),
            bytes: 0,
        }
    }
    fn finish(self) -> (String, u64) {
        (hex::encode(self.sha.finalize()), self.bytes)
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::audit::{Chain, Counts, FileEntry};

    fn manifest(key: &SigningKey, files: Vec<FileEntry>) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            generated_at: "2026-12-07T00:00:00.000Z".into(),
            generated_by: "test".into(),
            timezone: "Asia/Kuala_Lumpur".into(),
            from: "2026-12-01".into(),
            to: "2026-12-07".into(),
            site: None,
            counts: Counts::default(),
            chain: Chain {
                anchor: crate::store::events::GENESIS.into(),
                head: crate::store::events::GENESIS.into(),
                ..Chain::default()
            },
            files,
            public_key: hex::encode(key.verifying_key().as_bytes()),
            key_fingerprint: String::new(),
        }
    }

    /// A signed ZIP with the given entries (name, bytes, compressed) and manifest.
    fn zip_of(key: &SigningKey, m: &Manifest, entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(vec![]));
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, bytes) in entries {
            w.start_file(*name, o).unwrap();
            w.write_all(bytes).unwrap();
        }
        let json = serde_json::to_vec_pretty(m).unwrap();
        w.start_file(MANIFEST, o).unwrap();
        w.write_all(&json).unwrap();
        w.start_file(SIGNATURE, o).unwrap();
        w.write_all(signing::sign(key, &json).as_bytes()).unwrap();
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn a_zip_declaring_too_many_entries_is_refused_before_it_is_read() {
        // An end of central directory with a ZIP64 record declaring a billion entries, and no directory at all.
        let z = include_bytes!("../../tests/fixtures/audit/billion-entries.zip").to_vec();
        let e = verify_reader(Cursor::new(z)).unwrap_err();
        assert!(
            matches!(&e, Failure::Unreadable(r) if r.contains("declares 1000000000 entries")),
            "{e}"
        );
        // A plain ZIP's own count is read too (here a cap of 10 for a ZIP of 12 files).
        let key = SigningKey::from_bytes(&[7; 32]);
        let files: Vec<(String, Vec<u8>)> = (0..10).map(|i| (format!("{i}.txt"), vec![])).collect();
        let entries: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), &b[..])).collect();
        let z = zip_of(&key, &manifest(&key, vec![]), &entries);
        assert_eq!(
            check_entry_count(&mut Cursor::new(&z), 10),
            Err(Failure::Unreadable(
                "not an audit ZIP: its central directory declares 12 entries, more than the 10 an audit ZIP may \
                 have (refused before reading it)"
                    .into()
            ))
        );
        assert_eq!(check_entry_count(&mut Cursor::new(&z), 12), Ok(()));
    }

    #[test]
    fn a_decompression_bomb_is_stopped_at_its_declared_size() {
        let key = SigningKey::from_bytes(&[5; 32]);
        // 64 MB of zeros deflate to about 64 KB; the manifest claims 10 bytes.
        let bomb = vec![0u8; 64 << 20];
        let m = manifest(
            &key,
            vec![FileEntry {
                path: "notes.txt".into(),
                sha256: hex::encode(Sha256::digest(&bomb[..10])),
                bytes: 10,
            }],
        );
        let z = zip_of(&key, &m, &[("notes.txt", &bomb)]);
        assert!(z.len() < 2 << 20, "the bomb is small on disk: {}", z.len());
        drop(bomb);
        let t = std::time::Instant::now();
        let e = verify_reader(Cursor::new(z)).unwrap_err();
        assert_eq!(
            e,
            broken("notes.txt", "11 bytes where the manifest says 10"),
            "{e}"
        );
        assert!(t.elapsed().as_secs() < 5, "read past the declared size");
    }

    #[test]
    fn an_intact_minimal_zip_verifies_and_a_missing_signature_does_not() {
        let key = SigningKey::from_bytes(&[6; 32]);
        let body = b"hello inspector\n";
        let m = manifest(
            &key,
            vec![FileEntry {
                path: "README.txt".into(),
                sha256: hex::encode(Sha256::digest(body)),
                bytes: body.len() as u64,
            }],
        );
        let z = zip_of(&key, &m, &[("README.txt", body)]);
        let v = verify_reader(Cursor::new(z.clone())).unwrap();
        assert_eq!(v.fingerprint, signing::fingerprint(&key.verifying_key()));
        // The same ZIP without its signature file is incomplete.
        let mut r = zip::ZipArchive::new(Cursor::new(z)).unwrap();
        let mut w = zip::ZipWriter::new(Cursor::new(vec![]));
        for i in 0..r.len() {
            let f = r.by_index_raw(i).unwrap();
            if f.name() != SIGNATURE {
                w.raw_copy_file(f).unwrap();
            }
        }
        let z = w.finish().unwrap().into_inner();
        assert_eq!(
            verify_reader(Cursor::new(z)).unwrap_err(),
            broken(SIGNATURE, "missing from the ZIP")
        );
        assert!(matches!(
            verify_reader(Cursor::new(b"PK\x03\x04 not really".to_vec())),
            Err(Failure::Unreadable(_))
        ));
    }
}
