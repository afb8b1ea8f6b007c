//! `config.json`: the server, the device key and the configuration fetched from
//! `GET /api/v1/gate/config`; and the rule a refreshed configuration's trust list must pass.

use std::io::ErrorKind;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use healthcode_credential::TrustList;
use healthcode_server::api::gate::GateConfig;
use healthcode_verify::regions::{TrustImportError, succeeds};

use crate::files::{Access, write_atomically};

/// `config.json`.
#[derive(Serialize, Deserialize)]
pub(super) struct Config {
    pub server: String,
    pub key: String,
    pub fetched_at: DateTime<Utc>,
    pub config: GateConfig,
}

impl Config {
    pub fn path(dir: &Path) -> std::path::PathBuf {
        dir.join("config.json")
    }

    pub fn read(dir: &Path) -> Result<Config> {
        let path = Config::path(dir);
        let bytes = match std::fs::read(&path) {
            Err(e) if e.kind() == ErrorKind::NotFound => bail!(
                "{} is not set up: run `healthcode gate setup --server URL --key KEY --dir {}`",
                dir.display(),
                dir.display()
            ),
            other => other.with_context(|| format!("cannot read {}", path.display()))?,
        };
        serde_json::from_slice(&bytes)
            .with_context(|| format!("{} does not read: run setup again", path.display()))
    }

    /// Writes `config.json`, readable by the owner only: it holds the device key.
    pub fn write(&self, dir: &Path) -> Result<()> {
        write_atomically(
            &Config::path(dir),
            &serde_json::to_vec_pretty(self)?,
            Access::OwnerOnly,
        )
    }

    /// The cached trust list, its signature checked again: the file may have been edited.
    pub fn trust_list(&self) -> Result<TrustList> {
        let list = TrustList::from_json(&self.config.trust_list.to_string(), None)
            .map_err(|e| anyhow!("the trust list does not verify ({e}): run setup again"))?;
        if list.region != self.config.region {
            bail!(
                "the trust list is region {}'s, the gate is in {}: run setup again",
                list.region,
                self.config.region
            );
        }
        Ok(list)
    }
}

/// A refreshed list must be signed by the root the cached one names and be no older: the
/// rule of `healthcode trust import`, so that a server that is not the region's cannot swap
/// the keys a gate trusts, nor bring back a key the region removed.
pub(super) fn check_refresh(cached: &TrustList, offered: &TrustList) -> Result<()> {
    succeeds(cached, offered, &cached.root_public_key)
        .map(drop)
        .map_err(|e| {
            let what = match e {
                TrustImportError::RootChanged { .. } => {
                    "if the region rotated its root on purpose, upload the queue, remove \
                     config.json and set up again"
                }
                _ => "the gate keeps the list it has",
            };
            anyhow!(
                "the server's trust list is refused ({}): {e}; {what}",
                e.code()
            )
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use chrono::TimeDelta;
    use healthcode_credential::{KeyUsage, SigningKey, TrustedKey};

    use super::*;

    fn list(root: &SigningKey, sequence: u64) -> TrustList {
        let now = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let code = SigningKey::from_seed(&[9; 32]);
        let list = TrustList {
            region: "CN-BJ".to_owned(),
            sequence,
            issued_at: now,
            next_update: now + TimeDelta::days(7),
            root_public_key: root.public_key(),
            log: None,
            keys: vec![TrustedKey {
                kid: code.kid(),
                public_key: code.public_key(),
                not_before: now,
                not_after: now + TimeDelta::days(365),
                usage: vec![KeyUsage::Code],
            }],
        };
        // As a gate holds it: signed, then read back.
        TrustList::from_json(&list.sign(root).unwrap(), None).unwrap()
    }

    #[test]
    fn a_newer_or_the_same_list_of_the_same_root_is_taken() {
        let root = SigningKey::from_seed(&[1; 32]);
        check_refresh(&list(&root, 5), &list(&root, 6)).unwrap();
        check_refresh(&list(&root, 5), &list(&root, 5)).unwrap();
    }

    #[test]
    fn an_older_list_is_refused() {
        let root = SigningKey::from_seed(&[1; 32]);
        let err = check_refresh(&list(&root, 5), &list(&root, 4)).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("trust_list_rollback"), "{text}");
        assert!(text.contains("number 4, older than number 5"), "{text}");
    }

    #[test]
    fn a_list_of_another_root_is_refused_however_new() {
        let root = SigningKey::from_seed(&[1; 32]);
        let other = SigningKey::from_seed(&[2; 32]);
        let err = check_refresh(&list(&root, 5), &list(&other, 6)).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("root_changed"), "{text}");
        assert!(text.contains(&hex::encode(other.public_key())), "{text}");
        assert!(
            text.contains("remove config.json and set up again"),
            "{text}"
        );
    }
}
