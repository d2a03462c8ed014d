//! Certificates: raising the high QC, moving rounds, the 2-chain commit, and
//! connecting blocks that arrive late (see `fetch.rs`) to the tree.

use cairn_ledger::types::cert::timeout_signing_bytes;
use cairn_ledger::{Hash, QuorumCertificate, TimeoutCertificate, VerifyError};

use super::Consensus;
use crate::config::PlantedBug;
use crate::output::Output;
use crate::safety;

impl Consensus {
    /// Handles a verified QC: raise the high QC, commit by the 2-chain rule,
    /// fetch its block if missing, and enter the next round if it is ahead.
    pub(super) fn process_qc(&mut self, qc: &QuorumCertificate, out: &mut Vec<Output>) {
        safety::observe_qc(&mut self.safety, qc);
        self.tree.record_cert(qc);
        if self.tree.contains(&qc.block_hash) {
            self.try_commit(qc, out);
        } else if qc.height > self.tree.committed_height() {
            let hint = self.fetch_hint(qc.round);
            self.fetch(qc.block_hash, hint, out);
        }
        if self.pacemaker.on_qc(qc.round).is_some() {
            self.entered_round(out);
        }
    }

    /// Handles a verified TC: learn the high QC it carries (so that, as the
    /// next leader, we hold a QC as high as any its signers reported and can
    /// propose), then enter the round after it if that is ahead.
    pub(super) fn process_tc(&mut self, tc: &TimeoutCertificate, out: &mut Vec<Output>) {
        self.process_qc(&tc.high_qc, out);
        safety::observe_tc(&mut self.safety, tc);
        if self.pacemaker.on_tc(tc).is_some() {
            self.entered_round(out);
        }
    }

    /// Verifies a TC from a peer (see [`TimeoutCertificate::verify`]).
    pub(super) fn verify_tc(&self, tc: &TimeoutCertificate) -> Result<(), VerifyError> {
        if self.config.has_bug(PlantedBug::TrustTcEntries) {
            return self.verify_tc_entries_only(tc);
        }
        tc.verify(&self.config.committee)
    }

    /// Planted bug e: the TC's entries are checked (known, unique signers
    /// with a quorum, rounds below the TC's, signatures) and its QC verifies,
    /// but nothing ties the QC to the highest entry, so the max entry is
    /// trusted with no QC behind it.
    fn verify_tc_entries_only(&self, tc: &TimeoutCertificate) -> Result<(), VerifyError> {
        let committee = &self.config.committee;
        let vals = &committee.validators;
        tc.high_qc.verify(committee)?;
        let mut power = 0;
        let mut prev = None;
        for (i, high_qc_round, sig) in &tc.signatures {
            let v = vals.get(*i).ok_or(VerifyError::UnknownSigner {
                index: *i,
                count: vals.len(),
            })?;
            if prev.is_some_and(|p| p >= *i) {
                return Err(VerifyError::DuplicateSigner { index: *i });
            }
            if *high_qc_round >= tc.round {
                return Err(VerifyError::Malformed("entry not below the TC round"));
            }
            let msg = timeout_signing_bytes(&committee.chain_id, tc.round, *high_qc_round);
            cairn_ledger::crypto::verify(&v.address, &msg, sig)?;
            prev = Some(*i);
            power += v.power;
        }
        if power < vals.quorum_power() {
            return Err(VerifyError::NoQuorum {
                have: power,
                need: vals.quorum_power(),
            });
        }
        Ok(())
    }

    /// Verifies a QC we formed from votes (planted bug d: trusted as is).
    pub(super) fn verify_formed_qc(&mut self, qc: &QuorumCertificate) -> Result<(), VerifyError> {
        if self.config.has_bug(PlantedBug::TallyByHash) {
            return Ok(());
        }
        self.verify_qc(qc)
    }

    /// 2-chain commit rule (see [`crate::block_tree::BlockTree::commit_target`]).
    fn try_commit(&mut self, qc: &QuorumCertificate, out: &mut Vec<Output>) {
        let one_chain = self.config.has_bug(PlantedBug::CommitOneChain);
        let Some((target, cert)) = self.tree.commit_target(qc, one_chain) else {
            return;
        };
        let committed = self.tree.commit(target, cert);
        let blocks: Vec<_> = committed.iter().map(|(b, _)| b.clone()).collect();
        self.remember_committed(&blocks);
        for (block, certificate) in committed {
            out.push(Output::Commit { block, certificate });
        }
        let root = self.tree.committed_height();
        self.pending.retain(|p| p.block.header.height > root);
        self.orphans.retain(|_, b| b.header.height > root);
        let tree = &self.tree;
        self.awaiting_validation.retain(|h| tree.contains(h));
    }

    /// `hash` just joined the tree: commit through any QC we hold for it, then
    /// connect the orphans and pending proposals waiting for it.
    pub(super) fn connected(&mut self, hash: Hash, out: &mut Vec<Output>) {
        if let Some(qc) = self.tree.cert(&hash).cloned() {
            self.try_commit(&qc, out);
        }
        let children: Vec<Hash> = self
            .orphans
            .iter()
            .filter(|(_, b)| b.header.parent_hash == hash)
            .map(|(h, _)| *h)
            .collect();
        for child in children {
            if let Some(block) = self.orphans.remove(&child) {
                if self.voted_wanted.contains_key(&child) {
                    self.accept_block(block, false, out); // validate and vote
                } else {
                    self.insert_certified(block, out);
                }
            }
        }
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| p.block.header.parent_hash == hash);
        self.pending = waiting;
        for p in ready {
            self.place_proposal(p, out);
        }
        if self.safety.high_qc.block_hash == hash {
            self.try_propose(out);
        }
    }
}
