//! The pacemaker: which round we are in, how long to wait in it, and the TC
//! that justified entering it.
//!
//! A replica enters round r+1 on a verified QC(r) or TC(r) for r >= its round
//! (jumping if r is higher). Each round entered through a TC counts as a failed
//! round; the timeout doubles per consecutive failure up to a ceiling and
//! resets when a QC moves the round.

use cairn_ledger::{Round, TimeoutCertificate};

/// Round state and timeout back-off.
#[derive(Clone, Debug)]
pub struct Pacemaker {
    round: Round,
    failures: u32,
    last_tc: Option<TimeoutCertificate>,
    base_ms: u64,
    max_ms: u64,
}

impl Pacemaker {
    /// Starts in `round`.
    pub fn new(round: Round, base_ms: u64, max_ms: u64) -> Pacemaker {
        Pacemaker {
            round,
            failures: 0,
            last_tc: None,
            base_ms,
            max_ms,
        }
    }

    /// The current round.
    pub fn round(&self) -> Round {
        self.round
    }

    /// Consecutive rounds that ended in a timeout.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The round timeout: base * 2^failures, capped.
    pub fn timeout_ms(&self) -> u64 {
        let factor = 1u64 << self.failures.min(20);
        self.base_ms.saturating_mul(factor).min(self.max_ms)
    }

    /// A QC for `qc_round` was seen: enter `qc_round + 1` if that is ahead.
    /// Progress resets the back-off.
    pub fn on_qc(&mut self, qc_round: Round) -> Option<Round> {
        if qc_round < self.round {
            return None;
        }
        self.round = qc_round.next();
        self.failures = 0;
        Some(self.round)
    }

    /// A TC was seen: enter `tc.round + 1` if that is ahead; one more failure.
    pub fn on_tc(&mut self, tc: &TimeoutCertificate) -> Option<Round> {
        if tc.round < self.round {
            return None;
        }
        self.round = tc.round.next();
        self.failures = self.failures.saturating_add(1);
        self.last_tc = Some(tc.clone());
        Some(self.round)
    }

    /// Remembers a TC persisted before a restart (does not move the round).
    pub fn restore_tc(&mut self, tc: TimeoutCertificate) {
        self.last_tc = Some(tc);
    }

    /// The last TC that moved the round.
    pub fn last_tc(&self) -> Option<&TimeoutCertificate> {
        self.last_tc.as_ref()
    }

    /// The TC for the round before the current one, if we entered through one.
    pub fn tc_for_previous_round(&self) -> Option<&TimeoutCertificate> {
        self.last_tc
            .as_ref()
            .filter(|tc| tc.round.next() == self.round)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tc(round: u64) -> TimeoutCertificate {
        TimeoutCertificate {
            round: Round(round),
            high_qc: cairn_ledger::QuorumCertificate::genesis(cairn_ledger::Hash::ZERO),
            signatures: Vec::new(),
        }
    }

    /// Table: (event, expected round after, expected timeout after).
    #[test]
    fn back_off_and_jumps() {
        enum Ev {
            Qc(u64),
            Tc(u64),
        }
        let cases = [
            (Ev::Tc(1), Some(2), 200),    // a failure doubles
            (Ev::Tc(2), Some(3), 400),    // consecutive failures keep doubling
            (Ev::Tc(1), None, 400),       // stale TC: no change
            (Ev::Qc(2), None, 400),       // stale QC: no change
            (Ev::Tc(9), Some(10), 800),   // jump on a higher TC
            (Ev::Tc(10), Some(11), 1000), // capped at the ceiling
            (Ev::Qc(11), Some(12), 100),  // progress resets
            (Ev::Qc(40), Some(41), 100),  // jump on a higher QC
        ];
        let mut pm = Pacemaker::new(Round(1), 100, 1000);
        for (i, (ev, round, timeout)) in cases.into_iter().enumerate() {
            let got = match ev {
                Ev::Qc(r) => pm.on_qc(Round(r)),
                Ev::Tc(r) => pm.on_tc(&tc(r)),
            };
            assert_eq!(got, round.map(Round), "case {i}");
            assert_eq!(pm.timeout_ms(), timeout, "case {i}");
        }
        assert!(pm.tc_for_previous_round().is_none(), "entered via QC");
    }
}
