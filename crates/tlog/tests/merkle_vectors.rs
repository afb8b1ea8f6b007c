//! Known answers for the Merkle tree and its proofs.
//!
//! Provenance:
//! - `shared/testdata/merkle` (read at run time, never copied here; `HEALTHCODE_TESTDATA` names
//!   another testdata folder) is the proof test data of transparency-dev/merkle @ 417fb0c3
//!   (Apache-2.0, its LICENSE beside the data), written by that project's `cmd/proofgen`: for
//!   each of a few (index, size) and (size1, size2) pairs a happy path and its corruptions
//!   (bits flipped, hashes added, removed or swapped, sizes and indexes changed), plus
//!   hand-written edge cases in `additional/` and `single-entry/`. Each file is one vector;
//!   `wantErr` says whether verification must fail.
//! - The eight leaf inputs and the roots of their trees of sizes 0 to 8 are the RFC 6962
//!   reference tree, as transparency-dev/merkle's `testonly/constants.go` lists them (the same
//!   tree the proofs in `shared/testdata/merkle` are over).
//!
//! Placeholders: the generator writes byte strings that are not hashes where their value does
//! not matter or is meant to be wrong (`don't care 1`, `WrongRoot`, the empty string). This
//! crate's API takes [`Hash`] values of 32 bytes, so the harness reads each vector as a caller
//! would, with one difference for roots:
//! - A leaf hash or a proof hash is input to SHA-256; one that is not 32 bytes is refused by
//!   `Hash::from_slice` (`HashError::Length`) before any proof is looked at, and that refusal
//!   is the verdict. (transparency-dev/merkle refuses such a leaf hash the same way.)
//! - A root is only ever compared for equality, in the vectors' implementation as bytes. A
//!   non-hash root stands for a value that equals another root only if its bytes do, and is
//!   never a computed root. The harness replaces it by exactly that: SHA-256 of 0x02 and the
//!   string (0x02 keeps it apart from every leaf and node hash), and puts the vector to the
//!   verifier. This matters for one vector expecting success,
//!   `consistency/additional/sizes-are-equal-one-and-proof-is-empty.json`: two equal 12-byte
//!   "roots" for the same size 1 and an empty proof, which the verifier accepts (equal sizes,
//!   equal roots). A caller holding those 12 bytes could not even ask: the harness asserts
//!   that `Hash::from_slice` refuses them.

#![allow(clippy::expect_used, clippy::panic)] // tests state their expectations

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use healthcode_tlog::{
    Hash, HashError, MemoryTree, ProofError, empty_root, leaf_hash, root_of, verify_consistency,
    verify_inclusion,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The leaf inputs of the RFC 6962 reference tree (hex).
const LEAF_INPUTS: [&str; 8] = [
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
];

/// The roots of the reference tree's first `n` leaves, for `n` from 1 to 8.
const ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

fn reference_tree() -> MemoryTree {
    MemoryTree::from_entries(LEAF_INPUTS.iter().map(|h| hex::decode(h).expect("hex")))
}

#[test]
fn reference_tree_roots() {
    let tree = reference_tree();
    assert_eq!(tree.root_at(0), Ok(empty_root()));
    let leaves: Vec<Hash> = (0..8).map(|i| tree.leaf_hash(i).expect("leaf")).collect();
    for (i, root) in ROOTS.iter().enumerate() {
        let size = i + 1;
        assert_eq!(
            tree.root_at(size as u64).expect("in range").to_string(),
            *root,
            "size {size}"
        );
        assert_eq!(root_of(&leaves[..size]).to_string(), *root, "size {size}");
    }
    assert_eq!(
        leaf_hash(b"").to_string(),
        ROOTS[0],
        "the first leaf is the empty entry"
    );
}

/// One vector's byte strings as the verifier takes them.
#[derive(Default)]
struct Decoder {
    /// Whether a root was not a 32-byte hash and was stood in for.
    placeholder_root: bool,
}

fn bytes(value: &Value) -> Vec<u8> {
    let text = value.as_str().expect("a base64 string");
    STANDARD.decode(text).expect("base64")
}

impl Decoder {
    /// A leaf or proof hash, as a caller would read it.
    fn hash(value: &Value) -> Result<Hash, HashError> {
        Hash::from_slice(&bytes(value))
    }

    fn proof(value: &Value) -> Result<Vec<Hash>, HashError> {
        match value {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => items.iter().map(Decoder::hash).collect(),
            other => panic!("a proof is a list or null, not {other}"),
        }
    }

    /// A root, or the stand-in for a placeholder (see the header).
    fn root(&mut self, value: &Value) -> Hash {
        let bytes = bytes(value);
        Hash::from_slice(&bytes).unwrap_or_else(|_| {
            self.placeholder_root = true;
            let mut hasher = Sha256::new();
            hasher.update([0x02]);
            hasher.update(&bytes);
            Hash(hasher.finalize().into())
        })
    }
}

/// How a vector was refused, if it was.
#[derive(Debug, PartialEq)]
enum Refusal {
    /// A leaf or proof hash was not 32 bytes.
    Boundary(HashError),
    /// The verifier refused it.
    Proof(ProofError),
}

fn number(vector: &Value, field: &str) -> u64 {
    vector[field].as_u64().expect("a number")
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            json_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "json") {
            out.push(path);
        }
    }
}

