//! The outbound client: one send to the Cloud API, WAHA or Evolution, and what its answer means for a retry.
//!
//! Errors are sorted by what the outbox must do next ([`SendError`]): a request that never reached the server (a
//! refused connection) or one the server refused for now (5xx, 429, Meta's throughput codes) may be sent again; a
//! request refused for good (other 4xx) may not; and a request that went out without an answer (a timeout, a broken
//! connection) has an unknown outcome and is never sent again blindly.

use std::time::Duration;

use serde_json::{json, Value};

use crate::config::WhatsAppConfig;

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
        let instance = utf8_percent_encode(&e.instance);
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

fn utf8_percent_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
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
}
