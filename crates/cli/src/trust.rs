//! What this node trusts besides its own region, kept in `DATA_DIR/trust/`, and the
//! `healthcode trust` commands that manage it.
//!
//! - `regions/REGION.json` — another region's signed trust list, as imported; beside it
//!   `regions/REGION.source`, where it came from (a URL or a file), for `trust refresh`.
//! - `dsc/*` — EU signer certificates (DER, PEM or base64), one per file.
//! - `shc/*.json` — a SMART Health Card issuer: `{"issuer": URL, "jwks": {...},
//!   "crls": [...]}`.
//! - `rules/*.json` — acceptance rules for EU certificates (EU rule format, CertLogic), and
//!   optionally `rules/value-sets.json` (value set id → codes) for them to read.
//!
//! A running server reads the folder again every `--trust-reload-secs` (60 by default), so an
//! import or refresh takes effect without a restart.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use healthcode_credential::TrustList;
use healthcode_verify::regions::{Update, accept_update, parse_root_key};
use healthcode_verify::{AcceptanceRules, Trust};

use crate::files::{Access, write_atomically};

/// Largest trust-material file read, from disk or the network.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("trust")
}

/// Everything this node trusts: its own region's list (`own`, signed text) and the folder.
/// A file that cannot be read or is invalid is skipped with a warning, so that one bad file
/// does not take every other region's codes down with it; `problems` lists them.
pub fn load(data_dir: &Path, own: &str, country: &str) -> Result<(Trust, Vec<String>)> {
    let mut trust = Trust::new().map_err(|e| anyhow!("the EU DCC schema: {e}"))?;
    let mut problems = Vec::new();
    let own = TrustList::from_json(own, None).context("this region's trust list")?;
    trust.add_trust_lists(std::iter::once(own).chain(imported(data_dir, &mut problems)));
    let base = dir(data_dir);
    for path in files(&base.join("dsc")) {
        match read(&path).and_then(|text| {
            trust
                .dsc_mut()
                .add_certificate_pem_or_base64(&text)
                .map_err(|e| anyhow!("{e}"))
        }) {
            Ok(_) => {}
            Err(e) => problems.push(format!("{}: {e:#}", path.display())),
        }
    }
    for path in files(&base.join("shc")) {
        if let Err(e) = read(&path).and_then(|text| add_shc_issuer(&mut trust, &text)) {
            problems.push(format!("{}: {e:#}", path.display()));
        }
    }
    let mut rules = AcceptanceRules {
        country: country.to_owned(),
        ..AcceptanceRules::default()
    };
    for path in files(&base.join("rules")) {
        let parsed = read(&path).and_then(|text| {
            if path.file_name().is_some_and(|n| n == "value-sets.json") {
                rules.value_sets = serde_json::from_str(&text)?;
                return Ok(());
            }
            rules.rules.push(serde_json::from_str(&text)?);
            Ok(())
        });
        if let Err(e) = parsed {
            problems.push(format!("{}: {e:#}", path.display()));
        }
    }
    trust.set_acceptance_rules(rules);
    Ok((trust, problems))
}

/// The region trust lists imported so far.
pub fn imported(data_dir: &Path, problems: &mut Vec<String>) -> Vec<TrustList> {
    let mut lists = Vec::new();
    for path in files(&dir(data_dir).join("regions")) {
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        match read(&path).and_then(|text| Ok(TrustList::from_json(&text, None)?)) {
            Ok(list) => lists.push(list),
            Err(e) => problems.push(format!("{}: {e:#}", path.display())),
        }
    }
    lists
}

#[derive(Deserialize)]
struct ShcIssuerFile {
    issuer: String,
    jwks: serde_json::Value,
    #[serde(default)]
    crls: Vec<serde_json::Value>,
}

/// Adds a SMART Health Card issuer described by a `trust/shc/*.json` file.
pub fn add_shc_issuer(trust: &mut Trust, text: &str) -> Result<()> {
    let file: ShcIssuerFile = serde_json::from_str(text)?;
    let jwks = healthcode_shc::Jwks::from_json(&file.jwks.to_string())?;
    trust.shc_mut().add_issuer(&file.issuer, jwks)?;
    for crl in file.crls {
        let crl = healthcode_shc::RevocationList::from_json(&crl.to_string())?;
        trust.shc_mut().add_crl(&file.issuer, crl)?;
    }
    Ok(())
}

