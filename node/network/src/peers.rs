//! Peer hygiene: penalty scores, bans, and keeping configured peers connected.
//!
//! A peer earns penalty points for each misbehaviour and is forgiven a few
//! points per second; at the threshold it is banned (disconnected and refused)
//! for a while. Only misbehaving peers have an entry, and bans expire, so the
//! book stays small; it is also capped outright.
//!
//! Configured (bootstrap) peers are redialled whenever they are not connected,
//! with exponential back-off between failed attempts, so a restarted peer is
//! found again without operator help.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use libp2p::multiaddr::Protocol;
use libp2p::swarm::ConnectionId;
use libp2p::{Multiaddr, PeerId};

/// Most peers tracked with a penalty or a ban at once.
const MAX_TRACKED: usize = 10_000;

/// Something a peer did wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Misbehaviour {
    /// Bytes that do not decode (gossip or a request/response frame).
    Malformed,
    /// A frame above the size limit.
    Oversized,
    /// A message whose signature does not verify (reported by the node).
    BadSignature,
    /// A well-formed but invalid message: a bad certificate, a block that does
    /// not match its header, an answer that does not match the question.
    Invalid,
}

impl Misbehaviour {
    /// Every kind, in the order of [`Misbehaviour::index`].
    pub const ALL: [Misbehaviour; 4] = [
        Misbehaviour::Malformed,
        Misbehaviour::Oversized,
        Misbehaviour::BadSignature,
        Misbehaviour::Invalid,
    ];

    /// Its position in [`Misbehaviour::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// Its name in metrics (`reason` label) and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Misbehaviour::Malformed => "malformed",
            Misbehaviour::Oversized => "oversized",
            Misbehaviour::BadSignature => "bad_signature",
            Misbehaviour::Invalid => "invalid",
        }
    }

    /// Penalty points. The default ban threshold is 100: four malformed
    /// messages, two oversized frames or two bad signatures in quick succession.
    pub fn penalty(self) -> u32 {
        match self {
            Misbehaviour::Malformed => 25,
            Misbehaviour::Oversized => 50,
            Misbehaviour::BadSignature => 50,
            Misbehaviour::Invalid => 20,
        }
    }
}

#[derive(Debug)]
struct Points {
    value: u32,
    at: Instant,
}

/// Penalty points and bans.
#[derive(Debug)]
pub(crate) struct PeerBook {
    threshold: u32,
    recovery_per_sec: u32,
    ban_duration: Duration,
    points: HashMap<PeerId, Points>,
    bans: HashMap<PeerId, Instant>,
}

impl PeerBook {
    pub(crate) fn new(threshold: u32, recovery_per_sec: u32, ban_duration: Duration) -> Self {
        PeerBook {
            threshold,
            recovery_per_sec,
            ban_duration,
            points: HashMap::new(),
            bans: HashMap::new(),
        }
    }

    /// Adds the penalty; returns true if the peer is now to be banned.
    pub(crate) fn penalise(&mut self, peer: PeerId, why: Misbehaviour, now: Instant) -> bool {
        if self.bans.contains_key(&peer) {
            return false;
        }
        if self.points.len() >= MAX_TRACKED && !self.points.contains_key(&peer) {
            self.forgive(now);
        }
        let recovery = self.recovery_per_sec;
        let entry = self
            .points
            .entry(peer)
            .or_insert(Points { value: 0, at: now });
        entry.value = recovered(entry, recovery, now).saturating_add(why.penalty());
        entry.at = now;
        if entry.value < self.threshold {
            return false;
        }
        self.points.remove(&peer);
        if self.bans.len() >= MAX_TRACKED {
            // Under a flood of identities, the oldest ban gives way.
            if let Some(oldest) = self.bans.iter().min_by_key(|(_, t)| **t).map(|(p, _)| *p) {
                self.bans.remove(&oldest);
            }
        }
        self.bans.insert(peer, now + self.ban_duration);
        true
    }

    /// The peer's current penalty points.
    pub(crate) fn points(&self, peer: &PeerId, now: Instant) -> u32 {
        self.points
            .get(peer)
            .map_or(0, |p| recovered(p, self.recovery_per_sec, now))
    }

    pub(crate) fn is_banned(&self, peer: &PeerId) -> bool {
        self.bans.contains_key(peer)
    }

    /// Lifts bans that have run out and forgets fully forgiven peers;
    /// returns the peers unbanned.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<PeerId> {
        let lifted: Vec<PeerId> = self
            .bans
            .iter()
            .filter(|(_, until)| **until <= now)
            .map(|(p, _)| *p)
            .collect();
        for p in &lifted {
            self.bans.remove(p);
        }
        self.forgive(now);
        lifted
    }

    fn forgive(&mut self, now: Instant) {
        let recovery = self.recovery_per_sec;
        self.points.retain(|_, p| recovered(p, recovery, now) > 0);
    }
}

