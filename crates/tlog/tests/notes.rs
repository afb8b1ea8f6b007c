//! Signed notes (C2SP signed-note, Ed25519): published examples, signing and verifying with a
//! fixed seed, and refusing altered notes, keys and signatures.
//!
//! Provenance of the known answers:
//! - `example.com/foo`: the verifier key and signed note of the "Example" section of
//!   C2SP signed-note (c2sp.org/signed-note).
//! - `PeterNeumann`: the private key, verifier key and signed note of `ExampleSign` and
//!   `ExampleOpen` in golang.org/x/mod `sumdb/note/example_test.go`, and the malformed keys of
//!   `TestNewVerifier` in `sumdb/note/note_test.go`. Ed25519 is deterministic, so signing the
//!   same text with the same seed must give the same line byte for byte.

#![allow(clippy::expect_used, clippy::panic)] // tests state their expectations

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use healthcode_tlog::{MAX_SIGNATURES, Note, NoteError, NoteSigner, NoteVerifier, key_id};

const C2SP_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const C2SP_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

const GO_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const GO_SIGNATURE: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

/// The Go example's signer. Its private key string is Go's own format,
/// `PRIVATE+KEY+<name>+<key ID>+<base64(0x01 || seed)>`; this crate takes the seed.
fn go_signer() -> NoteSigner {
    // The base64 may itself hold a `+`: the key is everything after the fourth.
    let encoded = GO_SKEY.splitn(5, '+').nth(4).expect("a key");
    let bytes = STANDARD.decode(encoded).expect("base64");
    assert_eq!(bytes[0], 0x01, "Ed25519");
    let seed: [u8; 32] = bytes[1..].try_into().expect("a 32-byte seed");
    NoteSigner::from_seed("PeterNeumann", &seed).expect("signer")
}

fn go_note() -> String {
    format!("{GO_TEXT}\n{GO_SIGNATURE}")
}

fn seed_signer(name: &str, byte: u8) -> NoteSigner {
    NoteSigner::from_seed(name, &[byte; 32]).expect("signer")
}

#[test]
fn the_c2sp_example_verifies() {
    let verifier = NoteVerifier::parse(C2SP_VKEY).expect("vkey");
    assert_eq!(verifier.name(), "example.com/foo");
    assert_eq!(verifier.key_id(), 0x530d903a);
    assert_eq!(verifier.to_string(), C2SP_VKEY);
    let note = Note::open(C2SP_NOTE.as_bytes(), &[verifier]).expect("verifies");
    assert_eq!(note.text(), "This is an example message.\n");
    assert_eq!(note.signatures().len(), 1);
    assert_eq!(note.to_string(), C2SP_NOTE);
}

#[test]
fn the_go_example_signs_and_verifies() {
    let signer = go_signer();
    assert_eq!(signer.key_id(), 0xc74f20a3);
    assert_eq!(signer.verifier().to_string(), GO_VKEY);
    assert_eq!(key_id("PeterNeumann", &signer.public_key()), 0xc74f20a3);

    let note = Note::sign(GO_TEXT, &[&signer]).expect("signs");
    assert_eq!(note.to_string(), go_note());

    let verifier = NoteVerifier::parse(GO_VKEY).expect("vkey");
    let opened = Note::open(go_note().as_bytes(), &[verifier]).expect("verifies");
    assert_eq!(opened.text(), GO_TEXT);
    assert_eq!(opened.signatures()[0].name(), "PeterNeumann");
    assert_eq!(opened.signatures()[0].key_id(), 0xc74f20a3);
}

#[test]
fn mangled_verifier_keys_are_refused() {
    // As golang.org/x/mod's TestNewVerifier: every proper substring, and every byte changed.
    let bytes = GO_VKEY.as_bytes();
    for start in 0..bytes.len() {
        for end in start + 1..=bytes.len() {
            if (start, end) == (0, bytes.len()) {
                continue;
            }
            let part = &GO_VKEY[start..end];
            assert!(NoteVerifier::parse(part).is_err(), "{part:?} was accepted");
        }
    }
    for i in 0..bytes.len() {
        let mut changed = bytes.to_vec();
        changed[i] = changed[i].wrapping_add(1);
        if let Ok(text) = String::from_utf8(changed) {
            assert!(NoteVerifier::parse(&text).is_err(), "{text:?} was accepted");
        }
    }
    // A key of the wrong length, and one of an unknown signature type, each with the key ID
    // recomputed to match (from Go's test). The first is refused before its length matters:
    // its last base64 character has non-zero unused bits, which Go's decoder tolerates and
    // this crate's does not.
    assert_eq!(
        NoteVerifier::parse(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        ),
        Err(NoteError::VerifierKey("the key is not base64"))
    );
    let long_key = STANDARD.encode([&[1u8][..], &[7; 33]].concat());
    assert_eq!(
        NoteVerifier::parse(&format!("PeterNeumann+00000000+{long_key}")),
        Err(NoteError::VerifierKey("an Ed25519 key is 32 bytes"))
    );
    assert_eq!(
        NoteVerifier::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(NoteError::UnsupportedAlgorithm(0x65))
    );
    // Uppercase hex, a wrong key ID, a bad name.
    assert!(NoteVerifier::parse(&GO_VKEY.replace("c74f20a3", "C74F20A3")).is_err());
    assert_eq!(
        NoteVerifier::parse(&GO_VKEY.replace("c74f20a3", "c74f20a4")),
        Err(NoteError::KeyIdMismatch)
    );
    assert_eq!(
        NoteVerifier::parse(&format!(
            "Peter Neumann{}",
            &GO_VKEY["PeterNeumann".len()..]
        )),
        Err(NoteError::KeyName)
    );
}

