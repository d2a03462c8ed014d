//! Hostile answers to block fetches. An honest node asks for a block whose
//! hash a verified QC (or its voters) vouches for; the Byzantine validator
//! answers with another block, the block with a forged QC inside (so another
//! hash, and a QC that must not be trusted even if the hash were not
//! checked), a chain cut short or replaced by stale committed blocks, or
//! nothing. The asker must ignore all of it and get the block elsewhere.

use cairn_ledger::{Block, Hash};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::forge::forge_qc;
use super::{Adversary, Host};

/// How a Byzantine validator answers fetches (per seed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FetchLie {
    /// Serves what was asked.
    #[default]
    Honest,
    /// Serves a block with another hash than asked (its parent, or a copy
    /// with one field changed), then the real ancestors.
    WrongBlock,
    /// Serves the block, or its parent, with a forged QC inside.
    ForgedJustify,
    /// Serves the block without its ancestors, or the ancestors without it.
    Truncated,
    /// Serves the oldest committed blocks instead.
    Stale,
    /// Never answers.
    Nothing,
    /// Each answer a random one of the above lies.
    Mixed,
}

const LIES: [FetchLie; 5] = [
    FetchLie::WrongBlock,
    FetchLie::ForgedJustify,
    FetchLie::Truncated,
    FetchLie::Stale,
    FetchLie::Nothing,
];

impl FetchLie {
    /// Honest a third of the time, else one of the lies (or a mix).
    pub fn random(rng: &mut ChaCha8Rng) -> FetchLie {
        if rng.gen_bool(0.33) {
            return FetchLie::Honest;
        }
        match rng.gen_range(0..=LIES.len()) {
            k if k < LIES.len() => LIES[k],
            _ => FetchLie::Mixed,
        }
    }
}

impl Adversary {
    /// What we answer to a fetch of `hash`, given what an honest node would
    /// send (`honest`: the block and its ancestors, nearest first).
    pub fn fetch_reply(
        &mut self,
        h: &mut impl Host,
        hash: Hash,
        mut honest: Vec<Block>,
    ) -> Vec<Block> {
        let mut lie = if self.s.silent {
            FetchLie::Nothing
        } else {
            self.s.fetch
        };
        if lie == FetchLie::Mixed {
            lie = LIES[h.rng().gen_range(0..LIES.len())];
        }
        if honest.is_empty() {
            return honest;
        }
        let n = self.committee.validators.len() as u16;
        match lie {
            FetchLie::Honest | FetchLie::Mixed => honest,
            FetchLie::Nothing => Vec::new(),
            FetchLie::WrongBlock => {
                if honest.len() > 1 && h.rng().gen_bool(0.5) {
                    honest.remove(0);
                } else {
                    honest[0].header.timestamp_ms += 1;
                }
                debug_assert!(honest[0].hash() != hash);
                honest
            }
            FetchLie::ForgedJustify => {
                let k = h.rng().gen_range(0..honest.len().min(2));
                let hd = &mut honest[k].header;
                hd.justify = forge_qc(h.rng(), &hd.justify, n);
                hd.height = hd.justify.height.next();
                hd.parent_hash = hd.justify.block_hash;
                honest
            }
            FetchLie::Truncated => {
                if honest.len() > 1 && h.rng().gen_bool(0.5) {
                    honest.split_off(1) // ancestors only
                } else {
                    honest.truncate(1);
                    honest
                }
            }
            FetchLie::Stale => h.oldest_committed(8),
        }
    }
}
