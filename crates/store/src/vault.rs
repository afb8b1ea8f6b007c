//! Field encryption and the blind index.
//!
//! One 32-byte master key (kept outside the database, in a file under the data directory;
//! see docs/SECURITY.md) is expanded with HKDF-SHA256 (RFC 5869) into
//! independent keys:
//! - `field`: XChaCha20-Poly1305 for names, document numbers and phone numbers. Each value is
//!   sealed with a fresh random 24-byte nonce and associated data naming the field and the
//!   row's blind index, so a ciphertext moved to another field or row fails to open.
//! - `index`: HMAC-SHA256 keyed blind index over document type and number, so the database
//!   can find a person by document number without holding the number in clear.
//!
//! This module does not decide what is personal data; the store's schema does.

use std::fmt;
use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::StoreError;
use healthcode_domain::DocumentNumber;

const NONCE_LEN: usize = 24;
/// Version byte in front of every ciphertext, so a later key or algorithm can be told apart.
const FORMAT_V1: u8 = 1;

/// A blind index value: HMAC-SHA256 of a document's type and number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocIndex(pub [u8; 32]);

impl fmt::Debug for DocIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocIndex({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// The fields the vault seals. The name goes into the associated data.
#[derive(Debug, Clone, Copy)]
pub enum Field {
    Name,
    DocumentNumber,
    Phone,
    /// The database's key check (see `SqlStore::connect`).
    KeyCheck,
}

impl Field {
    fn label(self) -> &'static [u8] {
        match self {
            Field::Name => b"name",
            Field::DocumentNumber => b"document_number",
            Field::Phone => b"phone",
            Field::KeyCheck => b"key_check",
        }
    }
}

pub struct Vault {
    field: XChaCha20Poly1305,
    index: Hmac<Sha256>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vault(..)")
    }
}

impl Vault {
    /// Derives the vault's keys from a 32-byte master key.
    pub fn from_master_key(master: &[u8; 32]) -> Vault {
        let hk = Hkdf::<Sha256>::new(Some(b"healthcode vault v1"), master);
        let mut field_key = Zeroizing::new([0u8; 32]);
        let mut index_key = Zeroizing::new([0u8; 32]);
        // HKDF-Expand can only fail for outputs longer than 255 hash lengths; 32 bytes is not.
        let _ = hk.expand(b"field encryption", field_key.as_mut_slice());
        let _ = hk.expand(b"blind index", index_key.as_mut_slice());
        let field = XChaCha20Poly1305::new(field_key.as_slice().into());
        // HMAC accepts keys of any length.
        let index = <Hmac<Sha256> as Mac>::new_from_slice(index_key.as_slice())
            .unwrap_or_else(|_| unreachable_hmac());
        Vault { field, index }
    }

    /// Reads the master key from `path`, or creates it (32 random bytes, mode 0600) if the
    /// file does not exist yet.
    pub fn open_or_create(path: &Path) -> Result<Vault, StoreError> {
        let key = load_or_create_key(path)?;
        Ok(Vault::from_master_key(&key))
    }

    pub fn blind_index(&self, doc: &DocumentNumber) -> DocIndex {
        let mut mac = self.index.clone();
        mac.update(doc.kind().as_str().as_bytes());
        mac.update(b":");
        mac.update(doc.expose().as_bytes());
        DocIndex(mac.finalize().into_bytes().into())
    }

