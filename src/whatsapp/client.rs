//! The outbound client: every request tapak makes to Meta's Cloud API or a WAHA / Evolution gateway. The outbox's
//! sends (one send, and what its answer means for a retry), the media fetcher's downloads (streamed to a temporary
//! file, bounded, only from the configured hosts) and the WAHA `@lid` lookups.
//!
//! Send errors are sorted by what the outbox must do next ([`SendError`]): a request that never reached the server (a
//! refused connection) or one the server refused for now (5xx, 429, Meta's throughput codes) may be sent again; a
//! request refused for good (other 4xx) may not; and a request that went out without an answer (a timeout, a broken
//! connection) has an unknown outcome and is never sent again blindly.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::config::WhatsAppConfig;
use crate::message::Source;

/// An accepted send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// WhatsApp's id of the message (the key of later status webhooks), when the answer carried one.
    pub wa_message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Not sent, may be sent again later (connection refused, 5xx, 429, rate-limit codes).
    #[error("{0}")]
    Retryable(String),
    /// Refused for good; `code` is Meta's error code where there is one (131047: outside the 24-hour window).
    #[error("{message}")]
    Permanent { code: Option<i64>, message: String },
    /// The request went out and no answer came: it may or may not have been sent.
    #[error("{0}")]
    Unknown(String),
    /// The route is not configured (no base URL, token or phone number id).
    #[error("{0}")]
    NotConfigured(String),
}

/// Meta's error code for free text outside the 24-hour customer-service window.
pub const OUTSIDE_WINDOW: i64 = 131047;

/// Meta codes that mean "too many, later" rather than "no".
const META_RETRYABLE: &[i64] = &[4, 80007, 130429, 131056, 131000, 1, 2];

/// A text (or a Cloud API template) to send.
#[derive(Debug, Clone, Default)]
pub struct Outgoing<'a> {
    /// Phone digits or a chat id.
    pub to: &'a str,
    pub text: &'a str,
    /// Phones to mention in a group (gateways).
    pub mentions: &'a [String],
    /// Echoed back by Cloud API statuses (`biz_opaque_callback_data`).
    pub callback: Option<&'a str>,
}

/// A file to send as a document: the name the recipient sees, its MIME type and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct FileToSend<'a> {
    pub filename: &'a str,
    pub mime: &'a str,
    pub bytes: &'a [u8],
}

/// A Cloud API template message.
#[derive(Debug, Clone)]
pub struct Template<'a> {
    pub name: &'a str,
    pub language: &'a str,
    pub params: &'a [String],
    /// A document header (an uploaded media id and the file name), for a template with a DOCUMENT header.
    pub document: Option<(&'a str, &'a str)>,
}

/// Why a download or a lookup failed, sorted by what the caller does next.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// Worth retrying (network, 5xx, expired URL…).
    #[error("{0}")]
    Retry(String),
    /// Will never work (not configured, forbidden host, too large…).
    #[error("{0}")]
    Permanent(String),
}

/// A download in the data dir's `tmp/`, hashed while it streamed. The file is removed when this is dropped, unless
/// it was moved into the evidence store.
pub struct Download {
    pub path: tempfile::TempPath,
    pub sha256: String,
    pub bytes: u64,
}

/// Largest WAHA lids answer read (it is a two-field JSON object).
const MAX_LID_ANSWER_BYTES: u64 = 64 * 1024;

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    cfg: WhatsAppConfig,
    timeout: Duration,
}

impl Client {
    /// `http` is the appliance's shared client; `timeout` bounds each send (after it, the outcome is unknown).
    pub fn new(http: reqwest::Client, cfg: WhatsAppConfig, timeout: Duration) -> Client {
        Client { http, cfg, timeout }
    }

