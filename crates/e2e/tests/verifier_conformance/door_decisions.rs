//! One rule for two doors: `HealthcodeVerify.decide` in verify.js and `EntryPolicy::decide`
//! with the server's words for each reason (`healthcode_server::api::gate::reasons`, that is
//! `Reason::from(&StopReason)`) must agree on PASS or STOP and on every reason, its code and
//! both texts byte for byte.
//!
//! The doors: every venue type of the default policy (crates/domain/policy/default.toml, as
//! `Policy::default_policy` compiles it) and synthetic policies covering each field: the worst
//! colour let in (green, yellow, red), a test within none, 24, 48 or 72 hours, vaccination
//! none, primary or booster, reminders blocking or not. Each is sent to the page as the server
//! serialises it (`GET /api/v1/gate/config`'s `entry_policy`). What a code shows: every colour
//! × no reminder, each reminder alone and three pairs × no test, 0, 1, 2, 3 or 6 days × every
//! vaccination state, given as `verify` returns claims (wire numbers); for the default venues
//! also with serde names, and end to end: the same statuses issued as codes, verified by
//! verify.js and decided on the claims it returned, against `Decision::for_code` on the
//! claims the Rust verifier returned.

use anyhow::Result;
use healthcode_credential::TrustList;
use healthcode_domain::{
    Colour, EntryPolicy, Policy, Presented, ReminderKind, VaccinationRequirement, VaccinationState,
};
use healthcode_e2e::{Browser, Options, Page};
use healthcode_server::api::gate::{Decision, Reason, reasons};
use healthcode_verify::Trust;
use serde::Deserialize;

use super::{EXAMPLE_SEED, EXP, IAT, NOW, claims, issue, serve, trust_lists};

/// What a code shows, as the domain has it.
#[derive(Debug, Clone)]
struct Shown {
    colour: Colour,
    reminders: Vec<ReminderKind>,
    test_recency_days: Option<u32>,
    vaccination: VaccinationState,
}

impl Shown {
    /// As `verify` returns it in `claims`: wire numbers (FORMAT.md §4).
    fn numbers(&self) -> serde_json::Value {
        serde_json::json!({
            "colour": self.colour.code(),
            "reminders": self.reminders.iter().map(|r| r.number()).collect::<Vec<_>>(),
            "test_recency_days": self.test_recency_days,
            "vaccination": self.vaccination.code(),
        })
    }

    /// With the serde names of the domain's enums.
    fn names(&self) -> serde_json::Value {
        serde_json::json!({
            "colour": self.colour,
            "reminders": self.reminders,
            "test_recency_days": self.test_recency_days,
            "vaccination": self.vaccination,
        })
    }
}

/// PASS or STOP and the reasons, as the server words them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Door {
    pass: bool,
    reasons: Vec<Reason>,
}

fn rust_door(policy: &EntryPolicy, shown: &Shown) -> Door {
    let decision = policy.decide(&Presented {
        colour: shown.colour,
        reminders: &shown.reminders,
        test_recency_days: shown.test_recency_days,
        vaccination: shown.vaccination,
    });
    Door {
        pass: decision.pass,
        reasons: reasons(&decision),
    }
}

/// Every combination a code may show here: 3 colours × 10 reminder sets × 6 test recencies ×
/// 5 vaccination states.
fn shown_statuses() -> Vec<Shown> {
    let r = ReminderKind::ALL;
    let mut sets: Vec<Vec<ReminderKind>> = vec![Vec::new()];
    sets.extend(r.iter().map(|&k| vec![k]));
    sets.extend([vec![r[0], r[5]], vec![r[1], r[4]], vec![r[2], r[3]]]);
    let mut out = Vec::new();
    for colour in [Colour::Green, Colour::Yellow, Colour::Red] {
        for reminders in &sets {
            for days in [None, Some(0), Some(1), Some(2), Some(3), Some(6)] {
                for vaccination in VaccinationState::ALL {
                    out.push(Shown {
                        colour,
                        reminders: reminders.clone(),
                        test_recency_days: days,
                        vaccination,
                    });
                }
            }
        }
    }
    out
}

