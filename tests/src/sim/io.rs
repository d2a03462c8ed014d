//! How a simulated node talks to the world: feeding inputs to its core,
//! performing the core's outputs (sending, persisting, timers, the
//! application's answers, commits), and delivering network packets.

use cairn_consensus::{Input, Message, Output};
use cairn_ledger::{Amount, Block, QuorumCertificate, Transaction};
use rand::Rng;

use super::network::{NodeId, Packet};
use super::node::Role;
use super::observe;
use super::trace::{brief_input, brief_output};
use super::{Event, Sim, BASE_TIMEOUT_MS};

impl Sim {
    /// Feeds one input to a node's core and performs its outputs in order,
    /// possibly crashing part-way (outputs after the crash are lost).
    pub(super) fn input(&mut self, i: NodeId, input: Input) {
        let Some(core) = self.nodes[i].core.as_mut() else {
            return;
        };
        let trace = std::env::var("SIM_TRACE").is_ok();
        let desc = if trace {
            brief_input(&input)
        } else {
            String::new()
        };
        let outputs = core.handle(input);
        if trace {
            let outs: Vec<String> = outputs.iter().map(brief_output).collect();
            eprintln!(
                "t={} node {i} r{} <- {desc} -> {}",
                self.now,
                core.round(),
                outs.join(", ")
            );
        }
        self.observe_outputs(i, &outputs);
        let cut = if self.nodes[i].crash_armed && !outputs.is_empty() {
            Some(self.rng.gen_range(0..=outputs.len()))
        } else {
            None
        };
        for (k, o) in outputs.into_iter().enumerate() {
            if cut == Some(k) {
                self.crash(i);
                return;
            }
            let signed = observe::is_signed_send(&o);
            self.dispatch(i, o);
            if signed && self.aim_crash(i) {
                return;
            }
        }
        if cut.is_some() {
            self.crash(i);
        }
    }

    pub(super) fn dispatch(&mut self, i: NodeId, o: Output) {
        let honest = self.nodes[i].is_honest();
        let byz = matches!(self.nodes[i].role, Role::Byzantine(_));
        self.check_output(i, &o);
        match o {
            Output::Persist(s) => {
                if honest {
                    self.checker.observe_persist(&s);
                }
                self.persist_safety(i, &s);
            }
            Output::PersistBlock(b) => {
                self.nodes[i].pending_blocks.insert(b.hash(), b);
            }
            Output::Broadcast(m) => {
                if honest {
                    match &m {
                        Message::Timeout(t) => {
                            self.checker.observe_timeout(t);
                            self.stats.timeouts += 1;
                        }
                        Message::Vote(v) => self.checker.observe_vote(v),
                        Message::Proposal(_) => self.stats.proposals += 1,
                        Message::TimeoutCertificate(_) => {}
                    }
                }
                if byz {
                    self.byz_broadcast(i, m);
                } else {
                    self.broadcast(i, Packet::Msg(m), false);
                }
            }
            Output::SendVote { to, vote } => {
                if honest {
                    self.checker.observe_vote(&vote);
                }
                if byz {
                    self.byz_vote(i, to, vote);
                } else {
                    self.send_to_validator(i, to, Packet::Msg(Message::Vote(vote)));
                }
            }
            Output::Send { to, message } => {
                if !byz || !self.byz_is_silent(i) {
                    self.send_to_validator(i, to, Packet::Msg(message));
                }
            }
            Output::ScheduleTimeout { round, after_ms } => {
                let n = &mut self.nodes[i];
                n.timer_gen += 1;
                let event = Event::Timer {
                    node: i,
                    incarnation: n.incarnation,
                    gen: n.timer_gen,
                    round,
                };
                self.schedule(after_ms, event);
            }
            Output::RequestPayload(req) => {
                if byz && self.byz_payload(i, &req) {
                    return;
                }
                let now = self.now;
                let n = &mut self.nodes[i];
                let block = n.app.build(&req, n.key.address(), now);
                self.reply(i, 1, Input::Payload(block));
            }
            Output::ValidateBlock(block) => {
                let valid = self.nodes[i].app.validate(&block, self.now);
                let hash = block.hash();
                let delay = self.rng.gen_range(1..10);
                self.reply(i, delay, Input::BlockValidated { hash, valid });
            }
            Output::Commit { block, certificate } => self.commit(i, block, certificate),
            Output::FetchBlock { hash, from } => {
                self.send_to_validator(i, from, Packet::FetchReq(hash));
            }
            Output::Equivocation(_) => self.stats.equivocations += 1,
            Output::Rejected(_) => self.stats.rejected += 1,
        }
    }

