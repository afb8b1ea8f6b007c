//! The EU DCC payload as typed data: the holder's name and date of birth and the one
//! vaccination, test or recovery entry (DCC JSON schema 1.3.3, `$defs` `person_name`,
//! `vaccination_entry`, `test_entry`, `recovery_entry`).
//!
//! Codes (disease, vaccine, test result, country…) stay as the issuer wrote them; mapping them
//! to display text through the value sets is the business rules' and the interface's concern.
//! Fields that the schema restricts are not re-checked here: [`crate::Schema`] does that.

use serde::{Deserialize, Deserializer};
use serde_json::Value as Json;

use crate::error::DccError;

/// The three kinds of DCC (schema: exactly one of `v`, `t`, `r`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateKind {
    /// `v`: a vaccination.
    Vaccination,
    /// `t`: a test.
    Test,
    /// `r`: a recovery.
    Recovery,
}

impl CertificateKind {
    /// The payload key of the group: `v`, `t` or `r`.
    pub fn key(self) -> &'static str {
        match self {
            CertificateKind::Vaccination => "v",
            CertificateKind::Test => "t",
            CertificateKind::Recovery => "r",
        }
    }

    /// A lower-case English name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            CertificateKind::Vaccination => "vaccination",
            CertificateKind::Test => "test",
            CertificateKind::Recovery => "recovery",
        }
    }
}

/// The holder's name (`nam`): as written and standardised to ICAO 9303 (`A-Z` and `<`).
/// The schema requires at least one standardised part.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HolderName {
    /// `fn`: surname(s) as written.
    #[serde(rename = "fn", default)]
    pub family: Option<String>,
    /// `gn`: forename(s) as written.
    #[serde(rename = "gn", default)]
    pub given: Option<String>,
    /// `fnt`: standardised surname(s).
    #[serde(rename = "fnt", default)]
    pub family_standardised: Option<String>,
    /// `gnt`: standardised forename(s).
    #[serde(rename = "gnt", default)]
    pub given_standardised: Option<String>,
}

/// A vaccination entry (`v[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Vaccination {
    /// `tg`: disease or agent targeted (SNOMED CT, value set `disease-agent-targeted`).
    #[serde(rename = "tg")]
    pub target: String,
    /// `vp`: vaccine or prophylaxis.
    #[serde(rename = "vp")]
    pub vaccine: String,
    /// `mp`: medicinal product.
    #[serde(rename = "mp")]
    pub product: String,
    /// `ma`: marketing authorisation holder or manufacturer.
    #[serde(rename = "ma")]
    pub manufacturer: String,
    /// `dn`: number in a series of doses.
    #[serde(rename = "dn", deserialize_with = "whole_number")]
    pub dose_number: u32,
    /// `sd`: the overall number of doses in the series.
    #[serde(rename = "sd", deserialize_with = "whole_number")]
    pub total_doses: u32,
    /// `dt`: date of vaccination.
    #[serde(rename = "dt")]
    pub date: String,
    /// `co`: country of vaccination.
    #[serde(rename = "co")]
    pub country: String,
    /// `is`: certificate issuer.
    #[serde(rename = "is")]
    pub issuer: String,
    /// `ci`: unique certificate identifier (UVCI).
    #[serde(rename = "ci")]
    pub certificate_id: String,
}

/// A test entry (`t[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Test {
    /// `tg`: disease or agent targeted.
    #[serde(rename = "tg")]
    pub target: String,
    /// `tt`: type of test.
    #[serde(rename = "tt")]
    pub test_type: String,
    /// `nm`: test name (NAAT only).
    #[serde(rename = "nm", default)]
    pub name: Option<String>,
    /// `ma`: test device identifier (RAT only).
    #[serde(rename = "ma", default)]
    pub device: Option<String>,
    /// `sc`: date and time of sample collection.
    #[serde(rename = "sc")]
    pub sample_collected: String,
    /// `tr`: test result.
    #[serde(rename = "tr")]
    pub result: String,
    /// `tc`: testing centre or facility.
    #[serde(rename = "tc", default)]
    pub centre: Option<String>,
    /// `co`: country of test.
    #[serde(rename = "co")]
    pub country: String,
    /// `is`: certificate issuer.
    #[serde(rename = "is")]
    pub issuer: String,
    /// `ci`: unique certificate identifier (UVCI).
    #[serde(rename = "ci")]
    pub certificate_id: String,
}

