//! A venue, a gate device and a check-in method as the API shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use healthcode_store::{CheckinMethod, Device, Venue};

/// A registered venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VenueView {
    /// The number in `/api/v1/venues/{id}` and in the venue's place code.
    pub id: i64,
    pub name: String,
    /// The venue type, one of the policy's `[venues.*]`: it names the entry policy.
    pub kind: String,
    /// The district a risk area by district covers.
    pub district: String,
    /// Free text, possibly empty.
    pub address: String,
    /// When it was registered; its poster's place code is issued as of this instant.
    pub created_at: DateTime<Utc>,
}

impl From<Venue> for VenueView {
    fn from(v: Venue) -> VenueView {
        VenueView {
            id: v.id,
            name: v.name,
            kind: v.kind,
            district: v.district,
            address: v.address,
            created_at: v.created_at,
        }
    }
}

/// A gate device of one venue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceView {
    pub id: i64,
    pub venue_id: i64,
    pub name: String,
    /// When a key holder or a browser took its credential (none yet: waiting for enrolment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrolled_at: Option<DateTime<Utc>>,
    /// When it was revoked; its credential no longer works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<Device> for DeviceView {
    fn from(d: Device) -> DeviceView {
        DeviceView {
            id: d.id,
            venue_id: d.venue_id,
            name: d.name,
            enrolled_at: d.enrolled_at,
            revoked_at: d.revoked_at,
        }
    }
}

/// How a check-in was made: `gate`, `self_scan` or `sentinel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckinMethodView {
    Gate,
    SelfScan,
    Sentinel,
}

impl From<CheckinMethodView> for CheckinMethod {
    fn from(m: CheckinMethodView) -> CheckinMethod {
        match m {
            CheckinMethodView::Gate => CheckinMethod::Gate,
            CheckinMethodView::SelfScan => CheckinMethod::SelfScan,
            CheckinMethodView::Sentinel => CheckinMethod::Sentinel,
        }
    }
}

impl From<CheckinMethod> for CheckinMethodView {
    fn from(m: CheckinMethod) -> CheckinMethodView {
        match m {
            CheckinMethod::Gate => CheckinMethodView::Gate,
            CheckinMethod::SelfScan => CheckinMethodView::SelfScan,
            CheckinMethod::Sentinel => CheckinMethodView::Sentinel,
        }
    }
}
