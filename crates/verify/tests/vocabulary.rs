//! One vocabulary of refusal codes across the three formats: the same fault has the same
//! `error_code` whether the code was native, an EU DCC or a SMART Health Card, as the table
//! in docs/VERIFY.md says; and the shared codes and the verifier's own are in that table.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use healthcode_credential::VerifyError;
use healthcode_dcc::DccError;
use healthcode_shc::ShcError;

/// (native, EU DCC, SMART Health Card) for each fault the three formats share.
fn shared() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            VerifyError::Prefix.code(),
            DccError::Prefix.code(),
            ShcError::BadPrefix.code(),
        ),
        (
            VerifyError::Algorithm.code(),
            DccError::Algorithm("-9".into()).code(),
            ShcError::HeaderAlg.code(),
        ),
        (
            VerifyError::MissingKid.code(),
            DccError::MissingKid.code(),
            ShcError::MissingKid.code(),
        ),
        (
            VerifyError::UnknownKey.code(),
            DccError::UnknownKey.code(),
            ShcError::UnknownKid { kid: "k".into() }.code(),
        ),
        (
            VerifyError::Signature.code(),
            DccError::Signature.code(),
            ShcError::BadSignature.code(),
        ),
        (
            VerifyError::Claims("x").code(),
            DccError::Claims("x").code(),
            ShcError::BadClaims("x").code(),
        ),
        (
            VerifyError::NotYetValid.code(),
            DccError::NotYetValid.code(),
            ShcError::NotYetValid.code(),
        ),
        (
            VerifyError::Expired.code(),
            DccError::Expired.code(),
            ShcError::Expired.code(),
        ),
    ]
}

#[test]
fn the_same_fault_has_the_same_code_in_every_format() {
    for (native, dcc, shc) in shared() {
        assert_eq!((native, dcc), (native, native), "EU DCC differs");
        assert_eq!((native, shc), (native, native), "SMART Health Card differs");
    }
    // Faults two formats share.
    assert_eq!(DccError::Compression("x").code(), ShcError::Inflate.code());
    assert_eq!(
        DccError::TooLarge { limit: 1 }.code(),
        ShcError::PayloadTooLarge { limit: 1 }.code()
    );
    assert_eq!(
        ShcError::SignatureFormat { len: 1 }.code(),
        VerifyError::Signature.code()
    );
    assert_eq!(
        VerifyError::ExpiresBeforeIssued.code(),
        ShcError::ExpiresBeforeValid.code()
    );
}

/// The codes in the first column of docs/VERIFY.md's table of refusal codes.
fn documented() -> Vec<String> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/VERIFY.md"))
            .unwrap();
    let table = text
        .split("<!-- error-codes:start -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- error-codes:end -->").next())
        .expect("VERIFY.md marks its table of codes");
    // The first column of each row: one or more codes in backticks.
    table
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|line| line.split(" |").next())
        .flat_map(|cell| {
            cell.split(", ")
                .map(|code| code.trim_matches('`').to_owned())
        })
        .collect()
}

#[test]
fn every_shared_code_is_documented() {
    let documented = documented();
    assert!(documented.len() > 20, "{documented:?}");
    for (code, _, _) in shared() {
        assert!(
            documented.iter().any(|d| d == code),
            "{code} is not in VERIFY.md"
        );
    }
    for code in [
        "too_long",
        "unknown_format",
        "rule_failed",
        "rule_error",
        "revoked",
    ] {
        assert!(
            documented.iter().any(|d| d == code),
            "{code} is not in VERIFY.md"
        );
    }
}
