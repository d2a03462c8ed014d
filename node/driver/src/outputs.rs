//! Carrying out the core's outputs, in order. A `Persist` is fsynced before
//! the next output is looked at, so no vote or timeout that depends on it can
//! leave the node first.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{FuturesUnordered, StreamExt};
use tokio::time::Instant;

use cairn_consensus::{Input, Message, Output, PayloadRequest};
use cairn_ledger::{Block, CommitProof, Encode, Hash, QuorumCertificate};

use super::{CommittedBlock, Driver, DriverError, Job, PlantedNodeBug};
use cairn_network::Request;

impl Driver {
    /// Carries out one output; returns an input for ourselves, if any.
    pub(super) async fn carry_out(&mut self, out: Output) -> Option<Input> {
        if tracing::enabled!(tracing::Level::DEBUG) {
            log_output(&out);
        }
        match out {
            Output::Persist(data) => {
                if self.planted.has(PlantedNodeBug::VoteBeforePersist) {
                    // Planted bug: written at the next tick, sent at once.
                    self.unpersisted = Some(data);
                } else {
                    self.persist_safety(&data);
                }
                None
            }
            Output::PersistBlock(block) => {
                // Made durable by the synced Persist that follows it.
                if let Err(source) = self.env.blocking(|| self.store.put_pending_block(&block)) {
                    self.stop(DriverError::Storage {
                        what: "storing a block we are about to vote for",
                        cause: source,
                    });
                }
                None
            }
            Output::Broadcast(msg) => {
                // The core re-sends its timeout on every expiry until the round
                // ends, but gossip drops identical content it has seen, so a
                // validator that (re)joined after the first copy would never get
                // it and no TC could form. Timeouts and TCs therefore also go
                // to each validator directly.
                if matches!(msg, Message::Timeout(_) | Message::TimeoutCertificate(_)) {
                    for (i, peer) in self.peers_by_index.iter().enumerate() {
                        if let Some(peer) =
                            peer.filter(|_| self.core.validator_index() != Some(i as u16))
                        {
                            if let Err(e) = self.net.send_to(peer, msg.clone()).await {
                                tracing::debug!(error = %e, to = i, "direct timeout send failed");
                            }
                        }
                    }
                }
                if let Err(e) = self.net.broadcast(msg).await {
                    tracing::debug!(error = %e, "broadcast failed");
                }
                None
            }
            Output::SendVote { to, vote } => self.send_to_validator(to, Message::Vote(vote)).await,
            Output::Send { to, message } => self.send_to_validator(to, message).await,
            Output::ScheduleTimeout { round, after_ms } => {
                self.timer = Some((round, Instant::now() + Duration::from_millis(after_ms)));
                None
            }
            Output::RequestPayload(req) => self.build_payload(&req).map(Input::Payload),
            Output::ValidateBlock(block) => {
                self.spawn_validation(block);
                None
            }
            Output::Commit { block, certificate } => {
                self.commit(block, certificate);
                self.availability_change()
            }
            Output::FetchBlock { hash, from } => {
                self.spawn_fetch(hash, from);
                None
            }
            Output::Equivocation(evidence) => {
                self.metrics.equivocations.inc();
                tracing::warn!(round = %evidence.round(), ?evidence, "equivocation detected");
                None
            }
            Output::Rejected(err) => {
                self.metrics.consensus_rejections.inc();
                tracing::debug!(error = %err, "consensus input rejected");
                None
            }
        }
    }

    /// Makes `data` durable (fsynced): nothing after a `Persist` output may
    /// be sent before this returns.
    fn persist_safety(&mut self, data: &cairn_consensus::SafetyData) {
        let bytes = data.to_bytes();
        if let Err(source) = self.env.blocking(|| self.store.put_safety(&bytes)) {
            // Continuing could sign twice after a crash: stop instead.
            self.stop(DriverError::Storage {
                what: "persisting consensus safety data",
                cause: source,
            });
        }
    }

    /// Writes the safety data [`PlantedNodeBug::VoteBeforePersist`] held
    /// back since the last tick (nothing without that bug).
    pub(super) fn flush_lazy_safety(&mut self) {
        if let Some(data) = self.unpersisted.take() {
            self.persist_safety(&data);
        }
    }

    /// `TxsAvailable` for the core, if the mempool went from empty to not or back.
    pub(super) fn availability_change(&mut self) -> Option<Input> {
        let now = self.mempool.has_ready();
        (self.txs_available != Some(now)).then(|| {
            self.txs_available = Some(now);
            Input::TxsAvailable(now)
        })
    }