/// Reads trust material from a URL (`http://`, `https://`) or a file, at most 4 MiB.
pub async fn fetch(source: &str) -> Result<String> {
    if source.starts_with("http://") || source.starts_with("https://") {
        let response = reqwest::Client::new()
            .get(source)
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .with_context(|| format!("cannot fetch {source}"))?;
        if !response.status().is_success() {
            bail!("{source} answered {}", response.status());
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_FILE_BYTES)
        {
            bail!("{source} is larger than {MAX_FILE_BYTES} bytes");
        }
        let bytes = response.bytes().await?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            bail!("{source} is larger than {MAX_FILE_BYTES} bytes");
        }
        String::from_utf8(bytes.to_vec()).with_context(|| format!("{source} is not UTF-8"))
    } else {
        read(Path::new(source))
    }
}

/// The outcome of `trust import`, for the person running it.
pub struct Imported {
    pub region: String,
    pub sequence: u64,
    pub keys: usize,
    pub root: String,
    pub update: Update,
}

/// Imports (or refreshes) another region's trust list from `source` into the data dir.
pub async fn import(
    data_dir: &Path,
    own_region: &str,
    source: &str,
    root: Option<&str>,
) -> Result<Imported> {
    let expected = match root {
        Some(hex) => Some(
            parse_root_key(hex).ok_or_else(|| anyhow!("--root must be 64 hexadecimal digits"))?,
        ),
        None => None,
    };
    let text = fetch(source).await?;
    let mut problems = Vec::new();
    let current = imported(data_dir, &mut problems);
    let (list, update) = accept_update(own_region, &text, &current, expected.as_ref())
        .map_err(|e| anyhow!("{e} ({})", e.code()))?;
    let regions = dir(data_dir).join("regions");
    std::fs::create_dir_all(&regions)
        .with_context(|| format!("cannot create {}", regions.display()))?;
    let name = file_stem(&list.region)?;
    if update != Update::Unchanged {
        write_atomically(
            &regions.join(format!("{name}.json")),
            text.as_bytes(),
            Access::Default,
        )?;
    }
    write_atomically(
        &regions.join(format!("{name}.source")),
        source.as_bytes(),
        Access::Default,
    )?;
    Ok(Imported {
        region: list.region.clone(),
        sequence: list.sequence,
        keys: list.keys.len(),
        root: hex::encode(list.root_public_key),
        update,
    })
}

/// Imports again every region whose source was recorded; one failure does not stop the
/// others. Returns what happened to each, in words.
pub async fn refresh(data_dir: &Path, own_region: &str) -> Vec<(String, Result<Imported>)> {
    let mut out = Vec::new();
    for path in files(&dir(data_dir).join("regions")) {
        if path.extension().is_none_or(|e| e != "source") {
            continue;
        }
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let result = match read(&path) {
            Ok(source) => import(data_dir, own_region, source.trim(), None).await,
            Err(e) => Err(e),
        };
        out.push((name, result));
    }
    out
}

/// One line per imported region: id, list number, keys, next update, source.
pub fn describe(data_dir: &Path, now: DateTime<Utc>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut lines: Vec<String> = imported(data_dir, &mut problems)
        .iter()
        .map(|l| {
            let usable = l
                .keys
                .iter()
                .filter(|k| k.not_before <= now && now <= k.not_after)
                .count();
            format!(
                "{}  list {}  {} key(s), {} valid now  next update {}{}",
                l.region,
                l.sequence,
                l.keys.len(),
                usable,
                l.next_update.to_rfc3339(),
                if l.next_update < now {
                    " (overdue)"
                } else {
                    ""
                }
            )
        })
        .collect();
    lines.extend(problems.into_iter().map(|p| format!("unreadable: {p}")));
    lines
}

/// A region id as a file name: letters, digits, `-` and `_` only.
fn file_stem(region: &str) -> Result<&str> {
    if region.is_empty()
        || region.len() > 64
        || !region
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("region id {region:?} cannot name a file here");
    }
    Ok(region)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    paths
}

fn read(path: &Path) -> Result<String> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if meta.len() > MAX_FILE_BYTES {
        bail!("{} is larger than {MAX_FILE_BYTES} bytes", path.display());
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}
