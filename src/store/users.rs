//! Logins, API tokens and browser sessions. Secrets are stored only as hashes.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: String,
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        disabled: r.get(3)?,
        created_at: r.get(4)?,
    })
}

pub fn create(
    tx: &Transaction<'_>,
    name: &str,
    role: &str,
    password_hash: &str,
) -> Result<i64, StoreError> {
    let n = tx.execute(
        "INSERT OR IGNORE INTO users(name, role, password_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, role, password_hash, super::now_str()],
    )?;
    if n == 0 {
        return Err(StoreError::Conflict(format!("user {name:?}")));
    }
    Ok(tx.last_insert_rowid())
}

pub fn set_password(
    tx: &Transaction<'_>,
    name: &str,
    password_hash: &str,
) -> Result<(), StoreError> {
    let n = tx.execute(
        "UPDATE users SET password_hash = ?2 WHERE name = ?1",
        params![name, password_hash],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("user {name:?}")));
    }
    Ok(())
}

/// The user and their password hash, for login.
pub fn credentials(conn: &Connection, name: &str) -> Result<Option<(User, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, name, role, disabled, created_at, password_hash FROM users WHERE name = ?1",
            [name],
            |r| Ok((user_row(r)?, r.get(5)?)),
        )
        .optional()?)
}

pub fn list(conn: &Connection) -> Result<Vec<User>, StoreError> {
    let mut st =
        conn.prepare("SELECT id, name, role, disabled, created_at FROM users ORDER BY name")?;
    let rows = st.query_map([], user_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn count(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.query_row("SELECT count(*) FROM users", [], |r| r.get(0))?)
}

pub fn create_token(
    tx: &Transaction<'_>,
    name: &str,
    role: &str,
    token_hash: &str,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO api_tokens(name, role, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, role, token_hash, super::now_str()],
    )?;
    Ok(tx.last_insert_rowid())
}

/// (token id, name, role) for a live token.
pub fn token_by_hash(
    conn: &Connection,
    token_hash: &str,
) -> Result<Option<(i64, String, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT id, name, role FROM api_tokens WHERE token_hash = ?1 AND revoked = 0",
            [token_hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

pub fn create_session(
    tx: &Transaction<'_>,
    id_hash: &str,
    user_id: i64,
    csrf: &str,
    expires_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO sessions(id_hash, user_id, csrf_token, created_at, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id_hash, user_id, csrf, super::now_str(), expires_ms],
    )?;
    // Housekeeping: drop expired sessions.
    tx.execute(
        "DELETE FROM sessions WHERE expires_ms < ?1",
        [super::now().timestamp_millis()],
    )?;
    Ok(())
}

/// The live session's user and CSRF token.
pub fn session(
    conn: &Connection,
    id_hash: &str,
    now_ms: i64,
) -> Result<Option<(User, String)>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT u.id, u.name, u.role, u.disabled, u.created_at, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id_hash = ?1 AND s.expires_ms > ?2 AND u.disabled = 0",
            params![id_hash, now_ms],
            |r| Ok((user_row(r)?, r.get(5)?)),
        )
        .optional()?)
}

pub fn delete_session(tx: &Transaction<'_>, id_hash: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
    Ok(())
}

/// A user by id.
pub fn get(conn: &Connection, id: i64) -> Result<User, StoreError> {
    conn.query_row(
        "SELECT id, name, role, disabled, created_at FROM users WHERE id = ?1",
        [id],
        user_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("user {id}")))
}

/// Enabled administrators other than `except`.
pub fn other_enabled_admins(conn: &Connection, except: i64) -> Result<i64, StoreError> {
    Ok(conn.query_row(
        "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id <> ?1",
        [except],
        |r| r.get(0),
    )?)
}

/// Changes a user's role, disabled flag or password hash (each when given).
pub fn update(
    tx: &Transaction<'_>,
    id: i64,
    role: Option<&str>,
    disabled: Option<bool>,
    password_hash: Option<&str>,
) -> Result<(), StoreError> {
    let n = tx.execute(
        "UPDATE users SET role = coalesce(?2, role), disabled = coalesce(?3, disabled), \
         password_hash = coalesce(?4, password_hash) WHERE id = ?1",
        params![id, role, disabled, password_hash],
    )?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("user {id}")));
    }
    Ok(())
}

/// Ends every browser session of a user, but `keep` (the caller's own, hashed) when given.
pub fn end_sessions(
    tx: &Transaction<'_>,
    user_id: i64,
    keep: Option<&str>,
) -> Result<usize, StoreError> {
    Ok(tx.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND id_hash IS NOT ?2",
        params![user_id, keep],
    )?)
}

/// An API token as listed (never its hash).
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Token {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_at: String,
    pub revoked: bool,
}

fn token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Token> {
    Ok(Token {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        created_at: r.get(3)?,
        revoked: r.get(4)?,
    })
}

/// Every API token, live ones first, newest first.
pub fn list_tokens(conn: &Connection) -> Result<Vec<Token>, StoreError> {
    let mut st = conn.prepare(
        "SELECT id, name, role, created_at, revoked FROM api_tokens ORDER BY revoked, id DESC",
    )?;
    let rows = st.query_map([], token_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A token by id.
pub fn get_token(conn: &Connection, id: i64) -> Result<Token, StoreError> {
    conn.query_row(
        "SELECT id, name, role, created_at, revoked FROM api_tokens WHERE id = ?1",
        [id],
        token_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::NotFound(format!("token {id}")))
}

/// Revokes a token (it stops working at once); revoking it again changes nothing.
pub fn revoke_token(tx: &Transaction<'_>, id: i64) -> Result<Token, StoreError> {
    tx.execute("UPDATE api_tokens SET revoked = 1 WHERE id = ?1", [id])?;
    get_token(tx, id)
}