    /// Sends `message` to validator `to`; to ourselves it comes back as an input.
    async fn send_to_validator(&self, to: u16, message: Message) -> Option<Input> {
        if self.core.validator_index() == Some(to) {
            return Some(Input::Message(message));
        }
        let Some(Some(peer)) = self.peers_by_index.get(to as usize).copied() else {
            tracing::warn!(to, "no peer id for validator; message not sent");
            return None;
        };
        if let Err(e) = self.net.send_to(peer, message).await {
            tracing::debug!(error = %e, to, "sending to a validator failed");
        }
        None
    }

    /// Builds our block for `req` from the mempool, skipping transactions
    /// already in uncommitted ancestors.
    fn build_payload(&mut self, req: &PayloadRequest) -> Option<Block> {
        let key = self.key.as_ref()?;
        let committed_height = self.core.committed().header.height;
        let mut exclude: HashSet<Hash> = HashSet::new();
        let mut cursor = req.parent_hash;
        let mut parent_ts = 0;
        while let Some(b) = self.core.block(&cursor) {
            parent_ts = parent_ts.max(b.header.timestamp_ms);
            if b.header.height <= committed_height {
                break;
            }
            exclude.extend(b.txs.iter().map(|t| t.hash()));
            cursor = b.header.parent_hash;
        }
        let params = self.app.params();
        let txs = self.mempool.select(
            params.max_block_txs as usize,
            params.max_block_bytes as usize,
            &exclude,
        );
        match self
            .app
            .build(req, key.address(), txs, self.env.now_ms().max(parent_ts))
        {
            Ok(block) => Some(block),
            Err(e) => {
                tracing::warn!(error = %e, round = %req.round, "cannot build our block");
                None
            }
        }
    }

    fn spawn_validation(&self, block: Block) {
        let app = self.app.clone();
        let mempool = self.mempool.clone();
        let jobs = self.jobs_tx.clone();
        let env = self.env.clone();
        self.env.spawn(async move {
            let (hash, valid) = env.cpu(move || check_block(&app, &mempool, &block)).await;
            let _ = jobs.send(Job::Validated { hash, valid }).await;
        });
    }

    /// Fetches block `hash`, asking validator `from` first and then every
    /// connected peer in turn; a peer that has not answered within
    /// [`FETCH_HEDGE`] stays asked while the next one is asked too (a lost
    /// request would otherwise hold the fetch for the full request timeout,
    /// 10 s, while a leader lacking the block cannot propose).
    fn spawn_fetch(&self, hash: Hash, from: u16) {
        let net = self.net.clone();
        let jobs = self.jobs_tx.clone();
        let first = self.peers_by_index.get(from as usize).copied().flatten();
        let others: Vec<_> = net.connected_peers();
        self.env.spawn(async move {
            let mut candidates = first
                .into_iter()
                .chain(others.into_iter().filter(|p| Some(*p) != first));
            let mut asked = FuturesUnordered::new();
            loop {
                if asked.is_empty() {
                    match candidates.next() {
                        Some(peer) => asked.push(ask_block(&net, peer, hash)),
                        None => break,
                    }
                }
                tokio::select! {
                    Some(found) = asked.next() => {
                        if let Some(block) = found {
                            let _ = jobs.send(Job::Fetched(Box::new(block))).await;
                            return;
                        }
                    }
                    _ = tokio::time::sleep(FETCH_HEDGE) => {
                        if let Some(peer) = candidates.next() {
                            asked.push(ask_block(&net, peer, hash));
                        }
                    }
                }
            }
            tracing::debug!(%hash, "no peer returned the block");
        });
    }

