//! From check-ins to status: risk areas and co-presence with confirmed cases.
//!
//! Both end as designations, stored as evidence like any other, so that statuses change
//! through the usual path (the change feed) and every reason cites its record. Their record
//! ids say where they came from — `area:{area}:p{person}` and `case:{case}:p{person}` — and
//! each carries the visit ([`Exposure`]) so that the reason names the venue and the time.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Utc};

use healthcode_domain::{Exposure, ExposureSource};
use healthcode_store::{EvidenceBody, Person, RiskArea, StoreError, Submission, Venue};

use crate::state::AppState;

/// How long this node trusts its copy of the open risk areas; other nodes' changes show
/// within this time, this node's at once.
const AREAS_FRESH_FOR: StdDuration = StdDuration::from_secs(10);

/// Risk areas not released, read again when the copy is older than [`AREAS_FRESH_FOR`].
pub async fn open_areas(state: &AppState) -> Result<Arc<Vec<RiskArea>>, StoreError> {
    if let Ok(cached) = state.areas.read()
        && let Some((at, areas)) = cached.as_ref()
        && at.elapsed() < AREAS_FRESH_FOR
    {
        return Ok(areas.clone());
    }
    let areas = Arc::new(state.store.open_risk_areas().await?);
    if let Ok(mut cached) = state.areas.write() {
        *cached = Some((Instant::now(), areas.clone()));
    }
    Ok(areas)
}

fn forget_areas(state: &AppState) {
    if let Ok(mut cached) = state.areas.write() {
        *cached = None;
    }
}

fn covers(area: &RiskArea, venue: &Venue, at: DateTime<Utc>) -> bool {
    let place =
        area.venue_ids.contains(&venue.id) || area.district.as_deref() == Some(&venue.district);
    let time = at >= area.starts_at && area.ends_at.is_none_or(|end| at < end);
    place && time
}

/// One visit that leads to a designation.
struct Visit<'a> {
    subject: [u8; 16],
    venue: &'a Venue,
    at: DateTime<Utc>,
}

