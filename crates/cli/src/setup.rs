//! Opening a data directory: key files, the store, the region's trust list.
//!
//! Layout of `DATA_DIR` (see docs/SECURITY.md for how to handle it):
//! - `keys/master.key` — 32 random bytes; field encryption and blind index keys derive from it.
//! - `keys/code-signing.key` — Ed25519 seed that signs codes.
//! - `keys/root.key` — Ed25519 seed of the region root key that signs the trust list.
//! - `keys/log.key` — Ed25519 seed that signs the transparency log's checkpoints.
//! - `keys/code-signing.json` — the code key's validity period.
//! - `keys/code-signing-next.key`, `keys/code-signing-next.json` — a staged code key, listed in
//!   the trust list before it signs anything (`healthcode keys rotate`).
//! - `keys/code-signing-retired.json` — the public halves of code keys that signed before,
//!   listed for what they signed until [`RETIRED_LISTED_DAYS`] after they stopped.
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
/// How long after its rotation a retired code key may still have signed: nodes pick a new key
/// up at their next reading of `keys/` (every `--trust-reload-secs`, a minute by default), so
/// its validity ends this long after the rotation, not at it.
pub const RETIRE_GRACE_MINUTES: i64 = 10;
/// How long a retired code key stays in the trust list: codes it signed expire within minutes,
/// but printed place-code posters and paper passes it signed verify until they are reprinted.
pub const RETIRED_LISTED_DAYS: i64 = 30;

pub struct DataDir {
    pub path: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct CodeKeyInfo {
    kid: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
}

impl CodeKeyInfo {
    /// A new code key's validity: from five minutes before `now` (clock skew) for
    /// [`CODE_KEY_VALIDITY_DAYS`].
    fn fresh(key: &SigningKey, now: DateTime<Utc>) -> CodeKeyInfo {
        let now = whole_second(now);
        CodeKeyInfo {
            kid: hex::encode(key.kid()),
            not_before: now - Duration::minutes(5),
            not_after: now + Duration::days(CODE_KEY_VALIDITY_DAYS),
        }
    }

    /// Writes it to `path`, replacing it atomically, owner-only.
    fn write(&self, path: &Path) -> Result<()> {
        crate::files::write_atomically(
            path,
            &serde_json::to_vec_pretty(self)?,
            crate::files::Access::OwnerOnly,
        )
    }
}

/// A code key that signed before: its public half, its validity while it signed, and when it
/// stopped (the end of its validity is [`RETIRE_GRACE_MINUTES`] later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetiredKey {
    pub kid: String,
    pub public_key: String,
    pub not_before: DateTime<Utc>,
    pub retired_at: DateTime<Utc>,
}

/// A staged code key: listed, not yet signing.
pub struct StagedKey {
    pub key: SigningKey,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

pub struct Keys {
    pub code: SigningKey,
    pub code_not_before: DateTime<Utc>,
    pub code_not_after: DateTime<Utc>,
    /// A key staged by `keys rotate`, listed beside the code key until it replaces it.
    pub next: Option<StagedKey>,
    /// Code keys rotated out, listed for what they signed.
    pub retired: Vec<RetiredKey>,
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
        self.load_keys(now, true)
    }

    /// The keys as they are on disk, creating none: what a running server reads again (a key
    /// file gone missing is an error to report, never a reason to make a new key).
    pub fn existing_keys(&self, now: DateTime<Utc>) -> Result<Keys> {
        self.load_keys(now, false)
    }

