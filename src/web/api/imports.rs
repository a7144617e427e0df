//! Chat-export uploads (`POST /api/v1/imports`) and the list of past imports.
//!
//! The upload is the raw file (`Content-Type: application/zip`, `text/plain` or `application/octet-stream`, name in
//! `?filename=` or `X-Filename`) or a `multipart/form-data` form whose file part carries it (text parts `chat` and
//! `site` are read too, by axum's multipart support). The file is streamed into the data dir's `tmp/` once (never
//! anywhere else), capped at `server.upload_body_limit`, then imported exactly as `tapak import` does.

use std::path::Path;

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

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

fn is_multipart(h: &HeaderMap) -> bool {
    header(h, "content-type").is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("multipart/form-data"))
    })
}

/// What a multipart form held: its first file part, spooled, and the small text fields.
#[derive(Default)]
struct Form {
    file: Option<(tempfile::NamedTempFile, u64)>,
    filename: Option<String>,
    chat: Option<String>,
    site: Option<String>,
}

fn multipart_error(limit: usize) -> impl Fn(axum::extract::multipart::MultipartError) -> ApiError {
    move |e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            too_large(limit)
        } else {
            ApiError::Invalid(format!("malformed multipart body: {}", e.body_text()))
        }
    }
}

/// Reads a multipart form: the first part with a file name (or named `file`) is streamed into a new file in `tmp`
/// (bounded memory, written once); the text fields `chat`, `site` and `filename` are read (1 KiB at most each).
async fn receive_form(mut mp: Multipart, tmp: &Path, limit: usize) -> ApiResult<Form> {
    let bad = multipart_error(limit);
    let mut form = Form::default();
    while let Some(mut field) = mp.next_field().await.map_err(&bad)? {
        let name = field.name().unwrap_or("").to_string();
        let file_name = field.file_name().map(str::to_string);
        if form.file.is_none() && (file_name.is_some() || name == "file") {
            form.filename = file_name.as_deref().and_then(base_name).or(form.filename);
            form.file = Some(spool(field, tmp, limit, &bad).await?);
        } else if file_name.is_some() {
            // Another file: only the first is imported.
            while field.chunk().await.map_err(&bad)?.is_some() {}
        } else {
            let mut v = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(&bad)? {
                if v.len() + chunk.len() > 1024 {
                    return Err(ApiError::invalid("form field longer than 1024 bytes"));
                }
                v.extend_from_slice(&chunk);
            }
            let text = String::from_utf8_lossy(&v).trim().to_string();
            if text.is_empty() {
                continue;
            }
            match name.as_str() {
                "chat" => form.chat = Some(text),
                "site" => form.site = Some(text),
                "filename" => form.filename = form.filename.or(Some(text)),
                _ => {}
            }
        }
    }
    if form.file.is_none() {
        return Err(ApiError::invalid("the form has no file part"));
    }
    Ok(form)
}

/// Streams chunks (a raw body or a form's file part) into a new file in `tmp`, refusing more than `limit` bytes.
async fn spool<E>(
    chunks: impl futures_util::Stream<Item = Result<axum::body::Bytes, E>>,
    tmp: &Path,
    limit: usize,
    bad: impl Fn(E) -> ApiError,
) -> ApiResult<(tempfile::NamedTempFile, u64)> {
    use futures_util::StreamExt;
    let file = tempfile::NamedTempFile::new_in(tmp)
        .map_err(|e| ApiError::internal(format!("{}: {e}", tmp.display())))?;
    let write_error =
        |e: std::io::Error| ApiError::internal(format!("cannot write the upload: {e}"));
    let mut out = tokio::fs::File::from_std(file.as_file().try_clone().map_err(write_error)?);
    let mut chunks = std::pin::pin!(chunks);
    let mut total: u64 = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(&bad)?;
        total += chunk.len() as u64;
        if total > limit as u64 {
            return Err(too_large(limit));
        }
        out.write_all(&chunk).await.map_err(write_error)?;
    }
    out.flush().await.map_err(write_error)?;
    Ok((file, total))
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
    req: Request,
) -> ApiResult<Json<ImportSummary>> {
    caller.require(Permission::Manage)?;
    let limit = st.cfg.server.upload_body_limit;
    let headers = req.headers();
    if let Some(len) = header(headers, "content-length").and_then(|v| v.trim().parse::<u64>().ok())
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
    let mut chat = q.chat.clone();
    let mut site = q.site.clone();
    let mut filename = q
        .filename
        .as_deref()
        .or_else(|| header(headers, "x-filename"))
        .and_then(base_name);
    let (file, size) = if is_multipart(headers) {
        let mp = Multipart::from_request(req, &()).await.map_err(|e| {
            ApiError::Invalid(format!("malformed multipart body: {}", e.body_text()))
        })?;
        let form = receive_form(mp, &tmp, limit).await?;
        chat = chat.or(form.chat);
        site = site.or(form.site);
        filename = filename.or(form.filename);
        form.file
            .ok_or_else(|| ApiError::invalid("the form has no file part"))?
    } else {
        spool(req.into_body().into_data_stream(), &tmp, limit, |e| {
            ApiError::invalid(format!("upload interrupted: {e}"))
        })
        .await?
    };
    if size == 0 {
        return Err(ApiError::invalid(
            "the upload is empty: send the export file as the request body",
        ));
    }
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
    .map_err(|e| ApiError::internal(format!("import task failed: {e}")))?;
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
        Err(ImportError::Runtime(m)) => Err(ApiError::internal(m)),
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
