//! Venues, gate devices, check-ins, risk areas and the access log on [`SqlStore`]. Device
//! enrolment and revocation are in sql/devices.rs, venue managers in sql/managers.rs; the
//! trait's methods for them are handed there.
//!
//! Check-ins arrive in batches of thousands (gates uploading what they recorded offline), so
//! they are written with multi-row `INSERT`s that skip a (device, sequence number) already
//! stored. Co-presence is one join per few hundred cases, served by the (venue, time) index.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use healthcode_domain::RiskLevel;

use super::bulk::placeholders;
use super::devices::{self, DEVICE_COLUMNS, device_from_row};
use super::evidence::body_from_row;
use super::{Backend, SqlStore, doc_index_from, from_secs};
use super::{log, managers};
use crate::Venues;
use crate::error::{StoreError, no_nul};
use crate::model::{
    Access, Checkin, CheckinMethod, CheckinsStored, CoPresent, CurrentRecord, Device, HourCount,
    NewCheckin, NewRiskArea, Person, Purge, RiskArea, Venue, VenueManager,
};

/// Parameters per check-in row, and rows per `INSERT` (31,500 parameters: under SQLite's limit
/// of 32,766).
const CHECKIN_COLUMNS: usize = 9;
const CHECKIN_ROWS: usize = 3_500;
/// Subjects per `IN (…)`.
const SUBJECTS_PER_QUERY: usize = 500;
/// Rows deleted per statement when purging, so that the write lock is never held for long.
const PURGE_CHUNK: i64 = 20_000;

fn subject_from(bytes: Vec<u8>) -> Result<[u8; 16], StoreError> {
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| StoreError::Corrupt("subject is not 16 bytes".into()))
}

pub(super) fn venue_from_row(r: &AnyRow) -> Result<Venue, StoreError> {
    Ok(Venue {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        kind: r.try_get("kind")?,
        district: r.try_get("district")?,
        address: r.try_get("address")?,
        created_at: from_secs(r.try_get("created_at")?)?,
    })
}

fn checkin_from_row(r: &AnyRow) -> Result<Checkin, StoreError> {
    Ok(Checkin {
        id: r.try_get("id")?,
        venue_id: r.try_get("venue_id")?,
        subject: subject_from(r.try_get("subject")?)?,
        at: from_secs(r.try_get("at")?)?,
        method: CheckinMethod::parse(&r.try_get::<String, _>("method")?)
            .ok_or_else(|| StoreError::Corrupt("unknown check-in method".into()))?,
        passed: r.try_get::<i64, _>("passed")? != 0,
        flagged: r.try_get::<i64, _>("flagged")? != 0,
    })
}

impl SqlStore {
    async fn risk_area_venues(&self, area_id: i64) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT venue_id FROM risk_area_venues WHERE area_id = $1 ORDER BY venue_id",
        )
        .bind(area_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>("venue_id").map_err(StoreError::from))
            .collect()
    }

    async fn risk_area_from_row(&self, r: &AnyRow) -> Result<RiskArea, StoreError> {
        let id: i64 = r.try_get("id")?;
        let opt_time = |col: &str| -> Result<Option<DateTime<Utc>>, StoreError> {
            r.try_get::<Option<i64>, _>(col)?.map(from_secs).transpose()
        };
        Ok(RiskArea {
            id,
            name: r.try_get("name")?,
            level: RiskLevel::parse(&r.try_get::<String, _>("level")?)
                .ok_or_else(|| StoreError::Corrupt("unknown risk level".into()))?,
            district: r.try_get("district")?,
            venue_ids: self.risk_area_venues(id).await?,
            starts_at: from_secs(r.try_get("starts_at")?)?,
            ends_at: opt_time("ends_at")?,
            released_at: opt_time("released_at")?,
            provider_id: r.try_get("provider_id")?,
            created_at: from_secs(r.try_get("created_at")?)?,
        })
    }
}

