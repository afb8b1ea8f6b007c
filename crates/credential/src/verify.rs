//! Verifying a code, a place code or a paper pass against trust lists at a given instant.
//!
//! This module owns the order of the checks (docs/FORMAT.md, "Verification") and the lookup
//! from kid to key. It decodes with [`crate::base45`], [`crate::cose`], [`crate::claims`] and
//! [`crate::place`] and [`crate::pass`]; it does not read a clock (`now` is a parameter) and does not fetch trust
//! lists.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::{DateTime, TimeDelta, Utc};
use ed25519_dalek::VerifyingKey;

use crate::base45;
use crate::claims::{CodeClaims, RuleError};
use crate::code::PREFIX;
use crate::cose::{CoseError, Sign1};
use crate::error::VerifyError;
use crate::keys::KID_LEN;
use crate::pass::{PASS_PREFIX, PassClaims};
use crate::place::{PLACE_PREFIX, PlaceClaims};
use crate::trust_list::{TrustList, TrustedKey};

/// How far in the future `iat` may be, for clocks that disagree a little.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::seconds(60);

/// A key a code may name, with what is needed to check it quickly.
#[derive(Debug, Clone)]
struct KeyEntry {
    region: String,
    key: TrustedKey,
    /// The decompressed public key, so that verifying does not decompress it every time;
    /// `None` for bytes that are not a usable Ed25519 key (a list built by hand, not read
    /// with [`TrustList::from_json`]).
    verifying: Option<VerifyingKey>,
}

/// Verifies codes against a fixed set of trust lists. Build one when the lists change and
/// share it; [`Verifier::verify`] takes `&self`.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    /// kid → the keys with that id. Almost always one; more only if the same key is listed
    /// by several regions (or two kids collide), and then each is tried.
    keys: HashMap<[u8; KID_LEN], Vec<KeyEntry>>,
}

impl Verifier {
    /// A verifier trusting the keys of `lists`. When several lists of the same region are
    /// given, only the one with the highest `sequence` is used, so passing an old list along
    /// with its successor cannot bring back a key the successor dropped.
    pub fn new(lists: &[TrustList]) -> Verifier {
        let mut newest: HashMap<&str, &TrustList> = HashMap::new();
        for list in lists {
            match newest.entry(list.region.as_str()) {
                Entry::Vacant(slot) => {
                    slot.insert(list);
                }
                Entry::Occupied(mut slot) => {
                    if list.sequence > slot.get().sequence {
                        slot.insert(list);
                    }
                }
            }
        }
        let mut keys: HashMap<[u8; KID_LEN], Vec<KeyEntry>> = HashMap::new();
        for list in newest.into_values() {
            for key in &list.keys {
                let verifying = VerifyingKey::from_bytes(&key.public_key)
                    .ok()
                    .filter(|k| !k.is_weak());
                keys.entry(key.kid).or_default().push(KeyEntry {
                    region: list.region.clone(),
                    key: key.clone(),
                    verifying,
                });
            }
        }
        Verifier { keys }
    }

    /// Verifies `code` at `now` and returns what it says. The checks run in the order of
    /// docs/FORMAT.md and the first that fails is reported.
    pub fn verify(&self, code: &str, now: DateTime<Utc>) -> Result<CodeClaims, VerifyError> {
        let bytes = decode_text(code, PREFIX)?;
        let sign1 = parse_sign1(&bytes)?;
        self.try_keys(&sign1, |entry| verify_with(&sign1, entry, now))
    }

    /// Verifies a place code (`HCP1:…`, see [`PlaceClaims`]) at `now` and returns the venue
    /// it names.
    ///
    /// The envelope, key lookup and signature are checked as for a code; then the payload must
    /// be a place payload, the key must be listed for codes and valid at the place code's
    /// issue time, the region must be the one whose list holds the key, and the issue time
    /// may be at most [`CLOCK_SKEW`] ahead of `now`. There is no expiry: a poster stays valid
    /// for as long as its key is in the trust list, and is refused with
    /// [`VerifyError::UnknownKey`] once the region drops the key.
    pub fn verify_place(&self, text: &str, now: DateTime<Utc>) -> Result<PlaceClaims, VerifyError> {
        let bytes = decode_text(text, PLACE_PREFIX)?;
        let sign1 = parse_sign1(&bytes)?;
        self.try_keys(&sign1, |entry| verify_place_with(&sign1, entry, now))
    }

