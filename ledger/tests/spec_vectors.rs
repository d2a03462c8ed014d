//! `docs/SPEC.md` is checked against the code: every `vector <name>: <hex>`
//! line in the document must equal what the ledger computes from the fixed
//! inputs the document describes, and every vector this test computes must be
//! in the document. Spaces and `|` inside the hex are ignored (the document
//! separates fields with them).
//!
//! To print the vectors in the document's format (after a deliberate change
//! to an encoding, which is a hard fork):
//! `CAIRN_PRINT_VECTORS=1 cargo test -p cairn-ledger --no-default-features --test spec_vectors -- --nocapture`
#![allow(clippy::unwrap_used)]

mod fixtures;

use std::collections::BTreeMap;

use cairn_ledger::hash::tag;
use cairn_ledger::merkle;
use cairn_ledger::state::{key_hash, AccountProof, MemTreeStore, StateTree};
use cairn_ledger::types::block::proposal_signing_bytes;
use cairn_ledger::types::cert::{timeout_signing_bytes, vote_signing_bytes};
use cairn_ledger::{
    Account, Address, Amount, Block, BlockHeader, Decode, Encode, Hash, Height, Proposal,
    QuorumCertificate, Receipt, Round, Signature, SignedTransaction, Timeout, TxStatus, Vote,
};
use curve25519_dalek::constants::EIGHT_TORSION;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use fixtures::*;
use sha2::{Digest, Sha256, Sha512};

/// Genesis time of the spec chain: 2026-11-21T00:00:00Z.
const GENESIS_MS: u64 = 1_795_219_200_000;

type Parts = Vec<Vec<u8>>;

struct Vectors(Vec<(String, Parts)>);

impl Vectors {
    fn add(&mut self, name: &str, parts: Parts) {
        assert!(
            self.0.iter().all(|(n, _)| n != name),
            "vector {name} computed twice"
        );
        self.0.push((name.to_string(), parts));
    }
    fn one(&mut self, name: &str, bytes: impl AsRef<[u8]>) {
        self.add(name, vec![bytes.as_ref().to_vec()]);
    }
}

