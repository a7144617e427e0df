//! Evidence: the JSON record, the original bytes and a JPEG thumbnail.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

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

async fn send_file(
    path: std::path::PathBuf,
    mime: &str,
    disposition: Option<String>,
    etag: &str,
) -> ApiResult<Response> {
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| ApiError::NotFound("the file is not in the evidence store".into()))?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    let stream = tokio_util::io::ReaderStream::new(file);
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
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
    if let Ok(v) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        h.insert(header::ETAG, v);
    }
    if let Some(d) = disposition.and_then(|d| HeaderValue::from_str(&d).ok()) {
        h.insert(header::CONTENT_DISPOSITION, d);
    }
    Ok(resp)
}

fn safe_filename(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | '/' | ';'))
        .filter(|c| c.is_ascii())
        .collect()
}

/// The original bytes, byte-identical.
#[utoipa::path(get, path = "/api/v1/evidence/{id}/file", tag = "evidence", params(("id" = i64, Path)),
    responses((status = 200, description = "the original file"), (status = 404), (status = 409, description = "not downloaded yet")),
    security(("token" = []), ("session" = [])))]
pub async fn file(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
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
    send_file(st.evidence.path_of(&sha), &mime, disp, &sha).await
}

/// A small JPEG (photos only).
#[utoipa::path(get, path = "/api/v1/evidence/{id}/thumbnail", tag = "evidence", params(("id" = i64, Path)),
    responses((status = 200, description = "image/jpeg"), (status = 404)), security(("token" = []), ("session" = [])))]
pub async fn thumbnail(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    caller.require(Permission::ReadRecords)?;
    let e = st.db.read(move |c| store::evidence::get(c, id)).await?;
    match e.sha256.filter(|_| e.thumbnail) {
        Some(sha) => send_file(st.evidence.thumb_of(&sha), "image/jpeg", None, &format!("t-{sha}")).await,
        None => Ok((
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": {"code": "not_found", "message": format!("evidence {id} has no thumbnail ({})", e.status)}})),
        )
            .into_response()),
    }
}
