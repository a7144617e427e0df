//! Opening an export: a bare `.txt` or a `.zip` (iOS `_chat.txt` + media, Android `WhatsApp Chat with X.txt` + media).
//!
//! Hostile archives are refused: entries with `..`/absolute/drive paths, symlinks, encrypted entries, too many
//! entries, too large a total, too high a compression ratio (checked on the declared sizes up front *and* on the
//! bytes actually produced while reading). Nothing is ever extracted to disk by path: media are read into memory or
//! into a caller-provided `Write`, bounded by a size cap. The chat text of a zip is spooled once (memory up to
//! [`ArchiveOptions::spool_memory_max`], beyond that an anonymous temp file in [`ArchiveOptions::spool_dir`]) so
//! that the two parsing passes do not decompress twice and the parser owns its reader.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use zip::ZipArchive;

use super::parser::{
    detect_date_order, DateOrder, DateOrderDecision, ExportParser, ParseError, ParseOptions,
};

/// Caps applied to archives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveOptions {
    /// Sum of the uncompressed sizes of all entries (declared, and actually read).
    pub max_total_uncompressed: u64,
    /// Largest single entry.
    pub max_entry_uncompressed: u64,
    /// Highest uncompressed/compressed ratio of an entry…
    pub max_ratio: u64,
    /// …checked once an entry is larger than this (small entries compress arbitrarily well).
    pub ratio_min_bytes: u64,
    pub max_entries: usize,
    /// Chat text up to this size is spooled in memory, beyond it into an anonymous temp file.
    pub spool_memory_max: usize,
    /// Directory for that temp file (e.g. the data dir's tmp); `None` = the OS temp dir.
    pub spool_dir: Option<PathBuf>,
}

impl Default for ArchiveOptions {
    fn default() -> Self {
        ArchiveOptions {
            max_total_uncompressed: 4 << 30,
            max_entry_uncompressed: 2 << 30,
            max_ratio: 100,
            ratio_min_bytes: 1 << 20,
            max_entries: 100_000,
            spool_memory_max: 16 << 20,
            spool_dir: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path}: not a readable zip archive: {detail}")]
    Zip { path: String, detail: String },
    #[error("{path}: zip entry {entry:?} has an unsafe path ({reason}); archive refused")]
    UnsafePath {
        path: String,
        entry: String,
        reason: &'static str,
    },
    #[error("{path}: zip entry {entry:?} is a symbolic link; archive refused")]
    Symlink { path: String, entry: String },
    #[error("{path}: zip entry {entry:?} is encrypted; archive refused")]
    Encrypted { path: String, entry: String },
    #[error("{path}: zip entry {entry:?} expands more than {max}x (compression ratio limit): possible zip bomb; archive refused")]
    Ratio {
        path: String,
        entry: String,
        max: u64,
    },
    #[error("{path}: zip entry {entry:?} is larger than {max} bytes; archive refused")]
    EntryTooLarge {
        path: String,
        entry: String,
        max: u64,
    },
    #[error(
        "{path}: archive expands to more than {max} bytes: possible zip bomb; archive refused"
    )]
    TotalTooLarge { path: String, max: u64 },
    #[error("{path}: archive has more than {max} entries; archive refused")]
    TooManyEntries { path: String, max: usize },
    #[error("{path}: no chat text (.txt) in the archive")]
    NoChatText { path: String },
    #[error("{path}: several chat texts in the archive ({names}); cannot tell which is the chat")]
    AmbiguousChatText { path: String, names: String },
    #[error("{path}: no file named {name:?} in the archive")]
    NoSuchMedia { path: String, name: String },
    #[error("{path}: file {name:?} is larger than the {max}-byte limit")]
    MediaTooLarge {
        path: String,
        name: String,
        max: u64,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        #[source]
        source: ParseError,
    },
}

/// A non-chat file inside a zip export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaEntry {
    /// Base file name (as referenced from the chat text).
    pub name: String,
    /// Full entry name inside the zip (lossily decoded).
    pub entry_name: String,
    /// Declared uncompressed size.
    pub size: u64,
    index: usize,
}