fn u8s(v: u8) -> Vec<u8> {
    vec![v]
}
fn le16(v: u16) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}
fn le32(v: u32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}
fn le64(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

fn tx_parts(t: &SignedTransaction) -> Parts {
    let tx = t.tx();
    vec![
        u8s(tx.chain_id.as_str().len() as u8),
        tx.chain_id.as_str().as_bytes().to_vec(),
        tx.from.0.to_vec(),
        tx.to.0.to_vec(),
        le64(tx.amount.0),
        le64(tx.nonce),
        le16(tx.memo.len() as u16),
        tx.memo.clone(),
    ]
}

fn qc_parts(q: &QuorumCertificate) -> Parts {
    let mut p = vec![
        q.block_hash.0.to_vec(),
        le64(q.height.0),
        le64(q.round.0),
        le16(q.signatures.len() as u16),
    ];
    for (i, s) in &q.signatures {
        p.push(le16(*i));
        p.push(s.0.to_vec());
    }
    p
}

fn header_parts(h: &BlockHeader) -> Parts {
    let mut p = vec![
        u8s(h.chain_id.as_str().len() as u8),
        h.chain_id.as_str().as_bytes().to_vec(),
        le64(h.height.0),
        le64(h.round.0),
        h.parent_hash.0.to_vec(),
        h.proposer.0.to_vec(),
        le64(h.timestamp_ms),
        h.tx_root.0.to_vec(),
        le32(h.tx_count),
        h.state_root.0.to_vec(),
        le64(h.state_height.0),
    ];
    p.extend(qc_parts(&h.justify));
    match &h.timeout_cert {
        None => p.push(u8s(0)),
        Some(tc) => {
            p.push(u8s(1));
            p.push(le64(tc.round.0));
            p.extend(qc_parts(&tc.high_qc));
            p.push(le16(tc.signatures.len() as u16));
            for (i, hq, s) in &tc.signatures {
                p.push(le16(*i));
                p.push(le64(hq.0));
                p.push(s.0.to_vec());
            }
        }
    }
    p
}

/// The spec chain's genesis config bytes (SPEC.md §8), split into fields:
/// validators 0..4 of power 1 in index order, then the default consensus
/// parameters (`genesis.json` in SPEC.md §10). Written out by hand here: the
/// ledger does not know `genesis.json`; `genesis/tests/spec_examples.rs`
/// checks `cairn_genesis::config_bytes` against the same vector.
fn genesis_config_parts() -> Parts {
    let mut p = vec![le16(4)];
    for i in 0..4u16 {
        p.push(validator_key(i).address().0.to_vec());
        p.push(le64(1));
    }
    p.extend([
        le64(1_000),            // roundTimeoutMs
        le64(2.0f64.to_bits()), // timeoutBackoff, binary64 bits
        le64(60_000),           // maxRoundTimeoutMs
        le32(10_000),           // maxBlockTxs
        le64(16 << 20),         // maxBlockBytes
        le16(1_024),            // maxMemoBytes
    ]);
    p
}

/// `SHA-256("cairn/genesis/v1" || config bytes)`.
fn genesis_config_hash() -> Hash {
    Hash::tagged(tag::GENESIS, &[&genesis_config_parts().concat()])
}

/// The spec chain's genesis: alice 1,000,000 and bob 500; validators 0..4 of
/// power 1; `parent_hash` = the config hash.
fn genesis() -> (Block, Vec<(Address, Account)>, MemTreeStore) {
    let mut accounts = vec![
        (
            alice().address(),
            Account {
                balance: Amount(1_000_000),
                nonce: 0,
            },
        ),
        (
            bob().address(),
            Account {
                balance: Amount(500),
                nonce: 0,
            },
        ),
    ];
    accounts.sort_by_key(|(a, _)| *a);
    let mut store = MemTreeStore::new();
    let (root, batch) = StateTree::new(&store).update(&accounts, Height(0)).unwrap();
    store.apply(batch);
    let block = Block::genesis_with_config(chain(), GENESIS_MS, root, genesis_config_hash());
    (block, accounts, store)
}

fn spec_committee(genesis_hash: Hash) -> cairn_ledger::Committee {
    committee(&[1, 1, 1, 1], genesis_hash)
}

fn block1(genesis_hash: Hash, state_root: Hash) -> Block {
    let txs = spec_txs();
    Block {
        header: BlockHeader {
            chain_id: chain(),
            height: Height(1),
            round: Round(1),
            parent_hash: genesis_hash,
            proposer: validator_key(1).address(),
            timestamp_ms: GENESIS_MS + 1_000,
            tx_root: Block::compute_tx_root(&txs),
            tx_count: txs.len() as u32,
            state_root,
            state_height: Height(0),
            justify: QuorumCertificate::genesis(genesis_hash),
            timeout_cert: None,
        },
        txs,
    }
}

/// The secret scalar of an ed25519 seed (RFC 8032 §5.1.5).
fn secret_scalar(seed: [u8; 32]) -> Scalar {
    let h = Sha512::digest(seed);
    let mut a = [0u8; 32];
    a.copy_from_slice(&h[..32]);
    a[0] &= 248;
    a[31] &= 127;
    a[31] |= 64;
    Scalar::from_bytes_mod_order(a)
}

fn challenge(r: &[u8; 32], a: &[u8; 32], msg: &[u8]) -> Scalar {
    let h: [u8; 64] = Sha512::new()
        .chain_update(r)
        .chain_update(a)
        .chain_update(msg)
        .finalize()
        .into();
    Scalar::from_bytes_mod_order_wide(&h)
}

fn nonce(label: &[u8]) -> Scalar {
    Scalar::from_bytes_mod_order_wide(&Sha512::digest(label).into())
}

const ZIP215_MSG: &[u8] = b"cairn-spec zip215";

/// (name, public key, signature, ZIP-215 verdict) of the signature-rule vectors.
fn zip215_cases() -> Vec<(&'static str, [u8; 32], [u8; 64], bool)> {
    let join = |r: [u8; 32], s: [u8; 32]| {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&r);
        out[32..].copy_from_slice(&s);
        out
    };
    let seed = [0x42u8; 32];
    let a = secret_scalar(seed);
    let big_a = EdwardsPoint::mul_base(&a).compress().to_bytes();
    // Small-order key and R (torsion points 1 and 2), S = 0.
    let t1 = EIGHT_TORSION[1].compress().to_bytes();
    let t2 = EIGHT_TORSION[2].compress().to_bytes();
    let small = join(t2, [0; 32]);
    // Mixed-order key A + T1, ordinary nonce.
    let mixed_a = (EdwardsPoint::mul_base(&a) + EIGHT_TORSION[1])
        .compress()
        .to_bytes();
    let r = nonce(b"cairn-spec zip215 mixed");
    let rb = EdwardsPoint::mul_base(&r).compress().to_bytes();
    let mixed = join(
        rb,
        (r + challenge(&rb, &mixed_a, ZIP215_MSG) * a).to_bytes(),
    );
    // Non-canonical key: the identity encoded as y = 1 + p; s = r.
    let mut nc_a = [0xffu8; 32];
    nc_a[0] = 0xee;
    nc_a[31] = 0x7f;
    let r2 = nonce(b"cairn-spec zip215 non-canonical A");
    let rb2 = EdwardsPoint::mul_base(&r2).compress().to_bytes();
    let nc = join(rb2, r2.to_bytes());
    // An ordinary signature by seed 0x42.., then with S + l.
    let ordinary = key(0x42).sign(ZIP215_MSG).0;
    let mut s = [0u8; 32];
    s.copy_from_slice(&ordinary[32..]);
    let l: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut s_plus_l = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = s[i] as u16 + l[i] as u16 + carry;
        s_plus_l[i] = v as u8;
        carry = v >> 8;
    }
    let mut r_ord = [0u8; 32];
    r_ord.copy_from_slice(&ordinary[..32]);
    vec![
        ("ordinary", big_a, ordinary, true),
        ("small_order", t1, small, true),
        ("mixed_order", mixed_a, mixed, true),
        ("non_canonical_a", nc_a, nc, true),
        ("non_canonical_s", big_a, join(r_ord, s_plus_l), false),
    ]
}

