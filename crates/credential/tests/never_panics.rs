//! Randomised inputs: whatever the verifier and the trust list reader are given, they return
//! an error or a result and never panic; and no random change to a real code verifies.

#![allow(clippy::expect_used, clippy::panic)] // tests state their expectations

mod common;

use common::*;
use healthcode_credential::{TrustList, base45, issue_code};
use proptest::prelude::*;

fn example_cose() -> Vec<u8> {
    cose_bytes(&issue_code(&example_claims(), &example_key()).expect("issues"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let verifier = example_verifier();
        let text = String::from_utf8_lossy(&bytes);
        let _ = verifier.verify(&text, example_now());
        let _ = base45::decode(&bytes);
        let _ = verifier.verify(&code_of(&bytes), example_now());
    }

    #[test]
    fn random_strings_never_panic(text in ".{0,300}") {
        let _ = example_verifier().verify(&text, example_now());
        let _ = example_verifier().verify(&format!("HCN1:{text}"), example_now());
        let _ = TrustList::from_json(&text, None);
    }

    #[test]
    fn random_base45_never_panics(text in "HCN1:[0-9A-Z $%*+./:-]{0,400}") {
        let _ = example_verifier().verify(&text, example_now());
    }

    /// Random edits of a real code's bytes — overwrite, insert, delete — never verify.
    #[test]
    fn edited_codes_never_verify(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6)
    ) {
        let original = example_cose();
        let mut cose = original.clone();
        for (index, value, kind) in edits {
            match kind {
                0 if !cose.is_empty() => {
                    let i = index.index(cose.len());
                    cose[i] = value;
                }
                1 => {
                    let i = index.index(cose.len() + 1);
                    cose.insert(i, value);
                }
                _ if !cose.is_empty() => {
                    let i = index.index(cose.len());
                    cose.remove(i);
                }
                _ => {}
            }
        }
        prop_assume!(cose != original);
        prop_assert!(example_verifier().verify(&code_of(&cose), example_now()).is_err());
    }

    #[test]
    fn any_time_is_handled(secs in any::<i64>()) {
        let code = issue_code(&example_claims(), &example_key()).expect("issues");
        if let Some(now) = chrono::DateTime::from_timestamp(secs, 0) {
            let result = example_verifier().verify(&code, now);
            let valid = now > example_claims().issued_at - chrono::TimeDelta::seconds(61)
                && now < example_claims().expires_at;
            prop_assert_eq!(result.is_ok(), valid);
        }
    }
}