#[derive(Clone)]
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// An owned, seekable reader over the chat text (returned inside [`ExportParser`]).
pub struct ChatTextReader(ReaderInner);

enum ReaderInner {
    Memory(Cursor<SharedBytes>),
    File(File),
}

impl Read for ChatTextReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.0 {
            ReaderInner::Memory(c) => c.read(buf),
            ReaderInner::File(f) => f.read(buf),
        }
    }
}

impl Seek for ChatTextReader {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match &mut self.0 {
            ReaderInner::Memory(c) => c.seek(pos),
            ReaderInner::File(f) => f.seek(pos),
        }
    }
}

enum ChatText {
    /// A bare `.txt` export, reopened for each pass.
    Path(PathBuf),
    Memory(Arc<Vec<u8>>),
    /// Anonymous temp file holding the decompressed chat text.
    Spooled(File),
}

/// An opened export (`.txt` or `.zip`).
pub struct ExportArchive {
    path: PathBuf,
    display: String,
    opts: ArchiveOptions,
    zip: Option<ZipArchive<BufReader<File>>>,
    chat: ChatText,
    chat_entry: Option<String>,
    media: BTreeMap<String, MediaEntry>,
    /// Bytes actually decompressed so far (chat text + media reads).
    read_total: u64,
}

impl fmt::Debug for ExportArchive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExportArchive")
            .field("path", &self.path)
            .field("chat_entry", &self.chat_entry)
            .field("media", &self.media.len())
            .finish()
    }
}

/// Marker error carried inside `io::Error` when a read limit is hit.
#[derive(Debug)]
enum LimitHit {
    Ratio,
    Entry,
    Total,
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "limit exceeded: {self:?}")
    }
}

impl std::error::Error for LimitHit {}

/// Counts bytes produced by a decompressing reader and stops at the caps.
struct Guarded<R> {
    inner: R,
    produced: u64,
    max: u64,
    compressed: u64,
    max_ratio: u64,
    ratio_min: u64,
    total_before: u64,
    max_total: u64,
}

impl<R: Read> Read for Guarded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        if self.produced > self.max {
            return Err(io::Error::other(LimitHit::Entry));
        }
        if self.total_before + self.produced > self.max_total {
            return Err(io::Error::other(LimitHit::Total));
        }
        if self.produced > self.ratio_min
            && self.produced > self.compressed.max(1).saturating_mul(self.max_ratio)
        {
            return Err(io::Error::other(LimitHit::Ratio));
        }
        Ok(n)
    }
}

/// Why an entry name is unsafe, if it is.
fn unsafe_reason(name: &str) -> Option<&'static str> {
    if name.contains('\0') {
        return Some("NUL byte");
    }
    if name.starts_with('/') || name.starts_with('\\') {
        return Some("absolute path");
    }
    let b = name.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Some("drive-letter path");
    }
    if name.split(['/', '\\']).any(|c| c == "..") {
        return Some("parent-directory component");
    }
    None
}

fn base_name(name: &str) -> &str {
    name.rsplit(['/', '\\']).next().unwrap_or(name)
}

fn is_txt(name: &str) -> bool {
    name.len() > 4 && name[name.len() - 4..].eq_ignore_ascii_case(".txt")
}

impl ExportArchive {
    /// Open with default limits.
    pub fn open(path: &Path) -> Result<Self, ArchiveError> {
        Self::open_with(path, ArchiveOptions::default())
    }

    /// Open a `.zip` (detected by its `PK` signature, whatever the extension) or a text export.
    pub fn open_with(path: &Path, opts: ArchiveOptions) -> Result<Self, ArchiveError> {
        let display = path.display().to_string();
        let io_err = |source| ArchiveError::Io {
            path: display.clone(),
            source,
        };
        let mut file = File::open(path).map_err(io_err)?;
        let mut magic = [0u8; 4];
        let n = read_prefix(&mut file, &mut magic).map_err(io_err)?;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let mut me = ExportArchive {
            path: path.to_path_buf(),
            display: display.clone(),
            opts,
            zip: None,
            chat: ChatText::Path(path.to_path_buf()),
            chat_entry: None,
            media: BTreeMap::new(),
            read_total: 0,
        };
        if n == 4 && (&magic == b"PK\x03\x04" || &magic == b"PK\x05\x06") {
            me.open_zip(file)?;
        }
        Ok(me)
    }

