//! `healthcode gate`: a gate device (闸机) that keeps deciding when the network is down.
//! `setup` fetches the device's venue, the venue's entry policy and the region's signed trust
//! list while online; `scan` verifies a code against that cached list and applies the policy
//! with no network, queueing the check-in; `upload` sends the queue to
//! `POST /api/v1/gate/checkins` when the network is back; `status` says how old the cache is
//! and what is waiting.
//!
//! The device keeps one directory:
//! - `config.json`: server URL, device key and the fetched configuration (mode 0600: it holds
//!   the key).
//! - `seq`: the next check-in sequence number. A number is written as taken before its row is
//!   queued and never handed out again, so (device, seq), which the server stores once, names
//!   one scan for good: an upload sent twice counts duplicates, never a second visit.
//! - `queue.jsonl`: check-ins the server has not answered for yet, one JSON object a line.
//! - `rejected.jsonl`: rows the server refused and queue lines that no longer read, each with
//!   the reason, for a person to look at; nothing leaves the queue unaccounted for.
//! - `lock`: held while the files above change, so a scan during an upload loses nothing.
//!
//! The parts: the command line and what each command does (`command`), `config.json` and the
//! rule a refreshed trust list must pass (`config`), the queue and sequence numbers on disk
//! (`queue`), the server's API (`client`, in the shapes of `healthcode_server::api::gate`),
//! and what is printed (`output`).
//!
//! Not owned here: the decision ([`healthcode_domain::EntryPolicy::decide`]), verifying
//! ([`healthcode_credential::Verifier`]), the trust-list update rule
//! ([`healthcode_verify::regions::succeeds`]) and what the server does with an upload.

mod client;
mod command;
mod config;
mod output;
mod queue;

pub use command::{GateCommand, run};
