//! Recomputes the worked example of docs/FORMAT.md and checks that every value quoted there
//! is what the code produces, so the document and the implementation cannot drift.
//!
//! Ed25519 (RFC 8032) is deterministic, so with a fixed seed and fixed claims every byte is
//! stable. To regenerate the quoted values after a deliberate format change:
//! `cargo test -p healthcode-credential --test format_example -- --nocapture`.
//!
//! The CBOR diagnostic notation (RFC 8949 §8) is printed from ciborium's independent decoding
//! of the bytes, which also checks that the hand-written encoder produces CBOR another
//! implementation reads.

#![allow(clippy::expect_used, clippy::panic)] // tests state their expectations

mod common;

use base64::Engine as _;
use ciborium::value::Value;
use common::*;
use healthcode_credential::{PREFIX, TrustList, issue_code};

const FORMAT_MD: &str = include_str!("../../../docs/FORMAT.md");

/// RFC 8949 §8 diagnostic notation, one map entry per line when a map has several.
fn diag(value: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent + 1);
    let close = "  ".repeat(indent);
    match value {
        Value::Integer(i) => i128::from(*i).to_string(),
        Value::Bytes(b) => format!("h'{}'", hex::encode(b)),
        Value::Text(t) => format!("{t:?}"),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Tag(tag, inner) => format!("{tag}({})", diag(inner, indent)),
        Value::Array(items) => {
            let inline: Vec<String> = items.iter().map(|v| diag(v, indent)).collect();
            let one_line = format!("[{}]", inline.join(", "));
            if one_line.len() <= 60 {
                one_line
            } else {
                let items: Vec<String> = items
                    .iter()
                    .map(|v| format!("{pad}{}", diag(v, indent + 1)))
                    .collect();
                format!("[\n{}\n{close}]", items.join(",\n"))
            }
        }
        Value::Map(entries) => {
            if entries.is_empty() {
                return "{}".into();
            }
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{pad}{}: {}", diag(k, indent + 1), diag(v, indent + 1)))
                .collect();
            format!("{{\n{}\n{close}}}", entries.join(",\n"))
        }
        other => format!("{other:?}"),
    }
}

fn decode(bytes: &[u8]) -> Value {
    ciborium::de::from_reader(bytes).expect("ciborium reads it")
}

/// Hex wrapped at 64 digits a line, as quoted in the document.
fn wrapped_hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
        .as_bytes()
        .chunks(64)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

struct Example {
    sections: Vec<(&'static str, String)>,
    code: String,
    trust_list: String,
}

fn example() -> Example {
    let key = example_key();
    let code = issue_code(&example_claims(), &key).expect("issues");
    let cose = cose_bytes(&code);
    let Value::Tag(18, inner) = decode(&cose) else {
        panic!("not tag 18")
    };
    let Value::Array(parts) = *inner else {
        panic!("not an array")
    };
    let [
        Value::Bytes(protected),
        Value::Map(_),
        Value::Bytes(payload),
        Value::Bytes(signature),
    ] = &parts[..]
    else {
        panic!("not a COSE_Sign1")
    };
    // Sig_structure (RFC 9052 §4.4), built independently with ciborium.
    let sig_structure = Value::Array(vec![
        Value::Text("Signature1".into()),
        Value::Bytes(protected.clone()),
        Value::Bytes(vec![]),
        Value::Bytes(payload.clone()),
    ]);
    let mut sig_structure_bytes = Vec::new();
    ciborium::ser::into_writer(&sig_structure, &mut sig_structure_bytes).expect("encodes");

    let trust_list = example_list().sign(&example_root()).expect("signs");
    let list_cose = base64::engine::general_purpose::STANDARD
        .decode(
            serde_json::from_str::<serde_json::Value>(&trust_list).expect("json")["cose"]
                .as_str()
                .expect("string"),
        )
        .expect("base64");
    let Value::Tag(18, list_inner) = decode(&list_cose) else {
        panic!("not tag 18")
    };
    let Value::Array(list_parts) = *list_inner else {
        panic!("not an array")
    };
    let Value::Bytes(list_payload) = &list_parts[2] else {
        panic!("no payload")
    };

    let sections = vec![
        ("seed", wrapped_hex(&[7u8; 32])),
        ("public key", wrapped_hex(&key.public_key())),
        ("kid", wrapped_hex(&key.kid())),
        ("claims hex", wrapped_hex(payload)),
        ("claims diag", diag(&decode(payload), 0)),
        ("protected hex", wrapped_hex(protected)),
        ("protected diag", diag(&decode(protected), 0)),
        ("sig_structure hex", wrapped_hex(&sig_structure_bytes)),
        ("signature hex", wrapped_hex(signature)),
        ("cose hex", wrapped_hex(&cose)),
        (
            "cose diag",
            diag(&decode(&cose), 0).replace(&hex::encode(payload), "…claims…"),
        ),
        ("root public key", wrapped_hex(&example_root().public_key())),
        ("trust list diag", diag(&decode(list_payload), 0)),
    ];
    Example {
        sections,
        code,
        trust_list,
    }
}

fn without_whitespace(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn worked_example_matches_docs_format_md() {
    let example = example();
    for (name, text) in &example.sections {
        println!("--- {name}\n{text}\n");
    }
    println!("--- code\n{}\n", example.code);
    println!("--- trust list file\n{}", example.trust_list);

    // The code and the trust list file are quoted whole, each on one line.
    assert!(
        FORMAT_MD.lines().any(|l| l == example.code),
        "docs/FORMAT.md does not quote the example code {}",
        example.code
    );
    assert!(
        FORMAT_MD
            .lines()
            .any(|l| l == example.trust_list.trim_end()),
        "docs/FORMAT.md does not quote the example trust list file"
    );
    let doc_hex = without_whitespace(FORMAT_MD);
    for (name, text) in &example.sections {
        if name.ends_with("diag") {
            assert!(
                FORMAT_MD.contains(text.as_str()),
                "docs/FORMAT.md does not contain the {name}:\n{text}"
            );
        } else {
            assert!(
                doc_hex.contains(&without_whitespace(text)),
                "docs/FORMAT.md does not contain the {name}:\n{text}"
            );
        }
    }
}

#[test]
fn worked_example_verifies_and_reads_back() {
    let example = example();
    assert!(example.code.starts_with(PREFIX));
    let list = TrustList::from_json(&example.trust_list, Some(&example_root().public_key()))
        .expect("the example trust list reads");
    let verifier = healthcode_credential::Verifier::new(&[list]);
    assert_eq!(
        verifier.verify(&example.code, example_now()),
        Ok(example_claims())
    );
}