/// The vectors' folder (`merkle/` in `HEALTHCODE_TESTDATA`, by default `../shared/testdata`
/// beside the repository), or `None` after saying it is missing. With `CI` set a missing
/// folder fails the test instead of skipping it, as for the crates' other shared test data.
fn vectors_dir() -> Option<PathBuf> {
    let testdata = std::env::var_os("HEALTHCODE_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/testdata"
            ))
        });
    let dir = testdata.join("merkle");
    if dir.join("inclusion").is_dir() && dir.join("consistency").is_dir() {
        return Some(dir);
    }
    let message = format!(
        "Merkle proof vectors not found at {} (set HEALTHCODE_TESTDATA to the testdata folder)",
        dir.display()
    );
    if std::env::var_os("CI").is_some() {
        panic!("{message}");
    }
    eprintln!("skipping: {message}");
    None
}

fn vectors(root: &Path, kind: &str) -> Vec<(String, Value)> {
    let mut paths = Vec::new();
    json_files(&root.join(kind), &mut paths);
    paths
        .into_iter()
        .map(|path| {
            let name = path
                .strip_prefix(root)
                .expect("under the vectors")
                .display()
                .to_string();
            let text = fs::read_to_string(&path).expect("readable");
            (name, serde_json::from_str(&text).expect("JSON"))
        })
        .collect()
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs
        .iter()
        .map(|(kind, n)| ((*kind).to_owned(), *n))
        .collect()
}

/// Whether a vector is one of the generator's numbered cases, which are over the reference
/// tree (`inclusion/3/...`), rather than a hand-written edge case.
fn over_reference_tree(name: &str) -> bool {
    name.split('/')
        .nth(1)
        .is_some_and(|dir| dir.bytes().all(|b| b.is_ascii_digit()))
}

/// What the vectors' verdicts came to, for the assertions on counts below.
#[derive(Default, Debug)]
struct Tally {
    total: usize,
    want_error: usize,
    placeholder_roots: usize,
    refusals: BTreeMap<String, usize>,
}

impl Tally {
    fn record(
        &mut self,
        name: &str,
        want_error: bool,
        placeholder: bool,
        result: Result<(), Refusal>,
    ) {
        self.total += 1;
        self.placeholder_roots += usize::from(placeholder);
        if want_error {
            self.want_error += 1;
            let refusal =
                result.expect_err(&format!("{name}: verified, but the vector wants an error"));
            let kind = match refusal {
                Refusal::Boundary(error) => format!("HashError::{error:?}"),
                Refusal::Proof(error) => {
                    let variant = format!("{error:?}");
                    let variant = variant.split([' ', '{']).next().unwrap_or_default();
                    format!("ProofError::{variant}")
                }
            };
            *self.refusals.entry(kind).or_default() += 1;
        } else if let Err(refusal) = result {
            panic!("{name}: {refusal:?}, but the vector wants success");
        }
    }
}

#[test]
fn inclusion_vectors() {
    let Some(dir) = vectors_dir() else { return };
    let tree = reference_tree();
    let mut tally = Tally::default();
    for (name, vector) in vectors(&dir, "inclusion") {
        let mut decode = Decoder::default();
        let index = number(&vector, "leafIdx");
        let size = number(&vector, "treeSize");
        let root = decode.root(&vector["root"]);
        let want_error = vector["wantErr"].as_bool().expect("wantErr");
        let desc = vector["desc"].as_str().expect("desc");
        let read = Decoder::hash(&vector["leafHash"])
            .and_then(|leaf| Ok((leaf, Decoder::proof(&vector["proof"])?)));
        let result = match &read {
            Err(error) => Err(Refusal::Boundary(error.clone())),
            Ok((leaf, proof)) => {
                verify_inclusion(leaf, index, size, proof, &root).map_err(Refusal::Proof)
            }
        };

        // Precise reasons where the corruption determines one.
        if read.is_ok()
            && (desc.starts_with("modified proof") || desc == "wrong leaf" || desc == "random root")
        {
            assert_eq!(
                result,
                Err(Refusal::Proof(ProofError::RootMismatch)),
                "{name}"
            );
        }
        if [
            "inserted component",
            "removed component",
            "trailing root",
            "preceding root",
        ]
        .contains(&desc)
        {
            assert!(
                matches!(
                    result,
                    Err(Refusal::Proof(ProofError::WrongProofLength { .. }))
                ),
                "{name}: {result:?}"
            );
        }
        if let (false, true, Ok((leaf, proof))) = (want_error, over_reference_tree(&name), &read) {
            // The generator's happy paths are over the reference tree: ours gives the same.
            assert_eq!(
                tree.inclusion_proof(index, size).as_ref(),
                Ok(proof),
                "{name}"
            );
            assert_eq!(tree.leaf_hash(index), Some(*leaf), "{name}");
            if !decode.placeholder_root {
                assert_eq!(tree.root_at(size), Ok(root), "{name}");
            }
        }
        tally.record(&name, want_error, decode.placeholder_root, result);
    }
    println!("{tally:#?}");
    assert_eq!(tally.total, 98, "every inclusion vector was read");
    assert_eq!(tally.want_error, 92);
    assert_eq!(
        tally.refusals,
        counts(&[
            ("HashError::Length(0)", 16),
            ("HashError::Length(9)", 5),
            ("ProofError::IndexOutOfRange", 14),
            ("ProofError::RootMismatch", 31),
            ("ProofError::WrongProofLength", 26),
        ])
    );
}

