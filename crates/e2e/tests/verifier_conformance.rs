//! One truth for two verifiers: the gate page's offline verifier
//! (`crates/server/assets/verify.js`, the very file the server ships) and the Rust verifier
//! (`healthcode_verify::Trust::verify` over `healthcode_credential`) must reach the same
//! decision with the same refusal code on every code.
//!
//! The codes: the worked example of docs/FORMAT.md §8 verbatim (its trust list read from the
//! §8.8 file), honestly issued codes of every kind, each refusal of FORMAT.md §5 (expired, not
//! yet valid, wrong region, unknown key, key outside its window or without code usage, …),
//! envelopes and claims no issuer would write (signed here, so that the check under test is
//! the one that fails), and the damage classes of `crates/credential/tests/codes.rs`: every
//! truncation of the text, every flipped bit of the COSE bytes, changed characters at every
//! position, and random single-byte mutations from a fixed seed. Any difference is printed as
//! a table and fails the test.
//!
//! The rest of what a gate page decides offline is held to the Rust side the same way:
//! reading a signed trust list file (`readTrustList` against `TrustList::from_json`, in
//! `verifier_conformance/trust_list_files.rs`) and the door's rule (`decide` against
//! `EntryPolicy::decide` with the server's reasons, in `verifier_conformance/door_decisions.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "verifier_conformance/door_decisions.rs"]
mod door_decisions;
#[path = "verifier_conformance/trust_list_files.rs"]
mod trust_list_files;

use anyhow::Result;
use axum::Router;
use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::routing::get;
use chrono::{DateTime, Utc};
use ed25519_dalek::Signer;
use healthcode_credential::{
    CodeClaims, KeyUsage, PREFIX, SigningKey, TrustList, TrustedKey, base45, issue_code,
};
use healthcode_domain::{Colour, DocumentType, ReminderKind, VaccinationState};
use healthcode_e2e::{Browser, Options, Page};
use healthcode_verify::Trust;
use serde::{Deserialize, Serialize};

/// The verifier the server ships, byte for byte.
const VERIFY_JS: &str = include_str!("../../server/assets/verify.js");
const PAGE: &str = "<!doctype html><html lang=en><meta charset=utf-8><title>verifier</title>\
                    <script src=\"/verify.js\"></script><p>verifier</p></html>";
const CSP: &str = "default-src 'none'; script-src 'self'";

/// docs/FORMAT.md §8.7, verbatim.
const EXAMPLE_CODE: &str = "HCN1:RRQT 9P60GO0%7WWP59 ULW98CK-.A.70+M8LW51G965AKB0*M0DY0W016C1PN1:Y1512BF38+U/P6BF37+UL9G100000YAL200B8GZ50500:XC3%N3E5SJEV96*E5*E5*E5*E5*E5*E52F5Z5B*50BF3U.U/10Z78S-N4M018D$OS6BWBJTQIJTN28R3497TL6%B61WB4/JP%QE/E//F+MA4+FCWT6BN8.D2+8*AMI8SQ68VXR1.B585$UDU4200";
/// docs/FORMAT.md §8.8, verbatim, and its root key.
const EXAMPLE_LIST: &str = r#"{"format":"healthcode-trust-list","version":1,"region":"CN-BJ","cose":"0oRNogEnBEg0dQ+YvVn8/KBYeqcBAQJlQ04tQkoDAQQaafPtAAUaaf0ngAZYIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29cB4GlAUj+gSwS86tM5gJYIOpKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIsAxppVbkABBprNux/BYEBWEC+J7z5o9djbFAtMq03c6VWwOHtvD+zk3/d0hwVB+HhxRmaF/9UK+doaFP9xaBZ9+JhuLzoDz+JWqGWKiNeGKsB"}"#;
const EXAMPLE_ROOT: [u8; 32] = [
    0x8a, 0x88, 0xe3, 0xdd, 0x74, 0x09, 0xf1, 0x95, 0xfd, 0x52, 0xdb, 0x2d, 0x3c, 0xba, 0x5d, 0x72,
    0xca, 0x67, 0x09, 0xbf, 0x1d, 0x94, 0x12, 0x1b, 0xf3, 0x74, 0x88, 0x01, 0xb4, 0x0f, 0x6f, 0x5c,
];

/// The worked example's times: issued 2026-05-01T08:00:00Z, three minutes, status until 24:00
/// in Beijing.
const IAT: i64 = 1_777_622_400;
const EXP: i64 = IAT + 180;
const UNTIL: i64 = 1_777_651_200;
const NOW: i64 = IAT + 60;

const EXAMPLE_SEED: [u8; 32] = [7; 32];
/// CN-TJ keys: usage `trust_list` only; for codes but only until 07:59:59 on the day; for
/// codes through 2026; and one only in CN-TJ's superseded list.
const TJ_LIST_ONLY: [u8; 32] = [9; 32];
const TJ_EARLY: [u8; 32] = [10; 32];
const TJ_GOOD: [u8; 32] = [12; 32];
const TJ_SUPERSEDED: [u8; 32] = [11; 32];
const STRANGER: [u8; 32] = [42; 32];

fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

fn key(seed: [u8; 32]) -> TrustedKeyParts {
    TrustedKeyParts(SigningKey::from_seed(&seed).public_key())
}

