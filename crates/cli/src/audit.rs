//! `healthcode audit`: checking the transparency log (docs/FORMAT.md §10) from the outside, with
//! nothing but what the log serves and its key.
//!
//! - `healthcode audit --server URL [--state DIR] [--log-key KEY]` is a C2SP tlog-tiles
//!   client. It opens the log's checkpoint with the log's key, refuses a checkpoint smaller
//!   than the last one seen (a rollback) or one whose tree does not extend it (a fork),
//!   fetches every entry bundle and hash tile of the tree, checks that each tile hashes from
//!   the entries or tiles below it and that they all hash to the checkpoint's root, and checks
//!   the RFC 9162 consistency proof from the last checkpoint seen, computed from those tiles.
//!   `--state` keeps the log's key (pinned on first use) and the last checkpoint verified.
//! - `healthcode audit receipt FILE --log-key KEY` checks a resident's receipt (§10.4): the
//!   record against its entry's commitment, and the entry's tlog-proof against the log's key.
//!
//! Exit status: 0 verified; 1 refused (the log or the receipt failed a check, and the message
//! names which); 2 not checked (bad arguments, the server unreachable or answering an error,
//! unreadable files).
//!
//! This module owns fetching, the order of the checks, the state directory and what is
//! printed. It does not own the formats and proofs (`healthcode_tlog`), entries and receipts
//! (`healthcode_store::leaf`), or serving the log (the server's `/log/`).

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use healthcode_store::leaf::{Entry, LeafError, Receipt};
use healthcode_tlog::{
    Checkpoint, CheckpointError, CosignatureError, CosignatureVerifier, Hash, Note, NoteVerifier,
    ProofError, Tile, TlogProof, TlogProofError, consistency_proof_from_tiles, leaf_hash,
    parse_entry_bundle, root_from_tiles, root_of, subtree_from_tiles, tile_from_bytes,
    tiles_for_size, verify_consistency, witnessed,
};

use crate::files::{self, Access};

/// A tile is at most 256 hashes of 32 bytes.
const MAX_TILE_BYTES: usize = 256 * 32;
/// A healthcode entry is at most about 210 bytes (docs/FORMAT.md §10.1), so a bundle of 256
/// is about 54 KB; this leaves room without letting a server stream without end.
const MAX_BUNDLE_BYTES: usize = 1024 * 1024;
/// Room for the log's signature and as many witness cosignatures as a note may carry.
const MAX_CHECKPOINT_BYTES: usize = 16 * 1024;
const MAX_KEY_BYTES: usize = 1024;
const MAX_RECEIPT_BYTES: u64 = 1024 * 1024;
/// Per request, from connecting to the last byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The files of `--state`.
const KEY_FILE: &str = "log-key";
const CHECKPOINT_FILE: &str = "checkpoint";

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    command: Option<AuditCommand>,
    /// Audit the log this server serves under /log/ (for example http://127.0.0.1:8080).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// Keep the log's key and the last checkpoint verified here, so that the next audit
    /// refuses a rollback or a fork. Created if missing.
    #[arg(long, value_name = "DIR")]
    state: Option<PathBuf>,
    /// The log's note verifier key, `<origin>+<key id>+<base64>`, as published in the
    /// region's trust list. Without it, the key pinned in --state, else the one the server
    /// serves at /log/key (then pinned).
    #[arg(long, value_name = "KEY")]
    log_key: Option<String>,
    #[command(flatten)]
    witnesses: WitnessArgs,
    /// Instead: check a data directory's database against its log (every record against its
    /// leaf's commitment, every record has its leaf, the leaves give the newest checkpoint),
    /// as the operator or an inspector with database access.
    #[arg(long, value_name = "DIR", conflicts_with = "server")]
    data_dir: Option<PathBuf>,
    /// With --data-dir: the database, if not the directory's embedded one.
    #[arg(long, value_name = "URL", requires = "data_dir")]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check a receipt (docs/FORMAT.md §10.4): its record against its entry, and the entry's
    /// proof against the log's key.
    Receipt {
        /// The receipt, as JSON.
        file: PathBuf,
        /// The log's note verifier key, `<origin>+<key id>+<base64>`.
        #[arg(long, value_name = "KEY")]
        log_key: String,
        #[command(flatten)]
        witnesses: WitnessArgs,
    },
}

