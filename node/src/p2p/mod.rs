//! Replication between nodes of one network (libp2p): TCP and QUIC with Noise and Yamux,
//! identify, gossipsub to push new entries, and a request-response protocol to pull what is
//! missing. One task owns the swarm; the rest of the node talks to it through [`P2pHandle`].
//!
//! Every entry from a peer goes through the ledger's one write path ([`Ledger::submit`]) before
//! gossipsub is told to accept (and forward) it: invalid entries are rejected (and count against
//! the peer's score), entries waiting for a predecessor or a referenced entry are ignored for
//! forwarding and the missing entries are pulled from the peer that sent them.
//!
//! # Layout
//! - [`protocol`]: names bound to the genesis, sync messages, size limits.
//! - [`behaviour`]: the combined `NetworkBehaviour`.
//! - `sync`: answering pull requests, and anti-entropy (comparing digests of heads top-down).

pub mod behaviour;
pub mod protocol;
mod sync;

use std::collections::HashSet;
use std::sync::Arc;

use consent_proto::Entry;
use consent_proto::validate::Missing;
use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageId};
use libp2p::request_response::{self, OutboundRequestId, ResponseChannel};
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, Swarm, identify, identity, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use self::behaviour::{Behaviour, BehaviourEvent};
use self::protocol::{MAX_IDS, MAX_RANGE, SyncRequest, SyncResponse};
use crate::ledger::{Ledger, Outcome};

/// P2P settings.
#[derive(Debug, Clone)]
pub struct P2pConfig {
    /// Listen addresses (multiaddrs), e.g. `/ip4/127.0.0.1/tcp/0`.
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start (multiaddrs ending in `/p2p/<peer id>`).
    pub bootstrap: Vec<Multiaddr>,
}

/// Why the p2p layer could not start.
#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    /// The identity or transport could not be built.
    #[error("p2p set-up failed: {0}")]
    Setup(String),
    /// A listen address could not be used.
    #[error("cannot listen on {addr}: {message}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        message: String,
    },
}

/// What the node asks of the swarm task.
enum Command {
    /// The write path's verdict on a gossip message.
    Validated {
        id: MessageId,
        source: PeerId,
        acceptance: MessageAcceptance,
        missing: Option<Missing>,
    },
    /// Pull more of a feed from a peer.
    Fetch { peer: PeerId, request: SyncRequest },
    /// Connected peers.
    Peers(oneshot::Sender<Vec<PeerId>>),
    /// Dial a peer.
    Dial(Multiaddr),
    /// Compare with every connected peer soon (after pulled entries were accepted: gossip will
    /// not push them again, since their message ids were already seen).
    CompareAll,
    /// Send a computed response.
    Respond {
        peer: PeerId,
        channel: ResponseChannel<SyncResponse>,
        response: SyncResponse,
    },
    /// Send a request whose answer continues an anti-entropy round.
    Ask {
        peer: PeerId,
        request: SyncRequest,
        purpose: Purpose,
    },
}

/// What an outbound request was for.
#[derive(Debug, Clone)]
enum Purpose {
    /// Entries to submit.
    Entries,
    /// Child digests under a prefix.
    Digests(Vec<u8>),
    /// Heads under a prefix.
    Heads,
}

/// How often every connected peer is compared with (anti-entropy), besides on connecting.
const ROUND_EVERY: std::time::Duration = std::time::Duration::from_secs(30);
/// How soon a round cut short by a failed request is tried again.
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// A cheap handle to the swarm task.
#[derive(Clone)]
pub struct P2pHandle {
    tx: mpsc::Sender<Command>,
    peer_id: PeerId,
    listen: Arc<Vec<Multiaddr>>,
}

impl std::fmt::Debug for P2pHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P2pHandle({})", self.peer_id)
    }
}

