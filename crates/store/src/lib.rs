//! healthcode's storage: the [`Store`] trait in the domain's terms (with [`Venues`] and
//! [`Residents`], the parts it is split into), one SQL implementation
//! for SQLite and PostgreSQL ([`SqlStore`]), and the [`Vault`] that encrypts personal fields
//! and computes the blind index.
//!
//! What this crate does not own: the rules (the domain crate) and who may call what (the
//! server). No sqlx type appears in its public API.

mod error;
pub mod leaf;
mod model;
mod sql;
pub mod vault;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use healthcode_tlog::{NoteSignature, NoteSigner};

use crate::leaf::Receipt;

use healthcode_domain::{
    Declared, DesignationKind, DocumentNumber, Evidence, PersonName, PhoneNumber,
};

pub use error::StoreError;
pub use model::{
    Access, Change, Checkin, CheckinMethod, CheckinsStored, CoPresent, CurrentRecord, Device,
    EvidenceBody, HourCount, NewCheckin, NewRiskArea, Outcome, PaperPass, Person, PoolUse,
    Provider, ProviderKind, Purge, Revision, RiskArea, Stored, StoredPasskey, Submission, Venue,
    VenueManager,
};
pub use sql::{
    Backend, BatchOutcome, Integrated, LogAudit, MAX_DEPENDANTS, MAX_SESSIONS, SqlStore,
};
pub use vault::{DocIndex, Vault};

/// An import in one transaction (see [`Store::begin_bulk`]). Dropped without a commit, it
/// rolls back.
#[async_trait]
pub trait BulkWrite: Send {
    /// Writes a batch, as [`Store::submit_batch`] does, inside the transaction.
    async fn write(
        &mut self,
        batch: &[Submission],
        now: DateTime<Utc>,
    ) -> Result<BatchOutcome, StoreError>;

    async fn commit(self: Box<Self>) -> Result<(), StoreError>;

    async fn rollback(self: Box<Self>) -> Result<(), StoreError>;
}

