//! Accounts and permissions: roles, password hashing (argon2id), API tokens and session secrets.
//! No HTTP here: the web layer asks [`Role::may`] and these helpers.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Manager,
    Viewer,
    Inspector,
}

/// What a request wants to do; the roles table of `interfaces.md` decides who may.
///
/// The inspector's rule: an inspector reads records in full (tickets and tasks with their timelines, the people
/// named in them, their evidence), reports and audit ZIPs, message text and phone numbers included: an audit must
/// see who reported what, and the audit ZIP an inspector may export holds every message of its period anyway. What the
/// role leaves out is browsing the operational stream: the message list and search, chats, the people directory and
/// imports (and the dashboard's chat list). Every handler asks [`Role::may`], nothing else decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Messages, chats, people, sites, search: operational reading.
    ReadOperational,
    /// Tickets, tasks, evidence, reports.
    ReadRecords,
    /// Correct classifications and links, manage tickets/tasks/schedules/people/sites/chats, import.
    Manage,
    ExportAudit,
    /// Users, tokens, settings.
    Admin,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "admin" => Role::Admin,
            "manager" => Role::Manager,
            "viewer" => Role::Viewer,
            "inspector" => Role::Inspector,
            _ => return None,
        })
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Viewer => "viewer",
            Role::Inspector => "inspector",
        }
    }
    pub fn may(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Manager => !matches!(p, Admin),
            Role::Viewer => matches!(p, ReadOperational | ReadRecords),
            Role::Inspector => matches!(p, ReadRecords | ExportAudit),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("unknown role {0:?} (expected admin, manager, viewer or inspector)")]
    BadRole(String),
    #[error("password must be at least 8 characters")]
    WeakPassword,
    #[error("password hashing failed: {0}")]
    Hash(String),
}

pub fn parse_role(s: &str) -> Result<Role, AuthError> {
    Role::parse(s).ok_or_else(|| AuthError::BadRole(s.to_string()))
}

pub fn hash_password(password: &str) -> Result<String, AuthError> {
    if password.chars().count() < 8 {
        return Err(AuthError::WeakPassword);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash that a wrong user name is checked against, so unknown users cost the same time as known ones.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash_password("not-a-real-password").unwrap_or_default());
    &DUMMY
}

/// A new random secret, URL-safe, 256 bits.
pub fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// A new API token (`tpk_…`).
pub fn new_token() -> String {
    format!("tpk_{}", random_secret())
}

/// Tokens and session ids are high-entropy, so a plain SHA-256 is the right storage hash.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_the_table() {
        use Permission::*;
        assert!(Role::Admin.may(Admin));
        assert!(Role::Manager.may(Manage) && !Role::Manager.may(Admin));
        assert!(
            Role::Viewer.may(ReadOperational)
                && !Role::Viewer.may(Manage)
                && !Role::Viewer.may(ExportAudit)
        );
        assert!(Role::Inspector.may(ReadRecords) && Role::Inspector.may(ExportAudit));
        assert!(!Role::Inspector.may(ReadOperational));
        assert!(parse_role("root").is_err());
    }

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse!", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(matches!(
            hash_password("short"),
            Err(AuthError::WeakPassword)
        ));
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = new_token();
        assert!(a.starts_with("tpk_") && a.len() > 40);
        assert_ne!(a, new_token());
        assert_eq!(secret_hash(&a).len(), 64);
    }
}
