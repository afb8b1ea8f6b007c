//! The trust material of every format, and the verification that uses it.

use chrono::{DateTime, SecondsFormat, Utc};
use healthcode_certlogic::{CertificateType, Rule, RuleType};
use healthcode_credential::{CodeClaims, TrustList, Verifier};
use healthcode_dcc::{CertificateEntry, CertificateKind, DscTrust, Schema, VerifiedDcc};
use healthcode_domain::PersonName;
use healthcode_shc::VerifiedCard;
use serde_json::{Map, Value, json};

use crate::{Format, Verification, detect};

/// Longest text accepted for verification. A chunked SMART Health Card is the longest real
/// input (a few kilobytes); anything far beyond is refused before any decoding.
pub const MAX_TEXT_LEN: usize = 64 * 1024;

/// What a gate trusts: region trust lists for native codes, EU signer certificates (DSCs),
/// SMART Health Card issuers, and the region's acceptance rules for EU certificates.
pub struct Trust {
    lists: Vec<TrustList>,
    native: Verifier,
    dsc: DscTrust,
    schema: Schema,
    shc: healthcode_shc::Trust,
    rules: AcceptanceRules,
}

/// The region's acceptance policy for EU certificates: CertLogic rules (the EU's rule
/// format) with the value sets they read, evaluated for the accepting `country`.
#[derive(Default)]
pub struct AcceptanceRules {
    pub country: String,
    pub rules: Vec<Rule>,
    /// `external.valueSets`: value set id → list of codes.
    pub value_sets: Value,
}

impl Trust {
    /// Trusts nothing yet. Fails only if the built-in DCC schema does not compile.
    pub fn new() -> Result<Trust, healthcode_dcc::DccError> {
        Ok(Trust {
            lists: Vec::new(),
            native: Verifier::new(&[]),
            dsc: DscTrust::new(),
            schema: Schema::eu_dcc()?,
            shc: healthcode_shc::Trust::new(),
            rules: AcceptanceRules::default(),
        })
    }

    /// Trusts the keys of a region's trust list (the newest list wins per region).
    pub fn add_trust_list(&mut self, list: TrustList) {
        self.add_trust_lists([list]);
    }

    /// Trusts the keys of several lists, building the native verifier once.
    pub fn add_trust_lists(&mut self, lists: impl IntoIterator<Item = TrustList>) {
        self.lists.extend(lists);
        self.native = Verifier::new(&self.lists);
    }

    pub fn trust_lists(&self) -> &[TrustList] {
        &self.lists
    }

    /// The verifier of native codes (and place codes) over the trusted region lists.
    pub fn native(&self) -> &Verifier {
        &self.native
    }

    /// EU signer certificates.
    pub fn dsc_mut(&mut self) -> &mut DscTrust {
        &mut self.dsc
    }

    /// SMART Health Card issuers and their revocation lists.
    pub fn shc_mut(&mut self) -> &mut healthcode_shc::Trust {
        &mut self.shc
    }

    pub fn set_acceptance_rules(&mut self, rules: AcceptanceRules) {
        self.rules = rules;
    }

    /// Verifies `text` (any supported format) at `now`.
    pub fn verify(&self, text: &str, now: DateTime<Utc>) -> Verification {
        if text.len() > MAX_TEXT_LEN {
            return Verification::refused(
                None,
                "too_long",
                format!("the text is longer than {MAX_TEXT_LEN} bytes; no code is that long"),
            );
        }
        let text = text.trim();
        match detect(text) {
            None => Verification::refused(
                None,
                "unknown_format",
                "not a code this gate knows: expected HCN1:, HC1: or shc:/",
            ),
            Some(Format::Native) => match self.native.verify(text, now) {
                Ok(claims) => native(&claims),
                Err(e) => Verification::refused(Some(Format::Native), e.code(), e.to_string()),
            },
            Some(Format::EuDcc) => {
                match healthcode_dcc::verify(text, &self.dsc, &self.schema, now) {
                    Ok(dcc) => self
                        .refusal_by_rules(&dcc, now)
                        .unwrap_or_else(|| eu_dcc(&dcc)),
                    Err(e) => Verification::refused(Some(Format::EuDcc), e.code(), e.to_string()),
                }
            }
            Some(Format::SmartHealthCard) => {
                let result = if text.starts_with('{') {
                    healthcode_shc::verify_file(text, &self.shc, now).and_then(first_card)
                } else {
                    let chunks: Vec<&str> = text.split_whitespace().collect();
                    healthcode_shc::verify_qr(&chunks, &self.shc, now)
                };
                match result {
                    Ok(card) => smart_health_card(&card),
                    Err(e) => Verification::refused(
                        Some(Format::SmartHealthCard),
                        e.code(),
                        e.to_string(),
                    ),
                }
            }
        }
    }