/// A recovery entry (`r[0]`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Recovery {
    /// `tg`: disease or agent the holder recovered from.
    #[serde(rename = "tg")]
    pub target: String,
    /// `fr`: date of the holder's first positive NAAT result.
    #[serde(rename = "fr")]
    pub first_positive: String,
    /// `co`: country of test.
    #[serde(rename = "co")]
    pub country: String,
    /// `is`: certificate issuer.
    #[serde(rename = "is")]
    pub issuer: String,
    /// `df`: certificate valid from.
    #[serde(rename = "df")]
    pub valid_from: String,
    /// `du`: certificate valid until.
    #[serde(rename = "du")]
    pub valid_until: String,
    /// `ci`: unique certificate identifier (UVCI).
    #[serde(rename = "ci")]
    pub certificate_id: String,
}

/// The one entry a DCC holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateEntry {
    /// A vaccination certificate.
    Vaccination(Vaccination),
    /// A test certificate.
    Test(Test),
    /// A recovery certificate.
    Recovery(Recovery),
}

impl CertificateEntry {
    /// Which kind of certificate this is.
    pub fn kind(&self) -> CertificateKind {
        match self {
            CertificateEntry::Vaccination(_) => CertificateKind::Vaccination,
            CertificateEntry::Test(_) => CertificateKind::Test,
            CertificateEntry::Recovery(_) => CertificateKind::Recovery,
        }
    }

    /// The UVCI of the entry.
    pub fn certificate_id(&self) -> &str {
        match self {
            CertificateEntry::Vaccination(v) => &v.certificate_id,
            CertificateEntry::Test(t) => &t.certificate_id,
            CertificateEntry::Recovery(r) => &r.certificate_id,
        }
    }
}

/// The typed content of a DCC payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCertificate {
    /// `ver`: the schema version the issuer wrote.
    pub version: String,
    /// `nam`: the holder's name.
    pub name: HolderName,
    /// `dob`: date of birth as written (`YYYY`, `YYYY-MM`, `YYYY-MM-DD` or empty).
    pub date_of_birth: String,
    /// The vaccination, test or recovery.
    pub entry: CertificateEntry,
}

/// The fields every certificate has; the groups `v`, `t` and `r` are read in place.
#[derive(Deserialize)]
struct Raw {
    ver: String,
    nam: HolderName,
    dob: String,
}

impl HealthCertificate {
    /// Reads the payload. Exactly one of `v`, `t`, `r` must hold exactly one entry; a group
    /// that is `null` counts as absent, as some early issuers wrote it that way.
    pub fn from_json(payload: &Json) -> Result<HealthCertificate, DccError> {
        let missing = || DccError::Payload("the holder's name, birth date or version is missing");
        let raw = Raw::deserialize(payload).map_err(|_| missing())?;
        // Each group borrowed from the payload, not copied out of it.
        let group = |key: &str| match payload.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Array(entries)) => Ok(Some(entries.as_slice())),
            Some(_) => Err(missing()),
        };
        let groups = [
            (CertificateKind::Vaccination, group("v")?),
            (CertificateKind::Test, group("t")?),
            (CertificateKind::Recovery, group("r")?),
        ];
        let mut present = groups
            .into_iter()
            .filter_map(|(kind, group)| group.map(|entries| (kind, entries)));
        let (Some((kind, entries)), None) = (present.next(), present.next()) else {
            return Err(DccError::CertificateType);
        };
        let [entry] = entries else {
            return Err(DccError::CertificateType);
        };
        let malformed = |_| DccError::Payload("the entry lacks fields of its type");
        let entry = match kind {
            CertificateKind::Vaccination => {
                CertificateEntry::Vaccination(Vaccination::deserialize(entry).map_err(malformed)?)
            }
            CertificateKind::Test => {
                CertificateEntry::Test(Test::deserialize(entry).map_err(malformed)?)
            }
            CertificateKind::Recovery => {
                CertificateEntry::Recovery(Recovery::deserialize(entry).map_err(malformed)?)
            }
        };
        Ok(HealthCertificate {
            version: raw.ver,
            name: raw.nam,
            date_of_birth: raw.dob,
            entry,
        })
    }
}