/// The witnesses whose cosignatures a checkpoint must carry.
#[derive(Args, Clone, Default)]
struct WitnessArgs {
    /// A witness's cosignature verifier key, `<name>+<key id>+<base64>` (as `healthcode witness
    /// key` prints it); repeat for each witness of the region.
    #[arg(long = "witness", value_name = "VKEY")]
    keys: Vec<String>,
    /// How many of the --witness keys must have cosigned the checkpoint (default: all of them).
    #[arg(long, value_name = "K")]
    min_witnesses: Option<usize>,
}

impl WitnessArgs {
    /// Refuses a signed checkpoint without the cosignatures asked for; says which it has.
    fn check(&self, signed: &[u8]) -> Result<()> {
        if self.keys.is_empty() {
            if self.min_witnesses.unwrap_or(0) > 0 {
                bail!("--min-witnesses needs the witnesses' keys (--witness)");
            }
            return Ok(());
        }
        let verifiers = self
            .keys
            .iter()
            .map(|k| {
                CosignatureVerifier::parse(k.trim_end())
                    .with_context(|| format!("--witness {k} is not a cosignature verifier key"))
            })
            .collect::<Result<Vec<_>>>()?;
        let k = self.min_witnesses.unwrap_or(verifiers.len());
        if k > verifiers.len() {
            bail!(
                "--min-witnesses {k} is more than the {} witnesses given",
                verifiers.len()
            );
        }
        let note = Note::parse(signed).map_err(|e| refused(format!("the checkpoint: {e}")))?;
        match witnessed(&note, &verifiers, k) {
            Ok(found) => {
                let names: Vec<&str> = found.iter().map(|c| c.name()).collect();
                println!(
                    "  witnessed by {} of {}: {}",
                    found.len(),
                    verifiers.len(),
                    names.join(", ")
                );
                Ok(())
            }
            Err(CosignatureError::NotEnough { needed, found }) => Err(refused(format!(
                "the checkpoint is cosigned by {found} of the witnesses, {needed} required"
            ))),
            Err(e) => Err(refused(format!("a witness's cosignature is refused: {e}"))),
        }
    }
}

/// A check the log or the receipt failed: exit status 1. Any other error is status 2.
#[derive(Debug)]
struct Refused(String);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

fn refused(message: impl Into<String>) -> anyhow::Error {
    Refused(message.into()).into()
}

