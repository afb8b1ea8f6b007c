//! The `healthcode` binary: `serve`, `demo`, `providers add`, `keys`, `verify`, `trust`,
//! `import`, `certlogic`, `backup`, `restore`, `witness`, `audit`.
//!
//! Settings come from flags, then `HEALTHCODE_*` environment variables, then an optional
//! `--config FILE` (TOML), then defaults. This is the one place that reads the system clock
//! for the server (through `SystemClock`) and installs logging.

mod audit;
mod backup;
mod bench;
mod config;
mod demo;
mod files;
mod gate;
mod generate;
mod import;
mod inspect;
mod setup;
mod trust;
mod venues;
mod verify;
mod witness;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};

use healthcode_domain::{Policy, Region};
use healthcode_ingest::Category;
use healthcode_server::clock::{Clock, SystemClock};
use healthcode_server::identity::{DevelopmentProvider, IdentityProvider};
use healthcode_server::{AppState, ServerConfig};
use healthcode_store::{ProviderKind, Store};

use config::FileConfig;
use setup::DataDir;

#[derive(Parser)]
#[command(
    name = "healthcode",
    version,
    about = "Health-status codes: evidence in, status out, signed codes verified offline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Run a seeded demo region on the embedded database.
    Demo(DemoArgs),
    /// Venues, their gate devices and place-code posters (docs/VENUES.md).
    Venues {
        #[command(subcommand)]
        command: venues::VenuesCommand,
    },
    /// Measure a figure of docs/BENCHMARKS.md against its baseline in the same run.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
    /// Delete check-ins past the policy's retention window (the server also does it hourly).
    Purge(venues::PurgeArgs),
    /// Manage data providers (labs, vaccination centres, CDC, community offices) and operators.
    Providers {
        #[command(subcommand)]
        command: ProvidersCommand,
    },
    /// Manage the region's signing keys and trust list.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Verify a code offline: native, EU DCC or SMART Health Card, as text, from standard
    /// input or from a picture of its QR code (exit 0 valid, 1 invalid, 2 usage).
    Verify(VerifyArgs),
    /// Other regions' trust lists: import, refresh, list (docs/VERIFY.md).
    Trust {
        #[command(subcommand)]
        command: TrustCommand,
    },
    /// Evaluate a CertLogic rule against data ({"external": …, "payload": …}) and print the
    /// result as JSON (exit 0 evaluated, 2 the rule or the data refused).
    Certlogic {
        /// A CertLogic expression, or an EU rule file (its `Logic` is evaluated).
        #[arg(long)]
        rule: PathBuf,
        /// The data the rule reads.
        #[arg(long)]
        data: PathBuf,
    },
    /// A gate device: configure it from the server, check codes offline against the cached
    /// trust list and the venue's entry policy, upload the check-ins when the network is back.
    Gate {
        #[command(subcommand)]
        command: gate::GateCommand,
    },
    /// Copy the embedded database while the server runs (keys are backed up separately;
    /// docs/OPERATIONS.md). For PostgreSQL, use pg_dump.
    Backup(BackupArgs),
    /// Put a backup in place as the data directory's database, after checking it is undamaged
    /// and that the directory's keys open it. Stop the server first.
    Restore(RestoreArgs),
    /// Import a provider's file of evidence (docs/IMPORT.md), into the database or through a
    /// running server.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Cosign other transparency logs' checkpoints as a C2SP tlog-witness, never two roots for
    /// one size nor a smaller tree after a larger; `witness key` prints the witness's key.
    Witness(witness::WitnessArgs),
    /// Audit the transparency log from the outside: a server's log against its key and the
    /// last checkpoint seen (`--server URL --state DIR`), or a receipt (`receipt FILE
    /// --log-key KEY`). Exit 0 verified, 1 refused, 2 not checked.
    Audit(audit::AuditArgs),
}

#[derive(Subcommand)]
enum ImportCommand {
    /// A lab's test results (CSV or FHIR R4). Exit 0: every row accepted; 1: some rows
    /// rejected; 2: the file or the key refused; 3: interrupted (safe to run again).
    Tests(ImportArgs),
    /// A vaccination centre's records (CSV or FHIR R4). Exit codes as for `tests`.
    Vaccinations(ImportArgs),
}

#[derive(Args)]
struct ImportArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The provider's API key.
    #[arg(long, env = "HEALTHCODE_API_KEY", required_unless_present = "check")]
    api_key: Option<String>,
    /// Send the file to this server (for example http://127.0.0.1:8080) instead of writing
    /// to a database directly. The server reads local times in its own time zone; the
    /// database options and --timezone are not used.
    #[arg(long, env = "HEALTHCODE_SERVER")]
    server: Option<String>,
    /// Store every row or none: a file with any rejected row changes nothing.
    #[arg(long)]
    atomic: bool,
    /// Only read and check the file, store nothing (no key or database needed).
    #[arg(long)]
    check: bool,
    /// Time zone of times written without an offset (default: the region's).
    #[arg(long, env = "HEALTHCODE_TIMEZONE")]
    timezone: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    file: PathBuf,
}

