//! Chat-export uploads (`POST /api/v1/imports`) and the list of past imports.
//!
//! The upload is the raw file (`Content-Type: application/zip`, `text/plain` or `application/octet-stream`, name in
//! `?filename=` or `X-Filename`) or a `multipart/form-data` form whose file part carries it (text parts `chat` and
//! `site` are read too). The body is streamed into the data dir's `tmp/` (never anywhere else), capped at
//! `server.upload_body_limit`, then imported exactly as `tapak import` does.

use std::io::{Read, Write};
use std::pin::Pin;

use axum::body::{Body, HttpBody};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;

use super::Page;
use crate::auth::Permission;
use crate::ingest::export::DateOrder;
use crate::ingest::import::{self, ImportError, ImportOptions, ImportSummary};
use crate::store::imports::{self as store_imports, ImportRow};
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ApiResult, QueryParams};
use crate::web::AppState;

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadParams {
    /// Chat name (found case-insensitively, created when new); default: from the file name.
    pub chat: Option<String>,
    /// Site name (created when new).
    pub site: Option<String>,
    /// The uploaded file's name (`WhatsApp Chat with X.zip`), for the chat name and messages.
    pub filename: Option<String>,
    /// Parse and count without writing.
    pub dry_run: Option<bool>,
    /// `day_first`, `month_first` or `year_first` when the dates are ambiguous.
    pub date_order: Option<String>,
}

#[derive(Debug, Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportListParams {
    /// Page size, default 50, at most 500.
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Only the last path component, without control characters: the name is shown and parsed, never used as a path.
fn base_name(s: &str) -> Option<String> {
    let b = s.rsplit(['/', '\\']).next().unwrap_or(s);
    let b: String = b.chars().filter(|c| !c.is_control()).collect();
    let b = b.trim().to_string();
    (!b.is_empty() && b != "." && b != "..").then_some(b)
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// `boundary` parameter of a `multipart/form-data` content type.
fn multipart_boundary(ct: &str) -> Option<String> {
    let (mime, params) = ct.split_once(';')?;
    if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty() && b.len() <= 200)
    })
}

/// A `key="value"` parameter of a part's Content-Disposition header.
fn disposition_param(h: &str, key: &str) -> Option<String> {
    let lower = h.to_ascii_lowercase();
    let pat = format!("{key}=\"");
    let mut from = 0;
    while let Some(i) = lower[from..].find(&pat) {
        let at = from + i;
        let boundary_ok = at == 0 || matches!(lower.as_bytes()[at - 1], b' ' | b';' | b'\t');
        let start = at + pat.len();
        if boundary_ok {
            let end = h[start..].find('"')? + start;
            return Some(h[start..end].to_string());
        }
        from = start;
    }
    None
}

/// What a multipart body held.
#[derive(Debug, Default, PartialEq)]
struct Form {
    filename: Option<String>,
    chat: Option<String>,
    site: Option<String>,
    has_file: bool,
}

enum Sink {
    Skip,
    File,
    Field(String, Vec<u8>),
}