    /// Cloud API free text (`POST {graph}/{version}/{phone_number_id}/messages`).
    pub async fn cloud_text(&self, m: &Outgoing<'_>) -> Result<Accepted, SendError> {
        let (recipient_type, to) = cloud_recipient(m.to);
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": recipient_type,
            "to": to,
            "type": "text",
            "text": {"preview_url": false, "body": m.text},
        });
        if let Some(cb) = m.callback {
            body["biz_opaque_callback_data"] = json!(cb);
        }
        self.cloud_post(body).await
    }

    /// Cloud API template message, its body parameters in order.
    pub async fn cloud_template(
        &self,
        m: &Outgoing<'_>,
        t: &Template<'_>,
    ) -> Result<Accepted, SendError> {
        if t.name.is_empty() {
            let key = if t.document.is_some() {
                "document_template_name"
            } else {
                "template_name"
            };
            return Err(SendError::NotConfigured(format!(
                "outside the 24-hour window and no template configured ([reminders] {key})"
            )));
        }
        let (recipient_type, to) = cloud_recipient(m.to);
        let params: Vec<Value> = t
            .params
            .iter()
            .map(|p| json!({"type": "text", "text": p}))
            .collect();
        let mut template = json!({"name": t.name, "language": {"code": t.language}});
        let mut components = vec![];
        if let Some((id, filename)) = t.document {
            components.push(json!({"type": "header", "parameters": [
                {"type": "document", "document": {"id": id, "filename": filename}}
            ]}));
        }
        if !params.is_empty() {
            components.push(json!({"type": "body", "parameters": params}));
        }
        if !components.is_empty() {
            template["components"] = json!(components);
        }
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": recipient_type,
            "to": to,
            "type": "template",
            "template": template,
        });
        if let Some(cb) = m.callback {
            body["biz_opaque_callback_data"] = json!(cb);
        }
        self.cloud_post(body).await
    }

    /// Uploads a file for a Cloud API document (`POST {graph}/{version}/{phone_number_id}/media`, multipart
    /// `messaging_product`, `type`, `file`) and answers its media id. Nothing reaches anyone, so any failure may be
    /// retried.
    pub async fn cloud_upload(&self, file: &FileToSend<'_>) -> Result<String, SendError> {
        let url = self.cloud_url("media")?;
        let part = reqwest::multipart::Part::bytes(file.bytes.to_vec())
            .file_name(file.filename.to_string())
            .mime_str(file.mime)
            .map_err(|e| SendError::Permanent {
                code: None,
                message: format!("document: bad MIME type {:?}: {e}", file.mime),
            })?;
        let form = reqwest::multipart::Form::new()
            .text("messaging_product", "whatsapp")
            .text("type", file.mime.to_string())
            .part("file", part);
        let req = self
            .http
            .post(url)
            .bearer_auth(self.cfg.cloud.access_token.expose())
            .multipart(form);
        let uploaded = match self.call(req).await {
            Ok(v) => v,
            // The upload's outcome is unknown, but nothing was sent to anyone: try again later.
            Err(SendError::Unknown(e)) => {
                return Err(SendError::Retryable(format!("media upload: {e}")))
            }
            Err(e) => return Err(e),
        };
        match uploaded.get("id").and_then(Value::as_str) {
            Some(id) => Ok(id.to_string()),
            None => Err(SendError::Retryable(
                "media upload: the answer carried no media id".into(),
            )),
        }
    }

    /// Cloud API document: an uploaded file ([`Client::cloud_upload`]) sent by its media id, with its file name and
    /// the caption (free-form: inside the 24-hour window only).
    pub async fn cloud_document(
        &self,
        m: &Outgoing<'_>,
        media_id: &str,
        filename: &str,
    ) -> Result<Accepted, SendError> {
        let (recipient_type, to) = cloud_recipient(m.to);
        let mut document = json!({"id": media_id, "filename": filename});
        if !m.text.trim().is_empty() {
            document["caption"] = json!(m.text);
        }
        let mut body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": recipient_type,
            "to": to,
            "type": "document",
            "document": document,
        });
        if let Some(cb) = m.callback {
            body["biz_opaque_callback_data"] = json!(cb);
        }
        self.cloud_post(body).await
    }

    /// `{graph}/{version}/{phone_number_id}/{what}`, or why the Cloud API cannot be used.
    fn cloud_url(&self, what: &str) -> Result<String, SendError> {
        let c = &self.cfg.cloud;
        if !c.access_token.is_set() || c.phone_number_id.is_empty() {
            return Err(SendError::NotConfigured(
                "Cloud API sending needs whatsapp.cloud.access_token and phone_number_id".into(),
            ));
        }
        Ok(format!(
            "{}/{}/{}/{what}",
            c.graph_base_url.trim_end_matches('/'),
            c.graph_version,
            c.phone_number_id
        ))
    }

    async fn cloud_post(&self, body: Value) -> Result<Accepted, SendError> {
        let c = &self.cfg.cloud;
        let url = self.cloud_url("messages")?;
        let req = self
            .http
            .post(url)
            .bearer_auth(c.access_token.expose())
            .json(&body);
        let v = self.call(req).await?;
        Ok(Accepted {
            wa_message_id: v
                .pointer("/messages/0/id")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// WAHA `POST {base_url}/api/sendText`, to a group (`…@g.us`, mentioning `mentions`) or a person (`…@c.us`).
    pub async fn waha_text(&self, m: &Outgoing<'_>) -> Result<Accepted, SendError> {
        let w = &self.cfg.waha;
        let chat_id = gateway_jid(m.to, "c.us");
        let mut body =
            json!({"session": w.session, "chatId": chat_id, "text": m.text, "linkPreview": false});
        if !m.mentions.is_empty() {
            body["mentions"] = json!(m
                .mentions
                .iter()
                .map(|p| gateway_jid(p, "c.us"))
                .collect::<Vec<_>>());
        }
        self.waha_post("sendText", body).await
    }

    /// WAHA `POST {base_url}/api/sendFile`: the file inline (base64) with its name, MIME type and caption.
    pub async fn waha_document(
        &self,
        m: &Outgoing<'_>,
        file: &FileToSend<'_>,
    ) -> Result<Accepted, SendError> {
        use base64::Engine;
        let body = json!({
            "session": self.cfg.waha.session,
            "chatId": gateway_jid(m.to, "c.us"),
            "file": {
                "mimetype": file.mime,
                "filename": file.filename,
                "data": base64::engine::general_purpose::STANDARD.encode(file.bytes),
            },
            "caption": m.text,
        });
        self.waha_post("sendFile", body).await
    }

    async fn waha_post(&self, what: &str, body: Value) -> Result<Accepted, SendError> {
        let w = &self.cfg.waha;
        if w.base_url.is_empty() {
            return Err(SendError::NotConfigured(
                "WAHA sending needs whatsapp.waha.base_url".into(),
            ));
        }
        let mut req = self
            .http
            .post(format!("{}/api/{what}", w.base_url.trim_end_matches('/')))
            .json(&body);
        if w.api_key.is_set() {
            req = req.header("X-Api-Key", w.api_key.expose());
        }
        let v = self.call(req).await?;
        Ok(Accepted {
            wa_message_id: gateway_message_id(&v),
        })
    }

    /// Evolution `POST {base_url}/message/sendText/{instance}`, to a group or a number.
    pub async fn evolution_text(&self, m: &Outgoing<'_>) -> Result<Accepted, SendError> {
        let mut body =
            json!({"number": evolution_number(m.to), "text": m.text, "linkPreview": false});
        if !m.mentions.is_empty() {
            body["mentioned"] = json!(m
                .mentions
                .iter()
                .map(|p| crate::outbox::recipient_digits(p).unwrap_or_else(|| p.clone()))
                .collect::<Vec<_>>());
        }
        self.evolution_post("sendText", body).await
    }

    /// Evolution `POST {base_url}/message/sendMedia/{instance}` with `mediatype: document`: the file inline (base64)
    /// with its name, MIME type and caption.
    pub async fn evolution_document(
        &self,
        m: &Outgoing<'_>,
        file: &FileToSend<'_>,
    ) -> Result<Accepted, SendError> {
        use base64::Engine;
        let body = json!({
            "number": evolution_number(m.to),
            "mediatype": "document",
            "mimetype": file.mime,
            "caption": m.text,
            "media": base64::engine::general_purpose::STANDARD.encode(file.bytes),
            "fileName": file.filename,
        });
        self.evolution_post("sendMedia", body).await
    }

    async fn evolution_post(&self, what: &str, body: Value) -> Result<Accepted, SendError> {
        let e = &self.cfg.evolution;
        if e.base_url.is_empty() || e.instance.is_empty() {
            return Err(SendError::NotConfigured(
                "Evolution sending needs whatsapp.evolution.base_url and instance".into(),
            ));
        }
        let instance = urlencode(&e.instance);
        let mut req = self
            .http
            .post(format!(
                "{}/message/{what}/{instance}",
                e.base_url.trim_end_matches('/')
            ))
            .json(&body);
        if e.api_key.is_set() {
            req = req.header("apikey", e.api_key.expose());
        }
        let v = self.call(req).await?;
        Ok(Accepted {
            wa_message_id: gateway_message_id(&v),
        })
    }

    /// Sends one request and sorts its answer.
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value, SendError> {
        let resp = match req.timeout(self.timeout).send().await {
            Ok(r) => r,
            // Never reached the server: safe to send again.
            Err(e) if e.is_connect() => {
                return Err(SendError::Retryable(format!("cannot connect: {e}")))
            }
            Err(e) if e.is_builder() => return Err(SendError::NotConfigured(e.to_string())),
            Err(e) => {
                return Err(SendError::Unknown(format!(
                    "no answer after the request went out: {e}"
                )))
            }
        };
        let status = resp.status();
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) if status.is_success() => {
                return Err(SendError::Unknown(format!(
                    "accepted (HTTP {status}) but the answer was cut off: {e}"
                )))
            }
            Err(_) => String::new(),
        };
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(v);
        }
        let code = v.pointer("/error/code").and_then(Value::as_i64);
        let detail = v
            .pointer("/error/message")
            .and_then(Value::as_str)
            .or_else(|| v.get("message").and_then(Value::as_str))
            .map(str::to_string)
            .unwrap_or_else(|| text.chars().take(300).collect());
        let message = match code {
            Some(c) => format!("HTTP {}: {detail} (code {c})", status.as_u16()),
            None => format!("HTTP {}: {detail}", status.as_u16()),
        };
        if status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT
            || code.is_some_and(|c| META_RETRYABLE.contains(&c))
        {
            Err(SendError::Retryable(message))
        } else {
            Err(SendError::Permanent { code, message })
        }
    }

    /// Cloud API media, in two steps with the bearer token: `GET {graph}/{version}/{media-id}` answers the file's URL
    /// (HTTPS, or on the Graph base URL's own host), then that URL is streamed to a file in `tmp` (at most `max`
    /// bytes).
    pub async fn cloud_media(
        &self,
        media_id: &str,
        tmp: &Path,
        max: u64,
    ) -> Result<Download, FetchError> {
        let c = &self.cfg.cloud;
        if !c.access_token.is_set() {
            return Err(FetchError::Retry(
                "whatsapp.cloud.access_token is not configured".into(),
            ));
        }
        let base = c.graph_base_url.trim_end_matches('/');
        let meta_url = format!("{base}/{}/{}", c.graph_version, urlencode(media_id));
        let resp = send_ok(
            self.http
                .get(&meta_url)
                .bearer_auth(c.access_token.expose()),
            "Graph API unreachable",
            "Graph API media lookup",
        )
        .await?;
        let meta: Value = resp
            .json()
            .await
            .map_err(|e| FetchError::Retry(format!("Graph API media lookup: bad JSON: {e}")))?;
        let url = meta
            .get("url")
            .and_then(|u| u.as_str())
            .ok_or_else(|| FetchError::Retry("Graph API media lookup returned no url".into()))?;
        if !(url.starts_with("https://") || same_host(url, base)) {
            return Err(FetchError::Permanent(format!(
                "refusing non-HTTPS media URL {url}"
            )));
        }
        let resp = send_ok(
            self.http.get(url).bearer_auth(c.access_token.expose()),
            "media download failed",
            "media download",
        )
        .await?;
        download_to_tmp(resp, tmp, max, "media").await
    }

    /// A media URL a WAHA or Evolution webhook gave (`source` names which), streamed to a file in `tmp` with the
    /// gateway's API key, only from the configured gateway's own host (WAHA URLs re-based onto it: [`waha_media_url`]).
    pub async fn gateway_media(
        &self,
        source: &str,
        url: &str,
        tmp: &Path,
        max: u64,
    ) -> Result<Download, FetchError> {
        let (base, key_header, key) = match Source::parse(source) {
            Some(Source::Waha) => (&self.cfg.waha.base_url, "X-Api-Key", &self.cfg.waha.api_key),
            Some(Source::Evolution) => (
                &self.cfg.evolution.base_url,
                "apikey",
                &self.cfg.evolution.api_key,
            ),
            _ => {
                return Err(FetchError::Permanent(
                    "gateway URL on a non-gateway message".into(),
                ))
            }
        };
        if base.is_empty() {
            return Err(FetchError::Permanent(format!(
                "{source} base_url is not configured, so its media URLs cannot be trusted"
            )));
        }
        let url = match Source::parse(source) {
            Some(Source::Waha) => waha_media_url(url, base)?,
            _ if same_host(url, base) => url.to_string(),
            _ => return Err(refuse_host(url, base)),
        };
        let mut req = self.http.get(&url);
        if key.is_set() {
            req = req.header(key_header, key.expose());
        }
        let resp = send_ok(req, "gateway unreachable", "gateway media download").await?;
        download_to_tmp(resp, tmp, max, "media").await
    }

    /// Evolution media with neither inline base64 nor a `mediaUrl`: asks the configured gateway to download and
    /// decrypt it (`POST /chat/getBase64FromMediaMessage/{instance}` with the `apikey` header) and decodes the base64
    /// answer (at most `max` bytes). The instance is the configured one, else the one the webhook named.
    pub async fn evolution_media(
        &self,
        message_id: &str,
        instance: Option<&str>,
        max: u64,
    ) -> Result<Vec<u8>, FetchError> {
        let e = &self.cfg.evolution;
        if e.base_url.is_empty() {
            return Err(FetchError::Permanent(
                "whatsapp.evolution.base_url is not configured, so media without base64 or mediaUrl cannot be fetched"
                    .into(),
            ));
        }
        let instance = Some(e.instance.as_str())
            .filter(|i| !i.is_empty())
            .or(instance.filter(|i| !i.is_empty()))
            .ok_or_else(|| {
                FetchError::Permanent(
                    "no Evolution instance: neither whatsapp.evolution.instance nor the webhook named one".into(),
                )
            })?;
        let url = evolution_media_url(&e.base_url, instance)?;
        let mut req = self.http.post(&url).json(&json!({
            "message": {"key": {"id": message_id}},
            "convertToMp4": false,
        }));
        if e.api_key.is_set() {
            req = req.header("apikey", e.api_key.expose());
        }
        let resp = send_ok(
            req,
            "Evolution gateway unreachable",
            "Evolution getBase64FromMediaMessage",
        )
        .await?;
        // Base64 is 4/3 of the bytes, plus the JSON around it.
        let body = read_limited(
            resp,
            max.saturating_mul(4) / 3 + 64 * 1024,
            "Evolution media answer",
        )
        .await?;
        let answer = crate::ingest::evolution::parse_media_answer(&body)
            .map_err(|e| FetchError::Retry(format!("Evolution getBase64FromMediaMessage: {e}")))?;
        if answer.bytes.len() as u64 > max {
            return Err(FetchError::Permanent(format!(
                "media is {} bytes, above the {max}-byte limit",
                answer.bytes.len()
            )));
        }
        Ok(answer.bytes)
    }

    /// Asks the configured WAHA for the phone behind `lid` (`GET {base_url}/api/{session}/lids/{lid}` with
    /// `X-Api-Key`, `whatsapp.md` §2.5): `Ok(None)` = the gateway does not know it (`pn: null`).
    pub async fn waha_lid(&self, lid: &str) -> Result<Option<String>, FetchError> {
        let w = &self.cfg.waha;
        if w.base_url.is_empty() {
            return Err(FetchError::Permanent(
                "whatsapp.waha.base_url is not configured, so @lid senders cannot be looked up"
                    .into(),
            ));
        }
        let url = lid_url(&w.base_url, &w.session, lid)?;
        let mut req = self
            .http
            .get(&url)
            .timeout(Duration::from_secs(20))
            .header("accept", "application/json");
        if w.api_key.is_set() {
            req = req.header("X-Api-Key", w.api_key.expose());
        }
        let resp = send_ok(req, "WAHA unreachable", "WAHA lids lookup").await?;
        let body = read_limited(resp, MAX_LID_ANSWER_BYTES, "WAHA lids answer").await?;
        let answer = crate::ingest::waha::parse_lid_answer(&body)
            .map_err(|e| FetchError::Retry(format!("WAHA lids answer: {e}")))?;
        if let Some(other) = answer.lid.as_deref().filter(|l| *l != lid) {
            return Err(FetchError::Permanent(format!(
                "WAHA answered about {other} when asked about {lid}"
            )));
        }
        Ok(answer.phone)
    }
}

