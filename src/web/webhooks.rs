//! Webhook endpoints: authenticate the raw body, parse it, hand it to [`crate::pipeline::inbox::accept`] (durable
//! storage of the raw body and its normalised form) and answer 200 only after the commit. Everything after
//! (classification, linking, media download) runs from the stored state.

use axum::body::Bytes;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::collections::HashMap;
use std::sync::atomic::Ordering;

use super::error::ApiError;
use super::AppState;
use crate::ingest::model::{NormalizeError, Normalized, Source};
use crate::ingest::{cloud, evolution, verify, waha};
use crate::store;

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn reject(st: &AppState, e: ApiError) -> Response {
    st.metrics.webhook_rejected.fetch_add(1, Ordering::Relaxed);
    e.into_response()
}

/// Stores the delivery (or, when it cannot be parsed, the raw body alone) and answers.
async fn accept(
    st: AppState,
    source: Source,
    body: Bytes,
    parsed: Result<Normalized, NormalizeError>,
) -> Response {
    match parsed {
        Ok(mut n) => {
            let clamped = crate::ingest::times::clamp_delivery(&mut n, st.clock.now());
            if clamped > 0 {
                tracing::warn!(
                    source = source.as_str(),
                    clamped,
                    "delivery carried times out of range; clamped and noted"
                );
            }
            accept_parsed(st, source, body, n).await
        }
        Err(err) => {
            st.metrics.webhook_malformed.fetch_add(1, Ordering::Relaxed);
            let msg = err.to_string();
            let body_vec = body.to_vec();
            let m2 = msg.clone();
            if let Err(e) = st
                .db
                .write(move |tx| store::ingest::store_malformed(tx, source, &body_vec, &m2))
                .await
            {
                return ApiError::from(e).into_response();
            }
            tracing::warn!(source = source.as_str(), error = %msg, "malformed webhook payload stored raw");
            ApiError::Invalid(msg).into_response()
        }
    }
}

