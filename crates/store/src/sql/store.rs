//! [`Store`] on [`SqlStore`]: each method handed to the file that owns its tables and rules.
//!
//! Nothing is decided here. A trait's methods must be implemented in one block, so this is
//! where they meet: what each does is documented on the trait (lib.rs), how it does it in the
//! file it names. The blind index alone is answered here, by the vault.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use healthcode_domain::{
    Declared, DesignationKind, DocumentNumber, Evidence, PersonName, PhoneNumber,
};

use super::revisions::Write;
use super::{
    BatchOutcome, SqlStore, batches, changes, declarations, evidence, meta, people, providers,
    revisions,
};
use crate::error::StoreError;
use crate::model::{Change, Person, Provider, ProviderKind, Revision, Stored, Submission};
use crate::vault::DocIndex;
use crate::{BulkWrite, Store};

#[async_trait]
impl Store for SqlStore {
    fn blind_index(&self, doc: &DocumentNumber) -> DocIndex {
        self.vault.blind_index(doc)
    }

    async fn add_provider(
        &self,
        kind: ProviderKind,
        name: &str,
        key_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Provider, StoreError> {
        providers::add_provider(self, kind, name, key_hash, now).await
    }

    async fn provider_by_key(&self, key_hash: &[u8; 32]) -> Result<Option<Provider>, StoreError> {
        providers::provider_by_key(self, key_hash).await
    }

    async fn register(
        &self,
        document: &DocumentNumber,
        name: &PersonName,
        phone: Option<&PhoneNumber>,
        now: DateTime<Utc>,
    ) -> Result<Person, StoreError> {
        people::register(self, document, name, phone, now).await
    }

    async fn person(&self, id: i64) -> Result<Person, StoreError> {
        people::person(self, id).await
    }

    async fn person_by_document(
        &self,
        document: &DocumentNumber,
    ) -> Result<Option<Person>, StoreError> {
        people::person_by_document(self, document).await
    }

    async fn count_people(&self) -> Result<i64, StoreError> {
        people::count_people(self).await
    }

    async fn create_session(
        &self,
        person_id: i64,
        token_hash: &[u8; 32],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        people::create_session(self, person_id, token_hash, now, expires_at).await
    }

    async fn end_sessions(
        &self,
        person_id: i64,
        token_hash: Option<&[u8; 32]>,
    ) -> Result<u64, StoreError> {
        people::end_sessions(self, person_id, token_hash).await
    }

    async fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        people::purge_sessions(self, now).await
    }

    async fn session_person(
        &self,
        token_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<(i64, DateTime<Utc>)>, StoreError> {
        people::session_person(self, token_hash, now).await
    }

    async fn submit(&self, s: &Submission, now: DateTime<Utc>) -> Result<Stored, StoreError> {
        batches::submit(self, s, now).await
    }

    async fn submit_batch(
        &self,
        batch: &[Submission],
        now: DateTime<Utc>,
    ) -> Result<BatchOutcome, StoreError> {
        batches::submit_batch(self, batch, now).await
    }

    fn parallel_batches(&self) -> usize {
        batches::parallel_batches(self)
    }

    fn pool_use(&self) -> Vec<crate::PoolUse> {
        self.pool_use()
    }

    async fn begin_bulk(&self) -> Result<Box<dyn BulkWrite>, StoreError> {
        batches::begin_bulk(self).await
    }

    async fn submit_superseding(
        &self,
        s: &Submission,
        supersedes: u32,
        now: DateTime<Utc>,
    ) -> Result<Stored, StoreError> {
        revisions::write_retrying(self, &Write::Submit(s, Some(supersedes)), now).await
    }

    async fn release(
        &self,
        provider_id: i64,
        record_id: &str,
        released_at: DateTime<Utc>,
        allowed: &[DesignationKind],
        now: DateTime<Utc>,
    ) -> Result<Stored, StoreError> {
        let w = Write::Release {
            provider_id,
            record_id,
            released_at,
            allowed,
        };
        revisions::write_retrying(self, &w, now).await
    }

    async fn history(
        &self,
        provider_id: i64,
        record_id: &str,
    ) -> Result<Vec<Revision>, StoreError> {
        revisions::history(self, provider_id, record_id).await
    }

    async fn evidence_for(&self, subject: &DocIndex) -> Result<Evidence, StoreError> {
        evidence::evidence_for(self, subject).await
    }

    async fn declare(
        &self,
        subject: &DocIndex,
        record_id: &str,
        declared: &Declared,
        now: DateTime<Utc>,
    ) -> Result<Stored, StoreError> {
        declarations::declare(self, subject, record_id, declared, now).await
    }

    async fn pin(&self, key: &str, value: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        meta::pin(self, key, value).await
    }

    async fn set_pin(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        meta::set_pin(self, key, value).await
    }

    async fn evidence_high_water(&self) -> Result<i64, StoreError> {
        changes::evidence_high_water(self).await
    }

    async fn evidence_changes(&self, after_id: i64, limit: i64) -> Result<Vec<Change>, StoreError> {
        changes::evidence_changes(self, after_id, limit).await
    }

    async fn evidence_changes_at(&self, ids: &[i64]) -> Result<Vec<Change>, StoreError> {
        changes::evidence_changes_at(self, ids).await
    }
}