impl P2pHandle {
    /// This node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// The addresses the node listens on, each ending in `/p2p/<peer id>` (dialable as is).
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        self.listen.as_ref().clone()
    }

    /// Dials a peer (a multiaddr ending in `/p2p/<peer id>`); the connection, once made, starts
    /// an anti-entropy round.
    pub async fn dial(&self, addr: Multiaddr) {
        let _ = self.tx.send(Command::Dial(addr)).await;
    }

    /// Peers connected now.
    pub async fn peers(&self) -> Vec<PeerId> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::Peers(reply)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
}

/// Builds the swarm from the node's key, listens, dials the bootstrap peers and runs the task
/// until `cancel` fires. Returns once every listen address is bound.
pub async fn start(
    node_key: &consent_proto::keys::SecretKey,
    genesis_digest: &str,
    config: P2pConfig,
    ledger: Ledger,
    cancel: CancellationToken,
) -> Result<(P2pHandle, tokio::task::JoinHandle<()>), P2pError> {
    let setup = |e: &dyn std::fmt::Display| P2pError::Setup(e.to_string());
    let mut seed = node_key.to_seed();
    let key = identity::Keypair::ed25519_from_bytes(seed.as_mut()).map_err(|e| setup(&e))?;
    let digest = genesis_digest.to_string();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| setup(&e))?
        .with_quic()
        .with_behaviour(|key| {
            Behaviour::new(key, &digest)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
        .map_err(|e| setup(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(std::time::Duration::from_secs(600)))
        .build();
    let topic = IdentTopic::new(protocol::topic(genesis_digest));
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&topic)
        .map_err(|e| setup(&e))?;
    let peer_id = *swarm.local_peer_id();

    let mut listen = Vec::new();
    for addr in config.listen {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| P2pError::Listen {
                addr: addr.clone(),
                message: e.to_string(),
            })?;
        // Wait until the transport reports the bound address (port 0 becomes a real port).
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::NewListenAddr { address, .. } => {
                    listen.push(address.with(libp2p::multiaddr::Protocol::P2p(peer_id)));
                    break;
                }
                SwarmEvent::ListenerError { error, .. }
                | SwarmEvent::ListenerClosed {
                    reason: Err(error), ..
                } => {
                    return Err(P2pError::Listen {
                        addr,
                        message: error.to_string(),
                    });
                }
                _ => {}
            }
        }
    }
    for addr in config.bootstrap {
        if let Err(e) = swarm.dial(addr.clone()) {
            tracing::warn!(%addr, error = %e, "cannot dial bootstrap peer");
        }
    }
    let (tx, rx) = mpsc::channel(1024);
    let handle = P2pHandle {
        tx: tx.clone(),
        peer_id,
        listen: Arc::new(listen),
    };
    let task = Task {
        swarm,
        topic,
        ledger,
        tx,
        identify_version: protocol::identify_version(genesis_digest),
        pending_fetches: std::collections::HashMap::new(),
        retry: HashSet::new(),
    };
    let join = tokio::spawn(task.run(rx, cancel));
    Ok((handle, join))
}