struct TrustedKeyParts([u8; 32]);

impl TrustedKeyParts {
    fn listed(self, from: i64, to: i64, usage: Vec<KeyUsage>) -> TrustedKey {
        TrustedKey::new(self.0, time(from), time(to), usage)
    }
}

const Y2026: i64 = 1_767_225_600;
const Y2026_END: i64 = 1_798_761_599;

/// The lists both verifiers trust: CN-BJ from the §8.8 file, and two lists of CN-TJ given old
/// after new, so that the older one must be ignored.
fn trust_lists() -> Vec<TrustList> {
    let bj = TrustList::from_json(EXAMPLE_LIST, Some(&EXAMPLE_ROOT)).unwrap();
    let tj = |sequence, keys| TrustList {
        region: "CN-TJ".into(),
        sequence,
        issued_at: time(IAT - 86_400),
        next_update: time(IAT + 6 * 86_400),
        root_public_key: SigningKey::from_seed(&[2; 32]).public_key(),
        log: None,
        keys,
    };
    let new = tj(
        2,
        vec![
            key(TJ_LIST_ONLY).listed(Y2026, Y2026_END, vec![KeyUsage::TrustList]),
            key(TJ_EARLY).listed(Y2026, IAT - 1, vec![KeyUsage::Code]),
            key(TJ_GOOD).listed(Y2026, Y2026_END, vec![KeyUsage::Code, KeyUsage::TrustList]),
        ],
    );
    let old = tj(
        1,
        vec![key(TJ_SUPERSEDED).listed(Y2026, Y2026_END, vec![KeyUsage::Code])],
    );
    // Built by hand: a list read with TrustList::from_json never holds such keys, but a
    // verifier given one must refuse to use them.
    let sh = TrustList {
        region: "CN-SH".into(),
        sequence: 1,
        issued_at: time(IAT - 86_400),
        next_update: time(IAT + 6 * 86_400),
        root_public_key: SigningKey::from_seed(&[3; 32]).public_key(),
        log: None,
        keys: UNUSABLE_KEYS
            .iter()
            .map(|&k| TrustedKeyParts(k).listed(Y2026, Y2026_END, vec![KeyUsage::Code]))
            .collect(),
    };
    vec![new, bj, old, sh]
}

/// Public keys no verifier may use: the identity (small order), y = 2 (not on the curve) and
/// y = p - 1 (order 2).
const UNUSABLE_KEYS: [[u8; 32]; 3] = {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut off_curve = [0u8; 32];
    off_curve[0] = 2;
    let mut order_two = [0xffu8; 32];
    order_two[0] = 0xec;
    order_two[31] = 0x7f;
    [identity, off_curve, order_two]
};

/// A minimal CBOR writer, so that this test can write what no issuer would (and so that it
/// does not share the encoder of the crate under test).
#[derive(Default, Clone)]
struct Cbor(Vec<u8>);

impl Cbor {
    fn head(mut self, major: u8, arg: u64) -> Self {
        let m = major << 5;
        if arg < 24 {
            self.0.push(m | arg as u8);
        } else if arg <= 0xff {
            self.0.extend([m | 24, arg as u8]);
        } else if arg <= 0xffff {
            self.0.push(m | 25);
            self.0.extend((arg as u16).to_be_bytes());
        } else if arg <= 0xffff_ffff {
            self.0.push(m | 26);
            self.0.extend((arg as u32).to_be_bytes());
        } else {
            self.0.push(m | 27);
            self.0.extend(arg.to_be_bytes());
        }
        self
    }
    fn uint(self, v: u64) -> Self {
        self.head(0, v)
    }
    fn int(self, v: i64) -> Self {
        if v >= 0 {
            self.head(0, v as u64)
        } else {
            self.head(1, (-1 - v) as u64)
        }
    }
    fn bytes(self, b: &[u8]) -> Self {
        self.head(2, b.len() as u64).raw(b)
    }
    fn text(self, s: &str) -> Self {
        self.head(3, s.len() as u64).raw(s.as_bytes())
    }
    fn raw(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
}

fn cbor() -> Cbor {
    Cbor::default()
}

/// A map of already encoded (key, value) pairs, in the order given.
fn map(pairs: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = cbor().head(5, pairs.len() as u64);
    for (k, v) in pairs {
        out = out.raw(k).raw(v);
    }
    out.0
}

fn u(v: u64) -> Vec<u8> {
    cbor().uint(v).0
}

/// The status map of the worked example, as pairs.
fn status_pairs() -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        (u(1), u(0)),
        (u(2), cbor().head(4, 0).0),
        (u(3), u(1)),
        (u(4), u(0)),
        (u(5), cbor().text("张*").0),
        (u(6), cbor().text("11**************2X").0),
        (u(7), u(1)),
        (u(8), u(UNTIL as u64)),
    ]
}

/// The claims of the worked example as pairs, with `status` as the status map.
fn claim_pairs(status: &[(Vec<u8>, Vec<u8>)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        (u(1), cbor().text("CN-BJ").0),
        (
            u(2),
            cbor()
                .bytes(&core::array::from_fn::<u8, 16, _>(|i| i as u8 + 1))
                .0,
        ),
        (u(4), u(EXP as u64)),
        (u(6), u(IAT as u64)),
        (cbor().int(-65537).0, map(status)),
    ]
}