    pub(super) fn commit(&mut self, i: NodeId, block: Block, cert: QuorumCertificate) {
        let n = &mut self.nodes[i];
        if n.is_honest() {
            let expected = n.app.root_at(block.header.state_height);
            let prev = &n.tip().0;
            self.checker
                .observe_commit(i, prev, &block, &cert, expected);
        }
        if let Err(e) = n.app.commit(&block) {
            if n.is_honest() {
                self.checker.violations.push(format!("node {i}: {e}"));
            }
            return;
        }
        n.store(block, cert);
    }

    pub(super) fn reply(&mut self, i: NodeId, after_ms: u64, input: Input) {
        let incarnation = self.nodes[i].incarnation;
        self.schedule(
            after_ms,
            Event::Reply {
                node: i,
                incarnation,
                input,
            },
        );
    }

    pub(super) fn send(&mut self, from: NodeId, to: NodeId, packet: Packet, reliable: bool) {
        self.observe_packet(from, &packet);
        let delays = self.net.delays(&mut self.rng, from, to, reliable, self.now);
        for d in delays {
            self.schedule(
                d,
                Event::Deliver {
                    to,
                    from,
                    packet: packet.clone(),
                },
            );
        }
    }

    pub(super) fn broadcast(&mut self, from: NodeId, packet: Packet, reliable: bool) {
        // The scheduler is on the attacker's side: it isolates honest leaders only.
        if matches!(packet, Packet::Msg(Message::Proposal(_)))
            && self.nodes[from].is_honest()
            && self.now < self.params.chaos_ms
            && self.params.isolate_leader > 0.0
            && self.rng.gen_bool(self.params.isolate_leader)
        {
            let until = self.now + 3 * BASE_TIMEOUT_MS;
            self.net.isolate(from, until);
        }
        for to in 0..self.nodes.len() {
            if to != from {
                self.send(from, to, packet.clone(), reliable);
            }
        }
    }

    /// Sends to every node holding validator index `v` (both twins).
    pub(super) fn send_to_validator(&mut self, from: NodeId, v: u16, packet: Packet) {
        for to in 0..self.nodes.len() {
            if to != from && self.nodes[to].validator == v {
                self.send(from, to, packet.clone(), false);
            }
        }
    }

    pub(super) fn deliver(&mut self, to: NodeId, from: NodeId, packet: Packet) {
        if self.nodes[to].core.is_none() {
            return;
        }
        match packet {
            Packet::Msg(m) => {
                if !self.byz_intercept(to, &m) {
                    self.input(to, Input::Message(m));
                }
            }
            Packet::FetchReq(hash) => {
                let blocks = self.nodes[to].serve(hash);
                let blocks = self.byz_fetch_reply(to, hash, blocks);
                if !blocks.is_empty() {
                    self.send(to, from, Packet::FetchResp(blocks), false);
                }
            }
            Packet::FetchResp(blocks) => {
                for b in blocks {
                    self.input(to, Input::FetchedBlock(b));
                }
            }
            Packet::Tx(tx) => {
                self.nodes[to].app.add_tx(tx);
                self.signal_txs(to);
            }
        }
    }

    /// Injects a few signed transfers, gossiped to every node.
    pub(super) fn make_txs(&mut self) {
        if !self.txs_on {
            return;
        }
        let count = self.rng.gen_range(1..=3);
        for _ in 0..count {
            let a = self.rng.gen_range(0..self.accounts.len());
            let to = self.accounts[(a + 1) % self.accounts.len()].0.address();
            let (key, nonce) = &mut self.accounts[a];
            let tx = Transaction {
                chain_id: self.committee.chain_id.clone(),
                from: key.address(),
                to,
                amount: Amount(1),
                nonce: *nonce,
                memo: Vec::new(),
            }
            .sign(key);
            *nonce += 1;
            let origin = self.rng.gen_range(0..self.nodes.len());
            self.nodes[origin].app.add_tx(tx.clone());
            self.signal_txs(origin);
            self.broadcast(origin, Packet::Tx(tx), true);
        }
        let next = self.rng.gen_range(20..400);
        self.schedule(next, Event::Txs);
    }
}
