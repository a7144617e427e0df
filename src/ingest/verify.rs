//! Webhook authentication checks. Pure functions over raw bytes and header values: no HTTP types, no clock
//! (the current time is passed in), no I/O.
//!
//! Every comparison of a secret-derived value is constant-time: MACs through `hmac`'s `verify_slice`
//! (which uses `subtle`), shared tokens by comparing SHA-256 digests with `subtle::ConstantTimeEq`
//! (so not even the length of the expected token leaks).
//!
//! Mapping to HTTP (done by the web layer): `NotConfigured` → 403 (source refused), everything else → 401.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

/// Why a webhook credential was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No secret is configured for this source: never accept unchecked.
    #[error("webhook secret is not configured for this source")]
    NotConfigured,
    /// The credential header / token is absent.
    #[error("missing credential: {0}")]
    Missing(&'static str),
    /// The credential is present but not in the expected format.
    #[error("malformed credential: {0}")]
    Malformed(String),
    /// Well-formed but does not match (wrong secret, tampered body, forged token).
    #[error("credential does not match")]
    Mismatch,
    /// A signed token whose validity window is over (or not yet started).
    #[error("token expired or not yet valid: {0}")]
    Expired(String),
}

type HmacSha256 = Hmac<Sha256>;
type HmacSha512 = Hmac<Sha512>;

/// Allowed clock difference between the gateway and us when checking JWT `exp` / `nbf`, in seconds.
pub const JWT_LEEWAY_SECS: i64 = 60;

/// Meta Cloud API: `X-Hub-Signature-256: sha256=<hex>` = HMAC-SHA256(app secret, raw body).
/// `header` is the value of `X-Hub-Signature-256` only (the legacy SHA-1 `X-Hub-Signature` is never accepted).
/// Hex may be either case. The body must be the raw bytes as received (never re-serialised JSON).
pub fn meta_signature(
    app_secret: &str,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), AuthError> {
    if app_secret.is_empty() {
        return Err(AuthError::NotConfigured);
    }
    let header = header
        .ok_or(AuthError::Missing("X-Hub-Signature-256"))?
        .trim();
    let hex_part = strip_prefix_ci(header, "sha256=").ok_or_else(|| {
        AuthError::Malformed("X-Hub-Signature-256 must start with `sha256=`".to_string())
    })?;
    let sig = decode_hex(hex_part, 32, "X-Hub-Signature-256")?;
    let mut mac = HmacSha256::new_from_slice(app_secret.as_bytes())
        .map_err(|_| AuthError::Malformed("unusable app secret".to_string()))?;
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| AuthError::Mismatch)
}

/// WAHA: `X-Webhook-Hmac` = hex HMAC-SHA512(key, raw body), no prefix (a `sha512=` prefix is tolerated).
pub fn waha_hmac(key: &str, body: &[u8], header: Option<&str>) -> Result<(), AuthError> {
    if key.is_empty() {
        return Err(AuthError::NotConfigured);
    }
    let header = header.ok_or(AuthError::Missing("X-Webhook-Hmac"))?.trim();
    let hex_part = strip_prefix_ci(header, "sha512=").unwrap_or(header);
    let sig = decode_hex(hex_part, 64, "X-Webhook-Hmac")?;
    let mut mac = HmacSha512::new_from_slice(key.as_bytes())
        .map_err(|_| AuthError::Malformed("unusable HMAC key".to_string()))?;
    mac.update(body);
    mac.verify_slice(&sig).map_err(|_| AuthError::Mismatch)
}