    /// Executes and stores a committed block, with a commit proof when the
    /// core's highest QC certifies its child from the next round.
    fn commit(&mut self, block: Block, certificate: QuorumCertificate) {
        let proof = self.commit_proof(&block);
        let result = self.env.blocking(|| {
            self.store
                .commit_block_with_proof(&block, &certificate, proof.as_ref())
        });
        match result {
            Ok(c) => {
                let n = block.txs.len() as u64;
                if let Err(e) = self.mempool.on_commit(&block.txs, &*self.store) {
                    tracing::warn!(error = %e, "mempool could not drop committed transactions");
                }
                self.metrics.height.set(c.height.0 as i64);
                self.metrics.committed_blocks.inc();
                self.metrics.committed_txs.inc_by(n);
                if let Some(prev) = self.last_block_ts.replace(block.header.timestamp_ms) {
                    let dt = block.header.timestamp_ms.saturating_sub(prev) as f64 / 1000.0;
                    self.metrics.block_interval_seconds.observe(dt);
                }
                self.last_commit = Instant::now();
                let since_proposal =
                    self.env.now_ms().saturating_sub(block.header.timestamp_ms) as f64 / 1000.0;
                self.metrics.commit_latency_seconds.observe(since_proposal);
                tracing::info!(height = %c.height, hash = %c.hash, txs = n, state_root = %c.state_root, "committed");
                let _ = self.committed_tx.send(CommittedBlock {
                    block: Arc::new(block),
                    state_root: c.state_root,
                });
            }
            Err(cairn_ledger::store::StoreError::NotNext { tip, got }) if tip >= got => {
                tracing::debug!(height = %got, "block already committed (synced)");
            }
            Err(source) => self.stop(DriverError::Storage {
                what: "committing a block",
                cause: source,
            }),
        }
    }

    /// Records why the node must stop; the driver loop stops at its next turn
    /// and nothing more is carried out meanwhile (see [`DriverError`]).
    pub(super) fn stop(&mut self, err: DriverError) {
        if self.fatal.is_none() {
            tracing::error!(error = %err, "{}", err.headline());
            self.fatal = Some(err);
        }
    }

    fn commit_proof(&self, block: &Block) -> Option<CommitProof> {
        let qc = self.core.high_qc();
        let child = self.core.block(&qc.block_hash)?;
        (child.header.parent_hash == block.hash()
            && child.header.round == block.header.round.next())
        .then(|| CommitProof {
            child: child.header.clone(),
            child_qc: qc.clone(),
        })
    }
}

/// How long a block fetch waits for one peer before also asking the next.
const FETCH_HEDGE: Duration = Duration::from_millis(200);

/// `peer`'s copy of block `hash`, if it answers with exactly that block.
async fn ask_block(
    net: &cairn_network::NetworkHandle,
    peer: libp2p::PeerId,
    hash: Hash,
) -> Option<Block> {
    match net.request(peer, Request::FetchBlock { hash }).await {
        Ok(cairn_network::Response::Block(Some(block))) if block.hash() == hash => Some(block),
        _ => None,
    }
}

/// The application's verdict on a proposed block (CPU-heavy: signatures).
fn check_block(app: &super::App, mempool: &cairn_mempool::Mempool, block: &Block) -> (Hash, bool) {
    let hash = block.hash();
    match app.check(block, |h| mempool.is_verified(h)) {
        Ok(()) => {
            mempool.mark_verified(block.txs.iter().map(|t| t.hash()));
            (hash, true)
        }
        Err(e) => {
            tracing::warn!(error = %e, height = %block.header.height, "refusing proposed block");
            (hash, false)
        }
    }
}

/// One debug line per output, naming what it is about.
fn log_output(out: &Output) {
    match out {
        Output::Persist(d) => {
            tracing::debug!(last_voted = %d.last_voted_round, high_qc = %d.high_qc.round, "persist")
        }
        Output::Broadcast(m) | Output::Send { message: m, .. } => {
            let kind = match m {
                Message::Proposal(p) => format!(
                    "proposal h{} r{}",
                    p.block.header.height, p.block.header.round
                ),
                Message::Vote(v) => format!("vote r{}", v.round),
                Message::Timeout(t) => format!("timeout r{} signer {}", t.round, t.signer),
                Message::TimeoutCertificate(tc) => format!("tc r{}", tc.round),
            };
            tracing::debug!(%kind, to = ?match out { Output::Send { to, .. } => Some(*to), _ => None }, "send")
        }
        Output::SendVote { to, vote } => {
            tracing::debug!(to, round = %vote.round, height = %vote.height, "vote")
        }
        Output::ScheduleTimeout { round, after_ms } => tracing::debug!(%round, after_ms, "timer"),
        Output::RequestPayload(r) => {
            tracing::debug!(round = %r.round, height = %r.height, "build block")
        }
        Output::ValidateBlock(b) => {
            tracing::debug!(round = %b.header.round, height = %b.header.height, "validate block")
        }
        Output::Commit { block, .. } => tracing::debug!(height = %block.header.height, "commit"),
        Output::FetchBlock { hash, from } => tracing::debug!(%hash, from, "fetch block"),
        Output::PersistBlock(b) => {
            tracing::debug!(height = %b.header.height, round = %b.header.round, "persist block")
        }
        Output::Equivocation(_) | Output::Rejected(_) => {}
    }
}