/// Replaces the value under `key` (encoded) in `pairs`.
fn with(mut pairs: Vec<(Vec<u8>, Vec<u8>)>, key: &[u8], value: Vec<u8>) -> Vec<(Vec<u8>, Vec<u8>)> {
    for pair in &mut pairs {
        if pair.0 == key {
            pair.1 = value.clone();
        }
    }
    pairs
}

fn without(pairs: Vec<(Vec<u8>, Vec<u8>)>, key: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs.into_iter().filter(|(k, _)| k != key).collect()
}

fn status_with(key: u64, value: Vec<u8>) -> Vec<u8> {
    map(&claim_pairs(&with(status_pairs(), &u(key), value)))
}

fn protected(seed: [u8; 32]) -> Vec<u8> {
    let kid = healthcode_credential::kid_of(&SigningKey::from_seed(&seed).public_key());
    map(&[(u(1), cbor().int(-8).0), (u(4), cbor().bytes(&kid).0)])
}

fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    cbor()
        .head(4, 4)
        .text("Signature1")
        .bytes(protected)
        .bytes(&[])
        .bytes(payload)
        .0
}

fn signature(seed: [u8; 32], protected: &[u8], payload: &[u8]) -> [u8; 64] {
    ed25519_dalek::SigningKey::from_bytes(&seed)
        .sign(&sig_structure(protected, payload))
        .to_bytes()
}

/// `18([protected, {}, payload, signature])`.
fn envelope(protected: &[u8], payload: &[u8], signature: &[u8]) -> Vec<u8> {
    cbor()
        .head(6, 18)
        .head(4, 4)
        .bytes(protected)
        .head(5, 0)
        .bytes(payload)
        .bytes(signature)
        .0
}

/// `payload` signed by `seed` under `protected`.
fn signed_with(seed: [u8; 32], protected: &[u8], payload: &[u8]) -> Vec<u8> {
    envelope(protected, payload, &signature(seed, protected, payload))
}

fn signed(payload: &[u8]) -> Vec<u8> {
    signed_with(EXAMPLE_SEED, &protected(EXAMPLE_SEED), payload)
}

fn text(cose: &[u8]) -> String {
    format!("{PREFIX}{}", base45::encode(cose))
}

fn cose_of(code: &str) -> Vec<u8> {
    base45::decode(code.strip_prefix(PREFIX).unwrap().as_bytes()).unwrap()
}

fn claims(region: &str, iat: i64, exp: i64) -> CodeClaims {
    CodeClaims {
        region: region.into(),
        subject: [0x5a; 16],
        issued_at: time(iat),
        expires_at: time(exp),
        colour: Colour::Green,
        reminders: vec![],
        test_recency_days: Some(1),
        vaccination: VaccinationState::BoosterComplete,
        masked_name: "张*".into(),
        masked_document: "11**************2X".into(),
        document_type: DocumentType::ResidentId,
        status_valid_until: time(UNTIL),
    }
}

fn issue(seed: [u8; 32], c: &CodeClaims) -> String {
    issue_code(c, &SigningKey::from_seed(&seed)).unwrap()
}

#[derive(Debug, Clone, Serialize)]
struct Case {
    name: String,
    text: String,
    now: i64,
}

fn case(cases: &mut Vec<Case>, name: impl Into<String>, text: impl Into<String>, now: i64) {
    cases.push(Case {
        name: name.into(),
        text: text.into(),
        now,
    });
}

