//! Opening a data directory: key files, the store, the region's trust list.
//!
//! Layout of `DATA_DIR` (see docs/SECURITY.md for how to handle it):
//! - `keys/master.key` — 32 random bytes; field encryption and blind index keys derive from it.
//! - `keys/code-signing.key` — Ed25519 seed that signs codes.
//! - `keys/root.key` — Ed25519 seed of the region root key that signs the trust list.
//! - `keys/log.key` — Ed25519 seed that signs the transparency log's checkpoints.
//! - `keys/code-signing.json` — the code key's validity period.
//! - `healthcode.db` — the embedded database, unless `--database-url` names another.
//! - `trust-list.json` — the signed trust list, rewritten at every start.
//!
//! Every key file is created with mode 0600 on first start and never overwritten.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use healthcode_credential::{KeyUsage, SigningKey, TrustList, TrustedKey};
use healthcode_store::vault::{load_or_create_key, write_new_secret};
use healthcode_store::{SqlStore, Vault};

/// How long a newly generated code-signing key is listed as valid.
const CODE_KEY_VALIDITY_DAYS: i64 = 365;
/// How often gates should fetch a new trust list.
const TRUST_LIST_REFRESH_DAYS: i64 = 7;

pub struct DataDir {
    pub path: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct CodeKeyInfo {
    kid: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

pub struct Keys {
    pub code: SigningKey,
    pub code_not_before: DateTime<Utc>,
    pub code_not_after: DateTime<Utc>,
    pub root: SigningKey,
    /// Signs the transparency log's checkpoints (docs/FORMAT.md §10).
    pub log: SigningKey,
    /// The log's note verifier key, listed in the trust list once the server has named its
    /// log (the origin is pinned in the database).
    pub log_verifier: Option<String>,
}

impl DataDir {
    /// Opens the data directory, creating it, and makes it the owner's alone (0700 on Unix):
    /// it holds the database with everyone's encrypted personal data, the keys and the demo's
    /// tokens.
    pub fn new(path: &Path) -> Result<DataDir> {
        std::fs::create_dir_all(path)
            .with_context(|| format!("cannot create data directory {}", path.display()))?;
        owner_only(path, 0o700)
            .with_context(|| format!("cannot restrict data directory {}", path.display()))?;
        Ok(DataDir {
            path: path.to_path_buf(),
        })
    }

    /// The embedded database's file, created owner-only (0600) before SQLite opens it:
    /// SQLite gives its journal and WAL files the permissions of the database file.
    fn prepare_database_file(&self) -> Result<()> {
        let path = self.path.join("healthcode.db");
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options
            .open(&path)
            .and_then(|_| owner_only(&path, 0o600))
            .with_context(|| format!("cannot create {}", path.display()))
    }

    pub fn default_database_url(&self) -> String {
        format!("sqlite://{}", self.path.join("healthcode.db").display())
    }

    pub fn trust_list_path(&self) -> PathBuf {
        self.path.join("trust-list.json")
    }

    pub fn vault(&self) -> Result<Arc<Vault>> {
        let key = load_or_create_key(&self.path.join("keys/master.key")).context("master key")?;
        Ok(Arc::new(Vault::from_master_key(&key)))
    }

    pub async fn store(&self, database_url: Option<&str>) -> Result<Arc<SqlStore>> {
        if database_url.is_none() {
            self.prepare_database_file()?;
        }
        let url = database_url
            .map(str::to_owned)
            .unwrap_or_else(|| self.default_database_url());
        let store = SqlStore::connect(&url, self.vault()?)
            .await
            .context("cannot open the database")?;
        Ok(Arc::new(store))
    }

    /// Loads the signing keys, creating any that are missing.
    pub fn keys(&self, now: DateTime<Utc>) -> Result<Keys> {
        let code = signing_key(&self.path.join("keys/code-signing.key"))?;
        let root = signing_key(&self.path.join("keys/root.key"))?;
        let log = signing_key(&self.path.join("keys/log.key"))?;
        let info_path = self.path.join("keys/code-signing.json");
        let info = match std::fs::read_to_string(&info_path) {
            Ok(text) => serde_json::from_str::<CodeKeyInfo>(&text)
                .with_context(|| format!("{} is not valid", info_path.display()))?,
            Err(_) => {
                let now = whole_second(now);
                let info = CodeKeyInfo {
                    kid: hex::encode(code.kid()),
                    not_before: now - Duration::minutes(5),
                    not_after: now + Duration::days(CODE_KEY_VALIDITY_DAYS),
                };
                crate::files::write_atomically(
                    &info_path,
                    &serde_json::to_vec_pretty(&info)?,
                    crate::files::Access::OwnerOnly,
                )?;
                info
            }
        };
        if info.kid != hex::encode(code.kid()) {
            bail!(
                "{} describes key {} but code-signing.key is {}",
                info_path.display(),
                info.kid,
                hex::encode(code.kid())
            );
        }
        Ok(Keys {
            code,
            code_not_before: info.not_before,
            code_not_after: info.not_after,
            root,
            log,
            log_verifier: None,
        })
    }
}

impl Keys {
    /// The region's trust list listing the code-signing key, signed by the root key.
    pub fn trust_list(&self, region: &str, now: DateTime<Utc>) -> Result<String> {
        let now = whole_second(now);
        let list = TrustList {
            region: region.to_owned(),
            sequence: u64::try_from(now.timestamp()).unwrap_or(0),
            issued_at: now,
            next_update: now + Duration::days(TRUST_LIST_REFRESH_DAYS),
            root_public_key: self.root.public_key(),
            log: self.log_verifier.clone(),
            keys: vec![TrustedKey {
                kid: self.code.kid(),
                public_key: self.code.public_key(),
                not_before: self.code_not_before,
                not_after: self.code_not_after,
                usage: vec![KeyUsage::Code],
            }],
        };
        list.sign(&self.root).context("cannot sign the trust list")
    }
}

fn signing_key(path: &Path) -> Result<SigningKey> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let seed: [u8; 32] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| anyhow::anyhow!("{} is not a 32-byte key", path.display()))?;
            Ok(SigningKey::from_seed(&seed))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate(&mut rand::rngs::OsRng);
            write_new_secret(path, &key.seed())?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Trust lists carry whole seconds.
fn whole_second(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// Sets `path`'s permission bits to `mode` on Unix (where others could otherwise read it).
fn owner_only(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// The data directory, the database and its WAL, and the key files are the owner's
    /// alone, even for a directory that existed with wider permissions.
    #[tokio::test]
    async fn the_data_directory_is_the_owners_alone() {
        let parent = tempfile::tempdir().unwrap();
        let path = parent.path().join("data");
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = DataDir::new(&path).unwrap();
        assert_eq!(mode(&path), 0o700);
        let store = dir.store(None).await.unwrap();
        let now = DateTime::from_timestamp(1_777_600_000, 0).unwrap();
        dir.keys(now).unwrap();
        drop(store);
        let mut seen = 0;
        for entry in std::fs::read_dir(&path)
            .unwrap()
            .chain(std::fs::read_dir(path.join("keys")).unwrap())
        {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                seen += 1;
                assert_eq!(mode(&entry.path()) & 0o077, 0, "{}", entry.path().display());
            }
        }
        // The database, and at least the three key files.
        assert!(seen >= 4, "{seen}");
        assert_eq!(mode(&path.join("healthcode.db")), 0o600);
    }
}