/// A dose count: a JSON integer, or a float with no fraction (JSON Schema counts `2.0` as an
/// integer, so an issuer's CBOR float must not be refused here after the schema accepted it).
fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    let whole = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    });
    whole
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| serde::de::Error::custom("not a whole number of doses"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;

    fn vaccination() -> Json {
        json!({
            "ver": "1.3.0",
            "nam": {"fn": "Musterfrau", "fnt": "MUSTERFRAU", "gn": "Erika", "gnt": "ERIKA"},
            "dob": "1964-08-12",
            "v": [{"tg": "840539006", "vp": "1119349007", "mp": "EU/1/20/1507",
                   "ma": "ORG-100031184", "dn": 2, "sd": 2.0, "dt": "2021-05-29",
                   "co": "DE", "is": "Robert Koch-Institut",
                   "ci": "URN:UVCI:01DE/IZ12345A/5CWLU12RNOB9RXSEOP6FG8#W"}]
        })
    }

    #[test]
    fn reads_a_vaccination() {
        let cert = HealthCertificate::from_json(&vaccination()).unwrap();
        assert_eq!(cert.version, "1.3.0");
        assert_eq!(cert.name.family_standardised.as_deref(), Some("MUSTERFRAU"));
        assert_eq!(cert.date_of_birth, "1964-08-12");
        let CertificateEntry::Vaccination(v) = &cert.entry else {
            panic!("not a vaccination")
        };
        assert_eq!((v.dose_number, v.total_doses), (2, 2));
        assert_eq!(cert.entry.kind(), CertificateKind::Vaccination);
        assert_eq!(
            cert.entry.certificate_id(),
            "URN:UVCI:01DE/IZ12345A/5CWLU12RNOB9RXSEOP6FG8#W"
        );
    }

    #[test]
    fn null_groups_count_as_absent() {
        let mut payload = vaccination();
        payload["t"] = Json::Null;
        payload["r"] = Json::Null;
        assert!(HealthCertificate::from_json(&payload).is_ok());
    }

    #[test]
    fn refuses_zero_or_two_groups_and_two_entries() {
        let mut none = vaccination();
        none.as_object_mut().unwrap().remove("v");
        assert_eq!(
            HealthCertificate::from_json(&none),
            Err(DccError::CertificateType)
        );

        let mut two = vaccination();
        two["r"] = json!([{}]);
        assert_eq!(
            HealthCertificate::from_json(&two),
            Err(DccError::CertificateType)
        );

        let mut doubled = vaccination();
        let entry = doubled["v"][0].clone();
        doubled["v"] = json!([entry.clone(), entry]);
        assert_eq!(
            HealthCertificate::from_json(&doubled),
            Err(DccError::CertificateType)
        );
    }

    #[test]
    fn refuses_fractional_doses_and_missing_fields() {
        let mut half = vaccination();
        half["v"][0]["dn"] = json!(1.5);
        assert_eq!(
            HealthCertificate::from_json(&half).unwrap_err().code(),
            "payload"
        );

        let mut missing = vaccination();
        missing["v"][0].as_object_mut().unwrap().remove("ci");
        assert_eq!(
            HealthCertificate::from_json(&missing).unwrap_err().code(),
            "payload"
        );

        assert_eq!(
            HealthCertificate::from_json(&json!([])).unwrap_err().code(),
            "payload"
        );
    }
}