    /// Runs the acceptance rules that apply to `dcc` at `now`; the first one that does not
    /// pass refuses it.
    fn refusal_by_rules(&self, dcc: &VerifiedDcc, now: DateTime<Utc>) -> Option<Verification> {
        let applicable = self.rules.rules.iter().filter(|rule| {
            rule.is_valid_at(now)
                && match rule.certificate_type {
                    CertificateType::General => true,
                    CertificateType::Vaccination => dcc.kind() == CertificateKind::Vaccination,
                    CertificateType::Test => dcc.kind() == CertificateKind::Test,
                    CertificateType::Recovery => dcc.kind() == CertificateKind::Recovery,
                }
        });
        let external = json!({
            "validationClock": now.to_rfc3339_opts(SecondsFormat::Secs, true),
            "valueSets": self.rules.value_sets,
            "countryCode": self.rules.country,
            "exp": dcc.expires_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "iat": dcc.issued_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            "issuerCountryCode": dcc.issuer_country,
            "kid": hex::encode(dcc.kid),
        });
        for rule in applicable {
            let what = match rule.rule_type {
                RuleType::Acceptance => "acceptance",
                RuleType::Invalidation => "invalidation",
            };
            match rule.evaluate(&external, &dcc.payload) {
                Ok(true) => {}
                Ok(false) => {
                    return Some(Verification::refused(
                        Some(Format::EuDcc),
                        "rule_failed",
                        format!(
                            "{what} rule {} of {} not met: {}",
                            rule.identifier,
                            rule.country,
                            english(rule)
                        ),
                    ));
                }
                Err(e) => {
                    return Some(Verification::refused(
                        Some(Format::EuDcc),
                        "rule_error",
                        format!(
                            "{what} rule {} could not be evaluated: {e}",
                            rule.identifier
                        ),
                    ));
                }
            }
        }
        None
    }
}

fn first_card(cards: Vec<VerifiedCard>) -> Result<VerifiedCard, healthcode_shc::ShcError> {
    cards
        .into_iter()
        .next()
        .ok_or(healthcode_shc::ShcError::BadFile(
            "verifiableCredential is empty",
        ))
}

fn english(rule: &Rule) -> String {
    rule.description
        .iter()
        .find(|d| d.lang.eq_ignore_ascii_case("en"))
        .or_else(|| rule.description.first())
        .map(|d| d.desc.clone())
        .unwrap_or_default()
}

/// The masked name a gate shows, as for residents' own codes: surname and `*`.
fn masked(family: Option<&str>, given: Option<&str>) -> Option<String> {
    let family = family.map(str::trim).filter(|f| !f.is_empty());
    let given = given.map(str::trim).filter(|g| !g.is_empty());
    let raw = match (family, given) {
        (Some(f), Some(g)) => format!("{f}, {g}"),
        (Some(f), None) => f.to_owned(),
        (None, Some(g)) => g.to_owned(),
        (None, None) => return None,
    };
    Some(match PersonName::parse(&raw) {
        Ok(name) => name.masked(),
        // A name the resident parser refuses (a character outside its set): the surname's
        // first letter is still enough for a gate to compare with an ID card.
        Err(_) => {
            let first: String = raw.chars().take(1).collect();
            format!("{first}*")
        }
    })
}

fn birth_year(date: &str) -> Option<String> {
    let year = date.get(..4)?;
    year.chars()
        .all(|c| c.is_ascii_digit())
        .then(|| year.to_owned())
}

fn native(c: &CodeClaims) -> Verification {
    let mut details = Map::new();
    details.insert("region".into(), json!(c.region));
    details.insert("colour".into(), json!(c.colour));
    details.insert(
        "colour_label".into(),
        json!({ "zh": c.colour.label_zh(), "en": c.colour.label_en() }),
    );
    details.insert("masked_document".into(), json!(c.masked_document));
    details.insert("document_type".into(), json!(c.document_type));
    details.insert(
        "reminders".into(),
        c.reminders
            .iter()
            .map(|r| json!({ "number": r.number(), "code": r, "zh": r.label_zh(), "en": r.label_en() }))
            .collect(),
    );
    details.insert("test_recency_days".into(), json!(c.test_recency_days));
    details.insert("vaccination".into(), json!(c.vaccination));
    details.insert("status_valid_until".into(), json!(c.status_valid_until));
    Verification {
        valid: true,
        format: Some(Format::Native),
        refusal: None,
        issuer: Some(c.region.clone()),
        masked_name: Some(c.masked_name.clone()),
        birth_year: None,
        summary: Some(format!(
            "health code {} {} ({})",
            c.colour.as_str(),
            c.colour.label_zh(),
            c.colour.label_en()
        )),
        issued_at: Some(c.issued_at),
        expires_at: Some(c.expires_at),
        details,
    }
}