/// Cloud API `recipient_type` and `to`: a group id (Groups API) or a phone's digits.
fn cloud_recipient(to: &str) -> (&'static str, String) {
    let to = to.trim();
    match to.strip_suffix("@g.us") {
        Some(group) => ("group", group.to_string()),
        None => (
            "individual",
            crate::outbox::recipient_digits(to)
                .unwrap_or_else(|| to.split('@').next().unwrap_or(to).to_string()),
        ),
    }
}

/// Evolution's `number`: a chat id as it is, a phone as its digits.
fn evolution_number(to: &str) -> String {
    if crate::outbox::is_chat_id(to) {
        to.trim().to_string()
    } else {
        crate::outbox::recipient_digits(to).unwrap_or_else(|| to.trim().to_string())
    }
}

/// A gateway chat id: chat ids as they are, phones as `<digits>@<server>`.
fn gateway_jid(to: &str, server: &str) -> String {
    if crate::outbox::is_chat_id(to) {
        to.trim().to_string()
    } else {
        let digits = crate::outbox::recipient_digits(to).unwrap_or_else(|| to.trim().to_string());
        format!("{digits}@{server}")
    }
}

/// The message id in a gateway's answer, as their status webhooks name it: Evolution `key.id`; WAHA `key.id`,
/// `_data.id.id`, or the raw part of `id` (`true_<chat>_<raw>`).
fn gateway_message_id(v: &Value) -> Option<String> {
    let s = |p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    s("/key/id")
        .or_else(|| s("/_data/id/id"))
        .or_else(|| s("/id/id"))
        .or_else(|| s("/id").map(crate::ingest::waha::raw_message_id))
        .or_else(|| s("/id/_serialized").map(crate::ingest::waha::raw_message_id))
        .map(str::to_string)
}