#[test]
fn round_trip_with_a_fixed_seed() {
    let signer = seed_signer("example.com/healthcode-log", 7);
    let verifier = NoteVerifier::parse(&signer.verifier().to_string()).expect("vkey");
    assert_eq!(verifier, signer.verifier());
    let text = "line one\nline two\n";
    let signed = Note::sign(text, &[&signer]).expect("signs").to_string();
    // Deterministic: the same seed and text give the same note.
    assert_eq!(
        Note::sign(text, &[&signer]).expect("signs").to_string(),
        signed
    );
    let note = Note::open(signed.as_bytes(), &[verifier]).expect("verifies");
    assert_eq!(note.text(), text);
    assert_eq!(Note::parse(signed.as_bytes()), Ok(note));
}

#[test]
fn every_altered_byte_is_refused() {
    let verifier = NoteVerifier::parse(GO_VKEY).expect("vkey");
    let note = go_note().into_bytes();
    for i in 0..note.len() {
        for flip in [0x01, 0x20, 0x80] {
            let mut altered = note.clone();
            altered[i] ^= flip;
            assert!(
                Note::open(&altered, std::slice::from_ref(&verifier)).is_err(),
                "byte {i} ^ {flip:#x} was accepted"
            );
        }
    }
}

#[test]
fn extra_and_missing_lines_are_refused() {
    let verifier = NoteVerifier::parse(GO_VKEY).expect("vkey");
    let open = |msg: &str| Note::open(msg.as_bytes(), std::slice::from_ref(&verifier));
    let bad_signature = Err(NoteError::BadSignature {
        name: "PeterNeumann".into(),
        key_id: 0xc74f20a3,
    });

    assert!(open(&go_note()).is_ok());
    // A line added to or removed from the text.
    assert_eq!(
        open(&format!("{GO_TEXT}and more\n\n{GO_SIGNATURE}")),
        bad_signature
    );
    assert_eq!(
        open(&format!("{GO_TEXT}\n\n{GO_SIGNATURE}")),
        bad_signature,
        "a blank line more before the signatures belongs to the text"
    );
    let first_line_only = GO_TEXT.lines().next().expect("a line");
    assert_eq!(
        open(&format!("{first_line_only}\n\n{GO_SIGNATURE}")),
        bad_signature
    );
    // The blank line, the signature, the final newline.
    assert!(matches!(
        open(&format!("{GO_TEXT}{GO_SIGNATURE}")),
        Err(NoteError::Malformed(_))
    ));
    assert!(matches!(
        open(&format!("{GO_TEXT}\n")),
        Err(NoteError::Malformed(_))
    ));
    assert!(matches!(open(GO_TEXT), Err(NoteError::Malformed(_))));
    assert!(matches!(
        open(go_note().trim_end_matches('\n')),
        Err(NoteError::Malformed(_))
    ));
    // A blank line after the signatures, or a line that is not a signature.
    assert!(matches!(
        open(&format!("{}\n", go_note())),
        Err(NoteError::Malformed(_))
    ));
    assert!(matches!(
        open(&format!("{}not a signature\n", go_note())),
        Err(NoteError::Malformed(_))
    ));
    assert!(matches!(
        open(&go_note().replace('\u{2014}', "-")),
        Err(NoteError::Malformed(_))
    ));
    // Control characters other than newline, and bytes that are not UTF-8.
    assert!(matches!(
        open(&go_note().replace('\n', "\r\n")),
        Err(NoteError::Malformed(_))
    ));
    assert!(matches!(
        open(&go_note().replacen(' ', "\t", 1)),
        Err(NoteError::Malformed(_))
    ));
    let mut not_utf8 = go_note().into_bytes();
    not_utf8[3] = 0xff;
    assert_eq!(
        Note::open(&not_utf8, std::slice::from_ref(&verifier)),
        Err(NoteError::Malformed("not UTF-8"))
    );
}

