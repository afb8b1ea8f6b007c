//! A witness's decisions (C2SP tlog-witness, add-checkpoint) on checkpoints of a log held in a
//! [`MemoryTree`]: it follows a growing log, cosigns the same checkpoint again, and refuses
//! forks, rollbacks, a stale old size (409 with its own size), unknown logs (404), other keys
//! (403), bad proofs (422) and malformed requests (400), checked in the specification's order.
//!
//! Provenance of the known answers: the example request body and the example response body of
//! the "add-checkpoint" section of C2SP tlog-witness (their keys are not published, so they
//! are read, not verified).

#![allow(clippy::expect_used, clippy::panic)] // tests state their expectations

use healthcode_tlog::{
    AddCheckpoint, Checkpoint, CosignatureSigner, Hash, LogState, MemoryTree, NoteError,
    NoteSigner, ProofError, TLOG_SIZE_CONTENT_TYPE, Witness, WitnessError, add_checkpoint_request,
    add_cosignatures, empty_root, parse_add_checkpoint_response, parse_tlog_size, witnessed,
};
use rand::{Rng, SeedableRng, rngs::StdRng};

const ORIGIN: &str = "example.com/log";
const TIME: u64 = 1_700_000_000;

const SPEC_REQUEST: &str = "old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
\u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=
";

const SPEC_RESPONSE: &str = "\u{2014} witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==
\u{2014} witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQNt64vWhO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==
\u{2014} witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZgrrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==
";

fn log_key() -> NoteSigner {
    NoteSigner::from_seed(ORIGIN, &[0x11; 32]).expect("key")
}

fn witness() -> Witness {
    let signer = CosignatureSigner::from_seed("witness.example/w1", &[0x22; 32]).expect("key");
    Witness::new(signer).with_log(ORIGIN, log_key().verifier())
}

fn tree(name: &str, len: u64) -> MemoryTree {
    MemoryTree::from_entries((0..len).map(|i| format!("{name} {i}")))
}

fn signed(tree: &MemoryTree, size: u64, key: &NoteSigner) -> String {
    let root = tree.root_at(size).expect("size within the tree");
    Checkpoint::new(ORIGIN, size, root)
        .expect("valid")
        .sign(&[key])
        .expect("signs")
}

/// The request a log holding `tree` sends to move a witness from `old` to `size`.
fn request(tree: &MemoryTree, old: u64, size: u64) -> String {
    let proof = if old == 0 {
        Vec::new()
    } else {
        tree.consistency_proof(old, size).expect("proof")
    };
    add_checkpoint_request(old, &proof, &signed(tree, size, &log_key()))
}

fn submit(
    witness: &Witness,
    body: &str,
    state: Option<LogState>,
) -> Result<LogState, WitnessError> {
    let request = AddCheckpoint::parse(body.as_bytes())?;
    let cosigned = witness.add_checkpoint(&request, state, TIME)?;
    Ok(cosigned.state())
}

fn state(tree: &MemoryTree, size: u64) -> Option<LogState> {
    Some(LogState {
        size,
        root: tree.root_at(size).expect("size within the tree"),
    })
}

#[test]
fn the_specification_example_request() {
    let request = AddCheckpoint::parse(SPEC_REQUEST.as_bytes()).expect("parses");
    assert_eq!(request.old_size(), 20852014);
    assert_eq!(request.proof().len(), 4);
    assert_eq!(
        request.proof()[0].to_base64(),
        "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw="
    );
    assert_eq!(request.origin(), "example.com/behind-the-sofa");
    assert_eq!(request.checkpoint().size(), 20852163);
    assert_eq!(request.note().signatures().len(), 2);

    // Written back by the log's side, it is the same bytes.
    let signed = SPEC_REQUEST.split_once("\n\n").expect("blank line").1;
    assert_eq!(
        add_checkpoint_request(request.old_size(), request.proof(), signed),
        SPEC_REQUEST
    );

    // This witness does not know that log; one that does, with another key, refuses it.
    let refused = witness().add_checkpoint(&request, None, TIME);
    assert_eq!(
        refused.as_ref().map_err(WitnessError::status),
        Err(404),
        "{refused:?}"
    );
    let other_key = witness().with_log("example.com/behind-the-sofa", log_key().verifier());
    assert_eq!(
        other_key.add_checkpoint(&request, None, TIME),
        Err(WitnessError::Signature(NoteError::NoKnownSignature))
    );
}