/// Reads a response body up to `max` bytes (`what` names it in errors: "media", "WAHA lids answer"…).
pub(crate) async fn read_limited(
    mut resp: reqwest::Response,
    max: u64,
    what: &str,
) -> Result<Vec<u8>, FetchError> {
    if let Some(len) = resp.content_length() {
        if len > max {
            return Err(FetchError::Permanent(format!(
                "{what} is {len} bytes, above the {max}-byte limit"
            )));
        }
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| FetchError::Retry(format!("{what}: download interrupted: {e}")))?
    {
        if out.len() as u64 + chunk.len() as u64 > max {
            return Err(FetchError::Permanent(format!(
                "{what} is above the {max}-byte limit"
            )));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Streams a response body to a new file in `tmp_dir`, hashing it on the way and stopping at `max` bytes, so a 100 MB
/// video never sits in memory. On any failure the partial file is removed.
pub(crate) async fn download_to_tmp(
    resp: reqwest::Response,
    tmp_dir: &std::path::Path,
    max: u64,
    what: &str,
) -> Result<Download, FetchError> {
    use futures_util::StreamExt;
    use sha2::Digest;
    use tokio::io::AsyncWriteExt;
    if let Some(len) = resp.content_length() {
        if len > max {
            return Err(FetchError::Permanent(format!(
                "{what} is {len} bytes, above the {max}-byte limit"
            )));
        }
    }
    let (file, path) = tempfile::Builder::new()
        .prefix("media-")
        .tempfile_in(tmp_dir)
        .map_err(|e| {
            FetchError::Retry(format!(
                "{what}: cannot create a file in {}: {e}",
                tmp_dir.display()
            ))
        })?
        .into_parts();
    let write_error = |e: std::io::Error| {
        FetchError::Retry(format!("{what}: cannot write {}: {e}", path.display()))
    };
    let mut file = tokio::fs::File::from_std(file);
    let mut sha = sha2::Sha256::new();
    let mut bytes = 0u64;
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| FetchError::Retry(format!("{what}: download interrupted: {e}")))?;
        bytes = bytes.saturating_add(chunk.len() as u64);
        if bytes > max {
            return Err(FetchError::Permanent(format!(
                "{what} is above the {max}-byte limit"
            )));
        }
        sha.update(&chunk);
        file.write_all(&chunk).await.map_err(write_error)?;
    }
    file.sync_all().await.map_err(write_error)?;
    drop(file);
    Ok(Download {
        path,
        sha256: hex::encode(sha.finalize()),
        bytes,
    })
}

/// Sends a download or lookup request: a request that gets no answer may be tried again (`unreachable` says what
/// could not be reached), a non-2xx answer is sorted by [`status_error`] (`what` names the request).
async fn send_ok(
    req: reqwest::RequestBuilder,
    unreachable: &str,
    what: &str,
) -> Result<reqwest::Response, FetchError> {
    let resp = req
        .send()
        .await
        .map_err(|e| FetchError::Retry(format!("{unreachable}: {e}")))?;
    if !resp.status().is_success() {
        return Err(status_error(what, resp.status()));
    }
    Ok(resp)
}

/// A non-2xx answer: worth retrying for 5xx, 429, 401/403 (expired URL or token) and 404 (not there yet), else not.
fn status_error(what: &str, s: reqwest::StatusCode) -> FetchError {
    if s.is_server_error()
        || s == reqwest::StatusCode::TOO_MANY_REQUESTS
        || s == reqwest::StatusCode::UNAUTHORIZED
        || s == reqwest::StatusCode::FORBIDDEN
        || s == reqwest::StatusCode::NOT_FOUND
    {
        FetchError::Retry(format!("{what} answered {s}"))
    } else {
        FetchError::Permanent(format!("{what} answered {s}"))
    }
}

fn same_host(url: &str, base: &str) -> bool {
    match (url::Url::parse(url), url::Url::parse(base)) {
        (Ok(u), Ok(b)) => {
            u.scheme() == b.scheme()
                && u.host_str() == b.host_str()
                && u.port_or_known_default() == b.port_or_known_default()
        }
        _ => false,
    }
}

fn host_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => "(no host)".to_string(),
        },
        Err(_) => "(unparsable URL)".to_string(),
    }
}

