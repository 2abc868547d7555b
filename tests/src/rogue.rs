//! A misbehaving peer for tests: a real libp2p swarm built with the node's own behaviour (so it
//! speaks gossipsub, sync and identify exactly like a node), driven step by step by the test, with
//! its gossip size limit lifted so it can send what honest nodes never would.

use std::sync::Arc;
use std::time::Duration;

use consent_node::p2p::behaviour::{Behaviour, BehaviourEvent, Options};
use consent_node::p2p::codec::WireCounters;
use consent_node::p2p::protocol::{self, SyncRequest};
use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, identity};

/// The misbehaving peer.
pub struct Rogue {
    /// Its swarm.
    pub swarm: Swarm<Behaviour>,
    topic: IdentTopic,
    /// The node it is connected to.
    pub target: PeerId,
}

impl Rogue {
    /// A fresh identity on the network `genesis_digest`, connected to the node at `addr` (a
    /// multiaddr ending in `/p2p/<peer id>`) and subscribed to the entries topic.
    pub async fn connect(genesis_digest: &str, addr: &str, timeout: Duration) -> Rogue {
        let key = identity::Keypair::generate_ed25519();
        let options = Options {
            max_gossip_bytes: protocol::MAX_GOSSIP_FRAME_BYTES,
            ..Options::default()
        };
        let mut swarm = consent_node::p2p::build_swarm(
            key,
            genesis_digest,
            &options,
            Arc::new(WireCounters::default()),
        )
        .unwrap_or_else(|e| panic!("rogue swarm: {e}"));
        let topic = IdentTopic::new(protocol::topic(genesis_digest));
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic)
            .unwrap_or_else(|e| panic!("subscribe: {e}"));
        let addr: Multiaddr = addr.parse().unwrap_or_else(|e| panic!("multiaddr: {e}"));
        let target = match addr.iter().last() {
            Some(libp2p::multiaddr::Protocol::P2p(peer)) => peer,
            _ => panic!("address without /p2p/: {addr}"),
        };
        swarm
            .dial(addr)
            .unwrap_or_else(|e| panic!("rogue dial: {e}"));
        let mut rogue = Rogue {
            swarm,
            topic,
            target,
        };
        rogue
            .until(timeout, "the node subscribes", |e| match e {
                SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(
                    gossipsub::Event::Subscribed { peer_id, .. },
                )) if *peer_id == target => Some(()),
                _ => None,
            })
            .await;
        rogue
    }

    /// Like [`Self::connect`], without waiting for the node to subscribe (a peer of another
    /// network never sees it subscribe): waits only for the connection.
    pub async fn connect_unchecked(genesis_digest: &str, addr: &str) -> Rogue {
        let key = identity::Keypair::generate_ed25519();
        let mut swarm = consent_node::p2p::build_swarm(
            key,
            genesis_digest,
            &Options::default(),
            Arc::new(WireCounters::default()),
        )
        .unwrap_or_else(|e| panic!("rogue swarm: {e}"));
        let topic = IdentTopic::new(protocol::topic(genesis_digest));
        let addr: Multiaddr = addr.parse().unwrap_or_else(|e| panic!("multiaddr: {e}"));
        let target = match addr.iter().last() {
            Some(libp2p::multiaddr::Protocol::P2p(peer)) => peer,
            _ => panic!("address without /p2p/: {addr}"),
        };
        swarm
            .dial(addr)
            .unwrap_or_else(|e| panic!("rogue dial: {e}"));
        Rogue {
            swarm,
            topic,
            target,
        }
    }

    /// Drives the swarm until `f` picks an event, or panics after `timeout`.
    pub async fn until<T>(
        &mut self,
        timeout: Duration,
        what: &str,
        mut f: impl FnMut(&SwarmEvent<BehaviourEvent>) -> Option<T>,
    ) -> T {
        let wait = async {
            loop {
                let event = self.swarm.select_next_some().await;
                if let Some(t) = f(&event) {
                    return t;
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(t) => t,
            Err(_) => panic!("rogue: timed out waiting until {what}"),
        }
    }

    /// Pushes raw bytes on the entries topic (as if they were an entry).
    pub fn publish(&mut self, data: Vec<u8>) {
        let topic = self.topic.clone();
        if let Err(e) = self.swarm.behaviour_mut().gossipsub.publish(topic, data) {
            panic!("rogue publish: {e}");
        }
    }

    /// [`Self::publish`], saying whether gossipsub took the message instead of panicking (a
    /// sustained flood may outrun the send queue).
    pub fn try_publish(&mut self, data: Vec<u8>) -> bool {
        let topic = self.topic.clone();
        self.swarm
            .behaviour_mut()
            .gossipsub
            .publish(topic, data)
            .is_ok()
    }

    /// Drives the swarm for `time` (what was published goes out, the connection stays up),
    /// whatever happens meanwhile.
    pub async fn drive(&mut self, time: Duration) {
        let _: Result<(), _> = tokio::time::timeout(time, async {
            loop {
                self.swarm.select_next_some().await;
            }
        })
        .await;
    }

    /// Sends a sync request to the node (its answer, if any, is ignored).
    pub fn request(&mut self, request: SyncRequest) {
        let target = self.target;
        self.swarm
            .behaviour_mut()
            .sync
            .send_request(&target, request);
    }

    /// Sends `requests` to the node in waves of `wave`, each sent once the previous one was
    /// answered (a sustained flood that stays under the connection's stream limits); stops when
    /// the node drops the rogue. Returns how many were sent.
    pub async fn flood(
        &mut self,
        requests: impl IntoIterator<Item = SyncRequest>,
        wave: usize,
        timeout: Duration,
    ) -> usize {
        use libp2p::request_response;
        let target = self.target;
        let mut requests = requests.into_iter().peekable();
        let mut sent = 0;
        while requests.peek().is_some() {
            let mut outstanding = 0;
            for request in requests.by_ref().take(wave) {
                self.request(request);
                outstanding += 1;
                sent += 1;
            }
            let closed = self
                .until(timeout, "a wave is answered", |e| match e {
                    SwarmEvent::Behaviour(BehaviourEvent::Sync(
                        request_response::Event::Message {
                            message: request_response::Message::Response { .. },
                            ..
                        }
                        | request_response::Event::OutboundFailure { .. },
                    )) => {
                        outstanding -= 1;
                        (outstanding == 0).then_some(false)
                    }
                    SwarmEvent::ConnectionClosed {
                        peer_id,
                        num_established: 0,
                        ..
                    } if *peer_id == target => Some(true),
                    _ => None,
                })
                .await;
            if closed {
                break;
            }
        }
        sent
    }

    /// Keeps driving the swarm in the background (so what was published is sent and the
    /// connection stays up) until the returned task is aborted.
    pub fn spawn(mut self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let _ = self.swarm.select_next_some().await;
            }
        })
    }

    /// Drives the swarm until the node has closed every connection to it.
    pub async fn dropped(&mut self, timeout: Duration) {
        let target = self.target;
        self.until(timeout, "the node drops the rogue", |e| match e {
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } if *peer_id == target => Some(()),
            _ => None,
        })
        .await
    }

    /// Dials the node again; returns whether a connection was still up after the node had its
    /// say (a banned peer's connection is closed at once, or refused).
    pub async fn redial(&mut self, addr: &str, timeout: Duration) -> bool {
        let addr: Multiaddr = addr.parse().unwrap_or_else(|e| panic!("multiaddr: {e}"));
        if self.swarm.dial(addr).is_err() {
            return false;
        }
        let target = self.target;
        self.until(timeout, "the redial settles", |e| match e {
            SwarmEvent::OutgoingConnectionError { .. } => Some(false),
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } if *peer_id == target => Some(false),
            // Identify answers only over a connection the node kept.
            SwarmEvent::Behaviour(BehaviourEvent::Identify(
                libp2p::identify::Event::Received { peer_id, .. },
            )) if *peer_id == target => Some(true),
            _ => None,
        })
        .await
    }
}