#[test]
fn the_specification_example_response() {
    let lines = parse_add_checkpoint_response(SPEC_RESPONSE).expect("parses");
    assert_eq!(
        lines.iter().map(|l| l.name()).collect::<Vec<_>>(),
        [
            "witness.example/w1",
            "witness.example/w1",
            "witness.example/w2"
        ]
    );
    assert!(parse_add_checkpoint_response("").is_err());
    assert!(parse_add_checkpoint_response(SPEC_RESPONSE.trim_end()).is_err());
    assert!(parse_add_checkpoint_response(&format!("{SPEC_RESPONSE}\n")).is_err());
    assert!(parse_add_checkpoint_response("old 5\n").is_err());
}

#[test]
fn a_growing_log_is_followed_and_cosigned() {
    let witness = witness();
    let verifier = witness.signer().verifier();
    let log = tree("a", 40);

    let mut state = None;
    for (old, size) in [(0, 3), (3, 8), (8, 8), (8, 9), (9, 16), (16, 40)] {
        let body = request(&log, old, size);
        let request = AddCheckpoint::parse(body.as_bytes()).expect("parses");
        let cosigned = witness
            .add_checkpoint(&request, state, TIME + size)
            .unwrap_or_else(|e| panic!("{old} -> {size}: {e}"));
        assert_eq!(cosigned.state(), self::state(&log, size).expect("state"));
        state = Some(cosigned.state());

        // The log merges the answer into its checkpoint; a client then finds the witness.
        let response = cosigned.response_body();
        assert!(response.starts_with("\u{2014} witness.example/w1 "));
        let lines = parse_add_checkpoint_response(&response).expect("lines");
        let mut note = request.note().clone();
        assert_eq!(
            add_cosignatures(&mut note, &lines, std::slice::from_ref(&verifier)),
            Ok(1)
        );
        let cosignatures = witnessed(&note, std::slice::from_ref(&verifier), 1).expect("1 of 1");
        assert_eq!(cosignatures[0].timestamp(), TIME + size);
        assert!(
            Checkpoint::open(note.to_string().as_bytes(), ORIGIN, &[log_key().verifier()]).is_ok()
        );
    }
}

#[test]
fn the_empty_tree() {
    let witness = witness();
    let log = tree("a", 4);
    let empty = request(&MemoryTree::new(), 0, 0);
    assert_eq!(
        submit(&witness, &empty, None),
        Ok(LogState {
            size: 0,
            root: empty_root()
        })
    );
    // From size 0 witnessed, any size follows without a proof.
    let zero = Some(LogState {
        size: 0,
        root: empty_root(),
    });
    assert!(submit(&witness, &request(&log, 0, 4), zero).is_ok());
    // A size-0 checkpoint must have the empty tree's root.
    let body = add_checkpoint_request(
        0,
        &[],
        &Checkpoint::new(ORIGIN, 0, log.root())
            .expect("valid")
            .sign(&[&log_key()])
            .expect("signs"),
    );
    assert_eq!(
        submit(&witness, &body, None),
        Err(WitnessError::EmptyTreeRoot)
    );
}

