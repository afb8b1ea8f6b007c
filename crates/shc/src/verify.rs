//! Verifying a card against the caller's [`Trust`] at a given instant, and what a verified card
//! says ([`VerifiedCard`]).
//!
//! This module owns the order of the checks and the decisions on trust, revocation and time.
//! It takes the card apart with [`crate::numeric`], [`crate::jws`], [`crate::claims`] and
//! [`crate::fhir`]; it does not read a clock (`now` is a parameter) and fetches nothing.

use chrono::{DateTime, TimeDelta, Utc};

use crate::claims::{self, Claims, HEALTH_CARD_TYPE};
use crate::error::ShcError;
use crate::fhir::{self, CardSummary};
use crate::jwk::IssuerKey;
use crate::jws::{self, CompactJws};
use crate::numeric::decode_numeric;
use crate::trust::{Trust, clip};

/// How far in the future `nbf` may be, for an issuer's clock a little ahead of the verifier's.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::seconds(60);

/// A card that passed every check, with what a gate decides on.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedCard {
    /// The `iss` URL of the issuer, one the caller trusts.
    pub issuer: String,
    /// The id of the key that signed the card.
    pub kid: String,
    /// When the card was issued (`nbf`), to the millisecond.
    pub nbf: DateTime<Utc>,
    /// When the card expires, if it does (most do not).
    pub exp: Option<DateTime<Utc>>,
    /// `vc.type`: the credential types, `https://smarthealth.cards#health-card` among them.
    pub types: Vec<String>,
    /// `vc.rid`, the revocation id, if the card has one.
    pub rid: Option<String>,
    /// `vc.credentialSubject.fhirVersion`, if given.
    pub fhir_version: Option<String>,
    /// The patient, immunizations and observations of the bundle.
    pub summary: CardSummary,
    /// The payload exactly as signed, inflated: the JWT claims as minified JSON.
    pub payload: String,
}

/// Verifies the text of one QR code, or of every chunk of a chunked set in any order: decodes
/// it with [`decode_numeric`] and verifies the JWS with [`verify_jws`].
pub fn verify_qr(
    chunks: &[&str],
    trust: &Trust,
    now: DateTime<Utc>,
) -> Result<VerifiedCard, ShcError> {
    let jws = decode_numeric(chunks)?;
    verify_jws(&jws, trust, now)
}