/// Codes built to reach one check each, in the order of docs/FORMAT.md §5.
fn named_cases() -> Vec<Case> {
    let mut c = Vec::new();
    let ex = EXAMPLE_CODE;
    let body = ex.strip_prefix(PREFIX).unwrap();
    let cose = cose_of(ex);

    // The worked example, at the edges of its validity.
    case(&mut c, "example at iat", ex, IAT);
    case(&mut c, "example at now", ex, NOW);
    case(&mut c, "example 60 s before iat", ex, IAT - 60);
    case(&mut c, "example 61 s before iat", ex, IAT - 61);
    case(&mut c, "example 1 s before exp", ex, EXP - 1);
    case(&mut c, "example at exp", ex, EXP);
    case(&mut c, "example a day later", ex, IAT + 86_400);
    case(
        &mut c,
        "example with spaces around",
        format!("  {ex}\n"),
        NOW,
    );

    // Honest codes of other kinds.
    let mut busy = claims("CN-BJ", IAT, EXP);
    busy.colour = Colour::Red;
    busy.reminders = vec![
        ReminderKind::ALL[0],
        ReminderKind::ALL[2],
        ReminderKind::ALL[5],
    ];
    busy.test_recency_days = None;
    busy.vaccination = VaccinationState::ALL[4];
    busy.masked_name = "Ó*".into();
    busy.masked_document = "E1*****89".into();
    busy.document_type = DocumentType::Passport;
    case(
        &mut c,
        "issued red with reminders",
        issue(EXAMPLE_SEED, &busy),
        NOW,
    );
    let mut yellow = claims("CN-BJ", IAT, EXP);
    yellow.colour = Colour::Yellow;
    yellow.test_recency_days = Some(u32::MAX);
    yellow.document_type = DocumentType::ForeignerPermanentResidence;
    case(&mut c, "issued yellow", issue(EXAMPLE_SEED, &yellow), NOW);
    let mut day = claims("CN-BJ", IAT, IAT + 86_400);
    day.status_valid_until = time(IAT + 86_400);
    case(
        &mut c,
        "lifetime of exactly 24 h",
        issue(EXAMPLE_SEED, &day),
        NOW,
    );
    case(
        &mut c,
        "issued by another region",
        issue(TJ_GOOD, &claims("CN-TJ", IAT, EXP)),
        NOW,
    );

    // Text.
    case(&mut c, "empty", "", NOW);
    case(&mut c, "no prefix", body, NOW);
    case(&mut c, "lower-case prefix", format!("hcn1:{body}"), NOW);
    case(&mut c, "prefix of version 2", format!("HCN2:{body}"), NOW);
    case(&mut c, "place code prefix", format!("HCP1:{body}"), NOW);
    case(&mut c, "prefix alone", PREFIX, NOW);
    case(
        &mut c,
        "too long",
        format!("{PREFIX}{}", "0".repeat(70_000)),
        NOW,
    );
    case(
        &mut c,
        "lower-case letter",
        format!("{PREFIX}r{}", &body[1..]),
        NOW,
    );
    case(&mut c, "triple over 65535", format!("{PREFIX}GGW"), NOW);
    case(&mut c, "pair over 255", format!("{PREFIX}V5"), NOW);
    case(&mut c, "dangling character", format!("{ex}0"), NOW);
    case(
        &mut c,
        "equals sign",
        format!("{PREFIX}{}=", &body[..body.len() - 2]),
        NOW,
    );
    case(
        &mut c,
        "non-ASCII",
        format!("{PREFIX}中{}", &body[3..]),
        NOW,
    );
    case(
        &mut c,
        "newline inside",
        format!("{PREFIX}{}\n{}", &body[..30], &body[30..]),
        NOW,
    );
    case(&mut c, "two more characters", format!("{ex}00"), NOW);
    case(&mut c, "three more characters", format!("{ex}000"), NOW);

    // Envelope.
    case(&mut c, "untagged", text(&cose[1..]), NOW);
    let mut cwt = cose.clone();
    cwt[0] = 0xd8;
    cwt.insert(1, 61);
    case(&mut c, "CWT tag", text(&cwt), NOW);
    let mut long_tag = cose.clone();
    long_tag[0] = 0xd8;
    long_tag.insert(1, 18);
    case(&mut c, "tag not in shortest form", text(&long_tag), NOW);
    case(
        &mut c,
        "tag 19",
        text(&[&[0xd3][..], &cose[1..]].concat()),
        NOW,
    );
    let mut indefinite = cose.clone();
    indefinite[1] = 0x9f;
    indefinite.push(0xff);
    case(&mut c, "indefinite array", text(&indefinite), NOW);
    case(&mut c, "reserved head", text(&[0xd2, 0x9c]), NOW);
    case(&mut c, "a map", text(&cbor().head(6, 18).head(5, 0).0), NOW);
    let p = protected(EXAMPLE_SEED);
    let payload = map(&claim_pairs(&status_pairs()));
    let sig = signature(EXAMPLE_SEED, &p, &payload);
    let three = cbor()
        .head(6, 18)
        .head(4, 3)
        .bytes(&p)
        .head(5, 0)
        .bytes(&payload)
        .0;
    case(&mut c, "three elements", text(&three), NOW);
    let five = cbor()
        .head(6, 18)
        .head(4, 5)
        .bytes(&p)
        .head(5, 0)
        .bytes(&payload)
        .bytes(&sig)
        .bytes(&[])
        .0;
    case(&mut c, "five elements", text(&five), NOW);
    let protected_text = cbor()
        .head(6, 18)
        .head(4, 4)
        .text("x")
        .head(5, 0)
        .bytes(&payload)
        .bytes(&sig)
        .0;
    case(
        &mut c,
        "protected header as text",
        text(&protected_text),
        NOW,
    );
    let kid = healthcode_credential::kid_of(&SigningKey::from_seed(&EXAMPLE_SEED).public_key());
    let unprotected = cbor()
        .head(6, 18)
        .head(4, 4)
        .bytes(&p)
        .raw(&map(&[(u(4), cbor().bytes(&kid).0)]))
        .bytes(&payload)
        .bytes(&sig)
        .0;
    case(
        &mut c,
        "unprotected header not empty",
        text(&unprotected),
        NOW,
    );
    let nil = cbor()
        .head(6, 18)
        .head(4, 4)
        .bytes(&p)
        .head(5, 0)
        .raw(&[0xf6])
        .bytes(&sig)
        .0;
    case(&mut c, "nil payload", text(&nil), NOW);
    case(
        &mut c,
        "63-byte signature",
        text(&envelope(&p, &payload, &sig[..63])),
        NOW,
    );
    case(
        &mut c,
        "65-byte signature",
        text(&envelope(&p, &payload, &[&sig[..], &[0]].concat())),
        NOW,
    );
    case(
        &mut c,
        "trailing byte",
        text(&[&cose[..], &[0]].concat()),
        NOW,
    );
    case(
        &mut c,
        "trailing copy",
        text(&[&cose[..], &cose[..]].concat()),
        NOW,
    );
    case(
        &mut c,
        "float inside",
        text(&[&cose[..2], &[0xf9, 0x3c, 0x00]].concat()),
        NOW,
    );
    case(
        &mut c,
        "true instead of protected",
        text(&[&cose[..2], &[0xf5]].concat()),
        NOW,
    );
    case(
        &mut c,
        "simple value in long form",
        text(&[&cose[..2], &[0xf8, 0x10]].concat()),
        NOW,
    );

    // Protected header, each signed so that only the header is wrong.
    let header = |pairs: &[(Vec<u8>, Vec<u8>)]| map(pairs);
    let alg = |v: i64| (u(1), cbor().int(v).0);
    let kid_pair = |k: &[u8]| (u(4), cbor().bytes(k).0);
    let headers: Vec<(&str, Vec<u8>)> = vec![
        ("kid before alg", header(&[kid_pair(&kid), alg(-8)])),
        ("alg ES256", header(&[alg(-7), kid_pair(&kid)])),
        (
            "alg as text",
            header(&[(u(1), cbor().text("EdDSA").0), kid_pair(&kid)]),
        ),
        ("no alg", header(&[kid_pair(&kid)])),
        ("no kid", header(&[alg(-8)])),
        ("empty protected header", Vec::new()),
        ("empty protected map", header(&[])),
        ("kid of 7 bytes", header(&[alg(-8), kid_pair(&kid[..7])])),
        (
            "kid as text",
            header(&[alg(-8), (u(4), cbor().text("kid").0)]),
        ),
        (
            "extra header label",
            header(&[alg(-8), kid_pair(&kid), (u(3), u(60))]),
        ),
        ("repeated alg", header(&[alg(-8), alg(-8), kid_pair(&kid)])),
        (
            "repeated kid",
            header(&[alg(-8), kid_pair(&kid), kid_pair(&kid)]),
        ),
        (
            "text label",
            header(&[alg(-8), (cbor().text("kid").0, cbor().bytes(&kid).0)]),
        ),
        (
            "alg not in shortest form",
            [
                &[0xa2, 0x01, 0x38, 0x07][..],
                &kid_pair(&kid).0,
                &kid_pair(&kid).1,
            ]
            .concat(),
        ),
        (
            "bytes after the header map",
            [&header(&[alg(-8), kid_pair(&kid)])[..], &[0]].concat(),
        ),
        ("header is an array", cbor().head(4, 0).0),
        ("unknown kid", header(&[alg(-8), kid_pair(&[0; 8])])),
    ];
    for (name, h) in headers {
        case(
            &mut c,
            name,
            text(&signed_with(EXAMPLE_SEED, &h, &payload)),
            NOW,
        );
    }

    // Keys and signature.
    case(
        &mut c,
        "signed by a stranger",
        issue(STRANGER, &claims("CN-BJ", IAT, EXP)),
        NOW,
    );
    case(
        &mut c,
        "key only in a superseded list",
        issue(TJ_SUPERSEDED, &claims("CN-TJ", IAT, EXP)),
        NOW,
    );
    case(
        &mut c,
        "stranger's signature under a listed kid",
        text(&signed_with(STRANGER, &p, &payload)),
        NOW,
    );
    let mut flipped = cose.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    case(&mut c, "signature byte flipped", text(&flipped), NOW);
    let mut altered = cose.clone();
    let at = altered.windows(5).position(|w| w == b"CN-BJ").unwrap();
    altered[at + 4] = b'K';
    case(&mut c, "claims altered after signing", text(&altered), NOW);
    // S + L: the same signature in a non-canonical form (RFC 8032 §5.1.7 step 1).
    let mut s_plus_l = cose.clone();
    let order: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let s = &mut s_plus_l[last + 1 - 32..];
    let mut carry = 0u16;
    for (b, l) in s.iter_mut().zip(order) {
        let sum = u16::from(*b) + u16::from(l) + carry;
        *b = sum as u8;
        carry = sum >> 8;
    }
    case(&mut c, "S plus the group order", text(&s_plus_l), NOW);
    for (i, bad) in UNUSABLE_KEYS.iter().enumerate() {
        let kid = healthcode_credential::kid_of(bad);
        let header = map(&[(u(1), cbor().int(-8).0), (u(4), cbor().bytes(&kid).0)]);
        let sh = map(&with(
            claim_pairs(&status_pairs()),
            &u(1),
            cbor().text("CN-SH").0,
        ));
        case(
            &mut c,
            format!("unusable listed key {i}"),
            text(&envelope(
                &header,
                &sh,
                &signature(EXAMPLE_SEED, &header, &sh),
            )),
            NOW,
        );
    }
    case(
        &mut c,
        "signature of zeros",
        text(&envelope(&p, &payload, &[0; 64])),
        NOW,
    );

    // Claims, signed.
    let claims_cases: Vec<(&str, Vec<u8>)> = vec![
        ("payload garbage", vec![0x01]),
        ("payload empty", Vec::new()),
        ("claims an array", cbor().head(4, 0).0),
        (
            "unknown claim",
            map(&[claim_pairs(&status_pairs()), vec![(u(3), u(1))]].concat()),
        ),
        (
            "text claim key",
            map(&[
                claim_pairs(&status_pairs()),
                vec![(cbor().text("x").0, u(1))],
            ]
            .concat()),
        ),
        (
            "iss missing",
            map(&without(claim_pairs(&status_pairs()), &u(1))),
        ),
        (
            "status missing",
            map(&without(
                claim_pairs(&status_pairs()),
                &cbor().int(-65537).0,
            )),
        ),
        (
            "iss twice",
            map(&[
                claim_pairs(&status_pairs()),
                vec![(u(1), cbor().text("CN-BJ").0)],
            ]
            .concat()),
        ),
        (
            "iss as bytes",
            map(&with(
                claim_pairs(&status_pairs()),
                &u(1),
                cbor().bytes(b"CN-BJ").0,
            )),
        ),
        (
            "sub of 15 bytes",
            map(&with(
                claim_pairs(&status_pairs()),
                &u(2),
                cbor().bytes(&[1; 15]).0,
            )),
        ),
        (
            "exp negative",
            map(&with(claim_pairs(&status_pairs()), &u(4), cbor().int(-1).0)),
        ),
        (
            "exp as float",
            map(&with(
                claim_pairs(&status_pairs()),
                &u(4),
                vec![0xfb, 0x41, 0xda, 0x7d, 0x17, 0x8d, 0, 0, 0],
            )),
        ),
        (
            "exp as tag 1",
            map(&with(
                claim_pairs(&status_pairs()),
                &u(4),
                cbor().head(6, 1).uint(EXP as u64).0,
            )),
        ),
        (
            "exp not in shortest form",
            map(&with(
                claim_pairs(&status_pairs()),
                &u(4),
                [&[0x1b, 0, 0, 0, 0][..], &(EXP as u32).to_be_bytes()].concat(),
            )),
        ),
        (
            "exp beyond the representable",
            map(&with(
                claim_pairs(&status_pairs()),
                &u(4),
                u(8_210_266_876_800),
            )),
        ),
        (
            "exp at the last representable second",
            map(&with(
                claim_pairs(&status_pairs()),
                &u(4),
                u(8_210_266_876_799),
            )),
        ),
        (
            "exp 2^64-1",
            map(&with(claim_pairs(&status_pairs()), &u(4), u(u64::MAX))),
        ),
        (
            "bytes after the claims",
            [map(&claim_pairs(&status_pairs())), vec![0]].concat(),
        ),
        (
            "indefinite claims map",
            [
                &[0xbf][..],
                &map(&claim_pairs(&status_pairs()))[1..],
                &[0xff],
            ]
            .concat(),
        ),
        ("colour 3", status_with(1, u(3))),
        (
            "reminders unsorted",
            status_with(2, cbor().head(4, 2).uint(3).uint(1).0),
        ),
        (
            "reminder repeated",
            status_with(2, cbor().head(4, 2).uint(3).uint(3).0),
        ),
        ("reminder 7", status_with(2, cbor().head(4, 1).uint(7).0)),
        ("reminder 0", status_with(2, cbor().head(4, 1).uint(0).0)),
        (
            "seven reminders",
            status_with(
                2,
                cbor()
                    .head(4, 7)
                    .uint(1)
                    .uint(2)
                    .uint(3)
                    .uint(4)
                    .uint(5)
                    .uint(6)
                    .uint(6)
                    .0,
            ),
        ),
        (
            "all six reminders",
            status_with(
                2,
                cbor()
                    .head(4, 6)
                    .uint(1)
                    .uint(2)
                    .uint(3)
                    .uint(4)
                    .uint(5)
                    .uint(6)
                    .0,
            ),
        ),
        ("test recency null", status_with(3, vec![0xf6])),
        ("test recency 2^32", status_with(3, u(1 << 32))),
        ("test recency undefined", status_with(3, vec![0xf7])),
        ("vaccination 5", status_with(4, u(5))),
        ("masked name as bytes", status_with(5, cbor().bytes(b"x").0)),
        (
            "masked name not UTF-8",
            status_with(5, cbor().head(3, 2).raw(&[0xc3, 0x28]).0),
        ),
        (
            "masked name with a BOM",
            status_with(5, cbor().text("\u{feff}张*").0),
        ),
        (
            "masked name surrogate",
            status_with(5, cbor().head(3, 3).raw(&[0xed, 0xa0, 0x80]).0),
        ),
        (
            "masked name overlong",
            status_with(5, cbor().head(3, 2).raw(&[0xc0, 0xaf]).0),
        ),
        ("masked name empty", status_with(5, cbor().text("").0)),
        ("document type 0", status_with(7, u(0))),
        ("document type 6", status_with(7, u(6))),
        ("document type 257", status_with(7, u(257))),
        (
            "status valid until missing",
            map(&claim_pairs(&without(status_pairs(), &u(8)))),
        ),
        (
            "status key 9",
            map(&claim_pairs(&[status_pairs(), vec![(u(9), u(0))]].concat())),
        ),
        (
            "status key negative",
            map(&claim_pairs(
                &[status_pairs(), vec![(cbor().int(-1).0, u(0))]].concat(),
            )),
        ),
        (
            "status colour twice",
            map(&claim_pairs(&[status_pairs(), vec![(u(1), u(0))]].concat())),
        ),
        (
            "status keys reversed",
            map(&claim_pairs(
                &status_pairs().into_iter().rev().collect::<Vec<_>>(),
            )),
        ),
        (
            "claims keys reversed",
            map(&claim_pairs(&status_pairs())
                .into_iter()
                .rev()
                .collect::<Vec<_>>()),
        ),
        (
            "status a list",
            map(&with(
                claim_pairs(&status_pairs()),
                &cbor().int(-65537).0,
                cbor().head(4, 0).0,
            )),
        ),
        (
            "region empty",
            map(&with(
                claim_pairs(&status_pairs()),
                &u(1),
                cbor().text("").0,
            )),
        ),
    ];
    for (name, payload) in claims_cases {
        case(&mut c, name, text(&signed(&payload)), NOW);
    }

    // Time and key rules, issued by the verifier's own issuer where it allows, signed by
    // hand where it refuses.
    let times = |iat: i64, exp: i64, until: i64| {
        let status = with(status_pairs(), &u(8), u(until as u64));
        let pairs = with(
            with(claim_pairs(&status), &u(6), u(iat as u64)),
            &u(4),
            u(exp as u64),
        );
        text(&signed(&map(&pairs)))
    };
    case(
        &mut c,
        "issued 61 s ahead",
        times(NOW + 61, NOW + 200, UNTIL),
        NOW,
    );
    case(
        &mut c,
        "issued 60 s ahead",
        times(NOW + 60, NOW + 200, UNTIL),
        NOW,
    );
    case(&mut c, "expires now", times(IAT, NOW, UNTIL), NOW);
    case(
        &mut c,
        "expires before issued",
        times(NOW + 50, NOW + 40, UNTIL),
        NOW,
    );
    case(
        &mut c,
        "lifetime 24 h + 1 s",
        times(IAT, IAT + 86_401, IAT + 86_401),
        NOW,
    );
    case(&mut c, "outlives its status", times(IAT, EXP, EXP - 1), NOW);
    case(&mut c, "expires with its status", times(IAT, EXP, EXP), NOW);
    case(
        &mut c,
        "issued before the key's window",
        times(Y2026 - 1, NOW + 100, UNTIL),
        NOW,
    );
    case(
        &mut c,
        "issued at the key's first second",
        times(Y2026, NOW + 100, UNTIL),
        NOW,
    );
    case(
        &mut c,
        "issued after the key's window",
        times(Y2026_END + 1, Y2026_END + 100, Y2026_END + 100),
        Y2026_END,
    );
    case(
        &mut c,
        "region of another list",
        text(&signed(&map(&with(
            claim_pairs(&status_pairs()),
            &u(1),
            cbor().text("CN-TJ").0,
        )))),
        NOW,
    );
    case(
        &mut c,
        "key for lists only",
        issue(TJ_LIST_ONLY, &claims("CN-TJ", IAT, EXP)),
        NOW,
    );
    case(
        &mut c,
        "key past its window",
        issue(TJ_EARLY, &claims("CN-TJ", IAT, EXP)),
        NOW,
    );
    case(
        &mut c,
        "key in its window",
        issue(TJ_EARLY, &claims("CN-TJ", IAT - 60, IAT + 60)),
        IAT,
    );
    case(
        &mut c,
        "region lower case",
        issue(EXAMPLE_SEED, &claims("cn-bj", IAT, EXP)),
        NOW,
    );
    c
}

