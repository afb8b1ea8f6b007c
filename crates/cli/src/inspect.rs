//! `healthcode audit --data-dir DIR`: the inspector's check of a region's database against its
//! transparency log, run by the operator or an inspector with access to the database and its
//! master key. Every stored record must match its leaf's commitment (and its leaf's kind,
//! actor and time), every record must have its leaf, and the leaves in the tree must give the
//! newest checkpoint's root. The checks are the store's (`Log::audit_log`); this prints the
//! verdict.

use std::path::Path;

use anyhow::Result;

use healthcode_store::Log;

use crate::setup::DataDir;

/// Runs the check and prints what it found. `Ok(true)` when all is well, `Ok(false)` when a
/// problem was found (each printed on a line of its own, naming the record or leaf).
pub async fn audit_data_dir(path: &Path, database_url: Option<&str>) -> Result<bool> {
    if database_url.is_none() && !path.join("healthcode.db").is_file() {
        anyhow::bail!("{} holds no database to audit", path.display());
    }
    let dir = DataDir::new(path)?;
    let store = dir.store(database_url).await?;
    let report = store.audit_log().await?;
    store.close().await;
    if report.problems.is_empty() {
        println!(
            "log consistent with the database: {} leaves, {} in the tree, checkpoint size {}",
            report.leaves, report.sequenced, report.checkpoint_size
        );
        return Ok(true);
    }
    for problem in &report.problems {
        eprintln!("{problem}");
    }
    eprintln!(
        "{} problem(s) among {} leaves",
        report.problems.len(),
        report.leaves
    );
    Ok(false)
}
