//! The one API error type and its JSON shape: `{"error": {"code", "message"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("authentication required")]
    Unauthorized,
    #[error("{0}")]
    BadCredentials(String),
    #[error("your role may not do this")]
    Forbidden,
    #[error("{0}")]
    SourceNotConfigured(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again in a few minutes")]
    RateLimited,
    #[error("{0}")]
    TooLarge(String),
    #[error("the server is shutting down or overloaded; retry")]
    Unavailable,
    /// A failure of the server, not of the request: 500 with a generic message; the whole error chain is logged once.
    #[error("internal error")]
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NotFound(_) => "not_found",
            ApiError::Invalid(_) => "invalid_input",
            ApiError::Unauthorized => "unauthorized",
            ApiError::BadCredentials(_) => "bad_credentials",
            ApiError::Forbidden => "forbidden",
            ApiError::SourceNotConfigured(_) => "source_not_configured",
            ApiError::Conflict(_) => "conflict",
            ApiError::RateLimited => "rate_limited",
            ApiError::TooLarge(_) => "payload_too_large",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::BadCredentials(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::SourceNotConfigured(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
    pub fn invalid(msg: impl Into<String>) -> ApiError {
        ApiError::Invalid(msg.into())
    }
    /// An internal error from a message (when there is no error value to keep).
    pub fn internal(
        msg: impl std::fmt::Display + std::fmt::Debug + Send + Sync + 'static,
    ) -> ApiError {
        ApiError::Internal(anyhow::anyhow!(msg))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::Invalid(m) => ApiError::Invalid(m),
            StoreError::Conflict(m) => ApiError::Conflict(format!("{m} already exists")),
            StoreError::WriterGone => ApiError::Unavailable,
            // Everything else is the server's failure (database, disk, a panicked job, the records engine): 500, with
            // the error and its sources kept for the log.
            other => ApiError::Internal(other.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = match &self {
            ApiError::Internal(detail) => {
                // `{:#}` prints the chain: "records engine failed: message 7 belongs to chat 2 ...".
                tracing::error!(error = format!("{detail:#}"), "internal error");
                "internal error; see the server log".to_string()
            }
            other => other.to_string(),
        };
        let body = serde_json::json!({"error": {"code": self.code(), "message": message}});
        (self.status(), Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Most of a framework rejection's text that is kept in the JSON error.
const REJECTION_TEXT_MAX: usize = 4 * 1024;

/// Gives the API's error shape to the errors axum answers on its own, before a handler runs (a path id that is not a
/// number, a wrong method, a missing content type…): their plain-text body becomes `{"error": {"code", "message"}}`.
pub async fn json_rejections(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = match axum::body::to_bytes(body, REJECTION_TEXT_MAX).await {
        Ok(b) if !b.is_empty() => String::from_utf8_lossy(&b).into_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_string(),
    };
    let code = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "invalid_input",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        s if s.is_server_error() => "internal",
        _ => "error",
    };
    let mut out = (
        status,
        Json(serde_json::json!({"error": {"code": code, "message": text}})),
    )
        .into_response();
    for (k, v) in parts.headers.iter() {
        if k != axum::http::header::CONTENT_TYPE && k != axum::http::header::CONTENT_LENGTH {
            out.headers_mut().insert(k.clone(), v.clone());
        }
    }
    out
}

/// JSON body extractor whose rejections use the API error shape.
pub struct JsonBody<T>(pub T);

impl<S, T> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(JsonBody(v)),
            Err(rej) => {
                if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Err(ApiError::TooLarge("request body too large".into()))
                } else {
                    Err(ApiError::Invalid(rej.body_text()))
                }
            }
        }
    }
}

/// Query extractor whose rejections use the API error shape.
pub struct QueryParams<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for QueryParams<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| QueryParams(q.0))
            .map_err(|e| ApiError::Invalid(e.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::RecordsError;

    #[test]
    fn a_records_engine_failure_is_500_with_its_chain_kept() {
        let e = ApiError::from(StoreError::Engine(RecordsError::ChatMismatch {
            msg: 7,
            expected: 1,
            got: 2,
        }));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let ApiError::Internal(chain) = &e else {
            panic!("not internal: {e:?}");
        };
        let logged = format!("{chain:#}");
        assert!(
            logged.contains("records engine failed")
                && logged.contains("message 7 belongs to chat 2"),
            "{logged}"
        );
        // The client sees no internals.
        assert_eq!(e.to_string(), "internal error");
    }

    #[test]
    fn database_errors_keep_their_source() {
        let e = ApiError::from(StoreError::Sqlite(rusqlite::Error::InvalidQuery));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let ApiError::Internal(chain) = &e else {
            panic!("not internal: {e:?}");
        };
        assert_eq!(chain.chain().count(), 2, "{chain:#}");
    }
}
