//! healthcode's domain: people and their documents, evidence (with the person's own
//! declarations), the status policy and the status
//! engine. Nothing here does I/O or reads a clock: time and randomness come in as arguments.
//!
//! What this crate does not own: storage (`healthcode-store`), the signed code format
//! (`healthcode-credential`), HTTP (`healthcode-server`).

pub mod declaration;
pub mod document;
pub mod engine;
pub mod error;
pub mod evidence;
pub mod label;
pub mod person;
pub mod policy;
pub mod region;
pub mod short_code;
pub mod status;
pub mod venue;

pub use declaration::{Declaration, DeclarationKind, Declared, Symptom};
pub use document::{DocumentNumber, DocumentType};
pub use engine::evaluate;
pub use error::{
    DeclarationError, DocumentError, EvidenceError, LabelError, PersonError, PolicyError,
};
pub use evidence::{
    Designation, DesignationKind, Evidence, EvidenceMeta, TestKind, TestOutcome, TestResult,
    Vaccination, VaccinationKind,
};
pub use label::Label;
pub use person::{PersonName, PhoneNumber};
pub use policy::Policy;
pub use region::{Region, RegionError};
pub use short_code::PlaceShortCode;
pub use status::{Colour, Reason, ReminderKind, Status, TestRecency, VaccinationState};
pub use venue::{
    CheckinRules, EntryPolicy, Exposure, ExposureSource, GateDecision, Presented, RiskLevel,
    StopReason, VaccinationRequirement,
};