/// Stores a parsed delivery and answers with what came of it.
async fn accept_parsed(st: AppState, source: Source, body: Bytes, n: Normalized) -> Response {
    match crate::pipeline::inbox::accept(&st, source, body, n).await {
        Ok(a) => {
            st.metrics.webhook_accepted.fetch_add(1, Ordering::Relaxed);
            (
                StatusCode::OK,
                Json(serde_json::json!({
                    "stored": a.stored,
                    "duplicates": a.duplicates,
                    "changes": a.changes,
                    "statuses": a.statuses,
                    "queued": a.queued,
                })),
            )
                .into_response()
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Meta's GET verification handshake: answers the raw `hub.challenge`.
pub async fn cloud_handshake(
    State(st): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match cloud::handshake(
        q.get("hub.mode").map(String::as_str),
        q.get("hub.verify_token").map(String::as_str),
        q.get("hub.challenge").map(String::as_str),
        st.cfg.whatsapp.cloud.verify_token.expose(),
    ) {
        Ok(challenge) => {
            (StatusCode::OK, [("content-type", "text/plain")], challenge).into_response()
        }
        Err(e) => {
            let status = StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::FORBIDDEN);
            let code = if status == StatusCode::BAD_REQUEST {
                "invalid_input"
            } else {
                "forbidden"
            };
            (
                status,
                Json(serde_json::json!({"error": {"code": code, "message": e.to_string()}})),
            )
                .into_response()
        }
    }
}

/// Reads the body of a delivery whose credential has been checked (or that needs its body to be checked), within the
/// route's `DefaultBodyLimit` (413 beyond it).
async fn read_body(st: &AppState, req: Request) -> Result<Bytes, Response> {
    Bytes::from_request(req, st)
        .await
        .map_err(IntoResponse::into_response)
}

/// Cloud API events, signed with the app secret over the raw body. The signature covers the body, so the body is read
/// first: its size is bounded by `server.webhook_body_limit` (8 MB by default; Meta sends up to about 3 MB).
pub async fn cloud_post(State(st): State<AppState>, req: Request) -> Response {
    let secret = st.cfg.whatsapp.cloud.app_secret.clone();
    if !secret.is_set() {
        return reject(
            &st,
            ApiError::SourceNotConfigured(
                "the Cloud API webhook is not configured (whatsapp.cloud.app_secret)".into(),
            ),
        );
    }
    let headers = req.headers().clone();
    let body = match read_body(&st, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    if let Err(e) = verify::meta_signature(
        secret.expose(),
        &body,
        header(&headers, "x-hub-signature-256"),
    ) {
        return reject(
            &st,
            ApiError::BadCredentials(format!("X-Hub-Signature-256: {e}")),
        );
    }
    let parsed = cloud::normalize(&body);
    accept(st, Source::CloudApi, body, parsed).await
}

/// WAHA events: HMAC-SHA512 over the body when a key is configured (the body is read first, within
/// `server.webhook_body_limit`), else the shared token header, checked before a byte of the body is read.
pub async fn waha_post(State(st): State<AppState>, req: Request) -> Response {
    let w = &st.cfg.whatsapp.waha;
    if w.webhook_hmac_key.is_set() {
        let key = w.webhook_hmac_key.clone();
        let headers = req.headers().clone();
        let body = match read_body(&st, req).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        if let Err(e) = verify::waha_hmac(key.expose(), &body, header(&headers, "x-webhook-hmac")) {
            return reject(
                &st,
                ApiError::BadCredentials(format!("X-Webhook-Hmac: {e}")),
            );
        }
        let parsed = waha::normalize(&body);
        return accept(st, Source::Waha, body, parsed).await;
    }
    let checked = if w.webhook_token.is_set() {
        verify::token_eq(
            w.webhook_token.expose(),
            header(req.headers(), "x-tapak-token"),
        )
        .map_err(|e| ApiError::BadCredentials(format!("X-Tapak-Token: {e}")))
    } else {
        Err(ApiError::SourceNotConfigured(
            "the WAHA webhook is not configured (whatsapp.waha.webhook_hmac_key or webhook_token)"
                .into(),
        ))
    };
    if let Err(e) = checked {
        return reject(&st, e);
    }
    let body = match read_body(&st, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let parsed = waha::normalize(&body);
    accept(st, Source::Waha, body, parsed).await
}

/// Evolution API events: the shared token (Bearer or X-Tapak-Token) or an HS256 JWT, all in headers, so a wrong or
/// missing credential is refused before the body (up to `server.evolution_body_limit`, base64 media inline) is read.
pub async fn evolution_post(State(st): State<AppState>, req: Request) -> Response {
    let e = &st.cfg.whatsapp.evolution;
    if !e.webhook_token.is_set() && !e.webhook_jwt_key.is_set() {
        return reject(
            &st,
            ApiError::SourceNotConfigured(
                "the Evolution webhook is not configured (whatsapp.evolution.webhook_token or webhook_jwt_key)".into(),
            ),
        );
    }
    let headers = req.headers();
    let bearer = verify::bearer(header(headers, "authorization"));
    let tapak_token = header(headers, "x-tapak-token");
    let mut ok = false;
    if e.webhook_token.is_set() {
        ok = verify::token_eq(e.webhook_token.expose(), bearer).is_ok()
            || verify::token_eq(e.webhook_token.expose(), tapak_token).is_ok();
    }
    let mut why = "missing or wrong webhook token".to_string();
    if !ok && e.webhook_jwt_key.is_set() {
        if let Some(jwt) = bearer {
            match verify::evolution_jwt(e.webhook_jwt_key.expose(), jwt, st.clock.now().timestamp())
            {
                Ok(()) => ok = true,
                Err(err) => why = format!("JWT: {err}"),
            }
        }
    }
    if !ok {
        return reject(&st, ApiError::BadCredentials(why));
    }
    let body = match read_body(&st, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let parsed = evolution::normalize_received(&body, st.clock.now());
    accept(st, Source::Evolution, body, parsed).await
}