fn refuse_host(url: &str, base: &str) -> FetchError {
    FetchError::Permanent(format!(
        "refusing media URL {url}: host {} is not the configured gateway host {}",
        host_of(url),
        host_of(base)
    ))
}

/// WAHA advertises media under its own idea of its address (`WHATSAPP_API_HOSTNAME`, often `http://waha:3000` or
/// `localhost`), which may differ from the `base_url` tapak reaches it at. A media URL on the configured host is used
/// as is; one elsewhere whose path is under `/api/files/` is re-based onto `base_url` (path and query kept), so the
/// request still goes only to the configured gateway; anything else is refused.
pub fn waha_media_url(url: &str, base: &str) -> Result<String, FetchError> {
    if same_host(url, base) {
        return Ok(url.to_string());
    }
    let u = url::Url::parse(url)
        .map_err(|e| FetchError::Permanent(format!("invalid media URL {url:?}: {e}")))?;
    if !u.path().starts_with("/api/files/") {
        return Err(refuse_host(url, base));
    }
    let mut b = url::Url::parse(base).map_err(|e| {
        FetchError::Permanent(format!("whatsapp.waha.base_url {base:?} is not a URL: {e}"))
    })?;
    let path = format!("{}{}", b.path().trim_end_matches('/'), u.path());
    b.set_path(&path);
    b.set_query(u.query());
    b.set_fragment(None);
    Ok(b.to_string())
}

