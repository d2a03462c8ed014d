//! Known node-level bugs, planted on purpose so the node simulator
//! (`tests/src/nodesim`) can show it finds them, as it does the consensus
//! core's `cairn_consensus::PlantedBug`. Each can be switched on only
//! with the `planted-bugs` feature, which only cairn-tests' dev-dependency
//! enables; without it [`Planted`] is always empty and every check of it is
//! a constant `false`. With it, nothing changes unless a test plants a bug.

/// A node-level bug the node simulator must find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlantedNodeBug {
    /// The catch-up of before commit 057e8b9: the driver awaits its status
    /// probe (and every block sync batch) on its own task. Meanwhile it
    /// answers nobody, so two nodes probing each other at once each wait out
    /// the other's request timeout (10 s), and the chain stalls.
    InlineCatchUp,
    /// Safety data made durable lazily, once per driver tick (one fsync per
    /// 500 ms instead of one per vote), while the votes, timeouts and
    /// proposals that depend on it leave at once: a crash in between lets
    /// the restarted node sign again what it already signed.
    VoteBeforePersist,
}

/// The bug planted in a driver, if any ([`Planted::none`] outside tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Planted(#[allow(dead_code)] Option<PlantedNodeBug>);

impl Planted {
    /// No planted bug: what every node runs.
    pub fn none() -> Planted {
        Planted(None)
    }

    /// Plants `bug` (test builds only).
    #[cfg(feature = "planted-bugs")]
    pub fn bug(bug: PlantedNodeBug) -> Planted {
        Planted(Some(bug))
    }

    /// True if `bug` is planted (always false without the feature).
    #[allow(unused_variables)]
    pub(crate) fn has(self, bug: PlantedNodeBug) -> bool {
        #[cfg(feature = "planted-bugs")]
        {
            self.0 == Some(bug)
        }
        #[cfg(not(feature = "planted-bugs"))]
        {
            false
        }
    }
}
