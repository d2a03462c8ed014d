//! The example `genesis.json` and key file in `docs/SPEC.md` load, validate and
//! produce the state root and genesis hash the document's vectors state, so
//! the examples can never drift from the code.
#![allow(clippy::unwrap_used)]

use cairn_genesis::{build_genesis_state, ConsensusParams, Genesis, KeyFile};

fn spec() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/SPEC.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fenced block that follows `<!-- spec-example: <name> -->`.
fn example(text: &str, name: &str) -> String {
    let marker = format!("<!-- spec-example: {name} -->");
    let after = &text[text
        .find(&marker)
        .unwrap_or_else(|| panic!("SPEC.md has no {marker}"))..];
    let start = after.find("```json\n").unwrap() + "```json\n".len();
    let len = after[start..].find("```").unwrap();
    after[start..start + len].to_string()
}

/// The bytes of `vector <name>: <hex>`.
fn vector(text: &str, name: &str) -> Vec<u8> {
    let prefix = format!("vector {name}:");
    let line = text
        .lines()
        .find_map(|l| l.trim().strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("SPEC.md has no vector {name}"));
    hex::decode(line.split_whitespace().collect::<String>()).unwrap()
}

#[test]
fn example_genesis_gives_the_documented_root_and_hash() {
    let text = spec();
    let genesis = Genesis::from_json(&example(&text, "genesis.json")).unwrap();
    assert_eq!(genesis.consensus, ConsensusParams::default());
    let state = build_genesis_state(&genesis).unwrap();
    assert_eq!(
        state.state_root.0.to_vec(),
        vector(&text, "state.root.genesis")
    );
    assert_eq!(state.block.hash().0.to_vec(), vector(&text, "genesis.hash"));
    assert_eq!(
        cairn_ledger::Encode::to_bytes(&state.block.header),
        vector(&text, "genesis.header")
    );
}

#[test]
fn example_key_file_is_alices() {
    let text = spec();
    let key = KeyFile::from_json(&example(&text, "key file")).unwrap();
    assert_eq!(key.address().0.to_vec(), vector(&text, "key.alice.address"));
    assert_eq!(
        key.secret().seed().to_vec(),
        vector(&text, "key.alice.seed")
    );
}