    fn zip_err(&self, e: impl fmt::Display) -> ArchiveError {
        ArchiveError::Zip {
            path: self.display.clone(),
            detail: e.to_string(),
        }
    }

    fn open_zip(&mut self, file: File) -> Result<(), ArchiveError> {
        let mut zip = ZipArchive::new(BufReader::new(file)).map_err(|e| self.zip_err(e))?;
        let path = self.display.clone();
        if zip.len() > self.opts.max_entries {
            return Err(ArchiveError::TooManyEntries {
                path,
                max: self.opts.max_entries,
            });
        }
        let mut total: u64 = 0;
        let mut texts: Vec<(String, usize)> = Vec::new();
        for i in 0..zip.len() {
            let f = zip.by_index_raw(i).map_err(|e| self.zip_err(e))?;
            let entry = String::from_utf8_lossy(f.name_raw()).into_owned();
            if let Some(reason) = unsafe_reason(&entry) {
                return Err(ArchiveError::UnsafePath {
                    path,
                    entry,
                    reason,
                });
            }
            if f.is_symlink() {
                return Err(ArchiveError::Symlink { path, entry });
            }
            if f.encrypted() {
                return Err(ArchiveError::Encrypted { path, entry });
            }
            if f.is_dir() || entry.ends_with('/') {
                continue;
            }
            let size = f.size();
            if size > self.opts.max_entry_uncompressed {
                return Err(ArchiveError::EntryTooLarge {
                    path,
                    entry,
                    max: self.opts.max_entry_uncompressed,
                });
            }
            if size > self.opts.ratio_min_bytes
                && size
                    > f.compressed_size()
                        .max(1)
                        .saturating_mul(self.opts.max_ratio)
            {
                return Err(ArchiveError::Ratio {
                    path,
                    entry,
                    max: self.opts.max_ratio,
                });
            }
            total = total.saturating_add(size);
            if total > self.opts.max_total_uncompressed {
                return Err(ArchiveError::TotalTooLarge {
                    path,
                    max: self.opts.max_total_uncompressed,
                });
            }
            let base = base_name(&entry).to_string();
            // macOS re-zips add resource forks (`__MACOSX/…`, `._name`): not part of the export.
            if entry.starts_with("__MACOSX/") || base.starts_with("._") || base.is_empty() {
                continue;
            }
            if is_txt(&base) {
                texts.push((entry.clone(), i));
            }
            self.media.entry(base.clone()).or_insert(MediaEntry {
                name: base,
                entry_name: entry,
                size,
                index: i,
            });
        }
        let pick = {
            let by = |pred: &dyn Fn(&str) -> bool| {
                texts
                    .iter()
                    .filter(|(n, _)| pred(base_name(n)))
                    .cloned()
                    .collect::<Vec<_>>()
            };
            let chat = by(&|b| b == "_chat.txt");
            let wa = by(&|b| b.starts_with("WhatsApp Chat") || b.starts_with("WhatsApp-Chat"));
            if chat.len() == 1 {
                chat
            } else if wa.len() == 1 {
                wa
            } else {
                texts.clone()
            }
        };
        let (entry, index) = match pick.as_slice() {
            [one] => one.clone(),
            [] => return Err(ArchiveError::NoChatText { path }),
            many => {
                let names = many
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ArchiveError::AmbiguousChatText { path, names });
            }
        };
        self.media.remove(base_name(&entry));
        self.chat_entry = Some(entry.clone());
        self.zip = Some(zip);
        self.chat = self.spool_chat(index, &entry)?;
        Ok(())
    }

    fn limit_error(&self, e: io::Error, entry: &str) -> ArchiveError {
        let path = self.display.clone();
        match e.get_ref().and_then(|x| x.downcast_ref::<LimitHit>()) {
            Some(LimitHit::Ratio) => ArchiveError::Ratio {
                path,
                entry: entry.to_string(),
                max: self.opts.max_ratio,
            },
            Some(LimitHit::Entry) => ArchiveError::EntryTooLarge {
                path,
                entry: entry.to_string(),
                max: self.opts.max_entry_uncompressed,
            },
            Some(LimitHit::Total) => ArchiveError::TotalTooLarge {
                path,
                max: self.opts.max_total_uncompressed,
            },
            None => ArchiveError::Io {
                path: format!("{path}: {entry}"),
                source: e,
            },
        }
    }

    /// Decompress entry `index` into `out` under all caps (`max` = caller cap for this entry).
    fn copy_entry<W: Write>(
        &mut self,
        index: usize,
        entry: &str,
        out: &mut W,
        max: u64,
    ) -> Result<u64, ArchiveError> {
        let opts = self.opts.clone();
        let total_before = self.read_total;
        let Some(zip) = self.zip.as_mut() else {
            return Err(ArchiveError::NoSuchMedia {
                path: self.display.clone(),
                name: entry.to_string(),
            });
        };
        let res = match zip.by_index(index) {
            Ok(f) => {
                let compressed = f.compressed_size();
                let mut g = Guarded {
                    inner: f,
                    produced: 0,
                    max: max.min(opts.max_entry_uncompressed),
                    compressed,
                    max_ratio: opts.max_ratio,
                    ratio_min: opts.ratio_min_bytes,
                    total_before,
                    max_total: opts.max_total_uncompressed,
                };
                let r = io::copy(&mut g, out);
                Ok((r, g.produced))
            }
            Err(e) => Err(e.to_string()),
        };
        let (r, produced) = res.map_err(|e| self.zip_err(format!("{entry}: {e}")))?;
        self.read_total += produced;
        r.map_err(|e| self.limit_error(e, entry))
    }

    fn spool_chat(&mut self, index: usize, entry: &str) -> Result<ChatText, ArchiveError> {
        let read_before = self.read_total;
        let mut buf = Vec::new();
        let mut first = LimitedVec {
            v: &mut buf,
            max: self.opts.spool_memory_max,
        };
        // First try to fit in memory; on overflow restart into a temp file.
        match self.copy_entry(index, entry, &mut first, u64::MAX) {
            Ok(_) => return Ok(ChatText::Memory(Arc::new(buf))),
            Err(ArchiveError::Io { source, .. }) if source.kind() == io::ErrorKind::WriteZero => {}
            Err(e) => return Err(e),
        }
        self.read_total = read_before;
        let dir = self
            .opts
            .spool_dir
            .clone()
            .unwrap_or_else(std::env::temp_dir);
        let io_err = |source| ArchiveError::Io {
            path: format!("{}: spool in {}", self.display, dir.display()),
            source,
        };
        let mut tmp = tempfile::tempfile_in(&dir).map_err(io_err)?;
        self.copy_entry(index, entry, &mut tmp, u64::MAX)?;
        tmp.seek(SeekFrom::Start(0))
            .map_err(|source| ArchiveError::Io {
                path: self.display.clone(),
                source,
            })?;
        Ok(ChatText::Spooled(tmp))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_zip(&self) -> bool {
        self.zip.is_some()
    }

    /// Entry name of the chat text inside a zip.
    pub fn chat_entry_name(&self) -> Option<&str> {
        self.chat_entry.as_deref()
    }

    /// Chat name: from `WhatsApp Chat with X.txt` inside the zip when present, else from the file path.
    pub fn chat_name(&self) -> String {
        match self.chat_entry.as_deref().map(base_name) {
            Some(b) if b.starts_with("WhatsApp") => super::chat_name_from_path(Path::new(b)),
            _ => super::chat_name_from_path(&self.path),
        }
    }

    /// A fresh owned reader over the chat text, positioned at its start.
    pub fn chat_reader(&self) -> Result<ChatTextReader, ArchiveError> {
        let io_err = |source| ArchiveError::Io {
            path: self.display.clone(),
            source,
        };
        Ok(ChatTextReader(match &self.chat {
            ChatText::Path(p) => ReaderInner::File(File::open(p).map_err(io_err)?),
            ChatText::Memory(b) => ReaderInner::Memory(Cursor::new(SharedBytes(Arc::clone(b)))),
            ChatText::Spooled(f) => {
                let mut f = f.try_clone().map_err(io_err)?;
                f.seek(SeekFrom::Start(0)).map_err(io_err)?;
                ReaderInner::File(f)
            }
        }))
    }

    /// Pass 1 only: the date order of the chat text.
    pub fn detect_date_order(
        &self,
        opts: &ParseOptions,
    ) -> Result<DateOrderDecision, ArchiveError> {
        let r = BufReader::with_capacity(1 << 16, self.chat_reader()?);
        detect_date_order(r, opts).map_err(|source| ArchiveError::Parse {
            path: self.display_chat(),
            source,
        })
    }

    /// Both passes: decide the date order (unless `order` overrides it) and return the streaming parser.
    /// The parser owns its reader, so media can be read from `self` while iterating.
    /// Errors met while iterating are [`ParseError`]s naming the line; prefix them with [`Self::display_chat`].
    pub fn records(
        &self,
        order: Option<DateOrder>,
        opts: ParseOptions,
    ) -> Result<ExportParser<BufReader<ChatTextReader>>, ArchiveError> {
        let decision = match order {
            Some(o) => DateOrderDecision::overridden(o),
            None => self.detect_date_order(&opts)?,
        };
        let r = BufReader::with_capacity(1 << 16, self.chat_reader()?);
        Ok(ExportParser::with_decision(r, decision, opts))
    }

    /// `archive.zip: _chat.txt` or the text file path, for error messages.
    pub fn display_chat(&self) -> String {
        match &self.chat_entry {
            Some(e) => format!("{}: {}", self.display, e),
            None => self.display.clone(),
        }
    }

    /// Non-chat files of a zip, by base name.
    pub fn media(&self) -> impl Iterator<Item = &MediaEntry> {
        self.media.values()
    }

    pub fn media_entry(&self, name: &str) -> Option<&MediaEntry> {
        self.media.get(name)
    }

    pub fn has_media(&self, name: &str) -> bool {
        self.media.contains_key(name)
    }

    /// Read a media file into memory (at most `max_bytes`).
    pub fn read_media(&mut self, name: &str, max_bytes: u64) -> Result<Vec<u8>, ArchiveError> {
        let e = self.lookup(name)?;
        if e.size > max_bytes {
            return Err(ArchiveError::MediaTooLarge {
                path: self.display.clone(),
                name: name.to_string(),
                max: max_bytes,
            });
        }
        let mut v = Vec::with_capacity(e.size.min(max_bytes).min(64 << 20) as usize);
        self.copy_capped(&e, &mut v, max_bytes)?;
        Ok(v)
    }

    /// Stream a media file into `out` (at most `max_bytes`); returns bytes written.
    pub fn copy_media<W: Write>(
        &mut self,
        name: &str,
        out: &mut W,
        max_bytes: u64,
    ) -> Result<u64, ArchiveError> {
        let e = self.lookup(name)?;
        if e.size > max_bytes {
            return Err(ArchiveError::MediaTooLarge {
                path: self.display.clone(),
                name: name.to_string(),
                max: max_bytes,
            });
        }
        self.copy_capped(&e, out, max_bytes)
    }

    fn lookup(&self, name: &str) -> Result<MediaEntry, ArchiveError> {
        self.media
            .get(name)
            .cloned()
            .ok_or_else(|| ArchiveError::NoSuchMedia {
                path: self.display.clone(),
                name: name.to_string(),
            })
    }

    fn copy_capped<W: Write>(
        &mut self,
        e: &MediaEntry,
        out: &mut W,
        max: u64,
    ) -> Result<u64, ArchiveError> {
        match self.copy_entry(e.index, &e.entry_name, out, max) {
            Err(ArchiveError::EntryTooLarge { path, .. })
                if max < self.opts.max_entry_uncompressed =>
            {
                Err(ArchiveError::MediaTooLarge {
                    path,
                    name: e.name.clone(),
                    max,
                })
            }
            r => r,
        }
    }
}