    /// Verifies a paper pass (`HCZ1:…`, see [`PassClaims`]) at `now` and returns the pass it
    /// names, with the same checks as [`Verifier::verify_place`]: envelope, key, signature, a
    /// pass payload, a key listed for codes and valid at the pass's issue time, the key's
    /// region, not issued in the future. Whether the pass is still live (not revoked) is not
    /// in the signed bytes: only the issuing region's registry knows.
    pub fn verify_pass(&self, text: &str, now: DateTime<Utc>) -> Result<PassClaims, VerifyError> {
        let bytes = decode_text(text, PASS_PREFIX)?;
        let sign1 = parse_sign1(&bytes)?;
        self.try_keys(&sign1, |entry| verify_pass_with(&sign1, entry, now))
    }

    /// Runs `check` with each key listed under the envelope's kid until one succeeds; returns
    /// the last failure otherwise.
    fn try_keys<T>(
        &self,
        sign1: &Sign1<'_>,
        mut check: impl FnMut(&KeyEntry) -> Result<T, VerifyError>,
    ) -> Result<T, VerifyError> {
        let candidates = self.keys.get(&sign1.kid).ok_or(VerifyError::UnknownKey)?;
        let mut result = Err(VerifyError::UnknownKey);
        for entry in candidates {
            result = check(entry);
            if result.is_ok() {
                break;
            }
        }
        result
    }
}

/// Strips `prefix` and decodes the base45 after it.
fn decode_text(text: &str, prefix: &str) -> Result<Vec<u8>, VerifyError> {
    let rest = text.strip_prefix(prefix).ok_or(VerifyError::Prefix)?;
    Ok(base45::decode(rest.as_bytes())?)
}

fn parse_sign1(bytes: &[u8]) -> Result<Sign1<'_>, VerifyError> {
    Sign1::parse(bytes).map_err(|e| match e {
        CoseError::Cbor(m) => VerifyError::Cbor(m),
        CoseError::Tag => VerifyError::Tag,
        CoseError::Structure(m) => VerifyError::Cose(m),
        CoseError::TrailingBytes => VerifyError::TrailingBytes,
        CoseError::Algorithm => VerifyError::Algorithm,
        CoseError::MissingKid => VerifyError::MissingKid,
    })
}

fn check_signature(sign1: &Sign1<'_>, entry: &KeyEntry) -> Result<(), VerifyError> {
    let verifying = entry.verifying.as_ref().ok_or(VerifyError::KeyNotValid(
        "the listed key is not a usable Ed25519 key",
    ))?;
    if sign1.verify(verifying) {
        Ok(())
    } else {
        Err(VerifyError::Signature)
    }
}

/// What codes, place codes and passes all must be, in this order: issued while the key may sign,
/// by the region the key is listed for, and not later than `now` (beyond the clock skew).
fn check_issue(
    entry: &KeyEntry,
    region: &str,
    issued_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    entry
        .key
        .valid_for_code_at(issued_at)
        .map_err(VerifyError::KeyNotValid)?;
    if region != entry.region {
        return Err(VerifyError::Region {
            claimed: region.to_owned(),
            trusted: entry.region.clone(),
        });
    }
    if issued_at - now > CLOCK_SKEW {
        return Err(VerifyError::NotYetValid);
    }
    Ok(())
}

fn verify_with(
    sign1: &Sign1<'_>,
    entry: &KeyEntry,
    now: DateTime<Utc>,
) -> Result<CodeClaims, VerifyError> {
    check_signature(sign1, entry)?;
    let claims = CodeClaims::from_cbor(sign1.payload).map_err(VerifyError::Claims)?;
    check_issue(entry, &claims.region, claims.issued_at, now)?;
    if claims.expires_at <= now {
        return Err(VerifyError::Expired);
    }
    claims.check_rules().map_err(|e| match e {
        RuleError::ExpiresBeforeIssued => VerifyError::ExpiresBeforeIssued,
        RuleError::Lifetime => VerifyError::Lifetime,
        RuleError::OutlivesStatus => VerifyError::OutlivesStatus,
    })?;
    Ok(claims)
}

fn verify_place_with(
    sign1: &Sign1<'_>,
    entry: &KeyEntry,
    now: DateTime<Utc>,
) -> Result<PlaceClaims, VerifyError> {
    check_signature(sign1, entry)?;
    let claims = PlaceClaims::from_cbor(sign1.payload).map_err(VerifyError::PlaceClaims)?;
    check_issue(entry, &claims.region, claims.issued_at, now)?;
    Ok(claims)
}

