//! Witnesses' cosignatures (C2SP tlog-cosignature, Ed25519 `cosignature/v1`): a known answer,
//! the published example's layout, round trips, the k-of-n policy, and refusing other keys,
//! altered timestamps, altered text and truncated lines.
//!
//! Provenance of the known answers:
//! - `SPEC_LINE`: the witness's line of the example checkpoint in C2SP tlog-cosignature
//!   ("witness.example.com/w1"). Its key is not published, so only its layout is checked: the
//!   key ID, then the timestamp 1679315147 of the specification's example signed message.
//! - `VECTOR_VKEY` and `VECTOR_LINE`: computed for this test with Python's `cryptography`
//!   package (OpenSSL's Ed25519), independently of this crate, from the specification's
//!   definitions: seed 0x00 0x01 … 0x1f, name "witness.example/w1", key ID the first four
//!   bytes of SHA-256(name || 0x0A || 0x04 || public key), the example checkpoint text of
//!   C2SP tlog-checkpoint, and time 1679315147. Ed25519 is deterministic, so this crate must
//!   produce the same line byte for byte.

#![allow(clippy::expect_used, clippy::panic)] // tests state their expectations

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use healthcode_tlog::{
    COSIGNATURE_V1, Checkpoint, CosignatureError, CosignatureSigner, CosignatureVerifier,
    MAX_TIMESTAMP, Note, NoteError, NoteSignature, NoteSigner, NoteVerifier, add_cosignatures,
    leaf_hash, witnessed,
};

const SPEC_TEXT: &str =
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
const SPEC_LINE: &str = "\u{2014} witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n";
const SPEC_TIME: u64 = 1679315147;

const VECTOR_NAME: &str = "witness.example/w1";
const VECTOR_VKEY: &str =
    "witness.example/w1+e75f6532+BAOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
const VECTOR_LINE: &str = "\u{2014} witness.example/w1 519lMgAAAABkGFDLBuRDazBLVac2NE+Y+IjbjQOcXLfF9CSDZVUIoS83rE1nFZsVE8YiWV6Ngr7lV8H6bdoBQGP/l73euDMQ9k+bBQ==\n";

fn vector_seed() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

fn spec_checkpoint() -> Checkpoint {
    Checkpoint::parse_text(SPEC_TEXT).expect("the example checkpoint")
}

fn line(text: &str) -> NoteSignature {
    NoteSignature::parse_lines(text)
        .expect("a signature line")
        .pop()
        .expect("one line")
}

fn witness(n: u8) -> CosignatureSigner {
    CosignatureSigner::from_seed(&format!("witness.example/w{n}"), &[n; 32]).expect("key")
}

fn log_key() -> NoteSigner {
    NoteSigner::from_seed("example.com/log", &[0x11; 32]).expect("key")
}

/// A log's signed checkpoint, parsed back as a note.
fn signed_checkpoint() -> Note {
    let checkpoint = Checkpoint::new("example.com/log", 5, leaf_hash(b"five")).expect("valid");
    let signed = checkpoint.sign(&[&log_key()]).expect("signs");
    Note::parse(signed.as_bytes()).expect("parses")
}

#[test]
fn the_known_answer() {
    let signer = CosignatureSigner::from_seed(VECTOR_NAME, &vector_seed()).expect("key");
    assert_eq!(signer.verifier().to_string(), VECTOR_VKEY);
    let cosignature = signer
        .cosign(&spec_checkpoint(), SPEC_TIME)
        .expect("cosigns");
    assert_eq!(cosignature.to_string(), VECTOR_LINE);

    let verifier = CosignatureVerifier::parse(VECTOR_VKEY).expect("parses");
    assert_eq!(verifier, signer.verifier());
    assert_eq!(
        verifier.verify(SPEC_TEXT, &line(VECTOR_LINE)),
        Ok(SPEC_TIME)
    );
}

#[test]
fn the_specification_example_line() {
    let signature = line(SPEC_LINE);
    assert_eq!(signature.name(), "witness.example.com/w1");
    assert_eq!(signature.key_id(), 0x8d66_cf3f);
    let bytes = signature.signature();
    assert_eq!(bytes.len(), 8 + 64);
    let time: [u8; 8] = bytes[..8].try_into().expect("8 bytes");
    assert_eq!(u64::from_be_bytes(time), SPEC_TIME);
}

