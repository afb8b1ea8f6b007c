//! Document Signer Certificates (DSCs): the X.509 certificates whose keys sign DCCs, and
//! [`DscTrust`], the set of them a verifier trusts.
//!
//! From each certificate this module keeps what verification needs: the key identifier
//! (the first 8 bytes of the SHA-256 of the DER, hcert spec "The Key Identifier"), the public
//! key, the validity period and the certificate types the extended key usage allows (hcert
//! spec "Key Usage Policy Identifiers"). How the certificates were obtained and whether their
//! chain to a country's CSCA holds is decided before they are added here.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;

use crate::error::DccError;
use crate::model::CertificateKind;
use crate::signature::{Algorithm, SignerKey};
use healthcode_credential::cose::CoseSign1;

/// Length of a key identifier in bytes.
pub const KID_LEN: usize = 8;

/// The key identifier of a signer certificate: the first 8 bytes of the SHA-256 of its DER.
pub fn kid_of(der: &[u8]) -> [u8; KID_LEN] {
    let digest = Sha256::digest(der);
    let mut kid = [0u8; KID_LEN];
    kid.copy_from_slice(&digest[..KID_LEN]);
    kid
}

/// Extended key usage OIDs that restrict what a DSC may sign (hcert spec, "Key Usage Policy
/// Identifiers"), each under the registered arc and the alternative one issuers also use.
const OIDS_TEST: [&str; 2] = ["1.3.6.1.4.1.1847.2021.1.1", "1.3.6.1.4.1.0.1847.2021.1.1"];
const OIDS_VACCINATION: [&str; 2] = ["1.3.6.1.4.1.1847.2021.1.2", "1.3.6.1.4.1.0.1847.2021.1.2"];
const OIDS_RECOVERY: [&str; 2] = ["1.3.6.1.4.1.1847.2021.1.3", "1.3.6.1.4.1.0.1847.2021.1.3"];

/// Object identifiers of the public key algorithms and curves (RFC 5480 §2.1.1, RFC 8017
/// Appendix A, RFC 4055 §3.1).
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_RSASSA_PSS: &str = "1.2.840.113549.1.1.10";

/// Which certificate types a DSC may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUsage {
    /// May sign test certificates.
    pub test: bool,
    /// May sign vaccination certificates.
    pub vaccination: bool,
    /// May sign recovery certificates.
    pub recovery: bool,
}

impl KeyUsage {
    /// Every type: the usage of a DSC that names none of the DCC OIDs.
    pub const ALL: KeyUsage = KeyUsage {
        test: true,
        vaccination: true,
        recovery: true,
    };

    /// Reads the usage from the DSC's extended key usage OIDs. If none of the DCC OIDs is
    /// present "the document shall be considered valid for all three" (hcert spec, "Key Usage
    /// Policy Identifiers"), whatever else the extension holds.
    pub fn from_oids<'a>(oids: impl IntoIterator<Item = &'a str>) -> KeyUsage {
        let mut usage = KeyUsage {
            test: false,
            vaccination: false,
            recovery: false,
        };
        for oid in oids {
            usage.test |= OIDS_TEST.contains(&oid);
            usage.vaccination |= OIDS_VACCINATION.contains(&oid);
            usage.recovery |= OIDS_RECOVERY.contains(&oid);
        }
        if usage.test || usage.vaccination || usage.recovery {
            usage
        } else {
            KeyUsage::ALL
        }
    }

    /// Whether this usage allows signing a certificate of `kind`.
    pub fn allows(&self, kind: CertificateKind) -> bool {
        match kind {
            CertificateKind::Test => self.test,
            CertificateKind::Vaccination => self.vaccination,
            CertificateKind::Recovery => self.recovery,
        }
    }
}

/// A trusted signer certificate, parsed once.
#[derive(Debug, Clone)]
pub struct SignerCertificate {
    kid: [u8; KID_LEN],
    fingerprint: [u8; 32],
    key: SignerKey,
    not_before: i64,
    not_after: i64,
    usage: KeyUsage,
}

impl SignerCertificate {
    /// Parses an X.509 certificate in DER.
    pub fn from_der(der: &[u8]) -> Result<SignerCertificate, DccError> {
        let (rest, cert) = X509Certificate::from_der(der)
            .map_err(|_| DccError::SignerCertificate("not an X.509 certificate in DER"))?;
        if !rest.is_empty() {
            return Err(DccError::SignerCertificate("bytes follow the certificate"));
        }
        let key = signer_key(&cert)?;
        let mut oids = Vec::new();
        for extension in cert.extensions() {
            match extension.parsed_extension() {
                ParsedExtension::ExtendedKeyUsage(eku) => {
                    oids.extend(eku.other.iter().map(|oid| oid.to_id_string()));
                }
                ParsedExtension::ParseError { .. }
                    if extension.oid.to_id_string() == "2.5.29.37" =>
                {
                    return Err(DccError::SignerCertificate(
                        "the extended key usage is malformed",
                    ));
                }
                _ => {}
            }
        }
        let validity = cert.validity();
        Ok(SignerCertificate {
            kid: kid_of(der),
            fingerprint: Sha256::digest(der).into(),
            key,
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            usage: KeyUsage::from_oids(oids.iter().map(String::as_str)),
        })
    }

    /// The key identifier DCCs signed by this certificate carry.
    pub fn kid(&self) -> [u8; KID_LEN] {
        self.kid
    }

