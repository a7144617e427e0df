//! Audit exports: the ZIP for inspectors (built by [`crate::audit`]) and the key that signs it.

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::audit::{self, AuditError};
use crate::auth::Permission;
use crate::web::auth::Caller;
use crate::web::error::{ApiError, ApiResult};
use crate::web::AppState;

impl From<AuditError> for ApiError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Invalid(m) => ApiError::Invalid(m),
            AuditError::NotFound(m) => ApiError::NotFound(m),
            AuditError::Store(s) => s.into(),
            AuditError::Io(m) => ApiError::internal(m),
            AuditError::Cancelled => ApiError::Unavailable,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditParams {
    /// First day, YYYY-MM-DD in the appliance's time zone.
    pub from: String,
    /// Last day, included.
    pub to: String,
    /// Only this site (id or name).
    pub site: Option<String>,
}

/// An audit ZIP for the period: messages with their raw webhook bodies, tickets, task log, evidence files and the
/// hash-chained event log, with a manifest signed by the appliance's key (`tapak verify FILE.zip` checks it offline).
/// The export is recorded in the event log. For very long periods the CLI (`tapak export audit`) is better suited.
#[utoipa::path(get, path = "/api/v1/exports/audit", tag = "audit", params(AuditParams),
    responses((status = 200, description = "the audit ZIP", content_type = "application/zip"),
        (status = 400, description = "bad dates"), (status = 404, description = "unknown site")),
    security(("token" = []), ("session" = [])))]
pub async fn audit_zip(
    State(st): State<AppState>,
    caller: Caller,
    Query(p): Query<AuditParams>,
) -> ApiResult<Response> {
    caller.require(Permission::ExportAudit)?;
    let period = audit::Period::parse(&p.from, &p.to)?;
    let key = signing_key_of(&st).await?;
    let tmp = st
        .evidence
        .tmp_dir()
        .join(format!("audit-{}.zip", ulid::Ulid::new()));
    // If the client goes away (or the request times out) the export stops at its next page and leaves no file.
    let guard = Abandoned::new(tmp.clone());
    let live = guard.live.clone();
    let (files, tz, out) = (st.evidence.clone(), st.tz, tmp.clone());
    let req = audit::export::Request {
        period,
        site: p.site.clone(),
        now: st.clock.now(),
    };
    let manifest = st
        .db
        .read(move |c| {
            Ok(audit::export::export(
                c,
                &files,
                &key,
                tz,
                &req,
                &out,
                &mut |_, _| live.load(std::sync::atomic::Ordering::Relaxed),
            ))
        })
        .await??;
    let file = tokio::fs::File::open(&tmp).await;
    // The open file stays readable after its name is gone: nothing is left behind in the data dir.
    drop(guard);
    let file = file.map_err(|e| ApiError::internal(format!("cannot read the audit ZIP: {e}")))?;
    let actor = caller.actor();
    let m2 = manifest.clone();
    st.db
        .write(move |tx| audit::record_export(tx, &actor, &m2))
        .await?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    let name = format!(
        "tapak-audit-{}-to-{}{}.zip",
        manifest.from,
        manifest.to,
        manifest
            .site
            .as_ref()
            .map(|s| format!("-site-{}", s.id))
            .unwrap_or_default()
    );
    let mut resp = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}

/// The appliance's audit signing key (read, or made on first use, off the async threads).
async fn signing_key_of(st: &AppState) -> ApiResult<ed25519_dalek::SigningKey> {
    let data_dir = st.cfg.data_dir.clone();
    Ok(
        tokio::task::spawn_blocking(move || audit::signing::load_or_create(&data_dir))
            .await
            .map_err(|e| ApiError::Internal(e.into()))??,
    )
}

/// Stops an export whose request was dropped and removes its file, however the handler ends.
struct Abandoned {
    path: std::path::PathBuf,
    live: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Abandoned {
    fn new(path: std::path::PathBuf) -> Abandoned {
        Abandoned {
            path,
            live: std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)),
        }
    }
}

impl Drop for Abandoned {
    fn drop(&mut self) {
        self.live.store(false, std::sync::atomic::Ordering::Relaxed);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The key that signs audit ZIPs, so inspectors can compare the fingerprint `tapak verify` prints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SigningKeyInfo {
    /// Ed25519 public key, hex.
    pub public_key: String,
    pub fingerprint: String,
}

#[utoipa::path(get, path = "/api/v1/exports/audit/key", tag = "audit",
    responses((status = 200, body = SigningKeyInfo)), security(("token" = []), ("session" = [])))]
pub async fn signing_key(
    State(st): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<SigningKeyInfo>> {
    caller.require(Permission::ExportAudit)?;
    let key = signing_key_of(&st).await?;
    let vk = key.verifying_key();
    Ok(Json(SigningKeyInfo {
        public_key: hex::encode(vk.as_bytes()),
        fingerprint: audit::signing::fingerprint(&vk),
    }))
}
