//! Replication between nodes of one network (libp2p): TCP and QUIC with Noise and Yamux,
//! identify, Kademlia and optional mDNS for discovery, gossipsub to push new entries, and a
//! request-response protocol to pull what is missing. One task owns the swarm; the rest of the
//! node talks to it through [`P2pHandle`].
//!
//! Every entry from a peer goes through the ledger's one write path ([`Ledger::submit`]) before
//! gossipsub is told to accept (and forward) it: invalid entries are rejected and count against
//! the peer; entries waiting for a predecessor or a referenced entry are not forwarded, and the
//! missing entries are pulled from the peer that sent them. Peers that keep misbehaving are
//! banned (see [`discipline`]).
//!
//! # Layout
//! - [`protocol`]: names bound to the genesis, sync messages, size limits.
//! - [`behaviour`]: the combined `NetworkBehaviour` (and gossipsub's scoring parameters).
//! - [`codec`]: the sync codec, counting bytes on the wire.
//! - [`discipline`]: offences, rate limits, bans.
//! - [`membership`]: the genesis's member nodes: reserved slots, freshness, `members_only`.
//! - [`cosigning`]: the checkpoint and cosignature requests, the answering side (serving
//!   checkpoints with consistency proofs, taking cosignatures and fork evidence).
//! - `task`: the swarm task: events, commands, outbound pacing, per-peer sync state; its
//!   `cosign` part asks peers for checkpoints and cosigns them.
//! - `sync`: answering pull requests, and anti-entropy (comparing digests of heads top-down).

pub mod behaviour;
pub mod codec;
pub(crate) mod cosigning;
pub(crate) mod discipline;
pub(crate) mod membership;
pub mod protocol;
mod sync;
mod task;

use std::sync::Arc;

use libp2p::gossipsub::{IdentTopic, MessageAcceptance, MessageId};
use libp2p::request_response::ResponseChannel;
use libp2p::swarm::SwarmEvent;
use libp2p::{Multiaddr, PeerId, identity, noise, tcp, yamux};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use consent_proto::validate::Missing;

use self::behaviour::{Behaviour, Options};
use self::codec::WireCounters;
use self::discipline::Offence;
use self::protocol::{SyncRequest, SyncResponse};
use crate::ledger::Ledger;

/// P2P settings.
#[derive(Debug, Clone, Default)]
pub struct P2pConfig {
    /// Listen addresses (multiaddrs), e.g. `/ip4/127.0.0.1/tcp/0`, `/ip4/0.0.0.0/udp/0/quic-v1`.
    pub listen: Vec<Multiaddr>,
    /// Peers to dial at start (multiaddrs ending in `/p2p/<peer id>`); also Kademlia's seeds.
    /// Dialled again every 30 s while not connected, and never banned for their gossipsub score
    /// alone (see `discipline::gossip_sentence`).
    pub bootstrap: Vec<Multiaddr>,
    /// Discover peers on the local network with mDNS.
    pub mdns: bool,
    /// The network's member nodes, from the genesis (none listed by default).
    pub members: crate::members::Members,
}

