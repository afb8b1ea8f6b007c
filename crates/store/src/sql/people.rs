//! People and their sessions: enrolment (a person's document, name and phone sealed by the
//! vault, found again by the document's blind index), reading a person back, and the sessions
//! a resident's token opens. It does not own the evidence about a person, which is keyed by the
//! blind index and may arrive before the person enrols, nor the checks an identity provider
//! makes before enrolment (the server). Looking people up for exposure work is part of the
//! `Venues` trait (sql/venues.rs), which reads rows with `SqlStore::person_from_row`.

use chrono::{DateTime, Utc};
use rand::RngCore;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use healthcode_domain::{DocumentNumber, DocumentType, PersonName, PhoneNumber};

use super::{Backend, SqlStore, doc_index_from, from_secs};
use crate::error::StoreError;
use crate::model::Person;
use crate::vault::Field;

impl SqlStore {
    pub(super) fn person_from_row(&self, row: &AnyRow) -> Result<Person, StoreError> {
        let doc_index = doc_index_from(row.try_get("doc_index")?)?;
        let doc_type = DocumentType::parse(&row.try_get::<String, _>("doc_type")?)
            .map_err(|_| StoreError::Corrupt("unknown document type in people".into()))?;
        let number = self.vault.open(
            Field::DocumentNumber,
            &doc_index,
            &row.try_get::<Vec<u8>, _>("doc_number_enc")?,
        )?;
        let document = DocumentNumber::parse(doc_type, &number)
            .map_err(|_| StoreError::Corrupt("stored document number does not parse".into()))?;
        let name = PersonName::parse(&self.vault.open(
            Field::Name,
            &doc_index,
            &row.try_get::<Vec<u8>, _>("name_enc")?,
        )?)
        .map_err(|_| StoreError::Corrupt("stored name does not parse".into()))?;
        let phone = match row.try_get::<Option<Vec<u8>>, _>("phone_enc")? {
            Some(sealed) => Some(
                PhoneNumber::parse(&self.vault.open(Field::Phone, &doc_index, &sealed)?)
                    .map_err(|_| StoreError::Corrupt("stored phone does not parse".into()))?,
            ),
            None => None,
        };
        let subject: [u8; 16] = row
            .try_get::<Vec<u8>, _>("subject")?
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt("subject is not 16 bytes".into()))?;
        Ok(Person {
            id: row.try_get("id")?,
            doc_index,
            document,
            name,
            phone,
            subject,
            created_at: from_secs(row.try_get("created_at")?)?,
        })
    }
}

/// The error of a write that names a person: [`StoreError::NotFound`] when the foreign key to
/// `people` refuses it, as [`StoreError::from`] says otherwise.
pub(super) fn person_must_exist(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_foreign_key_violation()
    {
        return StoreError::NotFound;
    }
    StoreError::from(e)
}