/// Streams the file part of the multipart body in `src` into `dest` (bounded memory); small text fields are read.
fn extract_multipart(
    src: &mut impl Read,
    boundary: &str,
    dest: &mut impl Write,
) -> Result<Form, String> {
    let delim: Vec<u8> = format!("\r\n--{boundary}").into_bytes();
    // The first delimiter has no CRLF before it: pretend it had.
    let mut buf: Vec<u8> = b"\r\n".to_vec();
    let mut chunk = vec![0u8; 1 << 16];
    let mut eof = false;
    let mut form = Form::default();
    let mut sink = Sink::Skip;
    let mut in_headers = false;
    let mut done = false;
    let emit = |sink: &mut Sink, bytes: &[u8], dest: &mut dyn Write| -> Result<(), String> {
        match sink {
            Sink::Skip => Ok(()),
            Sink::File => dest
                .write_all(bytes)
                .map_err(|e| format!("cannot write the upload: {e}")),
            Sink::Field(_, v) => {
                if v.len() + bytes.len() > 1024 {
                    return Err("form field longer than 1024 bytes".into());
                }
                v.extend_from_slice(bytes);
                Ok(())
            }
        }
    };
    let finish = |sink: &mut Sink, form: &mut Form| {
        if let Sink::Field(name, v) = std::mem::replace(sink, Sink::Skip) {
            let s = String::from_utf8_lossy(&v).trim().to_string();
            match name.as_str() {
                "chat" if !s.is_empty() => form.chat = Some(s),
                "site" if !s.is_empty() => form.site = Some(s),
                "filename" if !s.is_empty() => form.filename = form.filename.take().or(Some(s)),
                _ => {}
            }
        }
    };
    while !done {
        if !eof && buf.len() < delim.len() + 4 + (1 << 16) {
            let n = src
                .read(&mut chunk)
                .map_err(|e| format!("cannot read the upload: {e}"))?;
            if n == 0 {
                eof = true;
            } else {
                buf.extend_from_slice(&chunk[..n]);
                continue;
            }
        }
        if in_headers {
            let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                if eof || buf.len() > 16 * 1024 {
                    return Err("malformed multipart body: part headers not terminated".into());
                }
                continue;
            };
            let headers = String::from_utf8_lossy(&buf[..end]).into_owned();
            buf.drain(..end + 4);
            in_headers = false;
            let disp = headers
                .split("\r\n")
                .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
                .unwrap_or("");
            let name = disposition_param(disp, "name").unwrap_or_default();
            match disposition_param(disp, "filename") {
                Some(f) if !form.has_file => {
                    form.has_file = true;
                    if let Some(b) = base_name(&f) {
                        form.filename = Some(b);
                    }
                    sink = Sink::File;
                }
                Some(_) => sink = Sink::Skip,
                None if name == "file" && !form.has_file => {
                    form.has_file = true;
                    sink = Sink::File;
                }
                None => sink = Sink::Field(name, Vec::new()),
            }
            continue;
        }
        // Body: find the next delimiter.
        let found = find(&buf, &delim);
        match found {
            Some(i) => {
                emit(&mut sink, &buf[..i], dest)?;
                finish(&mut sink, &mut form);
                let after = i + delim.len();
                // Need 2 bytes after the delimiter: "--" (end) or "\r\n" (next part), maybe after padding.
                if buf.len() < after + 2 && !eof {
                    // Read more and retry from the same delimiter.
                    buf.drain(..i);
                    let n = src
                        .read(&mut chunk)
                        .map_err(|e| format!("cannot read the upload: {e}"))?;
                    if n == 0 {
                        eof = true;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    // Re-insert nothing: sink is Skip now, the delimiter is found again next round.
                    continue;
                }
                if buf.get(after..after + 2) == Some(b"--") {
                    done = true;
                } else {
                    let mut j = after;
                    while matches!(buf.get(j), Some(b' ') | Some(b'\t')) {
                        j += 1;
                    }
                    if buf.get(j..j + 2) != Some(b"\r\n") {
                        return Err("malformed multipart body: bad delimiter line".into());
                    }
                    buf.drain(..j + 2);
                    in_headers = true;
                }
            }
            None => {
                if eof {
                    return Err("malformed multipart body: no closing boundary".into());
                }
                let keep = delim.len() - 1;
                if buf.len() > keep {
                    let cut = buf.len() - keep;
                    emit(&mut sink, &buf[..cut], dest)?;
                    buf.drain(..cut);
                }
            }
        }
    }
    if !form.has_file {
        return Err("the form has no file part".into());
    }
    Ok(form)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut i = 0;
    while i + needle.len() <= hay.len() {
        match hay[i..hay.len() - needle.len() + 1]
            .iter()
            .position(|&b| b == first)
        {
            None => return None,
            Some(k) => {
                let at = i + k;
                if &hay[at..at + needle.len()] == needle {
                    return Some(at);
                }
                i = at + 1;
            }
        }
    }
    None
}

/// Streams the request body into `file`, refusing more than `limit` bytes.
async fn spool_body(body: Body, file: std::fs::File, limit: usize) -> ApiResult<u64> {
    let mut body = body;
    let mut out = tokio::fs::File::from_std(file);
    let mut total: u64 = 0;
    use tokio::io::AsyncWriteExt;
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| ApiError::invalid(format!("upload interrupted: {e}")))?;
        if let Ok(data) = frame.into_data() {
            total += data.len() as u64;
            if total > limit as u64 {
                return Err(too_large(limit));
            }
            out.write_all(&data)
                .await
                .map_err(|e| ApiError::Internal(format!("cannot spool the upload: {e}")))?;
        }
    }
    out.flush()
        .await
        .map_err(|e| ApiError::Internal(format!("cannot spool the upload: {e}")))?;
    Ok(total)
}

