//! `healthcode verify`: checks a code offline, as a gate does, whatever its format — native
//! (`HCN1:`), EU DCC (`HC1:`) or SMART Health Card (`shc:/`) — from its text, from standard
//! input, or from a PNG or JPEG picture of its QR code.
//!
//! Exit status: 0 valid, 1 invalid, 2 usage (bad arguments, unreadable trust material).

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use healthcode_credential::TrustList;
use healthcode_verify::{AcceptanceRules, Trust, Verification};

/// Longest input read from standard input or a file: a camera picture at most.
const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

pub enum Outcome {
    Valid,
    Invalid,
}

pub struct Args {
    pub code: String,
    pub trust_lists: Vec<PathBuf>,
    pub dscs: Vec<PathBuf>,
    pub jwks: Vec<String>,
    pub crls: Vec<String>,
    pub rules: Vec<PathBuf>,
    pub value_sets: Option<PathBuf>,
    /// Also trust what this node's data directory trusts (its list and `trust/`).
    pub data_dir: Option<PathBuf>,
    pub at: DateTime<Utc>,
    pub json: bool,
}

/// Reads the code and the trust material; usage errors are `Err`.
pub fn run(args: Args) -> Result<Outcome, String> {
    if args.trust_lists.is_empty()
        && args.dscs.is_empty()
        && args.jwks.is_empty()
        && args.data_dir.is_none()
    {
        return Err(
            "give trust material: --trust-list FILE, --dsc FILE, --jwks ISSUER=FILE or \
             --data-dir DIR"
                .into(),
        );
    }
    let text = read_code(&args.code)?;
    let trust = trust(&args)?;
    let result = trust.verify(&text, args.at);
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&result).map_err(|e| e.to_string())?
        );
    } else {
        print(&result);
    }
    Ok(if result.valid {
        Outcome::Valid
    } else {
        Outcome::Invalid
    })
}

/// The code's text: the argument itself, standard input (`-`), or a file, which may be a
/// picture of the QR code.
fn read_code(arg: &str) -> Result<String, String> {
    let bytes = if arg == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(MAX_INPUT_BYTES)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read the code from standard input: {e}"))?;
        bytes
    } else if is_file(arg) {
        let path = Path::new(arg);
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        if len > MAX_INPUT_BYTES {
            return Err(format!("{arg} is larger than {MAX_INPUT_BYTES} bytes"));
        }
        std::fs::read(path).map_err(|e| format!("cannot read {arg}: {e}"))?
    } else {
        return Ok(arg.to_owned());
    };
    if is_picture(&bytes) {
        let codes = healthcode_qrscan::read(&bytes)
            .map_err(|e| format!("cannot read a QR code in the picture: {e}"))?;
        // The chunks of a SMART Health Card printed side by side are one code; otherwise
        // the first code found is the one verified.
        if codes.len() > 1 && codes.iter().all(|c| c.starts_with(healthcode_shc::PREFIX)) {
            return Ok(codes.join("\n"));
        }
        return codes
            .into_iter()
            .next()
            .ok_or_else(|| "no QR code in the picture".to_owned());
    }
    String::from_utf8(bytes)
        .map_err(|_| "the code is neither text nor a PNG or JPEG picture".into())
}

/// A code is never a path, but a path to an existing file is read.
fn is_file(arg: &str) -> bool {
    !arg.starts_with(healthcode_credential::PREFIX)
        && !arg.starts_with(healthcode_dcc::PREFIX)
        && !arg.starts_with(healthcode_shc::PREFIX)
        && Path::new(arg).is_file()
}

fn is_picture(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.starts_with(&[0xFF, 0xD8, 0xFF])
}

fn read_text(path: &Path, what: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("cannot read {what} {}: {e}", path.display()))
}

/// `ISSUER=FILE`, split at the last `=` (an issuer URL may hold one).
fn issuer_file(arg: &str, flag: &str) -> Result<(String, PathBuf), String> {
    match arg.rsplit_once('=') {
        Some((issuer, file)) if !issuer.is_empty() && !file.is_empty() => {
            Ok((issuer.to_owned(), PathBuf::from(file)))
        }
        _ => Err(format!("{flag} takes ISSUER=FILE, not {arg:?}")),
    }
}

