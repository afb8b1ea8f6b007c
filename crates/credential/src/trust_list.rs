//! Region trust lists: which keys may sign codes for a region, and when.
//!
//! A trust list is a CBOR map signed as a COSE_Sign1 by the region's root key, carried in a
//! small JSON file. This module owns that map, the file, and the rules a list must obey. It
//! does not own fetching or storing lists, deciding when a list is stale (callers compare
//! [`TrustList::next_update`] with their clock), or verifying codes ([`crate::Verifier`]).

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::cbor::{Decoder, Encoder, set_once};
use crate::claims::epoch_seconds;
use crate::cose::{self, CoseError, Sign1};
use crate::error::{IssueError, TrustListError};
use crate::keys::{KID_LEN, SigningKey, kid_of};

/// The `format` member of the JSON file.
pub const TRUST_LIST_FORMAT: &str = "healthcode-trust-list";
/// The version of the file and of the signed map.
pub const TRUST_LIST_VERSION: u64 = 1;

/// Keys of the signed trust list map.
const LIST_VERSION: u64 = 1;
const LIST_REGION: u64 = 2;
const LIST_SEQUENCE: u64 = 3;
const LIST_ISSUED_AT: u64 = 4;
const LIST_NEXT_UPDATE: u64 = 5;
const LIST_ROOT: u64 = 6;
const LIST_KEYS: u64 = 7;
/// The region's transparency log: its note verifier key (docs/FORMAT.md §10.3). Optional.
const LIST_LOG: u64 = 8;

/// The longest log verifier key a list may carry.
const MAX_LOG_KEY: usize = 512;
/// Keys of each entry of [`LIST_KEYS`].
const KEY_KID: u64 = 1;
const KEY_PUBLIC: u64 = 2;
const KEY_NOT_BEFORE: u64 = 3;
const KEY_NOT_AFTER: u64 = 4;
const KEY_USAGE: u64 = 5;

/// What a listed key may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyUsage {
    /// Codes (`HCN1:`). Wire number 1.
    Code,
    /// Trust lists. Wire number 2. Reserved for delegated list signing: this version verifies
    /// lists with the root key only, and never accepts a code from a key without [`Code`].
    ///
    /// [`Code`]: KeyUsage::Code
    TrustList,
}

impl KeyUsage {
    pub fn number(self) -> u8 {
        match self {
            KeyUsage::Code => 1,
            KeyUsage::TrustList => 2,
        }
    }

    pub fn from_number(n: u64) -> Option<KeyUsage> {
        match n {
            1 => Some(KeyUsage::Code),
            2 => Some(KeyUsage::TrustList),
            _ => None,
        }
    }
}

/// One key of a region, with the period in which it may sign (both ends inclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedKey {
    /// Always [`kid_of`]`(public_key)`; a list where it is not is refused.
    #[serde(with = "hex")]
    pub kid: [u8; KID_LEN],
    #[serde(with = "hex")]
    pub public_key: [u8; 32],
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// In ascending order of wire number, without repeats, never empty.
    pub usage: Vec<KeyUsage>,
}

impl TrustedKey {
    /// A key entry with its kid derived from the public key.
    pub fn new(
        public_key: [u8; 32],
        not_before: DateTime<Utc>,
        not_after: DateTime<Utc>,
        usage: Vec<KeyUsage>,
    ) -> TrustedKey {
        TrustedKey {
            kid: kid_of(&public_key),
            public_key,
            not_before,
            not_after,
            usage,
        }
    }

    /// Whether this key may sign a code issued at `issued_at`.
    pub(crate) fn valid_for_code_at(&self, issued_at: DateTime<Utc>) -> Result<(), &'static str> {
        if !self.usage.contains(&KeyUsage::Code) {
            return Err("the key is not listed for signing codes");
        }
        if issued_at < self.not_before || issued_at > self.not_after {
            return Err("the code was issued outside the key's validity period");
        }
        Ok(())
    }
}

