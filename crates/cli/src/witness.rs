//! `healthcode witness`: a C2SP tlog-witness. It cosigns other logs' checkpoints over
//! `POST /add-checkpoint`, after checking each is signed by its log's key and consistent with
//! the last one it cosigned; `healthcode witness key` prints its verifier key.
//!
//! The decisions are `healthcode_tlog::Witness`'s; this module owns the state directory and
//! the HTTP edge. The directory holds:
//!
//! - `witness.key`: the 32-byte Ed25519 seed, created once, mode 0600;
//! - `witness.name`: the name the key cosigns under. The cosigned message does not commit to
//!   the name, so one key must keep one name (tlog-cosignature): another `--name` is refused;
//! - `logs/<SHA-256 of the origin, hex>`: per log, the latest checkpoint cosigned, as the log
//!   signed it with this witness's cosignature added. Replaced atomically and synced before
//!   the cosignature is sent, so that after a crash the witness never cosigns a smaller tree
//!   or another root at a size it has cosigned;
//! - `witness.lock`: held while serving, so two processes never share the state.
//!
//! Each log's state sits behind its own lock, held from the check to the write, so two
//! requests cannot both advance from one state (the race tlog-witness describes).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use clap::{Args, Subcommand};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use healthcode_server::clock::{Clock, SystemClock};
use healthcode_tlog::{
    AddCheckpoint, Checkpoint, CosignatureSigner, LogState, Note, NoteVerifier,
    TLOG_SIZE_CONTENT_TYPE, Witness, WitnessError,
};

use crate::files::{self, Access};

/// The largest request body: a checkpoint with many signatures and 63 proof lines fit in
/// about 12 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

const SEED_FILE: &str = "witness.key";
const NAME_FILE: &str = "witness.name";
const LOCK_FILE: &str = "witness.lock";
const LOGS_DIR: &str = "logs";

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct WitnessArgs {
    #[command(subcommand)]
    command: Option<WitnessCommand>,
    /// Address to listen on (port 0: any free port; the address is printed).
    #[arg(long, required = true)]
    listen: Option<SocketAddr>,
    /// Directory for the witness's key and its state of each log.
    #[arg(long, required = true)]
    state: Option<PathBuf>,
    /// The witness's name, which its cosignatures carry (for example witness.example.org/w1).
    #[arg(long, required = true)]
    name: Option<String>,
    /// A log to witness, by its verifier key `<origin>+<key ID>+<base64 key>`; the key's name
    /// is the log's origin. Repeat for more logs, or for more keys of one log.
    #[arg(long = "log", value_name = "VKEY", required = true, value_parser = parse_log_key)]
    logs: Vec<NoteVerifier>,
}

#[derive(Subcommand)]
enum WitnessCommand {
    /// Print the witness's verifier key (creating the key if the directory has none), without
    /// serving.
    Key {
        /// Directory for the witness's key and its state of each log.
        #[arg(long)]
        state: PathBuf,
        /// The witness's name.
        #[arg(long)]
        name: String,
    },
}

fn parse_log_key(vkey: &str) -> Result<NoteVerifier, String> {
    NoteVerifier::parse(vkey).map_err(|e| e.to_string())
}

pub async fn run(args: WitnessArgs) -> Result<()> {
    if let Some(WitnessCommand::Key { state, name }) = args.command {
        println!("{}", open_signer(&state, &name)?.verifier());
        return Ok(());
    }
    let (Some(listen), Some(state), Some(name)) = (args.listen, args.state, args.name) else {
        bail!("--listen, --state, --name and --log are required");
    };
    crate::init_logging("text");
    serve(listen, &state, &name, &args.logs).await
}

/// The witness's signer: the seed in `dir`, created on first use, under `name`, which must be
/// the name it was first used with.
fn open_signer(dir: &Path, name: &str) -> Result<CosignatureSigner> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let name_path = dir.join(NAME_FILE);
    match std::fs::read_to_string(&name_path) {
        Ok(kept) if kept.strip_suffix('\n') == Some(name) => {}
        Ok(kept) => bail!(
            "{} holds the witness key of {:?}: one key cosigns under one name only",
            dir.display(),
            kept.trim_end()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if !healthcode_tlog::is_valid_key_name(name) {
                bail!("{name:?} cannot name a key: no spaces, plus signs or control characters");
            }
            files::write_atomically(&name_path, format!("{name}\n").as_bytes(), Access::Default)?;
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", name_path.display())),
    }
    let seed = healthcode_store::vault::load_or_create_key(&dir.join(SEED_FILE))?;
    Ok(CosignatureSigner::from_seed(name, &seed)?)
}

/// Where the state of log `origin` is kept: origins may hold any character but newlines.
fn state_path(dir: &Path, origin: &str) -> PathBuf {
    let digest = Sha256::digest(origin.as_bytes());
    dir.join(LOGS_DIR).join(hex::encode(digest))
}

