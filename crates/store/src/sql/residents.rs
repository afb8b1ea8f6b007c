//! [`Residents`] on [`SqlStore`]: each method handed to the file that owns its table, as
//! sql/store.rs does for [`Store`](crate::Store).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SqlStore, dependants, passes, passkeys};
use crate::Residents;
use crate::error::StoreError;
use crate::model::{PaperPass, Person, StoredPasskey};

#[async_trait]
impl Residents for SqlStore {
    async fn add_passkey(
        &self,
        person_id: i64,
        credential_id: &[u8],
        passkey: &[u8],
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        passkeys::add_passkey(self, person_id, credential_id, passkey, now).await
    }

    async fn passkeys_of(&self, person_id: i64) -> Result<Vec<StoredPasskey>, StoreError> {
        passkeys::passkeys_of(self, person_id).await
    }

    async fn passkey_by_credential(
        &self,
        credential_id: &[u8],
    ) -> Result<Option<StoredPasskey>, StoreError> {
        passkeys::passkey_by_credential(self, credential_id).await
    }

    async fn use_passkey(
        &self,
        id: i64,
        passkey: &[u8],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        passkeys::use_passkey(self, id, passkey, now).await
    }

    async fn revoke_passkeys(&self, person_id: i64, now: DateTime<Utc>) -> Result<u64, StoreError> {
        passkeys::revoke_passkeys(self, person_id, now).await
    }

    async fn has_passkey(&self, person_id: i64) -> Result<bool, StoreError> {
        passkeys::has_passkey(self, person_id).await
    }

    async fn put_ceremony(
        &self,
        id: &[u8; 16],
        kind: &str,
        person_id: Option<i64>,
        state: &[u8],
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        passkeys::put_ceremony(self, id, kind, person_id, state, expires_at).await
    }

    async fn take_ceremony(
        &self,
        id: &[u8; 16],
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Option<i64>, Vec<u8>)>, StoreError> {
        passkeys::take_ceremony(self, id, kind, now).await
    }

    async fn purge_ceremonies(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        passkeys::purge_ceremonies(self, now).await
    }

    async fn add_dependant(
        &self,
        guardian_id: i64,
        dependant_id: i64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        dependants::add_dependant(self, guardian_id, dependant_id, now).await
    }

    async fn dependants_of(&self, guardian_id: i64) -> Result<Vec<Person>, StoreError> {
        dependants::dependants_of(self, guardian_id).await
    }

    async fn is_dependant(&self, guardian_id: i64, dependant_id: i64) -> Result<bool, StoreError> {
        dependants::is_dependant(self, guardian_id, dependant_id).await
    }

    async fn remove_dependant(
        &self,
        guardian_id: i64,
        dependant_id: i64,
    ) -> Result<bool, StoreError> {
        dependants::remove_dependant(self, guardian_id, dependant_id).await
    }

    async fn issue_paper_pass(
        &self,
        person_id: i64,
        now: DateTime<Utc>,
    ) -> Result<[u8; 16], StoreError> {
        passes::issue_paper_pass(self, person_id, now).await
    }

    async fn paper_pass(&self, serial: &[u8; 16]) -> Result<Option<PaperPass>, StoreError> {
        passes::paper_pass(self, serial).await
    }

    async fn revoke_paper_passes(
        &self,
        person_id: i64,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        passes::revoke_paper_passes(self, person_id, now).await
    }

    async fn live_paper_pass(&self, person_id: i64) -> Result<Option<PaperPass>, StoreError> {
        passes::live_paper_pass(self, person_id).await
    }
}