    pub fn seal(
        &self,
        field: Field,
        row: &DocIndex,
        plaintext: &str,
    ) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = associated_data(field, row);
        let ct = self
            .field
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| StoreError::Crypto("encryption failed"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        out.push(FORMAT_V1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, field: Field, row: &DocIndex, sealed: &[u8]) -> Result<String, StoreError> {
        let (&version, rest) = sealed
            .split_first()
            .ok_or(StoreError::Crypto("empty ciphertext"))?;
        if version != FORMAT_V1 || rest.len() < NONCE_LEN {
            return Err(StoreError::Crypto("unknown ciphertext format"));
        }
        let (nonce, ct) = rest.split_at(NONCE_LEN);
        let aad = associated_data(field, row);
        let pt = self
            .field
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
            .map_err(|_| StoreError::Crypto("ciphertext does not open with this key and row"))?;
        String::from_utf8(pt).map_err(|_| StoreError::Crypto("plaintext is not UTF-8"))
    }
}

fn associated_data(field: Field, row: &DocIndex) -> Vec<u8> {
    let mut aad = Vec::with_capacity(48);
    aad.extend_from_slice(field.label());
    aad.push(0);
    aad.extend_from_slice(&row.0);
    aad
}

#[cold]
fn unreachable_hmac() -> Hmac<Sha256> {
    // Invariant: HMAC-SHA256 takes keys of every length, so new_from_slice cannot fail. Should
    // that ever change, an all-zero key would be wrong; abort rather than index with it.
    std::process::abort()
}

/// Reads a 32-byte key file, or creates one with fresh random bytes. The file is created with
/// mode 0600 and never overwritten.
pub fn load_or_create_key(path: &Path) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let key: [u8; 32] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::KeyFile(format!("{} is not 32 bytes", path.display())))?;
            Ok(Zeroizing::new(key))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = Zeroizing::new([0u8; 32]);
            rand::thread_rng().fill_bytes(key.as_mut_slice());
            write_new_secret(path, key.as_slice())?;
            Ok(key)
        }
        Err(e) => Err(StoreError::KeyFile(format!("{}: {e}", path.display()))),
    }
}

/// Writes a secret to a new file with mode 0600; refuses to overwrite.
pub fn write_new_secret(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    use std::io::Write;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::KeyFile(format!("{}: {e}", dir.display())))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| StoreError::KeyFile(format!("{}: {e}", path.display())))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| StoreError::KeyFile(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use healthcode_domain::DocumentType;

    fn doc() -> DocumentNumber {
        DocumentNumber::parse(DocumentType::ResidentId, "11010519491231002X").expect("valid")
    }

    #[test]
    fn seal_and_open() {
        let v = Vault::from_master_key(&[9; 32]);
        let row = v.blind_index(&doc());
        let sealed = v.seal(Field::Name, &row, "张三").expect("seal");
        assert!(!sealed.windows(6).any(|w| w == "张三".as_bytes()));
        assert_eq!(v.open(Field::Name, &row, &sealed).expect("open"), "张三");
        // Same plaintext, different nonce.
        assert_ne!(sealed, v.seal(Field::Name, &row, "张三").expect("seal"));
    }

    #[test]
    fn moved_or_tampered_ciphertext_fails() {
        let v = Vault::from_master_key(&[9; 32]);
        let row = v.blind_index(&doc());
        let sealed = v.seal(Field::Name, &row, "张三").expect("seal");
        assert!(v.open(Field::Phone, &row, &sealed).is_err());
        assert!(v.open(Field::Name, &DocIndex([0; 32]), &sealed).is_err());
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 1;
            assert!(v.open(Field::Name, &row, &t).is_err(), "byte {i}");
        }
        let other = Vault::from_master_key(&[8; 32]);
        assert!(other.open(Field::Name, &row, &sealed).is_err());
    }

    #[test]
    fn blind_index_is_keyed_and_typed() {
        let a = Vault::from_master_key(&[1; 32]);
        let b = Vault::from_master_key(&[2; 32]);
        assert_eq!(a.blind_index(&doc()), a.blind_index(&doc()));
        assert_ne!(a.blind_index(&doc()), b.blind_index(&doc()));
        let passport = DocumentNumber::parse(DocumentType::Passport, "E12345678").expect("ok");
        let permit = DocumentNumber::parse(DocumentType::TaiwanPermit, "12345678").expect("ok");
        let passport_digits =
            DocumentNumber::parse(DocumentType::Passport, "12345678").expect("ok");
        assert_ne!(a.blind_index(&passport), a.blind_index(&permit));
        assert_ne!(a.blind_index(&passport_digits), a.blind_index(&permit));
    }

    #[test]
    fn key_file_is_created_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keys/master.key");
        let k1 = load_or_create_key(&path).expect("create");
        let k2 = load_or_create_key(&path).expect("load");
        assert_eq!(*k1, *k2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, b"short").expect("write");
        assert!(load_or_create_key(&path).is_err());
    }
}
