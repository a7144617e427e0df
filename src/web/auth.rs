//! Who is calling: API tokens (`Authorization: Bearer`) or the UI's session cookie (with CSRF for writes).
//! Also the login/logout/me endpoints and the login rate limiter.

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

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
    /// The API token's id, for a token caller.
    pub token_id: Option<i64>,
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

/// A cookie-authenticated write must carry the session's CSRF token in `X-CSRF-Token`.
fn check_csrf(headers: &HeaderMap, csrf: &str) -> ApiResult<()> {
    let sent = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    crate::ingest::verify::token_eq(csrf, Some(sent)).map_err(|_| {
        ApiError::Invalid(
            "missing or wrong X-CSRF-Token header for a cookie-authenticated write".into(),
        )
    })
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
            let (token_id, name, role) = found.ok_or(ApiError::Unauthorized)?;
            let role = Role::parse(&role).ok_or(ApiError::Unauthorized)?;
            return Ok(Caller {
                name,
                role,
                user_id: None,
                token_id: Some(token_id),
                via_session: false,
            });
        }
        let Some(sid) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(ApiError::Unauthorized);
        };
        let hash = auth::secret_hash(&sid);
        let now = state.clock.now().timestamp_millis();
        let (user, csrf) = state
            .db
            .read(move |c| users::session(c, &hash, now))
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if !safe {
            check_csrf(&parts.headers, &csrf)?;
        }
        let role = Role::parse(&user.role).ok_or(ApiError::Unauthorized)?;
        Ok(Caller {
            name: user.name,
            role,
            user_id: Some(user.id),
            token_id: None,
            via_session: true,
        })
    }
}

/// Login attempts, counted before the password is checked so that a parallel burst cannot outrun the limit:
/// per (client address, user name), at most `max` failures in a window of 15 minutes; per client address, at most
/// `3 × max` failures whatever the names (made-up names included, and without telling them apart from real ones).
/// Times come from the injected clock. Password hashing runs in a small pool ([`HASH_SLOTS`] at a time): a burst of
/// logins waits in a queue instead of each holding argon2's memory (about 19 MB) at once.
pub struct LoginLimiter {
    max: u32,
    per_address: u32,
    window_ms: i64,
    seen: Mutex<HashMap<LimitKey, Window>>,
    hashing: tokio::sync::Semaphore,
    /// Logins waiting for a hashing slot.
    waiting: AtomicUsize,
}

/// Password checks that may run at once.
pub const HASH_SLOTS: usize = 2;

/// Logins waiting for a hashing slot beyond which new ones are refused (503) rather than queued.
const HASH_QUEUE: usize = 256;

/// A client address and a user name (lowercased), or the address alone (`None`).
type LimitKey = (String, Option<String>);

/// Attempts counted since `since_ms` (unix ms).
#[derive(Clone, Copy)]
struct Window {
    count: u32,
    since_ms: i64,
}

/// A login attempt that was counted (see [`LoginLimiter::reserve`]).
pub struct Attempt {
    name_key: LimitKey,
    address_key: LimitKey,
}

impl LoginLimiter {
    pub fn new(max: u32) -> LoginLimiter {
        let max = max.max(1);
        LoginLimiter {
            max,
            per_address: max.saturating_mul(3),
            window_ms: 15 * 60 * 1000,
            seen: Mutex::new(HashMap::new()),
            hashing: tokio::sync::Semaphore::new(HASH_SLOTS),
            waiting: AtomicUsize::new(0),
        }
    }

    fn live(&self, w: Option<&Window>, now_ms: i64) -> u32 {
        match w {
            Some(w) if now_ms.saturating_sub(w.since_ms) < self.window_ms => w.count,
            _ => 0,
        }
    }

    /// Counts an attempt for `user` from `ip` before its password is checked, or refuses it when either limit is
    /// reached. A success hands the name's count back ([`LoginLimiter::succeeded`]); a failure keeps it.
    pub fn reserve(&self, ip: &str, user: &str, now_ms: i64) -> Result<Attempt, ApiError> {
        // Names are cut to 128 characters in the key: a flood of long made-up names cannot grow the table's memory.
        let name: String = user.chars().take(128).collect();
        let name_key = (ip.to_string(), Some(name.to_lowercase()));
        let address_key = (ip.to_string(), None);
        let mut map = self.seen.lock().map_err(|_| ApiError::RateLimited)?;
        if map.len() > 10_000 {
            let w = self.window_ms;
            map.retain(|_, v| now_ms.saturating_sub(v.since_ms) < w);
        }
        if self.live(map.get(&name_key), now_ms) >= self.max
            || self.live(map.get(&address_key), now_ms) >= self.per_address
        {
            return Err(ApiError::RateLimited);
        }
        for key in [&name_key, &address_key] {
            let live = self.live(map.get(key), now_ms);
            let e = map.entry(key.clone()).or_insert(Window {
                count: 0,
                since_ms: now_ms,
            });
            if live == 0 {
                *e = Window {
                    count: 0,
                    since_ms: now_ms,
                };
            }
            e.count += 1;
        }
        Ok(Attempt {
            name_key,
            address_key,
        })
    }

    /// The attempt was right: the name's failures are forgotten, and it does not count against the address.
    pub fn succeeded(&self, a: Attempt) {
        if let Ok(mut map) = self.seen.lock() {
            map.remove(&a.name_key);
            if let Some(w) = map.get_mut(&a.address_key) {
                w.count = w.count.saturating_sub(1);
            }
        }
    }