struct Task {
    swarm: Swarm<Behaviour>,
    topic: IdentTopic,
    ledger: Ledger,
    tx: mpsc::Sender<Command>,
    identify_version: String,
    pending_fetches: std::collections::HashMap<OutboundRequestId, Purpose>,
    /// Peers whose last round was cut short (a request failed): compared again within a second.
    retry: HashSet<PeerId>,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>, cancel: CancellationToken) {
        let mut accepted = self.ledger.accepted();
        let mut rounds = tokio::time::interval(ROUND_EVERY);
        let mut retries = tokio::time::interval(RETRY_EVERY);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = retries.tick() => {
                    let due: Vec<PeerId> = self.retry.drain().filter(|p| self.swarm.is_connected(p)).collect();
                    for peer in due {
                        self.start_round(peer);
                    }
                },
                _ = rounds.tick() => {
                    let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                    for peer in peers {
                        self.start_round(peer);
                    }
                },
                command = rx.recv() => match command {
                    Some(command) => self.command(command),
                    None => break,
                },
                entry = accepted.recv() => match entry {
                    Ok(bytes) => self.publish(bytes.as_ref().clone()),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "p2p fell behind the ledger; peers will pull what was not pushed");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                event = self.swarm.select_next_some() => self.event(event),
            }
        }
        tracing::debug!("p2p task stopped");
    }

    fn publish(&mut self, bytes: Vec<u8>) {
        match self
            .swarm
            .behaviour_mut()
            .gossipsub
            .publish(self.topic.clone(), bytes)
        {
            Ok(_) | Err(gossipsub::PublishError::Duplicate) => {}
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {}
            Err(e) => tracing::debug!(error = %e, "gossip publish failed"),
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Validated {
                id,
                source,
                acceptance,
                missing,
            } => {
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&id, &source, acceptance);
                if let Some(missing) = missing {
                    self.fetch_missing(source, missing);
                }
            }
            Command::Fetch { peer, request } => {
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                self.pending_fetches.insert(id, Purpose::Entries);
            }
            Command::Peers(reply) => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::CompareAll => {
                let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                self.retry.extend(peers);
            }
            Command::Dial(addr) => {
                if let Err(e) = self.swarm.dial(addr.clone()) {
                    tracing::warn!(%addr, error = %e, "cannot dial");
                }
            }
            Command::Respond {
                peer,
                channel,
                response,
            } => {
                if self
                    .swarm
                    .behaviour_mut()
                    .sync
                    .send_response(channel, response)
                    .is_err()
                {
                    tracing::debug!(%peer, "sync response not delivered");
                }
            }
            Command::Ask {
                peer,
                request,
                purpose,
            } => {
                let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
                self.pending_fetches.insert(id, purpose);
            }
        }
    }

    /// Pulls what an entry waits for from the peer that sent it.
    fn fetch_missing(&mut self, peer: PeerId, missing: Missing) {
        let request = match missing {
            Missing::Seq(feed, _) | Missing::Feed(feed) => {
                let from_seq = self
                    .ledger
                    .head(&feed)
                    .ok()
                    .flatten()
                    .map(|s| s.head_seq + 1)
                    .unwrap_or(0);
                SyncRequest::Range {
                    feed: feed.0,
                    from_seq,
                    limit: MAX_RANGE,
                }
            }
            Missing::Entry(id) => SyncRequest::Entries { ids: vec![id.0] },
        };
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
        self.pending_fetches.insert(id, Purpose::Entries);
    }

    /// Starts an anti-entropy round with `peer`: compare the top-level digests.
    fn start_round(&mut self, peer: PeerId) {
        tracing::debug!(%peer, "anti-entropy round");
        let request = SyncRequest::Digests { prefix: Vec::new() };
        let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
        self.pending_fetches
            .insert(id, Purpose::Digests(Vec::new()));
    }

    fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.gossip(propagation_source, message_id, message.data),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(request_response::Event::Message {
                peer,
                message,
                ..
            })) => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => self.serve(peer, request, channel),
                request_response::Message::Response {
                    request_id,
                    response,
                } => match self.pending_fetches.remove(&request_id) {
                    Some(Purpose::Digests(prefix)) => self.compare_digests(peer, prefix, response),
                    Some(Purpose::Heads) => self.compare_heads(peer, response),
                    Some(Purpose::Entries) | None => self.received(peer, response),
                },
            },
            SwarmEvent::Behaviour(BehaviourEvent::Sync(
                request_response::Event::OutboundFailure {
                    peer,
                    request_id,
                    error,
                    ..
                },
            )) => {
                let purpose = self.pending_fetches.remove(&request_id);
                tracing::debug!(%peer, %error, ?purpose, "sync request failed; the peer will be compared again");
                self.retry.insert(peer);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) if info.protocol_version != self.identify_version => {
                tracing::warn!(%peer_id, version = %info.protocol_version, "peer of another network; disconnecting");
                let _ = self.swarm.disconnect_peer_id(peer_id);
            }
            // Compare with a peer once it has subscribed to our topic: anything pushed before
            // that moment did not reach it, and the round pulls it.
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed {
                peer_id,
                ..
            })) => {
                self.start_round(peer_id);
            }
            SwarmEvent::ConnectionEstablished { peer_id, .. } => {
                tracing::debug!(%peer_id, "peer connected");
            }
            SwarmEvent::ConnectionClosed { peer_id, .. } => {
                tracing::debug!(%peer_id, "peer disconnected")
            }
            _ => {}
        }
    }

    /// A pushed entry: through the write path, then tell gossipsub whether to forward it.
    fn gossip(&mut self, source: PeerId, id: MessageId, data: Vec<u8>) {
        let entry = match Entry::decode(&data) {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(%source, reason = e.code(), "undecodable gossip");
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&id, &source, MessageAcceptance::Reject);
                return;
            }
        };
        let ledger = self.ledger.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let (acceptance, missing) = match ledger.submit(vec![entry]).await.map(|mut o| o.pop())
            {
                Ok(Some(Outcome::Accepted { .. } | Outcome::Duplicate { .. })) => {
                    (MessageAcceptance::Accept, None)
                }
                // An equivocation is a valid signed entry: forwarding it spreads the proof.
                Ok(Some(Outcome::Equivocation { .. })) => (MessageAcceptance::Accept, None),
                Ok(Some(Outcome::Pending { missing, .. })) => {
                    (MessageAcceptance::Ignore, Some(missing))
                }
                Ok(Some(Outcome::Rejected { .. })) => (MessageAcceptance::Reject, None),
                Ok(Some(Outcome::PendingFull { .. })) | Ok(None) | Err(_) => {
                    (MessageAcceptance::Ignore, None)
                }
            };
            let _ = tx
                .send(Command::Validated {
                    id,
                    source,
                    acceptance,
                    missing,
                })
                .await;
        });
    }

    /// Entries pulled from a peer: through the write path; keep pulling while they leave gaps.
    fn received(&mut self, peer: PeerId, response: SyncResponse) {
        let SyncResponse::Entries(raw) = response else {
            return;
        };
        let full_page = raw.len() as u32 >= MAX_RANGE;
        let several_feeds = sync::entries_span_feeds(&raw);
        let entries: Vec<Entry> = raw.iter().filter_map(|b| Entry::decode(b).ok()).collect();
        if entries.is_empty() {
            return;
        }
        let ledger = self.ledger.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let last = entries.last().map(|e| (e.feed, e.seq));
            let Ok(outcomes) = ledger.submit(entries).await else {
                return;
            };
            if outcomes
                .iter()
                .any(|o| matches!(o, Outcome::Accepted { .. }))
            {
                let _ = tx.send(Command::CompareAll).await;
            }
            // Anything still missing is pulled from the same peer (a predecessor, another feed).
            let mut asked = HashSet::new();
            for outcome in outcomes {
                if let Outcome::Pending { missing, .. } = outcome
                    && asked.insert(missing)
                    && asked.len() <= MAX_IDS
                {
                    let request = match missing {
                        Missing::Entry(id) => SyncRequest::Entries { ids: vec![id.0] },
                        Missing::Seq(feed, _) | Missing::Feed(feed) => {
                            let from_seq = ledger
                                .head(&feed)
                                .ok()
                                .flatten()
                                .map(|s| s.head_seq + 1)
                                .unwrap_or(0);
                            SyncRequest::Range {
                                feed: feed.0,
                                from_seq,
                                limit: MAX_RANGE,
                            }
                        }
                    };
                    let _ = tx.send(Command::Fetch { peer, request }).await;
                }
            }
            if full_page && several_feeds {
                // A batch of ranges was cut at the size limit: compare again for the rest.
                let request = SyncRequest::Digests { prefix: Vec::new() };
                let _ = tx
                    .send(Command::Ask {
                        peer,
                        request,
                        purpose: Purpose::Digests(Vec::new()),
                    })
                    .await;
            } else if full_page && let Some((feed, seq)) = last {
                let _ = tx
                    .send(Command::Fetch {
                        peer,
                        request: SyncRequest::Range {
                            feed: feed.0,
                            from_seq: seq + 1,
                            limit: MAX_RANGE,
                        },
                    })
                    .await;
            }
        });
    }
}
