//! `healthcode venues …` and `healthcode purge`: the venue registry, gate devices and posters
//! from the command line, and the deletion of check-ins past the retention window, all on the
//! database directly (as `providers add` does).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};

use healthcode_credential::{PlaceClaims, issue_place_code};
use healthcode_domain::{Label, Region};
use healthcode_server::clock::{Clock, SystemClock};
use healthcode_server::poster::{PosterVenue, poster_html, poster_svg};
use healthcode_store::{StoreError, Venues};

use crate::config::FileConfig;
use crate::setup::DataDir;
use crate::{DataArgs, load_policy};

#[derive(Subcommand)]
pub enum VenuesCommand {
    /// Register a venue of one of the policy's venue types.
    Add {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        name: String,
        /// A venue type of the policy in force (subway, mall, office, large_event, …).
        #[arg(long)]
        kind: String,
        #[arg(long)]
        district: String,
        #[arg(long, default_value = "")]
        address: String,
        /// The policy document in force, if not the built-in one.
        #[arg(long, env = "HEALTHCODE_POLICY")]
        policy: Option<PathBuf>,
    },
    /// List venues, all or of one district.
    List {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long)]
        district: Option<String>,
    },
    /// Add a gate device to a venue and print its key (shown once; only its hash is stored).
    Device {
        #[command(flatten)]
        data: DataArgs,
        venue_id: i64,
        #[arg(long)]
        name: String,
    },
    /// Write a venue's place-code poster (场所码): SVG, or a print-ready A4 HTML page.
    Poster(PosterArgs),
}

#[derive(Args)]
pub struct PosterArgs {
    #[command(flatten)]
    data: DataArgs,
    venue_id: i64,
    /// The file to write (default: venue-ID.svg or .html in the current directory).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = PosterFormat::Svg)]
    format: PosterFormat,
    #[arg(long, env = "HEALTHCODE_REGION")]
    region: Option<String>,
    #[arg(long, env = "HEALTHCODE_POLICY")]
    policy: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PosterFormat {
    Svg,
    Html,
}

async fn open(
    data: &DataArgs,
) -> Result<(
    FileConfig,
    DataDir,
    std::sync::Arc<healthcode_store::SqlStore>,
)> {
    let file = FileConfig::load(data.config.as_deref())?;
    let dir = DataDir::new(&file.data_dir(data.data_dir.as_deref()))?;
    let store = dir
        .store(file.database_url(data.database_url.as_deref()))
        .await?;
    Ok((file, dir, store))
}

pub async fn run(command: VenuesCommand) -> Result<()> {
    let now = SystemClock.now();
    match command {
        VenuesCommand::Add {
            data,
            name,
            kind,
            district,
            address,
            policy,
        } => {
            let (file, _, store) = open(&data).await?;
            let policy = load_policy(file.policy(policy.as_deref()))?;
            if policy.venue(&kind).is_none() {
                let known: Vec<&str> = policy.venue_types().map(|p| p.kind.as_str()).collect();
                bail!(
                    "unknown venue type {kind:?}: the policy has {}",
                    known.join(", ")
                );
            }
            // The same bounds as the API's (docs/VENUES.md).
            let label = |what: &str, raw: &str, min: usize, max: usize| {
                Label::parse(raw, min, max).map_err(|e| {
                    anyhow::anyhow!("--{what}: {e} ({min} to {max} visible characters)")
                })
            };
            let name = label("name", &name, 1, 100)?;
            let district = label("district", &district, 1, 50)?;
            let address = label("address", &address, 0, 200)?;
            let v = store
                .add_venue(
                    name.as_str(),
                    &kind,
                    district.as_str(),
                    address.as_str(),
                    now,
                )
                .await?;
            println!(
                "Added venue #{}: {} ({}, {})",
                v.id, v.name, v.kind, v.district
            );
            Ok(())
        }
        VenuesCommand::List { data, district } => {
            let (_, _, store) = open(&data).await?;
            for v in store.venues(district.as_deref()).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    v.id, v.kind, v.district, v.name, v.address
                );
            }
            Ok(())
        }
        VenuesCommand::Device {
            data,
            venue_id,
            name,
        } => {
            let (_, _, store) = open(&data).await?;
            let key = healthcode_server::auth::new_device_key();
            let d = match store
                .add_device(
                    venue_id,
                    name.trim(),
                    &healthcode_server::extract::secret_hash(&key),
                    now,
                )
                .await
            {
                Err(StoreError::NotFound) => bail!("there is no venue #{venue_id}"),
                other => other?,
            };
            println!(
                "Added gate device #{} to venue #{}: {}",
                d.id, d.venue_id, d.name
            );
            println!("Device key (shown once, store it now): {key}");
            Ok(())
        }
        VenuesCommand::Poster(a) => poster(a, now).await,
    }
}

async fn poster(a: PosterArgs, now: chrono::DateTime<chrono::Utc>) -> Result<()> {
    let (file, dir, store) = open(&a.data).await?;
    let Some(venue) = store.venue(a.venue_id).await? else {
        bail!("there is no venue #{}", a.venue_id);
    };
    let policy = load_policy(file.policy(a.policy.as_deref()))?;
    let label = policy
        .venue(&venue.kind)
        .map(|p| format!("{} {}", p.label_zh, p.label_en))
        .unwrap_or_else(|| venue.kind.clone());
    let region = file.region(a.region.as_deref());
    let keys = dir.keys(now)?;
    // Issued as of the venue's registration, as the server does: every print is the same.
    let code = issue_place_code(
        &PlaceClaims {
            region: region.clone(),
            venue_id: venue.id,
            issued_at: venue.created_at,
        },
        &keys.code,
    )?;
    let p = PosterVenue {
        id: venue.id,
        name: &venue.name,
        kind: &label,
        district: &venue.district,
        address: &venue.address,
        region: &region,
    };
    let (text, ext) = match a.format {
        PosterFormat::Svg => (poster_svg(&p, &code)?, "svg"),
        PosterFormat::Html => (poster_html(&p, &code)?, "html"),
    };
    let out = a
        .out
        .unwrap_or_else(|| PathBuf::from(format!("venue-{}.{ext}", venue.id)));
    std::fs::write(&out, text).with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "wrote the poster of venue #{} to {}",
        venue.id,
        out.display()
    );
    println!("place code: {code}");
    Ok(())
}

#[derive(Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, env = "HEALTHCODE_TIMEZONE")]
    timezone: Option<String>,
    #[arg(long, env = "HEALTHCODE_POLICY")]
    policy: Option<PathBuf>,
}

/// Deletes check-ins older than the policy's retention window and records the purge.
pub async fn purge(a: PurgeArgs) -> Result<()> {
    let (file, _, store) = open(&a.data).await?;
    let policy = load_policy(file.policy(a.policy.as_deref()))?;
    let region = Region::new(&file.region(None), &file.timezone(a.timezone.as_deref()))?;
    let now = SystemClock.now();
    let cutoff = now - policy.checkins.retention;
    let day = now
        .with_timezone(&region.tz())
        .format("%Y-%m-%d")
        .to_string();
    let purge = store.purge_checkins(cutoff, &day, now).await?;
    println!(
        "deleted {} check-ins from before {} (retention {} days); purge #{} recorded",
        purge.deleted,
        purge.cutoff,
        policy.checkins.retention.num_days(),
        purge.id
    );
    Ok(())
}