#[test]
fn verifier_keys_are_type_4_and_strict() {
    let signer = witness(1);
    let vkey = signer.verifier().to_string();
    let encoded = vkey.rsplit('+').next().expect("a key");
    let bytes = STANDARD.decode(encoded).expect("base64");
    assert_eq!(bytes[0], COSIGNATURE_V1);
    assert_eq!(&bytes[1..], signer.public_key());
    assert_eq!(vkey.parse::<CosignatureVerifier>(), Ok(signer.verifier()));

    // A log's key (type 0x01) is not a cosigner's, nor the other way round.
    let note_vkey = log_key().verifier().to_string();
    assert_eq!(
        CosignatureVerifier::parse(&note_vkey),
        Err(CosignatureError::KeyType(0x01))
    );
    assert_eq!(
        NoteVerifier::parse(&vkey),
        Err(NoteError::UnsupportedAlgorithm(0x04))
    );

    // The key ID must be the one of the name and key under type 0x04.
    let (name, rest) = vkey.split_once('+').expect("name");
    let (_, key) = rest.split_once('+').expect("id");
    let note_id = healthcode_tlog::key_id(name, &signer.public_key());
    assert_eq!(
        CosignatureVerifier::parse(&format!("{name}+{note_id:08x}+{key}")),
        Err(CosignatureError::Note(NoteError::KeyIdMismatch))
    );
    for bad in [
        format!("{name}+{:08X}+{key}", signer.key_id()),
        format!("{name}+{:07x}+{key}", signer.key_id()),
        format!("{name}{key}"),
        format!("a b+{:08x}+{key}", signer.key_id()),
        format!("{name}+{:08x}+{}", signer.key_id(), &key[..key.len() - 4]),
        format!(
            "{name}+{:08x}+{}",
            signer.key_id(),
            STANDARD.encode([&[COSIGNATURE_V1][..], &[0; 31]].concat())
        ),
    ] {
        assert!(CosignatureVerifier::parse(&bad).is_err(), "{bad:?}");
    }
    assert!(CosignatureSigner::from_seed("a+b", &[1; 32]).is_err());
}

#[test]
fn cosign_and_verify_round_trip_with_extensions() {
    let signer = witness(1);
    let checkpoint = Checkpoint::new("example.com/log", 9, leaf_hash(b"x"))
        .expect("valid")
        .with_extensions(&["one extension"])
        .expect("valid");
    for time in [0, 1, SPEC_TIME, MAX_TIMESTAMP] {
        let cosignature = signer.cosign(&checkpoint, time).expect("cosigns");
        assert_eq!(
            signer
                .verifier()
                .verify(&checkpoint.to_text(), &cosignature),
            Ok(time)
        );
        // Extension lines are signed too.
        let other = Checkpoint::new("example.com/log", 9, leaf_hash(b"x"))
            .expect("valid")
            .with_extensions(&["another extension"])
            .expect("valid");
        assert!(matches!(
            signer.verifier().verify(&other.to_text(), &cosignature),
            Err(CosignatureError::BadSignature { .. })
        ));
    }
    assert_eq!(
        signer.cosign(&checkpoint, MAX_TIMESTAMP + 1),
        Err(CosignatureError::Timestamp(MAX_TIMESTAMP + 1))
    );
}

#[test]
fn refusals() {
    let signer = witness(1);
    let verifier = signer.verifier();
    let good = signer
        .cosign(&spec_checkpoint(), SPEC_TIME)
        .expect("cosigns");
    let good_line = good.to_string();
    let payload = |line: &str| {
        let encoded = line.trim_end().rsplit(' ').next().expect("payload");
        STANDARD.decode(encoded).expect("base64")
    };
    let with_payload = |bytes: &[u8]| {
        line(&format!(
            "\u{2014} {} {}\n",
            signer.name(),
            STANDARD.encode(bytes)
        ))
    };

    // Another text.
    let other_text = SPEC_TEXT.replace("20852163", "20852164");
    assert!(matches!(
        verifier.verify(&other_text, &good),
        Err(CosignatureError::BadSignature { .. })
    ));

    // Another witness's key, under its own name or under this one's.
    let stranger = witness(2);
    let theirs = stranger
        .cosign(&spec_checkpoint(), SPEC_TIME)
        .expect("cosigns");
    assert!(matches!(
        verifier.verify(SPEC_TEXT, &theirs),
        Err(CosignatureError::OtherKey { .. })
    ));
    let mut forged = payload(&theirs.to_string());
    forged[..4].copy_from_slice(&signer.key_id().to_be_bytes());
    assert!(matches!(
        verifier.verify(SPEC_TEXT, &with_payload(&forged)),
        Err(CosignatureError::BadSignature { .. })
    ));

    // A note key with this witness's name and seed signs the bare text: not a cosignature.
    let note_key = NoteSigner::from_seed(signer.name(), &[1; 32]).expect("key");
    let plain = Note::sign(SPEC_TEXT, &[&note_key]).expect("signs");
    let plain = &plain.signatures()[0];
    assert!(matches!(
        verifier.verify(SPEC_TEXT, plain),
        Err(CosignatureError::OtherKey { .. })
    ));

    // The timestamp is signed: any other value, in any encoding, fails.
    let bytes = payload(&good_line);
    for time in [SPEC_TIME + 1, SPEC_TIME - 1, 0] {
        let mut altered = bytes.clone();
        altered[4..12].copy_from_slice(&time.to_be_bytes());
        assert!(
            matches!(
                verifier.verify(SPEC_TEXT, &with_payload(&altered)),
                Err(CosignatureError::BadSignature { .. })
            ),
            "{time}"
        );
    }
    let mut little_endian = bytes.clone();
    little_endian[4..12].copy_from_slice(&SPEC_TIME.to_le_bytes());
    assert!(
        verifier
            .verify(SPEC_TEXT, &with_payload(&little_endian))
            .is_err()
    );
    let mut top_bit = bytes.clone();
    top_bit[4] |= 0x80;
    assert_eq!(
        verifier.verify(SPEC_TEXT, &with_payload(&top_bit)),
        Err(CosignatureError::Timestamp(SPEC_TIME | 1 << 63))
    );

    // Truncated or lengthened: only the key ID, timestamp and 64 signature bytes.
    for len in [5, 11, 12, 12 + 63, bytes.len() - 1] {
        assert_eq!(
            verifier.verify(SPEC_TEXT, &with_payload(&bytes[..len])),
            Err(CosignatureError::Length(len - 4)),
            "{len}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        verifier.verify(SPEC_TEXT, &with_payload(&longer)),
        Err(CosignatureError::Length(73))
    );
    // A flipped bit anywhere in the signature.
    for i in 12..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x01;
        assert!(
            verifier.verify(SPEC_TEXT, &with_payload(&flipped)).is_err(),
            "byte {i}"
        );
    }
}