/// Evolution API `jwt_key` mode: `token` is the JWT from `Authorization: Bearer <token>` (a leading `Bearer ` is
/// tolerated). Checks, in order: three base64url segments; header `alg` is exactly `HS256` (so `none` and every other
/// algorithm are refused); the HMAC-SHA256 signature over the received `header.payload` text (constant time);
/// then the claims: `exp` is required and must not be earlier than `now_unix - JWT_LEEWAY_SECS`; `nbf`, if present,
/// must not be later than `now_unix + JWT_LEEWAY_SECS`.
pub fn evolution_jwt(key: &str, token: &str, now_unix: i64) -> Result<(), AuthError> {
    if key.is_empty() {
        return Err(AuthError::NotConfigured);
    }
    let token = bearer(Some(token)).unwrap_or(token).trim();
    if token.is_empty() {
        return Err(AuthError::Missing("JWT"));
    }
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed(
            "JWT must have three dot-separated segments".to_string(),
        ));
    };
    let header: serde_json::Value = serde_json::from_slice(&b64url(h64, "JWT header")?)
        .map_err(|e| AuthError::Malformed(format!("JWT header is not JSON: {e}")))?;
    match header.get("alg").and_then(|a| a.as_str()) {
        Some("HS256") => {}
        Some(other) => {
            return Err(AuthError::Malformed(format!(
                "JWT alg `{other}` is not HS256"
            )))
        }
        None => return Err(AuthError::Malformed("JWT header has no `alg`".to_string())),
    }
    let sig = b64url(s64, "JWT signature")?;
    let mut mac = HmacSha256::new_from_slice(key.as_bytes())
        .map_err(|_| AuthError::Malformed("unusable JWT key".to_string()))?;
    mac.update(h64.as_bytes());
    mac.update(b".");
    mac.update(p64.as_bytes());
    mac.verify_slice(&sig).map_err(|_| AuthError::Mismatch)?;

    let claims: serde_json::Value = serde_json::from_slice(&b64url(p64, "JWT payload")?)
        .map_err(|e| AuthError::Malformed(format!("JWT payload is not JSON: {e}")))?;
    let exp = claims
        .get("exp")
        .and_then(num_claim)
        .ok_or_else(|| AuthError::Malformed("JWT has no numeric `exp` claim".to_string()))?;
    if now_unix.saturating_sub(JWT_LEEWAY_SECS) > exp {
        return Err(AuthError::Expired(format!(
            "exp {exp} is before now {now_unix}"
        )));
    }
    if let Some(nbf) = claims.get("nbf").and_then(num_claim) {
        if nbf > now_unix.saturating_add(JWT_LEEWAY_SECS) {
            return Err(AuthError::Expired(format!(
                "nbf {nbf} is after now {now_unix}"
            )));
        }
    }
    Ok(())
}

/// Shared-secret header (`X-Tapak-Token`, `Authorization: Bearer`, Evolution body `apikey`): constant-time equality.
/// An empty `expected` means "not configured" and is always refused.
pub fn token_eq(expected: &str, got: Option<&str>) -> Result<(), AuthError> {
    if expected.is_empty() {
        return Err(AuthError::NotConfigured);
    }
    let got = got.ok_or(AuthError::Missing("token"))?;
    // Compare fixed-size digests so neither content nor length of the secret leaks through timing.
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(got.as_bytes());
    if bool::from(a.ct_eq(&b)) {
        Ok(())
    } else {
        Err(AuthError::Mismatch)
    }
}

/// The token of an `Authorization: Bearer <token>` header value (scheme case-insensitive), if it is one.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    let t = strip_prefix_ci(h, "bearer ")?.trim();
    (!t.is_empty()).then_some(t)
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

fn decode_hex(s: &str, len: usize, what: &str) -> Result<Vec<u8>, AuthError> {
    let bytes =
        hex::decode(s).map_err(|e| AuthError::Malformed(format!("{what} is not hex: {e}")))?;
    if bytes.len() != len {
        return Err(AuthError::Malformed(format!(
            "{what} has {} bytes, expected {len}",
            bytes.len()
        )));
    }
    Ok(bytes)
}

fn b64url(s: &str, what: &str) -> Result<Vec<u8>, AuthError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('=').as_bytes())
        .map_err(|e| AuthError::Malformed(format!("{what} is not base64url: {e}")))
}