/// The damage classes of crates/credential/tests/codes.rs, on the worked example, and random
/// single-byte mutations from a fixed seed.
fn damaged_cases() -> Vec<Case> {
    let mut c = Vec::new();
    let ex = EXAMPLE_CODE;
    let cose = cose_of(ex);
    for len in 0..ex.len() {
        case(
            &mut c,
            format!("truncated to {len} characters"),
            &ex[..len],
            NOW,
        );
    }
    for len in 0..cose.len() {
        case(
            &mut c,
            format!("truncated to {len} bytes"),
            text(&cose[..len]),
            NOW,
        );
    }
    for byte in 0..cose.len() {
        for bit in 0..8 {
            let mut tampered = cose.clone();
            tampered[byte] ^= 1 << bit;
            case(
                &mut c,
                format!("bit {bit} of byte {byte} flipped"),
                text(&tampered),
                NOW,
            );
        }
    }
    let alphabet: Vec<char> = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
        .chars()
        .collect();
    let chars: Vec<char> = ex.chars().collect();
    for i in 0..chars.len() {
        let at = alphabet.iter().position(|&a| a == chars[i]).unwrap_or(0);
        for pick in [
            alphabet[(at + 1) % 45],
            alphabet[(at + 22) % 45],
            alphabet[(at + 44) % 45],
            'a',
        ] {
            if pick != chars[i] {
                let mut t = chars.clone();
                t[i] = pick;
                case(
                    &mut c,
                    format!("character {i} changed to {pick:?}"),
                    t.into_iter().collect::<String>(),
                    NOW,
                );
            }
        }
    }
    // xorshift64*, fixed seed: the same mutations on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for n in 0..400 {
        let mut tampered = cose.clone();
        let at = (next() % tampered.len() as u64) as usize;
        let value = (next() & 0xff) as u8;
        if value == tampered[at] {
            continue;
        }
        tampered[at] = value;
        case(
            &mut c,
            format!("random mutation {n}: byte {at} set to {value:#04x}"),
            text(&tampered),
            NOW,
        );
    }
    c
}

