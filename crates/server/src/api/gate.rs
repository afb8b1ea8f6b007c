//! The gate's HTTP contract (docs/VENUES.md, "Gates"): `GET /api/v1/gate/config`,
//! `POST /api/v1/gate/scan`, `/gate/checkins`, `/gate/lookup` and `/gate/pass`, and the decision a door
//! shows, online or offline. The server's handlers serialise these types; `healthcode gate`
//! deserialises them, keeps its queue of check-ins in the [`UploadRow`] shape and prints its
//! offline decision as a [`Decision`].
//!
//! What this module does not own: the rule a door applies ([`EntryPolicy::decide`]),
//! verifying a code, and what the server does with a request.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use healthcode_credential::{CodeClaims, VerifyError};
use healthcode_domain::{Colour, EntryPolicy, GateDecision, Presented, StopReason};

use super::venues::{CheckinMethodView, DeviceView, VenueView};

/// Check-ins one upload may carry.
pub const MAX_UPLOAD: usize = 10_000;

/// `GET /api/v1/gate/config`: what a gate configures itself with while online: its venue,
/// the entry policy it applies, and the trust list it verifies codes against offline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateConfig {
    pub device: DeviceView,
    pub venue: VenueView,
    pub entry_policy: EntryPolicy,
    pub policy_version: String,
    pub region: String,
    /// The region's signed trust list, as `GET /api/v1/trust-list` serves it.
    pub trust_list: serde_json::Value,
    /// How long past the trust list's next update the gate may keep deciding offline
    /// (`checkins.trust_list_grace_hours` of the policy); after that it admits no one.
    #[serde(default)]
    pub trust_list_grace_hours: u32,
    /// Other regions' trust lists the server imported (root-pinned when imported), parsed:
    /// a gate verifies their visitors' codes too, though it records no check-in for them.
    #[serde(default)]
    pub other_regions: Vec<serde_json::Value>,
    pub server_time: DateTime<Utc>,
}

/// `POST /api/v1/gate/scan`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    pub code: String,
    /// The gate's own sequence number for this check-in, if it keeps one: a scan sent twice
    /// with the same number is stored once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
}

/// `POST /api/v1/gate/lookup` (digital sentinel).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupRequest {
    pub document_type: String,
    pub document_number: String,
}

/// `POST /api/v1/gate/pass`: the text of a paper pass's QR (`HCZ1:…`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PassRequest {
    pub pass: String,
}

/// PASS or STOP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    #[serde(rename = "PASS")]
    Pass,
    #[serde(rename = "STOP")]
    Stop,
}

impl Verdict {
    pub fn of(pass: bool) -> Verdict {
        if pass { Verdict::Pass } else { Verdict::Stop }
    }

    /// `PASS` or `STOP`, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Stop => "STOP",
        }
    }
}

/// One reason a door stops someone, in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub zh: String,
    pub en: String,
}

impl From<&StopReason> for Reason {
    fn from(r: &StopReason) -> Reason {
        let code = match r {
            StopReason::Colour { .. } => "colour",
            StopReason::Reminder { .. } => "reminder",
            StopReason::NoRecentTest { .. } => "no_recent_test",
            StopReason::Vaccination { .. } => "vaccination",
        };
        Reason {
            code: code.to_owned(),
            zh: r.text_zh(),
            en: r.text_en(),
        }
    }
}

/// Every reason of a decision, in its order.
pub fn reasons(decision: &GateDecision) -> Vec<Reason> {
    decision.reasons.iter().map(Reason::from).collect()
}

/// What a door decided about one person: PASS or STOP, whom (masked), why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub decision: Verdict,
    pub pass: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub masked_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub colour: Option<Colour>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub reasons: Vec<Reason>,
    pub venue_id: i64,
}

impl Decision {
    /// `decision` about the person whose masked name, colour and region are given.
    pub fn decided(
        decision: &GateDecision,
        venue_id: i64,
        masked_name: String,
        colour: Colour,
        region: String,
    ) -> Decision {
        Decision {
            decision: Verdict::of(decision.pass),
            pass: decision.pass,
            masked_name: Some(masked_name),
            colour: Some(colour),
            region: Some(region),
            reasons: reasons(decision),
            venue_id,
        }
    }

    /// The door's rules applied to a code that verified, online and offline alike.
    pub fn for_code(entry: &EntryPolicy, claims: &CodeClaims, venue_id: i64) -> Decision {
        let decision = entry.decide(&Presented {
            colour: claims.colour,
            reminders: &claims.reminders,
            test_recency_days: claims.test_recency_days,
            vaccination: claims.vaccination,
        });
        Decision::decided(
            &decision,
            venue_id,
            claims.masked_name.clone(),
            claims.colour,
            claims.region.clone(),
        )
    }

    /// STOP for one reason that is not the door's rules: nothing is known of the holder.
    pub fn refused(venue_id: i64, code: &str, zh: &str, en: String) -> Decision {
        Decision {
            decision: Verdict::Stop,
            pass: false,
            masked_name: None,
            colour: None,
            region: None,
            reasons: vec![Reason {
                code: code.to_owned(),
                zh: zh.to_owned(),
                en,
            }],
            venue_id,
        }
    }

    /// STOP for a code that does not verify, with the verifier's reason.
    pub fn invalid_code(venue_id: i64, e: &VerifyError) -> Decision {
        Decision::refused(
            venue_id,
            e.code(),
            "健康码无效",
            format!("the code does not verify: {e}"),
        )
    }
}

/// The answer to `POST /api/v1/gate/scan`, `/gate/lookup` and `/gate/pass`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateAnswer {
    #[serde(flatten)]
    pub decision: Decision,
    /// Whether a check-in was stored (false for a code that did not verify, a visitor from
    /// another region, or a sequence number already used).
    pub checked_in: bool,
}

/// `POST /api/v1/gate/checkins`: check-ins a gate recorded (offline, or in bulk).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    pub checkins: Vec<UploadRow>,
}

/// One uploaded check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRow {
    /// The gate's sequence number: (device, seq) is stored once however often it is sent.
    pub seq: i64,
    /// The subject of the code the gate verified (32 hex digits).
    pub subject: String,
    pub at: DateTime<Utc>,
    pub passed: bool,
    /// `gate` (default) or `sentinel`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<CheckinMethodView>,
    /// The venue the gate believes it is at; if given it must be the device's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub venue_id: Option<i64>,
}

/// The answer to an upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadAnswer {
    pub received: usize,
    pub stored: u64,
    pub duplicates: u64,
    pub rejected: Vec<RejectedRow>,
    /// Rows accepted but kept for review: dated well before what the device had already
    /// uploaded, so stored without designating anyone.
    #[serde(default)]
    pub flagged: usize,
    /// Designations written because a check-in fell in an open risk area.
    pub designated: usize,
}

/// A row the server refused, named by its place in the request and its sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedRow {
    pub index: usize,
    pub seq: i64,
    pub code: String,
    pub message: String,
}