#[test]
fn a_fork_is_refused() {
    let witness = witness();
    let ours = tree("a", 20);
    let theirs = tree("b", 20);
    let at_8 = state(&ours, 8);

    // Same size, another root: 409.
    let fork = request(&theirs, 8, 8);
    let refused = submit(&witness, &fork, at_8);
    assert_eq!(refused, Err(WitnessError::Fork { size: 8 }));
    assert_eq!(
        refused.map_err(|e| (e.status(), e.conflict_size())),
        Err((409, None))
    );

    // A larger tree that does not extend the witnessed one, with its own (valid) proof: 422.
    let refused = submit(&witness, &request(&theirs, 8, 12), at_8);
    assert!(
        matches!(refused, Err(WitnessError::Proof(_))),
        "{refused:?}"
    );
    assert_eq!(refused.map_err(|e| e.status()), Err(422));

    // A tree that shares the first 8 entries and then differs is consistent: no fork.
    let mut branch = tree("a", 8);
    branch.push(b"another ninth entry");
    assert!(submit(&witness, &request(&branch, 8, 9), at_8).is_ok());
}

#[test]
fn a_rollback_is_refused() {
    let witness = witness();
    let log = tree("a", 20);
    let at_12 = state(&log, 12);

    // The log sends the witnessed size and a smaller tree: 400.
    let body = add_checkpoint_request(12, &[], &signed(&log, 5, &log_key()));
    let refused = submit(&witness, &body, at_12);
    assert_eq!(
        refused,
        Err(WitnessError::OldSizeAboveSize { old: 12, size: 5 })
    );
    assert_eq!(refused.map_err(|e| e.status()), Err(400));

    // It pretends the witness is behind: 409, with the witnessed size.
    for (old, size) in [(5, 8), (0, 5), (5, 5)] {
        let refused = submit(&witness, &request(&log, old, size), at_12);
        assert_eq!(
            refused,
            Err(WitnessError::OldSizeMismatch { old, size: 12 })
        );
        let error = refused.expect_err("refused");
        assert_eq!((error.status(), error.conflict_size()), (409, Some(12)));
    }
}

#[test]
fn a_stale_old_size_gets_the_witnessed_size() {
    let witness = witness();
    let log = tree("a", 20);
    let refused = submit(&witness, &request(&log, 3, 8), state(&log, 5));
    let error = refused.expect_err("refused");
    assert_eq!(error.status(), 409);
    assert_eq!(error.conflict_size(), Some(5));
    // The 409 body the log reads back.
    let body = format!("{}\n", error.conflict_size().expect("size"));
    assert_eq!(parse_tlog_size(&body), Some(5));
    assert_eq!(TLOG_SIZE_CONTENT_TYPE, "text/x.tlog.size");
    // The log retries from that size and is cosigned.
    assert!(submit(&witness, &request(&log, 5, 8), state(&log, 5)).is_ok());

    // Nothing witnessed is size 0.
    let error = submit(&witness, &request(&log, 3, 8), None).expect_err("refused");
    assert_eq!(error.conflict_size(), Some(0));

    for bad in ["", "5", "05\n", "-5\n", "5\n\n", " 5\n", "5 \n", "five\n"] {
        assert_eq!(parse_tlog_size(bad), None, "{bad:?}");
    }
    assert_eq!(parse_tlog_size("0\n"), Some(0));
}

