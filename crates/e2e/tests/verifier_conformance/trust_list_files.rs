//! One truth for two trust list readers: `HealthcodeVerify.readTrustList` in verify.js and
//! `TrustList::from_json` (docs/FORMAT.md §6.3) must give the same error code on every file,
//! and on a good one the same region, sequence, times, root and keys.
//!
//! The files: the worked example of FORMAT.md §8.8 verbatim, lists signed with the Rust API
//! (several keys and usages, no keys, an awkward region, extreme sequences and times), the
//! JSON wrapper bent every way (members wrong, missing, extra, repeated, reordered, escaped;
//! numbers and strings serde_json refuses; white space, trailing text, the array form), bad
//! base64, signed maps written by hand and signed by the root so that the rule under test is
//! the one that fails (unknown keys, wrong types, missing members, usages out of order or
//! unknown, kids not derived or repeated, the root listed, unusable keys, times out of
//! order), envelopes with every fault of FORMAT.md §3.2, roots that are no point or of small
//! order, and the damage classes of the code test: every truncation and every flipped bit of
//! the example's COSE bytes, every truncation of a larger list and random byte mutations.
//! Each named file is read with no pinned root, with its own root pinned and with another
//! root pinned; each damaged one with no pin and with its own root.

use anyhow::Result;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use healthcode_credential::{KeyUsage, SigningKey, TrustList, kid_of};
use healthcode_e2e::{Browser, Options, Page};
use serde::{Deserialize, Serialize};

use super::{
    EXAMPLE_CODE, EXAMPLE_LIST, EXAMPLE_ROOT, EXAMPLE_SEED, NOW, STRANGER, TJ_EARLY, TJ_GOOD,
    TJ_LIST_ONLY, UNUSABLE_KEYS, Y2026, Y2026_END, cbor, claim_pairs, envelope, key, map,
    protected, serve, signature, signed_with, status_pairs, time, u,
};

/// The root of the lists signed here (that of CN-TJ in the code test), and one no list names.
const ROOT_SEED: [u8; 32] = [2; 32];
const OTHER_ROOT_SEED: [u8; 32] = [99; 32];
/// issued_at and next_update of the lists signed here.
const ISSUED: u64 = 1_777_536_000;
const NEXT: u64 = ISSUED + 7 * 86_400;
/// The last second chrono can represent, the latest time a list may carry.
const LAST_SECOND: u64 = 8_210_266_876_799;