/// The keys of one region, signed by the region's root key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustList {
    pub region: String,
    /// Increases with every new list of the region.
    pub sequence: u64,
    pub issued_at: DateTime<Utc>,
    /// When a newer list is expected; after it, callers should fetch one.
    pub next_update: DateTime<Utc>,
    #[serde(with = "hex")]
    pub root_public_key: [u8; 32],
    pub keys: Vec<TrustedKey>,
    /// The note verifier key of the region's transparency log, `<origin>+<key id>+<key>`
    /// (C2SP signed-note), if the list names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// The JSON wrapper. `region` is informative; the signed map is authoritative.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustListFile {
    format: String,
    version: u64,
    region: String,
    cose: String,
}

impl TrustList {
    /// Signs with the region root key and returns the JSON file text:
    /// `{"format":"healthcode-trust-list","version":1,"region":"CN-BJ","cose":"<base64>"}`.
    pub fn sign(&self, root: &SigningKey) -> Result<String, IssueError> {
        if root.public_key() != self.root_public_key {
            return Err(IssueError::RootKeyMismatch);
        }
        self.check().map_err(IssueError::TrustList)?;
        let payload = self.to_cbor()?;
        let cose = STANDARD.encode(cose::sign(&payload, root));
        // serde_json's Display for a string value writes it quoted and escaped; the other
        // members are fixed text, so the file is built directly and in a stable order.
        let region = serde_json::Value::String(self.region.clone());
        Ok(format!(
            "{{\"format\":\"{TRUST_LIST_FORMAT}\",\"version\":{TRUST_LIST_VERSION},\
             \"region\":{region},\"cose\":\"{cose}\"}}\n"
        ))
    }

    /// Parses the JSON file, verifies the COSE signature with the root key embedded in the
    /// signed map and, if `pinned_root` is given, that the embedded root is that key.
    pub fn from_json(
        text: &str,
        pinned_root: Option<&[u8; 32]>,
    ) -> Result<TrustList, TrustListError> {
        // §6.3 step 1: a JSON object. serde would also fill the struct from an array of its
        // members in order; that form is no trust-list file.
        if !text
            .trim_start_matches([' ', '\t', '\n', '\r'])
            .starts_with('{')
        {
            return Err(TrustListError::Json(
                "the file is not a JSON object".to_owned(),
            ));
        }
        let file: TrustListFile =
            serde_json::from_str(text).map_err(|e| TrustListError::Json(e.to_string()))?;
        if file.format != TRUST_LIST_FORMAT || file.version != TRUST_LIST_VERSION {
            return Err(TrustListError::Format);
        }
        let bytes = STANDARD
            .decode(file.cose.as_bytes())
            .map_err(|_| TrustListError::Base64)?;
        let sign1 = Sign1::parse(&bytes).map_err(|e| match e {
            CoseError::Cbor(m) => TrustListError::Cbor(m),
            CoseError::Tag => TrustListError::Cose("not tagged as COSE_Sign1 (18)"),
            CoseError::Structure(m) => TrustListError::Cose(m),
            CoseError::TrailingBytes => TrustListError::Cose("bytes after the COSE_Sign1"),
            CoseError::Algorithm => TrustListError::Algorithm,
            CoseError::MissingKid => TrustListError::KeyId,
        })?;
        // The root key travels inside the signed map, so the map is read before the signature
        // is checked; nothing from it is used until then except the root key itself.
        let list = TrustList::from_cbor(sign1.payload).map_err(TrustListError::Payload)?;
        if sign1.kid != kid_of(&list.root_public_key) {
            return Err(TrustListError::KeyId);
        }
        if pinned_root.is_some_and(|pinned| pinned != &list.root_public_key) {
            return Err(TrustListError::RootMismatch);
        }
        let root = VerifyingKey::from_bytes(&list.root_public_key)
            .map_err(|_| TrustListError::Payload("root key is not an Ed25519 public key"))?;
        if !sign1.verify(&root) {
            return Err(TrustListError::Signature);
        }
        list.check().map_err(TrustListError::Payload)?;
        if file.region != list.region {
            return Err(TrustListError::Region {
                file: file.region,
                signed: list.region,
            });
        }
        Ok(list)
    }

