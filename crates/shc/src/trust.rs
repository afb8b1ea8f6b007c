//! What the caller trusts: issuers by their `iss` URL, each with its key set and the
//! revocation lists of its keys.
//!
//! This module owns that map and the lookups verification needs. It does not fetch anything:
//! the caller reads `<iss>/.well-known/jwks.json` and `<iss>/.well-known/crl/<kid>.json` from
//! wherever it keeps them and adds what it decided to trust.

use std::collections::HashMap;

use crate::crl::RevocationList;
use crate::error::ShcError;
use crate::jwk::{IssuerKey, Jwks};

#[derive(Debug, Clone, Default)]
struct Issuer {
    jwks: Jwks,
    /// kid → the newest list supplied for that key.
    crls: HashMap<String, RevocationList>,
}

/// The issuers a verifier trusts. Build it once when the trust material changes and share it;
/// verification takes `&Trust`.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    issuers: HashMap<String, Issuer>,
    /// kid → the issuers publishing a key with that kid, so that the signature can be checked
    /// before the payload is inflated.
    by_kid: HashMap<String, Vec<String>>,
}

impl Trust {
    /// Trusts nobody.
    pub fn new() -> Trust {
        Trust::default()
    }

    /// Trusts `iss` with the keys of `jwks`. Adding an issuer again replaces its keys, and
    /// drops the revocation lists of keys no longer in the set.
    ///
    /// `iss` must be an `https://` URL without a trailing `/`, as the specification requires;
    /// cards name their issuer exactly so.
    pub fn add_issuer(&mut self, iss: impl Into<String>, jwks: Jwks) -> Result<(), ShcError> {
        let iss = iss.into();
        let is_url = iss.len() > "https://".len() && iss.starts_with("https://");
        if !is_url || iss.ends_with('/') {
            return Err(ShcError::BadIssuerUrl(iss));
        }
        let issuer = self.issuers.entry(iss).or_default();
        issuer.crls.retain(|kid, _| jwks.get(kid).is_some());
        issuer.jwks = jwks;
        self.index();
        Ok(())
    }

    /// Supplies the revocation list of one of an issuer's keys. The issuer must have been
    /// added and must publish the key. When a list for the key is already held, the one with
    /// the higher `ctr` is kept, so an older copy cannot bring a revoked card back.
    pub fn add_crl(&mut self, iss: &str, crl: RevocationList) -> Result<(), ShcError> {
        let issuer = self
            .issuers
            .get_mut(iss)
            .ok_or_else(|| ShcError::UnknownIssuer { iss: clip(iss) })?;
        if issuer.jwks.get(crl.kid()).is_none() {
            return Err(ShcError::UnknownKid {
                kid: clip(crl.kid()),
            });
        }
        match issuer.crls.get(crl.kid()) {
            Some(held) if held.ctr() > crl.ctr() => {}
            _ => {
                issuer.crls.insert(crl.kid().to_owned(), crl);
            }
        }
        Ok(())
    }

    /// The trusted issuer URLs.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.keys().map(String::as_str)
    }

    pub(crate) fn is_trusted(&self, iss: &str) -> bool {
        self.issuers.contains_key(iss)
    }

    /// The issuers publishing a key with this kid.
    pub(crate) fn issuers_with_kid(&self, kid: &str) -> &[String] {
        self.by_kid.get(kid).map_or(&[], Vec::as_slice)
    }

    pub(crate) fn key(&self, iss: &str, kid: &str) -> Option<&IssuerKey> {
        self.issuers.get(iss)?.jwks.get(kid)
    }

    pub(crate) fn crl(&self, iss: &str, kid: &str) -> Option<&RevocationList> {
        self.issuers.get(iss)?.crls.get(kid)
    }

    fn index(&mut self) {
        self.by_kid.clear();
        for (iss, issuer) in &self.issuers {
            for key in issuer.jwks.keys() {
                self.by_kid
                    .entry(key.kid().to_owned())
                    .or_default()
                    .push(iss.clone());
            }
        }
    }
}