/// Runs `healthcode audit` and prints its verdict.
pub async fn run(args: AuditArgs) -> ExitCode {
    let result = match (args.command, args.server) {
        (
            Some(AuditCommand::Receipt {
                file,
                log_key,
                witnesses,
            }),
            _,
        ) => receipt(&file, &log_key, &witnesses),
        (None, Some(server)) => {
            audit_server(
                &server,
                args.state.as_deref(),
                args.log_key.as_deref(),
                &args.witnesses,
            )
            .await
        }
        (None, None) => match &args.data_dir {
            Some(dir) => {
                match crate::inspect::audit_data_dir(dir, args.database_url.as_deref()).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(refused("the database does not match its transparency log")),
                    Err(e) => Err(e),
                }
            }
            None => Err(anyhow::anyhow!(
                "say what to audit: --server URL, --data-dir DIR, or `receipt FILE --log-key KEY`"
            )),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Refused>().is_some() => {
            eprintln!("healthcode audit: {e:#}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("healthcode audit: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn parse_key(text: &str, whose: &str) -> Result<NoteVerifier> {
    NoteVerifier::parse(text.trim_end())
        .with_context(|| format!("{whose} is not a note verifier key <origin>+<key id>+<base64>"))
}

// --- Receipts --------------------------------------------------------------------------------

fn receipt(path: &Path, log_key: &str, witnesses: &WitnessArgs) -> Result<()> {
    let key = parse_key(log_key, "--log-key")?;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_RECEIPT_BYTES + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", path.display()))?;
    if bytes.len() as u64 > MAX_RECEIPT_BYTES {
        bail!(
            "{} is larger than {MAX_RECEIPT_BYTES} bytes",
            path.display()
        );
    }
    let receipt: Receipt = serde_json::from_slice(&bytes)
        .map_err(|e| refused(format!("the receipt is not a receipt's JSON: {e}")))?;

    let entry = receipt.check_record().map_err(|e| match e {
        LeafError::Commitment => refused("the record does not match its entry's commitment"),
        LeafError::Malformed(why) => refused(format!("the receipt is malformed: {why}")),
    })?;
    let (Some(index), Some(proof)) = (receipt.index, receipt.proof.as_deref()) else {
        return Err(refused(
            "the receipt has no proof yet: its entry was not in the log's tree when it was \
             downloaded; download it again",
        ));
    };
    let proof = TlogProof::parse(proof.as_bytes())
        .map_err(|e| refused(format!("the receipt's proof is malformed: {e}")))?;
    if proof.index() != index {
        return Err(refused(format!(
            "the proof is for entry {}, not the receipt's entry {index}",
            proof.index()
        )));
    }
    let leaf = leaf_hash(receipt.entry.as_bytes());
    let checkpoint = proof
        .verify(&leaf, key.name(), std::slice::from_ref(&key))
        .map_err(|e| match e {
            TlogProofError::Checkpoint(CheckpointError::Note(e)) => refused(format!(
                "the proof's checkpoint is not signed by the log's key {key}: {e}"
            )),
            TlogProofError::Checkpoint(e) => {
                refused(format!("the proof's checkpoint is refused: {e}"))
            }
            TlogProofError::Inclusion(ProofError::RootMismatch) => {
                refused("the proof does not lead to the checkpoint's root")
            }
            TlogProofError::Inclusion(e) => refused(format!(
                "the proof does not lead to the checkpoint's root: {e}"
            )),
            TlogProofError::Malformed(why) => {
                refused(format!("the receipt's proof is malformed: {why}"))
            }
        })?;
    witnesses.check(proof.signed_checkpoint().as_bytes())?;
    let time = chrono::DateTime::from_timestamp(entry.time, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("unix time {}", entry.time));
    println!("receipt verified");
    println!(
        "  record: a {} record, accepted {time} from {}",
        entry.kind, entry.actor
    );
    println!(
        "  logged: entry {index} of log {}, in its signed checkpoint of size {}",
        key.name(),
        checkpoint.size()
    );
    Ok(())
}

// --- Auditing a log --------------------------------------------------------------------------

/// The log's read API, `{server}/log/…`.
struct LogClient {
    http: reqwest::Client,
    base: String,
}

impl LogClient {
    fn new(server: &str) -> Result<LogClient> {
        let url =
            url::Url::parse(server).with_context(|| format!("--server {server} is not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            bail!("--server must be an http(s) URL: {server}");
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()?;
        Ok(LogClient {
            http,
            base: format!("{}/log/", server.trim_end_matches('/')),
        })
    }

    /// `GET /log/{path}`, at most `limit` bytes of body; `None` for 404.
    async fn get_optional(&self, path: &str, limit: usize) -> Result<Option<Vec<u8>>> {
        let url = format!("{}{path}", self.base);
        let mut response = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("cannot fetch {url}"))?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            bail!("{url} answered {}", response.status());
        }
        let too_long = || refused(format!("{url} sent more than the {limit} bytes allowed"));
        if response.content_length().is_some_and(|n| n > limit as u64) {
            return Err(too_long());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .with_context(|| format!("cannot read {url}"))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_long());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(body))
    }

    async fn get(&self, path: &str, limit: usize) -> Result<Vec<u8>> {
        match self.get_optional(path, limit).await? {
            Some(body) => Ok(body),
            None => bail!("{}{path} answered 404 Not Found", self.base),
        }
    }
}

/// The `--state` directory: the pinned key and the last checkpoint verified.
struct State {
    dir: PathBuf,
}

impl State {
    fn open(dir: &Path) -> Result<State> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(State {
            dir: dir.to_path_buf(),
        })
    }

    fn read(&self, name: &str) -> Result<Option<String>> {
        let path = self.dir.join(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    fn key(&self) -> Result<Option<NoteVerifier>> {
        let path = self.dir.join(KEY_FILE);
        self.read(KEY_FILE)?
            .map(|text| parse_key(&text, &path.display().to_string()))
            .transpose()
    }

    fn pin(&self, key: &NoteVerifier) -> Result<()> {
        files::write_atomically(
            &self.dir.join(KEY_FILE),
            format!("{key}\n").as_bytes(),
            Access::Default,
        )
    }

    /// The last checkpoint verified, opened again with the log's key.
    fn checkpoint(&self, key: &NoteVerifier) -> Result<Option<Checkpoint>> {
        let Some(signed) = self.read(CHECKPOINT_FILE)? else {
            return Ok(None);
        };
        let path = self.dir.join(CHECKPOINT_FILE);
        let checkpoint = Checkpoint::open(signed.as_bytes(), key.name(), std::slice::from_ref(key))
            .with_context(|| format!("{} does not open with the log's key", path.display()))?;
        Ok(Some(checkpoint))
    }

    fn save_checkpoint(&self, signed: &[u8]) -> Result<()> {
        files::write_atomically(&self.dir.join(CHECKPOINT_FILE), signed, Access::Default)
    }
}

/// The log's key: `--log-key`, else the pinned one, else the server's; and whether it is to
/// be pinned once the audit has shown it signs a sound tree (nothing is pinned yet). A key
/// pinned that differs from `--log-key`, or from the one the server serves, is refused.
async fn log_key(
    given: Option<&str>,
    state: Option<&State>,
    log: &LogClient,
) -> Result<(NoteVerifier, bool)> {
    let given = given.map(|k| parse_key(k, "--log-key")).transpose()?;
    let pinned = state.map(State::key).transpose()?.flatten();
    let served = log
        .get_optional("key", MAX_KEY_BYTES)
        .await?
        .map(|body| {
            let text = String::from_utf8(body)
                .map_err(|_| refused("the server's /log/key is not text"))?;
            NoteVerifier::parse(text.trim_end())
                .map_err(|e| refused(format!("the server's /log/key is not a verifier key: {e}")))
        })
        .transpose()?;
    let pinned_at =
        || state.map_or_else(String::new, |s| s.dir.join(KEY_FILE).display().to_string());
    if let (Some(given), Some(pinned)) = (&given, &pinned)
        && given != pinned
    {
        return Err(refused(format!(
            "--log-key {given} is not the log key pinned in {}: {pinned}",
            pinned_at()
        )));
    }
    if let (Some(pinned), Some(served)) = (&pinned, &served)
        && pinned != served
    {
        return Err(refused(format!(
            "the server now serves log key {served}, not the key pinned in {}: {pinned}",
            pinned_at()
        )));
    }
    if let (Some(given), Some(served)) = (&given, &served)
        && given != served
    {
        return Err(refused(format!(
            "the server serves log key {served}, not the --log-key given: {given}"
        )));
    }
    let to_pin = state.is_some() && pinned.is_none();
    let key = match (given, pinned, served) {
        (Some(key), ..) | (None, Some(key), _) => key,
        (None, None, Some(key)) => {
            println!("using the log key the server serves: {key}");
            println!("  confirm it out of band (the region's trust list publishes it)");
            key
        }
        (None, None, None) => {
            bail!("the server serves no /log/key and none was given: pass --log-key")
        }
    };
    Ok((key, to_pin))
}

/// What checking the tree counted.
#[derive(Default)]
struct Counts {
    entries: u64,
    bundles: u64,
    tiles: u64,
    /// Entries that are not healthcode/1 entries: index and reason; the first few.
    malformed: Vec<(u64, LeafError)>,
    malformed_count: u64,
}

const MALFORMED_SHOWN: usize = 5;

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Fetches every tile and entry bundle of the tree of the checkpoint's size, checks each tile
/// against the entries or the tiles below it and the whole against the checkpoint's root, and
/// returns the tiles.
async fn check_tree(
    log: &LogClient,
    checkpoint: &Checkpoint,
    counts: &mut Counts,
) -> Result<BTreeMap<Tile, Vec<Hash>>> {
    let size = checkpoint.size();
    let mut tiles: BTreeMap<Tile, Vec<Hash>> = BTreeMap::new();
    // Level by level, so that the tiles below a tile are checked before it.
    for tile in tiles_for_size(size) {
        let bytes = log.get(&tile.path(), MAX_TILE_BYTES).await?;
        let hashes = tile_from_bytes(&tile, &bytes)
            .map_err(|e| refused(format!("tile {tile} is malformed: {e}")))?;
        counts.tiles += 1;
        if tile.level() == 0 {
            check_entries(log, &tile, &hashes, counts).await?;
        } else {
            for (i, hash) in (0u64..).zip(&hashes) {
                let below = Tile::new(tile.level() - 1, tile.index() * 256 + i, 256)?;
                // Hash i of a level-L tile is complete, so the level-(L-1) tile under it is
                // full, and `tiles_for_size` listed it before this one.
                let Some(below_hashes) = tiles.get(&below) else {
                    bail!("tile {below} was not fetched before {tile}");
                };
                let root = root_of(below_hashes);
                if root != *hash {
                    return Err(refused(format!(
                        "tile {tile} does not hash to the tiles below it: its hash {i} is {} \
                         but {below} hashes to {}",
                        hash.to_base64(),
                        root.to_base64()
                    )));
                }
            }
        }
        tiles.insert(tile, hashes);
    }
    let root = root_from_tiles(size, &tiles)?;
    if root != *checkpoint.root() {
        return Err(refused(format!(
            "the tiles do not hash to the checkpoint's root: they give {} for size {size}, the \
             checkpoint says {}",
            root.to_base64(),
            checkpoint.root().to_base64()
        )));
    }
    Ok(tiles)
}

/// Checks a level-0 tile against the leaf hashes of its entry bundle.
async fn check_entries(
    log: &LogClient,
    tile: &Tile,
    hashes: &[Hash],
    counts: &mut Counts,
) -> Result<()> {
    let Some(path) = tile.entries_path() else {
        bail!("{tile} has no entries");
    };
    let bundle = log.get(&path, MAX_BUNDLE_BYTES).await?;
    let entries = parse_entry_bundle(&bundle, tile.width())
        .map_err(|e| refused(format!("entry bundle {path} is malformed: {e}")))?;
    counts.bundles += 1;
    for ((i, entry), hash) in (0u64..).zip(&entries).zip(hashes) {
        let index = tile.index() * 256 + i;
        let leaf = leaf_hash(entry);
        if leaf != *hash {
            return Err(refused(format!(
                "tile {tile} does not hash to the entries of {path}: its hash {i} is {} but \
                 entry {index} hashes to {}",
                hash.to_base64(),
                leaf.to_base64()
            )));
        }
        if let Err(e) = Entry::parse(entry) {
            counts.malformed_count += 1;
            if counts.malformed.len() < MALFORMED_SHOWN {
                counts.malformed.push((index, e));
            }
        }
        counts.entries += 1;
    }
    Ok(())
}

async fn audit_server(
    server: &str,
    state: Option<&Path>,
    given_key: Option<&str>,
    witnesses: &WitnessArgs,
) -> Result<()> {
    let log = LogClient::new(server)?;
    let state = state.map(State::open).transpose()?;
    let (key, to_pin) = log_key(given_key, state.as_ref(), &log).await?;
    let origin = key.name().to_owned();

    let signed = log.get("checkpoint", MAX_CHECKPOINT_BYTES).await?;
    let checkpoint =
        Checkpoint::open(&signed, &origin, std::slice::from_ref(&key)).map_err(|e| match e {
            CheckpointError::Note(e) => refused(format!(
                "the checkpoint is not signed by the log's key {key}: {e}"
            )),
            e => refused(format!("the server's checkpoint is refused: {e}")),
        })?;
    witnesses.check(&signed)?;
    let size = checkpoint.size();
    let root = *checkpoint.root();

    let seen = match &state {
        Some(state) => state.checkpoint(&key)?,
        None => None,
    };
    if let Some(seen) = &seen {
        if size < seen.size() {
            return Err(refused(format!(
                "rollback: the server's checkpoint has size {size}, smaller than the {} seen before",
                seen.size()
            )));
        }
        if size == seen.size() && root != *seen.root() {
            return Err(refused(format!(
                "fork: the server's checkpoint for size {size} has root {}, but the one seen \
                 before has root {}",
                root.to_base64(),
                seen.root().to_base64()
            )));
        }
    }

    let mut counts = Counts::default();
    let tiles = check_tree(&log, &checkpoint, &mut counts).await?;

    if let Some(seen) = seen.as_ref().filter(|seen| seen.size() > 0) {
        let old = seen.size();
        let was = subtree_from_tiles(0, old, size, &tiles)?;
        if was != *seen.root() {
            return Err(refused(format!(
                "fork: the tree of size {size} the server serves had root {} at size {old}, not \
                 the root {} of the checkpoint seen before",
                was.to_base64(),
                seen.root().to_base64()
            )));
        }
        let proof = consistency_proof_from_tiles(old, size, &tiles)?;
        verify_consistency(old, size, &proof, seen.root(), &root).map_err(|e| {
            refused(format!(
                "fork: the consistency proof from size {old} to {size} does not verify: {e}"
            ))
        })?;
    }

    println!("log {origin}");
    println!(
        "  checkpoint: size {size}, root {}, signed by the log's key",
        root.to_base64()
    );
    println!(
        "  checked {}, {} and {}: they hash to the root",
        plural(counts.entries, "entry", "entries"),
        plural(counts.bundles, "entry bundle", "entry bundles"),
        plural(counts.tiles, "hash tile", "hash tiles")
    );
    match &seen {
        Some(seen) if seen.size() == size => {
            println!("  the same tree as the checkpoint seen before");
        }
        Some(seen) => println!(
            "  consistent with the checkpoint of size {} seen before",
            seen.size()
        ),
        None => println!("  no checkpoint seen before to compare with"),
    }
    if let Some(state) = &state {
        if to_pin {
            state.pin(&key)?;
            println!(
                "  pinned the log key in {}",
                state.dir.join(KEY_FILE).display()
            );
        }
        state.save_checkpoint(&signed)?;
        println!("  saved in {}", state.dir.join(CHECKPOINT_FILE).display());
    }
    // The tree is sound whatever its entries say, so its checkpoint is kept; entries this
    // project would not write are still a finding.
    if counts.malformed_count > 0 {
        let shown: Vec<String> = counts
            .malformed
            .iter()
            .map(|(index, e)| format!("entry {index}: {e}"))
            .collect();
        let (count, total) = (counts.malformed_count, counts.entries);
        let are_not = if count == 1 {
            "is not a healthcode/1 entry"
        } else {
            "are not healthcode/1 entries"
        };
        return Err(refused(format!(
            "{count} of the {total} entries {are_not} (docs/FORMAT.md §10.1): {}",
            shown.join("; ")
        )));
    }
    Ok(())
}