#[test]
fn k_of_n() {
    let (w1, w2, w3) = (witness(1), witness(2), witness(3));
    let all = [w1.verifier(), w2.verifier(), w3.verifier()];
    let mut note = signed_checkpoint();
    let text = note.text().to_owned();
    let checkpoint = Checkpoint::parse_text(&text).expect("checkpoint");

    assert_eq!(
        witnessed(&note, &all, 1),
        Err(CosignatureError::NotEnough {
            needed: 1,
            found: 0
        })
    );
    assert_eq!(witnessed(&note, &all, 0).map(|c| c.len()), Ok(0));

    let from_w1 = w1.cosign(&checkpoint, 100).expect("cosigns");
    let from_w3 = w3.cosign(&checkpoint, 300).expect("cosigns");
    assert_eq!(
        add_cosignatures(&mut note, &[from_w1, from_w3], &all),
        Ok(2)
    );
    let found = witnessed(&note, &all, 2).expect("2 of 3");
    assert_eq!(
        found
            .iter()
            .map(|c| (c.name(), c.timestamp()))
            .collect::<Vec<_>>(),
        [("witness.example/w1", 100), ("witness.example/w3", 300)]
    );
    assert_eq!(found[0].key_id(), w1.key_id());
    assert_eq!(
        witnessed(&note, &all, 3),
        Err(CosignatureError::NotEnough {
            needed: 3,
            found: 2
        })
    );
    // One witness listed twice counts once.
    let twice = [w1.verifier(), w1.verifier()];
    assert!(witnessed(&note, &twice, 2).is_err());

    // The note still opens with the log's key, which ignores the cosignatures, and its text
    // round-trips with every line.
    let sent = note.to_string();
    assert!(Checkpoint::open(sent.as_bytes(), "example.com/log", &[log_key().verifier()]).is_ok());
    let reread = Note::parse(sent.as_bytes()).expect("parses");
    assert_eq!(reread.signatures().len(), 3);
    assert!(witnessed(&reread, &all, 2).is_ok());

    // A bad line by a listed witness refuses the note, even with enough good ones.
    let bad = sent.replacen("\n5\n", "\n6\n", 1);
    let bad = Note::parse(bad.as_bytes()).expect("parses");
    assert!(matches!(
        witnessed(&bad, &all, 1),
        Err(CosignatureError::BadSignature { .. })
    ));
}

#[test]
fn adding_cosignatures() {
    let (w1, w2) = (witness(1), witness(2));
    let trusted = [w1.verifier()];
    let mut note = signed_checkpoint();
    let checkpoint = Checkpoint::parse_text(note.text()).expect("checkpoint");

    // An untrusted witness's lines are ignored; a trusted one's replaces its older line.
    let older = w1.cosign(&checkpoint, 100).expect("cosigns");
    let newer = w1.cosign(&checkpoint, 200).expect("cosigns");
    let stranger = w2.cosign(&checkpoint, 100).expect("cosigns");
    assert_eq!(
        add_cosignatures(&mut note, &[older, stranger], &trusted),
        Ok(1)
    );
    assert_eq!(
        add_cosignatures(&mut note, std::slice::from_ref(&newer), &trusted),
        Ok(1)
    );
    assert_eq!(note.signatures().len(), 2);
    assert_eq!(note.signatures()[1], newer);
    assert_eq!(
        witnessed(&note, &trusted, 1).map(|c| c[0].timestamp()),
        Ok(200)
    );

    // A trusted witness's line over another checkpoint adds nothing, even beside a good one.
    let other = Checkpoint::new("example.com/log", 6, leaf_hash(b"six")).expect("valid");
    let wrong = w1.cosign(&other, 300).expect("cosigns");
    let before = note.clone();
    assert!(matches!(
        add_cosignatures(&mut note, &[newer, wrong], &trusted),
        Err(CosignatureError::BadSignature { .. })
    ));
    assert_eq!(note, before);
}
