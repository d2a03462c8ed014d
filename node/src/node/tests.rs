//! The driver keeps answering its peers while its own requests are pending.
//!
//! Regression test for a deadlock `cairn bench` found: the driver used to
//! await its catch-up status probe inline, so while a peer sat on the probe
//! the node answered none of that peer's requests — and two nodes probing
//! each other at once both waited out the 10 s request timeout.

use std::time::Duration;

use futures::StreamExt;
use libp2p::request_response::{self, Event, Message, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr};

use crate::cli::init::{testnet, TestnetArgs};
use crate::config::{Config, Home};
use cairn_ledger::ChainId;
use cairn_network::{Codec, WireRequest};
use cairn_network::{Request, Response, RR_PROTOCOL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sitting_on_our_probe_still_gets_answers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("net");
    testnet(TestnetArgs {
        validators: 1,
        out: out.clone(),
        accounts: 1,
        balance: "1000".into(),
        chain_id: "cairn-testnet".into(),
        base_port: 0,
        round_timeout_ms: None,
        listen_ips: Vec::new(),
    })
    .unwrap();
    let home = Home(out.join("node0"));
    let config = Config::load(&home.config()).unwrap();
    let node_addr: Multiaddr = format!("/ip4/127.0.0.1/tcp/{}", config.p2p.listen.port())
        .parse()
        .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let node = tokio::spawn(crate::node::run(home, config, async move {
        let _ = stop_rx.await;
    }));

    // A peer that speaks the request protocol but never answers requests.
    let chain = ChainId::new("cairn-testnet").unwrap();
    let codec = Codec::new(chain, 1 << 20, 64 << 20);
    let rr = request_response::Behaviour::with_codec(
        codec,
        [(RR_PROTOCOL, ProtocolSupport::Full)],
        // Below the node's 10 s request timeout: the old driver answered
        // only once its own request to us had timed out.
        request_response::Config::default().with_request_timeout(Duration::from_secs(6)),
    );
    let mut peer = libp2p::SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| rr)
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    peer.dial(node_addr.clone()).unwrap();

    let mut held = Vec::new();
    let mut asked = false;
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match peer.select_next_some().await {
                SwarmEvent::Behaviour(Event::Message {
                    peer: node_id,
                    message: Message::Request { channel, .. },
                    ..
                }) => {
                    // The node's probe (or any request): sit on it, and ask
                    // the node something while it waits for us.
                    held.push(channel);
                    if !asked {
                        asked = true;
                        peer.behaviour_mut()
                            .send_request(&node_id, WireRequest::Valid(Request::Status));
                    }
                }
                SwarmEvent::Behaviour(Event::Message {
                    message: Message::Response { response, .. },
                    ..
                }) => {
                    assert!(
                        matches!(response, Response::Status(_)),
                        "expected a status, got {response:?}"
                    );
                    return Ok(held.len());
                }
                SwarmEvent::Behaviour(Event::OutboundFailure { error, .. }) => {
                    return Err(format!(
                        "the node did not answer while we held its probe: {error}"
                    ));
                }
                // The node may not be listening yet.
                SwarmEvent::OutgoingConnectionError { .. } => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    peer.dial(node_addr.clone()).unwrap();
                }
                _ => {}
            }
        }
    })
    .await;
    let _ = stop_tx.send(());
    let _ = tokio::time::timeout(Duration::from_secs(20), node).await;
    let held = outcome.expect("the node never probed us").unwrap();
    assert!(held >= 1, "answered while we held {held} of its requests");
}
