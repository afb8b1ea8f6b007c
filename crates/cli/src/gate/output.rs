//! What the gate commands print: the decision at the door (text, or JSON with `--json`),
//! upload totals, and the venue, its rules and the trust list's age for `setup` and `status`.

use std::path::Path;

use anyhow::Result;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use healthcode_credential::TrustList;
use healthcode_domain::VaccinationRequirement;
use healthcode_server::api::gate::Decision;

use super::config::Config;
use super::queue::Line;

/// What `scan` prints: the decision, in the shape the server's scan answers with, and what
/// became of the check-in.
#[derive(Serialize)]
pub(super) struct Scanned {
    #[serde(flatten)]
    pub decision: Decision,
    /// The check-in's sequence number, when one was queued.
    pub seq: Option<i64>,
    /// Why nothing was queued, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_queued: Option<String>,
    pub warnings: Vec<String>,
}

pub(super) fn scanned(out: &Scanned, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(out)?);
        return Ok(());
    }
    let d = &out.decision;
    let mut head = d.decision.as_str().to_owned();
    if let Some(name) = &d.masked_name {
        head.push_str(&format!("  {name}"));
    }
    if let Some(colour) = d.colour {
        head.push_str(&format!(
            "  {} {} ({})",
            colour.as_str().to_uppercase(),
            colour.label_zh(),
            colour.label_en()
        ));
    }
    println!("{head}");
    for r in &d.reasons {
        println!("  {}", r.zh);
        println!("  {}", r.en);
    }
    match (out.seq, &out.not_queued) {
        (Some(seq), _) => println!("check-in #{seq} queued"),
        (None, Some(why)) => println!("not queued: {why}"),
        (None, None) => {}
    }
    for w in &out.warnings {
        eprintln!("warning: {w}");
    }
    Ok(())
}

/// What `upload` did, over every request it sent.
#[derive(Default, Serialize)]
pub(super) struct Totals {
    pub sent: usize,
    pub stored: u64,
    pub duplicates: u64,
    pub rejected: usize,
    pub designated: usize,
    pub queued: usize,
}

pub(super) fn totals(t: &Totals, dir: &Path, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(t)?);
        return Ok(());
    }
    if t.sent == 0 && t.rejected == 0 {
        println!("nothing to upload");
        return Ok(());
    }
    println!(
        "uploaded {} check-ins: {} stored, {} duplicates, {} rejected",
        t.sent, t.stored, t.duplicates, t.rejected
    );
    if t.rejected > 0 {
        println!(
            "rejected rows, with the reason, are in {}",
            dir.join("rejected.jsonl").display()
        );
    }
    if t.designated > 0 {
        println!(
            "{} designations written: visits fell in open risk areas",
            t.designated
        );
    }
    if t.queued > 0 {
        println!("{} check-ins queued", t.queued);
    }
    Ok(())
}

/// The device, as the first line of `setup` (`set_up`) and `status`.
pub(super) fn device(dir: &Path, config: &Config, set_up: bool) {
    println!(
        "gate {} {}: device #{} {:?}",
        if set_up { "set up in" } else { "in" },
        dir.display(),
        config.config.device.id,
        config.config.device.name
    );
}

/// `status`: the cache's age, then the queue.
pub(super) fn status(
    dir: &Path,
    config: &Config,
    list: &TrustList,
    queue: &[Line],
    next: Option<i64>,
    rejected: usize,
    now: DateTime<Utc>,
) {
    device(dir, config, false);
    println!("server:      {}", config.server);
    println!("set up:      {} ago", span(now - config.fetched_at));
    describe(config, list, now);
    let next = next.map_or_else(|| "missing".to_owned(), |n| n.to_string());
    println!(
        "queued:      {} check-ins (next number {next})",
        queue.len()
    );
    for line in queue {
        if let Err(e) = &line.row {
            println!("  queue.jsonl line {} does not read: {e}", line.number);
        }
    }
    if rejected > 0 {
        println!(
            "rejected:    {rejected} rows in {}",
            dir.join("rejected.jsonl").display()
        );
    }
}

/// The venue, its door rules and the trust list, as `setup` and `status` print them.
pub(super) fn describe(config: &Config, list: &TrustList, now: DateTime<Utc>) {
    let c = &config.config;
    let p = &c.entry_policy;
    println!(
        "venue:       #{} {} ({}, {})",
        c.venue.id, c.venue.name, c.venue.kind, c.venue.district
    );
    let mut rules = vec![format!("{} codes or better", p.max_colour.as_str())];
    if let Some(hours) = p.test_within_hours {
        rules.push(format!("a negative test within {hours} hours"));
    }
    match p.vaccination {
        Some(VaccinationRequirement::PrimaryComplete) => {
            rules.push("a complete primary vaccination".to_owned());
        }
        Some(VaccinationRequirement::BoosterComplete) => {
            rules.push("a booster vaccination".to_owned());
        }
        None => {}
    }
    if p.reminders_block {
        rules.push("no reminder in force".to_owned());
    }
    println!(
        "policy:      {} / {}: {} (policy {})",
        p.label_zh,
        p.label_en,
        rules.join(", "),
        c.policy_version
    );
    let renewal = if now > list.next_update {
        format!(
            "OVERDUE by {}: run setup while online",
            span(now - list.next_update)
        )
    } else {
        format!("due in {}", span(list.next_update - now))
    };
    println!(
        "trust list:  {} #{}, signed {} ago, renewal {renewal}",
        list.region,
        list.sequence,
        span(now - list.issued_at)
    );
}

/// A duration as a person reads it: `3 d 4 h`, `5 h 12 min`, `40 s`.
pub(super) fn span(d: TimeDelta) -> String {
    let s = d.num_seconds().max(0);
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}