/// Designates, per person, the latest of `visits` to `area`.
async fn designate_area_visits(
    state: &AppState,
    area: &RiskArea,
    visits: &[Visit<'_>],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut latest: HashMap<[u8; 16], &Visit<'_>> = HashMap::new();
    for v in visits {
        let slot = latest.entry(v.subject).or_insert(v);
        if v.at > slot.at {
            *slot = v;
        }
    }
    // This node's copy of the open areas may be stale: an area released meanwhile (here or
    // on another node) designates no one.
    if state
        .store
        .risk_area(area.id)
        .await?
        .is_none_or(|a| a.released_at.is_some())
    {
        return Ok(0);
    }
    let subjects: Vec<[u8; 16]> = latest.keys().copied().collect();
    // A visit older than the one already designated (a gate uploading late) changes nothing:
    // the designation lapses counting from the latest visit.
    let mut people = Vec::with_capacity(subjects.len());
    for p in state.store.people_by_subjects(&subjects).await? {
        let record = format!("area:{}:p{}", area.id, p.id);
        let revisions = state.store.history(area.provider_id, &record).await?;
        let later_known = revisions.iter().any(|r| {
            r.current
                && matches!(
                    &r.body,
                    EvidenceBody::Designation { started_at, .. }
                        if latest.get(&p.subject).is_some_and(|v| *started_at >= v.at)
                )
        });
        if !later_known {
            people.push(p);
        }
    }
    let kind = state.policy.risk_area_designation(area.level);
    let batch: Vec<Submission> = people
        .iter()
        .filter_map(|p| {
            let v = latest.get(&p.subject)?;
            Some(Submission {
                provider_id: area.provider_id,
                record_id: format!("area:{}:p{}", area.id, p.id),
                subject: p.doc_index,
                body: EvidenceBody::Designation {
                    kind,
                    started_at: v.at,
                    ends_at: None,
                    released_at: None,
                    exposure: Some(Exposure {
                        source: ExposureSource::RiskArea {
                            id: area.id,
                            name: area.name.clone(),
                            level: area.level,
                        },
                        venue_id: v.venue.id,
                        venue: v.venue.name.clone(),
                        district: v.venue.district.clone(),
                        visited_at: v.at,
                    }),
                },
            })
        })
        .collect();
    stored(state.store.submit_batch(&batch, now).await?)
}

/// How many submissions of a batch were stored. One refused (a visit older than the one
/// already designated coming back, say) is logged and leaves the others stored.
fn stored(outcome: healthcode_store::BatchOutcome) -> Result<usize, StoreError> {
    let mut n = 0;
    for r in outcome {
        match r {
            Ok(_) => n += 1,
            Err(e) => tracing::warn!(error = %e, "exposure designation not stored"),
        }
    }
    Ok(n)
}

/// Designates everyone who checked in within a new area's window. Returns how many people.
pub async fn apply_area(
    state: &AppState,
    area: &RiskArea,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    forget_areas(state);
    let mut venues: Vec<Venue> = match &area.district {
        Some(d) => state.store.venues(Some(d)).await?,
        None => Vec::new(),
    };
    for id in &area.venue_ids {
        if !venues.iter().any(|v| v.id == *id)
            && let Some(v) = state.store.venue(*id).await?
        {
            venues.push(v);
        }
    }
    let by_id: HashMap<i64, &Venue> = venues.iter().map(|v| (v.id, v)).collect();
    let ids: Vec<i64> = by_id.keys().copied().collect();
    // A window still open reaches up to now (and a little beyond, for gate clocks ahead).
    let to = area
        .ends_at
        .unwrap_or(now + state.policy.checkins.max_future_skew);
    let checkins = state.store.visitors(&ids, area.starts_at, to).await?;
    let visits: Vec<Visit<'_>> = checkins
        .iter()
        .filter_map(|c| {
            Some(Visit {
                subject: c.subject,
                venue: by_id.get(&c.venue_id)?,
                at: c.at,
            })
        })
        .collect();
    designate_area_visits(state, area, &visits, now).await
}

/// After check-ins at `venue` were stored: designates those present (`true`: let in, or
/// checked in by themselves) within an open area's window. Returns how many designations
/// were written.
pub async fn apply_areas_to(
    state: &AppState,
    venue: &Venue,
    checkins: &[([u8; 16], DateTime<Utc>, bool)],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let areas = open_areas(state).await?;
    let mut written = 0;
    for area in areas.iter() {
        let visits: Vec<Visit<'_>> = checkins
            .iter()
            .filter(|(_, at, passed)| *passed && covers(area, venue, *at))
            .map(|(subject, at, _)| Visit {
                subject: *subject,
                venue,
                at: *at,
            })
            .collect();
        if !visits.is_empty() {
            written += designate_area_visits(state, area, &visits, now).await?;
        }
    }
    Ok(written)
}

/// Releases an area and every designation it made. Returns the area and how many
/// designations were released.
pub async fn release_area(
    state: &AppState,
    area_id: i64,
    now: DateTime<Utc>,
) -> Result<(RiskArea, usize), StoreError> {
    let area = state.store.release_risk_area(area_id, now).await?;
    forget_areas(state);
    let released_at = area.released_at.unwrap_or(now);
    let records = state
        .store
        .designations_with_prefix(area.provider_id, &format!("area:{}:", area.id))
        .await?;
    let batch: Vec<Submission> = records
        .into_iter()
        .filter_map(|r| match r.body {
            EvidenceBody::Designation {
                kind,
                started_at,
                ends_at,
                released_at: None,
                exposure,
            } => Some(Submission {
                provider_id: area.provider_id,
                record_id: r.record_id,
                subject: r.subject,
                body: EvidenceBody::Designation {
                    kind,
                    started_at,
                    ends_at,
                    released_at: Some(released_at.max(started_at)),
                    exposure,
                },
            }),
            _ => None,
        })
        .collect();
    let n = stored(state.store.submit_batch(&batch, now).await?)?;
    Ok((area, n))
}

/// One co-presence contact of a case: who, where, when each was there.
#[derive(Debug, Clone)]
pub struct Contact {
    pub person: Person,
    pub venue: Venue,
    pub case_at: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

/// The co-presence contacts of the person with pseudonymous `case_subject`, from check-ins
/// within the policy's lookback: one entry per contact visit, by case visit then time.
/// Contacts who never registered (so have no record to designate) are left out.
pub async fn trace(
    state: &AppState,
    case_subject: [u8; 16],
    now: DateTime<Utc>,
) -> Result<Vec<Contact>, StoreError> {
    let rules = state.policy.checkins;
    let found = state
        .store
        .co_present(
            &[case_subject],
            now - rules.lookback,
            rules.default_stay + rules.margin,
        )
        .await?;
    let subjects: Vec<[u8; 16]> = found
        .iter()
        .map(|c| c.subject)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let people: HashMap<[u8; 16], Person> = state
        .store
        .people_by_subjects(&subjects)
        .await?
        .into_iter()
        .map(|p| (p.subject, p))
        .collect();
    let mut venues: HashMap<i64, Venue> = HashMap::new();
    let mut contacts = Vec::with_capacity(found.len());
    for c in found {
        let Some(person) = people.get(&c.subject) else {
            continue;
        };
        if let std::collections::hash_map::Entry::Vacant(slot) = venues.entry(c.venue_id) {
            let Some(v) = state.store.venue(c.venue_id).await? else {
                continue;
            };
            slot.insert(v);
        }
        let Some(venue) = venues.get(&c.venue_id) else {
            continue;
        };
        contacts.push(Contact {
            person: person.clone(),
            venue: venue.clone(),
            case_at: c.case_at,
            at: c.at,
        });
    }
    Ok(contacts)
}

/// Designates each contact once (their latest contact visit) under the case's record.
pub async fn designate_contacts(
    state: &AppState,
    provider_id: i64,
    case_id: i64,
    contacts: &[Contact],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut latest: HashMap<i64, &Contact> = HashMap::new();
    for c in contacts {
        let slot = latest.entry(c.person.id).or_insert(c);
        if c.at > slot.at {
            *slot = c;
        }
    }
    let kind = state.policy.checkins.co_presence;
    let batch: Vec<Submission> = latest
        .values()
        .map(|c| Submission {
            provider_id,
            record_id: format!("case:{case_id}:p{}", c.person.id),
            subject: c.person.doc_index,
            body: EvidenceBody::Designation {
                kind,
                started_at: c.at.min(now),
                ends_at: None,
                released_at: None,
                exposure: Some(Exposure {
                    source: ExposureSource::Case { case_id },
                    venue_id: c.venue.id,
                    venue: c.venue.name.clone(),
                    district: c.venue.district.clone(),
                    visited_at: c.at,
                }),
            },
        })
        .collect();
    stored(state.store.submit_batch(&batch, now).await?)
}

/// Deletes check-ins past the retention window and records the purge. Returns how many.
pub async fn purge(state: &AppState, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let cutoff = now - state.policy.checkins.retention;
    let day = now
        .with_timezone(&state.region.tz())
        .format("%Y-%m-%d")
        .to_string();
    let purge = state.store.purge_checkins(cutoff, &day, now).await?;
    tracing::info!(deleted = purge.deleted, cutoff = %purge.cutoff, "check-ins purged");
    Ok(purge.deleted)
}

/// Purges now and then every `every`, for as long as the server runs.
pub async fn purge_periodically(state: AppState) {
    let mut tick = tokio::time::interval(state.config.purge_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = state.clock.now();
        if let Err(e) = purge(&state, now).await {
            tracing::error!(error = %e, "cannot purge check-ins");
        }
        match state.store.purge_sessions(now).await {
            Ok(deleted) => tracing::info!(deleted, "expired sessions purged"),
            Err(e) => tracing::error!(error = %e, "cannot purge expired sessions"),
        }
        match state.store.purge_ceremonies(now).await {
            Ok(deleted) => tracing::info!(deleted, "expired passkey ceremonies purged"),
            Err(e) => tracing::error!(error = %e, "cannot purge expired passkey ceremonies"),
        }
    }
}