/// The state kept for `origin`, if any: the checkpoint in the file, which must be the log's
/// and carry this witness's valid cosignature. A damaged file stops the witness rather than
/// let it start the log again from nothing.
fn load_state(dir: &Path, origin: &str, signer: &CosignatureSigner) -> Result<Option<LogState>> {
    let path = state_path(dir, origin);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let damaged = || {
        format!(
            "{} (the state of log {origin:?}) is damaged",
            path.display()
        )
    };
    let note = Note::parse(&bytes).with_context(damaged)?;
    let checkpoint = Checkpoint::parse_text(note.text()).with_context(damaged)?;
    if checkpoint.origin() != origin {
        bail!("{}: it is of log {:?}", damaged(), checkpoint.origin());
    }
    healthcode_tlog::witnessed(&note, &[signer.verifier()], 1).with_context(damaged)?;
    Ok(Some(LogState::of(&checkpoint)))
}

struct Witnessing {
    witness: Witness,
    dir: PathBuf,
    /// Each known log's state, behind its own lock.
    logs: HashMap<String, Mutex<Option<LogState>>>,
    clock: Arc<dyn Clock>,
}

async fn serve(listen: SocketAddr, dir: &Path, name: &str, keys: &[NoteVerifier]) -> Result<()> {
    let signer = open_signer(dir, name)?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = std::fs::File::create(&lock_path)
        .with_context(|| format!("cannot create {}", lock_path.display()))?;
    lock.try_lock()
        .map_err(|_| anyhow::anyhow!("another witness is serving from {}", dir.display()))?;
    std::fs::create_dir_all(dir.join(LOGS_DIR))
        .with_context(|| format!("cannot create {}", dir.join(LOGS_DIR).display()))?;

    let mut witness = Witness::new(signer.clone());
    let mut logs = HashMap::new();
    for key in keys {
        witness = witness.with_log(key.name(), key.clone());
        if !logs.contains_key(key.name()) {
            let state = load_state(dir, key.name(), &signer)?;
            logs.insert(key.name().to_owned(), Mutex::new(state));
        }
    }

    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    println!("{}", signer.verifier());
    for (origin, state) in witness.origins().filter_map(|o| Some((o, logs.get(o)?))) {
        let size = state.lock().await.map_or(0, |s| s.size);
        println!("witnessing {origin} from size {size}");
    }
    println!("healthcode witness listening on http://{addr}");

    let app = Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(Arc::new(Witnessing {
            witness,
            dir: dir.to_owned(),
            logs,
            clock: Arc::new(SystemClock),
        }));
    axum::serve(listener, app)
        .with_graceful_shutdown(crate::shutdown_signal())
        .await?;
    drop(lock);
    Ok(())
}

/// `POST /add-checkpoint` (tlog-witness): the cosignature line, or the specification's status
/// for the refusal.
async fn add_checkpoint(State(w): State<Arc<Witnessing>>, body: Bytes) -> Response {
    let request = match AddCheckpoint::parse(&body) {
        Ok(request) => request,
        Err(e) => return refusal(&e),
    };
    let Some(slot) = w.logs.get(request.origin()) else {
        return refusal(&WitnessError::UnknownLog(request.origin().to_owned()));
    };
    let mut state = slot.lock().await;
    let Ok(now) = u64::try_from(w.clock.now().timestamp()) else {
        tracing::error!("the system clock is before 1970");
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the witness's clock is wrong\n",
        )
            .into_response();
    };
    let cosigned = match w.witness.add_checkpoint(&request, *state, now) {
        Ok(cosigned) => cosigned,
        Err(e) => {
            if matches!(e, WitnessError::Fork { .. } | WitnessError::Proof(_)) {
                tracing::warn!(
                    origin = request.origin(),
                    old = request.old_size(),
                    size = request.checkpoint().size(),
                    "refused a checkpoint inconsistent with the witnessed one: {e}"
                );
            }
            return refusal(&e);
        }
    };
    if *state != Some(cosigned.state()) {
        let mut note = request.note().clone();
        if note.add_signature(cosigned.cosignature().clone()).is_err() {
            return refusal(&WitnessError::Malformed(
                "the checkpoint has no room left for a cosignature",
            ));
        }
        let path = state_path(&w.dir, request.origin());
        let text = note.to_string();
        let written = tokio::task::spawn_blocking(move || {
            files::write_atomically(&path, text.as_bytes(), Access::Default)
        })
        .await;
        let failure = match written {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("{e:#}")),
            Err(e) => Some(e.to_string()),
        };
        if let Some(failure) = failure {
            tracing::error!(
                origin = request.origin(),
                "cannot store the log's state: {failure}"
            );
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the witness cannot store its state\n",
            )
                .into_response();
        }
        *state = Some(cosigned.state());
        tracing::info!(
            origin = request.origin(),
            size = request.checkpoint().size(),
            "cosigned"
        );
    }
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        cosigned.response_body(),
    )
        .into_response()
}

fn refusal(error: &WitnessError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(size) = error.conflict_size() {
        return (
            status,
            [(header::CONTENT_TYPE, TLOG_SIZE_CONTENT_TYPE)],
            format!("{size}\n"),
        )
            .into_response();
    }
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{error}\n"),
    )
        .into_response()
}