    /// The rules every list obeys, checked before signing and after verifying.
    fn check(&self) -> Result<(), &'static str> {
        if self.region.is_empty() {
            return Err("region is empty");
        }
        if let Some(log) = &self.log
            && !is_verifier_key(log)
        {
            return Err("the log key is not a note verifier key <origin>+<key id>+<key>");
        }
        if self.next_update <= self.issued_at {
            return Err("next_update must be after issued_at");
        }
        if !usable_public_key(&self.root_public_key) {
            return Err("root key is not a usable Ed25519 public key");
        }
        let mut kids = HashSet::with_capacity(self.keys.len());
        for key in &self.keys {
            if key.kid != kid_of(&key.public_key) {
                return Err("a key's kid is not derived from its public key");
            }
            if !kids.insert(key.kid) {
                return Err("a kid appears twice");
            }
            if key.public_key == self.root_public_key {
                return Err("the root key may not be listed as a signing key");
            }
            if !usable_public_key(&key.public_key) {
                return Err("a listed key is not a usable Ed25519 public key");
            }
            if key.not_after < key.not_before {
                return Err("a key's not_after is before its not_before");
            }
            if key.usage.is_empty() {
                return Err("a key has no usage");
            }
            if !key.usage.windows(2).all(|w| w[0] < w[1]) {
                return Err("a key's usages must be in order without repeats");
            }
        }
        Ok(())
    }

    fn to_cbor(&self) -> Result<Vec<u8>, IssueError> {
        let mut e = Encoder::with_capacity(96 + self.keys.len() * 72);
        e.map(if self.log.is_some() { 8 } else { 7 });
        e.uint(LIST_VERSION);
        e.uint(TRUST_LIST_VERSION);
        e.uint(LIST_REGION);
        e.text(&self.region);
        e.uint(LIST_SEQUENCE);
        e.uint(self.sequence);
        e.uint(LIST_ISSUED_AT);
        e.uint(epoch_seconds(self.issued_at, "issued_at")?);
        e.uint(LIST_NEXT_UPDATE);
        e.uint(epoch_seconds(self.next_update, "next_update")?);
        e.uint(LIST_ROOT);
        e.bytes(&self.root_public_key);
        e.uint(LIST_KEYS);
        e.array(self.keys.len());
        for key in &self.keys {
            e.map(5);
            e.uint(KEY_KID);
            e.bytes(&key.kid);
            e.uint(KEY_PUBLIC);
            e.bytes(&key.public_key);
            e.uint(KEY_NOT_BEFORE);
            e.uint(epoch_seconds(key.not_before, "not_before")?);
            e.uint(KEY_NOT_AFTER);
            e.uint(epoch_seconds(key.not_after, "not_after")?);
            e.uint(KEY_USAGE);
            e.array(key.usage.len());
            for usage in &key.usage {
                e.uint(u64::from(usage.number()));
            }
        }
        if let Some(log) = &self.log {
            e.uint(LIST_LOG);
            e.text(log);
        }
        Ok(e.into_bytes())
    }

    /// Decodes the signed map. As for claims: every member exactly once, no unknown keys, any
    /// order, nothing after it.
    fn from_cbor(payload: &[u8]) -> Result<TrustList, &'static str> {
        let mut d = Decoder::new(payload);
        let pairs = d.map().map_err(|e| e.explain("the list is not a map"))?;
        let mut version = None;
        let mut region = None;
        let mut sequence = None;
        let mut issued_at = None;
        let mut next_update = None;
        let mut root = None;
        let mut keys = None;
        let mut log = None;
        for _ in 0..pairs {
            match d
                .uint()
                .map_err(|e| e.explain("a list key is not a number"))?
            {
                LIST_VERSION => set_once(
                    &mut version,
                    d.uint().map_err(|e| e.explain("version is not a number"))?,
                )?,
                LIST_REGION => {
                    let v = d.text().map_err(|e| e.explain("region is not text"))?;
                    set_once(&mut region, v.to_owned())?;
                }
                LIST_SEQUENCE => set_once(
                    &mut sequence,
                    d.uint()
                        .map_err(|e| e.explain("sequence is not a number"))?,
                )?,
                LIST_ISSUED_AT => set_once(
                    &mut issued_at,
                    d.epoch_time()
                        .map_err(|e| e.explain("a time is not an epoch time"))?,
                )?,
                LIST_NEXT_UPDATE => set_once(
                    &mut next_update,
                    d.epoch_time()
                        .map_err(|e| e.explain("a time is not an epoch time"))?,
                )?,
                LIST_ROOT => {
                    let v = d
                        .bytes_fixed::<32>()
                        .map_err(|e| e.explain("root key is not 32 bytes"))?;
                    set_once(&mut root, v)?;
                }
                LIST_KEYS => set_once(&mut keys, decode_keys(&mut d)?)?,
                LIST_LOG => {
                    let v = d.text().map_err(|e| e.explain("the log key is not text"))?;
                    set_once(&mut log, v.to_owned())?;
                }
                _ => return Err("unknown list key"),
            }
        }
        if !d.is_empty() {
            return Err("bytes after the list map");
        }
        if version.ok_or("version missing")? != TRUST_LIST_VERSION {
            return Err("unsupported list version");
        }
        Ok(TrustList {
            region: region.ok_or("region missing")?,
            sequence: sequence.ok_or("sequence missing")?,
            issued_at: issued_at.ok_or("issued_at missing")?,
            next_update: next_update.ok_or("next_update missing")?,
            root_public_key: root.ok_or("root key missing")?,
            keys: keys.ok_or("keys missing")?,
            log,
        })
    }
}

