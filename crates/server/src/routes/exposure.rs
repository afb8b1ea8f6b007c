//! The health authority's exposure work: risk areas over venues or districts, and confirmed
//! cases with their co-presence contacts (a list for contact tracers, and designations).

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use healthcode_domain::evidence::check_record_id;
use healthcode_domain::{DesignationKind, DocumentNumber, DocumentType, RiskLevel};
use healthcode_store::{Access, EvidenceBody, NewRiskArea, Provider, RiskArea, Submission};

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, CaseScope, OperatorScope, Scoped};
use crate::routes::evidence::second;
use crate::routes::venues::{MAX_DISTRICT, text_field};
use crate::state::AppState;
use crate::venues::{Contact, apply_area, designate_contacts, release_area, trace};

/// When a new area's check-ins are read a second time: after every node's copy of the open
/// areas (10 s) and any request that read it (10 s timeout) are done.
const AREA_SWEEP_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaIn {
    name: String,
    level: RiskLevel,
    district: Option<String>,
    #[serde(default)]
    venue_ids: Vec<i64>,
    starts_at: DateTime<Utc>,
    ends_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct AreaOut {
    #[serde(flatten)]
    area: RiskArea,
    /// People designated (when created) or designations released (when released).
    people: usize,
}

/// Designates a risk area: everyone who checked in there during the window gets the
/// designation the policy gives the level, now and as later check-ins arrive.
pub async fn add_area(
    State(state): State<AppState>,
    Scoped(op, _): Scoped<OperatorScope>,
    ApiJson(body): ApiJson<AreaIn>,
) -> Result<(StatusCode, Json<AreaOut>), ApiError> {
    let name = text_field("name", &body.name, 1, 100)?;
    let district = body
        .district
        .as_deref()
        .filter(|d| !d.trim().is_empty())
        .map(|d| text_field("district", d, 1, MAX_DISTRICT))
        .transpose()?;
    if district.is_none() && body.venue_ids.is_empty() {
        return Err(ApiError::bad_request(
            "area_empty",
            "name a district or at least one venue",
        ));
    }
    if body.venue_ids.len() > 10_000 {
        return Err(ApiError::bad_request(
            "area_too_large",
            "at most 10,000 venues per area; use a district",
        ));
    }
    let starts_at = second(body.starts_at)?;
    let ends_at = body.ends_at.map(second).transpose()?;
    if ends_at.is_some_and(|e| e <= starts_at) {
        return Err(ApiError::bad_request(
            "end_before_start",
            "ends_at must be after starts_at",
        ));
    }
    let now = state.clock.now();
    let area = state
        .store
        .add_risk_area(
            &NewRiskArea {
                name,
                level: body.level,
                district,
                venue_ids: body.venue_ids,
                starts_at,
                ends_at,
                provider_id: op.id,
            },
            now,
        )
        .await?;
    let people = apply_area(&state, &area, now).await?;
    tracing::info!(area = area.id, people, "risk area designated");
    // Check-ins stored meanwhile by requests (on this node or another) that still held the
    // list of areas from before this one: swept again once every copy is fresh.
    let (again, sweep) = (state.clone(), area.clone());
    tokio::spawn(async move {
        tokio::time::sleep(AREA_SWEEP_AFTER).await;
        let now = again.clock.now();
        if let Err(e) = apply_area(&again, &sweep, now).await {
            tracing::warn!(area = sweep.id, error = %e, "second sweep of a risk area failed");
        }
    });
    Ok((StatusCode::CREATED, Json(AreaOut { area, people })))
}

pub async fn list_areas(
    State(state): State<AppState>,
    _op: Scoped<OperatorScope>,
) -> Result<Json<Vec<RiskArea>>, ApiError> {
    Ok(Json(state.store.open_risk_areas().await?))
}

/// Releases a risk area and every designation it made.
pub async fn release(
    State(state): State<AppState>,
    Scoped(op, _): Scoped<OperatorScope>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AreaOut>, ApiError> {
    let Some(area) = state.store.risk_area(id).await? else {
        return Err(ApiError::not_found("no such risk area"));
    };
    if area.provider_id != op.id {
        return Err(ApiError::forbidden(
            "only the operator who designated an area may release it",
        ));
    }
    let now = state.clock.now();
    let (area, people) = release_area(&state, id, now).await?;
    tracing::info!(area = area.id, released = people, "risk area released");
    Ok(Json(AreaOut { area, people }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseIn {
    record_id: String,
    document_type: String,
    document_number: String,
    /// When the case was confirmed (default: now).
    confirmed_at: Option<DateTime<Utc>>,
    /// Why the contacts' personal data is read (kept in the access log).
    purpose: String,
}

#[derive(Debug, Serialize)]
pub struct ContactOut {
    name: String,
    document_type: DocumentType,
    document_number: String,
    phone: Option<String>,
    venue_id: i64,
    venue: String,
    district: String,
    case_visit_at: DateTime<Utc>,
    contact_visit_at: DateTime<Utc>,
}

fn contact_out(c: &Contact) -> ContactOut {
    ContactOut {
        name: c.person.name.expose().to_owned(),
        document_type: c.person.document.kind(),
        document_number: c.person.document.expose().to_owned(),
        phone: c.person.phone.as_ref().map(|p| p.expose().to_owned()),
        venue_id: c.venue.id,
        venue: c.venue.name.clone(),
        district: c.venue.district.clone(),
        case_visit_at: c.case_at,
        contact_visit_at: c.at,
    }
}

#[derive(Debug, Serialize)]
pub struct CaseOut {
    /// The id contacts' designations cite (the case record's first revision).
    case_id: i64,
    record_id: String,
    /// Whether the case is registered (only then has check-ins to trace).
    registered: bool,
    contacts: Vec<ContactOut>,
    /// Contacts given a co-presence designation.
    designated: usize,
}

fn purpose(raw: &str) -> Result<String, ApiError> {
    let p = raw.trim();
    if p.chars().count() < 3 || p.chars().count() > 200 || p.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "purpose_required",
            "say why personal data is read (3 to 200 characters): it is kept in the access log",
        ));
    }
    Ok(p.to_owned())
}

async fn log_read(
    state: &AppState,
    who: &Provider,
    action: &str,
    purpose: &str,
    records: usize,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    state
        .store
        .record_access(&Access {
            actor: format!("provider:{}", who.id),
            action: action.to_owned(),
            purpose: purpose.to_owned(),
            outcome: "ok".to_owned(),
            records: records as u64,
            at: now,
        })
        .await?;
    Ok(())
}

/// Marks a confirmed case (a designation under the caller's key), finds the co-presence
/// contacts from check-ins and designates them as the policy says.
pub async fn mark_case(
    State(state): State<AppState>,
    Scoped(caller, _): Scoped<CaseScope>,
    ApiJson(body): ApiJson<CaseIn>,
) -> Result<(StatusCode, Json<CaseOut>), ApiError> {
    check_record_id(&body.record_id)?;
    let purpose = purpose(&body.purpose)?;
    let document = DocumentNumber::parse(
        DocumentType::parse(&body.document_type)?,
        &body.document_number,
    )?;
    let now = state.clock.now();
    let confirmed_at = second(body.confirmed_at.unwrap_or(now))?;
    if confirmed_at > now + TimeDelta::minutes(5) {
        return Err(ApiError::bad_request(
            "time_in_future",
            "confirmed_at is in the future",
        ));
    }
    let subject_index = state.store.blind_index(&document);
    state
        .store
        .submit(
            &Submission {
                provider_id: caller.id,
                record_id: body.record_id.clone(),
                subject: subject_index,
                body: EvidenceBody::Designation {
                    kind: DesignationKind::ConfirmedCase,
                    started_at: confirmed_at,
                    ends_at: None,
                    released_at: None,
                    exposure: None,
                },
            },
            now,
        )
        .await?;
    let (case_id, registered, contacts, designated) =
        contacts_of(&state, &caller, &body.record_id, now).await?;
    log_read(
        &state,
        &caller,
        "case_contacts",
        &purpose,
        contacts.len(),
        now,
    )
    .await?;
    tracing::info!(
        case = case_id,
        contacts = contacts.len(),
        designated,
        "case marked"
    );
    Ok((
        StatusCode::CREATED,
        Json(CaseOut {
            case_id,
            record_id: body.record_id,
            registered,
            contacts: contacts.iter().map(contact_out).collect(),
            designated,
        }),
    ))
}

/// Traces and designates the contacts of the caller's case record `record_id`.
async fn contacts_of(
    state: &AppState,
    caller: &Provider,
    record_id: &str,
    now: DateTime<Utc>,
) -> Result<(i64, bool, Vec<Contact>, usize), ApiError> {
    let history = state.store.history(caller.id, record_id).await?;
    let (Some(first), Some(current)) = (history.first(), history.iter().find(|r| r.current)) else {
        return Err(ApiError::not_found("no such case record"));
    };
    if !matches!(
        current.body,
        EvidenceBody::Designation {
            kind: DesignationKind::ConfirmedCase,
            ..
        }
    ) {
        return Err(ApiError::bad_request(
            "not_a_case",
            "this record is not a confirmed-case designation",
        ));
    }
    let case_id = first.id;
    let changes = state.store.evidence_changes_at(&[current.id]).await?;
    let Some(subject) = changes.first().and_then(|c| c.subjects.first()) else {
        return Err(ApiError::internal());
    };
    let Some(person) = state.store.person_by_index(subject).await? else {
        return Ok((case_id, false, Vec::new(), 0));
    };
    let contacts = trace(state, person.subject, now).await?;
    let designated = designate_contacts(state, caller.id, case_id, &contacts, now).await?;
    Ok((case_id, true, contacts, designated))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContactsQuery {
    purpose: String,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// The contact list of a case again (check-ins uploaded since are included, and their
/// contacts designated), as JSON or CSV for contact tracers.
pub async fn case_contacts(
    State(state): State<AppState>,
    Scoped(caller, _): Scoped<CaseScope>,
    ApiPath(record_id): ApiPath<String>,
    ApiQuery(q): ApiQuery<ContactsQuery>,
) -> Result<Response, ApiError> {
    check_record_id(&record_id)?;
    let purpose = purpose(&q.purpose)?;
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "format must be json or csv",
            ));
        }
    };
    let now = state.clock.now();
    let (case_id, registered, contacts, designated) =
        contacts_of(&state, &caller, &record_id, now).await?;
    log_read(
        &state,
        &caller,
        "case_contacts",
        &purpose,
        contacts.len(),
        now,
    )
    .await?;
    if csv {
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            contacts_csv(&contacts).map_err(|e| {
                tracing::error!(error = %e, "writing the contact list as CSV");
                ApiError::internal()
            })?,
        )
            .into_response());
    }
    Ok(Json(CaseOut {
        case_id,
        record_id,
        registered,
        contacts: contacts.iter().map(contact_out).collect(),
        designated,
    })
    .into_response())
}

