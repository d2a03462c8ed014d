//! Fixtures for unit tests: a committee with real keys and real certificates.

use cairn_ledger::{
    Block, ChainId, Committee, Hash, Height, QuorumCertificate, Round, SecretKey, Timeout,
    TimeoutCertificate, Validator, ValidatorSet, Vote,
};

use crate::config::Config;

/// A committee of `n` equal-power validators and their keys, plus genesis.
pub fn committee(n: usize) -> (Committee, Vec<SecretKey>, Block) {
    let keys: Vec<SecretKey> = (0..n)
        .map(|i| SecretKey::from_seed([i as u8 + 1; 32]))
        .collect();
    let validators = ValidatorSet::new(
        keys.iter()
            .map(|k| Validator {
                address: k.address(),
                power: 1,
            })
            .collect(),
    )
    .expect("valid set");
    let chain_id = ChainId::new("cairn-test").expect("valid id");
    let genesis = Block::genesis(chain_id.clone(), 0, Hash::digest(b"genesis state"));
    let committee = Committee {
        chain_id,
        genesis_hash: genesis.hash(),
        validators,
    };
    (committee, keys, genesis)
}

/// A config for validator `i`.
pub fn config(committee: &Committee, keys: &[SecretKey], i: usize) -> Config {
    Config::new(committee.clone(), Some(keys[i].clone()))
}

/// A QC signed by the first `signers` validators.
pub fn qc(
    committee: &Committee,
    keys: &[SecretKey],
    block_hash: Hash,
    height: u64,
    round: u64,
    signers: usize,
) -> QuorumCertificate {
    let signatures = (0..signers)
        .map(|i| {
            let v = Vote::sign(
                &committee.chain_id,
                block_hash,
                Height(height),
                Round(round),
                i as u16,
                &keys[i],
            );
            (i as u16, v.signature)
        })
        .collect();
    QuorumCertificate {
        block_hash,
        height: Height(height),
        round: Round(round),
        signatures,
    }
}

/// A TC for `round` whose signers (validators 0, 1, ...) report these
/// high-QC rounds, carrying a real QC (of every validator, for a made-up block
/// at height = round) for the highest one, or the genesis QC if it is 0.
pub fn tc(
    committee: &Committee,
    keys: &[SecretKey],
    round: u64,
    hqc: &[u64],
) -> TimeoutCertificate {
    let max = hqc.iter().copied().max().unwrap_or(0);
    let high_qc = if max == 0 {
        QuorumCertificate::genesis(committee.genesis_hash)
    } else {
        qc(
            committee,
            keys,
            Hash::digest(b"tc high qc"),
            max,
            max,
            keys.len(),
        )
    };
    let signatures = hqc
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut reported = high_qc.clone();
            reported.round = Round(*r);
            let t = Timeout::sign(
                &committee.chain_id,
                Round(round),
                reported,
                i as u16,
                &keys[i],
            );
            (i as u16, Round(*r), t.signature)
        })
        .collect();
    TimeoutCertificate {
        round: Round(round),
        high_qc,
        signatures,
    }
}