/// Venues, their gate devices and managers, check-ins, risk areas and the access log.
#[async_trait]
pub trait Venues: Send + Sync {
    async fn add_venue(
        &self,
        name: &str,
        kind: &str,
        district: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<Venue, StoreError>;

    async fn venue(&self, id: i64) -> Result<Option<Venue>, StoreError>;

    /// Every venue, or those of one district, in id order.
    async fn venues(&self, district: Option<&str>) -> Result<Vec<Venue>, StoreError>;

    /// Adds a gate device to a venue, enrolled at `now`: whoever was handed the key holds its
    /// credential ([`StoreError::NotFound`] if there is no such venue).
    async fn add_device(
        &self,
        venue_id: i64,
        name: &str,
        key_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Device, StoreError>;

    /// Adds a gate device that waits to be enrolled with a one-time token (by its hash) until
    /// `expires_at` ([`Venues::redeem_device_enrolment`]). Until then it has no key anyone
    /// knows. [`StoreError::NotFound`] if there is no such venue; [`StoreError::Conflict`] if
    /// the token hash is taken.
    async fn add_pending_device(
        &self,
        venue_id: i64,
        name: &str,
        token_hash: &[u8; 32],
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Device, StoreError>;

    /// Replaces a device's pending enrolment token, if any, with a new one (a manager shows
    /// the link again). Redeeming it replaces the key of a device enrolled already.
    /// [`StoreError::NotFound`] if the venue has no such device or it is revoked.
    async fn renew_device_enrolment(
        &self,
        venue_id: i64,
        device_id: i64,
        token_hash: &[u8; 32],
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Enrols the device of an unexpired token (by its hash) whose device is not revoked: the
    /// token is used up, the device's key becomes `new_key_hash` (an earlier key stops
    /// working) and it is enrolled at `now`. `None` for an unknown, used, replaced or expired
    /// token, or a revoked device. Of two redeeming the same token at once, at most one gets
    /// the device.
    async fn redeem_device_enrolment(
        &self,
        token_hash: &[u8; 32],
        new_key_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<Device>, StoreError>;

    /// Every device of a venue, revoked ones and ones waiting to be enrolled included, in id
    /// order.
    async fn devices_of(&self, venue_id: i64) -> Result<Vec<Device>, StoreError>;

    /// Revokes a device at `now`: its key stops working at once and its pending enrolment
    /// token goes. True if it was live, false if it was revoked already;
    /// [`StoreError::NotFound`] if the venue has no such device.
    async fn revoke_device(
        &self,
        venue_id: i64,
        device_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// The unrevoked device whose key hashes to `key_hash`.
    async fn device_by_key(&self, key_hash: &[u8; 32]) -> Result<Option<Device>, StoreError>;

    /// Raises the device's upload high-water mark to `at` (never lowers it).
    async fn raise_upload_high_water(
        &self,
        device_id: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Stores check-ins in one transaction; a (device, sequence number) already stored is
    /// skipped and counted as a duplicate. Venues are the caller's to check.
    async fn add_checkins(
        &self,
        rows: &[NewCheckin],
        now: DateTime<Utc>,
    ) -> Result<CheckinsStored, StoreError>;

    /// A subject's check-ins since `since`, newest first.
    async fn checkins_of(
        &self,
        subject: &[u8; 16],
        since: DateTime<Utc>,
    ) -> Result<Vec<Checkin>, StoreError>;

    /// Everyone whose check-in at a venue lies strictly within `window` of a check-in there
    /// by one of `cases` since `since`, ordered by case, case visit, time. Only presence
    /// counts: a check-in a gate stopped at the door is left out; a self check-in (the person
    /// scanned the poster inside) is not. Flagged check-ins (kept for review) count on
    /// neither side.
    async fn co_present(
        &self,
        cases: &[[u8; 16]],
        since: DateTime<Utc>,
        window: Duration,
    ) -> Result<Vec<CoPresent>, StoreError>;

    /// The check-ins at `venue_ids` in `[from, to)` that count as presence (as for
    /// [`Venues::co_present`]: not stopped at the door, not flagged), by time.
    async fn visitors(
        &self,
        venue_ids: &[i64],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Checkin>, StoreError>;

    /// How many check-ins there were at a venue in each UTC hour of `[from, to)`, and how
    /// many of them the door stopped, by hour; hours without any are left out. Flagged
    /// check-ins count too. Counts only: nothing about who.
    async fn hourly_checkins(
        &self,
        venue_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourCount>, StoreError>;

    /// Makes a person a manager of a venue, as of `now`; an existing assignment is returned as
    /// it is. [`StoreError::NotFound`] if there is no such venue or person.
    async fn assign_manager(
        &self,
        venue_id: i64,
        person_id: i64,
        now: DateTime<Utc>,
    ) -> Result<VenueManager, StoreError>;

    /// A venue's managers, in id order.
    async fn managers_of(&self, venue_id: i64) -> Result<Vec<VenueManager>, StoreError>;

    /// Ends an assignment of the venue (by its id). False if the venue had none such.
    async fn unassign_manager(&self, venue_id: i64, assignment_id: i64)
    -> Result<bool, StoreError>;

    /// The venues a person manages, in id order.
    async fn venues_managed_by(&self, person_id: i64) -> Result<Vec<Venue>, StoreError>;

    /// Whether a person manages a venue.
    async fn manages(&self, person_id: i64, venue_id: i64) -> Result<bool, StoreError>;

    /// The person registered under a blind index, if any.
    async fn person_by_index(&self, index: &DocIndex) -> Result<Option<Person>, StoreError>;

    /// The registered people among `subjects`, in no particular order.
    async fn people_by_subjects(&self, subjects: &[[u8; 16]]) -> Result<Vec<Person>, StoreError>;

    /// Deletes every check-in before `cutoff` and records the purge (`day`, the count).
    async fn purge_checkins(
        &self,
        cutoff: DateTime<Utc>,
        day: &str,
        now: DateTime<Utc>,
    ) -> Result<Purge, StoreError>;

    /// The latest purges, newest first.
    async fn purges(&self, limit: i64) -> Result<Vec<Purge>, StoreError>;

    async fn add_risk_area(
        &self,
        area: &NewRiskArea,
        now: DateTime<Utc>,
    ) -> Result<RiskArea, StoreError>;

    async fn risk_area(&self, id: i64) -> Result<Option<RiskArea>, StoreError>;

    /// Risk areas not released.
    async fn open_risk_areas(&self) -> Result<Vec<RiskArea>, StoreError>;

    /// Marks an area released at `released_at` (a second release changes nothing).
    async fn release_risk_area(
        &self,
        id: i64,
        released_at: DateTime<Utc>,
    ) -> Result<RiskArea, StoreError>;

    /// The current designation records of a provider whose record id starts with `prefix`.
    async fn designations_with_prefix(
        &self,
        provider_id: i64,
        prefix: &str,
    ) -> Result<Vec<CurrentRecord>, StoreError>;

    async fn record_access(&self, access: &Access) -> Result<(), StoreError>;

    /// An actor's latest access-log entries, newest first.
    async fn accesses(&self, actor: &str, limit: i64) -> Result<Vec<Access>, StoreError>;
}

/// What the resident web app keeps beside a person: passkeys, WebAuthn ceremonies between
/// their two requests, dependants and paper passes. All of it goes when the person does.
#[async_trait]
pub trait Residents: Send + Sync {
    /// Adds a passkey (`passkey` is the serialized credential, opaque to the store) and
    /// returns its id. [`StoreError::Conflict`] if the credential id is stored already, even
    /// revoked; [`StoreError::NotFound`] if there is no such person.
    async fn add_passkey(
        &self,
        person_id: i64,
        credential_id: &[u8],
        passkey: &[u8],
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;

    /// A person's unrevoked passkeys, oldest first.
    async fn passkeys_of(&self, person_id: i64) -> Result<Vec<StoredPasskey>, StoreError>;

    /// The unrevoked passkey with this credential id: the sign-in where the authenticator
    /// names the account (a discoverable credential).
    async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<StoredPasskey>, StoreError>;

    /// Records a sign-in with a passkey: its serialized form is replaced (the sign counter
    /// moves) and `now` becomes its last use. False if it is unknown or revoked.
    async fn use_passkey(
        &self,
        id: i64,
        passkey: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Revokes every passkey of a person (a lost phone: they prove who they are again and
    /// enrol a new one). Returns how many.
    async fn revoke_passkeys(&self, person_id: i64, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Whether a person has an unrevoked passkey.
    async fn has_passkey(&self, person_id: i64) -> Result<bool, StoreError>;

    /// Keeps a ceremony's state (`kind` names the ceremony, such as registration or sign-in)
    /// until `expires_at`, so that whichever node the second request reaches can finish it.
    /// [`StoreError::Conflict`] if the id is taken.
    async fn put_ceremony(
        &self,
        id: &[u8; 16],
        kind: &str,
        person_id: Option<i64>,
        state: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Deletes a ceremony and returns its person and state, if it is of `kind` and unexpired
    /// at `now`. Any ceremony presented is used up, whatever the answer: of two requests
    /// taking the same one at once, at most one gets it.
    async fn take_ceremony(
        &self,
        id: &[u8; 16],
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Option<i64>, Vec<u8>)>, StoreError>;

    /// Deletes every ceremony expired at `now`. Returns how many.
    async fn purge_ceremonies(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Makes `dependant_id` a dependant of `guardian_id`, whose code the guardian may then
    /// show. A pair already there is left as it is. Refused ([`StoreError::Rejected`]) for
    /// oneself (`dependant_self`) and beyond [`MAX_DEPENDANTS`] (`dependants_full`), a cap
    /// that concurrent adds cannot overrun; [`StoreError::NotFound`] if either person is
    /// unknown.
    async fn add_dependant(
        &self,
        guardian_id: i64,
        dependant_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// A guardian's dependants, in the order they were added.
    async fn dependants_of(&self, guardian_id: i64) -> Result<Vec<Person>, StoreError>;

    async fn is_dependant(&self, guardian_id: i64, dependant_id: i64) -> Result<bool, StoreError>;

    /// False if the pair was not there.
    async fn remove_dependant(
        &self,
        guardian_id: i64,
        dependant_id: i64,
    ) -> Result<bool, StoreError>;

    /// Issues a paper pass with a random serial and, in the same transaction, revokes the
    /// person's earlier ones: one live pass a person. [`StoreError::NotFound`] if there is no
    /// such person.
    async fn issue_paper_pass(
        &self,
        person_id: i64,
        now: DateTime<Utc>,
    ) -> Result<[u8; 16], StoreError>;

    /// The pass with this serial, revoked or not.
    async fn paper_pass(&self, serial: &[u8; 16]) -> Result<Option<PaperPass>, StoreError>;

    /// Revokes a person's live pass. Returns how many were revoked (0 or 1).
    async fn revoke_paper_passes(
        &self,
        person_id: i64,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// A person's unrevoked pass, if any.
    async fn live_paper_pass(&self, person_id: i64) -> Result<Option<PaperPass>, StoreError>;
}

/// The transparency log (docs/FORMAT.md §10): leaves are written by the other traits' writes,
/// in their transactions; this is sequencing them into the tree and reading it back.
#[async_trait]
pub trait Log: Send + Sync {
    /// Takes up to `max` leaves not yet in the tree into it, writes the tiles they change and
    /// a checkpoint of log `origin` signed by `signer`, in one transaction; of several nodes
    /// on one database one integrates at a time. With nothing new it changes nothing, except
    /// that an empty log gets a checkpoint of size 0.
    async fn integrate_log(
        &self,
        signer: &NoteSigner,
        origin: &str,
        max: i64,
        now: DateTime<Utc>,
    ) -> Result<Integrated, StoreError>;

    /// The newest signed checkpoint and its size, if there is one.
    async fn log_checkpoint(&self) -> Result<Option<(u64, String)>, StoreError>;

    /// Adds witnesses' cosignature lines to the checkpoint of `size` whose note text is
    /// `text`, each in place of an earlier line by the same key; the log's signature and the
    /// other lines stay. False, changing nothing, if no checkpoint of that size has that text
    /// (the tree was signed again since). Checking the lines is the caller's.
    async fn add_log_cosignatures(
        &self,
        size: u64,
        text: &str,
        cosignatures: &[NoteSignature],
    ) -> Result<bool, StoreError>;

    /// A hash tile (`level` 0 and up) or an entry bundle (`level` −1) at `width`, as C2SP
    /// tlog-tiles serves it; `None` if the log has not that many hashes or entries there.
    async fn log_tile(
        &self,
        level: i64,
        index: u64,
        width: u16,
    ) -> Result<Option<Vec<u8>>, StoreError>;

    /// The receipts of every evidence revision about `subject`, oldest first, without their
    /// proofs (the tree's to add): the record as stored, its salt, entry and index.
    async fn log_receipts(&self, subject: &DocIndex) -> Result<Vec<Receipt>, StoreError>;

    /// Checks every leaf against its stored record, every record for its leaf, and the
    /// leaves against the newest checkpoint (an inspector's audit with database access).
    async fn audit_log(&self) -> Result<LogAudit, StoreError>;

    /// Records a change to the region's code-signing keys, with its leaf, in one transaction;
    /// returns the record's id.
    async fn record_key_event(
        &self,
        event: KeyEvent,
        public_key: &[u8; 32],
        kid: &[u8],
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;

    /// Records that the policy `version` whose document hashes to `digest` is in force, with
    /// its leaf, unless it is the one recorded last; true if it was recorded.
    async fn record_policy(
        &self,
        version: &str,
        digest: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// A change to the region's code-signing keys (`healthcode keys rotate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEvent {
    /// Published in the trust list ahead of signing anything.
    Staged,
    /// Signs new codes from now on.
    Activated,
    /// Signs nothing issued from now on; still listed for what it signed before.
    Retired,
}

impl KeyEvent {
    /// The event's name in the record, and its leaf's kind with `key-` in front.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyEvent::Staged => "staged",
            KeyEvent::Activated => "activated",
            KeyEvent::Retired => "retired",
        }
    }

    /// The leaf's kind.
    pub fn kind(self) -> &'static str {
        match self {
            KeyEvent::Staged => "key-staged",
            KeyEvent::Activated => "key-activated",
            KeyEvent::Retired => "key-retired",
        }
    }
}

/// Everything the server keeps.
#[async_trait]
pub trait Store: Venues + Residents + Log + Send + Sync + 'static {
    /// The keyed blind index of a document, used to key evidence and find people.
    fn blind_index(&self, document: &DocumentNumber) -> DocIndex;

    /// Adds a data provider whose API key hashes to `key_hash`. Names are unique.
    async fn add_provider(
        &self,
        kind: ProviderKind,
        name: &str,
        key_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Provider, StoreError>;

    async fn provider_by_key(&self, key_hash: &[u8; 32]) -> Result<Option<Provider>, StoreError>;

    /// Registers a person; [`StoreError::Conflict`] if the document is registered already.
    async fn register(
        &self,
        document: &DocumentNumber,
        name: &PersonName,
        phone: Option<&PhoneNumber>,
        now: DateTime<Utc>,
    ) -> Result<Person, StoreError>;

    async fn person(&self, id: i64) -> Result<Person, StoreError>;

    async fn person_by_document(
        &self,
        document: &DocumentNumber,
    ) -> Result<Option<Person>, StoreError>;

    async fn count_people(&self) -> Result<i64, StoreError>;

    async fn create_session(
        &self,
        person_id: i64,
        token_hash: &[u8; 32],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Ends one session of a person (by its token's hash), or all of them: sign out here, or
    /// everywhere. Returns how many ended.
    async fn end_sessions(
        &self,
        person_id: i64,
        token_hash: Option<&[u8; 32]>,
    ) -> Result<u64, StoreError>;

    /// Deletes every session that ended before `now`. Returns how many.
    async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// The person a session token (by hash) belongs to and when the session ends, if it is
    /// known and unexpired at `now`.
    async fn session_person(
        &self,
        token_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<(i64, DateTime<Utc>)>, StoreError>;

    /// Stores one record idempotently: the same content under the same (provider, record id)
    /// changes nothing; different content becomes a new revision and the old one is kept. A
    /// record cannot change category ([`StoreError::WrongCategory`]), and a designation
    /// submitted again without a release keeps the release it already has.
    async fn submit(
        &self,
        submission: &Submission,
        now: DateTime<Utc>,
    ) -> Result<Stored, StoreError>;

    /// Stores a batch of records, each exactly as [`Store::submit`] would, in one transaction
    /// and a few statements: the bulk-import path. A record named twice in one batch gets its
    /// second submission as a correction of the first.
    async fn submit_batch(
        &self,
        batch: &[Submission],
        now: DateTime<Utc>,
    ) -> Result<BatchOutcome, StoreError>;

    /// Starts an all-or-nothing import: batches written through the returned [`BulkWrite`]
    /// share one transaction and become visible together at [`BulkWrite::commit`]. On the
    /// embedded database it holds the write lock throughout: other writes wait.
    async fn begin_bulk(&self) -> Result<Box<dyn BulkWrite>, StoreError>;

    /// How many [`Store::submit_batch`] calls an import may have running at once: 1 where
    /// writes are serialised anyway (SQLite), more where the database writes in parallel.
    fn parallel_batches(&self) -> usize {
        1
    }

    /// How much of each connection pool is in use now; empty where there is no pool.
    fn pool_use(&self) -> Vec<PoolUse> {
        Vec::new()
    }

    /// A deliberate correction of revision `supersedes`, which must be the current one
    /// ([`StoreError::RevisionMismatch`] otherwise). Unlike [`Store::submit`] it is stored even
    /// when its content equals an earlier revision: how a provider restores one on purpose.
    async fn submit_superseding(
        &self,
        submission: &Submission,
        supersedes: u32,
        now: DateTime<Utc>,
    ) -> Result<Stored, StoreError>;

    /// Releases a designation at `released_at`: a new revision of its current revision, in
    /// one transaction, so a correction landing meanwhile is kept. [`StoreError::NotFound`] if
    /// the provider has no such record; [`StoreError::Rejected`] if its kind is not in
    /// `allowed` or the release is before it started.
    async fn release(
        &self,
        provider_id: i64,
        record_id: &str,
        released_at: DateTime<Utc>,
        allowed: &[DesignationKind],
        now: DateTime<Utc>,
    ) -> Result<Stored, StoreError>;

    /// Every revision of a record, oldest first.
    async fn history(&self, provider_id: i64, record_id: &str)
    -> Result<Vec<Revision>, StoreError>;

    /// The current revision of every record about `subject`.
    async fn evidence_for(&self, subject: &DocIndex) -> Result<Evidence, StoreError>;

    /// Stores a declaration the person with `subject` made at `now` (to the second), as
    /// evidence from the self-declared provider under `record_id` (the caller's fresh id):
    /// read back with the rest of their evidence and announced on the change feed. The
    /// same id and content again changes nothing, as for [`Store::submit`].
    async fn declare(
        &self,
        subject: &DocIndex,
        record_id: &str,
        declared: &Declared,
        now: DateTime<Utc>,
    ) -> Result<Stored, StoreError>;

    /// Records `value` under `key` in the database's own facts if nothing is there yet, and
    /// returns what is there when it differs from `value`: how nodes find out they were given
    /// different key files.
    async fn pin(&self, key: &str, value: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Records `value` under `key`, replacing what is there (after a deliberate key rotation).
    async fn set_pin(&self, key: &str, value: &[u8]) -> Result<(), StoreError>;

    /// The id of the newest evidence row: where a change feed reader starts.
    async fn evidence_high_water(&self) -> Result<i64, StoreError>;

    /// The change feed: evidence rows stored after `after_id` (at most `limit`, in id order),
    /// each with the people whose status it changes. Lets every node see every writer's
    /// changes. Ids are handed out before commit, so a reader that finds a gap should look at
    /// the missing ids again for a while ([`Store::evidence_changes_at`]).
    async fn evidence_changes(&self, after_id: i64, limit: i64) -> Result<Vec<Change>, StoreError>;

    /// The rows among `ids` that exist now, as [`Store::evidence_changes`] reports them.
    async fn evidence_changes_at(&self, ids: &[i64]) -> Result<Vec<Change>, StoreError>;
}
