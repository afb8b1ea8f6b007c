//! Importing another region's trust list, and refreshing it.
//!
//! The first import of a region pins its root key: the one given out of band (`--root`), or
//! else the one the list names (trust on first use, which the operator confirms against the
//! fingerprint the other region publishes). Every later list for that region must be signed
//! by the pinned root and must not be older than the imported one (its `sequence` never goes
//! back), so a replayed old list cannot bring back a key that was removed or revoked. A
//! region never imports a list for itself.

use healthcode_credential::{TrustList, TrustListError};

#[derive(Debug, thiserror::Error)]
pub enum TrustImportError {
    #[error("{0}")]
    Invalid(#[from] TrustListError),
    #[error("the trust list is for region {0}, which is this node's own region")]
    OwnRegion(String),
    #[error(
        "the trust list for region {region} is number {offered}, older than number {current} \
         already imported"
    )]
    Rollback {
        region: String,
        offered: u64,
        current: u64,
    },
    #[error(
        "the trust list for region {region} is signed by root key {found}, not by the \
         pinned root key {pinned}"
    )]
    RootChanged {
        region: String,
        pinned: String,
        found: String,
    },
}

impl TrustImportError {
    pub fn code(&self) -> &'static str {
        match self {
            TrustImportError::Invalid(_) => "invalid_trust_list",
            TrustImportError::OwnRegion(_) => "own_region",
            TrustImportError::Rollback { .. } => "trust_list_rollback",
            TrustImportError::RootChanged { .. } => "root_changed",
        }
    }
}

/// What an accepted import changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// The region had no list here before.
    New,
    /// A newer list replaced the imported one.
    Replaced { previous_sequence: u64 },
    /// The same sequence number again: nothing changes.
    Unchanged,
}

/// Checks `text`, a signed trust list of another region, against the lists already
/// `imported` and against a root key given out of band.
pub fn accept_update(
    own_region: &str,
    text: &str,
    imported: &[TrustList],
    expected_root: Option<&[u8; 32]>,
) -> Result<(TrustList, Update), TrustImportError> {
    // The signature is checked against the root key the list names, which must be the
    // expected one when it is given.
    let list = TrustList::from_json(text, expected_root)?;
    if list.region == own_region {
        return Err(TrustImportError::OwnRegion(list.region));
    }
    let Some(current) = imported.iter().find(|l| l.region == list.region) else {
        return Ok((list, Update::New));
    };
    let pinned = expected_root.unwrap_or(&current.root_public_key);
    let update = succeeds(current, &list, pinned)?;
    Ok((list, update))
}

/// Whether `next`, a verified list of the same region as `current`, may replace it: it must
/// be signed by the `pinned` root key and must not be older. The rule of [`accept_update`],
/// for a holder of one region's list (a gate that cached its own region's) as much as for
/// imports.
pub fn succeeds(
    current: &TrustList,
    next: &TrustList,
    pinned: &[u8; 32],
) -> Result<Update, TrustImportError> {
    if *pinned != next.root_public_key {
        return Err(TrustImportError::RootChanged {
            region: next.region.clone(),
            pinned: hex::encode(pinned),
            found: hex::encode(next.root_public_key),
        });
    }
    if next.sequence < current.sequence {
        return Err(TrustImportError::Rollback {
            region: next.region.clone(),
            offered: next.sequence,
            current: current.sequence,
        });
    }
    Ok(if next.sequence == current.sequence {
        Update::Unchanged
    } else {
        Update::Replaced {
            previous_sequence: current.sequence,
        }
    })
}

/// Parses a root public key given as 64 hex digits.
pub fn parse_root_key(hex_text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(hex_text.trim()).ok()?;
    bytes.try_into().ok()
}