/// Why the p2p layer could not start.
#[derive(Debug, thiserror::Error)]
pub enum P2pError {
    /// The identity or transport could not be built.
    #[error("p2p set-up failed: {0}")]
    Setup(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A listen address could not be used.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: Multiaddr,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A refusal for a failure on this node's side (storage, a failed task): the cause goes to the
/// log, the peer gets a fixed text — no engine or panic text crosses the network.
pub(crate) fn refused_internal(cause: &dyn std::fmt::Display) -> protocol::SyncResponse {
    tracing::error!(error = %cause, "a sync request failed on this node");
    protocol::SyncResponse::Refused("this node failed to answer; ask another node".into())
}

/// What the node (and the task's own helpers) ask of the swarm task.
enum Command {
    /// The write path's verdict on a gossip message.
    Validated {
        id: MessageId,
        source: PeerId,
        acceptance: MessageAcceptance,
    },
    /// A gossip message whose entry waits for `missing`: its verdict is given once the entry is
    /// accepted (then it is forwarded) or after a time-out.
    Waiting {
        id: MessageId,
        source: PeerId,
        entry: consent_proto::ids::EntryId,
        feed: consent_proto::ids::FeedId,
        missing: Missing,
    },
    /// Send a sync request (paced per peer); its answer is handled according to `purpose`.
    Ask {
        peer: PeerId,
        request: SyncRequest,
        purpose: Purpose,
    },
    /// Send a computed response.
    Respond {
        peer: PeerId,
        channel: ResponseChannel<SyncResponse>,
        response: SyncResponse,
    },
    /// A peer did something wrong.
    Offend { peer: PeerId, offence: Offence },
    /// Entries from a peer were refused for belonging to another branch of a forked feed: no
    /// offence, but they count against its budget for such entries.
    OtherBranch { peer: PeerId, entries: usize },
    /// The top-level digests were compared with a peer: `differing` buckets differ.
    Compared { peer: PeerId, differing: usize },
    /// Heads were compared with a peer: it is ahead in `feeds` feeds.
    Behind { peer: PeerId, feeds: usize },
    /// Entries pulled from a peer were accepted: compare with every connected peer soon (gossip
    /// will not push them again, since their message ids were already seen).
    Pulled { peer: PeerId, accepted: usize },
    /// Evidence of a fork, new here: tell every connected peer but `from`.
    Spread {
        from: Option<PeerId>,
        fork: crate::log::witness::Fork,
    },
    /// Connected peers.
    Peers(oneshot::Sender<Vec<PeerId>>),
    /// Replication status.
    Status(oneshot::Sender<P2pStatus>),
    /// Dial a peer.
    Dial(Multiaddr),
    /// Ban or unban a peer by operator (or test) decision.
    Block { peer: PeerId, blocked: bool },
}

/// What an outbound request was for.
#[derive(Debug, Clone)]
enum Purpose {
    /// Entries to submit.
    Entries,
    /// Child digests under a prefix.
    Digests(Vec<u8>),
    /// Entries of one feed from a seq (a continuation, or another branch of a forked feed).
    Branch {
        /// The feed asked.
        feed: consent_proto::ids::FeedId,
        /// The first seq asked.
        from_seq: u64,
    },
    /// A page of heads under a prefix, after a feed.
    Heads {
        /// The prefix asked.
        prefix: Vec<u8>,
        /// The feed the page starts after.
        after: Option<[u8; 32]>,
    },
    /// A peer's latest checkpoint with a proof from this size (witnessing).
    Checkpoint(u64),
    /// A peer's checkpoint at an earlier size (a proof failed).
    History,
    /// Nothing to do with the answer.
    Done,
}

/// Replication status of one connected peer (see `PeerStatus` in `node.proto`).
#[derive(Debug, Clone, PartialEq)]
pub struct PeerReport {
    /// Peer id.
    pub peer_id: PeerId,
    /// Address of the connection.
    pub address: String,
    /// Connected since, Unix ms.
    pub connected_ms: u64,
    /// Last anti-entropy round started, Unix ms (0: none).
    pub last_round_ms: u64,
    /// Last comparison that found identical heads, Unix ms (0: none).
    pub in_sync_ms: u64,
    /// Feeds the peer was ahead in at the last comparison of heads.
    pub lag_feeds: u64,
    /// Entries pulled from it and accepted.
    pub entries_pulled: u64,
    /// Offences recorded against it.
    pub offences: u64,
    /// Its gossipsub score.
    pub score: f64,
}

/// Replication status of the node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct P2pStatus {
    /// Connected peers.
    pub peers: Vec<PeerReport>,
    /// Last anti-entropy round with any peer, Unix ms (0: none).
    pub last_round_ms: u64,
    /// Peers banned now.
    pub banned: usize,
    /// Sync bytes sent.
    pub bytes_sent: u64,
    /// Sync bytes received.
    pub bytes_received: u64,
}

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

    /// Replication status (empty once the task has stopped).
    pub async fn status(&self) -> P2pStatus {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::Status(reply)).await.is_err() {
            return P2pStatus::default();
        }
        rx.await.unwrap_or_default()
    }

    /// Cuts a peer off (closes its connections, refuses new ones) until [`Self::unblock`].
    pub async fn block(&self, peer: PeerId) {
        let _ = self
            .tx
            .send(Command::Block {
                peer,
                blocked: true,
            })
            .await;
    }

    /// Lets a blocked or banned peer connect again.
    pub async fn unblock(&self, peer: PeerId) {
        let _ = self
            .tx
            .send(Command::Block {
                peer,
                blocked: false,
            })
            .await;
    }
}