    fn load_keys(&self, now: DateTime<Utc>, create: bool) -> Result<Keys> {
        let read = |name: &str| {
            let path = self.path.join("keys").join(name);
            if !create && !path.exists() {
                bail!("{} is missing", path.display());
            }
            signing_key(&path)
        };
        let code = read("code-signing.key")?;
        let root = read("root.key")?;
        let log = read("log.key")?;
        let info_path = self.path.join("keys/code-signing.json");
        let info = match std::fs::read_to_string(&info_path) {
            Ok(text) => serde_json::from_str::<CodeKeyInfo>(&text)
                .with_context(|| format!("{} is not valid", info_path.display()))?,
            Err(e) if !create => {
                return Err(e).with_context(|| format!("cannot read {}", info_path.display()));
            }
            Err(_) => {
                let info = CodeKeyInfo::fresh(&code, now);
                info.write(&info_path)?;
                info
            }
        };
        let next = self.staged()?;
        // An activation stopped between writing the key and its description: the staged
        // key's description is the one.
        let info = match &next {
            Some(n) if info.kid != hex::encode(code.kid()) && n.key.kid() == code.kid() => {
                CodeKeyInfo {
                    kid: hex::encode(code.kid()),
                    not_before: n.not_before,
                    not_after: n.not_after,
                }
            }
            _ => info,
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
            next: next.filter(|n| n.key.kid() != code.kid()),
            retired: self.retired()?,
            code,
            code_not_before: info.not_before,
            code_not_after: info.not_after,
            root,
            log,
            log_verifier: None,
        })
    }

    fn next_paths(&self) -> (PathBuf, PathBuf) {
        (
            self.path.join("keys/code-signing-next.key"),
            self.path.join("keys/code-signing-next.json"),
        )
    }

    fn retired_path(&self) -> PathBuf {
        self.path.join("keys/code-signing-retired.json")
    }

    /// The staged code key, if there is one (never created here).
    fn staged(&self) -> Result<Option<StagedKey>> {
        let (key_path, info_path) = self.next_paths();
        if !key_path.exists() {
            return Ok(None);
        }
        let key = signing_key(&key_path)?;
        let text = std::fs::read_to_string(&info_path)
            .with_context(|| format!("cannot read {}", info_path.display()))?;
        let info: CodeKeyInfo = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid", info_path.display()))?;
        if info.kid != hex::encode(key.kid()) {
            bail!(
                "{} describes key {} but {} is {}",
                info_path.display(),
                info.kid,
                key_path.display(),
                hex::encode(key.kid())
            );
        }
        Ok(Some(StagedKey {
            key,
            not_before: info.not_before,
            not_after: info.not_after,
        }))
    }

    fn retired(&self) -> Result<Vec<RetiredKey>> {
        let path = self.retired_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Stages a new code key: created, listed in the trust list from the next reading of
    /// `keys/`, signing nothing until [`DataDir::activate_code_key`]. Refused while a key is
    /// staged already.
    pub fn stage_code_key(&self, now: DateTime<Utc>) -> Result<SigningKey> {
        let keys = self.keys(now)?;
        if let Some(next) = keys.next {
            bail!(
                "key {} is staged already: activate it with `healthcode keys rotate --activate`",
                hex::encode(next.key.kid())
            );
        }
        let (key_path, info_path) = self.next_paths();
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        // The description first: a key file without one is not taken as staged.
        CodeKeyInfo::fresh(&key, now).write(&info_path)?;
        crate::files::write_atomically(&key_path, &key.seed(), crate::files::Access::OwnerOnly)?;
        Ok(key)
    }

    /// Makes the staged key the code key; the code key it replaces joins the retired keys.
    /// Returns (retired, activated). Safe to run again if it was interrupted.
    pub fn activate_code_key(&self, now: DateTime<Utc>) -> Result<(SigningKey, SigningKey)> {
        let keys = self.keys(now)?;
        let Some(next) = keys.next else {
            bail!("no key is staged: stage one first with `healthcode keys rotate`");
        };
        let now = whole_second(now);
        let mut retired = keys.retired;
        let old = hex::encode(keys.code.kid());
        if !retired.iter().any(|r| r.kid == old) {
            retired.push(RetiredKey {
                kid: old,
                public_key: hex::encode(keys.code.public_key()),
                not_before: keys.code_not_before,
                retired_at: now,
            });
        }
        crate::files::write_atomically(
            &self.retired_path(),
            &serde_json::to_vec_pretty(&retired)?,
            crate::files::Access::OwnerOnly,
        )?;
        crate::files::write_atomically(
            &self.path.join("keys/code-signing.key"),
            &next.key.seed(),
            crate::files::Access::OwnerOnly,
        )?;
        CodeKeyInfo {
            kid: hex::encode(next.key.kid()),
            not_before: next.not_before,
            not_after: next.not_after,
        }
        .write(&self.path.join("keys/code-signing.json"))?;
        let (key_path, info_path) = self.next_paths();
        std::fs::remove_file(&key_path)
            .with_context(|| format!("cannot remove {}", key_path.display()))?;
        std::fs::remove_file(&info_path)
            .with_context(|| format!("cannot remove {}", info_path.display()))?;
        Ok((keys.code, next.key))
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
            keys: self.listed(now)?,
        };
        list.sign(&self.root).context("cannot sign the trust list")
    }

    /// The code keys a trust list at `now` lists: the signing key, a staged one, and those
    /// retired within [`RETIRED_LISTED_DAYS`], valid until [`RETIRE_GRACE_MINUTES`] after
    /// their retirement.
    fn listed(&self, now: DateTime<Utc>) -> Result<Vec<TrustedKey>> {
        let mut keys = vec![TrustedKey {
            kid: self.code.kid(),
            public_key: self.code.public_key(),
            not_before: self.code_not_before,
            not_after: self.code_not_after,
            usage: vec![KeyUsage::Code],
        }];
        if let Some(next) = &self.next {
            keys.push(TrustedKey {
                kid: next.key.kid(),
                public_key: next.key.public_key(),
                not_before: next.not_before,
                not_after: next.not_after,
                usage: vec![KeyUsage::Code],
            });
        }
        for r in &self.retired {
            if now > r.retired_at + Duration::days(RETIRED_LISTED_DAYS) {
                continue;
            }
            let public_key: [u8; 32] = hex::decode(&r.public_key)
                .ok()
                .and_then(|b| b.try_into().ok())
                .with_context(|| format!("retired key {} has no 32-byte public key", r.kid))?;
            let key = TrustedKey::new(
                public_key,
                r.not_before,
                r.retired_at + Duration::minutes(RETIRE_GRACE_MINUTES),
                vec![KeyUsage::Code],
            );
            if keys.iter().all(|k| k.kid != key.kid) {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    /// What a trust list depends on besides the time: the kids of the keys it can list.
    pub fn fingerprint(&self) -> Vec<Vec<u8>> {
        let mut kids = vec![self.code.kid().to_vec()];
        kids.extend(self.next.iter().map(|n| n.key.kid().to_vec()));
        kids.extend(self.retired.iter().map(|r| r.kid.clone().into_bytes()));
        kids
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
