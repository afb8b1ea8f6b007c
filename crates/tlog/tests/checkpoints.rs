//! Checkpoints (C2SP tlog-checkpoint) and tlog proofs (C2SP tlog-proof): a published text, the
//! round trips, and refusing another log's checkpoint, unknown keys, altered bytes and
//! malformed proofs.
//!
//! Provenance of the known answer: the checkpoint text of `TestFormatTree` in golang.org/x/mod
//! `sumdb/tlog/note_test.go`, whose root is the record hash (RFC 6962 leaf hash) of
//! "hello world". The signing key is the `PeterNeumann` key of golang.org/x/mod
//! `sumdb/note/example_test.go`.

#![allow(clippy::expect_used, clippy::panic)] // tests state their expectations

use healthcode_tlog::{
    Checkpoint, CheckpointError, MemoryTree, NoteError, NoteSigner, NoteVerifier, ProofError,
    TLOG_PROOF_HEADER, TlogProof, TlogProofError, leaf_hash,
};

const ORIGIN: &str = "example.com/healthcode";

fn log_key() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[0x11; 32]).expect("signer")
}

fn witness_key() -> NoteSigner {
    NoteSigner::from_seed("witness.example", &[0x22; 32]).expect("signer")
}

#[test]
fn the_go_checkpoint_text() {
    let text = "go.sum database tree\n123456789012\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0=\n";
    let checkpoint = Checkpoint::new(
        "go.sum database tree",
        123456789012,
        leaf_hash(b"hello world"),
    )
    .expect("valid");
    assert_eq!(checkpoint.to_text(), text);
    assert_eq!(Checkpoint::parse_text(text), Ok(checkpoint));
}

#[test]
fn signed_checkpoint_round_trip() {
    let tree = MemoryTree::from_entries([b"a", b"b", b"c"]);
    let checkpoint = Checkpoint::new(ORIGIN, tree.len(), tree.root()).expect("valid");
    let signed = checkpoint
        .sign(&[&log_key(), &witness_key()])
        .expect("signs");
    assert!(signed.starts_with(&checkpoint.to_text()));
    let log = log_key().verifier();
    assert_eq!(
        Checkpoint::open(signed.as_bytes(), ORIGIN, std::slice::from_ref(&log)),
        Ok(checkpoint.clone())
    );
    // The log's key written out and read back works the same.
    let log = NoteVerifier::parse(&log.to_string()).expect("vkey");
    assert_eq!(
        Checkpoint::open(signed.as_bytes(), ORIGIN, &[log]),
        Ok(checkpoint)
    );
}

#[test]
fn another_log_or_key_is_refused() {
    let tree = MemoryTree::from_entries([b"a"]);
    let signed = Checkpoint::new(ORIGIN, 1, tree.root())
        .expect("valid")
        .sign(&[&log_key()])
        .expect("signs");
    assert_eq!(
        Checkpoint::open(
            signed.as_bytes(),
            "example.com/other",
            &[log_key().verifier()]
        ),
        Err(CheckpointError::Origin {
            expected: "example.com/other".into(),
            found: ORIGIN.into()
        })
    );
    assert_eq!(
        Checkpoint::open(signed.as_bytes(), ORIGIN, &[witness_key().verifier()]),
        Err(CheckpointError::Note(NoteError::NoKnownSignature))
    );
    // A note that verifies but is not a checkpoint.
    let not_a_checkpoint = healthcode_tlog::Note::sign("hello\n", &[&log_key()])
        .expect("signs")
        .to_string();
    assert!(matches!(
        Checkpoint::open(not_a_checkpoint.as_bytes(), ORIGIN, &[log_key().verifier()]),
        Err(CheckpointError::Malformed(_))
    ));
}

#[test]
fn every_altered_byte_of_a_checkpoint_is_refused() {
    let tree = MemoryTree::from_entries((0u8..20).map(|i| [i]));
    let signed = Checkpoint::new(ORIGIN, 20, tree.root())
        .expect("valid")
        .with_extensions(&["an extension"])
        .expect("valid")
        .sign(&[&log_key()])
        .expect("signs")
        .into_bytes();
    let log = [log_key().verifier()];
    assert!(Checkpoint::open(&signed, ORIGIN, &log).is_ok());
    for i in 0..signed.len() {
        for flip in [0x01, 0x80] {
            let mut altered = signed.clone();
            altered[i] ^= flip;
            assert!(
                Checkpoint::open(&altered, ORIGIN, &log).is_err(),
                "byte {i} ^ {flip:#x} was accepted"
            );
        }
    }
}