fn decode_keys(d: &mut Decoder<'_>) -> Result<Vec<TrustedKey>, &'static str> {
    // The count is bounded by the bytes left (see `Decoder::array`).
    let count = d.array().map_err(|e| e.explain("keys are not an array"))?;
    let mut keys = Vec::with_capacity(count);
    for _ in 0..count {
        let pairs = d.map().map_err(|e| e.explain("a key entry is not a map"))?;
        let mut kid = None;
        let mut public = None;
        let mut not_before = None;
        let mut not_after = None;
        let mut usage = None;
        for _ in 0..pairs {
            match d
                .uint()
                .map_err(|e| e.explain("a key entry key is not a number"))?
            {
                KEY_KID => {
                    let v = d
                        .bytes_fixed::<KID_LEN>()
                        .map_err(|e| e.explain("kid is not 8 bytes"))?;
                    set_once(&mut kid, v)?;
                }
                KEY_PUBLIC => {
                    let v = d
                        .bytes_fixed::<32>()
                        .map_err(|e| e.explain("public key is not 32 bytes"))?;
                    set_once(&mut public, v)?;
                }
                KEY_NOT_BEFORE => set_once(
                    &mut not_before,
                    d.epoch_time()
                        .map_err(|e| e.explain("a time is not an epoch time"))?,
                )?,
                KEY_NOT_AFTER => set_once(
                    &mut not_after,
                    d.epoch_time()
                        .map_err(|e| e.explain("a time is not an epoch time"))?,
                )?,
                KEY_USAGE => {
                    let n = d.array().map_err(|e| e.explain("usage is not an array"))?;
                    let mut list = Vec::with_capacity(n);
                    for _ in 0..n {
                        let u = d.uint().map_err(|e| e.explain("a usage is not a number"))?;
                        list.push(KeyUsage::from_number(u).ok_or("unknown key usage")?);
                    }
                    set_once(&mut usage, list)?;
                }
                _ => return Err("unknown key entry member"),
            }
        }
        keys.push(TrustedKey {
            kid: kid.ok_or("kid missing")?,
            public_key: public.ok_or("public key missing")?,
            not_before: not_before.ok_or("not_before missing")?,
            not_after: not_after.ok_or("not_after missing")?,
            usage: usage.ok_or("usage missing")?,
        });
    }
    Ok(keys)
}

/// A note verifier key's shape, `<name>+<8 hex digits>+<key>` (the key's base64 may hold `+`
/// too), at most [`MAX_LOG_KEY`] bytes, without whitespace or control characters. That the
/// key itself is good is for whoever checks the log's notes to say.
fn is_verifier_key(text: &str) -> bool {
    let mut parts = text.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    text.len() <= MAX_LOG_KEY
        && !name.is_empty()
        && id.len() == 8
        && id.bytes().all(|b| b.is_ascii_hexdigit())
        && !key.is_empty()
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A point on the curve that is not of small order (RFC 8032 §5.1.3 decoding succeeds and
/// the key is not one that makes every signature trivially forgeable).
fn usable_public_key(bytes: &[u8; 32]) -> bool {
    VerifyingKey::from_bytes(bytes).is_ok_and(|k| !k.is_weak())
}