/// Builds the swarm from the node's key, listens, dials the bootstrap peers and runs the task
/// until `cancel` fires. Returns once every listen address is bound.
pub async fn start(
    node_key: &consent_proto::keys::SecretKey,
    genesis_digest: &str,
    config: P2pConfig,
    ledger: Ledger,
    log: cosigning::LogParts,
    cancel: CancellationToken,
) -> Result<(P2pHandle, tokio::task::JoinHandle<()>), P2pError> {
    let setup = |e: Box<dyn std::error::Error + Send + Sync>| P2pError::Setup(e);
    let mut seed = node_key.to_seed();
    let key = identity::Keypair::ed25519_from_bytes(seed.as_mut()).map_err(|e| setup(e.into()))?;
    let options = Options {
        mdns: config.mdns,
        members: membership::MemberPeers::new(&config.members),
        ..Options::default()
    };
    let counters = Arc::new(WireCounters::default());
    let mut swarm = build_swarm(key, genesis_digest, &options, counters.clone())?;
    let topic = IdentTopic::new(protocol::topic(genesis_digest));
    swarm
        .behaviour_mut()
        .gossipsub
        .subscribe(&topic)
        .map_err(|e| setup(e.into()))?;
    let peer_id = *swarm.local_peer_id();
    let listen = listen_all(&mut swarm, config.listen).await?;
    for addr in &config.bootstrap {
        // Seeds for Kademlia as well as first connections.
        if let Some(libp2p::multiaddr::Protocol::P2p(peer)) = addr.iter().last() {
            swarm.behaviour_mut().kad.add_address(&peer, addr.clone());
        }
        if let Err(e) = swarm.dial(addr.clone()) {
            tracing::warn!(%addr, error = %e, "cannot dial bootstrap peer");
        }
    }
    let (tx, rx) = mpsc::channel(4096);
    let handle = P2pHandle {
        tx: tx.clone(),
        peer_id,
        listen: Arc::new(listen),
    };
    let task = task::Task::new(swarm, topic, ledger, log, tx, genesis_digest, counters)
        .with_bootstrap(&config.bootstrap);
    let join = tokio::spawn(task.run(rx, cancel));
    Ok((handle, join))
}

/// What serving a peer's sync request costs from that peer's rate budget, or why the request
/// breaks the protocol (it is refused and the peer scored).
pub fn request_cost(request: &protocol::SyncRequest) -> Result<f64, String> {
    sync::cost(request)
}

/// The swarm: TCP and QUIC transports, the behaviour, a long idle timeout (peers stay connected
/// to receive pushes).
pub fn build_swarm(
    key: identity::Keypair,
    genesis_digest: &str,
    options: &Options,
    counters: Arc<WireCounters>,
) -> Result<libp2p::Swarm<Behaviour>, P2pError> {
    let setup = |e: Box<dyn std::error::Error + Send + Sync>| P2pError::Setup(e);
    let swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| setup(e.into()))?
        .with_quic()
        .with_behaviour(|key| {
            Behaviour::new(key, genesis_digest, options, counters)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        })
        .map_err(|e| setup(e.into()))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(std::time::Duration::from_secs(600)))
        .build();
    Ok(swarm)
}

/// Listens on every address and waits until each is bound (port 0 becomes a real port); returns
/// them with `/p2p/<peer id>` appended.
pub async fn listen_all(
    swarm: &mut libp2p::Swarm<Behaviour>,
    addrs: Vec<Multiaddr>,
) -> Result<Vec<Multiaddr>, P2pError> {
    use futures::StreamExt;
    let peer_id = *swarm.local_peer_id();
    let mut listen = Vec::new();
    for addr in addrs {
        swarm
            .listen_on(addr.clone())
            .map_err(|e| P2pError::Listen {
                addr: addr.clone(),
                source: e.into(),
            })?;
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
                        source: error.into(),
                    });
                }
                _ => {}
            }
        }
    }
    Ok(listen)
}