/// `segments` appended to a configured gateway's base URL (its own path kept), each percent-encoded as one path
/// segment, with no query or fragment: whatever a payload or a setting puts in a segment cannot leave that gateway.
/// `setting` names the base URL's configuration key in the error.
fn gateway_url(base: &str, setting: &str, segments: &[&str]) -> Result<String, FetchError> {
    let mut u = url::Url::parse(base)
        .map_err(|e| FetchError::Permanent(format!("{setting} {base:?} is not a URL: {e}")))?;
    let mut path = u.path().trim_end_matches('/').to_string();
    for seg in segments {
        path.push('/');
        path.push_str(&urlencode(seg));
    }
    u.set_path(&path);
    u.set_query(None);
    u.set_fragment(None);
    Ok(u.to_string())
}

/// The `getBase64FromMediaMessage` URL on the configured Evolution gateway. The instance is the configured one, else
/// the one the webhook named; it is one path segment, percent-encoded.
pub fn evolution_media_url(base: &str, instance: &str) -> Result<String, FetchError> {
    if instance.trim_matches('.').is_empty() {
        return Err(FetchError::Permanent(format!(
            "invalid Evolution instance name {instance:?}"
        )));
    }
    gateway_url(
        base,
        "whatsapp.evolution.base_url",
        &["chat", "getBase64FromMediaMessage", instance],
    )
}