/// The columns of the CSV contact list, in order.
const CONTACT_COLUMNS: [&str; 9] = [
    "name",
    "document_type",
    "document_number",
    "phone",
    "venue_id",
    "venue",
    "district",
    "case_visit_at",
    "contact_visit_at",
];

/// RFC 4180 CSV (CRLF line ends): a header line, then one line per contact visit. Every cell
/// is passed through [`inert`] first, since tracers open the list in a spreadsheet.
fn contacts_csv(contacts: &[Contact]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    out.write_record(CONTACT_COLUMNS)?;
    for c in contacts {
        let row = contact_out(c);
        out.write_record(
            [
                row.name,
                row.document_type.as_str().to_owned(),
                row.document_number,
                row.phone.unwrap_or_default(),
                row.venue_id.to_string(),
                row.venue,
                row.district,
                row.case_visit_at.to_rfc3339(),
                row.contact_visit_at.to_rfc3339(),
            ]
            .map(inert),
        )?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// A cell a spreadsheet would evaluate as a formula (its first character `=`, `+`, `-`, `@`,
/// tab or carriage return) gets a leading `'`, which makes it text: OWASP's advice against
/// CSV injection. The CSV writer then quotes whatever needs quoting.
fn inert(cell: String) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use healthcode_domain::{PersonName, PhoneNumber};
    use healthcode_store::{DocIndex, Person, Venue};

    use super::*;

    fn contact(name: &str, phone: Option<&str>, venue: &str, district: &str) -> Contact {
        let at = Utc.with_ymd_and_hms(2026, 5, 1, 4, 0, 0).unwrap();
        Contact {
            person: Person {
                id: 1,
                doc_index: DocIndex([0; 32]),
                document: DocumentNumber::parse(DocumentType::ResidentId, "110101198001010053")
                    .unwrap(),
                name: PersonName::parse(name).unwrap(),
                phone: phone.map(|p| PhoneNumber::parse(p).unwrap()),
                subject: [0; 16],
                created_at: at,
            },
            venue: Venue {
                id: 7,
                name: venue.to_owned(),
                kind: "restaurant".to_owned(),
                district: district.to_owned(),
                address: String::new(),
                created_at: at,
            },
            case_at: at - TimeDelta::minutes(30),
            at,
        }
    }

    fn read_back(bytes: &[u8]) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes)
            .records()
            .map(|r| r.unwrap().iter().map(str::to_owned).collect())
            .collect()
    }

    #[test]
    fn cells_a_spreadsheet_would_evaluate_are_made_text() {
        let leads = ["=", "+", "-", "@", "\t", "\r"];
        let contacts: Vec<Contact> = leads
            .iter()
            .map(|lead| {
                contact(
                    "-Smith",
                    Some("+85291234567"),
                    &format!("{lead}HYPERLINK(\"http://example.com\",\"x\")"),
                    &format!("{lead}cmd|' /C calc'!A0"),
                )
            })
            .collect();
        let rows = read_back(&contacts_csv(&contacts).unwrap());
        assert_eq!(rows[0], CONTACT_COLUMNS);
        assert_eq!(rows.len(), 1 + leads.len());
        for (row, lead) in rows[1..].iter().zip(leads) {
            assert_eq!(row[0], "'-Smith");
            assert_eq!(row[3], "'+85291234567");
            assert_eq!(
                row[5],
                format!("'{lead}HYPERLINK(\"http://example.com\",\"x\")")
            );
            assert_eq!(row[6], format!("'{lead}cmd|' /C calc'!A0"));
        }
    }

    #[test]
    fn quotes_commas_and_line_breaks_round_trip() {
        let venue = "Wang's \"Noodles\", 2nd floor\r\nBack room";
        let district = "朝阳区,\n三里屯 \"north\"";
        let bytes = contacts_csv(&[contact("SMITH, JOHN", None, venue, district)]).unwrap();
        let rows = read_back(&bytes);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[1],
            [
                "SMITH, JOHN",
                "resident_id",
                "110101198001010053",
                "",
                "7",
                venue,
                district,
                "2026-05-01T03:30:00+00:00",
                "2026-05-01T04:00:00+00:00",
            ]
        );
        assert!(bytes.ends_with(b"\r\n"), "RFC 4180 line ends");
        assert!(
            String::from_utf8(bytes)
                .unwrap()
                .starts_with("name,document_type,document_number,phone,venue_id,")
        );
    }
}
