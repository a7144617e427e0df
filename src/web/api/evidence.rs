//! Evidence: the JSON record, the original bytes and a JPEG thumbnail. Files are served by tower-http's `ServeFile`,
//! so byte ranges work (voice notes and videos seek in the browser); their ETag is their SHA-256, so `If-None-Match`
//! answers 304.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tower::ServiceExt;
use tower_http::services::ServeFile;

use crate::auth::Permission;
use crate::store::{self, evidence::Evidence};
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ApiResult};
use crate::web::AppState;

#[utoipa::path(get, path = "/api/v1/evidence/{id}", tag = "evidence", params(("id" = i64, Path)),
    responses((status = 200, body = Evidence), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn get_one(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<Evidence>> {
    caller.require(Permission::ReadRecords)?;
    Ok(Json(
        st.db.read(move |c| store::evidence::get(c, id)).await?,
    ))
}

/// Serves a stored file (ranges and `If-Modified-Since` by `ServeFile`, `If-None-Match` here) with the evidence
/// headers. Files are content-addressed, so the ETag never changes for a URL and the file may be cached for good.
async fn send_file(
    req: Request,
    path: std::path::PathBuf,
    mime: &str,
    disposition: Option<String>,
    etag: &str,
) -> ApiResult<Response> {
    let etag = HeaderValue::from_str(&format!("\"{etag}\"")).ok();
    let mut resp = match &etag {
        Some(tag) if none_match(req.headers(), tag) => StatusCode::NOT_MODIFIED.into_response(),
        _ => {
            let mime = mime
                .parse::<mime_guess::mime::Mime>()
                .unwrap_or(mime_guess::mime::APPLICATION_OCTET_STREAM);
            let Ok(resp) = ServeFile::new_with_mime(&path, &mime).oneshot(req).await;
            if resp.status() == StatusCode::NOT_FOUND {
                return Err(ApiError::NotFound(
                    "the file is not in the evidence store".into(),
                ));
            }
            resp.map(Body::new)
        }
    };
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; media-src 'self'; sandbox"),
    );
    if let Some(tag) = etag {
        h.insert(header::ETAG, tag);
    }
    if let Some(d) = disposition.and_then(|d| HeaderValue::from_str(&d).ok()) {
        h.insert(header::CONTENT_DISPOSITION, d);
    }
    Ok(resp)
}

/// Whether `If-None-Match` names `etag` (weakly compared, as RFC 9110 asks for this header) or is `*`.
fn none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let want = etag.to_str().unwrap_or("");
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.trim_start_matches("W/") == want)
}

fn safe_filename(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | '/' | ';'))
        .filter(|c| c.is_ascii())
        .collect()
}

/// The original bytes, byte-identical.
#[utoipa::path(get, path = "/api/v1/evidence/{id}/file", tag = "evidence", params(("id" = i64, Path)),
    responses((status = 200, description = "the original file"), (status = 206, description = "the byte range asked for (`Range`)"),
        (status = 304, description = "`If-None-Match` names the file's ETag (its SHA-256)"), (status = 404), (status = 409, description = "not downloaded yet")),
    security(("token" = []), ("session" = [])))]
pub async fn file(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    req: Request,
) -> ApiResult<Response> {
    caller.require(Permission::ReadRecords)?;
    let e = st.db.read(move |c| store::evidence::get(c, id)).await?;
    let Some(sha) = e.sha256.clone().filter(|_| e.status == "ready") else {
        return Err(ApiError::Conflict(format!(
            "evidence {id} is {}; its file is not stored",
            e.status
        )));
    };
    let mime = e
        .mime
        .clone()
        .unwrap_or_else(|| "application/octet-stream".into());
    let disp = e
        .filename
        .as_deref()
        .map(|f| format!("inline; filename=\"{}\"", safe_filename(f)));
    send_file(req, st.evidence.path_of(&sha), &mime, disp, &sha).await
}

/// A small JPEG (photos only).
#[utoipa::path(get, path = "/api/v1/evidence/{id}/thumbnail", tag = "evidence", params(("id" = i64, Path)),
    responses((status = 200, description = "image/jpeg"), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn thumbnail(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    req: Request,
) -> ApiResult<Response> {
    caller.require(Permission::ReadRecords)?;
    let e = st.db.read(move |c| store::evidence::get(c, id)).await?;
    match e.sha256.filter(|_| e.thumbnail) {
        Some(sha) => send_file(req, st.evidence.thumb_of(&sha), "image/jpeg", None, &format!("t-{sha}")).await,
        None => Ok((
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": {"code": "not_found", "message": format!("evidence {id} has no thumbnail ({})", e.status)}})),
        )
            .into_response()),
    }
}
