//! The consensus core: one struct, one entry point ([`Consensus::handle`]).
//!
//! Handlers are split by what they react to: `proposal.rs` (proposals,
//! payloads, validation verdicts, our vote), `certs.rs` (QCs, TCs, commits),
//! `fetch.rs` (blocks we lack: ancestors of certificates, and blocks our
//! voters hold), `timeout.rs` (timers, timeouts, votes to aggregate),
//! `catch_up.rs` (helping laggards, within a per-peer budget).
//! Every handler verifies peer data before it changes any state.

mod catch_up;
mod certs;
mod fetch;
mod proposal;
mod timeout;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use cairn_ledger::{
    Block, BlockHeader, Encode, Hash, QuorumCertificate, Round, Signature, VerifyError,
};

use crate::block_tree::BlockTree;
use crate::config::{Config, PlantedBug};
use crate::input::Input;
use crate::leader::{self, Signers};
use crate::message::Message;
use crate::output::{Output, PayloadRequest};
use crate::pacemaker::Pacemaker;
use crate::safety::{self, SafetyData};
use crate::votes::{TimeoutCollector, VoteCollector};
use catch_up::CatchUpBudget;

/// Verified-QC cache size; cleared wholesale when full.
const QC_CACHE: usize = 1024;

/// A 2-chain HotStuff replica as a pure state machine.
#[derive(Debug)]
pub struct Consensus {
    config: Config,
    /// Our validator index, if we hold a validator key.
    me: Option<u16>,
    safety: SafetyData,
    pacemaker: Pacemaker,
    tree: BlockTree,
    votes: VoteCollector,
    timeouts: TimeoutCollector,
    /// Proposals seen per round: per proposer its first and one equivocation,
    /// at most [`proposal::MAX_PROPOSALS_PER_ROUND`] in all.
    proposals: BTreeMap<Round, Vec<(Hash, BlockHeader, Signature)>>,
    /// Blocks handed to the application and not yet judged.
    awaiting_validation: BTreeSet<Hash>,
    /// The payload we asked for, if any.
    awaiting_payload: Option<PayloadRequest>,
    /// Proposals whose ancestors are being fetched.
    pending: Vec<cairn_ledger::Proposal>,
    /// Fetched certified blocks that do not yet connect to the tree.
    orphans: BTreeMap<Hash, Block>,
    /// Blocks requested from peers, with the validator to ask.
    wanted: BTreeMap<Hash, u16>,
    /// Blocks of the given round we lack although validators with more than
    /// 1/3 of the power sent us votes for them: validated and voted for once
    /// fetched (see `fetch.rs`). Pruned as rounds pass.
    voted_wanted: BTreeMap<Hash, Round>,
    /// Timeouts counted per peer, rationing the catch-up sends they trigger.
    catch_up: CatchUpBudget,
    /// A round in which we propose even if the chain looks idle to us: a
    /// peer behind us needs the QC only we hold (see `help_laggard`).
    share_qc_round: Option<Round>,
    txs_available: bool,
    verified_qcs: BTreeSet<Hash>,
    /// Signers of the certificates carried by the committed root and the
    /// blocks below it, nearest first (at most [`leader::WINDOW`]): the part
    /// of a parent's ancestry the tree no longer holds, for leader election.
    committed_signers: VecDeque<Signers>,
}

impl Consensus {
    /// A core at genesis. Send [`Input::Start`] first.
    pub fn new(config: Config, genesis: Block) -> Consensus {
        let safety = SafetyData::genesis(genesis.hash());
        let cert = QuorumCertificate::genesis(genesis.hash());
        Consensus::restore(config, safety, genesis, cert, Vec::new())
    }

    /// A core restarting from persisted safety data, the highest committed
    /// block with its certificate, and the blocks stored by
    /// [`Output::PersistBlock`] above it (any order). Send [`Input::Start`] first.
    pub fn restore(
        config: Config,
        mut safety: SafetyData,
        committed: Block,
        committed_cert: QuorumCertificate,
        mut pending: Vec<Block>,
    ) -> Consensus {
        let me = config
            .key
            .as_ref()
            .and_then(|k| config.committee.validators.index_of(&k.address()));
        safety::observe_qc(&mut safety, &committed_cert);
        let round = [
            safety.high_qc.round.next(),
            safety.last_voted_round,
            safety.highest_timeout_round(),
            committed.header.round.next(),
            safety
                .high_tc
                .as_ref()
                .map_or(Round(1), |tc| tc.round.next()),
        ]
        .into_iter()
        .max()
        .unwrap_or(Round(1));
        let mut pacemaker = Pacemaker::new(round, config.base_timeout_ms, config.max_timeout_ms);
        if let Some(tc) = &safety.high_tc {
            pacemaker.restore_tc(tc.clone());
        }
        let committed_signers = VecDeque::from([leader::signers(&committed.header)]);
        let mut tree = BlockTree::new(committed);
        tree.record_cert(&committed_cert);
        pending.sort_by_key(|b| b.header.height);
        for block in pending {
            if tree.len() < config.max_tree_blocks {
                tree.insert(block); // ignored unless it connects
            }
        }
        let votes = if config.has_bug(PlantedBug::TallyByHash) {
            VoteCollector::tallying_by_hash()
        } else {
            VoteCollector::default()
        };
        Consensus {
            config,
            me,
            safety,
            pacemaker,
            tree,
            votes,
            timeouts: TimeoutCollector::default(),
            proposals: BTreeMap::new(),
            awaiting_validation: BTreeSet::new(),
            awaiting_payload: None,
            pending: Vec::new(),
            orphans: BTreeMap::new(),
            wanted: BTreeMap::new(),
            voted_wanted: BTreeMap::new(),
            catch_up: CatchUpBudget::default(),
            share_qc_round: None,
            txs_available: false,
            verified_qcs: BTreeSet::new(),
            committed_signers,
        }
    }

