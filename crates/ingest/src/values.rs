//! Values every format shares: record ids, document types as people spell them, times, dose
//! numbers and the CVX vaccine codes. The checks are the API's (through the domain), so a
//! record is accepted or refused alike whichever way it arrives.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use healthcode_domain::evidence::check_record_id;
use healthcode_domain::{DocumentType, EvidenceError};

use crate::error::Problem;

/// A provider's record id, checked by the domain's rule.
pub(crate) fn record_id(raw: &str) -> Result<String, Problem> {
    check_record_id(raw)?;
    Ok(raw.to_owned())
}

/// A document type by its wire name or the name printed on the document.
pub(crate) fn document_type(raw: &str) -> Result<DocumentType, Problem> {
    DocumentType::parse(raw)
        .ok()
        .or(match raw {
            "居民身份证" | "身份证" => Some(DocumentType::ResidentId),
            "护照" => Some(DocumentType::Passport),
            "港澳居民来往内地通行证" | "回乡证" => Some(DocumentType::HkMacauPermit),
            "台湾居民来往大陆通行证" | "台胞证" => Some(DocumentType::TaiwanPermit),
            "外国人永久居留身份证" => Some(DocumentType::ForeignerPermanentResidence),
            _ => None,
        })
        .ok_or_else(|| {
            Problem::new(
                "document_type_unknown",
                "document_type must be resident_id, passport, hk_macau_permit, taiwan_permit, foreigner_permanent_residence (or their Chinese names)",
            )
        })
}

/// RFC 3339 with an offset, or a local date and time in `tz` (`-` or `/` between the date's
/// parts, seconds and their fraction optional). Whole seconds are kept, as the store keeps them.
/// A date alone is not a time: a day says too little for a 48-hour test window.
pub fn parse_time(raw: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let t = if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        t.with_timezone(&Utc)
    } else {
        let normalised = raw.replace('/', "-");
        let local = [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%dT%H:%M:%S%.f",
        ]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(&normalised, f).ok())?;
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            LocalResult::None => return None,
        }
    };
    DateTime::from_timestamp(t.timestamp(), 0)
}

/// [`parse_time`], refusing with the name of the field the value came from.
pub(crate) fn time(raw: &str, field: &str, tz: Tz) -> Result<DateTime<Utc>, Problem> {
    parse_time(raw, tz)
        .filter(|t| healthcode_domain::evidence::plausible_time(*t))
        .ok_or_else(|| {
            Problem::new(
                "time_invalid",
                format!(
                    "{field} must be a time from 2019-12-01 to 2099-12-31, such as 2026-05-01 \
                     08:30:00 (local) or 2026-05-01T00:30:00Z"
                ),
            )
        })
}

/// Refuses a time from the future, allowing the same few minutes of clock skew as the API and
/// `TestResult::check_times`.
pub(crate) fn not_in_future(t: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), Problem> {
    if t > now + TimeDelta::minutes(5) {
        return Err(EvidenceError::InFuture.into());
    }
    Ok(())
}

/// A dose's place in its series. Nine is the most any schedule in use has (primary series plus
/// boosters), so a larger number is a typing error rather than a dose.
pub(crate) fn dose_number(n: Option<i64>) -> Result<u8, Problem> {
    n.filter(|n| (1..=9).contains(n))
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| {
            Problem::new(
                "dose_number_invalid",
                "a dose needs its dose number, 1 to 9",
            )
        })
}

/// The policy's product code for a CDC CVX code (the vaccine codes FHIR Immunizations carry;
/// <https://www2.cdc.gov/vaccines/iis/iisstandards/vaccines.asp?rpt=cvx>).
pub(crate) fn cvx_product(code: &str) -> Option<&'static str> {
    Some(match code {
        "510" => "sinopharm-bibp",
        "511" => "sinovac-coronavac",
        "207" => "moderna-spikevax",
        "208" => "pfizer-comirnaty",
        "212" => "janssen",
        "210" => "astrazeneca-vaxzevria",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Asia::Shanghai;

    #[test]
    fn years_no_record_can_have_are_refused() {
        let tz = chrono_tz::Asia::Shanghai;
        for raw in [
            "1800-05-01T08:00:00Z",
            "2019-11-30 23:00:00",
            "2200-01-01T00:00:00Z",
        ] {
            let refused = time(raw, "sampled_at", tz)
                .unwrap_err()
                .at(crate::record::Position::Line(2));
            assert_eq!(refused.code, "time_invalid", "{raw}");
        }
        assert!(time("2019-12-01T00:00:00Z", "sampled_at", tz).is_ok());
    }

    #[test]
    fn times_with_and_without_offsets_and_fractions() {
        let utc = |raw| parse_time(raw, Shanghai).map(|t| t.to_rfc3339());
        let expected = Some("2026-05-01T00:30:00+00:00".to_owned());
        for raw in [
            "2026-05-01T00:30:00Z",
            "2026-05-01T08:30:00.250+08:00",
            "2026-05-01 08:30:00",
            "2026-05-01 08:30",
            "2026/05/01 08:30",
            "2026-05-01T08:30:00",
            "2026-05-01T08:30:00.5",
        ] {
            assert_eq!(utc(raw), expected, "{raw}");
        }
        for raw in ["2026-05-01", "2026-05", "08:30", "yesterday", ""] {
            assert_eq!(utc(raw), None, "{raw}");
        }
    }

    #[test]
    fn dose_numbers_are_one_to_nine() {
        assert_eq!(dose_number(Some(1)), Ok(1));
        assert_eq!(dose_number(Some(9)), Ok(9));
        for n in [None, Some(0), Some(10), Some(-1), Some(i64::MAX)] {
            assert!(dose_number(n).is_err(), "{n:?}");
        }
    }
}