/// Policies covering each field: 3 colours × 4 test rules × 3 vaccination rules × 2.
fn synthetic_policies() -> Vec<EntryPolicy> {
    let mut out = Vec::new();
    for max_colour in [Colour::Green, Colour::Yellow, Colour::Red] {
        for test_within_hours in [None, Some(24), Some(48), Some(72)] {
            for vaccination in [
                None,
                Some(VaccinationRequirement::PrimaryComplete),
                Some(VaccinationRequirement::BoosterComplete),
            ] {
                for reminders_block in [false, true] {
                    out.push(EntryPolicy {
                        kind: format!("synthetic_{}", out.len()),
                        label_zh: "测试".into(),
                        label_en: "Test".into(),
                        max_colour,
                        test_within_hours,
                        vaccination,
                        reminders_block,
                    });
                }
            }
        }
    }
    out
}

/// Sets the page's statuses, then decides every one at every door in `policies`, a few
/// doors per call.
async fn page_doors(
    page: &Page,
    policies: &[EntryPolicy],
    statuses: &[serde_json::Value],
) -> Result<Vec<Door>> {
    page.eval::<serde_json::Value>(&format!(
        "(() => {{ window.conformanceStatuses = {}; return null; }})()",
        serde_json::to_string(statuses)?
    ))
    .await?;
    let mut out = Vec::with_capacity(policies.len() * statuses.len());
    for batch in policies.chunks(6) {
        let json = serde_json::to_string(batch)?;
        let js = format!(
            "(() => {{
                const out = [];
                for (const policy of {json}) {{
                    for (const claims of window.conformanceStatuses) {{
                        try {{
                            out.push(HealthcodeVerify.decide(policy, claims));
                        }} catch (e) {{
                            out.push({{ pass: false, reasons: [{{ code: 'threw', zh: '', en: String(e) }}] }});
                        }}
                    }}
                }}
                return out;
            }})()"
        );
        out.extend(page.eval::<Vec<Door>>(&js).await?);
    }
    Ok(out)
}

/// The statuses issued as codes of the worked example's region and times, verified by
/// verify.js and decided at each door on the claims it returned.
async fn page_doors_end_to_end(
    page: &Page,
    lists: &[TrustList],
    policies: &[EntryPolicy],
    codes: &[String],
) -> Result<Vec<Door>> {
    let js = format!(
        "(async () => {{
            const verifier = HealthcodeVerify.verifier({lists});
            const policies = {policies};
            const out = [];
            for (const code of {codes}) {{
                const r = await verifier.verify(code, {NOW});
                for (const policy of policies) {{
                    out.push(r.valid
                        ? HealthcodeVerify.decide(policy, r.claims)
                        : {{ pass: false, reasons: [{{ code: 'refused: ' + r.code, zh: '', en: '' }}] }});
                }}
            }}
            return out;
        }})()",
        lists = serde_json::to_string(lists)?,
        policies = serde_json::to_string(policies)?,
        codes = serde_json::to_string(codes)?,
    );
    page.eval::<Vec<Door>>(&js).await
}

