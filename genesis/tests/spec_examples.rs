//! The example `genesis.json` and key file in `docs/SPEC.md` load, validate and
//! produce the state root, config bytes, config hash and genesis hash the
//! document's vectors state, so the examples can never drift from the code.
//! (`ledger/tests/spec_vectors.rs` computes the same vectors independently,
//! from the layout alone.)
#![allow(clippy::unwrap_used)]

use cairn_genesis::{
    build_genesis_state, config_bytes, config_hash, ConsensusParams, Genesis, KeyFile,
};

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
    assert_eq!(config_bytes(&genesis), vector(&text, "genesis.config"));
    assert_eq!(
        config_hash(&genesis).0.to_vec(),
        vector(&text, "genesis.config_hash")
    );
    assert_eq!(
        state.block.header.parent_hash.0.to_vec(),
        vector(&text, "genesis.config_hash")
    );
    assert_eq!(state.block.hash().0.to_vec(), vector(&text, "genesis.hash"));
    assert_eq!(state.committee.genesis_hash, state.block.hash());
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

/// SPEC.md §8: defaults count as written out and `timeoutBackoff` is hashed as
/// its value, so these spellings of the example file are one chain; a
/// different backoff is another.
#[test]
fn example_genesis_spellings_give_one_chain() {
    let text = spec();
    let json = example(&text, "genesis.json");
    let hash = |j: &str| {
        build_genesis_state(&Genesis::from_json(j).unwrap())
            .unwrap()
            .block
            .hash()
    };
    let want = hash(&json);
    assert_eq!(want.0.to_vec(), vector(&text, "genesis.hash"));
    for backoff in ["2", "2e0", "2.000"] {
        let j = json.replace(
            "\"timeoutBackoff\": 2.0",
            &format!("\"timeoutBackoff\": {backoff}"),
        );
        assert_ne!(j, json);
        assert_eq!(hash(&j), want, "timeoutBackoff {backoff}");
    }
    let start = json.find(",\n  \"consensus\"").unwrap();
    let no_consensus = format!("{}\n}}\n", &json[..start]);
    assert_eq!(hash(&no_consensus), want, "consensus omitted");
    let renamed = json.replace("validator-2", "carol's box");
    assert_eq!(hash(&renamed), want, "validator renamed");
    let other = json.replace("\"timeoutBackoff\": 2.0", "\"timeoutBackoff\": 1.5");
    assert_ne!(hash(&other), want);
}
