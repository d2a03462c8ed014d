//! Certificates with forged contents, made from real ones:
//!
//! - QCs with a duplicate signer (added, or replacing another so fewer
//!   validators look like a quorum), an unknown signer index, or a height or
//!   round other than what the signatures sign;
//! - TCs with a duplicate or unknown signer, an inflated entry (our own,
//!   validly signed, claiming a high-QC round `r - 1` no QC backs: the old
//!   attack that left the next leader unable to propose), a lowered entry, a
//!   carried high QC below the highest entry, or another round.
//!
//! They travel inside proposals (as the QC or TC), inside timeouts (as the
//! high QC, with the timeout validly signed over the forged round) and as
//! standalone TCs.

use cairn_consensus::Message;
use cairn_ledger::types::cert::timeout_signing_bytes;
use cairn_ledger::{Height, Proposal, QuorumCertificate, Round, Timeout, TimeoutCertificate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::{Adversary, Host};

/// A QC that differs from `qc` in a way its signatures do not vouch for.
pub(super) fn forge_qc(rng: &mut ChaCha8Rng, qc: &QuorumCertificate, n: u16) -> QuorumCertificate {
    let mut f = qc.clone();
    let sigs = &mut f.signatures;
    let kind = if sigs.len() < 2 {
        2
    } else {
        rng.gen_range(0..4)
    };
    match kind {
        0 => {
            // Duplicate signer: added, or in place of another.
            let dup = sigs[0];
            if rng.gen_bool(0.5) {
                sigs.insert(1, dup);
            } else {
                sigs[1] = dup;
            }
        }
        1 => {
            // Unknown signer index, added or in place of a real one.
            let last = sigs.len() - 1;
            let unknown = (n + rng.gen_range(0..3), sigs[last].1);
            if rng.gen_bool(0.5) {
                sigs.push(unknown);
            } else {
                sigs[last] = unknown;
            }
        }
        2 => f.height = Height(f.height.0 + rng.gen_range(1..3)),
        _ => f.round = Round(f.round.0 + 1),
    }
    f
}

impl Adversary {
    /// A TC that must be refused, made from a real one; `None` if the kind
    /// drawn does not apply to it.
    fn forge_tc(
        &self,
        h: &impl Host,
        tc: &TimeoutCertificate,
        kind: u8,
    ) -> Option<TimeoutCertificate> {
        let me = self.me;
        let n = self.committee.validators.len() as u16;
        let chain = &self.committee.chain_id;
        let mut f = tc.clone();
        let max = tc.max_high_qc_round();
        match kind {
            0 => {
                let dup = *f.signatures.first()?;
                f.signatures.insert(1, dup);
            }
            1 => {
                let (_, hq, sig) = *f.signatures.last()?;
                f.signatures.push((n + 1, hq, sig));
            }
            2 | 3 => {
                // Our own entry, validly signed, claiming `claim`.
                let claim = if kind == 2 {
                    Round(tc.round.0.saturating_sub(1)) // inflated: above every real QC
                } else {
                    Round(max.0.checked_sub(1)?) // lowered below the carried QC
                };
                if kind == 2 && claim <= max {
                    return None;
                }
                let sig = self
                    .key
                    .sign(&timeout_signing_bytes(chain, tc.round, claim));
                f.signatures.retain(|(s, _, _)| *s != me);
                let at = f.signatures.partition_point(|(s, _, _)| *s < me);
                f.signatures.insert(at, (me, claim, sig));
                if kind == 3 {
                    // Lower every entry at the max (others' signatures break).
                    for e in f.signatures.iter_mut().filter(|e| e.1 == max) {
                        e.1 = claim;
                    }
                }
            }
            4 => {
                // A valid QC below the highest entry.
                let below = h.block(&tc.high_qc.block_hash)?.header.justify.clone();
                if below == tc.high_qc {
                    return None;
                }
                f.high_qc = below;
            }
            _ => f.round = Round(f.round.0 + 1),
        }
        Some(f)
    }

    /// A TC seen or formed: once per round, the inflated version (if there is
    /// room to inflate) and one other forgery, to everyone.
    pub(super) fn forged_tcs(&mut self, h: &mut impl Host, tc: &TimeoutCertificate) {
        let b = &mut self.s;
        if !b.forge_certs || b.silent || b.forged_tcs.insert(tc.round, ()).is_some() {
            return;
        }
        if b.forged_tcs.len() > 32 {
            b.forged_tcs.pop_first();
        }
        let other = h.rng().gen_range(0..6);
        for kind in [2, other] {
            if let Some(f) = self.forge_tc(&*h, tc, kind) {
                h.broadcast(Message::TimeoutCertificate(f));
            }
        }
    }

    /// As leader, our proposal re-signed with a forged QC (or TC) inside.
    pub(super) fn forged_proposals(&mut self, h: &mut impl Host, p: &Proposal) {
        if !self.s.forge_certs {
            return;
        }
        let n = self.committee.validators.len() as u16;
        let mut block = p.block.clone();
        let tc = block.header.timeout_cert.clone();
        match tc {
            Some(tc) if h.rng().gen_bool(0.5) => {
                let kind = h.rng().gen_range(0..6);
                let Some(f) = self.forge_tc(&*h, &tc, kind) else {
                    return;
                };
                block.header.timeout_cert = Some(f);
            }
            _ => {
                let hd = &mut block.header;
                hd.justify = forge_qc(h.rng(), &hd.justify, n);
                // Keep the header consistent with the forged QC: the lie is in the QC.
                hd.height = hd.justify.height.next();
                hd.parent_hash = hd.justify.block_hash;
            }
        }
        let lie = Proposal::sign(block, &self.key);
        self.send_to_some(h, Message::Proposal(lie), 0.6);
    }

    /// Our timeout with a forged high QC, validly signed over the forged
    /// QC's round, to some of the nodes.
    pub(super) fn forged_timeouts(&mut self, h: &mut impl Host, t: &Timeout) {
        if !self.s.forge_certs {
            return;
        }
        let n = self.committee.validators.len() as u16;
        let qc = forge_qc(h.rng(), &t.high_qc, n);
        if qc.round >= t.round {
            return;
        }
        let lie = Timeout::sign(&self.committee.chain_id, t.round, qc, self.me, &self.key);
        self.send_to_some(h, Message::Timeout(lie), 0.6);
    }
}
