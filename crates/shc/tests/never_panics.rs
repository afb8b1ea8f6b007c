//! Randomised inputs: whatever text the decoders and readers are given, they return a result
//! or an error and never panic; and no random change to a real card verifies. Card inputs are
//! untrusted, so these are the fuzz entry points run as tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::OnceLock;

use common::*;
use healthcode_shc::{
    Jwks, RevocationList, Trust, decode_numeric, health_card_file_jws, verify_file, verify_jws,
    verify_qr,
};
use proptest::prelude::*;

/// A trusted test issuer and one card it signed, shared by the cases.
fn fixture() -> &'static (Trust, String) {
    static FIXTURE: OnceLock<(Trust, String)> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let issuer = TestIssuer::new();
        let mut trust = Trust::new();
        trust
            .add_issuer("https://test.example/issuer", issuer.jwks(None))
            .unwrap();
        let card = issuer.sign(&payload(
            "https://test.example/issuer",
            examples_now().timestamp(),
            "",
        ));
        assert!(verify_jws(&card, &trust, examples_now()).is_ok());
        (trust, card)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_text_never_panics(text in ".{0,300}") {
        let (trust, _) = fixture();
        let now = examples_now();
        let _ = decode_numeric(&[&text]);
        let _ = decode_numeric(&[&text, &text]);
        let _ = verify_qr(&[&text], trust, now);
        let _ = verify_jws(&text, trust, now);
        let _ = verify_file(&text, trust, now);
        let _ = health_card_file_jws(&text);
        let _ = Jwks::from_json(&text);
        let _ = RevocationList::from_json(&text);
    }

    #[test]
    fn random_numeric_qr_never_panics(
        header in prop_oneof![Just(String::new()), "[0-9]{1,3}/[0-9]{1,3}/", "[0-9/]{0,8}"],
        digits in "[0-9]{0,2400}",
    ) {
        let text = format!("shc:/{header}{digits}");
        let _ = decode_numeric(&[&text]);
        let _ = verify_qr(&[&text], &fixture().0, examples_now());
    }

    #[test]
    fn random_compact_jws_never_panics(
        parts in proptest::collection::vec("[A-Za-z0-9_-]{0,120}", 0..5),
    ) {
        let _ = verify_jws(&parts.join("."), &fixture().0, examples_now());
    }

    #[test]
    fn random_headers_on_a_real_card_never_panic(header in ".{0,120}") {
        let (trust, card) = fixture();
        let rest = card.split_once('.').unwrap().1;
        let jws = format!("{}.{rest}", b64(header.as_bytes()));
        let _ = verify_jws(&jws, trust, examples_now());
    }

    #[test]
    fn numeric_encoding_round_trips(jws in "[A-Za-z0-9_.-]{1,1195}") {
        prop_assert_eq!(decode_numeric(&[&to_numeric(&jws)]).unwrap(), jws);
    }

    /// Random edits of a real card — overwrite, insert, delete one character — never verify.
    #[test]
    fn edited_cards_never_verify(
        at in any::<prop::sample::Index>(),
        c in prop::char::range('!', '~'),
        edit in 0..3u8,
    ) {
        let (trust, card) = fixture();
        let mut chars: Vec<char> = card.chars().collect();
        let i = at.index(chars.len());
        match edit {
            0 => chars[i] = c,
            1 => chars.insert(i, c),
            _ => { chars.remove(i); }
        }
        let edited: String = chars.into_iter().collect();
        prop_assume!(edited != *card);
        prop_assert!(verify_jws(&edited, trust, examples_now()).is_err());
        if edited.bytes().all(|b| (b'-'..=b'z').contains(&b)) {
            prop_assert!(verify_qr(&[&to_numeric(&edited)], trust, examples_now()).is_err());
        }
    }
}