fn compute() -> Vectors {
    let mut v = Vectors(Vec::new());

    // Keys.
    v.one("key.alice.seed", [0x01u8; 32]);
    v.one("key.alice.address", alice().address().0);
    v.one("key.bob.address", bob().address().0);
    v.one("key.carol.address", carol().address().0);
    for i in 0..4u16 {
        v.one(
            &format!("key.validator{i}.address"),
            validator_key(i).address().0,
        );
    }

    // Transactions.
    let txs = spec_txs();
    let t0 = &txs[0];
    v.add("tx0.body", tx_parts(t0));
    let mut signing = vec![tag::TX.to_vec()];
    signing.push(t0.tx().to_bytes());
    assert_eq!(signing.concat(), t0.tx().signing_bytes());
    v.add("tx0.signing_bytes", signing);
    v.one("tx0.signature", t0.signature().0);
    v.add(
        "tx0.signed",
        vec![t0.tx().to_bytes(), t0.signature().0.to_vec()],
    );
    v.one("tx0.hash", t0.hash().0);
    for (i, t) in txs.iter().enumerate().skip(1) {
        v.add(
            &format!("tx{i}.signed"),
            vec![t.tx().to_bytes(), t.signature().0.to_vec()],
        );
        v.one(&format!("tx{i}.hash"), t.hash().0);
    }

    // Accounts and receipts.
    let acct = Account {
        balance: Amount(1_000_000),
        nonce: 3,
    };
    assert_eq!(acct.to_bytes(), [le64(1_000_000), le64(3)].concat());
    v.add("account.bytes", vec![le64(1_000_000), le64(3)]);
    for (name, status) in [
        ("success", TxStatus::Success),
        ("insufficient_balance", TxStatus::InsufficientBalance),
        ("balance_overflow", TxStatus::BalanceOverflow),
        ("invalid_nonce", TxStatus::InvalidNonce),
    ] {
        v.one(&format!("receipt.{name}"), Receipt { status }.to_bytes());
    }

    // tx_root.
    let hashes: Vec<Hash> = txs.iter().map(|t| t.hash()).collect();
    v.one("tx_root.empty", merkle::root(&[]).0);
    v.one("tx_root.one", merkle::root(&hashes[..1]).0);
    v.one("tx_root.three.leaf0", merkle::leaf_hash(&hashes[0].0).0);
    v.one("tx_root.three", merkle::root(&hashes).0);
    let path = merkle::audit_path(&hashes, 2).unwrap();
    v.add(
        "tx_root.three.path2",
        path.iter().map(|h| h.0.to_vec()).collect(),
    );

    // State tree.
    let (genesis, accounts, store) = genesis();
    let a = alice().address();
    let value = accounts.iter().find(|(x, _)| *x == a).unwrap().1.to_bytes();
    let key = key_hash(&a).0;
    let value_hash: [u8; 32] = Sha256::digest(&value).into();
    v.one("state.alice.key", key);
    v.one("state.alice.value", &value);
    v.one("state.alice.value_hash", value_hash);
    v.one(
        "state.alice.leaf",
        Sha256::new()
            .chain_update(b"JMT::LeafNode")
            .chain_update(key)
            .chain_update(value_hash)
            .finalize(),
    );
    v.one("state.root.empty", b"SPARSE_MERKLE_PLACEHOLDER_HASH__");
    v.one("state.root.genesis", genesis.header.state_root.0);
    let tree = StateTree::new(&store);
    let (_, proof) = tree.get_with_proof(&a, Height(0)).unwrap();
    v.add("state.proof.alice", proof_parts(&proof.to_bytes()));
    let (_, proof) = tree.get_with_proof(&carol().address(), Height(0)).unwrap();
    v.add("state.proof.carol", proof_parts(&proof.to_bytes()));

    // Genesis block and the config it commits to.
    let mut config = vec![tag::GENESIS.to_vec()];
    config.extend(genesis_config_parts());
    assert_eq!(
        Hash::digest(&config.concat()),
        genesis.header.parent_hash,
        "the genesis block's parent_hash is the config hash"
    );
    v.add("genesis.config", genesis_config_parts());
    v.one("genesis.config_hash", genesis_config_hash().0);
    v.add("genesis.header", header_parts(&genesis.header));
    v.one("genesis.hash", genesis.hash().0);

    // Block 1: three transactions, justified by the genesis QC.
    let gh = genesis.hash();
    let c = spec_committee(gh);
    let b1 = block1(gh, genesis.header.state_root);
    v.add("block1.header", header_parts(&b1.header));
    v.one("block1.hash", b1.hash().0);
    let mut body = vec![b1.header.to_bytes()];
    body.extend(b1.txs.iter().map(|t| t.to_bytes()));
    v.add("block1.bytes", body);
    let p = Proposal::sign(b1.clone(), &validator_key(1));
    v.add(
        "proposal1.signing_bytes",
        vec![
            tag::PROPOSAL.to_vec(),
            u8s(10),
            b"cairn-spec".to_vec(),
            b1.hash().0.to_vec(),
        ],
    );
    assert_eq!(
        proposal_signing_bytes(&chain(), &b1.hash()),
        [tag::PROPOSAL, &[10], b"cairn-spec", &b1.hash().0].concat()
    );
    v.one("proposal1.signature", p.signature.0);

    // Vote by validator 0 for block 1.
    let vote = Vote::sign(
        &chain(),
        b1.hash(),
        Height(1),
        Round(1),
        0,
        &validator_key(0),
    );
    v.add(
        "vote.signing_bytes",
        vec![
            tag::VOTE.to_vec(),
            u8s(10),
            b"cairn-spec".to_vec(),
            b1.hash().0.to_vec(),
            le64(1),
            le64(1),
        ],
    );
    assert_eq!(
        vote_signing_bytes(&chain(), &b1.hash(), Height(1), Round(1)),
        v.0.last().unwrap().1.concat()
    );
    v.one("vote.signature", vote.signature.0);
    v.add(
        "vote.wire",
        vec![
            b1.hash().0.to_vec(),
            le64(1),
            le64(1),
            le16(0),
            vote.signature.0.to_vec(),
        ],
    );
    assert_eq!(vote.to_bytes(), v.0.last().unwrap().1.concat());

    // QC for block 1 by validators 0, 1, 2.
    let qc1 = qc(&c, b1.hash(), 1, 1, &[0, 1, 2]);
    qc1.verify(&c).unwrap();
    v.add("qc1.bytes", qc_parts(&qc1));

    // Timeout of round 2 by validator 2, carrying QC1.
    let t = Timeout::sign(&chain(), Round(2), qc1.clone(), 2, &validator_key(2));
    t.verify(&c).unwrap();
    v.add(
        "timeout.signing_bytes",
        vec![
            tag::TIMEOUT.to_vec(),
            u8s(10),
            b"cairn-spec".to_vec(),
            le64(2),
            le64(1),
        ],
    );
    assert_eq!(
        timeout_signing_bytes(&chain(), Round(2), Round(1)),
        v.0.last().unwrap().1.concat()
    );
    v.one("timeout.signature", t.signature.0);
    v.add(
        "timeout.wire",
        vec![le64(2), qc1.to_bytes(), le16(2), t.signature.0.to_vec()],
    );
    assert_eq!(t.to_bytes(), v.0.last().unwrap().1.concat());

    // TC of round 2 by validators 0, 1, 3; block 2 carries it.
    let tc2 = tc_with(&c, 2, &[(0, 1), (1, 1), (3, 1)], qc1.clone());
    tc2.verify(&c).unwrap();
    v.one("tc2.bytes", tc2.to_bytes());
    let b2 = Block {
        header: BlockHeader {
            chain_id: chain(),
            height: Height(2),
            round: Round(3),
            parent_hash: b1.hash(),
            proposer: validator_key(3).address(),
            timestamp_ms: GENESIS_MS + 3_000,
            tx_root: merkle::root(&[]),
            tx_count: 0,
            state_root: genesis.header.state_root,
            state_height: Height(0),
            justify: qc1,
            timeout_cert: Some(tc2),
        },
        txs: Vec::new(),
    };
    v.add("block2.header", header_parts(&b2.header));
    v.one("block2.hash", b2.hash().0);

    // The signature rule.
    v.one("zip215.message", ZIP215_MSG);
    for (name, key, sig, _) in zip215_cases() {
        v.one(&format!("zip215.{name}.key"), key);
        v.one(&format!("zip215.{name}.signature"), sig);
    }
    v
}