fn public(seed: [u8; 32]) -> [u8; 32] {
    SigningKey::from_seed(&seed).public_key()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file to read, with the root it was made around (pinned as "its own root").
struct Named {
    name: String,
    text: String,
    root: [u8; 32],
}

fn named(out: &mut Vec<Named>, name: impl Into<String>, text: impl Into<String>, root: [u8; 32]) {
    out.push(Named {
        name: name.into(),
        text: text.into(),
        root,
    });
}

#[derive(Debug, Clone, Serialize)]
struct ListCase {
    name: String,
    text: String,
    /// The pinned root, in hex.
    pinned: Option<String>,
}

/// What a reader made of a file, reduced to what must agree.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct Outcome {
    /// The error code; none for a list read.
    code: Option<String>,
    list: Option<ListView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct ListView {
    region: String,
    /// Decimal text: the page gives a number, or text beyond 2^53 - 1.
    sequence: String,
    issued_at: i64,
    next_update: i64,
    root_public_key: String,
    keys: Vec<KeyView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
struct KeyView {
    kid: String,
    public_key: String,
    not_before: i64,
    not_after: i64,
    usage: Vec<String>,
}

fn rust_outcome(case: &ListCase) -> Outcome {
    let pinned: Option<[u8; 32]> = case.pinned.as_ref().map(|h| {
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        bytes.try_into().unwrap()
    });
    match TrustList::from_json(&case.text, pinned.as_ref()) {
        Ok(list) => Outcome {
            code: None,
            list: Some(ListView {
                region: list.region.clone(),
                sequence: list.sequence.to_string(),
                issued_at: list.issued_at.timestamp(),
                next_update: list.next_update.timestamp(),
                root_public_key: hex(&list.root_public_key),
                keys: list
                    .keys
                    .iter()
                    .map(|k| KeyView {
                        kid: hex(&k.kid),
                        public_key: hex(&k.public_key),
                        not_before: k.not_before.timestamp(),
                        not_after: k.not_after.timestamp(),
                        usage: k
                            .usage
                            .iter()
                            .map(|u| match u {
                                KeyUsage::Code => "code".to_owned(),
                                KeyUsage::TrustList => "trust_list".to_owned(),
                            })
                            .collect(),
                    })
                    .collect(),
            }),
        },
        Err(e) => Outcome {
            code: Some(e.code().to_owned()),
            list: None,
        },
    }
}

/// A list of CN-TJ signed with the Rust API.
fn tj_list(sequence: u64, issued: u64, next: u64, region: &str, keys: bool) -> String {
    let keys = if keys {
        vec![
            key(TJ_LIST_ONLY).listed(Y2026, Y2026_END, vec![KeyUsage::TrustList]),
            key(TJ_EARLY).listed(Y2026, Y2026, vec![KeyUsage::Code]),
            key(TJ_GOOD).listed(Y2026, Y2026_END, vec![KeyUsage::Code, KeyUsage::TrustList]),
            key(EXAMPLE_SEED).listed(0, LAST_SECOND as i64, vec![KeyUsage::Code]),
        ]
    } else {
        Vec::new()
    };
    TrustList {
        region: region.into(),
        sequence,
        issued_at: time(issued as i64),
        next_update: time(next as i64),
        root_public_key: public(ROOT_SEED),
        keys,
        log: None,
    }
    .sign(&SigningKey::from_seed(&ROOT_SEED))
    .unwrap()
}

/// The file with each member given as raw JSON text.
fn file(format: &str, version: &str, region: &str, cose: &str) -> String {
    format!("{{\"format\":{format},\"version\":{version},\"region\":{region},\"cose\":{cose}}}")
}

const FORMAT: &str = "\"healthcode-trust-list\"";

/// The file around `cose`, for region CN-TJ.
fn wrap(cose: &[u8]) -> String {
    file(
        FORMAT,
        "1",
        "\"CN-TJ\"",
        &format!("\"{}\"", STANDARD.encode(cose)),
    )
}

fn cose_of(file: &str) -> Vec<u8> {
    let value: serde_json::Value = serde_json::from_str(file).unwrap();
    STANDARD.decode(value["cose"].as_str().unwrap()).unwrap()
}

/// A key entry of the signed map, as pairs: kid derived, valid through 2026, usage `usage`.
fn key_pairs(public_key: &[u8; 32], usage: &[u64]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut usages = cbor().head(4, usage.len() as u64);
    for &n in usage {
        usages = usages.uint(n);
    }
    vec![
        (u(1), cbor().bytes(&kid_of(public_key)).0),
        (u(2), cbor().bytes(public_key).0),
        (u(3), u(Y2026 as u64)),
        (u(4), u(Y2026_END as u64)),
        (u(5), usages.0),
    ]
}

fn array(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = cbor().head(4, items.len() as u64);
    for item in items {
        out = out.raw(item);
    }
    out.0
}

/// The signed map of a CN-TJ list with `keys` (encoded entries), as pairs.
fn list_pairs(root: &[u8; 32], keys: &[Vec<u8>]) -> Vec<(Vec<u8>, Vec<u8>)> {
    vec![
        (u(1), u(1)),
        (u(2), cbor().text("CN-TJ").0),
        (u(3), u(7)),
        (u(4), u(ISSUED)),
        (u(5), u(NEXT)),
        (u(6), cbor().bytes(root).0),
        (u(7), array(keys)),
    ]
}

/// One good key entry (TJ_GOOD, for codes).
fn good_key() -> Vec<u8> {
    map(&key_pairs(&public(TJ_GOOD), &[1]))
}

fn good_pairs() -> Vec<(Vec<u8>, Vec<u8>)> {
    list_pairs(&public(ROOT_SEED), &[good_key()])
}

/// `pairs` with the value under `k` replaced.
fn with(pairs: Vec<(Vec<u8>, Vec<u8>)>, k: u64, value: Vec<u8>) -> Vec<(Vec<u8>, Vec<u8>)> {
    super::with(pairs, &u(k), value)
}

fn without(pairs: Vec<(Vec<u8>, Vec<u8>)>, k: u64) -> Vec<(Vec<u8>, Vec<u8>)> {
    super::without(pairs, &u(k))
}

/// `payload` signed by the root under its kid, in a CN-TJ file.
fn by_root(payload: &[u8]) -> String {
    wrap(&signed_with(ROOT_SEED, &protected(ROOT_SEED), payload))
}

/// A list whose single key entry is `entry`.
fn with_key(entry: Vec<u8>) -> String {
    by_root(&map(&list_pairs(&public(ROOT_SEED), &[entry])))
}

/// Base64 damage to `bytes` in a CN-TJ file.
fn base64_cases(out: &mut Vec<Named>, label: &str, bytes: &[u8]) {
    let root = public(ROOT_SEED);
    let good = STANDARD.encode(bytes);
    let quoted = |s: &str| wrap_text(&format!("\"{s}\""));
    named(out, format!("{label}: as encoded"), quoted(&good), root);
    let unpadded = good.trim_end_matches('=');
    if unpadded.len() != good.len() {
        named(
            out,
            format!("{label}: padding left off"),
            quoted(unpadded),
            root,
        );
        let one_less = &good[..good.len() - 1];
        named(
            out,
            format!("{label}: one '=' short"),
            quoted(one_less),
            root,
        );
        // The unused bits of the last symbol before the padding, set.
        let mut chars: Vec<char> = unpadded.chars().collect();
        let last = chars.len() - 1;
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let value = alphabet.find(chars[last]).unwrap();
        chars[last] = alphabet.as_bytes()[value | 1] as char;
        let bits: String = chars.into_iter().collect::<String>() + &good[unpadded.len()..];
        named(
            out,
            format!("{label}: unused bits set"),
            quoted(&bits),
            root,
        );
    }
    named(
        out,
        format!("{label}: '=' added"),
        quoted(&format!("{good}=")),
        root,
    );
    named(
        out,
        format!("{label}: '====' added"),
        quoted(&format!("{good}====")),
        root,
    );
    named(
        out,
        format!("{label}: 'AAAA' added"),
        quoted(&format!("{good}AAAA")),
        root,
    );
    named(
        out,
        format!("{label}: 'A' added"),
        quoted(&format!("{good}A")),
        root,
    );
    named(
        out,
        format!("{label}: '=' inside"),
        quoted(&format!("{}={}", &good[..4], &good[5..])),
        root,
    );
    named(
        out,
        format!("{label}: escaped newline inside"),
        quoted(&format!("{}\\n{}", &good[..8], &good[8..])),
        root,
    );
    named(
        out,
        format!("{label}: space inside"),
        quoted(&format!("{} {}", &good[..8], &good[8..])),
        root,
    );
    named(
        out,
        format!("{label}: space after"),
        quoted(&format!("{good} ")),
        root,
    );
    named(
        out,
        format!("{label}: non-ASCII inside"),
        quoted(&format!("{}é{}", &good[..8], &good[9..])),
        root,
    );
    let url_safe = good.replace('+', "-").replace('/', "_");
    if url_safe != good {
        named(
            out,
            format!("{label}: URL-safe alphabet"),
            quoted(&url_safe),
            root,
        );
    }
    let escaped = good.replace('/', "\\/");
    if escaped != good {
        named(
            out,
            format!("{label}: '/' escaped in JSON"),
            quoted(&escaped),
            root,
        );
    }
}

/// A CN-TJ file with `cose` given as raw JSON text.
fn wrap_text(cose: &str) -> String {
    file(FORMAT, "1", "\"CN-TJ\"", cose)
}

/// Files built to reach one step each, in the order of docs/FORMAT.md §6.3.
fn named_files() -> Vec<Named> {
    let mut c = Vec::new();
    let root = public(ROOT_SEED);

    // Good lists.
    named(&mut c, "the example list", EXAMPLE_LIST, EXAMPLE_ROOT);
    let good = tj_list(7, ISSUED, NEXT, "CN-TJ", true);
    named(&mut c, "a list of four keys", good.clone(), root);
    named(
        &mut c,
        "a list without keys",
        tj_list(1, ISSUED, ISSUED + 1, "CN-TJ", false),
        root,
    );
    named(
        &mut c,
        "an awkward region",
        tj_list(
            2,
            ISSUED,
            NEXT,
            "A\"B\\C\u{1}\u{7f}é😀/\u{2028}\u{feff}",
            true,
        ),
        root,
    );
    named(
        &mut c,
        "sequence 2^64 - 1, times at the ends of the range",
        tj_list(u64::MAX, 0, LAST_SECOND, "CN-TJ", true),
        root,
    );
    named(
        &mut c,
        "sequence 2^53 - 1",
        tj_list((1 << 53) - 1, ISSUED, NEXT, "CN-TJ", false),
        root,
    );
    named(
        &mut c,
        "sequence 2^53",
        tj_list(1 << 53, ISSUED, NEXT, "CN-TJ", false),
        root,
    );
    named(
        &mut c,
        "sequence 0",
        tj_list(0, ISSUED, NEXT, "CN-TJ", false),
        root,
    );

    // The JSON wrapper.
    let cose_b64 = STANDARD.encode(cose_of(&good));
    let cose = format!("\"{cose_b64}\"");
    let region = "\"CN-TJ\"";
    let json: Vec<(&str, String)> = vec![
        ("as written", file(FORMAT, "1", region, &cose)),
        (
            "members in another order",
            format!("{{\"cose\":{cose},\"region\":{region},\"version\":1,\"format\":{FORMAT}}}"),
        ),
        (
            "white space everywhere",
            format!(
                " \t\r\n{{ \"format\" :\t{FORMAT} ,\n\"version\"\r: 1 , \"region\" : {region} , \"cose\" : {cose} }}\n\t "
            ),
        ),
        ("the array form", format!("[{FORMAT},1,{region},{cose}]")),
        (
            "the array form with white space",
            format!(" [ {FORMAT} , 1 , {region} , {cose} ] "),
        ),
        (
            "the array form, three members",
            format!("[{FORMAT},1,{region}]"),
        ),
        (
            "the array form, five members",
            format!("[{FORMAT},1,{region},{cose},1]"),
        ),
        (
            "the array form, trailing comma",
            format!("[{FORMAT},1,{region},{cose},]"),
        ),
        (
            "the array form, another order",
            format!("[1,{FORMAT},{region},{cose}]"),
        ),
        ("an empty array", "[]".into()),
        ("an empty object", "{}".into()),
        ("empty text", String::new()),
        ("white space only", " \n".into()),
        ("null", "null".into()),
        ("a string", cose.clone()),
        ("a number", "1".into()),
        (
            "an extra member",
            format!(
                "{{\"format\":{FORMAT},\"version\":1,\"region\":{region},\"cose\":{cose},\"x\":1}}"
            ),
        ),
        (
            "an extra member first",
            format!(
                "{{\"note\":\"hi\",\"format\":{FORMAT},\"version\":1,\"region\":{region},\"cose\":{cose}}}"
            ),
        ),
        (
            "format twice",
            format!(
                "{{\"format\":{FORMAT},\"format\":{FORMAT},\"version\":1,\"region\":{region},\"cose\":{cose}}}"
            ),
        ),
        (
            "cose twice",
            format!(
                "{{\"format\":{FORMAT},\"version\":1,\"region\":{region},\"cose\":{cose},\"cose\":{cose}}}"
            ),
        ),
        (
            "format missing",
            format!("{{\"version\":1,\"region\":{region},\"cose\":{cose}}}"),
        ),
        (
            "version missing",
            format!("{{\"format\":{FORMAT},\"region\":{region},\"cose\":{cose}}}"),
        ),
        (
            "region missing",
            format!("{{\"format\":{FORMAT},\"version\":1,\"cose\":{cose}}}"),
        ),
        (
            "cose missing",
            format!("{{\"format\":{FORMAT},\"version\":1,\"region\":{region}}}"),
        ),
        (
            "trailing comma",
            format!("{{\"format\":{FORMAT},\"version\":1,\"region\":{region},\"cose\":{cose},}}"),
        ),
        (
            "text after the object",
            format!("{}x", file(FORMAT, "1", region, &cose)),
        ),
        (
            "a second object after",
            format!("{0}{0}", file(FORMAT, "1", region, &cose)),
        ),
        (
            "a byte order mark before",
            format!("\u{feff}{}", file(FORMAT, "1", region, &cose)),
        ),
        (
            "a non-breaking space after",
            format!("{}\u{a0}", file(FORMAT, "1", region, &cose)),
        ),
        (
            "a form feed after",
            format!("{}\u{c}", file(FORMAT, "1", region, &cose)),
        ),
        (
            "unclosed",
            file(FORMAT, "1", region, &cose)
                .trim_end_matches('}')
                .to_owned(),
        ),
        (
            "single quotes",
            file(FORMAT, "1", region, &cose).replace('"', "'"),
        ),
        (
            "a member name escaped",
            file(FORMAT, "1", region, &cose).replace("\"format\"", "\"form\\u0061t\""),
        ),
        (
            "a member name in upper case",
            file(FORMAT, "1", region, &cose).replace("\"format\"", "\"Format\""),
        ),
        (
            "format escaped",
            file("\"healthcode\\u002dtrust\\u002Dlist\"", "1", region, &cose),
        ),
        (
            "format of another kind",
            file("\"healthcode-trust-lists\"", "1", region, &cose),
        ),
        (
            "format in upper case",
            file("\"HEALTHCODE-TRUST-LIST\"", "1", region, &cose),
        ),
        ("format empty", file("\"\"", "1", region, &cose)),
        ("format null", file("null", "1", region, &cose)),
        ("format a number", file("1", "1", region, &cose)),
        ("version 0", file(FORMAT, "0", region, &cose)),
        ("version 2", file(FORMAT, "2", region, &cose)),
        (
            "version 2^64 - 1",
            file(FORMAT, "18446744073709551615", region, &cose),
        ),
        (
            "version 2^64",
            file(FORMAT, "18446744073709551616", region, &cose),
        ),
        ("version 1.0", file(FORMAT, "1.0", region, &cose)),
        ("version 1e0", file(FORMAT, "1e0", region, &cose)),
        ("version 1E0", file(FORMAT, "1E0", region, &cose)),
        ("version -1", file(FORMAT, "-1", region, &cose)),
        ("version -0", file(FORMAT, "-0", region, &cose)),
        ("version 01", file(FORMAT, "01", region, &cose)),
        ("version +1", file(FORMAT, "+1", region, &cose)),
        ("version as text", file(FORMAT, "\"1\"", region, &cose)),
        ("version true", file(FORMAT, "true", region, &cose)),
        ("version null", file(FORMAT, "null", region, &cose)),
        ("version 1 then a letter", file(FORMAT, "1x", region, &cose)),
        (
            "region of another list",
            file(FORMAT, "1", "\"CN-BJ\"", &cose),
        ),
        (
            "region in lower case",
            file(FORMAT, "1", "\"cn-tj\"", &cose),
        ),
        (
            "region with a space",
            file(FORMAT, "1", "\"CN-TJ \"", &cose),
        ),
        ("region empty", file(FORMAT, "1", "\"\"", &cose)),
        (
            "region escaped",
            file(FORMAT, "1", "\"CN\\u002DTJ\"", &cose),
        ),
        ("region null", file(FORMAT, "1", "null", &cose)),
        ("region a number", file(FORMAT, "1", "7", &cose)),
        ("region an object", file(FORMAT, "1", "{}", &cose)),
        (
            "region with a raw tab",
            file(FORMAT, "1", "\"CN\tTJ\"", &cose),
        ),
        (
            "region with a raw DEL",
            file(FORMAT, "1", "\"CN\u{7f}TJ\"", &cose),
        ),
        (
            "region with a lone leading surrogate",
            file(FORMAT, "1", "\"CN\\ud800TJ\"", &cose),
        ),
        (
            "region with a lone trailing surrogate",
            file(FORMAT, "1", "\"CN\\udc00TJ\"", &cose),
        ),
        (
            "region with two leading surrogates",
            file(FORMAT, "1", "\"\\ud800\\ud800\"", &cose),
        ),
        (
            "region with a surrogate pair",
            file(FORMAT, "1", "\"\\ud83d\\ude00\"", &cose),
        ),
        (
            "region with an invalid escape",
            file(FORMAT, "1", "\"CN\\x54J\"", &cose),
        ),
        (
            "region with a short escape",
            file(FORMAT, "1", "\"CN\\u12\"", &cose),
        ),
        (
            "region with escapes",
            file(FORMAT, "1", "\"\\b\\f\\n\\r\\t\\\"\\\\\\/\"", &cose),
        ),
        ("cose null", file(FORMAT, "1", region, "null")),
        ("cose an array", file(FORMAT, "1", region, "[]")),
        ("cose empty", file(FORMAT, "1", region, "\"\"")),
        (
            "cose unterminated",
            format!(
                "{{\"format\":{FORMAT},\"version\":1,\"region\":{region},\"cose\":\"{cose_b64}}}"
            ),
        ),
    ];
    for (name, text) in json {
        named(&mut c, format!("JSON: {name}"), text, root);
    }

    // Base64, on the whole list and on two truncations of it (each padding a different way).
    let bytes = cose_of(&good);
    for cut in 0..3 {
        base64_cases(
            &mut c,
            &format!("base64 of the list less {cut} bytes"),
            &bytes[..bytes.len() - cut],
        );
    }

    // Signed maps written by hand, signed by the root.
    let pairs = good_pairs;
    let stranger = public(STRANGER);
    let tj_good = public(TJ_GOOD);
    let reversed = |p: Vec<(Vec<u8>, Vec<u8>)>| p.into_iter().rev().collect::<Vec<_>>();
    let payloads: Vec<(&str, Vec<u8>)> = vec![
        ("by hand", map(&pairs())),
        ("keys of the map reversed", map(&reversed(pairs()))),
        (
            "a key entry's keys reversed",
            map(&list_pairs(
                &root,
                &[map(&reversed(key_pairs(&tj_good, &[1])))],
            )),
        ),
        ("list key 8", map(&[pairs(), vec![(u(8), u(0))]].concat())),
        ("list key 0", map(&[vec![(u(0), u(0))], pairs()].concat())),
        (
            "list key negative",
            map(&[pairs(), vec![(cbor().int(-1).0, u(0))]].concat()),
        ),
        (
            "list key text",
            map(&[pairs(), vec![(cbor().text("x").0, u(0))]].concat()),
        ),
        (
            "region twice",
            map(&[pairs(), vec![(u(2), cbor().text("CN-TJ").0)]].concat()),
        ),
        (
            "keys twice",
            map(&[pairs(), vec![(u(7), array(&[]))]].concat()),
        ),
        ("version 2", map(&with(pairs(), 1, u(2)))),
        ("version 0", map(&with(pairs(), 1, u(0)))),
        (
            "version as text",
            map(&with(pairs(), 1, cbor().text("1").0)),
        ),
        ("version missing", map(&without(pairs(), 1))),
        ("region missing", map(&without(pairs(), 2))),
        ("sequence missing", map(&without(pairs(), 3))),
        ("issued_at missing", map(&without(pairs(), 4))),
        ("next_update missing", map(&without(pairs(), 5))),
        ("root missing", map(&without(pairs(), 6))),
        ("keys missing", map(&without(pairs(), 7))),
        ("region empty", map(&with(pairs(), 2, cbor().text("").0))),
        (
            "region as bytes",
            map(&with(pairs(), 2, cbor().bytes(b"CN-TJ").0)),
        ),
        (
            "region not UTF-8",
            map(&with(pairs(), 2, cbor().head(3, 2).raw(&[0xc3, 0x28]).0)),
        ),
        (
            "sequence negative",
            map(&with(pairs(), 3, cbor().int(-1).0)),
        ),
        ("sequence 2^64 - 1", map(&with(pairs(), 3, u(u64::MAX)))),
        (
            "sequence not in shortest form",
            map(&with(pairs(), 3, vec![0x18, 0x07])),
        ),
        (
            "sequence as text",
            map(&with(pairs(), 3, cbor().text("7").0)),
        ),
        ("issued_at 0", map(&with(pairs(), 4, u(0)))),
        (
            "issued_at beyond the representable",
            map(&with(
                with(pairs(), 4, u(LAST_SECOND + 1)),
                5,
                u(LAST_SECOND + 2),
            )),
        ),
        (
            "next_update at the last representable second",
            map(&with(pairs(), 5, u(LAST_SECOND))),
        ),
        ("next_update 2^64 - 1", map(&with(pairs(), 5, u(u64::MAX)))),
        (
            "next_update equal to issued_at",
            map(&with(pairs(), 5, u(ISSUED))),
        ),
        (
            "next_update before issued_at",
            map(&with(pairs(), 5, u(ISSUED - 1))),
        ),
        (
            "next_update a second later",
            map(&with(pairs(), 5, u(ISSUED + 1))),
        ),
        (
            "issued_at as tag 1",
            map(&with(pairs(), 4, cbor().head(6, 1).uint(ISSUED).0)),
        ),
        (
            "issued_at as a float",
            map(&with(
                pairs(),
                4,
                vec![0xfb, 0x41, 0xda, 0x7b, 0x6c, 0x40, 0, 0, 0],
            )),
        ),
        (
            "root of 31 bytes",
            map(&with(pairs(), 6, cbor().bytes(&root[..31]).0)),
        ),
        (
            "root of 33 bytes",
            map(&with(
                pairs(),
                6,
                cbor().bytes(&[&root[..], &[0]].concat()).0,
            )),
        ),
        (
            "root as text",
            map(&with(pairs(), 6, cbor().text("root").0)),
        ),
        ("keys a map", map(&with(pairs(), 7, map(&[])))),
        ("keys empty", map(&with(pairs(), 7, array(&[])))),
        (
            "a key entry an array",
            map(&with(pairs(), 7, array(&[array(&[])]))),
        ),
        (
            "two keys",
            map(&list_pairs(
                &root,
                &[good_key(), map(&key_pairs(&public(TJ_LIST_ONLY), &[2]))],
            )),
        ),
        (
            "bytes after the list map",
            [map(&pairs()), vec![0]].concat(),
        ),
        (
            "indefinite list map",
            [&[0xbf][..], &map(&pairs())[1..], &[0xff]].concat(),
        ),
        ("a list an array", array(&[])),
        ("payload empty", Vec::new()),
        ("payload garbage", vec![0x01]),
        ("a code's claims", map(&claim_pairs(&status_pairs()))),
        (
            "keys array longer than its items",
            map(&with(pairs(), 7, cbor().head(4, 2).raw(&good_key()).0)),
        ),
    ];
    for (name, payload) in payloads {
        named(
            &mut c,
            format!("signed map: {name}"),
            by_root(&payload),
            root,
        );
    }

    // Key entries, each the only one of a list signed by the root.
    let entry = |pairs: Vec<(Vec<u8>, Vec<u8>)>| map(&pairs);
    let kp = || key_pairs(&tj_good, &[1]);
    let usage = |n: &[u64]| key_pairs(&tj_good, n);
    let entries: Vec<(&str, Vec<u8>)> = vec![
        (
            "unknown member 6",
            entry([kp(), vec![(u(6), u(0))]].concat()),
        ),
        ("member 0", entry([vec![(u(0), u(0))], kp()].concat())),
        ("kid twice", entry([kp(), vec![kp()[0].clone()]].concat())),
        ("usage twice", entry([kp(), vec![kp()[4].clone()]].concat())),
        ("kid missing", entry(without(kp(), 1))),
        ("public key missing", entry(without(kp(), 2))),
        ("not_before missing", entry(without(kp(), 3))),
        ("not_after missing", entry(without(kp(), 4))),
        ("usage missing", entry(without(kp(), 5))),
        (
            "kid of 7 bytes",
            entry(with(kp(), 1, cbor().bytes(&kid_of(&tj_good)[..7]).0)),
        ),
        (
            "kid of another key",
            entry(with(kp(), 1, cbor().bytes(&kid_of(&stranger)).0)),
        ),
        (
            "public key of 31 bytes",
            entry(with(kp(), 2, cbor().bytes(&tj_good[..31]).0)),
        ),
        (
            "not_before negative",
            entry(with(kp(), 3, cbor().int(-1).0)),
        ),
        (
            "not_after before not_before",
            entry(with(kp(), 4, u(Y2026 as u64 - 1))),
        ),
        (
            "not_after equal to not_before",
            entry(with(kp(), 4, u(Y2026 as u64))),
        ),
        (
            "not_after beyond the representable",
            entry(with(kp(), 4, u(LAST_SECOND + 1))),
        ),
        ("usage empty", entry(usage(&[]))),
        ("usage 1 and 2", entry(usage(&[1, 2]))),
        ("usage 2", entry(usage(&[2]))),
        ("usage 2 then 1", entry(usage(&[2, 1]))),
        ("usage 1 twice", entry(usage(&[1, 1]))),
        ("usage 3", entry(usage(&[3]))),
        ("usage 0", entry(usage(&[0]))),
        ("usage 1, 2, 3", entry(usage(&[1, 2, 3]))),
        ("usage not an array", entry(with(kp(), 5, u(1)))),
        (
            "usage as text",
            entry(with(kp(), 5, array(&[cbor().text("code").0]))),
        ),
        ("the root as a key", map(&key_pairs(&root, &[1]))),
        (
            "the example key",
            map(&key_pairs(&public(EXAMPLE_SEED), &[1])),
        ),
    ];
    for (name, e) in entries {
        named(&mut c, format!("key entry: {name}"), with_key(e), root);
    }
    for (i, bad) in UNUSABLE_KEYS.iter().enumerate() {
        named(
            &mut c,
            format!("key entry: unusable key {i}"),
            with_key(map(&key_pairs(bad, &[1]))),
            root,
        );
    }
    named(
        &mut c,
        "key entry: the same key twice",
        by_root(&map(&list_pairs(&root, &[good_key(), good_key()]))),
        root,
    );

    // The envelope, around the good hand-built map.
    let payload = map(&pairs());
    let p = protected(ROOT_SEED);
    let sig = signature(ROOT_SEED, &p, &payload);
    let good_cose = envelope(&p, &payload, &sig);
    let alg = |v: i64| (u(1), cbor().int(v).0);
    let kid_pair = |k: &[u8]| (u(4), cbor().bytes(k).0);
    let root_kid = kid_of(&root);
    let headers: Vec<(&str, Vec<u8>)> = vec![
        ("kid before alg", map(&[kid_pair(&root_kid), alg(-8)])),
        ("no kid", map(&[alg(-8)])),
        ("no alg", map(&[kid_pair(&root_kid)])),
        ("alg ES256", map(&[alg(-7), kid_pair(&root_kid)])),
        ("empty protected header", Vec::new()),
        ("kid of 7 bytes", map(&[alg(-8), kid_pair(&root_kid[..7])])),
        (
            "an extra label",
            map(&[alg(-8), kid_pair(&root_kid), (u(3), u(60))]),
        ),
        (
            "the kid of a stranger",
            map(&[alg(-8), kid_pair(&kid_of(&stranger))]),
        ),
        (
            "the kid of a listed key",
            map(&[alg(-8), kid_pair(&kid_of(&tj_good))]),
        ),
    ];
    for (name, h) in headers {
        named(
            &mut c,
            format!("envelope: {name}"),
            wrap(&signed_with(ROOT_SEED, &h, &payload)),
            root,
        );
    }
    let envelopes: Vec<(&str, Vec<u8>)> = vec![
        ("untagged", good_cose[1..].to_vec()),
        ("CWT tag", [&[0xd8, 61][..], &good_cose[1..]].concat()),
        ("tag 19", [&[0xd3][..], &good_cose[1..]].concat()),
        (
            "tag not in shortest form",
            [&[0xd8, 18][..], &good_cose[1..]].concat(),
        ),
        ("trailing byte", [&good_cose[..], &[0]].concat()),
        (
            "indefinite array",
            [&[0xd2, 0x9f][..], &good_cose[2..], &[0xff]].concat(),
        ),
        (
            "unprotected header not empty",
            cbor()
                .head(6, 18)
                .head(4, 4)
                .bytes(&p)
                .raw(&map(&[kid_pair(&root_kid)]))
                .bytes(&payload)
                .bytes(&sig)
                .0,
        ),
        ("63-byte signature", envelope(&p, &payload, &sig[..63])),
        ("signature of zeros", envelope(&p, &payload, &[0; 64])),
        (
            "signed by a stranger under the root's kid",
            envelope(&p, &payload, &signature(STRANGER, &p, &payload)),
        ),
        (
            "signed and named by a stranger",
            signed_with(STRANGER, &protected(STRANGER), &payload),
        ),
        (
            "signed by a listed key under its kid",
            signed_with(TJ_GOOD, &protected(TJ_GOOD), &payload),
        ),
    ];
    for (name, bytes) in envelopes {
        named(&mut c, format!("envelope: {name}"), wrap(&bytes), root);
    }
    // S + L: the same signature in a non-canonical form.
    let mut s_plus_l = good_cose.clone();
    let order: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let end = s_plus_l.len();
    let mut carry = 0u16;
    for (b, l) in s_plus_l[end - 32..].iter_mut().zip(order) {
        let sum = u16::from(*b) + u16::from(l) + carry;
        *b = sum as u8;
        carry = sum >> 8;
    }
    named(
        &mut c,
        "envelope: S plus the group order",
        wrap(&s_plus_l),
        root,
    );

    // Roots no list may have: named by their kid, the map signed by the real root (so the
    // signature fails) or with the signature (R = identity, S = 0) that verifies under the
    // identity for any message. Besides the unusable keys of the code test: the identity
    // written with y = p + 1, and with the sign bit of x set.
    let mut identity_signature = [0u8; 64];
    identity_signature[0] = 1;
    let mut y_p_plus_one = [0xffu8; 32];
    y_p_plus_one[0] = 0xee;
    y_p_plus_one[31] = 0x7f;
    let mut negative_identity = [0u8; 32];
    negative_identity[0] = 1;
    negative_identity[31] = 0x80;
    let roots = [&UNUSABLE_KEYS[..], &[y_p_plus_one, negative_identity]].concat();
    for (i, bad) in roots.iter().enumerate() {
        let h = map(&[alg(-8), kid_pair(&kid_of(bad))]);
        let payload = map(&list_pairs(bad, &[good_key()]));
        named(
            &mut c,
            format!("unusable root {i}, signed by another key"),
            wrap(&envelope(&h, &payload, &signature(ROOT_SEED, &h, &payload))),
            *bad,
        );
        named(
            &mut c,
            format!("unusable root {i}, a signature of the identity"),
            wrap(&envelope(&h, &payload, &identity_signature)),
            *bad,
        );
        let empty = map(&list_pairs(bad, &[]));
        named(
            &mut c,
            format!("unusable root {i} without keys, a signature of the identity"),
            wrap(&envelope(&h, &empty, &identity_signature)),
            *bad,
        );
    }
    c
}

/// Every truncation and flipped bit of the example list's COSE bytes, every truncation of a
/// larger list, and random byte mutations of both from a fixed seed.
fn damaged_files() -> Vec<Named> {
    let mut c = Vec::new();
    let example = cose_of(EXAMPLE_LIST);
    let in_file = |cose: &[u8]| {
        file(
            FORMAT,
            "1",
            "\"CN-BJ\"",
            &format!("\"{}\"", STANDARD.encode(cose)),
        )
    };
    for len in 0..example.len() {
        named(
            &mut c,
            format!("example truncated to {len} bytes"),
            in_file(&example[..len]),
            EXAMPLE_ROOT,
        );
    }
    for byte in 0..example.len() {
        for bit in 0..8 {
            let mut t = example.clone();
            t[byte] ^= 1 << bit;
            named(
                &mut c,
                format!("example: bit {bit} of byte {byte} flipped"),
                in_file(&t),
                EXAMPLE_ROOT,
            );
        }
    }
    let big = cose_of(&tj_list(7, ISSUED, NEXT, "CN-TJ", true));
    let root = public(ROOT_SEED);
    for len in 0..big.len() {
        named(
            &mut c,
            format!("four keys truncated to {len} bytes"),
            wrap(&big[..len]),
            root,
        );
    }
    // xorshift64*, fixed seed: the same mutations on every run.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for n in 0..300 {
        let (mut t, example_list) = if n % 2 == 0 {
            (example.clone(), true)
        } else {
            (big.clone(), false)
        };
        let at = (next() % t.len() as u64) as usize;
        let value = (next() & 0xff) as u8;
        if value == t[at] {
            continue;
        }
        t[at] = value;
        let (text, root) = if example_list {
            (in_file(&t), EXAMPLE_ROOT)
        } else {
            (wrap(&t), root)
        };
        named(
            &mut c,
            format!("random mutation {n}: byte {at} set to {value:#04x}"),
            text,
            root,
        );
    }
    c
}

fn with_pins(files: &[Named], pins: &[Pin]) -> Vec<ListCase> {
    let other = hex(&public(OTHER_ROOT_SEED));
    let mut out = Vec::with_capacity(files.len() * pins.len());
    for f in files {
        for pin in pins {
            let (label, pinned) = match pin {
                Pin::None => ("no pin", None),
                Pin::Own => ("its root pinned", Some(hex(&f.root))),
                Pin::Other => ("another root pinned", Some(other.clone())),
            };
            out.push(ListCase {
                name: format!("{} ({label})", f.name),
                text: f.text.clone(),
                pinned,
            });
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Pin {
    None,
    Own,
    Other,
}

/// Reads `cases` with readTrustList in the page, a batch at a time.
async fn page_outcomes(page: &Page, cases: &[ListCase]) -> Result<Vec<Outcome>> {
    let mut out = Vec::with_capacity(cases.len());
    for batch in cases.chunks(500) {
        let json = serde_json::to_string(batch)?;
        let js = format!(
            "(async () => {{
                const out = [];
                for (const c of {json}) {{
                    let r;
                    try {{
                        r = await HealthcodeVerify.readTrustList(c.text, c.pinned);
                    }} catch (e) {{
                        out.push({{ code: 'threw: ' + e, list: null }});
                        continue;
                    }}
                    out.push(r.ok
                        ? {{ code: null, list: {{ ...r.list, sequence: String(r.list.sequence) }} }}
                        : {{ code: r.code, list: null }});
                }}
                return out;
            }})()"
        );
        out.extend(page.eval::<Vec<Outcome>>(&js).await?);
    }
    Ok(out)
}

#[tokio::test]
async fn the_page_and_the_rust_reader_agree_on_every_trust_list() -> Result<()> {
    let named = named_files();
    let damaged = damaged_files();
    let mut cases = with_pins(&named, &[Pin::None, Pin::Own, Pin::Other]);
    let named_count = cases.len();
    cases.extend(with_pins(&damaged, &[Pin::None, Pin::Own]));
    let expected: Vec<Outcome> = cases.iter().map(rust_outcome).collect();

    // The vectors mean what their names say.
    let verdict = |name: &str| {
        let i = cases.iter().position(|c| c.name == name).unwrap();
        expected[i].code.clone().unwrap_or_else(|| "read".into())
    };
    assert_eq!(verdict("the example list (its root pinned)"), "read");
    assert_eq!(
        verdict("the example list (another root pinned)"),
        "root_mismatch"
    );
    assert_eq!(verdict("a list of four keys (no pin)"), "read");
    assert_eq!(
        verdict("sequence 2^64 - 1, times at the ends of the range (no pin)"),
        "read"
    );
    assert_eq!(verdict("JSON: the array form (no pin)"), "json");
    assert_eq!(verdict("JSON: an extra member (no pin)"), "json");
    assert_eq!(verdict("JSON: version 2 (no pin)"), "format");
    assert_eq!(verdict("JSON: region of another list (no pin)"), "region");
    assert_eq!(
        verdict("base64 of the list less 1 bytes: padding left off (no pin)"),
        "base64"
    );
    assert_eq!(verdict("signed map: by hand (no pin)"), "read");
    assert_eq!(verdict("signed map: list key 8 (no pin)"), "payload");
    assert_eq!(
        verdict("signed map: next_update equal to issued_at (no pin)"),
        "payload"
    );
    assert_eq!(verdict("key entry: usage 2 then 1 (no pin)"), "payload");
    assert_eq!(verdict("key entry: kid of another key (no pin)"), "payload");
    assert_eq!(verdict("key entry: the root as a key (no pin)"), "payload");
    assert_eq!(
        verdict("key entry: the root as a key (another root pinned)"),
        "root_mismatch"
    );
    assert_eq!(
        verdict("envelope: the kid of a stranger (another root pinned)"),
        "kid"
    );
    assert_eq!(verdict("envelope: no kid (no pin)"), "kid");
    assert_eq!(verdict("envelope: untagged (no pin)"), "cose");
    assert_eq!(verdict("envelope: trailing byte (no pin)"), "cose");
    assert_eq!(
        verdict("envelope: signature of zeros (no pin)"),
        "signature"
    );
    assert_eq!(
        verdict("unusable root 1, signed by another key (no pin)"),
        "payload"
    );
    assert_eq!(
        verdict("unusable root 0, a signature of the identity (no pin)"),
        "payload"
    );
    assert_eq!(
        verdict("unusable root 3, a signature of the identity (no pin)"),
        "payload"
    );
    assert_eq!(
        verdict("unusable root 4, a signature of the identity (no pin)"),
        "payload"
    );
    assert_eq!(
        verdict("unusable root 0, signed by another key (its root pinned)"),
        "signature"
    );

    let server = serve().await;
    let Some(browser) = Browser::launch_or_skip(Options::default()).await? else {
        return Ok(());
    };
    let page = browser.page(&format!("{server}/")).await?;
    let actual = page_outcomes(&page, &cases).await?;
    assert_eq!(actual.len(), cases.len());

    // A list the page read is one its verifier uses: the worked example's code verifies.
    let js = format!(
        "(async () => {{
            const read = await HealthcodeVerify.readTrustList({list}, {root});
            const r = await HealthcodeVerify.verifier([read.list]).verify({code}, {NOW});
            return r.valid ? 'valid' : r.code;
        }})()",
        list = serde_json::to_string(EXAMPLE_LIST)?,
        root = serde_json::to_string(&hex(&EXAMPLE_ROOT))?,
        code = serde_json::to_string(EXAMPLE_CODE)?,
    );
    assert_eq!(page.eval::<String>(&js).await?, "valid");

    let mismatches: Vec<String> = cases
        .iter()
        .zip(expected.iter().zip(&actual))
        .filter(|(_, (rust, js))| rust != js)
        .map(|(case, (rust, js))| {
            let shown = |o: &Outcome| match (&o.code, &o.list) {
                (Some(code), _) => code.clone(),
                (None, Some(l)) => format!(
                    "read: {} #{} {}..{} root {} {} keys",
                    l.region,
                    l.sequence,
                    l.issued_at,
                    l.next_update,
                    &l.root_public_key[..8.min(l.root_public_key.len())],
                    l.keys.len()
                ),
                (None, None) => "nothing".into(),
            };
            format!("| {} | {} | {} |", case.name, shown(rust), shown(js))
        })
        .collect();
    let read = expected.iter().filter(|o| o.code.is_none()).count();
    eprintln!(
        "{} trust list readings ({} of {} named files, {} of {} damaged ones), {read} read in both, {} disagreements",
        cases.len(),
        named_count,
        named.len(),
        cases.len() - named_count,
        damaged.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "the two readers disagree:\n| file | Rust | verify.js |\n|---|---|---|\n{}",
        mismatches.join("\n")
    );
    page.assert_no_problems().await?;
    browser.close().await
}
