//! The appliance's audit signing key: an Ed25519 key made on first use and kept in the data directory
//! (`audit-signing.key`, readable by its owner only). Its fingerprint is shown in Settings and printed by
//! `tapak verify`, so an inspector can check that a ZIP was signed by this appliance and nobody else.

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::AuditError;

pub const KEY_FILE: &str = "audit-signing.key";

pub fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

/// Reads the key, making it first when there is none. Two processes making it at once agree on one key: the file
/// appears complete or not at all (written aside, then hard-linked into place, which fails if another won).
pub fn load_or_create(data_dir: &Path) -> Result<SigningKey, AuditError> {
    let path = key_path(data_dir);
    if let Some(k) = read(&path)? {
        return Ok(k);
    }
    std::fs::create_dir_all(data_dir)
        .map_err(|e| AuditError::io(&format!("cannot create {}", data_dir.display()), e))?;
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let tmp = data_dir.join(format!("{KEY_FILE}.{}.tmp", ulid::Ulid::new()));
    let write = || -> std::io::Result<()> {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(format!("{}\n", hex::encode(key.to_bytes())).as_bytes())?;
        f.sync_all()?;
        match std::fs::hard_link(&tmp, &path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        }
    };
    let res = write();
    let _ = std::fs::remove_file(&tmp);
    res.map_err(|e| AuditError::io(&format!("cannot write {}", path.display()), e))?;
    read(&path)?.ok_or_else(|| AuditError::Io(format!("{} vanished", path.display())))
}

fn read(path: &Path) -> Result<Option<SigningKey>, AuditError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(AuditError::io(
                &format!("cannot read {}", path.display()),
                e,
            ))
        }
    };
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            AuditError::Io(format!(
                "{} is not an audit signing key (64 hex digits expected)",
                path.display()
            ))
        })?;
    Ok(Some(SigningKey::from_bytes(&bytes)))
}

/// A short, readable fingerprint of a public key: the first 10 bytes of its SHA-256 in groups of four hex digits.
pub fn fingerprint(key: &VerifyingKey) -> String {
    let h = Sha256::digest(key.as_bytes());
    h[..10]
        .chunks(2)
        .map(hex::encode)
        .collect::<Vec<_>>()
        .join("-")
}

pub fn sign(key: &SigningKey, msg: &[u8]) -> String {
    hex::encode(key.sign(msg).to_bytes())
}

/// Checks a hex signature of `msg` by the hex public key `public_key`.
pub fn check(public_key: &str, msg: &[u8], signature: &str) -> Result<VerifyingKey, String> {
    let pk: [u8; 32] = hex::decode(public_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("the public key is not 64 hex digits")?;
    let key =
        VerifyingKey::from_bytes(&pk).map_err(|_| "the public key is not a valid Ed25519 key")?;
    let sig: [u8; 64] = hex::decode(signature.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or("the signature is not 128 hex digits")?;
    key.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| "the signature does not match the manifest".to_string())?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_made_once_and_signs_verifiably() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path()).unwrap();
        let b = load_or_create(dir.path()).unwrap();
        assert_eq!(
            a.to_bytes(),
            b.to_bytes(),
            "the second call reads the first key"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(key_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the key");
        }
        let pk = hex::encode(a.verifying_key().as_bytes());
        let sig = sign(&a, b"manifest");
        assert!(check(&pk, b"manifest", &sig).is_ok());
        assert!(check(&pk, b"manifesT", &sig).is_err());
        let other = hex::encode(SigningKey::from_bytes(&[7; 32]).verifying_key().as_bytes());
        assert!(check(&other, b"manifest", &sig).is_err());
        assert_eq!(fingerprint(&a.verifying_key()).len(), 24);
    }

    #[test]
    fn a_damaged_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(key_path(dir.path()), "not a key").unwrap();
        let e = load_or_create(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not an audit signing key"), "{e}");
    }
}