    /// Start of the validity period (X.509 `notBefore`), seconds since the epoch.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// End of the validity period (X.509 `notAfter`), seconds since the epoch.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// The certificate types this DSC may sign.
    pub fn key_usage(&self) -> KeyUsage {
        self.usage
    }

    /// Checks a COSE_Sign1's signature with this certificate's key.
    pub fn verify_signature(&self, cose: &CoseSign1) -> Result<(), DccError> {
        let algorithm = cose_algorithm(cose)?;
        self.key
            .verify(algorithm, &cose.signed_bytes(), cose.signature())
    }
}

/// The public key of the certificate, if it is one of the kinds DCCs are signed with.
fn signer_key(cert: &X509Certificate<'_>) -> Result<SignerKey, DccError> {
    let spki = cert.public_key();
    let point_or_key = spki.subject_public_key.data.as_ref();
    match spki.algorithm.algorithm.to_id_string().as_str() {
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            match curve.as_deref() {
                Some(OID_P256) => SignerKey::p256(point_or_key),
                Some(OID_P384) => SignerKey::p384(point_or_key),
                _ => Err(DccError::SignerCertificate(
                    "the key is on an unsupported curve",
                )),
            }
        }
        // Both carry a PKCS #1 RSAPublicKey in the bit string (RFC 4055 §1.2).
        OID_RSA | OID_RSASSA_PSS => SignerKey::rsa(point_or_key),
        _ => Err(DccError::SignerCertificate("the key type is not supported")),
    }
}

/// The algorithm the envelope names (protected header first).
fn cose_algorithm(cose: &CoseSign1) -> Result<Algorithm, DccError> {
    let id = cose
        .algorithm()
        .ok_or_else(|| DccError::Algorithm("none in the headers".into()))?;
    Algorithm::from_cose(id)
}

/// The signer certificates a verifier trusts, looked up by key identifier.
///
/// Key identifiers are only 8 bytes, so two certificates may share one; the hcert spec ("Key
/// Identifier") asks verifiers to try every certificate with that identifier.
#[derive(Debug, Clone, Default)]
pub struct DscTrust {
    by_kid: HashMap<[u8; KID_LEN], Vec<SignerCertificate>>,
}

impl DscTrust {
    /// An empty set: nothing verifies against it.
    pub fn new() -> DscTrust {
        DscTrust::default()
    }

    /// Trusts a certificate given in DER and returns its key identifier. Adding the same
    /// certificate twice keeps one copy.
    pub fn add_certificate_der(&mut self, der: &[u8]) -> Result<[u8; KID_LEN], DccError> {
        let cert = SignerCertificate::from_der(der)?;
        let kid = cert.kid;
        let entry = self.by_kid.entry(kid).or_default();
        if !entry.iter().any(|c| c.fingerprint == cert.fingerprint) {
            entry.push(cert);
        }
        Ok(kid)
    }

    /// Trusts a certificate given as PEM (`-----BEGIN CERTIFICATE-----`) or as bare base64 of
    /// the DER, as trust lists and the EU gateway publish them. Whitespace is ignored.
    pub fn add_certificate_pem_or_base64(&mut self, text: &str) -> Result<[u8; KID_LEN], DccError> {
        const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
        const END: &str = "-----END CERTIFICATE-----";
        let body = match text.find(BEGIN) {
            Some(start) => {
                let after = &text[start + BEGIN.len()..];
                let end = after
                    .find(END)
                    .ok_or(DccError::SignerCertificate("the PEM block is not closed"))?;
                &after[..end]
            }
            None => text,
        };
        let compact: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        let der = STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| DccError::SignerCertificate("neither PEM nor base64"))?;
        self.add_certificate_der(&der)
    }

    /// The trusted certificates with this key identifier (none if the identifier is not
    /// 8 bytes long).
    pub fn candidates(&self, kid: &[u8]) -> &[SignerCertificate] {
        <[u8; KID_LEN]>::try_from(kid)
            .ok()
            .and_then(|kid| self.by_kid.get(&kid))
            .map_or(&[], Vec::as_slice)
    }

    /// How many certificates are trusted.
    pub fn len(&self) -> usize {
        self.by_kid.values().map(Vec::len).sum()
    }

    /// Whether no certificate is trusted.
    pub fn is_empty(&self) -> bool {
        self.by_kid.is_empty()
    }

    /// Finds the trusted certificate whose key verifies the COSE_Sign1's signature.
    ///
    /// Refuses an unsupported or missing algorithm, a missing key identifier, an identifier
    /// no trusted certificate has, and a signature none of the candidates verifies.
    pub fn verify_signature(&self, cose: &CoseSign1) -> Result<&SignerCertificate, DccError> {
        let algorithm = cose_algorithm(cose)?;
        let kid = cose.kid().ok_or(DccError::MissingKid)?;
        let candidates = self.candidates(kid);
        if candidates.is_empty() {
            return Err(DccError::UnknownKey);
        }
        let message = cose.signed_bytes();
        let mut error = DccError::KeyAlgorithmMismatch;
        for cert in candidates {
            if !cert.key.fits(algorithm) {
                continue;
            }
            match cert.key.verify(algorithm, &message, cose.signature()) {
                Ok(()) => return Ok(cert),
                Err(e) => error = e,
            }
        }
        Err(error)
    }
}