#[test]
fn only_known_keys_count() {
    let log = seed_signer("example.com/log", 1);
    let witness = seed_signer("witness.example", 2);
    let text = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
    let signed = Note::sign(text, &[&log, &witness])
        .expect("signs")
        .to_string();

    // Each key alone, both, and neither.
    assert!(Note::open(signed.as_bytes(), &[log.verifier()]).is_ok());
    assert!(Note::open(signed.as_bytes(), &[witness.verifier()]).is_ok());
    let note = Note::parse(signed.as_bytes()).expect("parses");
    assert_eq!(
        note.verify(&[log.verifier(), witness.verifier()])
            .expect("verifies")
            .len(),
        2
    );
    let stranger = seed_signer("stranger.example", 3);
    assert_eq!(
        Note::open(signed.as_bytes(), &[stranger.verifier()]),
        Err(NoteError::NoKnownSignature)
    );
    assert_eq!(
        Note::open(signed.as_bytes(), &[]),
        Err(NoteError::NoKnownSignature)
    );

    // The same name with another key, and the same key under another name: other keys.
    let same_name = seed_signer("example.com/log", 9);
    assert_ne!(same_name.key_id(), log.key_id());
    assert_eq!(
        Note::open(signed.as_bytes(), &[same_name.verifier()]),
        Err(NoteError::NoKnownSignature)
    );
    let same_key = seed_signer("example.com/other", 1);
    assert_eq!(same_key.public_key(), log.public_key());
    assert_eq!(
        Note::open(signed.as_bytes(), &[same_key.verifier()]),
        Err(NoteError::NoKnownSignature)
    );

    // A signature line whose key ID was changed to another's names no known key.
    let log_line = note.signatures()[0].to_string();
    let encoded = log_line.rsplit(' ').next().expect("base64").trim_end();
    let mut raw = STANDARD.decode(encoded).expect("base64");
    raw[..4].copy_from_slice(&same_name.key_id().to_be_bytes());
    let wrong_id = signed.replace(encoded, &STANDARD.encode(&raw));
    assert_eq!(
        Note::open(wrong_id.as_bytes(), &[log.verifier()]),
        Err(NoteError::NoKnownSignature)
    );
    // ...and a known key's ID on someone else's signature is a bad signature.
    let witness_line = note.signatures()[1].to_string();
    let forged = signed.replace(
        &witness_line,
        &witness_line.replace("witness.example", "example.com/log"),
    );
    let forged_encoded = witness_line.rsplit(' ').next().expect("base64").trim_end();
    let mut raw = STANDARD.decode(forged_encoded).expect("base64");
    raw[..4].copy_from_slice(&log.key_id().to_be_bytes());
    let forged = forged.replace(forged_encoded, &STANDARD.encode(&raw));
    assert_eq!(
        Note::open(forged.as_bytes(), &[log.verifier()]),
        Err(NoteError::BadSignature {
            name: "example.com/log".into(),
            key_id: log.key_id()
        })
    );

    // An unknown signature added by anyone leaves the note valid; the known one still counts.
    let with_unknown = format!(
        "{signed}{}",
        Note::sign(text, &[&stranger]).expect("signs").signatures()[0]
    );
    assert!(Note::open(with_unknown.as_bytes(), &[log.verifier()]).is_ok());
}

#[test]
fn signature_count_limit() {
    let signers: Vec<NoteSigner> = (0..MAX_SIGNATURES)
        .map(|i| seed_signer(&format!("witness{i}.example"), i as u8))
        .collect();
    let refs: Vec<&NoteSigner> = signers.iter().collect();
    let text = "many witnesses\n";
    let signed = Note::sign(text, &refs).expect("signs").to_string();
    let verifiers: Vec<NoteVerifier> = signers.iter().map(NoteSigner::verifier).collect();
    let note = Note::parse(signed.as_bytes()).expect("parses");
    assert_eq!(note.verify(&verifiers).map(|v| v.len()), Ok(MAX_SIGNATURES));

    let one_more = seed_signer("one.more.example", 200);
    let over = format!(
        "{signed}{}",
        Note::sign(text, &[&one_more]).expect("signs").signatures()[0]
    );
    assert_eq!(
        Note::parse(over.as_bytes()),
        Err(NoteError::Malformed("more than 100 signatures"))
    );
}

#[test]
fn short_and_undecodable_signatures() {
    let verifier = NoteVerifier::parse(GO_VKEY).expect("vkey");
    let with_signature = |encoded: &str| format!("{GO_TEXT}\n\u{2014} PeterNeumann {encoded}\n");
    // Five bytes is the shortest signature line the format allows; for a known Ed25519 key it
    // is a bad signature.
    let five = STANDARD.encode([0xc7, 0x4f, 0x20, 0xa3, 0]);
    assert_eq!(
        Note::open(
            with_signature(&five).as_bytes(),
            std::slice::from_ref(&verifier)
        ),
        Err(NoteError::BadSignature {
            name: "PeterNeumann".into(),
            key_id: 0xc74f20a3
        })
    );
    let four = STANDARD.encode([0xc7, 0x4f, 0x20, 0xa3]);
    assert!(matches!(
        Note::parse(with_signature(&four).as_bytes()),
        Err(NoteError::Malformed(_))
    ));
    for bad in ["", "not base64!", "AAAAAAA", "AAAAAAA=="] {
        assert!(
            matches!(
                Note::parse(with_signature(bad).as_bytes()),
                Err(NoteError::Malformed(_))
            ),
            "{bad:?}"
        );
    }
}
