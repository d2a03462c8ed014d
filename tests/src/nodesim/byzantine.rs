//! Byzantine validators on the production node: the shared adversary
//! ([`crate::adversary`], which the consensus-only simulator also ran until
//! it was removed) sits between a real driver and the simulated network.
//!
//! - Out: the driver's consensus gossip (`Command::Publish` on
//!   `Topic::Consensus`) and its direct votes (`Request::Consensus`) are
//!   decoded and handed to the adversary; what it emits is sent instead,
//!   signed with the node's key, as gossip to everyone or as direct messages
//!   to the recipients it picks (a split audience travels as direct
//!   messages: honest nodes forward gossip they accept, so gossip would reach
//!   everyone). The driver's direct copies of its timeouts and TCs are
//!   dropped: the adversary decides on the gossip copy, and its broadcasts
//!   of timeouts and TCs go direct as well, as the driver's do. Everything
//!   else (transaction gossip, block sync, fetches) passes unchanged.
//! - In: every consensus message reaching the node is shown to the
//!   adversary first (it remembers blocks, timeouts and TCs, and may hoard
//!   votes, which then never reach the driver); the node's answers to block
//!   fetches (`Request::FetchBlock`) go through the adversary's `fetch` family.
//! - Proposals: the driver builds its own blocks, so there is no payload
//!   request to intercept. Its proposal is shown to the adversary as one
//!   (`Adversary::on_payload`, built from the header) before it goes out: the
//!   forker and the withholder that reveals in a proposal build their own
//!   (empty) block instead, and the driver's is dropped. The state-root liar
//!   re-signs the driver's proposal with a wrong root.
//!
//! Every family runs here. A few details differ from the consensus-only
//! simulator the adversary was first written for:
//! a fetch here asks for one block (`Request::FetchBlock`), so the `fetch`
//! family's lies are cut to their first block (an ancestor instead of the
//! block, a forged copy, the genesis block for the stale chain, or no answer
//! at all, which the asker waits out);
//! the node's view (blocks, high QC, leader) is what the adversary saw pass
//! plus the node's store, not its core's memory, so a block only the core
//! holds is unknown to it; and the catch-up hand-over the core sends directly
//! (a TC for a lagging peer) is dropped with the timeout copies.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Weak};

use cairn_consensus::{leader, Message, PayloadRequest};
use cairn_ledger::store::Store;
use cairn_ledger::{Block, Committee, Encode, Hash, Height, QuorumCertificate, Round};
use cairn_network::{
    decode_consensus, Command, GossipPayload, NetworkEvent, PeerId, Request, Responder, Response,
    Topic,
};
use parking_lot::Mutex;
use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, oneshot};

use super::net::Net;
use crate::adversary::{Adversary, Host, NodeId};

/// Blocks the adversary remembers (beyond the store's committed ones).
const REMEMBERED_BLOCKS: usize = 256;
/// Ancestors served with a fetched block for the `fetch` family to pick from.
const FETCH_CHAIN: usize = 8;

/// A Byzantine validator of the node simulation: its adversary and what the
/// adversary sees through.
#[derive(Debug)]
pub struct Byzantine {
    adversary: Adversary,
    host: NodeHost,
}

/// Shared between the node's outgoing and incoming paths.
pub type ByzantineRef = Arc<Mutex<Byzantine>>;

/// The node as its adversary sees it.
#[derive(Debug)]
struct NodeHost {
    me: NodeId,
    net: Net,
    peers: Vec<PeerId>,
    rng: ChaCha8Rng,
    committee: Committee,
    /// The chain's clock at `start` (block timestamps are in this clock).
    epoch_ms: u64,
    start: tokio::time::Instant,
    /// The running incarnation's store.
    store: Weak<Store>,
    /// Blocks seen in proposals, by hash, and their arrival order.
    blocks: BTreeMap<Hash, Block>,
    order: VecDeque<Hash>,
    /// The highest verified QC seen.
    high_qc: Option<QuorumCertificate>,
    /// Messages sent so far (direct and gossip).
    sent: u64,
}

impl Byzantine {
    /// Node `me` (of `peers`) run by `adversary`, sending on `net`.
    pub fn new(
        adversary: Adversary,
        me: NodeId,
        net: Net,
        peers: Vec<PeerId>,
        committee: Committee,
        rng: ChaCha8Rng,
        clock: (u64, tokio::time::Instant),
    ) -> Byzantine {
        Byzantine {
            adversary,
            host: NodeHost {
                me,
                net,
                peers,
                rng,
                committee,
                epoch_ms: clock.0,
                start: clock.1,
                store: Weak::new(),
                blocks: BTreeMap::new(),
                order: VecDeque::new(),
                high_qc: None,
                sent: 0,
            },
        }
    }