fn recovered(p: &Points, per_sec: u32, now: Instant) -> u32 {
    let secs = now.saturating_duration_since(p.at).as_secs();
    let forgiven = secs.saturating_mul(per_sec.into());
    p.value
        .saturating_sub(u32::try_from(forgiven).unwrap_or(u32::MAX))
}

/// One configured peer to keep connected.
#[derive(Debug)]
struct Target {
    addr: Multiaddr,
    /// The identity the address must prove (from a `/p2p/` suffix).
    expected: Option<PeerId>,
    /// The identity last found there (`expected`, or learned on connecting).
    peer: Option<PeerId>,
    dialing: Option<ConnectionId>,
    connected: bool,
    next_attempt: Instant,
    backoff: Duration,
}

/// A dial the task should make.
#[derive(Debug)]
pub(crate) struct Dial {
    pub(crate) target: usize,
    pub(crate) addr: Multiaddr,
    pub(crate) peer: Option<PeerId>,
}

/// Keeps configured peers connected, redialling with back-off.
#[derive(Debug)]
pub(crate) struct Redialer {
    targets: Vec<Target>,
    initial: Duration,
    max: Duration,
}

impl Redialer {
    /// Targets every address in `addrs` but this node's own (`local`): a
    /// shared peer list may name every validator, this one included.
    pub(crate) fn new(
        addrs: &[Multiaddr],
        local: PeerId,
        initial: Duration,
        max: Duration,
        now: Instant,
    ) -> Self {
        let targets = addrs
            .iter()
            .map(split_peer)
            .filter(|(_, peer)| *peer != Some(local))
            .map(|(addr, peer)| Target {
                addr,
                expected: peer,
                peer,
                dialing: None,
                connected: false,
                next_attempt: now,
                backoff: initial,
            })
            .collect();
        Redialer {
            targets,
            initial,
            max,
        }
    }

    /// Configured peers whose identity is known, with their addresses.
    pub(crate) fn known(&self) -> impl Iterator<Item = (PeerId, &Multiaddr)> {
        self.targets.iter().filter_map(|t| Some((t.peer?, &t.addr)))
    }

    /// Dials due now; `is_banned` skips peers under a ban.
    pub(crate) fn due(&self, now: Instant, is_banned: impl Fn(&PeerId) -> bool) -> Vec<Dial> {
        self.targets
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.connected && t.dialing.is_none() && t.next_attempt <= now)
            .filter(|(_, t)| !t.peer.as_ref().is_some_and(&is_banned))
            .map(|(i, t)| Dial {
                target: i,
                addr: t.addr.clone(),
                // A learned identity is not required: the node at an address
                // may come back with a new key.
                peer: t.expected,
            })
            .collect()
    }

    /// A dial for `target` is under way as `id`.
    pub(crate) fn dialing(&mut self, target: usize, id: ConnectionId) {
        if let Some(t) = self.targets.get_mut(target) {
            t.dialing = Some(id);
        }
    }

    /// A dial could not even start (e.g. already connected): try again later.
    pub(crate) fn not_started(&mut self, target: usize, now: Instant) {
        if let Some(t) = self.targets.get_mut(target) {
            t.dialing = None;
            t.next_attempt = now + t.backoff;
        }
    }

    /// A connection to `peer` is up (dialled as `id`, or inbound). Returns
    /// the address if this dial just learned who is there, so it can be
    /// dialled by identity later.
    pub(crate) fn connected(&mut self, peer: PeerId, id: ConnectionId) -> Option<Multiaddr> {
        let mut learned = None;
        for t in &mut self.targets {
            if t.dialing == Some(id) {
                t.dialing = None;
                if t.peer != Some(peer) {
                    t.peer = Some(peer);
                    learned = Some(t.addr.clone());
                }
            }
            if t.peer == Some(peer) {
                t.connected = true;
                t.backoff = self.initial;
            }
        }
        learned
    }

    /// The dial `id` failed: back off.
    pub(crate) fn dial_failed(&mut self, id: ConnectionId, now: Instant) {
        for t in &mut self.targets {
            if t.dialing == Some(id) {
                t.dialing = None;
                t.next_attempt = now + t.backoff;
                t.backoff = (t.backoff * 2).min(self.max);
            }
        }
    }

    /// The last connection to `peer` closed: redial after the initial delay.
    pub(crate) fn disconnected(&mut self, peer: PeerId, now: Instant) {
        for t in &mut self.targets {
            if t.peer == Some(peer) {
                t.connected = false;
                t.next_attempt = now + t.backoff;
            }
        }
    }
}