/// Splits a Borsh `SparseMerkleProof` at its field boundaries.
fn proof_parts(b: &[u8]) -> Parts {
    // Field lengths in order: leaf flag, [leaf key, leaf value hash],
    // sibling count, then per sibling a tag and, unless Null, two 32-byte hashes.
    let mut lens = vec![1];
    let mut at = 1;
    if b[0] == 1 {
        lens.extend([32, 32]);
        at += 64;
    }
    let n = u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    lens.push(4);
    at += 4;
    for _ in 0..n {
        // Null is the tag alone; Internal and Leaf carry two hashes.
        let sibling: &[usize] = if b[at] == 0 { &[1] } else { &[1, 32, 32] };
        lens.extend_from_slice(sibling);
        at += sibling.iter().sum::<usize>();
    }
    assert_eq!(at, b.len());
    let mut p = Vec::new();
    let mut start = 0;
    for len in lens {
        p.push(b[start..start + len].to_vec());
        start += len;
    }
    p
}

/// `vector <name>: <hex>` lines of the document, by name.
fn doc_vectors() -> BTreeMap<String, Vec<u8>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/SPEC.md");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let Some(rest) = line.trim().strip_prefix("vector ") else {
            continue;
        };
        let (name, hex_text) = rest
            .split_once(':')
            .unwrap_or_else(|| panic!("SPEC.md line {}: expected `vector <name>: <hex>`", n + 1));
        let clean: String = hex_text
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '|')
            .collect();
        let bytes = hex::decode(&clean)
            .unwrap_or_else(|e| panic!("SPEC.md line {}: vector {name}: {e}", n + 1));
        assert!(
            out.insert(name.trim().to_string(), bytes).is_none(),
            "SPEC.md line {}: vector {name} appears twice",
            n + 1
        );
    }
    out
}