    /// Messages the adversary sent so far.
    pub fn sent(&self) -> u64 {
        self.host.sent
    }

    /// The node (re)started on `store`.
    pub fn attach(&mut self, store: &Arc<Store>) {
        self.host.store = Arc::downgrade(store);
    }

    /// A command of the node's network handle: `Some` to carry it out
    /// unchanged, `None` if the adversary took it.
    pub fn outgoing(&mut self, cmd: Command) -> Option<Command> {
        let (h, a) = (&mut self.host, &mut self.adversary);
        match cmd {
            Command::Publish {
                topic: Topic::Consensus,
                data,
            } => {
                let m = decode_consensus(&data, &h.committee.chain_id).ok()?;
                h.remember(&m);
                match m {
                    Message::Proposal(p) => {
                        let p = if a.s.lie_about_state {
                            let mut block = p.block;
                            let root = block.header.state_root;
                            block.header.state_root = Hash::digest(&root.0);
                            cairn_ledger::Proposal::sign(block, a.key())
                        } else {
                            p
                        };
                        if !a.on_payload(h, &payload_request(&p.block)) {
                            a.on_broadcast(h, Message::Proposal(p));
                        }
                    }
                    m => a.on_broadcast(h, m),
                }
                None
            }
            Command::Request {
                peer,
                request: Request::Consensus(m),
                reply,
            } => match m {
                Message::Vote(v) => {
                    let to = h.peers.iter().position(|p| *p == peer)?;
                    a.on_vote(h, to as u16, v);
                    None
                }
                // Direct copies of a broadcast: the gossip copy decides.
                Message::Timeout(_) | Message::TimeoutCertificate(_) => None,
                Message::Proposal(_) if a.is_silent() => None,
                m => Some(Command::Request {
                    peer,
                    request: Request::Consensus(m),
                    reply,
                }),
            },
            other => Some(other),
        }
    }

    /// An event for the node: `Some` to deliver it, `None` if the adversary
    /// keeps it from the node. Block fetches are answered by [`answer_fetch`].
    fn incoming(&mut self, ev: NetworkEvent) -> Option<NetworkEvent> {
        let m = match &ev {
            NetworkEvent::Gossip {
                payload: GossipPayload::Consensus(m),
                ..
            } => m,
            NetworkEvent::Direct { message, .. } => message,
            _ => return Some(ev),
        };
        self.host.remember(m);
        let m = m.clone();
        (!self.adversary.on_incoming(&mut self.host, &m)).then_some(ev)
    }

    /// What the node answers to a fetch of `hash` once the adversary is
    /// done with it (`None`: no answer at all).
    fn forge_fetch(&mut self, hash: Hash, honest: Response) -> Option<Response> {
        let Response::Block(Some(block)) = honest else {
            return Some(honest);
        };
        let mut chain = vec![block];
        while chain.len() < FETCH_CHAIN {
            let last = &chain[chain.len() - 1].header;
            if last.height.0 == 0 {
                break;
            }
            let Some(parent) = self.host.block(&last.parent_hash) else {
                break;
            };
            chain.push(parent);
        }
        let lie = self.adversary.fetch_reply(&mut self.host, hash, chain);
        lie.into_iter().next().map(|b| Response::Block(Some(b)))
    }
}

/// Carries node `me`'s events from the network to its driver (`to_driver`)
/// through the adversary, until either side closes.
pub async fn intercept(
    byz: ByzantineRef,
    env: Arc<cairn_driver::env::Env>,
    mut from_net: mpsc::Receiver<NetworkEvent>,
    to_driver: mpsc::Sender<NetworkEvent>,
) {
    while let Some(ev) = from_net.recv().await {
        let ev = match ev {
            NetworkEvent::Request {
                peer,
                request: Request::FetchBlock { hash },
                respond,
            } => {
                let (tx, rx) = oneshot::channel();
                let byz = byz.clone();
                env.spawn(answer_fetch(byz, hash, rx, respond));
                NetworkEvent::Request {
                    peer,
                    request: Request::FetchBlock { hash },
                    respond: Responder::new(tx),
                }
            }
            ev => match byz.lock().incoming(ev) {
                Some(ev) => ev,
                None => continue,
            },
        };
        if to_driver.try_send(ev).is_err() && to_driver.is_closed() {
            return;
        }
    }
}