#[test]
fn consistency_vectors() {
    let tree = reference_tree();
    let mut tally = Tally::default();
    let mut equal_size_placeholder = false;
    let Some(dir) = vectors_dir() else { return };
    for (name, vector) in vectors(&dir, "consistency") {
        let mut decode = Decoder::default();
        let old = number(&vector, "size1");
        let new = number(&vector, "size2");
        let old_root = decode.root(&vector["root1"]);
        let new_root = decode.root(&vector["root2"]);
        let want_error = vector["wantErr"].as_bool().expect("wantErr");
        let desc = vector["desc"].as_str().expect("desc");
        let read = Decoder::proof(&vector["proof"]);
        let result = match &read {
            Err(error) => Err(Refusal::Boundary(error.clone())),
            Ok(proof) => {
                verify_consistency(old, new, proof, &old_root, &new_root).map_err(Refusal::Proof)
            }
        };

        // Precise reasons where the corruption determines one.
        if desc.starts_with("modified proof") || desc == "swapped roots" {
            assert!(
                matches!(
                    result,
                    Err(Refusal::Proof(
                        ProofError::OldRootMismatch | ProofError::NewRootMismatch
                    ))
                ),
                "{name}: {result:?}"
            );
        }
        if [
            "trailing root1",
            "trailing root2",
            "preceding root1",
            "preceding root2",
        ]
        .contains(&desc)
            || desc == "truncated proof"
            || desc == "preceding proof @0"
        {
            assert!(
                matches!(
                    result,
                    Err(Refusal::Proof(ProofError::WrongProofLength { .. }))
                ),
                "{name}: {result:?}"
            );
        }
        if desc.starts_with("size1 is greater") {
            assert!(
                matches!(
                    result,
                    Err(Refusal::Proof(ProofError::SizeDecreased { .. }))
                ),
                "{name}: {result:?}"
            );
        }
        if desc.contains("size1 is zero")
            || desc.contains("sizes are zero")
            || desc.contains("(zero)")
        {
            assert_eq!(
                result,
                Err(Refusal::Proof(ProofError::EmptyOldTree)),
                "{name}"
            );
        }
        if !want_error && decode.placeholder_root {
            // The one vector that expects success with placeholders (see the header).
            assert_eq!((old, new), (1, 1), "{name}");
            assert_eq!(vector["root1"], vector["root2"], "{name}");
            assert_eq!(
                Hash::from_slice(&bytes(&vector["root1"])),
                Err(HashError::Length(12))
            );
            equal_size_placeholder = true;
        }
        if let (false, true, Ok(proof)) = (want_error, over_reference_tree(&name), &read) {
            // The generator's happy paths are over the reference tree: ours gives the same.
            assert_eq!(
                tree.consistency_proof(old, new).as_ref(),
                Ok(proof),
                "{name}"
            );
            assert_eq!(tree.root_at(old), Ok(old_root), "{name}");
            assert_eq!(tree.root_at(new), Ok(new_root), "{name}");
        }
        tally.record(&name, want_error, decode.placeholder_root, result);
    }
    println!("{tally:#?}");
    assert!(equal_size_placeholder);
    assert_eq!(tally.total, 98, "every consistency vector was read");
    assert_eq!(tally.want_error, 92);
    assert_eq!(
        tally.refusals,
        counts(&[
            ("HashError::Length(0)", 8),
            ("ProofError::EmptyOldTree", 9),
            ("ProofError::NewRootMismatch", 15),
            ("ProofError::OldRootMismatch", 8),
            ("ProofError::SameSizeDifferentRoots", 2),
            ("ProofError::SizeDecreased", 4),
            ("ProofError::WrongProofLength", 46),
        ])
    );
}