#[test]
fn unknown_logs_and_other_keys_are_refused() {
    let witness = witness();
    let log = tree("a", 8);

    let other_origin = Checkpoint::new("example.com/other", 8, log.root())
        .expect("valid")
        .sign(&[&NoteSigner::from_seed("example.com/other", &[0x11; 32]).expect("key")])
        .expect("signs");
    let refused = submit(
        &witness,
        &add_checkpoint_request(0, &[], &other_origin),
        None,
    );
    assert_eq!(
        refused,
        Err(WitnessError::UnknownLog("example.com/other".into()))
    );
    assert_eq!(refused.map_err(|e| e.status()), Err(404));

    // The log's name with another key: the signature does not verify.
    let impostor = NoteSigner::from_seed(ORIGIN, &[0x33; 32]).expect("key");
    let body = add_checkpoint_request(0, &[], &signed(&log, 8, &impostor));
    let refused = submit(&witness, &body, None);
    assert_eq!(
        refused,
        Err(WitnessError::Signature(NoteError::NoKnownSignature))
    );
    assert_eq!(refused.map_err(|e| e.status()), Err(403));

    // The log's key over other text.
    let good = signed(&log, 8, &log_key());
    let altered = good.replacen("\n8\n", "\n7\n", 1);
    let refused = submit(&witness, &add_checkpoint_request(0, &[], &altered), None);
    assert!(matches!(
        refused,
        Err(WitnessError::Signature(NoteError::BadSignature { .. }))
    ));

    // Checked before the sizes: a stale old size on an impostor's checkpoint is still 403.
    let body = add_checkpoint_request(3, &[], &signed(&log, 8, &impostor));
    assert_eq!(
        submit(&witness, &body, state(&log, 5)).map_err(|e| e.status()),
        Err(403)
    );

    // The log's signature among others' is enough.
    let with_others = Checkpoint::new(ORIGIN, 8, log.root())
        .expect("valid")
        .sign(&[&impostor_named("someone.else"), &log_key()])
        .expect("signs");
    assert!(
        submit(
            &witness,
            &add_checkpoint_request(0, &[], &with_others),
            None
        )
        .is_ok()
    );
}

fn impostor_named(name: &str) -> NoteSigner {
    NoteSigner::from_seed(name, &[0x44; 32]).expect("key")
}

#[test]
fn bad_proofs_are_refused() {
    let witness = witness();
    let log = tree("a", 30);
    let at_7 = state(&log, 7);
    let proof = log.consistency_proof(7, 23).expect("proof");
    let checkpoint = signed(&log, 23, &log_key());
    assert!(
        submit(
            &witness,
            &add_checkpoint_request(7, &proof, &checkpoint),
            at_7
        )
        .is_ok()
    );

    let mut cases: Vec<Vec<Hash>> = Vec::new();
    for i in 0..proof.len() {
        let mut tampered = proof.clone();
        tampered[i].0[0] ^= 1;
        cases.push(tampered);
    }
    cases.push(proof[..proof.len() - 1].to_vec());
    cases.push([proof.clone(), vec![proof[0]]].concat());
    cases.push(Vec::new());
    cases.push(proof.iter().rev().copied().collect());
    for bad in cases {
        let refused = submit(
            &witness,
            &add_checkpoint_request(7, &bad, &checkpoint),
            at_7,
        );
        assert!(
            matches!(refused, Err(WitnessError::Proof(_))),
            "{bad:?}: {refused:?}"
        );
        assert_eq!(refused.map_err(|e| e.status()), Err(422));
    }

    // The same size needs the empty proof; size 0 too.
    let same = signed(&log, 7, &log_key());
    assert_eq!(
        submit(
            &witness,
            &add_checkpoint_request(7, &[proof[0]], &same),
            at_7
        )
        .map_err(|e| e.status()),
        Err(422)
    );
    assert_eq!(
        submit(
            &witness,
            &add_checkpoint_request(0, &[proof[0]], &checkpoint),
            None
        ),
        Err(WitnessError::Proof(ProofError::WrongProofLength {
            expected: 0,
            actual: 1
        }))
    );
}

