//! Liveness checks that need the whole run: the committed height grows after
//! the network heals, and an idle chain stops proposing until a transaction.

use super::{Sim, BASE_TIMEOUT_MS};

impl Sim {
    /// After healing, with at most f faulty, every honest node must commit
    /// past the height reached when the network healed.
    pub(super) fn check_liveness(&mut self, heal_height: cairn_ledger::Height) {
        for (i, n) in self.nodes.iter().enumerate() {
            if let Some(core) = &n.core {
                self.stats.max_round = self.stats.max_round.max(core.round().0);
            }
            if !n.is_honest() {
                continue;
            }
            let h = n.tip().0.header.height;
            if h <= heal_height {
                let state = n.core.as_ref().map(|c| {
                    let s = c.safety_data();
                    format!(
                        "round {}, high QC {}, last voted {}, timed out {}, txs {:?}",
                        c.round(),
                        s.high_qc.round,
                        s.last_voted_round,
                        s.highest_timeout_round(),
                        n.app.signaled
                    )
                });
                self.checker.violations.push(format!(
                    "liveness: node {i} committed height {h} after healing, not above {heal_height} \
                     ({state:?})"
                ));
            }
        }
    }

    /// Idle rule: with no new transactions the chain stops proposing and
    /// timing out; one new transaction restarts it within a round or two.
    pub(super) fn check_idle(&mut self, end: u64) {
        self.txs_on = false;
        self.run_until(end + 2_000);
        let (proposals, timeouts) = (self.stats.proposals, self.stats.timeouts);
        self.run_until(end + 4_000);
        if self.stats.proposals != proposals || self.stats.timeouts != timeouts {
            self.checker.violations.push(format!(
                "idle rule: {} proposals and {} timeouts while idle",
                self.stats.proposals - proposals,
                self.stats.timeouts - timeouts
            ));
            return;
        }
        let before = self.checker.max_committed();
        self.txs_on = true;
        self.make_txs();
        self.txs_on = false;
        self.run_until(end + 4_000 + 4 * BASE_TIMEOUT_MS);
        if self.stats.proposals == proposals || self.checker.max_committed() <= before {
            self.checker.violations.push(format!(
                "idle rule: no proposal or commit within {} ms of a new transaction",
                4 * BASE_TIMEOUT_MS
            ));
        }
    }
}