    /// Gives a restored core the headers of the committed blocks below its
    /// root (`below`, nearest first: the root's parent, then its parent,
    /// ...), whose certificates leader election reads (see
    /// [`crate::leader`]). Without them a restarted validator may disagree
    /// about leaders until [`leader::WINDOW`] more blocks commit.
    pub fn with_committed_history(mut self, below: &[BlockHeader]) -> Consensus {
        for header in below.iter().take(leader::WINDOW.saturating_sub(1)) {
            self.committed_signers.push_back(leader::signers(header));
        }
        self
    }

    /// Handles one input and returns what the node must do, in order.
    pub fn handle(&mut self, input: Input) -> Vec<Output> {
        let mut out = Vec::new();
        match input {
            Input::Start => self.on_start(&mut out),
            Input::Message(Message::Proposal(p)) => self.on_proposal(p, &mut out),
            Input::Message(Message::Vote(v)) => self.on_vote(v, &mut out),
            Input::Message(Message::Timeout(t)) => self.on_timeout(t, &mut out),
            Input::Message(Message::TimeoutCertificate(tc)) => self.on_tc(tc, &mut out),
            Input::Timer { round } => self.on_timer(round, &mut out),
            Input::Payload(block) => self.on_payload(block, &mut out),
            Input::BlockValidated { hash, valid } => self.on_validated(hash, valid, &mut out),
            Input::FetchedBlock(block) => self.on_fetched(block, &mut out),
            Input::TxsAvailable(available) => self.on_txs_available(available, &mut out),
        }
        out
    }

    /// The current round.
    pub fn round(&self) -> Round {
        self.pacemaker.round()
    }

    /// The highest committed block.
    pub fn committed(&self) -> &Block {
        self.tree.root()
    }

    /// The safety data as last updated (what was last persisted, or newer QC).
    pub fn safety_data(&self) -> &SafetyData {
        &self.safety
    }

    /// The highest QC seen.
    pub fn high_qc(&self) -> &QuorumCertificate {
        &self.safety.high_qc
    }

    /// A block the core holds (uncommitted or the committed root), to serve fetches.
    pub fn block(&self, hash: &Hash) -> Option<&Block> {
        self.tree.block(hash)
    }

    /// Our validator index, if any.
    pub fn validator_index(&self) -> Option<u16> {
        self.me
    }

    fn on_start(&mut self, out: &mut Vec<Output>) {
        let qc = self.safety.high_qc.clone();
        if !self.tree.contains(&qc.block_hash) && qc.height > self.tree.committed_height() {
            let hint = self.fetch_hint(qc.round);
            self.fetch(qc.block_hash, hint, out);
        }
        self.arm_timer(out);
        self.try_propose(out);
    }

    fn on_txs_available(&mut self, available: bool, out: &mut Vec<Output>) {
        let was_idle = self.is_idle();
        self.txs_available = available;
        if was_idle && !self.is_idle() {
            // Idle rule: new transactions restart proposals within one round.
            self.arm_timer(out);
            self.try_propose(out);
        }
    }

    /// Enters `round` (already set in the pacemaker): forget old rounds, arm the
    /// timer, and propose if we lead it.
    fn entered_round(&mut self, out: &mut Vec<Output>) {
        let round = self.pacemaker.round();
        let keep = Round(round.0.saturating_sub(1));
        self.votes.prune_below(keep);
        self.timeouts.prune_below(keep);
        self.proposals = self.proposals.split_off(&keep);
        // Too late to vote for a block of a round before ours: stop asking,
        // unless a QC certifies it (then it is needed as an ancestor).
        let (keep_wanted, late) = std::mem::take(&mut self.voted_wanted)
            .into_iter()
            .partition(|(_, r)| *r >= round);
        self.voted_wanted = keep_wanted;
        for (hash, _) in late {
            if self.tree.cert(&hash).is_none() {
                self.wanted.remove(&hash);
            }
        }
        self.awaiting_payload = None;
        self.arm_timer(out);
        self.try_propose(out);
    }

    fn arm_timer(&self, out: &mut Vec<Output>) {
        if !self.is_idle() {
            out.push(Output::ScheduleTimeout {
                round: self.pacemaker.round(),
                after_ms: self.pacemaker.timeout_ms(),
            });
        }
    }