/// What a verifier decided, reduced to what must agree.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Decision {
    valid: bool,
    code: Option<String>,
    /// For a valid code: region, masked name, expiry (epoch seconds), colour.
    region: Option<String>,
    masked_name: Option<String>,
    expires_at: Option<i64>,
    colour: Option<u8>,
}

fn rust_decision(trust: &Trust, case: &Case) -> Decision {
    let now = time(case.now);
    let outcome = trust.verify(&case.text, now);
    let claims = outcome
        .valid
        .then(|| trust.native().verify(case.text.trim(), now).unwrap());
    Decision {
        valid: outcome.valid,
        code: outcome.error_code().map(str::to_owned),
        region: claims.as_ref().map(|c| c.region.clone()),
        masked_name: claims.as_ref().map(|c| c.masked_name.clone()),
        expires_at: claims.as_ref().map(|c| c.expires_at.timestamp()),
        colour: claims.as_ref().map(|c| c.colour.code()),
    }
}

async fn serve() -> String {
    let app = Router::new()
        .route(
            "/",
            get(|| async {
                (
                    [
                        (CONTENT_TYPE, "text/html; charset=utf-8"),
                        (CONTENT_SECURITY_POLICY, CSP),
                    ],
                    PAGE,
                )
            }),
        )
        .route(
            "/verify.js",
            get(|| async {
                (
                    [
                        (CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (CONTENT_SECURITY_POLICY, CSP),
                    ],
                    VERIFY_JS,
                )
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://localhost:{port}")
}

/// Runs `cases` through verify.js in the page, a batch at a time.
async fn page_decisions(page: &Page, lists: &str, cases: &[Case]) -> Result<Vec<Decision>> {
    let mut out = Vec::with_capacity(cases.len());
    for batch in cases.chunks(400) {
        let json = serde_json::to_string(batch)?;
        let js = format!(
            "(async () => {{
                const verifier = HealthcodeVerify.verifier({lists});
                const out = [];
                for (const c of {json}) {{
                    const r = await verifier.verify(c.text, c.now);
                    out.push(r.valid
                        ? {{ valid: true, code: null, region: r.claims.region,
                             masked_name: r.claims.masked_name,
                             expires_at: r.claims.expires_at, colour: r.claims.colour }}
                        : {{ valid: false, code: r.code }});
                }}
                return out;
            }})()"
        );
        out.extend(page.eval::<Vec<Decision>>(&js).await?);
    }
    Ok(out)
}

#[tokio::test]
async fn the_page_and_the_rust_verifier_agree_on_every_code() -> Result<()> {
    let lists = trust_lists();
    let mut trust = Trust::new().unwrap();
    trust.add_trust_lists(lists.clone());
    let named = named_cases();
    let damaged = damaged_cases();
    let cases: Vec<Case> = named.iter().chain(&damaged).cloned().collect();
    let expected: Vec<Decision> = cases.iter().map(|c| rust_decision(&trust, c)).collect();

    // The vectors mean what their names say.
    let verdict = |name: &str| {
        let i = cases.iter().position(|c| c.name == name).unwrap();
        expected[i].code.clone().unwrap_or_else(|| "valid".into())
    };
    assert_eq!(verdict("example at now"), "valid");
    assert_eq!(verdict("example at exp"), "expired");
    assert_eq!(verdict("example 61 s before iat"), "not_yet_valid");
    assert_eq!(verdict("signed by a stranger"), "unknown_key");
    assert_eq!(verdict("key only in a superseded list"), "unknown_key");
    assert_eq!(verdict("signature byte flipped"), "signature");
    assert_eq!(verdict("region of another list"), "region");
    assert_eq!(verdict("key past its window"), "key_not_valid");
    assert_eq!(verdict("key for lists only"), "key_not_valid");
    assert_eq!(verdict("trailing byte"), "trailing_bytes");
    assert_eq!(verdict("exp not in shortest form"), "claims");
    assert!(named.len() >= 60, "{} named cases", named.len());

    let server = serve().await;
    let Some(browser) = Browser::launch_or_skip(Options::default()).await? else {
        return Ok(());
    };
    let page = browser.page(&format!("{server}/")).await?;
    let lists_json = serde_json::to_string(&lists)?;
    let actual = page_decisions(&page, &lists_json, &cases).await?;
    assert_eq!(actual.len(), cases.len());

    let mismatches: Vec<String> = cases
        .iter()
        .zip(expected.iter().zip(&actual))
        .filter(|(_, (rust, js))| rust != js)
        .map(|(case, (rust, js))| {
            let shown: String = case.text.chars().take(40).collect();
            format!(
                "| {} | {shown:?} | {:?} | {:?} |",
                case.name,
                rust.code.as_deref().unwrap_or("valid"),
                js.code.as_deref().unwrap_or("valid"),
            )
        })
        .collect();
    let valid = expected.iter().filter(|d| d.valid).count();
    eprintln!(
        "{} codes ({} named, {} damaged), {valid} valid in both, {} disagreements",
        cases.len(),
        named.len(),
        damaged.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "the two verifiers disagree:\n| case | text | Rust | verify.js |\n|---|---|---|---|\n{}",
        mismatches.join("\n")
    );
    page.assert_no_problems().await?;
    browser.close().await
}