fn table(rows: &[(String, &Door, &Door)]) -> String {
    let shown = |d: &Door| {
        let reasons: Vec<String> = d
            .reasons
            .iter()
            .map(|r| format!("{} {:?} {:?}", r.code, r.zh, r.en))
            .collect();
        format!(
            "{} {}",
            if d.pass { "PASS" } else { "STOP" },
            reasons.join("; ")
        )
    };
    rows.iter()
        .map(|(name, rust, js)| format!("| {name} | {} | {} |", shown(rust), shown(js)))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_page_and_the_rust_door_agree_on_every_decision() -> Result<()> {
    let policy = Policy::default_policy().unwrap();
    let venues: Vec<EntryPolicy> = policy.venue_types().cloned().collect();
    let synthetic = synthetic_policies();
    let statuses = shown_statuses();
    let numbers: Vec<serde_json::Value> = statuses.iter().map(Shown::numbers).collect();
    let names: Vec<serde_json::Value> = statuses.iter().map(Shown::names).collect();
    let doors: Vec<EntryPolicy> = venues.iter().chain(&synthetic).cloned().collect();
    assert!(venues.len() >= 9, "{} venue types", venues.len());

    let name = |p: &EntryPolicy, s: &Shown| {
        format!(
            "{} × {:?} {:?} {:?} {:?}",
            p.kind, s.colour, s.reminders, s.test_recency_days, s.vaccination
        )
    };
    let mut expected = Vec::new();
    let mut names_of = Vec::new();
    for p in &doors {
        for s in &statuses {
            expected.push(rust_door(p, s));
            names_of.push(name(p, s));
        }
    }
    let mut expected_named = Vec::new();
    for p in &venues {
        for s in &statuses {
            expected_named.push(rust_door(p, s));
        }
    }

    // End to end: each status issued as a code; the Rust side verifies it and decides with
    // the server's own Decision::for_code.
    let lists = trust_lists();
    let mut trust = Trust::new().unwrap();
    trust.add_trust_lists(lists.clone());
    let codes: Vec<String> = statuses
        .iter()
        .map(|s| {
            let mut c = claims("CN-BJ", IAT, EXP);
            c.colour = s.colour;
            c.reminders = s.reminders.clone();
            c.test_recency_days = s.test_recency_days;
            c.vaccination = s.vaccination;
            issue(EXAMPLE_SEED, &c)
        })
        .collect();
    let mut expected_e2e = Vec::new();
    for code in &codes {
        let verified = trust
            .native()
            .verify(code, super::time(NOW))
            .expect("an issued code verifies");
        for p in &venues {
            let d = Decision::for_code(p, &verified, 1);
            expected_e2e.push(Door {
                pass: d.pass,
                reasons: d.reasons,
            });
        }
    }

    // The vectors mean what they say: every kind of reason occurs, and so does PASS.
    let all = expected.iter().chain(&expected_e2e);
    for code in ["colour", "reminder", "no_recent_test", "vaccination"] {
        assert!(
            all.clone()
                .any(|d| d.reasons.iter().any(|r| r.code == code)),
            "no {code}"
        );
    }
    assert!(expected.iter().any(|d| d.pass));
    assert!(expected.iter().any(|d| d.reasons.len() == 5));

    let server = serve().await;
    let Some(browser) = Browser::launch_or_skip(Options::default()).await? else {
        return Ok(());
    };
    let page = browser.page(&format!("{server}/")).await?;
    let actual = page_doors(&page, &doors, &numbers).await?;
    let actual_named = page_doors(&page, &venues, &names).await?;
    let actual_e2e = page_doors_end_to_end(&page, &lists, &venues, &codes).await?;
    assert_eq!(actual.len(), expected.len());
    assert_eq!(actual_named.len(), expected_named.len());
    assert_eq!(actual_e2e.len(), expected_e2e.len());

    let mut rows = Vec::new();
    for (i, (rust, js)) in expected.iter().zip(&actual).enumerate() {
        if rust != js {
            rows.push((names_of[i].clone(), rust, js));
        }
    }
    for (i, (rust, js)) in expected_named.iter().zip(&actual_named).enumerate() {
        if rust != js {
            rows.push((format!("{} (serde names)", names_of[i]), rust, js));
        }
    }
    for (i, (rust, js)) in expected_e2e.iter().zip(&actual_e2e).enumerate() {
        if rust != js {
            let (code, door) = (i / venues.len(), i % venues.len());
            rows.push((
                format!("{} (code verified)", name(&venues[door], &statuses[code])),
                rust,
                js,
            ));
        }
    }
    let total = expected.len() + expected_named.len() + expected_e2e.len();
    let passes = expected
        .iter()
        .chain(&expected_named)
        .chain(&expected_e2e)
        .filter(|d| d.pass)
        .count();
    eprintln!(
        "{total} decisions ({} doors × {} statuses; {} venue types × {} with serde names; {} codes verified × {} venue types), {passes} PASS in both, {} disagreements",
        doors.len(),
        statuses.len(),
        venues.len(),
        statuses.len(),
        codes.len(),
        venues.len(),
        rows.len()
    );
    assert!(
        rows.is_empty(),
        "the two doors disagree:\n| door × shown | Rust | verify.js |\n|---|---|---|\n{}",
        table(&rows)
    );
    page.assert_no_problems().await?;
    browser.close().await
}