fn num_claim(v: &serde_json::Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/whatsapp/");

    fn read(rel: &str) -> Vec<u8> {
        std::fs::read(format!("{FX}{rel}")).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }
    fn read_str(rel: &str) -> String {
        String::from_utf8(read(rel)).unwrap()
    }
    fn json(rel: &str) -> serde_json::Value {
        serde_json::from_slice(&read(rel)).unwrap()
    }

    #[test]
    fn meta_signature_test_vector() {
        let secret = read_str("cloud-api/signature/app_secret.txt");
        let secret = secret.trim();
        let body = read("cloud-api/signature/body.json");
        let header = read_str("cloud-api/signature/x-hub-signature-256.txt");
        assert_eq!(body.len(), 547);
        assert_eq!(meta_signature(secret, &body, Some(header.trim())), Ok(()));
    }

    #[test]
    fn meta_signature_cases_json() {
        let cases = json("cloud-api/signature/cases.json");
        let secret = read_str("cloud-api/signature/app_secret.txt");
        let secret = secret.trim();
        let body = read("cloud-api/signature/body.json");
        assert_eq!(
            hex::encode(Sha256::digest(&body)),
            cases["body_sha256_hex"].as_str().unwrap()
        );
        let mut seen = 0;
        for case in cases["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let header = case["header"].as_str();
            let accept = case["expect"].as_str().unwrap().starts_with("accept");
            let result = match name {
                "valid"
                | "valid_uppercase_hex"
                | "wrong_secret"
                | "missing_prefix"
                | "missing_header" => meta_signature(secret, &body, header),
                "body_with_trailing_newline" => {
                    let mut b = body.clone();
                    b.push(b'\n');
                    // The documented signature of the modified body does verify: only the body changed.
                    assert_eq!(
                        meta_signature(secret, &b, case["signature_of_modified_body"].as_str()),
                        Ok(())
                    );
                    meta_signature(secret, &b, header)
                }
                "reserialized_unescaped_utf8" => {
                    let b = read("cloud-api/signature/body_reserialized_utf8.json");
                    // Same JSON value, different bytes.
                    let v1: serde_json::Value = serde_json::from_slice(&body).unwrap();
                    let v2: serde_json::Value = serde_json::from_slice(&b).unwrap();
                    assert_eq!(v1, v2);
                    assert_eq!(
                        meta_signature(secret, &b, case["signature_of_reserialized_body"].as_str()),
                        Ok(())
                    );
                    meta_signature(secret, &b, header)
                }
                "legacy_sha1_header_only" => {
                    // Only X-Hub-Signature (sha1) was sent: X-Hub-Signature-256 is absent.
                    assert_eq!(case["header_name_override"], "X-Hub-Signature");
                    let r = meta_signature(secret, &body, None);
                    assert_eq!(r, Err(AuthError::Missing("X-Hub-Signature-256")));
                    // And a sha1 value pasted into the 256 header is malformed, not accepted.
                    assert!(matches!(
                        meta_signature(secret, &body, header),
                        Err(AuthError::Malformed(_))
                    ));
                    r
                }
                other => panic!("unknown case {other}"),
            };
            seen += 1;
            assert_eq!(result.is_ok(), accept, "case {name}: {result:?}");
        }
        assert_eq!(seen, 8);
        assert_eq!(
            meta_signature(secret, &body, None),
            Err(AuthError::Missing("X-Hub-Signature-256"))
        );
        assert!(matches!(
            meta_signature(secret, &body, Some("sha256=e501")),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            meta_signature(secret, &body, Some("sha256=zz")),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(
            meta_signature("", &body, cases["cases"][0]["header"].as_str()),
            Err(AuthError::NotConfigured)
        );
    }

    #[test]
    fn waha_hmac_vectors() {
        let exp = json("waha/hmac/expected.json");
        let key = read_str("waha/hmac/key.txt");
        let body = read("waha/hmac/body.json");
        let header = exp["headers"]["X-Webhook-Hmac"].as_str().unwrap();
        assert_eq!(waha_hmac(key.trim(), &body, Some(header)), Ok(()));
        assert_eq!(
            waha_hmac(key.trim(), &body, Some(&header.to_uppercase())),
            Ok(())
        );
        // Any changed byte must fail.
        for i in [0, body.len() / 2, body.len() - 1] {
            let mut b = body.clone();
            b[i] ^= 0x01;
            assert_eq!(
                waha_hmac(key.trim(), &b, Some(header)),
                Err(AuthError::Mismatch),
                "byte {i}"
            );
        }
        assert_eq!(
            waha_hmac("other-key", &body, Some(header)),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            waha_hmac(key.trim(), &body, None),
            Err(AuthError::Missing("X-Webhook-Hmac"))
        );
        assert!(matches!(
            waha_hmac(key.trim(), &body, Some("abc")),
            Err(AuthError::Malformed(_))
        ));
        assert_eq!(
            waha_hmac("", &body, Some(header)),
            Err(AuthError::NotConfigured)
        );
        // Vector from the WAHA docs.
        let d = &exp["docs_vector"];
        assert_eq!(
            waha_hmac(
                d["key"].as_str().unwrap(),
                d["body"].as_str().unwrap().as_bytes(),
                d["hmac"].as_str()
            ),
            Ok(())
        );
    }

    fn jwt_fixture() -> (String, String, i64, i64) {
        let fx = json("evolution/webhook_jwt_header_example.json");
        let key = fx["jwt_key_configured"].as_str().unwrap().to_string();
        let auth = fx["received_headers"]["Authorization"]
            .as_str()
            .unwrap()
            .to_string();
        let iat = fx["decoded"]["payload"]["iat"].as_i64().unwrap();
        let exp = fx["decoded"]["payload"]["exp"].as_i64().unwrap();
        (key, auth, iat, exp)
    }

    fn sign(key: &str, header: &str, payload: &str) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let h = e.encode(header);
        let p = e.encode(payload);
        let mut mac = HmacSha256::new_from_slice(key.as_bytes()).unwrap();
        mac.update(format!("{h}.{p}").as_bytes());
        format!("{h}.{p}.{}", e.encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn evolution_jwt_fixture_inside_window() {
        let (key, auth, iat, exp) = jwt_fixture();
        let token = bearer(Some(&auth)).unwrap();
        assert_eq!(evolution_jwt(&key, token, iat), Ok(()));
        assert_eq!(evolution_jwt(&key, token, iat + 300), Ok(()));
        assert_eq!(evolution_jwt(&key, token, exp), Ok(()));
        assert_eq!(evolution_jwt(&key, token, exp + JWT_LEEWAY_SECS), Ok(()));
        // With the Bearer prefix still on.
        assert_eq!(evolution_jwt(&key, &auth, iat + 1), Ok(()));
    }

    #[test]
    fn evolution_jwt_expired_forged_and_none() {
        let (key, auth, _iat, exp) = jwt_fixture();
        let token = bearer(Some(&auth)).unwrap();
        assert!(matches!(
            evolution_jwt(&key, token, exp + JWT_LEEWAY_SECS + 1),
            Err(AuthError::Expired(_))
        ));
        assert!(matches!(
            evolution_jwt(&key, token, exp + 86_400),
            Err(AuthError::Expired(_))
        ));
        assert_eq!(
            evolution_jwt("wrong-key", token, exp - 10),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            evolution_jwt("", token, exp - 10),
            Err(AuthError::NotConfigured)
        );

        // Payload swapped for a later exp, signature kept: forged.
        let parts: Vec<&str> = token.split('.').collect();
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let later =
            e.encode(r#"{"iat":1772414133,"exp":1999999999,"app":"evolution","action":"webhook"}"#);
        let forged = format!("{}.{}.{}", parts[0], later, parts[2]);
        assert_eq!(
            evolution_jwt(&key, &forged, 1_900_000_000),
            Err(AuthError::Mismatch)
        );

        // Tampered signature byte.
        let mut sig = e.decode(parts[2]).unwrap();
        sig[0] ^= 1;
        let bad = format!("{}.{}.{}", parts[0], parts[1], e.encode(sig));
        assert_eq!(
            evolution_jwt(&key, &bad, exp - 10),
            Err(AuthError::Mismatch)
        );

        // alg none / other algorithms refused even if "signed".
        let none = format!(
            "{}.{}.",
            e.encode(r#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert!(matches!(
            evolution_jwt(&key, &none, exp - 10),
            Err(AuthError::Malformed(_))
        ));
        let hs512 = sign(&key, r#"{"alg":"HS512"}"#, r#"{"exp":1772414733}"#);
        assert!(matches!(
            evolution_jwt(&key, &hs512, exp - 10),
            Err(AuthError::Malformed(_))
        ));

        // A correctly signed token of our own: exp required, nbf honoured.
        let ok = sign(
            &key,
            r#"{"alg":"HS256","typ":"JWT"}"#,
            r#"{"iat":100,"exp":700}"#,
        );
        assert_eq!(evolution_jwt(&key, &ok, 650), Ok(()));
        let no_exp = sign(&key, r#"{"alg":"HS256"}"#, r#"{"iat":100}"#);
        assert!(matches!(
            evolution_jwt(&key, &no_exp, 150),
            Err(AuthError::Malformed(_))
        ));
        let future = sign(&key, r#"{"alg":"HS256"}"#, r#"{"nbf":10000,"exp":20000}"#);
        assert!(matches!(
            evolution_jwt(&key, &future, 100),
            Err(AuthError::Expired(_))
        ));

        for junk in ["", "a.b", "a.b.c.d", "!!.??.**", "eyJ.eyJ.x"] {
            assert!(evolution_jwt(&key, junk, exp).is_err(), "{junk}");
        }
    }

    #[test]
    fn token_eq_and_bearer() {
        let fx = json("evolution/webhook_jwt_header_example.json");
        let t = fx["received_headers"]["x-tapak-token"].as_str();
        assert_eq!(token_eq("shared-secret-123", t), Ok(()));
        assert_eq!(
            token_eq("shared-secret-123", Some("shared-secret-124")),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            token_eq("shared-secret-123", Some("shared-secret-1234")),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            token_eq("shared-secret-123", Some("")),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            token_eq("shared-secret-123", None),
            Err(AuthError::Missing("token"))
        );
        assert_eq!(token_eq("", Some("")), Err(AuthError::NotConfigured));
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer   abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}