/// The WAHA lids API URL on the configured gateway (base path kept; session and lid percent-encoded path segments).
fn lid_url(base: &str, session: &str, lid: &str) -> Result<String, FetchError> {
    let session = if session.trim_matches('.').is_empty() {
        "default"
    } else {
        session
    };
    gateway_url(
        base,
        "whatsapp.waha.base_url",
        &["api", session, "lids", lid],
    )
}

fn urlencode(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.~".contains(c) {
                c.to_string()
            } else {
                let mut b = [0u8; 4];
                c.encode_utf8(&mut b)
                    .bytes()
                    .map(|x| format!("%{x:02X}"))
                    .collect()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_per_route() {
        assert_eq!(
            cloud_recipient("+60 16-765 4302"),
            ("individual", "60167654302".to_string())
        );
        assert_eq!(
            cloud_recipient("120363@g.us"),
            ("group", "120363".to_string())
        );
        assert_eq!(gateway_jid("60167654302", "c.us"), "60167654302@c.us");
        assert_eq!(gateway_jid("120363@g.us", "c.us"), "120363@g.us");
    }

    #[test]
    fn gateway_ids_as_status_webhooks_name_them() {
        assert_eq!(
            gateway_message_id(&json!({"key": {"id": "3EB0AA"}})).as_deref(),
            Some("3EB0AA")
        );
        assert_eq!(
            gateway_message_id(&json!({"id": "true_120363@g.us_3EB0BB"})).as_deref(),
            Some("3EB0BB")
        );
        assert_eq!(gateway_message_id(&json!({})), None);
    }

    #[test]
    fn evolution_media_url_stays_on_the_configured_gateway() {
        assert_eq!(
            evolution_media_url("http://127.0.0.1:8080", "ops-menara-contoh").unwrap(),
            "http://127.0.0.1:8080/chat/getBase64FromMediaMessage/ops-menara-contoh"
        );
        assert_eq!(
            evolution_media_url("https://gw.example/evo/", "Ops Menara").unwrap(),
            "https://gw.example/evo/chat/getBase64FromMediaMessage/Ops%20Menara"
        );
        // A hostile instance name stays one path segment on the configured host.
        let u = evolution_media_url("http://127.0.0.1:8080", "../../x?y=1#z@evil:1").unwrap();
        assert!(
            u.starts_with("http://127.0.0.1:8080/chat/getBase64FromMediaMessage/")
                && !u.contains('?')
                && !u.contains('#')
                && !u.contains("/../"),
            "{u}"
        );
        assert!(matches!(
            evolution_media_url("http://127.0.0.1:8080", ".."),
            Err(FetchError::Permanent(_))
        ));
        assert!(matches!(
            evolution_media_url("not a url", "i"),
            Err(FetchError::Permanent(_))
        ));
    }

    #[test]
    fn waha_media_urls_are_rebased_onto_the_configured_gateway() {
        let base = "http://127.0.0.1:3555";
        assert_eq!(
            waha_media_url("http://waha:3000/api/files/false_1@g.us_3A.jpeg?x=1", base).unwrap(),
            "http://127.0.0.1:3555/api/files/false_1@g.us_3A.jpeg?x=1"
        );
        assert_eq!(
            waha_media_url("http://127.0.0.1:3555/api/files/a.oga", base).unwrap(),
            "http://127.0.0.1:3555/api/files/a.oga"
        );
        assert_eq!(
            waha_media_url(
                "http://localhost:3000/api/files/a.oga",
                "https://gw.example/waha/"
            )
            .unwrap(),
            "https://gw.example/waha/api/files/a.oga"
        );
        for bad in [
            "http://169.254.169.254/latest/meta-data/",
            "http://waha:3000/api/sessions",
            "http://waha:3000/api/files/../../api/sessions",
        ] {
            let e = waha_media_url(bad, base).unwrap_err().to_string();
            assert!(
                e.contains("is not the configured gateway host 127.0.0.1:3555"),
                "{bad}: {e}"
            );
        }
        assert!(waha_media_url("http://169.254.169.254/x", base)
            .unwrap_err()
            .to_string()
            .contains("host 169.254.169.254 "));
    }

    #[test]
    fn lid_urls_stay_on_the_configured_gateway() {
        assert_eq!(
            lid_url("http://127.0.0.1:3000", "default", "215555123456789@lid").unwrap(),
            "http://127.0.0.1:3000/api/default/lids/215555123456789%40lid"
        );
        assert_eq!(
            lid_url("https://gw.example/waha/", "ops site", "1@lid").unwrap(),
            "https://gw.example/waha/api/ops%20site/lids/1%40lid"
        );
        assert_eq!(
            lid_url("http://127.0.0.1:3000", "..", "1@lid").unwrap(),
            "http://127.0.0.1:3000/api/default/lids/1%40lid"
        );
        assert!(matches!(
            lid_url("not a url", "default", "1@lid"),
            Err(FetchError::Permanent(_))
        ));
    }
}