#[test]
fn malformed_requests_are_refused() {
    let witness = witness();
    let log = tree("a", 8);
    let checkpoint = signed(&log, 8, &log_key());
    let hash = log.root().to_base64();
    let good = format!("old 0\n\n{checkpoint}");
    assert!(submit(&witness, &good, None).is_ok());

    let too_many = format!("old 4\n{}\n{checkpoint}", format!("{hash}\n").repeat(64));
    let mut cases = vec![
        String::new(),
        "old 0\n".to_owned(),
        checkpoint.clone(),
        format!("old 0\n{checkpoint}"),
        format!("\nold 0\n\n{checkpoint}"),
        format!("old 00\n\n{checkpoint}"),
        format!("old 01\n\n{checkpoint}"),
        format!("old -1\n\n{checkpoint}"),
        format!("old +1\n\n{checkpoint}"),
        format!("old  1\n\n{checkpoint}"),
        format!("old 1 \n\n{checkpoint}"),
        format!("Old 1\n\n{checkpoint}"),
        format!("old\n\n{checkpoint}"),
        format!("old 18446744073709551616\n\n{checkpoint}"),
        format!("{hash}\n\n{checkpoint}"),
        format!("old 4\nnot base64\n\n{checkpoint}"),
        format!("old 4\n{}\n\n{checkpoint}", hash.trim_end_matches('=')),
        format!("old 4\n{hash} \n\n{checkpoint}"),
        format!("old 0\r\n\r\n{checkpoint}"),
        format!("old 0\n\n{}", checkpoint.trim_end()),
        format!("old 0\n\n{}\n", checkpoint),
        format!("old 0\n\nnot a note\n"),
        format!("old 0\n\n{ORIGIN}\n8\n\n\u{2014} x AAAAAAA=\n"),
        format!("old 0\n\n{}", checkpoint.replacen("\n8\n", "\n08\n", 1)),
        too_many,
    ];
    cases.push(format!("old 0\n\n{}", checkpoint.replace('\u{2014}', "-")));
    for bad in &cases {
        let refused = submit(&witness, bad, None);
        assert!(
            matches!(refused, Err(WitnessError::Malformed(_))),
            "{bad:?}: {refused:?}"
        );
        assert_eq!(refused.map_err(|e| e.status()), Err(400));
    }
    let mut not_utf8 = good.into_bytes();
    not_utf8.push(0xff);
    assert!(matches!(
        AddCheckpoint::parse(&not_utf8),
        Err(WitnessError::Malformed(_))
    ));
    // 63 proof lines are allowed by the layout (the proof itself is then wrong).
    let most = format!("old 4\n{}\n{checkpoint}", format!("{hash}\n").repeat(63));
    assert!(AddCheckpoint::parse(most.as_bytes()).is_ok());
}

#[test]
fn random_logs_are_followed_and_tampering_is_caught() {
    // Seeded, so that a failure is reproducible.
    let mut rng = StdRng::seed_from_u64(0x5eed_0001);
    let witness = witness();
    for _ in 0..20 {
        let log = tree("r", rng.gen_range(1..300));
        let mut state: Option<LogState> = None;
        let mut size = 0;
        while size < log.len() {
            let next = rng.gen_range(size + 1..=log.len());
            let checkpoint = signed(&log, next, &log_key());
            if size > 0 {
                // A proof with one bit flipped never passes.
                let mut proof = log.consistency_proof(size, next).expect("proof");
                if !proof.is_empty() {
                    let i = rng.gen_range(0..proof.len());
                    proof[i].0[rng.gen_range(0..32)] ^= 1 << rng.gen_range(0..8);
                    let tampered = add_checkpoint_request(size, &proof, &checkpoint);
                    assert_eq!(
                        submit(&witness, &tampered, state).map_err(|e| e.status()),
                        Err(422),
                        "{size} -> {next}"
                    );
                }
                // Nor does going back to a smaller tree.
                let smaller = rng.gen_range(1..=size);
                if smaller < size {
                    let back =
                        add_checkpoint_request(size, &[], &signed(&log, smaller, &log_key()));
                    assert_eq!(
                        submit(&witness, &back, state).map_err(|e| e.status()),
                        Err(400)
                    );
                }
            }
            state = Some(submit(&witness, &request(&log, size, next), state).expect("accepted"));
            size = next;
        }
        assert_eq!(state.map(|s| s.root), Some(log.root()));
    }
}