fn too_large(limit: usize) -> ApiError {
    ApiError::TooLarge(format!(
        "the upload is larger than server.upload_body_limit ({limit} bytes)"
    ))
}

/// Upload a WhatsApp chat export (`.txt`, or `.zip` with media) and import it, all or nothing. Same rules and summary
/// as `tapak import`: re-uploading the same or an overlapping export adds nothing twice, lines already received live
/// through a gateway are matched, not duplicated. Body: the raw file, or `multipart/form-data` with a file part.
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports", params(UploadParams),
    request_body(content = Vec<u8>, description = "the export file (raw) or a multipart form with a file part",
        content_type = "application/octet-stream"),
    responses((status = 200, description = "the import summary", body = ImportSummary),
        (status = 400, description = "not a readable export; the message names the file and line"),
        (status = 403, description = "role may not import"), (status = 413, description = "larger than server.upload_body_limit")),
    security(("token" = []), ("session" = [])))]
pub async fn create(
    State(st): State<AppState>,
    caller: Caller,
    QueryParams(q): QueryParams<UploadParams>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<ImportSummary>> {
    caller.require(Permission::Manage)?;
    let limit = st.cfg.server.upload_body_limit;
    if let Some(len) = header(&headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(too_large(limit));
        }
    }
    let date_order = match &q.date_order {
        Some(o) => Some(DateOrder::parse(o).ok_or_else(|| {
            ApiError::invalid(format!(
                "date_order: expected day_first, month_first or year_first, got {o:?}"
            ))
        })?),
        None => None,
    };
    let tmp = st.evidence.tmp_dir().to_path_buf();
    let raw = tempfile::NamedTempFile::new_in(&tmp)
        .map_err(|e| ApiError::Internal(format!("{}: {e}", tmp.display())))?;
    let handle = raw
        .as_file()
        .try_clone()
        .map_err(|e| ApiError::Internal(format!("cannot spool the upload: {e}")))?;
    let size = spool_body(body, handle, limit).await?;
    if size == 0 {
        return Err(ApiError::invalid(
            "the upload is empty: send the export file as the request body",
        ));
    }
    let boundary = header(&headers, "content-type").and_then(multipart_boundary);
    let mut chat = q.chat.clone();
    let mut site = q.site.clone();
    let mut filename = q
        .filename
        .as_deref()
        .or_else(|| header(&headers, "x-filename"))
        .and_then(base_name);
    let file = match boundary {
        None => raw,
        Some(b) => {
            let tmp2 = tmp.clone();
            let (inner, form) = tokio::task::spawn_blocking(move || -> ApiResult<_> {
                let mut inner = tempfile::NamedTempFile::new_in(&tmp2)
                    .map_err(|e| ApiError::Internal(format!("{}: {e}", tmp2.display())))?;
                let mut src =
                    std::io::BufReader::new(raw.reopen().map_err(|e| {
                        ApiError::Internal(format!("cannot reopen the upload: {e}"))
                    })?);
                let form = {
                    let mut w = std::io::BufWriter::new(inner.as_file_mut());
                    let form =
                        extract_multipart(&mut src, &b, &mut w).map_err(ApiError::Invalid)?;
                    w.flush()
                        .map_err(|e| ApiError::Internal(format!("cannot spool the upload: {e}")))?;
                    form
                };
                Ok((inner, form))
            })
            .await
            .map_err(|e| ApiError::Internal(format!("upload task failed: {e}")))??;
            chat = chat.or(form.chat);
            site = site.or(form.site);
            filename = filename.or(form.filename);
            inner
        }
    };
    let shown = filename.unwrap_or_else(|| "upload".to_string());
    let opts = ImportOptions {
        chat,
        site,
        dry_run: q.dry_run.unwrap_or(false),
        actor: caller.actor(),
        display_name: Some(shown),
        date_order,
    };
    let svc = st.clone();
    let summary = tokio::task::spawn_blocking(move || {
        let r = import::import_path(&svc, file.path(), &opts, &|_| {});
        drop(file);
        r
    })
    .await
    .map_err(|e| ApiError::Internal(format!("import task failed: {e}")))?;
    match summary {
        Ok(mut s) => {
            if s.new > 0 && !s.dry_run {
                match import::process_new(&st).await {
                    Ok(n) => {
                        s.records_created = n;
                        if let Some(id) = s.id.filter(|_| n > 0) {
                            st.db
                                .write(move |tx| {
                                    store_imports::set_records_created(tx, id, n as i64)
                                })
                                .await?;
                        }
                    }
                    Err(e) => {
                        // Stored durably; the background pipeline retries.
                        s.warnings.push(format!(
                            "messages stored, but classifying them failed (retried in the background): {e}"
                        ));
                        st.wake.process.notify_one();
                    }
                }
            }
            Ok(Json(s))
        }
        Err(ImportError::BadInput(m)) => Err(ApiError::Invalid(m)),
        Err(ImportError::Runtime(m)) => Err(ApiError::Internal(m)),
    }
}