fn verify_pass_with(
    sign1: &Sign1<'_>,
    entry: &KeyEntry,
    now: DateTime<Utc>,
) -> Result<PassClaims, VerifyError> {
    check_signature(sign1, entry)?;
    let claims = PassClaims::from_cbor(sign1.payload).map_err(VerifyError::PassClaims)?;
    check_issue(entry, &claims.region, claims.issued_at, now)?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    //! Refusals that need codes no honest issuer produces: built here from the crate's own
    //! encoder and signed with a listed key, so that the check under test is the one that
    //! fails and not the signature.

    use super::*;
    use crate::cbor::Encoder;
    use crate::code::PREFIX;
    use crate::cose::{self, TAG_SIGN1, sig_structure};
    use crate::keys::SigningKey;
    use crate::trust_list::{KeyUsage, TrustedKey};

    const IAT: u64 = 1_777_622_400; // 2026-05-01T08:00:00Z
    const EXP: u64 = IAT + 180;
    const UNTIL: u64 = IAT + 8 * 3600;

    fn key() -> SigningKey {
        SigningKey::from_seed(&[7u8; 32])
    }

    fn time(secs: u64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs as i64, 0).expect("in range")
    }

    fn verifier() -> Verifier {
        let root = SigningKey::from_seed(&[1u8; 32]);
        Verifier::new(&[TrustList {
            region: "CN-BJ".into(),
            sequence: 1,
            issued_at: time(IAT - 86_400),
            next_update: time(IAT + 86_400),
            root_public_key: root.public_key(),
            log: None,
            keys: vec![TrustedKey::new(
                key().public_key(),
                time(IAT - 86_400),
                time(IAT + 86_400),
                vec![KeyUsage::Code],
            )],
        }])
    }

    /// A claims payload with the given times and an optional extra status entry.
    fn payload(iat: u64, exp: u64, until: u64, extra_status: Option<(u64, u64)>) -> Vec<u8> {
        let mut e = Encoder::default();
        e.map(5);
        e.uint(1);
        e.text("CN-BJ");
        e.uint(2);
        e.bytes(&[1; 16]);
        e.uint(4);
        e.uint(exp);
        e.uint(6);
        e.uint(iat);
        e.int(-65537);
        e.map(if extra_status.is_some() { 9 } else { 8 });
        for (k, v) in [(1, 0), (4, 0), (7, 1), (8, until)] {
            e.uint(k);
            e.uint(v);
        }
        e.uint(2);
        e.array(0);
        e.uint(3);
        e.uint(1);
        e.uint(5);
        e.text("张*");
        e.uint(6);
        e.text("11**************2X");
        if let Some((k, v)) = extra_status {
            e.uint(k);
            e.uint(v);
        }
        e.into_bytes()
    }

    fn code(cose: &[u8]) -> String {
        format!("{PREFIX}{}", base45::encode(cose))
    }

    /// Signs `payload` under a hand-made protected header.
    fn signed_with_header(protected: &[u8], payload: &[u8]) -> String {
        let signature = key().sign(&sig_structure(protected, payload));
        let mut e = Encoder::default();
        e.tag(TAG_SIGN1);
        e.array(4);
        e.bytes(protected);
        e.map(0);
        e.bytes(payload);
        e.bytes(&signature);
        code(&e.into_bytes())
    }

    fn now() -> DateTime<Utc> {
        time(IAT + 60)
    }

    #[test]
    fn a_well_formed_crafted_code_verifies() {
        let text = code(&cose::sign(&payload(IAT, EXP, UNTIL, None), &key()));
        let claims = verifier().verify(&text, now()).expect("verifies");
        assert_eq!(claims.masked_name, "张*");
        assert_eq!(claims.test_recency_days, Some(1));
    }

    #[test]
    fn expires_before_issued() {
        // exp < iat, but still in the future of `now`.
        let text = code(&cose::sign(
            &payload(IAT + 50, IAT + 40, UNTIL, None),
            &key(),
        ));
        assert_eq!(
            verifier().verify(&text, time(IAT)),
            Err(VerifyError::ExpiresBeforeIssued)
        );
    }

    #[test]
    fn lifetime_over_24_hours() {
        let exp = IAT + 24 * 3600 + 1;
        let text = code(&cose::sign(&payload(IAT, exp, exp, None), &key()));
        assert_eq!(verifier().verify(&text, now()), Err(VerifyError::Lifetime));
        // Exactly 24 hours is allowed.
        let exp = IAT + 24 * 3600;
        let text = code(&cose::sign(&payload(IAT, exp, exp, None), &key()));
        assert!(verifier().verify(&text, now()).is_ok());
    }

    #[test]
    fn outlives_status() {
        let text = code(&cose::sign(&payload(IAT, EXP, EXP - 1, None), &key()));
        assert_eq!(
            verifier().verify(&text, now()),
            Err(VerifyError::OutlivesStatus)
        );
    }

    #[test]
    fn unknown_status_key_is_refused_even_when_signed() {
        let text = code(&cose::sign(&payload(IAT, EXP, UNTIL, Some((9, 0))), &key()));
        assert_eq!(
            verifier().verify(&text, now()),
            Err(VerifyError::Claims("unknown status key"))
        );
    }

    #[test]
    fn signed_garbage_payload_is_a_claims_error() {
        let text = code(&cose::sign(b"\x01", &key()));
        assert_eq!(
            verifier().verify(&text, now()).map_err(|e| e.code()),
            Err("claims")
        );
    }

    #[test]
    fn algorithm_and_kid() {
        let body = payload(IAT, EXP, UNTIL, None);
        let mut es256 = Encoder::default();
        es256.map(2);
        es256.uint(1);
        es256.int(-7);
        es256.uint(4);
        es256.bytes(&key().kid());
        assert_eq!(
            verifier().verify(&signed_with_header(&es256.into_bytes(), &body), now()),
            Err(VerifyError::Algorithm)
        );

        let mut no_kid = Encoder::default();
        no_kid.map(1);
        no_kid.uint(1);
        no_kid.int(-8);
        assert_eq!(
            verifier().verify(&signed_with_header(&no_kid.into_bytes(), &body), now()),
            Err(VerifyError::MissingKid)
        );

        // kid first, alg second: order inside the header does not matter.
        let mut swapped = Encoder::default();
        swapped.map(2);
        swapped.uint(4);
        swapped.bytes(&key().kid());
        swapped.uint(1);
        swapped.int(-8);
        assert!(
            verifier()
                .verify(&signed_with_header(&swapped.into_bytes(), &body), now())
                .is_ok()
        );
    }

    #[test]
    fn non_empty_unprotected_header_is_refused() {
        let body = payload(IAT, EXP, UNTIL, None);
        let mut cose = cose::sign(&body, &key());
        // d2 84 4d <13 bytes protected> a0 …: make the unprotected map {4: h''}.
        let at = 3 + 13;
        assert_eq!(cose[at], 0xa0);
        cose.splice(at..=at, [0xa1, 0x04, 0x40]);
        assert_eq!(
            verifier().verify(&code(&cose), now()),
            Err(VerifyError::Cose("unprotected header must be empty"))
        );
    }

    #[test]
    fn non_shortest_cbor_is_refused() {
        let body = payload(IAT, EXP, UNTIL, None);
        let mut cose = cose::sign(&body, &key());
        // The array head 0x84 written as 0x98 0x04.
        cose.splice(1..=1, [0x98, 0x04]);
        assert!(matches!(
            verifier().verify(&code(&cose), now()),
            Err(VerifyError::Cbor(_))
        ));
    }

    #[test]
    fn error_codes_are_distinct() {
        let all = [
            VerifyError::Prefix,
            VerifyError::Base45(crate::Base45Error::Dangling),
            VerifyError::Cbor(""),
            VerifyError::Tag,
            VerifyError::Cose(""),
            VerifyError::TrailingBytes,
            VerifyError::Algorithm,
            VerifyError::MissingKid,
            VerifyError::UnknownKey,
            VerifyError::KeyNotValid(""),
            VerifyError::Signature,
            VerifyError::Claims(""),
            VerifyError::PlaceClaims(""),
            VerifyError::PassClaims(""),
            VerifyError::Region {
                claimed: String::new(),
                trusted: String::new(),
            },
            VerifyError::NotYetValid,
            VerifyError::Expired,
            VerifyError::ExpiresBeforeIssued,
            VerifyError::Lifetime,
            VerifyError::OutlivesStatus,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(VerifyError::code).collect();
        assert_eq!(codes.len(), all.len());
    }
}
