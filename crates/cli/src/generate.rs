//! `healthcode demo generate tests|vaccinations --rows N --out FILE`: realistic import files
//! (see `healthcode_ingest::generate`) for demos, tests and benchmarks.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand, ValueEnum};

use healthcode_ingest::generate::{self, Dataset, OutputFormat, Spec};

#[derive(Subcommand)]
pub enum Generate {
    /// One day of mass-testing results from a lab.
    Tests(GenerateArgs),
    /// A vaccination centre's records over two years.
    Vaccinations(GenerateArgs),
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