/// Verifies a compact JWS at `now`. The checks run in this order and the first that fails is
/// reported:
///
/// 1. the text has nothing around it and is three base64url parts;
/// 2. the header is `alg: ES256`, `zip: DEF` and names a `kid`; the signature is 64 bytes;
/// 3. a trusted issuer publishes the `kid` ([`ShcError::UnknownIssuer`] when the payload names
///    an untrusted issuer, [`ShcError::UnknownKid`] otherwise);
/// 4. the ES256 signature verifies, before the payload is inflated, so that only signed data
///    is decompressed and parsed;
/// 5. the payload inflates within [`crate::MAX_PAYLOAD_BYTES`] to JSON whose `iss` is a
///    trusted issuer publishing the signing key, and holds the claims of a health card;
/// 6. `vc.type` has `https://smarthealth.cards#health-card`, and `exp` is not before `nbf`;
/// 7. revocation: when the key announces `crlVersion`, a list at least that new was supplied,
///    and the card's `rid` is not revoked by it;
/// 8. `nbf` is not after `now` + [`CLOCK_SKEW`], and `exp`, if present, is after `now`;
/// 9. the bundle's Patient, Immunization and Observation resources are readable.
///
/// A revoked card is reported as revoked even when it has also expired or is not valid yet:
/// revocation is the issuer's explicit word about that card, the more specific reason.
pub fn verify_jws(jws: &str, trust: &Trust, now: DateTime<Utc>) -> Result<VerifiedCard, ShcError> {
    let parsed = jws::parse(jws)?;
    let signers = trust.issuers_with_kid(&parsed.kid);
    // Every issuer publishing this kid publishes the same key: the kid is the SHA-256
    // thumbprint of the key, checked when the set was read.
    let key = signers
        .first()
        .and_then(|iss| trust.key(iss, &parsed.kid))
        .ok_or_else(|| unknown_signer(&parsed, trust))?;
    if !key.verifies(parsed.signing_input.as_bytes(), &parsed.signature) {
        return Err(ShcError::BadSignature);
    }
    let payload = jws::inflate_payload(parsed.payload)?;
    let value = claims::parse_json(&payload)?;
    let iss = claims::issuer(&value)?;
    if !signers.iter().any(|s| s == iss) {
        return Err(if trust.is_trusted(iss) {
            ShcError::IssuerMismatch {
                iss: clip(iss),
                kid: clip(&parsed.kid),
            }
        } else {
            ShcError::UnknownIssuer { iss: clip(iss) }
        });
    }
    let claims = claims::parse(&value)?;
    // The key as the card's issuer publishes it: `crlVersion` is per issuer.
    let key = trust.key(&claims.iss, &parsed.kid).unwrap_or(key);
    if !claims.types.iter().any(|t| t == HEALTH_CARD_TYPE) {
        return Err(ShcError::NotAHealthCard);
    }
    if claims.exp.is_some_and(|exp| exp < claims.nbf) {
        return Err(ShcError::ExpiresBeforeValid);
    }
    check_revocation(trust, &claims, key)?;
    if claims.nbf > now + CLOCK_SKEW {
        return Err(ShcError::NotYetValid);
    }
    // RFC 7519 section 4.1.4: the card must not be accepted on or after `exp`.
    if claims.exp.is_some_and(|exp| exp <= now) {
        return Err(ShcError::Expired);
    }
    let summary = fhir::summarize(&claims.bundle)?;
    // `claims::parse` read the payload as JSON, which is UTF-8 (RFC 8259 section 8.1).
    let payload = String::from_utf8(payload).map_err(|_| ShcError::BadPayloadJson)?;
    Ok(VerifiedCard {
        issuer: claims.iss,
        kid: parsed.kid,
        nbf: claims.nbf,
        exp: claims.exp,
        types: claims.types,
        rid: claims.rid,
        fhir_version: claims.fhir_version,
        summary,
        payload,
    })
}

/// The error for a kid no trusted issuer publishes. The payload is unauthenticated here; it is
/// inflated (within the cap) only to say which issuer the card claims, so that a card from an
/// issuer the caller does not trust is reported as such.
fn unknown_signer(parsed: &CompactJws<'_>, trust: &Trust) -> ShcError {
    let claimed = jws::inflate_payload(parsed.payload)
        .ok()
        .and_then(|payload| claims::peek_issuer(&payload));
    match claimed {
        Some(iss) if !trust.is_trusted(&iss) => ShcError::UnknownIssuer { iss: clip(&iss) },
        _ => ShcError::UnknownKid {
            kid: clip(&parsed.kid),
        },
    }
}

/// SMART Health Cards, "Revocation": when the key announces `crlVersion`, verifiers SHALL use
/// its list, so a missing or older list is an error rather than a pass. A list supplied for a
/// key that announces none is still applied.
fn check_revocation(trust: &Trust, claims: &Claims, key: &IssuerKey) -> Result<(), ShcError> {
    let crl = trust.crl(&claims.iss, key.kid());
    if let Some(need) = key.crl_version() {
        match crl {
            None => {
                return Err(ShcError::RevocationListMissing {
                    kid: key.kid().to_owned(),
                });
            }
            Some(crl) if crl.ctr() < need => {
                return Err(ShcError::RevocationListStale {
                    kid: key.kid().to_owned(),
                    have: crl.ctr(),
                    need,
                });
            }
            Some(_) => {}
        }
    }
    if let (Some(crl), Some(rid)) = (crl, &claims.rid)
        && crl.revokes(rid, claims.nbf)
    {
        return Err(ShcError::Revoked);
    }
    Ok(())
}