    /// Runs a password check in the hashing pool.
    pub async fn hash<R: Send + 'static>(
        &self,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> ApiResult<R> {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        if self.waiting.fetch_add(1, Ordering::Relaxed) >= HASH_QUEUE {
            self.waiting.fetch_sub(1, Ordering::Relaxed);
            return Err(ApiError::Unavailable);
        }
        let waiting = Waiting(&self.waiting);
        let slot = self
            .hashing
            .acquire()
            .await
            .map_err(|_| ApiError::Unavailable)?;
        drop(waiting);
        let out = tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| ApiError::internal(format!("password check failed: {e}")));
        drop(slot);
        out
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
    let now_ms = st.clock.now().timestamp_millis();
    let attempt = st
        .login_limiter
        .reserve(&peer.ip().to_string(), &req.username, now_ms)?;
    let name = req.username.clone();
    let creds = st.db.read(move |c| users::credentials(c, &name)).await?;
    let password = req.password.clone();
    let ok_user = st
        .login_limiter
        .hash(move || match creds {
            Some((user, hash)) if !user.disabled => {
                auth::verify_password(&password, &hash).then_some(user)
            }
            _ => {
                auth::verify_password(&password, auth::dummy_hash());
                None
            }
        })
        .await?;
    let Some(user) = ok_user else {
        tracing::warn!(user = %req.username, client = %peer.ip(), "failed login");
        return Err(ApiError::BadCredentials(
            "wrong user name or password".into(),
        ));
    };
    st.login_limiter.succeeded(attempt);
    let sid = auth::random_secret();
    let csrf = auth::random_secret();
    let hours = st.cfg.server.session_hours.max(1);
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
        let (h2, now) = (h.clone(), st.clock.now().timestamp_millis());
        // A live session is ended only by its own page (CSRF, as every cookie-authenticated write); a stale or
        // unknown cookie is just cleared.
        if let Some((_, csrf)) = st.db.read(move |c| users::session(c, &h2, now)).await? {
            check_csrf(&headers, &csrf)?;
            st.db.write(move |tx| users::delete_session(tx, &h)).await?;
        }
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
            let now = st.clock.now().timestamp_millis();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FakeClock;
    use std::sync::Arc;

    /// The real router on 127.0.0.1:0 over a temporary data dir, with one user `ops` / `right-password`.
    async fn serve(clock: Arc<FakeClock>) -> (String, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = crate::config::Config {
            data_dir: dir.path().to_path_buf(),
            ..crate::config::Config::default()
        };
        let core = Arc::new(crate::core::Core::open(cfg, clock).unwrap());
        let pipeline = Arc::new(crate::pipeline::Pipeline::new(core));
        let hash = auth::hash_password("right-password").unwrap();
        pipeline
            .db
            .write(move |tx| users::create(tx, "ops", "manager", &hash))
            .await
            .unwrap();
        let state = Arc::new(crate::web::WebState::new(pipeline));
        let app = crate::web::router(state).into_make_service_with_connect_info::<SocketAddr>();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, dir)
    }

    async fn login(c: &reqwest::Client, url: &str, user: &str, password: &str) -> u16 {
        c.post(format!("{url}/api/v1/auth/login"))
            .json(&serde_json::json!({"username": user, "password": password}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Statuses of `n` logins sent at once.
    async fn burst(url: &str, n: usize, user: impl Fn(usize) -> String) -> Vec<u16> {
        let c = reqwest::Client::new();
        let all = (0..n).map(|i| {
            let (c, url, user) = (c.clone(), url.to_string(), user(i));
            tokio::spawn(async move { login(&c, &url, &user, "wrong-password").await })
        });
        let mut out = vec![];
        for h in all {
            out.push(h.await.unwrap());
        }
        out
    }

    fn count(v: &[u16], status: u16) -> usize {
        v.iter().filter(|s| **s == status).count()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_parallel_burst_of_wrong_passwords_is_limited_and_the_right_one_waits_for_the_window()
    {
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = FakeClock::new(t0);
        let (url, _dir) = serve(clock.clone()).await;
        let max = crate::config::Config::default().server.login_attempts as usize;
        let got = burst(&url, 29, |_| "ops".into()).await;
        assert_eq!(count(&got, 401), max, "{got:?}");
        assert_eq!(count(&got, 429), 29 - max, "{got:?}");
        let c = reqwest::Client::new();
        assert_eq!(login(&c, &url, "ops", "right-password").await, 429);
        clock.set(t0 + chrono::Duration::minutes(14));
        assert_eq!(login(&c, &url, "ops", "right-password").await, 429);
        clock.set(t0 + chrono::Duration::minutes(16));
        assert_eq!(login(&c, &url, "ops", "right-password").await, 200);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn made_up_user_names_are_limited_per_address() {
        let t0 = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let clock = FakeClock::new(t0);
        let (url, _dir) = serve(clock.clone()).await;
        let max = crate::config::Config::default().server.login_attempts as usize;
        let got = burst(&url, 60, |i| format!("nobody-{i}")).await;
        assert_eq!(count(&got, 401), 3 * max, "{got:?}");
        assert_eq!(count(&got, 429), 60 - 3 * max, "{got:?}");
        // The address is limited whatever the name: a real one too, until the window passes.
        let c = reqwest::Client::new();
        assert_eq!(login(&c, &url, "ops", "right-password").await, 429);
        clock.set(t0 + chrono::Duration::minutes(16));
        assert_eq!(login(&c, &url, "ops", "right-password").await, 200);
    }

    #[tokio::test]
    async fn password_checks_run_at_most_two_at_a_time() {
        let limiter = Arc::new(LoginLimiter::new(10));
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let all: Vec<_> = (0..12)
            .map(|_| {
                let (l, running, peak) = (limiter.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    l.hash(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        auth::verify_password("x", auth::dummy_hash());
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for h in all {
            h.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), HASH_SLOTS);
    }
}