#[async_trait]
impl Venues for SqlStore {
    async fn add_venue(
        &self,
        name: &str,
        kind: &str,
        district: &str,
        address: &str,
        now: DateTime<Utc>,
    ) -> Result<Venue, StoreError> {
        no_nul([name, kind, district, address])?;
        let _guard = self.write_guard().await;
        let row = sqlx::query(
            "INSERT INTO venues (name, kind, district, address, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(name)
        .bind(kind)
        .bind(district)
        .bind(address)
        .bind(now.timestamp())
        .fetch_one(&self.writer)
        .await?;
        Ok(Venue {
            id: row.try_get("id")?,
            name: name.to_owned(),
            kind: kind.to_owned(),
            district: district.to_owned(),
            address: address.to_owned(),
            created_at: from_secs(now.timestamp())?,
        })
    }

    async fn venue(&self, id: i64) -> Result<Option<Venue>, StoreError> {
        sqlx::query("SELECT * FROM venues WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| venue_from_row(&r))
            .transpose()
    }

    async fn venues(&self, district: Option<&str>) -> Result<Vec<Venue>, StoreError> {
        no_nul(district)?;
        let rows = match district {
            Some(d) => {
                sqlx::query("SELECT * FROM venues WHERE district = $1 ORDER BY id")
                    .bind(d)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM venues ORDER BY id")
                    .fetch_all(&self.pool)
                    .await?
            }
        };
        rows.iter().map(venue_from_row).collect()
    }

    async fn add_device(
        &self,
        venue_id: i64,
        name: &str,
        key_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Device, StoreError> {
        no_nul([name])?;
        if self.venue(venue_id).await?.is_none() {
            return Err(StoreError::NotFound);
        }
        let _guard = self.write_guard().await;
        let row = sqlx::query(
            "INSERT INTO devices (venue_id, name, key_hash, created_at, enrolled_at) \
             VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(venue_id)
        .bind(name)
        .bind(key_hash.to_vec())
        .bind(now.timestamp())
        .fetch_one(&self.writer)
        .await?;
        Ok(Device {
            id: row.try_get("id")?,
            venue_id,
            name: name.to_owned(),
            created_at: from_secs(now.timestamp())?,
            upload_high_water: None,
            enrolled_at: Some(from_secs(now.timestamp())?),
            revoked_at: None,
        })
    }

    async fn add_pending_device(
        &self,
        venue_id: i64,
        name: &str,
        token_hash: &[u8; 32],
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Device, StoreError> {
        devices::add_pending_device(self, venue_id, name, token_hash, expires_at, now).await
    }

    async fn renew_device_enrolment(
        &self,
        venue_id: i64,
        device_id: i64,
        token_hash: &[u8; 32],
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        devices::renew_device_enrolment(self, venue_id, device_id, token_hash, expires_at).await
    }

    async fn redeem_device_enrolment(
        &self,
        token_hash: &[u8; 32],
        new_key_hash: &[u8; 32],
        now: DateTime<Utc>,
    ) -> Result<Option<Device>, StoreError> {
        devices::redeem_device_enrolment(self, token_hash, new_key_hash, now).await
    }

    async fn devices_of(&self, venue_id: i64) -> Result<Vec<Device>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE venue_id = $1 ORDER BY id"
        ))
        .bind(venue_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(device_from_row).collect()
    }

    async fn revoke_device(
        &self,
        venue_id: i64,
        device_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        devices::revoke_device(self, venue_id, device_id, now).await
    }

    async fn device_by_key(&self, key_hash: &[u8; 32]) -> Result<Option<Device>, StoreError> {
        sqlx::query(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE key_hash = $1 AND revoked_at IS NULL"
        ))
        .bind(key_hash.to_vec())
        .fetch_optional(&self.pool)
        .await?
        .map(|r| device_from_row(&r))
        .transpose()
    }

    async fn raise_upload_high_water(
        &self,
        device_id: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(
            "UPDATE devices SET upload_high_water = $1 WHERE id = $2 \
             AND (upload_high_water IS NULL OR upload_high_water < $1)",
        )
        .bind(at.timestamp())
        .bind(device_id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn add_checkins(
        &self,
        rows: &[NewCheckin],
        now: DateTime<Utc>,
    ) -> Result<CheckinsStored, StoreError> {
        if rows.is_empty() {
            return Ok(CheckinsStored::default());
        }
        let head = match self.backend {
            Backend::Sqlite => "INSERT OR IGNORE INTO checkins",
            Backend::Postgres => "INSERT INTO checkins",
        };
        let statement = |n: usize| {
            let mut sql = String::with_capacity(120 + n * 40);
            sql.push_str(head);
            sql.push_str(
                " (venue_id, subject, at, method, passed, device_id, seq, received_at, flagged) \
                 VALUES ",
            );
            for i in 0..n {
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                sql.push_str(&placeholders(
                    self.backend,
                    i * CHECKIN_COLUMNS + 1,
                    CHECKIN_COLUMNS,
                ));
                sql.push(')');
            }
            if self.backend == Backend::Postgres {
                sql.push_str(" ON CONFLICT DO NOTHING");
            }
            sql
        };
        let full = statement(CHECKIN_ROWS.min(rows.len()));
        let (guard, mut tx) = self.begin_write().await?;
        let mut stored = 0u64;
        for chunk in rows.chunks(CHECKIN_ROWS) {
            let last;
            let sql = if chunk.len() == CHECKIN_ROWS.min(rows.len()) {
                full.as_str()
            } else {
                last = statement(chunk.len());
                last.as_str()
            };
            let mut q = sqlx::query(sql);
            for c in chunk {
                q = q
                    .bind(c.venue_id)
                    .bind(c.subject.to_vec())
                    .bind(c.at.timestamp())
                    .bind(c.method.as_str())
                    .bind(i64::from(c.passed))
                    .bind(c.device.map(|(d, _)| d))
                    .bind(c.device.map(|(_, s)| s))
                    .bind(now.timestamp())
                    .bind(i64::from(c.flagged));
            }
            stored += q.execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        drop(guard);
        Ok(CheckinsStored {
            stored,
            duplicates: rows.len() as u64 - stored,
        })
    }

    async fn checkins_of(
        &self,
        subject: &[u8; 16],
        since: DateTime<Utc>,
    ) -> Result<Vec<Checkin>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM checkins WHERE subject = $1 AND at >= $2 ORDER BY at DESC, id DESC",
        )
        .bind(subject.to_vec())
        .bind(since.timestamp())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(checkin_from_row).collect()
    }

    async fn co_present(
        &self,
        cases: &[[u8; 16]],
        since: DateTime<Utc>,
        window: Duration,
    ) -> Result<Vec<CoPresent>, StoreError> {
        let mut found = Vec::new();
        for chunk in cases.chunks(SUBJECTS_PER_QUERY) {
            let sql = format!(
                "SELECT c.subject AS case_subject, c.venue_id, c.at AS case_at, \
                 o.subject, o.at FROM checkins c JOIN checkins o \
                 ON o.venue_id = c.venue_id AND o.at > c.at - $1 AND o.at < c.at + $1 \
                 WHERE c.subject IN ({}) AND c.at >= $2 AND (c.passed = 1 OR c.method = 'self_scan') \
                 AND (o.passed = 1 OR o.method = 'self_scan') AND c.flagged = 0 AND o.flagged = 0 \
                 AND o.subject <> c.subject ORDER BY c.subject, c.at, o.at",
                placeholders(Backend::Postgres, 3, chunk.len())
            );
            let mut q = sqlx::query(&sql)
                .bind(window.num_seconds())
                .bind(since.timestamp());
            for s in chunk {
                q = q.bind(s.to_vec());
            }
            for r in q.fetch_all(&self.pool).await? {
                found.push(CoPresent {
                    case_subject: subject_from(r.try_get("case_subject")?)?,
                    venue_id: r.try_get("venue_id")?,
                    case_at: from_secs(r.try_get("case_at")?)?,
                    subject: subject_from(r.try_get("subject")?)?,
                    at: from_secs(r.try_get("at")?)?,
                });
            }
        }
        Ok(found)
    }

    async fn visitors(
        &self,
        venue_ids: &[i64],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Checkin>, StoreError> {
        let mut found = Vec::new();
        for chunk in venue_ids.chunks(SUBJECTS_PER_QUERY) {
            let sql = format!(
                "SELECT * FROM checkins WHERE venue_id IN ({}) AND at >= $1 AND at < $2 \
                 AND (passed = 1 OR method = 'self_scan') AND flagged = 0 ORDER BY at",
                placeholders(Backend::Postgres, 3, chunk.len())
            );
            let mut q = sqlx::query(&sql)
                .bind(from.timestamp())
                .bind(to.timestamp());
            for v in chunk {
                q = q.bind(*v);
            }
            for r in q.fetch_all(&self.pool).await? {
                found.push(checkin_from_row(&r)?);
            }
        }
        Ok(found)
    }

    async fn hourly_checkins(
        &self,
        venue_id: i64,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<HourCount>, StoreError> {
        // `at` is Unix seconds on both backends, so the hour is integer arithmetic both
        // compute alike: `at` less its remainder modulo 3,600, taken so that it is never
        // negative (`%` keeps the dividend's sign on both).
        const HOUR: &str = "at - (at % 3600 + 3600) % 3600";
        let rows = sqlx::query(&format!(
            "SELECT {HOUR} AS hour, COUNT(*) AS checkins, \
             SUM(CASE WHEN passed = 0 THEN 1 ELSE 0 END) AS stopped \
             FROM checkins WHERE venue_id = $1 AND at >= $2 AND at < $3 \
             GROUP BY {HOUR} ORDER BY hour"
        ))
        .bind(venue_id)
        .bind(from.timestamp())
        .bind(to.timestamp())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HourCount {
                    hour: from_secs(r.try_get("hour")?)?,
                    checkins: r.try_get("checkins")?,
                    stopped: r.try_get("stopped")?,
                })
            })
            .collect()
    }

    async fn assign_manager(
        &self,
        venue_id: i64,
        person_id: i64,
        now: DateTime<Utc>,
    ) -> Result<VenueManager, StoreError> {
        managers::assign_manager(self, venue_id, person_id, now).await
    }

    async fn managers_of(&self, venue_id: i64) -> Result<Vec<VenueManager>, StoreError> {
        managers::managers_of(self, venue_id).await
    }

    async fn unassign_manager(
        &self,
        venue_id: i64,
        assignment_id: i64,
    ) -> Result<bool, StoreError> {
        managers::unassign_manager(self, venue_id, assignment_id).await
    }

    async fn venues_managed_by(&self, person_id: i64) -> Result<Vec<Venue>, StoreError> {
        managers::venues_managed_by(self, person_id).await
    }

    async fn manages(&self, person_id: i64, venue_id: i64) -> Result<bool, StoreError> {
        managers::manages(self, person_id, venue_id).await
    }

    async fn person_by_index(&self, index: &crate::DocIndex) -> Result<Option<Person>, StoreError> {
        sqlx::query("SELECT * FROM people WHERE doc_index = $1")
            .bind(index.0.to_vec())
            .fetch_optional(&self.pool)
            .await?
            .map(|r| self.person_from_row(&r))
            .transpose()
    }

    async fn people_by_subjects(&self, subjects: &[[u8; 16]]) -> Result<Vec<Person>, StoreError> {
        let mut people = Vec::new();
        for chunk in subjects.chunks(SUBJECTS_PER_QUERY) {
            let sql = format!(
                "SELECT * FROM people WHERE subject IN ({})",
                placeholders(Backend::Postgres, 1, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for s in chunk {
                q = q.bind(s.to_vec());
            }
            for r in q.fetch_all(&self.pool).await? {
                people.push(self.person_from_row(&r)?);
            }
        }
        Ok(people)
    }

    async fn purge_checkins(
        &self,
        cutoff: DateTime<Utc>,
        day: &str,
        now: DateTime<Utc>,
    ) -> Result<Purge, StoreError> {
        let mut deleted = 0u64;
        loop {
            let (guard, mut tx) = self.begin_write().await?;
            let n = sqlx::query(
                "DELETE FROM checkins WHERE id IN \
                 (SELECT id FROM checkins WHERE at < $1 LIMIT $2)",
            )
            .bind(cutoff.timestamp())
            .bind(PURGE_CHUNK)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            drop(guard);
            deleted += n;
            if n < PURGE_CHUNK as u64 {
                break;
            }
        }
        let (guard, mut tx) = self.begin_write().await?;
        let count = i64::try_from(deleted).unwrap_or(i64::MAX);
        let row = sqlx::query(
            "INSERT INTO purges (day, deleted, cutoff, at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(day)
        .bind(count)
        .bind(cutoff.timestamp())
        .bind(now.timestamp())
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        let record = log::record_bytes(&log::PurgeRecord {
            table: "purges",
            id,
            day,
            deleted: count,
            cutoff: cutoff.timestamp(),
            at: now.timestamp(),
        })?;
        let leaf = log::NewLeaf {
            kind: "purge",
            time: now.timestamp(),
            actor: "system".into(),
            source: log::PURGE,
            source_id: id,
            record,
        };
        log::append(self.backend, &mut tx, vec![leaf]).await?;
        tx.commit().await?;
        drop(guard);
        Ok(Purge {
            id,
            day: day.to_owned(),
            deleted,
            cutoff: from_secs(cutoff.timestamp())?,
            at: from_secs(now.timestamp())?,
        })
    }

    async fn purges(&self, limit: i64) -> Result<Vec<Purge>, StoreError> {
        let rows = sqlx::query("SELECT * FROM purges ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Purge {
                    id: r.try_get("id")?,
                    day: r.try_get("day")?,
                    deleted: u64::try_from(r.try_get::<i64, _>("deleted")?).unwrap_or(0),
                    cutoff: from_secs(r.try_get("cutoff")?)?,
                    at: from_secs(r.try_get("at")?)?,
                })
            })
            .collect()
    }

    async fn add_risk_area(
        &self,
        area: &NewRiskArea,
        now: DateTime<Utc>,
    ) -> Result<RiskArea, StoreError> {
        no_nul(std::iter::once(area.name.as_str()).chain(area.district.as_deref()))?;
        for v in &area.venue_ids {
            if self.venue(*v).await?.is_none() {
                return Err(StoreError::Rejected {
                    code: "unknown_venue",
                    message: "a venue of the area does not exist",
                });
            }
        }
        let (guard, mut tx) = self.begin_write().await?;
        let row = sqlx::query(
            "INSERT INTO risk_areas (name, level, district, starts_at, ends_at, provider_id, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(&area.name)
        .bind(area.level.as_str())
        .bind(area.district.as_deref())
        .bind(area.starts_at.timestamp())
        .bind(area.ends_at.map(|t| t.timestamp()))
        .bind(area.provider_id)
        .bind(now.timestamp())
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get("id")?;
        let mut venue_ids = area.venue_ids.clone();
        venue_ids.sort_unstable();
        venue_ids.dedup();
        for v in &venue_ids {
            sqlx::query("INSERT INTO risk_area_venues (area_id, venue_id) VALUES ($1, $2)")
                .bind(id)
                .bind(*v)
                .execute(&mut *tx)
                .await?;
        }
        let record = log::record_bytes(&log::RiskAreaRecord {
            table: "risk_areas",
            id,
            name: &area.name,
            level: area.level.as_str(),
            district: area.district.as_deref(),
            venues: &venue_ids,
            starts_at: area.starts_at.timestamp(),
            ends_at: area.ends_at.map(|t| t.timestamp()),
            provider: area.provider_id,
            created_at: now.timestamp(),
        })?;
        let leaf = log::NewLeaf {
            kind: "risk-area",
            time: now.timestamp(),
            actor: format!("provider/{}", area.provider_id),
            source: log::RISK_AREA,
            source_id: id,
            record,
        };
        log::append(self.backend, &mut tx, vec![leaf]).await?;
        tx.commit().await?;
        drop(guard);
        Ok(RiskArea {
            id,
            name: area.name.clone(),
            level: area.level,
            district: area.district.clone(),
            venue_ids,
            starts_at: from_secs(area.starts_at.timestamp())?,
            ends_at: area.ends_at.map(|t| from_secs(t.timestamp())).transpose()?,
            released_at: None,
            provider_id: area.provider_id,
            created_at: from_secs(now.timestamp())?,
        })
    }

    async fn risk_area(&self, id: i64) -> Result<Option<RiskArea>, StoreError> {
        match sqlx::query("SELECT * FROM risk_areas WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
        {
            Some(r) => Ok(Some(self.risk_area_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    async fn open_risk_areas(&self) -> Result<Vec<RiskArea>, StoreError> {
        let rows = sqlx::query("SELECT * FROM risk_areas WHERE released_at IS NULL ORDER BY id")
            .fetch_all(&self.pool)
            .await?;
        let mut areas = Vec::with_capacity(rows.len());
        for r in &rows {
            areas.push(self.risk_area_from_row(r).await?);
        }
        Ok(areas)
    }

    async fn release_risk_area(
        &self,
        id: i64,
        released_at: DateTime<Utc>,
    ) -> Result<RiskArea, StoreError> {
        let (guard, mut tx) = self.begin_write().await?;
        let released = sqlx::query(
            "UPDATE risk_areas SET released_at = $1 WHERE id = $2 AND released_at IS NULL \
             RETURNING provider_id",
        )
        .bind(released_at.timestamp())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = released {
            let provider: i64 = row.try_get("provider_id")?;
            let record = log::record_bytes(&log::ReleaseRecord {
                table: "risk_areas",
                id,
                released_at: released_at.timestamp(),
            })?;
            let leaf = log::NewLeaf {
                kind: "risk-area-release",
                time: released_at.timestamp(),
                actor: format!("provider/{provider}"),
                source: log::RISK_AREA_RELEASE,
                source_id: id,
                record,
            };
            log::append(self.backend, &mut tx, vec![leaf]).await?;
        }
        tx.commit().await?;
        drop(guard);
        self.risk_area(id).await?.ok_or(StoreError::NotFound)
    }

    async fn designations_with_prefix(
        &self,
        provider_id: i64,
        prefix: &str,
    ) -> Result<Vec<CurrentRecord>, StoreError> {
        if prefix.is_empty() {
            return Err(StoreError::Rejected {
                code: "record_prefix",
                message: "a record prefix must not be empty",
            });
        }
        // Compared byte for byte with `substr`, not as a range: in PostgreSQL under a
        // linguistic collation punctuation such as `:` is ignored when sorting, so a range
        // from `area:1:` to `area:1;` can be empty.
        let rows = sqlx::query(
            "SELECT * FROM evidence WHERE provider_id = $1 AND is_current = 1 \
             AND substr(record_id, 1, CAST($3 AS INTEGER)) = $2 ORDER BY record_id",
        )
        .bind(provider_id)
        .bind(prefix)
        .bind(i64::try_from(prefix.chars().count()).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CurrentRecord {
                    record_id: r.try_get("record_id")?,
                    subject: doc_index_from(r.try_get("subject_index")?)?,
                    body: body_from_row(r)?,
                })
            })
            .collect()
    }

    async fn record_access(&self, access: &Access) -> Result<(), StoreError> {
        let (guard, mut tx) = self.begin_write().await?;
        let records = i64::try_from(access.records).unwrap_or(i64::MAX);
        let id: i64 = sqlx::query(
            "INSERT INTO access_log (actor, action, purpose, outcome, records, at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(&access.actor)
        .bind(&access.action)
        .bind(&access.purpose)
        .bind(&access.outcome)
        .bind(records)
        .bind(access.at.timestamp())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        // The read is a leaf of the log in the same transaction: who, what, why, when and how
        // many, never whose data.
        let record = log::record_bytes(&log::AccessRecord {
            table: "access_log",
            id,
            actor: &access.actor,
            action: &access.action,
            purpose: &access.purpose,
            outcome: &access.outcome,
            records,
            at: access.at.timestamp(),
        })?;
        let leaf = log::NewLeaf {
            kind: "read",
            time: access.at.timestamp(),
            actor: access.actor.clone(),
            source: log::ACCESS,
            source_id: id,
            record,
        };
        log::append(self.backend, &mut tx, vec![leaf]).await?;
        tx.commit().await?;
        drop(guard);
        Ok(())
    }

    async fn accesses(&self, actor: &str, limit: i64) -> Result<Vec<Access>, StoreError> {
        let rows =
            sqlx::query("SELECT * FROM access_log WHERE actor = $1 ORDER BY id DESC LIMIT $2")
                .bind(actor)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                Ok(Access {
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    purpose: r.try_get("purpose")?,
                    outcome: r.try_get("outcome")?,
                    records: u64::try_from(r.try_get::<i64, _>("records")?).unwrap_or(0),
                    at: from_secs(r.try_get("at")?)?,
                })
            })
            .collect()
    }
}
