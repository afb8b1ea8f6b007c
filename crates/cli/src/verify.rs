//! `healthcode verify`: checks a code offline against trust-list files, as a gate does.
//!
//! Exit status: 0 valid, 1 invalid, 2 usage (bad arguments, unreadable trust list).

use std::io::Read;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use healthcode_credential::{CodeClaims, TrustList, Verifier};

pub enum Outcome {
    Valid,
    Invalid,
}

pub struct Args {
    pub code: String,
    pub trust_lists: Vec<PathBuf>,
    pub at: DateTime<Utc>,
    pub json: bool,
}

/// Reads the code (or standard input for `-`) and the trust lists; usage errors are `Err`.
pub fn run(args: Args) -> Result<Outcome, String> {
    let code = if args.code == "-" {
        let mut s = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut s)
            .map_err(|e| format!("cannot read the code from standard input: {e}"))?;
        s
    } else {
        args.code
    };
    let code = code.trim();
    if args.trust_lists.is_empty() {
        return Err("give at least one --trust-list FILE".into());
    }
    let mut lists = Vec::new();
    for path in &args.trust_lists {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read trust list {}: {e}", path.display()))?;
        let list = TrustList::from_json(&text, None)
            .map_err(|e| format!("trust list {} is not valid: {e}", path.display()))?;
        lists.push(list);
    }
    let verifier = Verifier::new(&lists);
    let result = verifier.verify(code, args.at);
    match &result {
        Ok(claims) => {
            if args.json {
                println!("{}", valid_json(claims));
            } else {
                print_valid(claims);
            }
            Ok(Outcome::Valid)
        }
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    json!({ "valid": false, "format": "native", "error": e.to_string(), "error_code": e.code() })
                );
            } else {
                println!("INVALID: {e} ({})", e.code());
            }
            Ok(Outcome::Invalid)
        }
    }
}

fn valid_json(c: &CodeClaims) -> Value {
    json!({
        "valid": true,
        "format": "native",
        "region": c.region,
        "colour": c.colour,
        "colour_label": { "zh": c.colour.label_zh(), "en": c.colour.label_en() },
        "masked_name": c.masked_name,
        "masked_document": c.masked_document,
        "document_type": c.document_type,
        "reminders": c.reminders.iter().map(|r| json!({
            "number": r.number(), "code": r, "zh": r.label_zh(), "en": r.label_en()
        })).collect::<Vec<_>>(),
        "test_recency_days": c.test_recency_days,
        "vaccination": c.vaccination,
        "issued_at": c.issued_at,
        "expires_at": c.expires_at,
        "status_valid_until": c.status_valid_until,
    })
}

fn print_valid(c: &CodeClaims) {
    println!(
        "VALID  {} {} ({})",
        c.colour.as_str().to_uppercase(),
        c.colour.label_zh(),
        c.colour.label_en()
    );
    println!("  name       {}", c.masked_name);
    println!("  document   {} ({})", c.masked_document, c.document_type);
    let reminders: Vec<String> = c
        .reminders
        .iter()
        .map(|r| format!("{} {}", r.number(), r.label_en()))
        .collect();
    println!(
        "  reminders  {}",
        if reminders.is_empty() {
            "none".to_owned()
        } else {
            reminders.join("; ")
        }
    );
    println!(
        "  last test  {}",
        c.test_recency_days
            .map(|d| format!("{d}天 ago"))
            .unwrap_or_else(|| "none on record".into())
    );
    println!("  vaccine    {}", c.vaccination.label_en());
    println!("  region     {}", c.region);
    println!("  expires    {}", c.expires_at.to_rfc3339());
}
