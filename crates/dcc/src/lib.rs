//! EU Digital COVID Certificates (`HC1:`): decoding, signature and signer checks, schema
//! validation.
//!
//! A DCC is the JSON payload of the DCC schema, carried as CBOR in the `hcert` claim of a CWT
//! (RFC 8392), signed as a COSE_Sign1 (RFC 9052) by a Document Signer Certificate (DSC),
//! compressed with ZLIB, encoded in base45 (RFC 9285) and prefixed with `HC1:`, as the
//! eHealth Network's hcert specification and the DCC technical specifications (Volume 1)
//! define.
//!
//! - [`verify`] checks a text against a [`DscTrust`] and a [`Schema`] at a given instant and
//!   returns a [`VerifiedDcc`]; each step is also a public function of its own.
//! - [`decode`] reads a text without judging it.
//!
//! What this crate does not own: reading QR codes from pictures (`healthcode-qrscan`), where
//! DSCs come from and whether their chain to a country's CSCA holds (trust lists), the
//! business rules (CertLogic, `healthcode-certlogic`), value set display texts, and reading
//! the clock (every check takes `now`).

mod cwt;
mod dsc;
mod error;
mod json;
mod model;
mod schema;
mod signature;
mod transport;
mod verify;

pub use cwt::Claims;
pub use dsc::{DscTrust, KID_LEN, KeyUsage, SignerCertificate, kid_of};
pub use error::DccError;
pub use healthcode_credential::cose::CoseSign1;
pub use json::cbor_to_json;
pub use model::{
    CertificateEntry, CertificateKind, HealthCertificate, HolderName, Recovery, Test, Vaccination,
};
pub use schema::{EU_DCC_SCHEMA_1_3_3, Schema};
pub use signature::Algorithm;
pub use transport::{MAX_INFLATED_LEN, PREFIX, base45_decode, inflate, unprefix};
pub use verify::{
    Decoded, VerifiedDcc, check_key_usage, check_signer_validity, check_times, decode, verify,
};

#[cfg(test)]
mod tests {
    /// The server shares one trust set and one compiled schema across request threads.
    #[test]
    fn shared_values_are_send_and_sync() {
        fn shareable<T: Send + Sync>() {}
        shareable::<super::DscTrust>();
        shareable::<super::Schema>();
        shareable::<super::VerifiedDcc>();
    }
}