#[derive(Args, Clone)]
struct DataArgs {
    /// Directory for keys, the embedded database and the trust list.
    #[arg(long, env = "HEALTHCODE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://… (default: the embedded database in the data dir).
    #[arg(long, env = "HEALTHCODE_DATABASE_URL")]
    database_url: Option<String>,
    /// Configuration file (TOML); flags and environment variables take precedence.
    #[arg(long, env = "HEALTHCODE_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Args)]
struct BackupArgs {
    #[command(flatten)]
    data: DataArgs,
    /// The backup file to write (owner-only, 0600).
    #[arg(long)]
    out: PathBuf,
    /// Replace the file if it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct RestoreArgs {
    /// The data directory (keys/ must be the ones the backup was made with) and the database:
    /// only the embedded one is restored here; PostgreSQL is restored with pg_restore.
    #[command(flatten)]
    data: DataArgs,
    /// The backup file, as `healthcode backup` wrote it.
    #[arg(long)]
    from: PathBuf,
    /// Replace a database the directory already has (it is kept, renamed aside).
    #[arg(long)]
    force: bool,
}

#[derive(Args, Clone)]
struct ServeArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Address to listen on.
    #[arg(long, env = "HEALTHCODE_LISTEN")]
    listen: Option<SocketAddr>,
    /// The address people open the pages at (default http://localhost:PORT). Its host name
    /// scopes passkeys, which browsers refuse to tie to an IP address; an https address makes
    /// the session cookie Secure.
    #[arg(long, env = "HEALTHCODE_PUBLIC_URL")]
    public_url: Option<String>,
    /// Region id, as it appears in codes and the trust list.
    #[arg(long, env = "HEALTHCODE_REGION")]
    region: Option<String>,
    /// The region's IANA time zone; it decides when 24:00 is.
    #[arg(long, env = "HEALTHCODE_TIMEZONE")]
    timezone: Option<String>,
    /// A status policy document (TOML) to use instead of the built-in default.
    #[arg(long, env = "HEALTHCODE_POLICY")]
    policy: Option<PathBuf>,
    /// Enable the development identity provider, which believes every enrolment. Never in
    /// production.
    #[arg(long, env = "HEALTHCODE_DEV_IDENTITY")]
    dev_identity: bool,
    /// The code-signing or root key files were replaced on purpose (a key rotation): record
    /// their ids as this region's instead of refusing to start.
    #[arg(long)]
    accept_new_keys: bool,
    /// Sustained requests per second allowed per client address.
    #[arg(long, env = "HEALTHCODE_RATE_LIMIT_PER_SECOND")]
    rate_limit_per_second: Option<f64>,
    /// Requests a client may burst after being idle.
    #[arg(long, env = "HEALTHCODE_RATE_LIMIT_BURST")]
    rate_limit_burst: Option<f64>,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "HEALTHCODE_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,
    /// Requests in flight before new ones are shed with 503.
    #[arg(long, env = "HEALTHCODE_MAX_IN_FLIGHT")]
    max_in_flight: Option<usize>,
    /// Seconds before a request is stopped with 503.
    #[arg(long, env = "HEALTHCODE_REQUEST_TIMEOUT_SECS")]
    request_timeout_secs: Option<u64>,
    /// Bulk imports running at once; more are refused with 503.
    #[arg(long, env = "HEALTHCODE_MAX_IMPORTS")]
    max_imports: Option<usize>,
    /// Seconds a bulk import may take, upload included.
    #[arg(long, env = "HEALTHCODE_IMPORT_TIMEOUT_SECS")]
    import_timeout_secs: Option<u64>,
    /// Largest file an atomic import (?atomic=true) receives, in bytes; larger ones get 413.
    #[arg(long, env = "HEALTHCODE_MAX_ATOMIC_IMPORT_BYTES")]
    max_atomic_import_bytes: Option<u64>,
    /// Open connections at once; more are closed as soon as they are accepted.
    #[arg(long, env = "HEALTHCODE_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Open connections one client (IPv4 address, IPv6 /64) may hold at once.
    #[arg(long, env = "HEALTHCODE_MAX_CONNECTIONS_PER_CLIENT")]
    max_connections_per_client: Option<usize>,
    /// Seconds a client may take to send a request's headers (or, idle, the next request).
    #[arg(long, env = "HEALTHCODE_HEADER_READ_TIMEOUT_SECS")]
    header_read_timeout_secs: Option<u64>,
    /// Seconds within which a resident asking again gets the code already signed for them
    /// (when their status is unchanged); 0 signs every time.
    #[arg(long, env = "HEALTHCODE_CODE_REUSE_SECS")]
    code_reuse_secs: Option<i64>,
    /// Seconds between readings of the trust folder (other regions' lists, EU signer
    /// certificates, SMART Health Card issuers, acceptance rules).
    #[arg(long, env = "HEALTHCODE_TRUST_RELOAD_SECS", default_value_t = 60)]
    trust_reload_secs: u64,
    /// Log format: text or json.
    #[arg(long, env = "HEALTHCODE_LOG_FORMAT", default_value = "text")]
    log_format: String,
    /// Serve Prometheus metrics (`GET /metrics`) on a listener of its own at this address,
    /// without a token: bind it where only the monitoring system reaches. Off by default.
    #[arg(long, env = "HEALTHCODE_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Serve `GET /metrics` on the main listener too, to requests with `Authorization: Bearer
    /// TOKEN`; without it the main listener has no /metrics. Prefer the environment variable:
    /// a flag shows in the process list.
    #[arg(long, env = "HEALTHCODE_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// A witness that cosigns the transparency log's checkpoints: its base URL and its
    /// cosignature verifier key (`healthcode witness key` prints it). Repeat for each witness
    /// of the region; every node of the region should be given the same list.
    #[arg(long = "witness", value_name = "URL=VKEY", value_parser = parse_witness)]
    witnesses: Vec<healthcode_server::witnesses::Witness>,
    /// Serve HTTPS with this PEM certificate chain (the server's certificate first), for a
    /// deployment without a TLS-terminating proxy. Needs --tls-key.
    #[arg(long, env = "HEALTHCODE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "HEALTHCODE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

fn parse_witness(spec: &str) -> Result<healthcode_server::witnesses::Witness, String> {
    healthcode_server::witnesses::Witness::parse(spec).map_err(|e| e.to_string())
}

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
struct DemoArgs {
    #[command(subcommand)]
    command: Option<DemoCommand>,
    #[command(flatten)]
    serve: ServeArgs,
    /// Seed for the generated residents.
    #[arg(long, default_value_t = 2022)]
    seed: u64,
}

#[derive(Subcommand)]
enum DemoCommand {
    /// Write a realistic import file: valid document numbers, plausible times, a realistic
    /// share of positives, and rows broken on purpose when asked.
    Generate {
        #[command(subcommand)]
        what: generate::Generate,
    },
}

#[derive(Subcommand)]
enum ProvidersCommand {
    /// Add a provider and print its API key (shown once; only its hash is stored).
    Add {
        #[command(flatten)]
        data: DataArgs,
        /// lab, vaccination, cdc, community or operator.
        #[arg(long)]
        kind: String,
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create the master, code-signing and root keys if they do not exist.
    Generate {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Rotate the code-signing key without downtime. The first run stages a new key: every
    /// node lists it in its trust list (copy keys/code-signing-next.* to the other nodes), but
    /// nothing is signed with it. Once verifiers have fetched that list, `--activate` makes it
    /// the key that signs and retires the old one, which stays listed for what it signed.
    Rotate {
        #[command(flatten)]
        data: DataArgs,
        /// Make the staged key the code-signing key.
        #[arg(long)]
        activate: bool,
    },
    /// Write the region's signed trust list.
    TrustList {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, env = "HEALTHCODE_REGION")]
        region: Option<String>,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum TrustCommand {
    /// Import another region's signed trust list from a file or a URL (its
    /// /api/v1/trust-list). The first import pins the region's root key; later lists must be
    /// signed by it and may not be older.
    Import {
        #[command(flatten)]
        data: DataArgs,
        /// A file or an http(s) URL.
        source: String,
        /// The region's root public key (64 hex digits), confirmed out of band.
        #[arg(long)]
        root: Option<String>,
        /// This node's region (to refuse importing its own list).
        #[arg(long, env = "HEALTHCODE_REGION")]
        region: Option<String>,
    },
    /// Import again every region imported from a URL or file (run it from cron).
    Refresh {
        #[command(flatten)]
        data: DataArgs,
        #[arg(long, env = "HEALTHCODE_REGION")]
        region: Option<String>,
    },
    /// List the imported regions.
    List {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Args)]
struct VerifyArgs {
    /// The code text; - to read it from standard input; or a file (a PNG or JPEG picture of
    /// the QR code, or text).
    code: String,
    /// A region's trust-list file (repeatable).
    #[arg(long = "trust-list")]
    trust_lists: Vec<PathBuf>,
    /// An EU signer certificate (DSC), DER, PEM or base64 (repeatable).
    #[arg(long = "dsc")]
    dscs: Vec<PathBuf>,
    /// A SMART Health Card issuer's key set: ISSUER=FILE (repeatable).
    #[arg(long, value_name = "ISSUER=FILE")]
    jwks: Vec<String>,
    /// A SMART Health Card issuer's revocation list: ISSUER=FILE (repeatable).
    #[arg(long, value_name = "ISSUER=FILE")]
    crl: Vec<String>,
    /// An acceptance rule for EU certificates, in the EU rule format (repeatable).
    #[arg(long = "rule")]
    rules: Vec<PathBuf>,
    /// Value sets the rules read (JSON: value set id → codes).
    #[arg(long)]
    value_sets: Option<PathBuf>,
    /// Also trust what this data directory trusts: its region and trust/.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Verify as at this instant (RFC 3339) instead of now.
    #[arg(long)]
    at: Option<DateTime<Utc>>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Verify(a) => {
            let args = verify::Args {
                code: a.code,
                trust_lists: a.trust_lists,
                dscs: a.dscs,
                jwks: a.jwks,
                crls: a.crl,
                rules: a.rules,
                value_sets: a.value_sets,
                data_dir: a.data_dir,
                at: a.at.unwrap_or_else(|| SystemClock.now()),
                json: a.json,
            };
            match verify::run(args) {
                Ok(verify::Outcome::Valid) => ExitCode::SUCCESS,
                Ok(verify::Outcome::Invalid) => ExitCode::from(1),
                Err(msg) => {
                    eprintln!("healthcode verify: {msg}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Certlogic { rule, data } => match certlogic(&rule, &data) {
            Ok(result) => {
                println!("{result}");
                ExitCode::SUCCESS
            }
            Err(msg) => {
                eprintln!("healthcode certlogic: {msg}");
                ExitCode::from(2)
            }
        },
        other => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("healthcode: cannot start the runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let result = match other {
                Command::Import { command } => runtime.block_on(run_import(command)),
                Command::Gate { command } => runtime.block_on(gate::run(command)),
                Command::Audit(args) => Ok(runtime.block_on(audit::run(args))),
                other => runtime.block_on(run(other)).map(|()| ExitCode::SUCCESS),
            };
            match result {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("healthcode: {e:#}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

async fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve(args) => {
            let prepared = prepare(&args).await?;
            serve(prepared, None).await
        }
        Command::Demo(DemoArgs {
            command: Some(DemoCommand::Generate { what }),
            ..
        }) => generate::run(what, SystemClock.now()),
        Command::Demo(args) => demo(args).await,
        Command::Providers {
            command: ProvidersCommand::Add { data, kind, name },
        } => {
            let kind = ProviderKind::parse(&kind).with_context(|| {
                format!(
                    "unknown provider kind {kind:?}: use lab, vaccination, cdc, community or operator"
                )
            })?;
            let file = FileConfig::load(data.config.as_deref())?;
            let dir = DataDir::new(&file.data_dir(data.data_dir.as_deref()))?;
            let store = dir
                .store(file.database_url(data.database_url.as_deref()))
                .await?;
            let key = healthcode_server::auth::new_provider_key();
            let now = SystemClock.now();
            let p = store
                .add_provider(
                    kind,
                    &name,
                    &healthcode_server::extract::secret_hash(&key),
                    now,
                )
                .await?;
            println!("Added {} provider #{}: {}", kind.as_str(), p.id, p.name);
            println!("API key (shown once, store it now): {key}");
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Generate { data },
        } => {
            let file = FileConfig::load(data.config.as_deref())?;
            let dir = DataDir::new(&file.data_dir(data.data_dir.as_deref()))?;
            dir.vault()?;
            let keys = dir.keys(SystemClock.now())?;
            println!("keys in {}", dir.path.join("keys").display());
            println!("code-signing key id {}", hex::encode(keys.code.kid()));
            println!("root key id         {}", hex::encode(keys.root.kid()));
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate { data, activate },
        } => {
            use healthcode_store::{KeyEvent, Log as _};
            let file = FileConfig::load(data.config.as_deref())?;
            let dir = DataDir::new(&file.data_dir(data.data_dir.as_deref()))?;
            let store = dir
                .store(file.database_url(data.database_url.as_deref()))
                .await?;
            let now = SystemClock.now();
            if activate {
                let (old, new) = dir.activate_code_key(now)?;
                store.set_pin("code_signing_kid", &new.kid()).await?;
                store
                    .record_key_event(KeyEvent::Retired, &old.public_key(), &old.kid(), now)
                    .await?;
                store
                    .record_key_event(KeyEvent::Activated, &new.public_key(), &new.kid(), now)
                    .await?;
                println!(
                    "code-signing key {} activated; {} retired (listed for what it signed, valid until {} minutes from now)",
                    hex::encode(new.kid()),
                    hex::encode(old.kid()),
                    setup::RETIRE_GRACE_MINUTES
                );
                println!(
                    "copy {} and code-signing.json to every other node; running nodes sign with it at their next reading of keys/",
                    dir.path.join("keys/code-signing.key").display()
                );
            } else {
                let new = dir.stage_code_key(now)?;
                store
                    .record_key_event(KeyEvent::Staged, &new.public_key(), &new.kid(), now)
                    .await?;
                println!(
                    "code-signing key {} staged: trust lists list it from the nodes' next reading of keys/, and nothing is signed with it yet",
                    hex::encode(new.kid())
                );
                println!(
                    "copy {} and code-signing-next.json to every other node; once verifiers have the new list, run `healthcode keys rotate --activate`",
                    dir.path.join("keys/code-signing-next.key").display()
                );
            }
            store.close().await;
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::TrustList { data, region, out },
        } => {
            let file = FileConfig::load(data.config.as_deref())?;
            let dir = DataDir::new(&file.data_dir(data.data_dir.as_deref()))?;
            let now = SystemClock.now();
            let region = file.region(region.as_deref());
            let text = dir.keys(now)?.trust_list(&region, now)?;
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("cannot write {}", path.display()))?,
                None => println!("{text}"),
            }
            Ok(())
        }
        Command::Backup(args) => {
            let file = FileConfig::load(args.data.config.as_deref())?;
            let data_dir = file.data_dir(args.data.data_dir.as_deref());
            let source = backup::source_url(
                &data_dir,
                file.database_url(args.data.database_url.as_deref()),
            )?;
            let size = backup::backup(&source, &args.out, args.force).await?;
            println!(
                "database copied to {} ({size} bytes); it does not hold the keys: back up {} separately",
                args.out.display(),
                data_dir.join("keys").display()
            );
            Ok(())
        }
        Command::Restore(args) => {
            let file = FileConfig::load(args.data.config.as_deref())?;
            let dir = DataDir::new(&file.data_dir(args.data.data_dir.as_deref()))?;
            backup::restorable(&dir, file.database_url(args.data.database_url.as_deref()))?;
            let done = backup::restore(&dir, &args.from, args.force, SystemClock.now()).await?;
            if let Some(aside) = done.set_aside {
                println!("the previous database is kept as {}", aside.display());
            }
            println!(
                "restored {} into {}; the keys in keys/ open it",
                args.from.display(),
                dir.path.join("healthcode.db").display()
            );
            Ok(())
        }
        Command::Trust { command } => run_trust(command).await,
        Command::Venues { command } => venues::run(command).await,
        Command::Purge(args) => venues::purge(args).await,
        Command::Bench { command } => bench::run(command).await,
        Command::Witness(args) => witness::run(args).await,
        Command::Verify(_)
        | Command::Import { .. }
        | Command::Gate { .. }
        | Command::Audit(_)
        | Command::Certlogic { .. } => Ok(()),
    }
}

async fn run_trust(command: TrustCommand) -> Result<()> {
    let now = SystemClock.now();
    match command {
        TrustCommand::Import {
            data,
            source,
            root,
            region,
        } => {
            let file = FileConfig::load(data.config.as_deref())?;
            let dir = DataDir::new(&file.data_dir(data.data_dir.as_deref()))?;
            let own = file.region(region.as_deref());
            let done = trust::import(&dir.path, &own, &source, root.as_deref()).await?;
            print_imported(&done);
            Ok(())
        }
        TrustCommand::Refresh { data, region } => {
            let file = FileConfig::load(data.config.as_deref())?;
            let dir = DataDir::new(&file.data_dir(data.data_dir.as_deref()))?;
            let own = file.region(region.as_deref());
            let mut failed = 0;
            for (name, result) in trust::refresh(&dir.path, &own).await {
                match result {
                    Ok(done) => print_imported(&done),
                    Err(e) => {
                        failed += 1;
                        eprintln!("{name}: not refreshed: {e:#}");
                    }
                }
            }
            if failed > 0 {
                anyhow::bail!("{failed} region(s) not refreshed");
            }
            Ok(())
        }
        TrustCommand::List { data } => {
            let file = FileConfig::load(data.config.as_deref())?;
            let dir = DataDir::new(&file.data_dir(data.data_dir.as_deref()))?;
            for line in trust::describe(&dir.path, now) {
                println!("{line}");
            }
            Ok(())
        }
    }
}

fn print_imported(done: &trust::Imported) {
    let what = match done.update {
        healthcode_verify::regions::Update::New => "imported".to_owned(),
        healthcode_verify::regions::Update::Replaced { previous_sequence } => {
            format!("updated from list {previous_sequence}")
        }
        healthcode_verify::regions::Update::Unchanged => "unchanged".to_owned(),
    };
    println!(
        "{}: list {} with {} key(s), {what}; root key {}",
        done.region, done.sequence, done.keys, done.root
    );
}

/// `healthcode certlogic`: the rule's result on the data, as JSON.
fn certlogic(rule: &std::path::Path, data: &std::path::Path) -> Result<String, String> {
    let read = |path: &std::path::Path| -> Result<serde_json::Value, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
    };
    let rule = read(rule)?;
    let data = read(data)?;
    // An EU rule file carries its expression in `Logic`.
    let logic = rule.get("Logic").unwrap_or(&rule);
    let result = healthcode_certlogic::evaluate(logic, &data).map_err(|e| e.to_string())?;
    Ok(result.to_string())
}

/// `healthcode import …`: exit 0 when every row was accepted and stored, 1 when some were
/// rejected, 2 when the file or the key was refused, 3 when the import was interrupted.
async fn run_import(command: ImportCommand) -> Result<ExitCode> {
    let (category, args) = match command {
        ImportCommand::Tests(a) => (Category::Tests, a),
        ImportCommand::Vaccinations(a) => (Category::Vaccinations, a),
    };
    let api_key = args.api_key.clone().unwrap_or_default();
    let config = FileConfig::load(args.data.config.as_deref())?;
    let tz_name = config.timezone(args.timezone.as_deref());
    let tz: chrono_tz::Tz = tz_name
        .parse()
        .map_err(|_| anyhow::anyhow!("unknown time zone {tz_name:?}"))?;
    let ended = match &args.server {
        _ if args.check => {
            let policy = load_policy(config.policy(None))?;
            import::check(&policy, &args.file, category, tz, SystemClock.now())?
        }
        Some(server) => import::remote(server, &api_key, &args.file, category, args.atomic).await?,
        None => {
            let policy = Arc::new(load_policy(config.policy(None))?);
            let dir = DataDir::new(&config.data_dir(args.data.data_dir.as_deref()))?;
            let store = dir
                .store(config.database_url(args.data.database_url.as_deref()))
                .await?;
            let ended = import::direct(
                store.clone(),
                policy,
                &api_key,
                &args.file,
                category,
                args.atomic,
                tz,
                SystemClock.now(),
            )
            .await?;
            store.close().await;
            ended
        }
    };
    let report = match ended {
        import::Ended::Report(report) => report,
        import::Ended::Refused(why) => {
            eprintln!("healthcode import: {why}");
            return Ok(ExitCode::from(2));
        }
        import::Ended::Interrupted(why) => {
            eprintln!("healthcode import: {why}");
            return Ok(ExitCode::from(3));
        }
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        import::print(&report);
    }
    Ok(
        if report.rejected_count == 0 && (report.committed || args.check) {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

fn load_policy(path: Option<PathBuf>) -> Result<Policy> {
    Ok(load_policy_document(path)?.0)
}

/// The policy and the SHA-256 of its document (the built-in one's, without a file).
fn load_policy_document(path: Option<PathBuf>) -> Result<(Policy, [u8; 32])> {
    use sha2::Digest as _;
    let text = match path {
        Some(path) => std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read policy {}", path.display()))?,
        None => healthcode_domain::policy::DEFAULT_POLICY_TOML.to_owned(),
    };
    let policy = Policy::from_toml(&text)?;
    Ok((policy, sha2::Sha256::digest(text.as_bytes()).into()))
}

/// Everything `serve` and `demo` need, resolved from flags, environment and config file.
struct Prepared {
    dir: DataDir,
    store: Arc<dyn Store>,
    state: AppState,
    listen: SocketAddr,
    /// Where the metrics listener binds, if there is one.
    metrics_listen: Option<SocketAddr>,
    /// The token `/metrics` asks for on the main listener, if it is served there.
    metrics_token: Option<String>,
    keys: setup::Keys,
    trust_reload: std::time::Duration,
    /// TLS for the main listener, if it serves HTTPS itself.
    tls: Option<healthcode_server::tls::Tls>,
}

async fn prepare(args: &ServeArgs) -> Result<Prepared> {
    let file = FileConfig::load(args.data.config.as_deref())?;
    init_logging(&args.log_format);
    let dir = DataDir::new(&file.data_dir(args.data.data_dir.as_deref()))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    let region = Region::new(
        &file.region(args.region.as_deref()),
        &file.timezone(args.timezone.as_deref()),
    )?;
    let (policy, policy_digest) = load_policy_document(file.policy(args.policy.as_deref()))?;
    let store: Arc<dyn Store> = dir
        .store(file.database_url(args.data.database_url.as_deref()))
        .await?;
    let mut keys = dir.keys(now)?;
    if keys.code_not_after - now < chrono::Duration::days(30) {
        tracing::warn!(
            not_after = %keys.code_not_after,
            "the code-signing key is valid for less than 30 days; codes signed after that are refused"
        );
    }
    if now > keys.code_not_after {
        anyhow::bail!(
            "the code-signing key expired at {}: every code it signed would be refused; rotate the key",
            keys.code_not_after
        );
    }
    // Every node on one database must sign with the same keys (docs/SECURITY.md).
    for (what, kid) in [
        ("code_signing_kid", keys.code.kid()),
        ("root_kid", keys.root.kid()),
    ] {
        if let Some(other) = store.pin(what, &kid).await? {
            anyhow::bail!(
                "this node's {what} is {} but the database belongs to a region whose {what} is {}: \
                 copy keys/ from an existing node, or after a deliberate rotation start once with \
                 --accept-new-keys (docs/SECURITY.md)",
                hex::encode(kid),
                hex::encode(other)
            );
        }
    }
    // The policy in force is a leaf of the log whenever it changes.
    if store
        .record_policy(&policy.version, &policy_digest, now)
        .await?
    {
        tracing::info!(version = %policy.version, "policy put in force, recorded in the log");
    }
    let mut config = ServerConfig::default();
    let flags = config::Limits {
        rate_limit_per_second: args.rate_limit_per_second,
        rate_limit_burst: args.rate_limit_burst,
        max_body_bytes: args.max_body_bytes,
        max_in_flight: args.max_in_flight,
        request_timeout_secs: args.request_timeout_secs,
        max_imports: args.max_imports,
        import_timeout_secs: args.import_timeout_secs,
        max_atomic_import_bytes: args.max_atomic_import_bytes,
        max_connections: args.max_connections,
        max_connections_per_client: args.max_connections_per_client,
        header_read_timeout_secs: args.header_read_timeout_secs,
        code_reuse_secs: args.code_reuse_secs,
    };
    file.apply(&flags, &mut config)?;
    let listen = file.listen(args.listen);
    let metrics_listen = file.metrics_listen(args.metrics_listen);
    let metrics_token = file.metrics_token(args.metrics_token.as_deref());
    if let Some(token) = &metrics_token {
        config.metrics_token = Some(
            healthcode_server::metrics::MetricsToken::new(token)
                .context("the metrics token is empty")?,
        );
    }
    let tls = match file.tls(args.tls_cert.as_deref(), args.tls_key.as_deref())? {
        Some((cert, key)) => Some(
            healthcode_server::tls::Tls::from_pem_files(&cert, &key)
                .context("cannot set up TLS")?,
        ),
        None => None,
    };
    config.public_url = match &args.public_url {
        Some(url) => {
            let parsed =
                url::Url::parse(url).with_context(|| format!("--public-url {url} is not a URL"))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.domain().is_none() {
                anyhow::bail!(
                    "--public-url must be http(s) with a host name (passkeys cannot be tied to an IP address): {url}"
                );
            }
            url.trim_end_matches('/').to_owned()
        }
        None => format!(
            "{}://localhost:{}",
            if tls.is_some() { "https" } else { "http" },
            listen.port()
        ),
    };
    let identity: Option<Arc<dyn IdentityProvider>> = (args.dev_identity || file.dev_identity())
        .then(|| Arc::new(DevelopmentProvider) as Arc<dyn IdentityProvider>);
    if identity.is_some() {
        tracing::warn!("the development identity provider is enabled: enrolment is not proofed");
    }
    tracing::info!(
        region = region.id(),
        policy = %policy.version,
        code_key = %hex::encode(keys.code.kid()),
        "prepared"
    );
    // The log is named by the address it is first served at, without the scheme (C2SP
    // tlog-checkpoint's origin), and keeps that name for good: the database pins it, as it
    // pins the log's key, so that a restart on another port or address goes on signing the
    // same log, and a node given a different log key refuses to start.
    let first_origin = format!(
        "{}/log",
        config
            .public_url
            .trim_start_matches("https://")
            .trim_start_matches("http://")
    );
    let origin = match store.pin("log_origin", first_origin.as_bytes()).await? {
        Some(pinned) => String::from_utf8(pinned).context("the pinned log origin is not text")?,
        None => first_origin,
    };
    let log_key = healthcode_server::log::LogKey::new(&origin, &keys.log.seed())
        .with_context(|| format!("{origin} cannot name a log"))?
        .with_witnesses(args.witnesses.clone());
    let verifier = log_key.verifier().to_string();
    if let Some(other) = store.pin("log_key", &keys.log.public_key()).await? {
        anyhow::bail!(
            "this node's transparency log key is {verifier} but the database's log was signed \
             by another key ({}): copy keys/log.key from an existing node (docs/SECURITY.md)",
            hex::encode(other)
        );
    }
    keys.log_verifier = Some(verifier.clone());
    let trust_list = keys.trust_list(region.id(), now)?;
    files::write_atomically(
        &dir.trust_list_path(),
        trust_list.as_bytes(),
        files::Access::Default,
    )?;
    let state = AppState::new(
        store.clone(),
        policy,
        region,
        keys.code.clone(),
        trust_list,
        identity,
        clock,
        config,
    );
    for witness in log_key.witnesses() {
        tracing::info!(
            witness = %witness.verifier(),
            url = witness.url(),
            "the log's checkpoints go to this witness"
        );
    }
    state.set_log(log_key);
    Ok(Prepared {
        dir,
        store,
        state,
        listen,
        metrics_listen,
        metrics_token,
        keys,
        trust_reload: std::time::Duration::from_secs(args.trust_reload_secs.max(1)),
        tls,
    })
}

async fn serve(p: Prepared, demo: Option<demo::DemoFile>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(p.listen)
        .await
        .with_context(|| format!("cannot listen on {}", p.listen))?;
    let addr = listener.local_addr()?;
    let scheme = if p.tls.is_some() { "https" } else { "http" };
    let metrics_listener = match p.metrics_listen {
        Some(at) => Some(
            tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen for metrics on {at}"))?,
        ),
        None => None,
    };
    let metrics_url = match &metrics_listener {
        Some(l) => Some(format!("http://{}/metrics", l.local_addr()?)),
        None => p
            .metrics_token
            .is_some()
            .then(|| format!("{scheme}://{addr}/metrics")),
    };
    let demo_resident = demo.as_ref().and_then(|d| {
        d.residents
            .iter()
            .find(|r| {
                r.profile == "green_recent_test"
                    && r.document_type == healthcode_domain::DocumentType::ResidentId
            })
            .map(|r| (r.name.clone(), r.document_number.clone()))
    });
    if let Some(mut demo) = demo {
        demo.base_url = format!("{scheme}://{addr}");
        demo.metrics_url.clone_from(&metrics_url);
        demo.metrics_token.clone_from(&p.metrics_token);
        let path = p.dir.path.join("demo.json");
        // The demo's residents' session tokens are in it: the owner's alone.
        files::write_atomically(
            &path,
            &serde_json::to_vec_pretty(&demo)?,
            files::Access::OwnerOnly,
        )?;
        println!(
            "demo region ready: {} residents; details in {}",
            demo.residents.len(),
            path.display()
        );
    }
    println!("healthcode listening on {scheme}://{addr}");
    let public_url = p.state.config.public_url.clone();
    println!("open {public_url}/ in a browser for the resident's pages");
    if let Some(resident) = &demo_resident {
        println!(
            "  try registering as demo resident {} (resident identity card {}), whose code is green",
            resident.0, resident.1
        );
    }
    if let Some(url) = &metrics_url {
        let how = if metrics_listener.is_some() {
            "no token"
        } else {
            "Authorization: Bearer with the metrics token"
        };
        println!("Prometheus metrics at {url} ({how})");
    }
    tracing::info!(%addr, "listening");
    let metrics = metrics_listener.map(|l| {
        tokio::spawn(healthcode_server::metrics::serve(
            l,
            p.state.clone(),
            std::future::pending(),
        ))
    });
    let reload = tokio::spawn(keep_trust(
        p.state.clone(),
        setup::DataDir {
            path: p.dir.path.clone(),
        },
        p.keys,
        p.trust_reload,
    ));
    let served = healthcode_server::serve_with(listener, p.state, p.tls, shutdown_signal()).await;
    reload.abort();
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// Every `every`: reads `keys/` again, and when the code keys changed (`healthcode keys
/// rotate`: a key staged, activated or retired) signs new codes with the new code key and
/// publishes a trust list listing them, with no restart; re-signs the list every day anyway,
/// so that a long-running server never serves one past its `next_update` (a week after
/// signing); then reads the trust folder, so that `healthcode trust import` and `refresh` take
/// effect without a restart. A file that does not read is left out and logged; the rest still
/// counts.
async fn keep_trust(
    state: AppState,
    dir: setup::DataDir,
    mut keys: setup::Keys,
    every: std::time::Duration,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_problems = Vec::new();
    let mut signed_at = std::time::Instant::now();
    tick.tick().await;
    loop {
        tick.tick().await;
        let now = state.clock.now();
        let read = {
            let dir = setup::DataDir {
                path: dir.path.clone(),
            };
            tokio::task::spawn_blocking(move || dir.existing_keys(now)).await
        };
        let changed = match read {
            Ok(Ok(fresh))
                if fresh.root.kid() != keys.root.kid() || fresh.log.kid() != keys.log.kid() =>
            {
                tracing::error!(
                    "keys/root.key or keys/log.key changed under a running server: ignored; \
                     they are not rotated this way (docs/SECURITY.md)"
                );
                false
            }
            Ok(Ok(mut fresh)) => {
                fresh.log_verifier = keys.log_verifier.clone();
                let changed = fresh.fingerprint() != keys.fingerprint();
                if fresh.code.kid() != keys.code.kid() {
                    tracing::info!(
                        kid = %hex::encode(fresh.code.kid()),
                        "signing codes with a new code-signing key"
                    );
                    state.set_issuer(fresh.code.clone());
                }
                keys = fresh;
                changed
            }
            Ok(Err(e)) => {
                tracing::error!(error = %format!("{e:#}"), "cannot read keys/: keeping the keys in use");
                false
            }
            Err(e) => {
                tracing::error!(error = %e, "the key reader stopped");
                false
            }
        };
        if changed || signed_at.elapsed() >= std::time::Duration::from_secs(24 * 3600) {
            match keys.trust_list(state.region.id(), now) {
                Ok(signed) => {
                    if let Err(e) = files::write_atomically(
                        &dir.trust_list_path(),
                        signed.as_bytes(),
                        files::Access::Default,
                    ) {
                        tracing::warn!(error = %format!("{e:#}"), "cannot write trust-list.json");
                    }
                    state.set_trust_list(signed);
                    signed_at = std::time::Instant::now();
                    tracing::info!("trust list re-signed");
                }
                Err(e) => tracing::error!(error = %e, "cannot re-sign the trust list"),
            }
        }
        let own = state.trust_list();
        // EU rules read `external.countryCode`: the region's country (CN for CN-BJ).
        let country = state
            .region
            .id()
            .split('-')
            .next()
            .unwrap_or_default()
            .to_owned();
        let folder = dir.path.clone();
        let loaded =
            tokio::task::spawn_blocking(move || trust::load(&folder, &own, &country)).await;
        match loaded {
            Ok(Ok((trust, problems))) => {
                if problems != last_problems {
                    for p in &problems {
                        tracing::warn!(problem = %p, "trust material left out");
                    }
                    last_problems = problems;
                }
                state.set_verifier(trust);
            }
            Ok(Err(e)) => tracing::error!(error = %e, "cannot read the trust folder"),
            Err(e) => tracing::error!(error = %e, "the trust folder reader stopped"),
        }
    }
}

async fn demo(args: DemoArgs) -> Result<()> {
    let mut serve_args = args.serve.clone();
    serve_args.dev_identity = true;
    // The demo serves its metrics on the main listener, with a token of its own unless given
    // one; demo.json says where and with what.
    serve_args
        .metrics_token
        .get_or_insert_with(healthcode_server::auth::new_metrics_token);
    let prepared = prepare(&serve_args).await?;
    let demo_path = prepared.dir.path.join("demo.json");
    let existing = std::fs::read(&demo_path)
        .ok()
        .and_then(|b| serde_json::from_slice::<demo::DemoFile>(&b).ok());
    let demo = match existing {
        Some(mut d) if prepared.store.count_people().await? > 0 => {
            println!("reusing the demo region in {}", prepared.dir.path.display());
            demo::refresh_tokens(prepared.store.as_ref(), &mut d, prepared.state.clock.now())
                .await?;
            d
        }
        _ if prepared.store.count_people().await? > 0 => anyhow::bail!(
            "{} holds a database but no readable demo.json: use an empty --data-dir for the demo",
            prepared.dir.path.display()
        ),
        _ => {
            println!("seeding the demo region ({} residents)…", demo::RESIDENTS);
            demo::seed(
                prepared.store.as_ref(),
                prepared.state.region.id(),
                &std::path::absolute(prepared.dir.trust_list_path())?,
                prepared.state.clock.now(),
                args.seed,
            )
            .await?
        }
    };
    serve(prepared, Some(demo)).await
}

fn init_logging(format: &str) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("HEALTHCODE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
