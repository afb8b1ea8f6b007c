//! The region a healthcode instance serves: its identifier (as it appears in codes and trust
//! lists) and its time zone, which decides when 24:00 is.

use chrono_tz::Tz;
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RegionError {
    #[error("region id must be 2 to 16 characters of A-Z, 0-9 and '-' (for example CN-BJ)")]
    Id,
    #[error("unknown time zone {0:?} (use an IANA name such as Asia/Shanghai)")]
    TimeZone(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    id: String,
    tz: Tz,
}

impl Region {
    pub fn new(id: &str, tz: &str) -> Result<Region, RegionError> {
        let ok = (2..=16).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(RegionError::Id);
        }
        let tz: Tz = tz
            .parse()
            .map_err(|_| RegionError::TimeZone(tz.to_owned()))?;
        Ok(Region {
            id: id.to_owned(),
            tz,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }
}