/// Text from a card or a caller, cut for an error message: a header or payload may carry
/// anything, and a message should stay a line.
pub(crate) fn clip(text: &str) -> String {
    const MAX_CHARS: usize = 100;
    match text.char_indices().nth(MAX_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    const KID: &str = "3Kfdg-XwP-7gXyywtUfUADwBumDOPKMQx-iELL11W9s";
    const ISS: &str = "https://spec.smarthealth.cards/examples/issuer";

    fn jwks() -> Jwks {
        Jwks::from_json(&format!(
            r#"{{"keys":[{{"kty":"EC","kid":"{KID}","use":"sig","alg":"ES256","crv":"P-256","x":"11XvRWy1I2S0EyJlyf_bWfw_TQ5CJJNLw78bHXNxcgw","y":"eZXwxvO1hvCY0KucrPfKo7yAyMT6Ajc3N7OkAB6VYy8"}}]}}"#
        ))
        .unwrap()
    }

    fn crl(kid: &str, ctr: u64, rids: &str) -> RevocationList {
        RevocationList::from_json(&format!(
            r#"{{"kid":"{kid}","method":"rid","ctr":{ctr},"rids":[{rids}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn issuer_urls() {
        let mut trust = Trust::new();
        for bad in [
            "http://example.org",
            "https://example.org/",
            "https://",
            "example.org",
        ] {
            assert_eq!(
                trust.add_issuer(bad, jwks()).unwrap_err(),
                ShcError::BadIssuerUrl(bad.into())
            );
        }
        trust.add_issuer(ISS, jwks()).unwrap();
        assert_eq!(trust.issuers().collect::<Vec<_>>(), [ISS]);
        assert_eq!(trust.issuers_with_kid(KID), [ISS.to_owned()]);
        assert!(trust.issuers_with_kid("other").is_empty());
    }

    #[test]
    fn crls_need_a_known_issuer_and_key() {
        let mut trust = Trust::new();
        assert_eq!(
            trust.add_crl(ISS, crl(KID, 1, "")).unwrap_err().code(),
            "unknown_issuer"
        );
        trust.add_issuer(ISS, jwks()).unwrap();
        assert_eq!(
            trust.add_crl(ISS, crl("other", 1, "")).unwrap_err().code(),
            "unknown_key"
        );
        trust.add_crl(ISS, crl(KID, 1, "")).unwrap();
        assert_eq!(trust.crl(ISS, KID).unwrap().ctr(), 1);
    }

    #[test]
    fn an_older_crl_does_not_replace_a_newer_one() {
        let mut trust = Trust::new();
        trust.add_issuer(ISS, jwks()).unwrap();
        trust.add_crl(ISS, crl(KID, 3, r#""abc""#)).unwrap();
        trust.add_crl(ISS, crl(KID, 2, "")).unwrap();
        assert_eq!(trust.crl(ISS, KID).unwrap().ctr(), 3);
        trust.add_crl(ISS, crl(KID, 4, "")).unwrap();
        assert_eq!(trust.crl(ISS, KID).unwrap().ctr(), 4);
    }

    #[test]
    fn replacing_keys_drops_their_crls() {
        let mut trust = Trust::new();
        trust.add_issuer(ISS, jwks()).unwrap();
        trust.add_crl(ISS, crl(KID, 1, "")).unwrap();
        trust.add_issuer(ISS, jwks()).unwrap();
        assert!(trust.crl(ISS, KID).is_some());
        trust.add_issuer(ISS, Jwks::default()).unwrap();
        assert!(trust.crl(ISS, KID).is_none());
        assert!(trust.issuers_with_kid(KID).is_empty());
    }

    #[test]
    fn clip_keeps_short_text_and_cuts_long() {
        assert_eq!(clip("abc"), "abc");
        let long = "é".repeat(150);
        assert_eq!(clip(&long).chars().count(), 101);
    }
}