/// Checks inside a write transaction that a person exists ([`StoreError::NotFound`]) and, on
/// PostgreSQL, locks their row until the transaction ends, so that writes about one person
/// which read before they write (a cap, one live pass) take turns; on SQLite the write lock
/// has them take turns already. `FOR NO KEY UPDATE` rather than `FOR UPDATE`: it waits for
/// another such lock but not for the key-share lock a foreign key check takes, so adding this
/// person as someone else's dependant meanwhile neither waits nor deadlocks.
pub(super) async fn lock_person(
    store: &SqlStore,
    tx: &mut Transaction<'static, Any>,
    person_id: i64,
) -> Result<(), StoreError> {
    let sql = match store.backend {
        Backend::Postgres => "SELECT id FROM people WHERE id = $1 FOR NO KEY UPDATE",
        Backend::Sqlite => "SELECT id FROM people WHERE id = $1",
    };
    sqlx::query(sql)
        .bind(person_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(())
}

pub(super) async fn register(
    store: &SqlStore,
    document: &DocumentNumber,
    name: &PersonName,
    phone: Option<&PhoneNumber>,
    now: DateTime<Utc>,
) -> Result<Person, StoreError> {
    let doc_index = store.vault.blind_index(document);
    let mut subject = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut subject);
    let doc_enc = store
        .vault
        .seal(Field::DocumentNumber, &doc_index, document.expose())?;
    let name_enc = store.vault.seal(Field::Name, &doc_index, name.expose())?;
    let phone_enc = phone
        .map(|p| store.vault.seal(Field::Phone, &doc_index, p.expose()))
        .transpose()?;
    let _guard = store.write_guard().await;
    let row = sqlx::query(
        "INSERT INTO people (doc_index, doc_type, doc_number_enc, name_enc, phone_enc, \
         subject, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(doc_index.0.to_vec())
    .bind(document.kind().as_str())
    .bind(doc_enc)
    .bind(name_enc)
    .bind(phone_enc)
    .bind(subject.to_vec())
    .bind(now.timestamp())
    .fetch_one(&store.writer)
    .await
    .map_err(|e| match StoreError::from(e) {
        StoreError::Conflict(_) => StoreError::Conflict("a person with this document"),
        other => other,
    })?;
    Ok(Person {
        id: row.try_get("id")?,
        doc_index,
        document: document.clone(),
        name: name.clone(),
        phone: phone.cloned(),
        subject,
        created_at: from_secs(now.timestamp())?,
    })
}

pub(super) async fn person(store: &SqlStore, id: i64) -> Result<Person, StoreError> {
    let row = sqlx::query("SELECT * FROM people WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
    store.person_from_row(&row)
}

pub(super) async fn person_by_document(
    store: &SqlStore,
    document: &DocumentNumber,
) -> Result<Option<Person>, StoreError> {
    let doc_index = store.vault.blind_index(document);
    let row = sqlx::query("SELECT * FROM people WHERE doc_index = $1")
        .bind(doc_index.0.to_vec())
        .fetch_optional(&store.pool)
        .await?;
    row.map(|r| store.person_from_row(&r)).transpose()
}

pub(super) async fn count_people(store: &SqlStore) -> Result<i64, StoreError> {
    Ok(sqlx::query("SELECT COUNT(*) AS n FROM people")
        .fetch_one(&store.pool)
        .await?
        .try_get("n")?)
}

pub(super) async fn create_session(
    store: &SqlStore,
    person_id: i64,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let _guard = store.write_guard().await;
    sqlx::query(
        "INSERT INTO sessions (token_hash, person_id, created_at, expires_at) \
         VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash.to_vec())
    .bind(person_id)
    .bind(now.timestamp())
    .bind(expires_at.timestamp())
    .execute(&store.writer)
    .await?;
    // A person's oldest sessions beyond the newest few end: sessions do not pile up with
    // every sign-in.
    sqlx::query(
        "DELETE FROM sessions WHERE person_id = $1 AND token_hash NOT IN \
         (SELECT token_hash FROM sessions WHERE person_id = $1 \
          ORDER BY created_at DESC, token_hash DESC LIMIT $2)",
    )
    .bind(person_id)
    .bind(MAX_SESSIONS)
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Sessions one person may hold at once (a phone, a tablet, a browser or two, and a guardian's
/// devices to come); a new one beyond this ends the oldest.
pub const MAX_SESSIONS: i64 = 8;

pub(super) async fn end_sessions(
    store: &SqlStore,
    person_id: i64,
    token_hash: Option<&[u8; 32]>,
) -> Result<u64, StoreError> {
    let _guard = store.write_guard().await;
    let done = match token_hash {
        Some(hash) => {
            sqlx::query("DELETE FROM sessions WHERE person_id = $1 AND token_hash = $2")
                .bind(person_id)
                .bind(hash.to_vec())
                .execute(&store.writer)
                .await?
        }
        None => {
            sqlx::query("DELETE FROM sessions WHERE person_id = $1")
                .bind(person_id)
                .execute(&store.writer)
                .await?
        }
    };
    Ok(done.rows_affected())
}

pub(super) async fn purge_sessions(
    store: &SqlStore,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let _guard = store.write_guard().await;
    Ok(sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now.timestamp())
        .execute(&store.writer)
        .await?
        .rows_affected())
}

pub(super) async fn session_person(
    store: &SqlStore,
    token_hash: &[u8; 32],
    now: DateTime<Utc>,
) -> Result<Option<(i64, DateTime<Utc>)>, StoreError> {
    let row = sqlx::query(
        "SELECT person_id, expires_at FROM sessions WHERE token_hash = $1 AND expires_at > $2",
    )
    .bind(token_hash.to_vec())
    .bind(now.timestamp())
    .fetch_optional(&store.pool)
    .await?;
    row.map(|r| {
        Ok((
            r.try_get("person_id")?,
            from_secs(r.try_get("expires_at")?)?,
        ))
    })
    .transpose()
}