#[test]
fn spec_md_vectors_match_the_code() {
    let computed = compute();
    if std::env::var_os("CAIRN_PRINT_VECTORS").is_some() {
        for (name, parts) in &computed.0 {
            let hex: Vec<String> = parts
                .iter()
                .filter(|p| !p.is_empty())
                .map(hex::encode)
                .collect();
            println!("vector {name}: {}", hex.join(" "));
        }
    }
    let doc = doc_vectors();
    let mut problems = Vec::new();
    for (name, parts) in &computed.0 {
        let want = parts.concat();
        match doc.get(name) {
            None => problems.push(format!("missing from SPEC.md: vector {name}")),
            Some(got) if *got != want => problems.push(format!(
                "vector {name} differs:\n  SPEC.md: {}\n  code:    {}",
                hex::encode(got),
                hex::encode(&want)
            )),
            Some(_) => {}
        }
    }
    for name in doc.keys() {
        if computed.0.iter().all(|(n, _)| n != name) {
            problems.push(format!("SPEC.md has a vector no test computes: {name}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Uses the document's bytes (not the code's) the way an outside implementer
/// would: decode, hash, verify.
#[test]
fn spec_md_vectors_verify_as_documented() {
    let doc = doc_vectors();
    let get = |n: &str| {
        doc.get(n)
            .unwrap_or_else(|| panic!("vector {n} missing"))
            .clone()
    };
    let h32 = |n: &str| Hash(get(n).try_into().unwrap());

    // A signed transaction decodes, verifies and hashes to its documented hash.
    for i in 0..3 {
        let t =
            SignedTransaction::decode_for_chain(&get(&format!("tx{i}.signed")), &chain()).unwrap();
        t.verify().unwrap();
        assert_eq!(t.hash(), h32(&format!("tx{i}.hash")));
    }
    let t0 = SignedTransaction::from_bytes(&get("tx0.signed")).unwrap();
    assert_eq!(t0.tx().signing_bytes(), get("tx0.signing_bytes"));
    cairn_ledger::crypto::verify(
        &Address(get("key.alice.address").try_into().unwrap()),
        &get("tx0.signing_bytes"),
        &Signature(get("tx0.signature").try_into().unwrap()),
    )
    .unwrap();

    // Block 1 decodes; its hash, tx root and proposal signature check out.
    let b1 = Block::decode_for_chain(&get("block1.bytes"), &chain()).unwrap();
    assert_eq!(b1.hash(), h32("block1.hash"));
    assert_eq!(b1.header.tx_root, h32("tx_root.three"));
    assert_eq!(Block::compute_tx_root(&b1.txs), b1.header.tx_root);
    assert_eq!(
        Hash::tagged(b"cairn/block/v1", &[&get("block1.header")]),
        h32("block1.hash")
    );
    let c = spec_committee(h32("genesis.hash"));
    Proposal {
        block: b1.clone(),
        signature: Signature(get("proposal1.signature").try_into().unwrap()),
    }
    .verify_signature(&c)
    .unwrap();
    assert_eq!(
        b1.header.justify,
        QuorumCertificate::genesis(h32("genesis.hash"))
    );
    b1.header.justify.verify(&c).unwrap();
    assert!(cairn_ledger::types::tx::verify_all(&b1.txs).is_empty());

    // The genesis header hashes to the genesis hash.
    let g = BlockHeader::from_bytes(&get("genesis.header")).unwrap();
    assert_eq!(g.hash(), h32("genesis.hash"));
    assert_eq!(g.state_root, h32("state.root.genesis"));

    // An auditor who knows only the genesis hash authenticates the committee:
    // the header's parent_hash is the tagged hash of the config bytes, and
    // the committee read back from those bytes checks the certificates.
    let config = get("genesis.config");
    assert_eq!(
        Hash::digest(&[b"cairn/genesis/v1".as_slice(), &config].concat()),
        h32("genesis.config_hash")
    );
    assert_eq!(g.parent_hash, h32("genesis.config_hash"));
    let n = u16::from_le_bytes([config[0], config[1]]) as usize;
    let validators: Vec<cairn_ledger::Validator> = config[2..2 + 40 * n]
        .chunks(40)
        .map(|v| cairn_ledger::Validator {
            address: Address(v[..32].try_into().unwrap()),
            power: u64::from_le_bytes(v[32..].try_into().unwrap()),
        })
        .collect();
    assert_eq!(config.len(), 2 + 40 * n + 38, "six consensus parameters");
    let from_config = cairn_ledger::Committee {
        chain_id: g.chain_id.clone(),
        genesis_hash: g.hash(),
        validators: cairn_ledger::ValidatorSet::new(validators).unwrap(),
    };
    assert_eq!(from_config.validators, c.validators);
    assert_eq!(from_config.genesis_hash, c.genesis_hash);
    QuorumCertificate::from_bytes(&get("qc1.bytes"))
        .unwrap()
        .verify(&from_config)
        .unwrap();

    // Votes, QC, timeout, TC and block 2 verify against the committee.
    Vote::from_bytes(&get("vote.wire"))
        .unwrap()
        .verify(&c)
        .unwrap();
    let qc1 = QuorumCertificate::from_bytes(&get("qc1.bytes")).unwrap();
    qc1.verify(&c).unwrap();
    assert_eq!(qc1.block_hash, h32("block1.hash"));
    Timeout::from_bytes(&get("timeout.wire"))
        .unwrap()
        .verify(&c)
        .unwrap();
    let tc2 = cairn_ledger::TimeoutCertificate::from_bytes(&get("tc2.bytes")).unwrap();
    tc2.verify(&c).unwrap();
    assert_eq!(tc2.high_qc, qc1, "tc2 carries qc1, its signers' highest QC");
    let b2 = BlockHeader::from_bytes(&get("block2.header")).unwrap();
    assert_eq!(b2.hash(), h32("block2.hash"));
    assert_eq!(b2.justify, qc1);
    assert_eq!(b2.timeout_cert, Some(tc2));

    // tx_root from the leaf rule, by hand.
    let hashes: Vec<[u8; 32]> = (0..3)
        .map(|i| get(&format!("tx{i}.hash")).try_into().unwrap())
        .collect();
    let leaf = |d: &[u8]| -> [u8; 32] {
        Sha256::new()
            .chain_update([0])
            .chain_update(d)
            .finalize()
            .into()
    };
    let node = |l: &[u8], r: &[u8]| -> [u8; 32] {
        Sha256::new()
            .chain_update([1])
            .chain_update(l)
            .chain_update(r)
            .finalize()
            .into()
    };
    let by_hand = node(
        &node(&leaf(&hashes[0]), &leaf(&hashes[1])),
        &leaf(&hashes[2]),
    );
    assert_eq!(Hash(by_hand), h32("tx_root.three"));
    let path: Vec<Hash> = get("tx_root.three.path2")
        .chunks(32)
        .map(|c| Hash(c.try_into().unwrap()))
        .collect();
    assert!(merkle::verify_inclusion(
        &hashes[2],
        2,
        3,
        &path,
        &h32("tx_root.three")
    ));

    // The state root from the sparse-Merkle rules, by hand, and both proofs.
    let leaves: Vec<([u8; 32], [u8; 32])> = [
        ("key.alice.address", 1_000_000u64),
        ("key.bob.address", 500),
    ]
    .iter()
    .map(|(k, bal)| {
        let addr: [u8; 32] = get(k).try_into().unwrap();
        let key: [u8; 32] = Sha256::digest(addr).into();
        let value = [bal.to_le_bytes(), 0u64.to_le_bytes()].concat();
        let vh: [u8; 32] = Sha256::digest(&value).into();
        let leaf: [u8; 32] = Sha256::new()
            .chain_update(b"JMT::LeafNode")
            .chain_update(key)
            .chain_update(vh)
            .finalize()
            .into();
        (key, leaf)
    })
    .collect();
    assert_eq!(leaves[0].0.to_vec(), get("state.alice.key"));
    assert_eq!(leaves[0].1.to_vec(), get("state.alice.leaf"));
    assert_eq!(Hash(smt_root(&leaves, 0)), h32("state.root.genesis"));
    let root = h32("state.root.genesis");
    let alice_acct = Account::from_bytes(&get("state.alice.value")).unwrap();
    AccountProof::from_bytes(&get("state.proof.alice"))
        .unwrap()
        .verify(&root, &alice().address(), Some(&alice_acct))
        .unwrap();
    AccountProof::from_bytes(&get("state.proof.carol"))
        .unwrap()
        .verify(&root, &carol().address(), None)
        .unwrap();
    // The documented proof algorithm, by hand.
    let alice_key: [u8; 32] = Sha256::digest(alice().address().0).into();
    let carol_key: [u8; 32] = Sha256::digest(carol().address().0).into();
    let alice_value = get("state.alice.value");
    let proof_a = get("state.proof.alice");
    let proof_c = get("state.proof.carol");
    assert!(verify_proof_by_hand(
        &proof_a,
        &root.0,
        &alice_key,
        Some(&alice_value)
    ));
    assert!(!verify_proof_by_hand(
        &proof_a,
        &root.0,
        &alice_key,
        Some(&[0; 16])
    ));
    assert!(!verify_proof_by_hand(&proof_a, &root.0, &alice_key, None));
    assert!(verify_proof_by_hand(&proof_c, &root.0, &carol_key, None));
    assert!(!verify_proof_by_hand(&proof_c, &root.0, &alice_key, None));

    // The signature rule: accept and reject exactly as documented.
    let msg = get("zip215.message");
    // And the document's claims about other verifiers hold for these vectors.
    let dalek = |name: &str, strict: bool| {
        let key: [u8; 32] = get(&format!("zip215.{name}.key")).try_into().unwrap();
        let sig: [u8; 64] = get(&format!("zip215.{name}.signature")).try_into().unwrap();
        let sig = ed25519_dalek::Signature::from_bytes(&sig);
        ed25519_dalek::VerifyingKey::from_bytes(&key)
            .and_then(|k| match strict {
                true => k.verify_strict(&msg, &sig),
                false => ed25519_dalek::Verifier::verify(&k, &msg, &sig),
            })
            .is_ok()
    };
    assert!(dalek("ordinary", false) && dalek("ordinary", true));
    assert!(
        !dalek("mixed_order", false),
        "cofactorless must reject mixed_order"
    );
    assert!(!dalek("small_order", true) && !dalek("non_canonical_a", true));
    for (name, _, _, valid) in zip215_cases() {
        let key = Address(get(&format!("zip215.{name}.key")).try_into().unwrap());
        let sig = Signature(get(&format!("zip215.{name}.signature")).try_into().unwrap());
        assert_eq!(
            cairn_ledger::crypto::verify(&key, &msg, &sig).is_ok(),
            valid,
            "zip215.{name}"
        );
    }
}

fn sha(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn bit(key: &[u8; 32], i: usize) -> bool {
    key[i / 8] >> (7 - i % 8) & 1 == 1
}

/// SPEC.md §7's proof verification, step by step, from the wire bytes.
fn verify_proof_by_hand(
    proof: &[u8],
    root: &[u8; 32],
    key: &[u8; 32],
    value: Option<&[u8]>,
) -> bool {
    const LEAF: &[u8] = b"JMT::LeafNode";
    const INTERNAL: &[u8] = b"JMT::IntrnalNode";
    const PLACEHOLDER: [u8; 32] = *b"SPARSE_MERKLE_PLACEHOLDER_HASH__";
    let h32 = |b: &[u8]| -> [u8; 32] { b.try_into().unwrap() };
    let (leaf, mut at) = match proof[0] {
        0 => (None, 1),
        _ => (Some((h32(&proof[1..33]), h32(&proof[33..65]))), 65),
    };
    let n = u32::from_le_bytes(proof[at..at + 4].try_into().unwrap()) as usize;
    at += 4;
    let mut siblings = Vec::with_capacity(n);
    for _ in 0..n {
        let tag = proof[at];
        let hash = match tag {
            0 => PLACEHOLDER,
            1 => sha(&[INTERNAL, &proof[at + 1..at + 65]]),
            _ => sha(&[LEAF, &proof[at + 1..at + 65]]),
        };
        at += if tag == 0 { 1 } else { 65 };
        siblings.push(hash);
    }
    match (value, leaf) {
        (Some(v), Some((k, vh))) => {
            if k != *key || vh != sha(&[v]) {
                return false;
            }
        }
        (Some(_), None) => return false,
        (None, Some((k, _))) => {
            let common = (0..256).take_while(|i| bit(&k, *i) == bit(key, *i)).count();
            if k == *key || common < n {
                return false;
            }
        }
        (None, None) => {}
    }
    let mut h = leaf.map_or(PLACEHOLDER, |(k, vh)| sha(&[LEAF, &k, &vh]));
    for (j, sibling) in siblings.iter().enumerate() {
        h = if bit(key, n - 1 - j) {
            sha(&[INTERNAL, sibling, &h])
        } else {
            sha(&[INTERNAL, &h, sibling])
        };
    }
    h == *root
}

/// The root of the sparse Merkle tree over `leaves` (key hash, leaf hash),
/// from bit `depth` of the key down: empty = placeholder, one leaf = its hash,
/// otherwise SHA-256("JMT::IntrnalNode" || left || right) split on the bit.
fn smt_root(leaves: &[([u8; 32], [u8; 32])], depth: usize) -> [u8; 32] {
    match leaves {
        [] => *b"SPARSE_MERKLE_PLACEHOLDER_HASH__",
        [(_, leaf)] => *leaf,
        _ => {
            let bit = |k: &[u8; 32]| k[depth / 8] >> (7 - depth % 8) & 1 == 1;
            let (right, left): (Vec<_>, Vec<_>) = leaves.iter().partition(|(k, _)| bit(k));
            Sha256::new()
                .chain_update(b"JMT::IntrnalNode")
                .chain_update(smt_root(&left, depth + 1))
                .chain_update(smt_root(&right, depth + 1))
                .finalize()
                .into()
        }
    }
}