/// A log of `size` entries, its checkpoint signed by the log and cosigned by a witness, and
/// the proof of entry `index`.
fn proof_of(size: u64, index: u64) -> (MemoryTree, String, TlogProof) {
    signed_proof_of(size, index, &[&log_key(), &witness_key()])
}

fn signed_proof_of(
    size: u64,
    index: u64,
    signers: &[&NoteSigner],
) -> (MemoryTree, String, TlogProof) {
    let tree = MemoryTree::from_entries((0..size).map(|i| format!("entry {i}")));
    let signed = Checkpoint::new(ORIGIN, size, tree.root())
        .expect("valid")
        .sign(signers)
        .expect("signs");
    let proof = TlogProof::new(
        index,
        tree.inclusion_proof(index, size).expect("in range"),
        &signed,
    )
    .expect("well-formed");
    (tree, signed, proof)
}

#[test]
fn tlog_proofs_round_trip_and_verify() {
    let log = [log_key().verifier()];
    for (size, index) in [
        (1, 0),
        (2, 1),
        (7, 0),
        (7, 6),
        (1000, 0),
        (1000, 513),
        (1000, 999),
    ] {
        let (tree, signed, proof) = proof_of(size, index);
        let leaf = tree.leaf_hash(index).expect("leaf");
        for proof in [
            proof.clone(),
            proof.with_extra(b"application data".to_vec()),
        ] {
            let text = proof.to_string();
            assert!(text.starts_with(&format!("{TLOG_PROOF_HEADER}\n")));
            assert!(text.ends_with(&signed), "the checkpoint is verbatim");
            let parsed = TlogProof::parse(text.as_bytes()).expect("parses");
            assert_eq!(parsed, proof);
            assert_eq!(parsed.to_string(), text);
            let checkpoint = parsed.verify(&leaf, ORIGIN, &log).expect("verifies");
            assert_eq!(checkpoint.size(), size);
            assert_eq!(*checkpoint.root(), tree.root());
        }
    }
}

#[test]
fn the_layout() {
    let (_, signed, proof) = proof_of(3, 2);
    let proof = proof.with_extra(vec![0xde, 0xad]);
    let text = proof.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "c2sp.org/tlog-proof@v1");
    assert_eq!(lines[1], "extra 3q0=");
    assert_eq!(lines[2], "index 2");
    assert_eq!(lines[3], proof.proof()[0].to_base64());
    assert_eq!(lines[4], "");
    assert_eq!(lines[5], ORIGIN);
    assert_eq!(lines[6], "3");
    assert_eq!(text[text.find("\n\n").expect("blank line") + 2..], signed);
}

