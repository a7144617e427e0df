//! Who is calling: API tokens (`Authorization: Bearer`) or the UI's session cookie (with CSRF for writes).
//! Also the login/logout/me endpoints and the login rate limiter.

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::error::{ApiError, ApiResult, JsonBody};
use super::AppState;
use crate::auth::{self, Permission, Role};
use crate::store::users;

pub const SESSION_COOKIE: &str = "tapak_session";

#[derive(Debug, Clone)]
pub struct Caller {
    pub name: String,
    pub role: Role,
    pub user_id: Option<i64>,
    pub via_session: bool,
}

impl Caller {
    pub fn require(&self, p: Permission) -> ApiResult<()> {
        if self.role.may(p) {
            Ok(())
        } else {
            Err(ApiError::Forbidden)
        }
    }
    /// How this caller is named in the event log.
    pub fn actor(&self) -> String {
        if self.via_session {
            format!("user:{}", self.name)
        } else {
            format!("token:{}", self.name)
        }
    }
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(token) = bearer(&parts.headers) {
            let hash = auth::secret_hash(&token);
            let found = state
                .db
                .read(move |c| users::token_by_hash(c, &hash))
                .await?;
            let (_, name, role) = found.ok_or(ApiError::Unauthorized)?;
            let role = Role::parse(&role).ok_or(ApiError::Unauthorized)?;
            return Ok(Caller {
                name,
                role,
                user_id: None,
                via_session: false,
            });
        }
        let Some(sid) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(ApiError::Unauthorized);
        };
        let hash = auth::secret_hash(&sid);
        let now = chrono::Utc::now().timestamp_millis();
        let (user, csrf) = state
            .db
            .read(move |c| users::session(c, &hash, now))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if crate::ingest::verify::token_eq(&csrf, Some(sent)).is_err() {
                return Err(ApiError::Invalid(
                    "missing or wrong X-CSRF-Token header for a cookie-authenticated write".into(),
                ));
            }
        }
        let role = Role::parse(&user.role).ok_or(ApiError::Unauthorized)?;
        Ok(Caller {
            name: user.name,
            role,
            user_id: Some(user.id),
            via_session: true,
        })
    }
}

/// Failed logins per (client address, user name) within a window.
pub struct LoginLimiter {
    max: u32,
    window: Duration,
    seen: Mutex<HashMap<(String, String), (u32, Instant)>>,
}

impl LoginLimiter {
    pub fn new(max: u32) -> LoginLimiter {
        LoginLimiter {
            max: max.max(1),
            window: Duration::from_secs(15 * 60),
            seen: Mutex::new(HashMap::new()),
        }
    }
    fn blocked(&self, key: &(String, String)) -> bool {
        let Ok(map) = self.seen.lock() else {
            return false;
        };
        matches!(map.get(key), Some((n, t)) if *n >= self.max && t.elapsed() < self.window)
    }
    fn failed(&self, key: (String, String)) {
        if let Ok(mut map) = self.seen.lock() {
            if map.len() > 10_000 {
                let w = self.window;
                map.retain(|_, (_, t)| t.elapsed() < w);
            }
            let e = map.entry(key).or_insert((0, Instant::now()));
            if e.1.elapsed() >= self.window {
                *e = (0, Instant::now());
            }
            e.0 += 1;
        }
    }
    fn succeeded(&self, key: &(String, String)) {
        if let Ok(mut map) = self.seen.lock() {
            map.remove(key);
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionUser {
    pub id: Option<i64>,
    pub name: String,
    pub role: Role,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionInfo {
    pub user: SessionUser,
    /// Send back as `X-CSRF-Token` on every cookie-authenticated write.
    pub csrf_token: Option<String>,
}

/// Log in with a user name and password; sets the session cookie.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SessionInfo), (status = 401, description = "wrong user name or password"),
              (status = 429, description = "too many failed attempts")))]
pub async fn login(
    State(st): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    JsonBody(req): JsonBody<LoginRequest>,
) -> ApiResult<Response> {
    let key = (peer.ip().to_string(), req.username.to_lowercase());
    if st.login_limiter.blocked(&key) {
        return Err(ApiError::RateLimited);
    }
    let name = req.username.clone();
    let creds = st.db.read(move |c| users::credentials(c, &name)).await?;
    let password = req.password.clone();
    let ok_user = tokio::task::spawn_blocking(move || match creds {
        Some((user, hash)) if !user.disabled => {
            auth::verify_password(&password, &hash).then_some(user)
        }
        _ => {
            auth::verify_password(&password, auth::dummy_hash());
            None
        }
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    let Some(user) = ok_user else {
        st.login_limiter.failed(key);
        tracing::warn!(user = %req.username, client = %peer.ip(), "failed login");
        return Err(ApiError::BadCredentials(
            "wrong user name or password".into(),
        ));
    };
    st.login_limiter.succeeded(&key);
    let sid = auth::random_secret();
    let csrf = auth::random_secret();
    let hours = st.cfg.server.session_hours.max(1);
    let now_ms = st.clock.now().timestamp_millis();
    let expires = now_ms.saturating_add(
        i64::try_from(hours)
            .unwrap_or(i64::MAX)
            .saturating_mul(3_600_000),
    );
    let (h, c2, uid) = (auth::secret_hash(&sid), csrf.clone(), user.id);
    let uname = user.name.clone();
    st.db
        .write(move |tx| {
            users::create_session(tx, &h, uid, &c2, expires)?;
            crate::store::events::append(
                tx,
                &format!("user:{uname}"),
                "auth.login",
                "user",
                Some(&uid.to_string()),
                &serde_json::json!({}),
            )?;
            Ok(())
        })
        .await?;
    let secure = if st.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{SESSION_COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        hours.saturating_mul(3600)
    );
    let role = Role::parse(&user.role).unwrap_or(Role::Viewer);
    let body = SessionInfo {
        user: SessionUser {
            id: Some(user.id),
            name: user.name,
            role,
        },
        csrf_token: Some(csrf),
    };
    let mut resp = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// End the browser session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(State(st): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(sid) = cookie_value(&headers, SESSION_COOKIE) {
        let h = auth::secret_hash(&sid);
        st.db.write(move |tx| users::delete_session(tx, &h)).await?;
    }
    let mut resp = StatusCode::NO_CONTENT.into_response();
    resp.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("tapak_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    Ok(resp)
}

/// The current caller.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth",
    responses((status = 200, body = SessionInfo), (status = 401)), security(("token" = []), ("session" = [])))]
pub async fn me(
    State(st): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
) -> ApiResult<Json<SessionInfo>> {
    let csrf = match cookie_value(&headers, SESSION_COOKIE) {
        Some(sid) if caller.via_session => {
            let h = auth::secret_hash(&sid);
            let now = chrono::Utc::now().timestamp_millis();
            st.db
                .read(move |c| users::session(c, &h, now))
                .await?
                .map(|(_, csrf)| csrf)
        }
        _ => None,
    };
    Ok(Json(SessionInfo {
        user: SessionUser {
            id: caller.user_id,
            name: caller.name,
            role: caller.role,
        },
        csrf_token: csrf,
    }))
}
