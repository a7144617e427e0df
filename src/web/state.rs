//! What the web layer shares between requests: the records pipeline (and through it the core) plus web-only state.

use std::sync::Arc;

use super::auth::LoginLimiter;
use crate::pipeline::Pipeline;

/// The web layer's state: handlers reach the pipeline and the core through it (it derefs to the [`Pipeline`], which
/// derefs to the [`crate::core::Core`]).
pub struct WebState {
    pub pipeline: Arc<Pipeline>,
    pub login_limiter: LoginLimiter,
    /// Session cookies carry `Secure` (served over HTTPS, directly or behind a proxy).
    pub secure_cookies: bool,
}

impl WebState {
    pub fn new(pipeline: Arc<Pipeline>) -> WebState {
        let server = &pipeline.cfg.server;
        WebState {
            login_limiter: LoginLimiter::new(server.login_attempts),
            secure_cookies: !server.tls_cert.is_empty()
                || server.public_url.starts_with("https://"),
            pipeline,
        }
    }
}

impl std::ops::Deref for WebState {
    type Target = Pipeline;
    fn deref(&self) -> &Pipeline {
        &self.pipeline
    }
}

pub type AppState = Arc<WebState>;