fn eu_dcc(d: &VerifiedDcc) -> Verification {
    let mut details = Map::new();
    details.insert("certificate_type".into(), json!(d.kind().name()));
    details.insert("kid".into(), json!(hex::encode(d.kid)));
    let summary = match &d.entry {
        CertificateEntry::Vaccination(v) => {
            details.insert(
                "vaccination".into(),
                json!({
                    "target": v.target, "vaccine": v.vaccine, "product": v.product,
                    "manufacturer": v.manufacturer, "dose_number": v.dose_number,
                    "total_doses": v.total_doses, "date": v.date, "country": v.country,
                }),
            );
            format!(
                "vaccination, dose {} of {}, {} on {} in {}",
                v.dose_number, v.total_doses, v.product, v.date, v.country
            )
        }
        CertificateEntry::Test(t) => {
            details.insert(
                "test".into(),
                json!({
                    "target": t.target, "test_type": t.test_type, "result": t.result,
                    "sample_collected": t.sample_collected, "country": t.country,
                }),
            );
            let result = match t.result.as_str() {
                "260415000" => "not detected",
                "260373001" => "detected",
                other => other,
            };
            format!(
                "test, {result}, sampled {} in {}",
                t.sample_collected, t.country
            )
        }
        CertificateEntry::Recovery(r) => {
            details.insert(
                "recovery".into(),
                json!({
                    "target": r.target, "first_positive": r.first_positive,
                    "valid_from": r.valid_from, "valid_until": r.valid_until,
                    "country": r.country,
                }),
            );
            format!(
                "recovery, valid {} to {}, in {}",
                r.valid_from, r.valid_until, r.country
            )
        }
    };
    let name = &d.name;
    Verification {
        valid: true,
        format: Some(Format::EuDcc),
        refusal: None,
        issuer: d.issuer_country.clone(),
        masked_name: masked(
            name.family
                .as_deref()
                .or(name.family_standardised.as_deref()),
            name.given.as_deref().or(name.given_standardised.as_deref()),
        ),
        birth_year: birth_year(&d.date_of_birth),
        summary: Some(summary),
        issued_at: Some(d.issued_at),
        expires_at: Some(d.expires_at),
        details,
    }
}

fn smart_health_card(c: &VerifiedCard) -> Verification {
    let s = &c.summary;
    let patient = s.patient.as_ref();
    let name = patient.and_then(|p| p.name.as_ref());
    let first_code = |codings: &[healthcode_shc::Coding]| {
        codings
            .first()
            .map(|c| json!({ "system": c.system, "code": c.code }))
            .unwrap_or(Value::Null)
    };
    let immunizations: Vec<Value> = s
        .immunizations
        .iter()
        .map(|i| json!({ "vaccine": first_code(&i.vaccine), "date": i.occurrence, "status": i.status }))
        .collect();
    let observations: Vec<Value> = s
        .observations
        .iter()
        .map(|o| json!({ "code": first_code(&o.code), "effective": o.effective, "status": o.status }))
        .collect();
    let summary = format!(
        "SMART Health Card: {} immunization(s), {} observation(s)",
        immunizations.len(),
        observations.len()
    );
    let mut details = Map::new();
    details.insert("types".into(), json!(c.types));
    details.insert("kid".into(), json!(c.kid));
    details.insert("immunizations".into(), Value::Array(immunizations));
    details.insert("observations".into(), Value::Array(observations));
    let given = name.map(|n| n.given.join(" "));
    Verification {
        valid: true,
        format: Some(Format::SmartHealthCard),
        refusal: None,
        issuer: Some(c.issuer.clone()),
        masked_name: masked(name.and_then(|n| n.family.as_deref()), given.as_deref()),
        birth_year: patient
            .and_then(|p| p.birth_date.as_deref())
            .and_then(birth_year),
        summary: Some(summary),
        issued_at: Some(c.nbf),
        expires_at: c.exp,
        details,
    }
}