#[test]
fn tlog_proofs_that_do_not_hold() {
    let (tree, signed, proof) = proof_of(100, 42);
    let leaf = tree.leaf_hash(42).expect("leaf");
    let log = [log_key().verifier()];

    // Another entry, another log, an unknown key.
    assert_eq!(
        proof.verify(&leaf_hash(b"entry 41"), ORIGIN, &log),
        Err(TlogProofError::Inclusion(ProofError::RootMismatch))
    );
    assert!(matches!(
        proof.verify(&leaf, "example.com/other", &log),
        Err(TlogProofError::Checkpoint(CheckpointError::Origin { .. }))
    ));
    assert_eq!(
        proof.verify(
            &leaf,
            ORIGIN,
            &[NoteSigner::from_seed(ORIGIN, &[9; 32])
                .expect("signer")
                .verifier()]
        ),
        Err(TlogProofError::Checkpoint(CheckpointError::Note(
            NoteError::NoKnownSignature
        )))
    );
    // The keys given are taken as the log's keys for this origin, whoever holds them: here the
    // witness's. Telling log keys from witness keys, and any policy over cosignatures, is the
    // caller's.
    assert!(
        proof
            .verify(&leaf, ORIGIN, &[witness_key().verifier()])
            .is_ok()
    );

    // Another index, a proof hash altered, a hash missing, the proof of another entry.
    let text = proof.to_string();
    let moved =
        TlogProof::parse(text.replace("index 42\n", "index 43\n").as_bytes()).expect("parses");
    assert!(moved.verify(&leaf, ORIGIN, &log).is_err());
    let hashes = proof.proof().to_vec();
    let mut altered = hashes.clone();
    altered[3].0[31] ^= 1;
    let altered = TlogProof::new(42, altered, &signed).expect("well-formed");
    assert_eq!(
        altered.verify(&leaf, ORIGIN, &log),
        Err(TlogProofError::Inclusion(ProofError::RootMismatch))
    );
    let short =
        TlogProof::new(42, hashes[..hashes.len() - 1].to_vec(), &signed).expect("well-formed");
    assert!(matches!(
        short.verify(&leaf, ORIGIN, &log),
        Err(TlogProofError::Inclusion(
            ProofError::WrongProofLength { .. }
        ))
    ));
    let past_the_end = TlogProof::new(100, hashes, &signed).expect("well-formed");
    assert_eq!(
        past_the_end.verify(&leaf, ORIGIN, &log),
        Err(TlogProofError::Inclusion(ProofError::IndexOutOfRange {
            index: 100,
            size: 100
        }))
    );

    // Every altered byte of the text is refused, at parsing or at verification. (Here the
    // checkpoint has the log's signature only: a signature by a key the verifier was not given,
    // such as the witness's above, is ignored, altered or not.)
    let (_, _, proof) = signed_proof_of(100, 42, &[&log_key()]);
    let bytes = proof.to_string().into_bytes();
    for i in 0..bytes.len() {
        let mut altered = bytes.clone();
        altered[i] ^= 0x01;
        let refused = match TlogProof::parse(&altered) {
            Err(_) => true,
            Ok(proof) => proof.verify(&leaf, ORIGIN, &log).is_err(),
        };
        assert!(refused, "byte {i} was accepted");
    }
}

#[test]
fn malformed_tlog_proofs() {
    let (_, signed, proof) = proof_of(5, 1);
    let hash = proof.proof()[0].to_base64();
    let good = proof.to_string();
    assert!(TlogProof::parse(good.as_bytes()).is_ok());
    let rest_of = |from: &str| good[good.find(from).expect("present")..].to_owned();
    for bad in [
        String::new(),
        good.replacen(TLOG_PROOF_HEADER, "c2sp.org/tlog-proof@v2", 1),
        good.replacen(&format!("{TLOG_PROOF_HEADER}\n"), "", 1),
        good.replacen("index 1\n", "index 01\n", 1),
        good.replacen("index 1\n", "index +1\n", 1),
        good.replacen("index 1\n", "index  1\n", 1),
        good.replacen("index 1\n", "index\n", 1),
        good.replacen("index 1\n", "", 1),
        good.replacen("index 1\n", "index 1\nextra AAAA\n", 1),
        good.replacen("index 1\n", "extra \nindex 1\n", 1),
        good.replacen("index 1\n", "extra !!\nindex 1\n", 1),
        good.replacen(&format!("{hash}\n"), &format!("{hash} \n"), 1),
        good.replacen(&format!("{hash}\n"), "AAAA\n", 1),
        good.replacen(&format!("{hash}\n"), &format!("{hash}\n\n"), 1),
        format!("{TLOG_PROOF_HEADER}\nindex 1\n{hash}"),
        format!("{TLOG_PROOF_HEADER}\nindex 1\n{hash}\n"),
        format!("{TLOG_PROOF_HEADER}\nindex 1\n{hash}\n\n"),
        format!("{TLOG_PROOF_HEADER}\nindex 1\n\n{}", rest_of("\u{2014}")),
        format!("{}\u{1}", good),
        format!(
            "{TLOG_PROOF_HEADER}\nindex 1\n{}\n{signed}",
            vec![hash.as_str(); 65].join("\n")
        ),
    ] {
        assert!(
            TlogProof::parse(bad.as_bytes()).is_err(),
            "{bad:?} was accepted"
        );
    }
    // 64 hashes are well-formed (if not a proof of this tree).
    let many = format!(
        "{TLOG_PROOF_HEADER}\nindex 1\n{}\n\n{signed}",
        vec![hash.as_str(); 64].join("\n")
    );
    assert!(TlogProof::parse(many.as_bytes()).is_ok());
    assert!(matches!(
        TlogProof::new(1, vec![proof.proof()[0]; 65], &signed),
        Err(TlogProofError::Malformed(_))
    ));
    assert!(matches!(
        TlogProof::new(1, vec![], "not a note"),
        Err(TlogProofError::Checkpoint(_))
    ));
}
