//! `healthcode demo generate tests|vaccinations --rows N --out FILE`: realistic import files
//! (see `healthcode_generate`) for demos, tests and benchmarks.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};

use healthcode_generate::{self as generate, Dataset, OutputFormat, Spec};

#[derive(Subcommand)]
pub enum Generate {
    /// One day of mass-testing results from a lab.
    Tests(GenerateArgs),
    /// A vaccination centre's records over two years.
    Vaccinations(GenerateArgs),
    /// Check-ins at venues over the last days, as CSV (`venue_id,subject,at,method,passed`;
    /// `at` in Unix seconds): what `healthcode bench copresence` loads.
    Checkins(CheckinArgs),
}

#[derive(Args)]
pub struct CheckinArgs {
    /// How many people check in.
    #[arg(long, default_value_t = 1_000_000)]
    people: u64,
    /// How many venues (ids 1 to this).
    #[arg(long, default_value_t = 20_000)]
    venues: u64,
    /// Days of check-ins, ending now.
    #[arg(long, default_value_t = 14)]
    days: u64,
    /// Check-ins per person per day, on average.
    #[arg(long, default_value_t = 0.72)]
    per_day: f64,
    #[arg(long, default_value_t = 2022)]
    seed: u64,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
pub struct GenerateArgs {
    /// Rows to write, broken ones included.
    #[arg(long)]
    rows: u64,
    /// The file to write.
    #[arg(long)]
    out: PathBuf,
    /// How many rows to break on purpose (each in a way the import refuses).
    #[arg(long, default_value_t = 0)]
    broken_rows: u64,
    #[arg(long, value_enum, default_value_t = FileFormat::Csv)]
    format: FileFormat,
    #[arg(long, default_value_t = 2022)]
    seed: u64,
    /// Time zone of the local times in the file.
    #[arg(long, default_value = "Asia/Shanghai")]
    timezone: String,
    /// Prefix of every record id.
    #[arg(long, default_value = "LAB1")]
    lab: String,
    /// Share of positive test results.
    #[arg(long, default_value_t = generate::DEFAULT_POSITIVE_RATE)]
    positive_rate: f64,
}

#[derive(Clone, Copy, ValueEnum)]
enum FileFormat {
    Csv,
    Fhir,
}

pub fn run(what: Generate, now: DateTime<Utc>) -> Result<()> {
    let (dataset, a) = match what {
        Generate::Tests(a) => (Dataset::Tests, a),
        Generate::Vaccinations(a) => (Dataset::Vaccinations, a),
        Generate::Checkins(a) => return checkins(&a, now),
    };
    let Ok(tz) = a.timezone.parse() else {
        bail!("unknown time zone {:?}", a.timezone);
    };
    let spec = Spec {
        format: match a.format {
            FileFormat::Csv => OutputFormat::Csv,
            FileFormat::Fhir => OutputFormat::Fhir,
        },
        broken_rows: a.broken_rows,
        seed: a.seed,
        tz,
        lab: a.lab,
        positive_rate: a.positive_rate,
        ..Spec::new(dataset, a.rows, now)
    };
    let file = std::fs::File::create(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let summary = generate::write(&spec, file)
        .with_context(|| format!("cannot write {}", a.out.display()))?;
    let unit = match spec.format {
        OutputFormat::Csv => "lines",
        OutputFormat::Fhir => "entries",
    };
    println!(
        "wrote {} rows to {} ({} positive)",
        summary.rows,
        a.out.display(),
        summary.positives
    );
    if !summary.broken.is_empty() {
        let shown: Vec<String> = summary.broken.iter().take(20).map(u64::to_string).collect();
        let more = if summary.broken.len() > 20 {
            ", …"
        } else {
            ""
        };
        println!(
            "{} broken on purpose, at {unit} {}{more}",
            summary.broken.len(),
            shown.join(", ")
        );
    }
    Ok(())
}

/// The pseudonymous subject of person `n`: 16 bytes from a SplitMix64 stream, so that the
/// same seed and person always give the same subject.
pub fn subject_of(seed: u64, n: u64) -> [u8; 16] {
    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let a = mix(seed ^ n.wrapping_mul(2));
    let b = mix(a ^ n.wrapping_mul(2).wrapping_add(1));
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.to_be_bytes());
    out[8..].copy_from_slice(&b.to_be_bytes());
    out
}

/// Writes `people × days × per_day` check-ins, oldest first and in time order (the order gates
/// report them in). Venue popularity is skewed (a few stations and malls see most visits, as
/// in a city): venue `1 + ⌊venues × u^1.5⌋` for uniform `u`. Visits fall between 07:00 and
/// 22:00 Beijing time (today's up to now); 70 % at gates, 30 % by self check-in; 3 % of gate
/// check-ins were stopped at the door.
fn checkins(a: &CheckinArgs, now: DateTime<Utc>) -> Result<()> {
    use rand::{Rng, SeedableRng};
    use std::io::Write;
    if a.people == 0 || a.venues == 0 || a.days == 0 || a.per_day.is_nan() || a.per_day <= 0.0 {
        bail!("--people, --venues, --days and --per-day must be positive");
    }
    let rows = (a.people as f64 * a.days as f64 * a.per_day).round() as u64;
    let mut rng = rand::rngs::StdRng::seed_from_u64(a.seed);
    let file = std::fs::File::create(&a.out)
        .with_context(|| format!("cannot create {}", a.out.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    // Midnight Beijing time (UTC+8) of today, as Unix seconds.
    let today = (now.timestamp() + 8 * 3600).div_euclid(86_400) * 86_400 - 8 * 3600;
    let end = now.timestamp();
    writeln!(w, "venue_id,subject,at,method,passed")?;
    // Day by day, oldest first, each day in time order: the order gates report them in.
    let per_day = rows.div_ceil(a.days);
    let mut day_rows: Vec<(i64, u64, u64, bool, bool)> = Vec::with_capacity(per_day as usize);
    let mut line = String::with_capacity(96);
    let mut written = 0u64;
    for day in (0..a.days as i64).rev() {
        day_rows.clear();
        let want = per_day.min(rows - written);
        while (day_rows.len() as u64) < want {
            let person = rng.gen_range(0..a.people);
            let u: f64 = rng.r#gen();
            let venue = (1 + ((a.venues as f64) * u.powf(1.5)) as u64).min(a.venues);
            let at = today - day * 86_400 + rng.gen_range(7 * 3600..22 * 3600);
            // Today's visits end now; the rest of the day's share goes to earlier hours.
            let at = if at > end {
                end - rng.gen_range(0..3600)
            } else {
                at
            };
            let gate = rng.gen_bool(0.7);
            let passed = !gate || rng.gen_bool(0.97);
            day_rows.push((at, venue, person, gate, passed));
        }
        day_rows.sort_unstable();
        for &(at, venue, person, gate, passed) in &day_rows {
            line.clear();
            use std::fmt::Write as _;
            let _ = write!(line, "{venue},");
            line.push_str(&hex::encode(subject_of(a.seed, person)));
            let _ = writeln!(
                line,
                ",{at},{},{}",
                if gate { "gate" } else { "self_scan" },
                u8::from(passed)
            );
            w.write_all(line.as_bytes())?;
        }
        written += want;
    }
    w.flush()?;
    println!(
        "wrote {written} check-ins of {} people at {} venues over {} days to {}",
        a.people,
        a.venues,
        a.days,
        a.out.display()
    );
    Ok(())
}
