//! Arbitrary input to every reader of the transparency log's formats: signed notes,
//! checkpoints, tlog proofs, tile paths, entry bundles, a witness's add-checkpoint request and
//! response, and verifier keys. Each must answer with `Ok` or its error, never panic; what
//! parses must verify or be refused without panicking too.

#![no_main]

use healthcode_tlog::{
    AddCheckpoint, Checkpoint, CosignatureVerifier, NoteVerifier, TlogProof, leaf_hash,
    parse_add_checkpoint_response, parse_entry_bundle, parse_tile_path,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let key = NoteVerifier::new("example.com/log", &[7; 32]).ok();
    if let Ok(note) = healthcode_tlog::Note::parse(data) {
        if let Some(key) = &key {
            let _ = note.verify(std::slice::from_ref(key));
        }
    }
    let _ = Checkpoint::parse_text(&text);
    if let Some(key) = &key {
        let _ = Checkpoint::open(data, "example.com/log", std::slice::from_ref(key));
    }
    if let Ok(proof) = TlogProof::parse(data) {
        let _ = proof.to_string();
        if let Some(key) = &key {
            let _ = proof.verify(
                &leaf_hash(b"entry"),
                "example.com/log",
                std::slice::from_ref(key),
            );
        }
    }
    let _ = parse_tile_path(&text);
    if let Some((&width, rest)) = data.split_first() {
        let _ = parse_entry_bundle(rest, u16::from(width) + 1);
    }
    let _ = AddCheckpoint::parse(data);
    let _ = parse_add_checkpoint_response(&text);
    let _ = NoteVerifier::parse(&text);
    let _ = CosignatureVerifier::parse(&text);
});