    /// Idle rule: no transactions waiting and the chain we would extend (our
    /// high QC's block, or this round's proposal) has every transaction
    /// committed with its state root certified.
    fn is_idle(&self) -> bool {
        if self.txs_available {
            return false;
        }
        if self.tree.is_idle_tip(&self.safety.high_qc.block_hash) {
            return true;
        }
        self.proposals
            .get(&self.pacemaker.round())
            .is_some_and(|ps| ps.iter().any(|(h, _, _)| self.tree.is_idle_tip(h)))
    }

    /// The leader of `round` for a block extending `parent` (see
    /// [`crate::leader`]); `None` if `parent` is not in the tree.
    pub fn leader_after(&self, round: Round, parent: &Hash) -> Option<u16> {
        let recent = self.ancestry_signers(parent)?;
        Some(leader::elect(
            &self.config.committee.validators,
            round,
            &recent,
        ))
    }

    /// The [`Signers`] of `parent` and its ancestors, nearest first (at
    /// least [`leader::WINDOW`] where the chain is that long); `None` if
    /// `parent` is not in the tree.
    fn ancestry_signers(&self, parent: &Hash) -> Option<Vec<Signers>> {
        let mut recent: Vec<Signers> = Vec::with_capacity(leader::WINDOW);
        let mut cursor = *parent;
        let root = self.tree.root().hash();
        while cursor != root && recent.len() < leader::WINDOW {
            let block = self.tree.block(&cursor)?;
            recent.push(leader::signers(&block.header));
            cursor = block.header.parent_hash;
        }
        recent.extend(self.committed_signers.iter().cloned());
        Some(recent)
    }

    /// The leader of the current round, for a proposal extending our high
    /// QC (the block a proposal of this round is checked against); `None`
    /// if we lack that QC's block.
    pub fn leader(&self) -> Option<u16> {
        self.leader_of(self.pacemaker.round(), &self.safety.high_qc)
    }

    /// The leader of the next round after this round's block: the vote
    /// collector, to whom this round's votes go and who forms its QC.
    ///
    /// Once we voted in this round, the recipient of that vote. Before, the
    /// recipient of a vote for the block we would propose now: one
    /// extending our high QC and, if that QC is not for the previous round,
    /// carrying the previous round's TC (whose signers then count as active,
    /// see [`crate::leader`]). A proposal extending another QC may send its
    /// votes elsewhere. `None` if we lack the high QC's block.
    pub fn next_leader(&self) -> Option<u16> {
        let round = self.pacemaker.round();
        if let Some(vote) = self.safety.last_vote.as_ref().filter(|v| v.round == round) {
            return Some(self.vote_recipient(vote));
        }
        let justify = &self.safety.high_qc;
        let tc = if justify.round.next() == round {
            None
        } else {
            self.pacemaker.tc_for_previous_round()
        };
        let own = Signers {
            qc: justify.signatures.iter().map(|(i, _)| *i).collect(),
            tc: tc.map(|tc| tc.signatures.iter().map(|(i, _, _)| *i).collect()),
        };
        let mut recent = vec![own];
        recent.extend(self.ancestry_signers(&justify.block_hash)?);
        Some(leader::elect(
            &self.config.committee.validators,
            round.next(),
            &recent,
        ))
    }

    /// The leader of `round` for a block whose `justify` is `justify`
    /// ([`leader::proposer`]): by reputation over the parent's ancestry
    /// after a QC for the previous round (`None` if the parent is not in the
    /// tree), by plain rotation after a timeout.
    pub fn leader_of(&self, round: Round, justify: &QuorumCertificate) -> Option<u16> {
        if leader::by_reputation(round, justify.round) {
            self.leader_after(round, &justify.block_hash)
        } else {
            Some(self.config.committee.validators.leader(round))
        }
    }

    /// Where a vote goes: the leader of the next round after the block voted
    /// for (the one the next proposal, extending it, is checked against).
    fn vote_recipient(&self, vote: &cairn_ledger::Vote) -> u16 {
        self.leader_after(vote.round.next(), &vote.block_hash)
            .unwrap_or_else(|| self.fetch_hint(vote.round.next()))
    }

    /// Whom to ask first for a block of `round` (a hint: fetches rotate
    /// through every validator).
    fn fetch_hint(&self, round: Round) -> u16 {
        self.config.committee.validators.leader(round)
    }

    /// Records the certificates of newly committed blocks (oldest first) for
    /// leader election.
    fn remember_committed(&mut self, blocks: &[Block]) {
        for b in blocks {
            self.committed_signers
                .push_front(leader::signers(&b.header));
        }
        self.committed_signers.truncate(leader::WINDOW);
    }

    /// Verifies a QC, remembering ones already verified (they recur in every
    /// proposal and timeout).
    fn verify_qc(&mut self, qc: &QuorumCertificate) -> Result<(), VerifyError> {
        let key = Hash::digest(&qc.to_bytes());
        if self.verified_qcs.contains(&key) {
            return Ok(());
        }
        qc.verify(&self.config.committee)?;
        if self.verified_qcs.len() >= QC_CACHE {
            self.verified_qcs.clear();
        }
        self.verified_qcs.insert(key);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod attack_tests;