/// Splits a trailing `/p2p/<id>` off an address.
fn split_peer(addr: &Multiaddr) -> (Multiaddr, Option<PeerId>) {
    let mut addr = addr.clone();
    match addr.iter().last() {
        Some(Protocol::P2p(peer)) => {
            addr.pop();
            (addr, Some(peer))
        }
        _ => (addr, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: u8) -> PeerId {
        crate::peer_id_of(&cairn_ledger::SecretKey::from_seed([n; 32]).address()).unwrap()
    }

    #[test]
    fn repeated_misbehaviour_bans_and_the_ban_expires() {
        let t0 = Instant::now();
        let mut book = PeerBook::new(100, 1, Duration::from_secs(60));
        let p = peer(1);
        for _ in 0..3 {
            assert!(!book.penalise(p, Misbehaviour::Malformed, t0));
        }
        assert_eq!(book.points(&p, t0), 75);
        assert!(book.penalise(p, Misbehaviour::Malformed, t0));
        assert!(book.is_banned(&p));
        assert!(book.expire(t0 + Duration::from_secs(59)).is_empty());
        assert_eq!(book.expire(t0 + Duration::from_secs(60)), vec![p]);
        assert!(!book.is_banned(&p));
    }

    #[test]
    fn every_misbehaviour_has_its_own_index() {
        for (i, why) in Misbehaviour::ALL.into_iter().enumerate() {
            assert_eq!(why.index(), i, "{why:?}");
        }
    }

    #[test]
    fn points_are_forgiven_over_time() {
        let t0 = Instant::now();
        let mut book = PeerBook::new(100, 1, Duration::from_secs(60));
        let p = peer(2);
        book.penalise(p, Misbehaviour::BadSignature, t0);
        assert_eq!(book.points(&p, t0 + Duration::from_secs(30)), 20);
        // 50 points, 60 s later fully forgiven: a second offence does not ban.
        assert!(!book.penalise(p, Misbehaviour::BadSignature, t0 + Duration::from_secs(60)));
        book.expire(t0 + Duration::from_secs(200));
        assert_eq!(book.points(&p, t0 + Duration::from_secs(200)), 0);
        assert!(book.points.is_empty());
    }

    #[test]
    fn redial_backs_off_then_resets_on_connect() {
        let t0 = Instant::now();
        let p = peer(3);
        let addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/9000/p2p/{p}").parse().unwrap();
        let own: Multiaddr = format!("/ip4/127.0.0.1/tcp/9001/p2p/{}", peer(4))
            .parse()
            .unwrap();
        let mut r = Redialer::new(
            &[addr, own],
            peer(4),
            Duration::from_secs(1),
            Duration::from_secs(4),
            t0,
        );
        let due = r.due(t0, |_| false);
        assert_eq!(due.len(), 1, "never dials itself");
        assert_eq!(due[0].peer, Some(p));
        assert_eq!(due[0].addr.to_string(), "/ip4/127.0.0.1/tcp/9000");
        let id = ConnectionId::new_unchecked(1);
        r.dialing(0, id);
        assert!(
            r.due(t0, |_| false).is_empty(),
            "no second dial while one is under way"
        );
        r.dial_failed(id, t0);
        assert!(r.due(t0 + Duration::from_millis(999), |_| false).is_empty());
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(r.due(t1, |_| false).len(), 1);
        r.dialing(0, ConnectionId::new_unchecked(2));
        r.dial_failed(ConnectionId::new_unchecked(2), t1);
        // Back-off doubled to 2 s.
        assert!(r
            .due(t1 + Duration::from_millis(1999), |_| false)
            .is_empty());
        assert!(
            r.due(t1 + Duration::from_secs(2), |p2| *p2 == p).is_empty(),
            "banned"
        );
        assert_eq!(r.connected(p, ConnectionId::new_unchecked(3)), None);
        assert!(r.due(t1 + Duration::from_secs(10), |_| false).is_empty());
        r.disconnected(p, t1 + Duration::from_secs(10));
        assert_eq!(
            r.due(t1 + Duration::from_secs(11), |_| false).len(),
            1,
            "reset to 1 s"
        );
    }

    #[test]
    fn an_address_without_identity_learns_it_but_does_not_require_it() {
        let t0 = Instant::now();
        let addr: Multiaddr = "/ip4/127.0.0.1/tcp/9000".parse().unwrap();
        let mut r = Redialer::new(
            std::slice::from_ref(&addr),
            peer(9),
            Duration::from_secs(1),
            Duration::from_secs(4),
            t0,
        );
        let dial = r.due(t0, |_| false).pop().unwrap();
        assert_eq!(dial.peer, None);
        let id = ConnectionId::new_unchecked(7);
        r.dialing(dial.target, id);
        assert_eq!(r.connected(peer(5), id), Some(addr));
        assert_eq!(r.known().next().map(|(p, _)| p), Some(peer(5)));
        r.disconnected(peer(5), t0);
        // Redialled without insisting on the old identity.
        let dial = r.due(t0 + Duration::from_secs(1), |_| false).pop().unwrap();
        assert_eq!(dial.peer, None);
    }
}