/// Past imports, newest first.
#[utoipa::path(get, path = "/api/v1/imports", tag = "imports", params(ImportListParams),
    responses((status = 200, description = "a page of imports", body = Page<ImportRow>)),
    security(("token" = []), ("session" = [])))]
pub async fn list(
    State(st): State<AppState>,
    caller: Caller,
    QueryParams(p): QueryParams<ImportListParams>,
) -> ApiResult<Json<Page<ImportRow>>> {
    caller.require(Permission::ReadOperational)?;
    let limit = match p.limit {
        None => 50,
        Some(n) if (1..=500).contains(&n) => n,
        Some(_) => return Err(ApiError::invalid("limit: must be between 1 and 500")),
    };
    let before = match &p.cursor {
        None => None,
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| ApiError::invalid("cursor: not a cursor returned by this API"))?,
        ),
    };
    let mut items = st
        .db
        .read(move |c| store_imports::list(c, before, limit + 1))
        .await?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|r| r.id.to_string())
    } else {
        None
    };
    Ok(Json(Page { items, next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(parts: &[(&str, Option<&str>, &[u8])], boundary: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for (name, filename, body) in parts {
            v.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match filename {
                Some(f) => v.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/zip\r\n\r\n").as_bytes(),
                ),
                None => v.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            v.extend_from_slice(body);
            v.extend_from_slice(b"\r\n");
        }
        v.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        v
    }

    #[test]
    fn multipart_file_part_is_extracted_byte_exact() {
        let b = "----WebKitFormBoundary7MA4YWxkTrZu0gW";
        // Content that contains CRLFs, dashes and a near-boundary.
        let mut payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        payload.extend_from_slice(b"\r\n------WebKitFormBoundary7MA4YWxkTrZu0g\r\n--");
        let body = form(
            &[
                ("chat", None, b"Ops Menara"),
                (
                    "file",
                    Some("C:\\Users\\x\\WhatsApp Chat with Ops.zip"),
                    &payload,
                ),
                ("site", None, b" Menara Contoh "),
            ],
            b,
        );
        // Read in odd-sized pieces to cross chunk edges.
        struct Dribble<'a>(&'a [u8]);
        impl Read for Dribble<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(7777);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        let f = extract_multipart(&mut Dribble(&body), b, &mut out).unwrap();
        assert_eq!(out, payload);
        assert_eq!(f.filename.as_deref(), Some("WhatsApp Chat with Ops.zip"));
        assert_eq!(f.chat.as_deref(), Some("Ops Menara"));
        assert_eq!(f.site.as_deref(), Some("Menara Contoh"));
        assert_eq!(
            multipart_boundary(&format!("multipart/form-data; boundary=\"{b}\"")).as_deref(),
            Some(b)
        );
        assert_eq!(multipart_boundary("application/zip"), None);
    }

    #[test]
    fn multipart_errors_are_clear() {
        let b = "XyZ";
        let mut out = Vec::new();
        let e = extract_multipart(&mut std::io::Cursor::new(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n\r\nabc"), b, &mut out).unwrap_err();
        assert!(e.contains("no closing boundary"), "{e}");
        let e = extract_multipart(
            &mut std::io::Cursor::new(form(&[("chat", None, b"x")], b)),
            b,
            &mut out,
        )
        .unwrap_err();
        assert!(e.contains("no file part"), "{e}");
    }

    #[test]
    fn names_are_reduced_to_a_base_name() {
        assert_eq!(base_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(
            base_name("a\\b\\WhatsApp Chat - X.zip").as_deref(),
            Some("WhatsApp Chat - X.zip")
        );
        assert_eq!(base_name(".."), None);
        assert_eq!(base_name("  "), None);
    }
}