/// Waits for the driver's answer to a fetch and sends the adversary's.
async fn answer_fetch(
    byz: ByzantineRef,
    hash: Hash,
    driver: oneshot::Receiver<Response>,
    respond: Responder,
) {
    let Ok(honest) = driver.await else {
        return;
    };
    let answer = byz.lock().forge_fetch(hash, honest);
    if let Some(answer) = answer {
        respond.respond(answer);
    }
}

/// The payload request a core would have made for the block it proposes.
fn payload_request(block: &Block) -> PayloadRequest {
    let h = &block.header;
    PayloadRequest {
        round: h.round,
        height: h.height,
        parent_hash: h.parent_hash,
        justify: h.justify.clone(),
        timeout_cert: h.timeout_cert.clone(),
        state_height: h.state_height,
    }
}

impl NodeHost {
    /// Learns the blocks and QCs a message carries.
    fn remember(&mut self, m: &Message) {
        let qc = match m {
            Message::Proposal(p) => {
                let hash = p.block.hash();
                if self.blocks.insert(hash, p.block.clone()).is_none() {
                    self.order.push_back(hash);
                    if self.order.len() > REMEMBERED_BLOCKS {
                        if let Some(old) = self.order.pop_front() {
                            self.blocks.remove(&old);
                        }
                    }
                }
                &p.block.header.justify
            }
            Message::Timeout(t) => &t.high_qc,
            Message::TimeoutCertificate(tc) => &tc.high_qc,
            Message::Vote(_) => return,
        };
        let higher = self.high_qc.as_ref().is_none_or(|h| qc.round > h.round);
        if higher && qc.verify(&self.committee).is_ok() {
            self.high_qc = Some(qc.clone());
        }
    }

    fn store(&self) -> Option<Arc<Store>> {
        self.store.upgrade()
    }

    fn direct(&mut self, to: NodeId, m: Message) {
        let Some(&peer) = self.peers.get(to) else {
            return;
        };
        let cmd = Command::Request {
            peer,
            request: Request::Consensus(m),
            reply: None,
        };
        self.sent += 1;
        self.net.handle(self.me, cmd);
    }
}

impl Host for NodeHost {
    fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    fn now_ms(&self) -> u64 {
        self.epoch_ms + self.start.elapsed().as_millis() as u64
    }

    fn nodes(&self) -> usize {
        self.peers.len()
    }

    fn me(&self) -> NodeId {
        self.me
    }

    fn send(&mut self, to: NodeId, m: Message) {
        if to != self.me {
            self.direct(to, m);
        }
    }

    fn send_to_validator(&mut self, v: u16, m: Message) {
        self.send(usize::from(v), m);
    }

    /// Gossip, and for timeouts and TCs direct copies too (as the driver
    /// sends them: gossip drops a re-sent identical timeout).
    fn broadcast(&mut self, m: Message) {
        if matches!(m, Message::Timeout(_) | Message::TimeoutCertificate(_)) {
            for to in 0..self.peers.len() {
                self.send(to, m.clone());
            }
        }
        let cmd = Command::Publish {
            topic: Topic::Consensus,
            data: m.to_bytes(),
        };
        self.sent += 1;
        self.net.handle(self.me, cmd);
    }

    fn block(&self, hash: &Hash) -> Option<Block> {
        if let Some(b) = self.blocks.get(hash) {
            return Some(b.clone());
        }
        self.store()?.block_by_hash(hash).ok().flatten()
    }

    fn high_qc(&self) -> Option<QuorumCertificate> {
        self.high_qc.clone()
    }

    fn leader_of(&self, round: Round, justify: &QuorumCertificate) -> Option<u16> {
        let vals = &self.committee.validators;
        if !leader::by_reputation(round, justify.round) {
            return Some(vals.leader(round));
        }
        let mut recent = Vec::with_capacity(leader::WINDOW);
        let mut cursor = justify.block_hash;
        while recent.len() < leader::WINDOW {
            let block = self.block(&cursor)?;
            if block.header.height.0 == 0 {
                break;
            }
            recent.push(leader::signers(&block.header));
            cursor = block.header.parent_hash;
        }
        Some(leader::elect(vals, round, &recent))
    }

    fn state_root_at(&self, height: Height) -> Option<Hash> {
        let store = self.store()?;
        let tip = store.tip().ok()??;
        if height > tip.height {
            return None;
        }
        store.state_root_at(height).ok()
    }

    fn oldest_committed(&self, n: usize) -> Vec<Block> {
        let Some(store) = self.store() else {
            return Vec::new();
        };
        (0..n as u64)
            .map_while(|k| store.block_at(Height(k)).ok().flatten())
            .collect()
    }
}