fn trust(args: &Args) -> Result<Trust, String> {
    let (mut trust, problems) = match &args.data_dir {
        Some(dir) => {
            let own = read_text(&dir.join("trust-list.json"), "trust list")?;
            crate::trust::load(dir, &own, "").map_err(|e| format!("{e:#}"))?
        }
        None => (Trust::new().map_err(|e| e.to_string())?, Vec::new()),
    };
    if let Some(p) = problems.first() {
        return Err(format!("unreadable trust material: {p}"));
    }
    for path in &args.trust_lists {
        let text = read_text(path, "trust list")?;
        let list = TrustList::from_json(&text, None)
            .map_err(|e| format!("trust list {} is not valid: {e}", path.display()))?;
        trust.add_trust_list(list);
    }
    for path in &args.dscs {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read certificate {}: {e}", path.display()))?;
        let added = match std::str::from_utf8(&bytes) {
            Ok(text) => trust.dsc_mut().add_certificate_pem_or_base64(text),
            Err(_) => trust.dsc_mut().add_certificate_der(&bytes),
        };
        added.map_err(|e| format!("certificate {} is not usable: {e}", path.display()))?;
    }
    for arg in &args.jwks {
        let (issuer, path) = issuer_file(arg, "--jwks")?;
        let jwks = healthcode_shc::Jwks::from_json(&read_text(&path, "key set")?)
            .map_err(|e| format!("key set {} is not valid: {e}", path.display()))?;
        trust
            .shc_mut()
            .add_issuer(&issuer, jwks)
            .map_err(|e| e.to_string())?;
    }
    for arg in &args.crls {
        let (issuer, path) = issuer_file(arg, "--crl")?;
        let crl = healthcode_shc::RevocationList::from_json(&read_text(&path, "revocation list")?)
            .map_err(|e| format!("revocation list {} is not valid: {e}", path.display()))?;
        trust
            .shc_mut()
            .add_crl(&issuer, crl)
            .map_err(|e| e.to_string())?;
    }
    if !args.rules.is_empty() {
        let mut rules = AcceptanceRules::default();
        for path in &args.rules {
            let rule = serde_json::from_str(&read_text(path, "rule")?)
                .map_err(|e| format!("rule {} is not an EU rule file: {e}", path.display()))?;
            rules.rules.push(rule);
        }
        if let Some(path) = &args.value_sets {
            rules.value_sets = serde_json::from_str(&read_text(path, "value sets")?)
                .map_err(|e| format!("value sets {} are not JSON: {e}", path.display()))?;
        }
        trust.set_acceptance_rules(rules);
    }
    Ok(trust)
}

fn print(v: &Verification) {
    let format = v.format.map_or("unknown format", |f| f.as_str());
    if let Some(refusal) = &v.refusal {
        println!(
            "INVALID: {} ({}; {format})",
            refusal.error, refusal.error_code
        );
        return;
    }
    match (v.details.get("colour"), v.details.get("colour_label")) {
        (Some(colour), Some(label)) => println!(
            "VALID  {} {} ({})",
            colour.as_str().unwrap_or_default().to_uppercase(),
            label["zh"].as_str().unwrap_or_default(),
            label["en"].as_str().unwrap_or_default()
        ),
        _ => println!(
            "VALID  {format}: {}",
            v.summary.as_deref().unwrap_or_default()
        ),
    }
    if let Some(name) = &v.masked_name {
        println!("  name       {name}");
    }
    if let Some(document) = v.details.get("masked_document").and_then(|d| d.as_str()) {
        println!("  document   {document}");
    }
    if let Some(year) = &v.birth_year {
        println!("  born       {year}");
    }
    if let Some(issuer) = &v.issuer {
        println!("  issuer     {issuer}");
    }
    if let Some(reminders) = v.details.get("reminders").and_then(|r| r.as_array()) {
        let words: Vec<String> = reminders
            .iter()
            .filter_map(|r| Some(format!("{} {}", r["number"], r["en"].as_str()?)))
            .collect();
        println!(
            "  reminders  {}",
            if words.is_empty() {
                "none".to_owned()
            } else {
                words.join("; ")
            }
        );
    }
    if let Some(expires) = &v.expires_at {
        println!("  expires    {}", expires.to_rfc3339());
    }
}