fn read_prefix(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// A `Write` into a Vec that fails with `WriteZero` past `max` bytes.
struct LimitedVec<'a> {
    v: &'a mut Vec<u8>,
    max: usize,
}

impl Write for LimitedVec<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.v.len() + buf.len() > self.max {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "spool memory limit",
            ));
        }
        self.v.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::export::parser::RecordKind;
    use zip::write::SimpleFileOptions;

    const FX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chat-export/");

    fn build_zip(entries: &[(&str, &[u8])], symlink: Option<&str>) -> tempfile::NamedTempFile {
        let tmp = tempfile::Builder::new().suffix(".zip").tempfile().unwrap();
        let mut w = zip::ZipWriter::new(tmp.reopen().unwrap());
        let o = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in entries {
            w.start_file(*name, o).unwrap();
            w.write_all(data).unwrap();
        }
        if let Some(target) = symlink {
            w.add_symlink("link.jpg", target, o).unwrap();
        }
        w.finish().unwrap();
        tmp
    }

    const CHAT: &[u8] =
        b"02/03/2026, 09:20 - Rajesh: IMG-1.jpg (file attached)\n13/03/2026, 09:21 - Rajesh: ok\n";

    #[test]
    fn ios_zip_fixture() {
        let mut a = ExportArchive::open(Path::new(&format!(
            "{FX}WhatsApp Chat - Ops Menara Contoh.zip"
        )))
        .unwrap();
        assert!(a.is_zip());
        assert_eq!(a.chat_entry_name(), Some("_chat.txt"));
        assert_eq!(a.chat_name(), "Ops Menara Contoh");
        let names: Vec<&str> = a.media().map(|m| m.name.as_str()).collect();
        assert_eq!(names.len(), 4);
        let recs: Vec<_> = a
            .records(None, ParseOptions::default())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(recs.len(), 14);
        let mut found = 0;
        for r in &recs {
            if let RecordKind::Media {
                filename: Some(f), ..
            } = &r.kind
            {
                assert!(a.has_media(f), "{f}");
                let bytes = a.read_media(f, 1 << 20).unwrap();
                assert_eq!(bytes.len() as u64, a.media_entry(f).unwrap().size);
                found += 1;
            }
        }
        assert_eq!(found, 4);
        let jpg = a
            .read_media("00000005-PHOTO-2026-03-02-09-20-11.jpg", 1 << 20)
            .unwrap();
        assert_eq!(&jpg[..2], &[0xFF, 0xD8]);
        let e = a
            .read_media("00000005-PHOTO-2026-03-02-09-20-11.jpg", 10)
            .unwrap_err();
        assert!(matches!(e, ArchiveError::MediaTooLarge { .. }), "{e}");
        assert!(matches!(
            a.read_media("nope.jpg", 10),
            Err(ArchiveError::NoSuchMedia { .. })
        ));
    }

    #[test]
    fn android_zip_fixture_media_while_iterating() {
        let mut a = ExportArchive::open(Path::new(&format!(
            "{FX}WhatsApp Chat with Ops Menara Contoh.zip"
        )))
        .unwrap();
        assert_eq!(
            a.chat_entry_name(),
            Some("WhatsApp Chat with Ops Menara Contoh.txt")
        );
        assert_eq!(a.chat_name(), "Ops Menara Contoh");
        let parser = a.records(None, ParseOptions::default()).unwrap();
        let mut copied = 0u64;
        let mut count = 0;
        for r in parser {
            let r = r.unwrap();
            count += 1;
            if let RecordKind::Media {
                filename: Some(f),
                omitted: false,
                ..
            } = &r.kind
            {
                let mut out = Vec::new();
                copied += a.copy_media(f, &mut out, 1 << 20).unwrap();
                assert_eq!(out.len() as u64, a.media_entry(f).unwrap().size);
            }
        }
        assert_eq!(count, 25);
        assert_eq!(copied, 632 + 79 + 68 + 329);
    }

    #[test]
    fn plain_txt_opens() {
        let a = ExportArchive::open(Path::new(&format!("{FX}android_en_24h_dmy.txt"))).unwrap();
        assert!(!a.is_zip());
        assert_eq!(a.media().count(), 0);
        assert_eq!(
            a.records(None, ParseOptions::default()).unwrap().count(),
            10
        );
        assert_eq!(a.chat_name(), "android_en_24h_dmy");
    }

    #[test]
    fn path_traversal_refused() {
        let z = build_zip(&[("_chat.txt", CHAT), ("../evil.jpg", b"x")], None);
        let e = ExportArchive::open(z.path()).unwrap_err();
        assert!(
            matches!(
                e,
                ArchiveError::UnsafePath {
                    reason: "parent-directory component",
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string().contains("\"../evil.jpg\" has an unsafe path"),
            "{e}"
        );
        let z = build_zip(&[("_chat.txt", CHAT), ("media/../../evil.jpg", b"x")], None);
        assert!(matches!(
            ExportArchive::open(z.path()),
            Err(ArchiveError::UnsafePath { .. })
        ));
    }

    #[test]
    fn absolute_paths_refused() {
        for name in ["/etc/passwd", "\\windows\\x.jpg", "C:/x.jpg"] {
            let z = build_zip(&[("_chat.txt", CHAT), (name, b"x")], None);
            let e = ExportArchive::open(z.path()).unwrap_err();
            assert!(matches!(e, ArchiveError::UnsafePath { .. }), "{name}: {e}");
        }
    }

    #[test]
    fn symlink_refused() {
        let z = build_zip(&[("_chat.txt", CHAT)], Some("/etc/passwd"));
        let e = ExportArchive::open(z.path()).unwrap_err();
        assert!(matches!(e, ArchiveError::Symlink { .. }), "{e}");
        assert!(e.to_string().contains("symbolic link"));
    }

    #[test]
    fn high_ratio_bomb_refused() {
        let zeros = vec![0u8; 8 << 20];
        let z = build_zip(&[("_chat.txt", CHAT), ("IMG-1.jpg", &zeros)], None);
        let e = ExportArchive::open(z.path()).unwrap_err();
        assert!(matches!(e, ArchiveError::Ratio { max: 100, .. }), "{e}");
        assert!(e.to_string().contains("possible zip bomb"), "{e}");
        // A bomb in the chat text itself too.
        let mut chat = CHAT.to_vec();
        chat.extend(std::iter::repeat_n(b' ', 8 << 20));
        let z = build_zip(&[("_chat.txt", &chat)], None);
        assert!(matches!(
            ExportArchive::open(z.path()),
            Err(ArchiveError::Ratio { .. })
        ));
    }

    #[test]
    fn runtime_ratio_guard_catches_what_headers_hide() {
        // Declared sizes pass (limits checked on the header are lenient here) but the guard stops the read.
        let zeros = vec![0u8; 4 << 20];
        let z = build_zip(&[("_chat.txt", CHAT), ("IMG-1.jpg", &zeros)], None);
        let opts = ArchiveOptions {
            max_ratio: 100,
            ratio_min_bytes: 1 << 30,
            ..Default::default()
        };
        let mut a = ExportArchive::open_with(z.path(), opts).unwrap();
        a.opts.ratio_min_bytes = 1 << 20; // the read-time guard uses the same limits
        let e = a.read_media("IMG-1.jpg", u64::MAX).unwrap_err();
        assert!(matches!(e, ArchiveError::Ratio { .. }), "{e}");
    }

    #[test]
    fn huge_total_refused() {
        let blob: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let z = build_zip(
            &[
                ("_chat.txt", CHAT),
                ("a.jpg", &blob),
                ("b.jpg", &blob),
                ("c.jpg", &blob),
            ],
            None,
        );
        let opts = ArchiveOptions {
            max_total_uncompressed: 800_000,
            ..Default::default()
        };
        let e = ExportArchive::open_with(z.path(), opts).unwrap_err();
        assert!(
            matches!(e, ArchiveError::TotalTooLarge { max: 800_000, .. }),
            "{e}"
        );
        let opts = ArchiveOptions {
            max_entry_uncompressed: 200_000,
            ..Default::default()
        };
        let e = ExportArchive::open_with(z.path(), opts).unwrap_err();
        assert!(matches!(e, ArchiveError::EntryTooLarge { .. }), "{e}");
        let opts = ArchiveOptions {
            max_entries: 3,
            ..Default::default()
        };
        assert!(matches!(
            ExportArchive::open_with(z.path(), opts),
            Err(ArchiveError::TooManyEntries { .. })
        ));
    }

    #[test]
    fn chat_text_selection() {
        let z = build_zip(&[("a.txt", CHAT), ("b.txt", CHAT)], None);
        let e = ExportArchive::open(z.path()).unwrap_err();
        assert!(matches!(e, ArchiveError::AmbiguousChatText { .. }), "{e}");
        let z = build_zip(&[("IMG-1.jpg", b"x")], None);
        assert!(matches!(
            ExportArchive::open(z.path()),
            Err(ArchiveError::NoChatText { .. })
        ));
        let z = build_zip(
            &[
                ("notes.txt", b"x"),
                ("WhatsApp Chat with Team.txt", CHAT),
                ("__MACOSX/._x.txt", b"x"),
            ],
            None,
        );
        let a = ExportArchive::open(z.path()).unwrap();
        assert_eq!(a.chat_entry_name(), Some("WhatsApp Chat with Team.txt"));
        assert_eq!(a.chat_name(), "Team");
        assert!(a.has_media("notes.txt"));
        let z = build_zip(&[("only.txt", CHAT), ("sub/IMG-1.jpg", b"x")], None);
        let a = ExportArchive::open(z.path()).unwrap();
        assert_eq!(a.chat_entry_name(), Some("only.txt"));
        assert!(a.has_media("IMG-1.jpg"));
    }

    #[test]
    fn non_utf8_names_tolerated() {
        // Build with a raw Latin-1 name by patching an ASCII placeholder in the written bytes.
        let z = build_zip(&[("_chat.txt", CHAT), ("caf#.jpg", b"x")], None);
        let mut bytes = std::fs::read(z.path()).unwrap();
        let pat = b"caf#.jpg";
        let mut hits = 0;
        for i in 0..bytes.len() - pat.len() {
            if &bytes[i..i + pat.len()] == pat {
                bytes[i + 3] = 0xE9;
                hits += 1;
            }
        }
        assert_eq!(hits, 2);
        std::fs::write(z.path(), &bytes).unwrap();
        let a = ExportArchive::open(z.path()).unwrap();
        assert!(a.has_media("caf\u{fffd}.jpg"));
    }

    #[test]
    fn large_chat_text_spools_to_temp_file() {
        let mut chat = Vec::new();
        for i in 0..5000 {
            chat.extend_from_slice(
                format!(
                    "13/03/2026, 09:{:02} - A{}: message number {i} with some text\n",
                    i % 60,
                    i % 7
                )
                .as_bytes(),
            );
        }
        let z = build_zip(&[("_chat.txt", &chat)], None);
        let dir = tempfile::tempdir().unwrap();
        let opts = ArchiveOptions {
            spool_memory_max: 10_000,
            spool_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        let a = ExportArchive::open_with(z.path(), opts).unwrap();
        assert!(matches!(a.chat, ChatText::Spooled(_)));
        assert_eq!(
            a.records(None, ParseOptions::default()).unwrap().count(),
            5000
        );
        // twice: each call gets a fresh reader
        assert_eq!(
            a.records(None, ParseOptions::default()).unwrap().count(),
            5000
        );
        // anonymous temp file: nothing left visible in the spool dir
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
