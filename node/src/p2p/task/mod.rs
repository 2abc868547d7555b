//! The swarm task: owns the swarm, reacts to its events and to [`Command`]s, paces outbound sync
//! requests per peer, keeps each peer's sync state, and applies [`Discipline`]. What peers send
//! in (pushed and pulled entries) goes through the write path in `ingest`.
//!
//! # What runs where
//! The swarm task must keep polling the swarm, so it does only what costs memory reads: swarm
//! events, commands, pacing, discipline, decoding what peers send, publishing accepted entries.
//! Anything that reads the store, writes it, or verifies signatures runs elsewhere and comes
//! back to the task as a [`Command`] on its own channel, or (for the lookups of waiting gossip
//! messages, [`waiting`]) as a finished blocking task it polls in its loop:
//! - submitting pushed and pulled entries (`ingest`): a tokio task awaits the ledger's write path
//!   (which verifies signatures on blocking threads and writes on the writer thread), then sends
//!   its verdicts back; the pulls it asks for that read feed heads are computed on a blocking
//!   thread;
//! - answering peers' pull requests and comparing digests and heads (`sync`): a tokio task runs
//!   the store reads on a blocking thread, then sends the response or the pulls back;
//! - whether a waiting gossip message is settled, and what to pull for it ([`waiting`]): a
//!   blocking task whose answer the task polls in `lookups`.
//! - witnessing (`cosign`): a tokio task awaits the log module (signature checks on blocking
//!   threads, saves through the ledger's writer) and sends its conclusion back.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use libp2p::gossipsub::{IdentTopic, MessageId};
use libp2p::request_response::OutboundRequestId;
use libp2p::{Multiaddr, PeerId, Swarm};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::behaviour::Behaviour;
use super::codec::WireCounters;
use super::cosigning::LogParts;
use super::discipline::Discipline;
use super::{Command, Purpose};
use crate::ledger::Ledger;

mod commands;
mod cosign;
mod events;
mod housekeeping;
mod ingest;
mod outbound;
mod redial;
mod unpublished;
mod waiting;

use self::ingest::Recent;
use self::outbound::Outbound;
use self::redial::{MemberAddrs, bootstrap_peers};
use self::unpublished::Unpublished;
use self::waiting::Looked;

/// How often every connected peer is compared with (anti-entropy), besides on connecting.
const ROUND_EVERY: Duration = Duration::from_secs(30);
/// How often bans, scores and cut-short rounds are looked at.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(1);
/// How often the Kademlia routing table is refreshed while peers are connected.
const REBOOTSTRAP_EVERY: Duration = Duration::from_secs(300);
/// Sync requests in flight to one peer at most; the rest wait in its queue.
const MAX_IN_FLIGHT: usize = 32;
/// How often requests held back by their pace are looked at.
const PACE_EVERY: Duration = Duration::from_millis(20);
/// Requests queued for one peer at most (beyond, the round is cut short and retried).
const MAX_QUEUED: usize = 8192;
/// How long a gossip message whose entry waits for a predecessor is kept open (gossipsub keeps
/// messages for 6 s); later, the entry is still accepted when it can be, and spread by
/// anti-entropy instead of gossip.
const WAIT_FOR_PREDECESSOR: Duration = Duration::from_secs(5);
/// How often connected peers' checkpoints are fetched, checked and cosigned.
const WITNESS_EVERY: Duration = Duration::from_secs(2);
/// Connections the node seeks through discovery (it accepts more).
const TARGET_PEERS: usize = 16;
/// How often the bootstrap peers and member nodes the node is not connected to are dialled
/// again (a peer that restarted, a ban that ran out): nothing else dials them once the node has
/// no connection left, since Kademlia is refreshed through connected peers only.
const REDIAL_EVERY: Duration = Duration::from_secs(30);
/// Addresses kept for one member node to dial it again at ([`MemberAddrs`]).
const ADDRS_PER_MEMBER: usize = 4;

/// Sync state of one connected peer.
#[derive(Debug, Clone, Default)]
struct PeerState {
    address: String,
    connected_ms: u64,
    last_round_ms: u64,
    in_sync_ms: u64,
    lag_feeds: u64,
    entries_pulled: u64,
}

pub(super) struct Task {
    pub(super) swarm: Swarm<Behaviour>,
    topic: IdentTopic,
    pub(super) ledger: Ledger,
    pub(super) log: LogParts,
    pub(super) tx: mpsc::Sender<Command>,
    identify_version: String,
    /// The sync protocol this node serves and asks with.
    sync_protocol: String,
    counters: Arc<WireCounters>,
    requests: HashMap<OutboundRequestId, (PeerId, Purpose)>,
    outbound: HashMap<PeerId, Outbound>,
    /// Peers whose last round was cut short (a request failed): compared again within a second.
    retry: HashSet<PeerId>,
    discipline: Discipline,
    peers: HashMap<PeerId, PeerState>,
    /// Blocked by operator decision (not lifted when a ban runs out).
    blocked: HashSet<PeerId>,
    /// The bootstrap peers (addresses ending in `/p2p/<peer id>`): dialled at start, dialled
    /// again while not connected ([`REDIAL_EVERY`]), and, like member nodes, never banned for
    /// their gossipsub score alone ([`gossip_sentence`](super::discipline::gossip_sentence)).
    bootstrap: Vec<(PeerId, Multiaddr)>,
    last_redial: Instant,
    /// Member and bootstrap peers below the graylist, kept connected (warned about once).
    graylisted: HashSet<PeerId>,
    /// Where member nodes were reached: the only addresses they are dialled again at.
    member_addrs: MemberAddrs,
    last_round_ms: u64,
    last_bootstrap: Option<Instant>,
    /// Gossip messages whose entries wait for a predecessor: their sender and since when.
    waiting: HashMap<MessageId, (PeerId, Instant)>,
    /// Ids of recent gossip messages received: accepting such an entry forwards it, so it is
    /// not published again.
    received: Recent,
    /// Accepted entries the task could not keep up with publishing.
    unpublished: Unpublished,
    /// Store reads for waiting gossip messages, running on blocking threads ([`waiting`]).
    lookups: FuturesUnordered<JoinHandle<Looked>>,
}

impl Task {
    pub(super) fn new(
        swarm: Swarm<Behaviour>,
        topic: IdentTopic,
        ledger: Ledger,
        log: LogParts,
        tx: mpsc::Sender<Command>,
        genesis_digest: &str,
        counters: Arc<WireCounters>,
    ) -> Self {
        let identify_version = crate::p2p::protocol::identify_version(genesis_digest);
        let sync_protocol = crate::p2p::protocol::sync_protocol(genesis_digest);
        Self {
            swarm,
            topic,
            ledger,
            log,
            tx,
            identify_version,
            sync_protocol,
            counters,
            requests: HashMap::new(),
            outbound: HashMap::new(),
            retry: HashSet::new(),
            discipline: Discipline::default(),
            peers: HashMap::new(),
            blocked: HashSet::new(),
            bootstrap: Vec::new(),
            last_redial: Instant::now(),
            graylisted: HashSet::new(),
            member_addrs: MemberAddrs::default(),
            last_round_ms: 0,
            last_bootstrap: None,
            waiting: HashMap::new(),
            received: Recent::default(),
            unpublished: Unpublished::default(),
            lookups: FuturesUnordered::new(),
        }
    }

    /// The bootstrap addresses (those that name their peer; the start dials them all).
    pub(super) fn with_bootstrap(mut self, addrs: &[Multiaddr]) -> Self {
        self.bootstrap = bootstrap_peers(addrs);
        self
    }

    pub(super) async fn run(mut self, mut rx: mpsc::Receiver<Command>, cancel: CancellationToken) {
        let mut accepted = self.ledger.accepted();
        let mut rounds = tokio::time::interval(ROUND_EVERY);
        let mut housekeeping = tokio::time::interval(HOUSEKEEPING_EVERY);
        let mut witnessing = tokio::time::interval(WITNESS_EVERY);
        let mut pacing = tokio::time::interval(PACE_EVERY);
        pacing.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = housekeeping.tick() => self.housekeeping(),
                _ = witnessing.tick() => self.witness_round(),
                _ = pacing.tick() => self.drain(),
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
                    Ok(announced) => self.publish(announced.encoded.clone()),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        // Reported by housekeeping, summed: at full ingest this happens many
                        // times a second.
                        self.unpublished.add(n);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                },
                Some(looked) = self.lookups.next(), if !self.lookups.is_empty() => {
                    self.looked_up(looked)
                }
                event = self.swarm.select_next_some() => self.event(event),
            }
        }
        tracing::debug!("p2p task stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::p2p::behaviour::GRAYLIST_SCORE;
    use crate::p2p::discipline::{Offence, Sentence};

    /// The wiring, with two real swarms on loopback (no sleeping: each step waits for the
    /// swarm events it needs): a genesis member that is not a bootstrap peer, whose gossipsub
    /// score falls below the graylist, stays connected through housekeeping (only offences
    /// ban a member); once disconnected, it is dialled again at the address where it was
    /// reached, not one Kademlia holds (its Kademlia entry is removed first).
    #[tokio::test]
    async fn a_graylisted_member_stays_connected_and_is_dialled_again_where_it_was_reached() {
        use crate::members::Members;
        use crate::p2p::behaviour::Options;
        use crate::p2p::membership::MemberPeers;
        use consent_proto::fixtures;

        let digest = "cd".repeat(32);
        let libp2p_key = |key: &consent_proto::keys::SecretKey| {
            let mut seed = key.to_seed();
            libp2p::identity::Keypair::ed25519_from_bytes(seed.as_mut()).expect("a key")
        };
        let (node_key, member_key) = (fixtures::key("node"), fixtures::key("member"));
        let members = Members::listed([member_key.public()], false);
        let options = Options {
            members: MemberPeers::new(&members),
            ..Options::default()
        };
        let topic = IdentTopic::new(crate::p2p::protocol::topic(&digest));
        let listen = || {
            vec![
                "/ip4/127.0.0.1/tcp/0"
                    .parse::<Multiaddr>()
                    .expect("multiaddr"),
            ]
        };

        let mut member = crate::p2p::build_swarm(
            libp2p_key(&member_key),
            &digest,
            &options,
            Arc::new(WireCounters::default()),
        )
        .expect("member swarm");
        member
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic)
            .expect("subscribe");
        let member_addr = crate::p2p::listen_all(&mut member, listen())
            .await
            .expect("listen")
            .remove(0);
        let member_id = *member.local_peer_id();

        let (ledger, writer) = crate::ledger::in_memory(HashSet::new())();
        let log = LogParts {
            checkpoints: crate::log::checkpoints::Checkpoints::open(
                ledger.clone(),
                node_key.clone(),
                members.clone(),
            )
            .expect("checkpoints"),
            witness: crate::log::witness::Witness::open(
                ledger.clone(),
                node_key.clone(),
                members.clone(),
            )
            .expect("witness"),
        };
        let counters = Arc::new(WireCounters::default());
        let mut swarm =
            crate::p2p::build_swarm(libp2p_key(&node_key), &digest, &options, counters.clone())
                .expect("node swarm");
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(&topic)
            .expect("subscribe");
        crate::p2p::listen_all(&mut swarm, listen())
            .await
            .expect("listen");
        let (tx, _rx) = mpsc::channel(64);
        let mut task = Task::new(swarm, topic, ledger.clone(), log, tx, &digest, counters);

        // Runs both swarms, the node's through the task's event handling, until `done`.
        async fn until(
            task: &mut Task,
            member: &mut Swarm<Behaviour>,
            what: &str,
            done: impl Fn(&Task) -> bool,
        ) {
            let reached = tokio::time::timeout(Duration::from_secs(30), async {
                while !done(&*task) {
                    tokio::select! {
                        event = task.swarm.select_next_some() => task.event(event),
                        _ = member.select_next_some() => {}
                    }
                }
            })
            .await;
            assert!(reached.is_ok(), "{what}");
        }

        task.swarm.dial(member_addr).expect("dial");
        until(&mut task, &mut member, "connected, scored", |t| {
            t.swarm.is_connected(&member_id)
                && t.swarm
                    .behaviour()
                    .gossipsub
                    .peer_score(&member_id)
                    .is_some()
                && !t.member_addrs.of(&member_id).is_empty()
        })
        .await;

        // Offences short of a ban (90 of 100) bring its gossipsub score under the graylist.
        let now = Instant::now();
        for offence in [
            Offence::InvalidEntry,
            Offence::InvalidEntry,
            Offence::InvalidEntry,
            Offence::InvalidEntry,
            Offence::BadMessage,
        ] {
            assert_eq!(
                task.discipline.offend(member_id, offence, now),
                Sentence::Keep
            );
        }
        task.housekeeping();
        let score = task.swarm.behaviour().gossipsub.peer_score(&member_id);
        assert!(score.is_some_and(|s| s < GRAYLIST_SCORE), "{score:?}");
        assert!(
            task.graylisted.contains(&member_id),
            "graylisted, warned once"
        );
        assert!(
            task.swarm.is_connected(&member_id),
            "a member stays connected"
        );
        assert!(!task.discipline.is_banned(&member_id, Instant::now()));

        let _ = task.swarm.disconnect_peer_id(member_id);
        until(&mut task, &mut member, "disconnected", |t| {
            !t.swarm.is_connected(&member_id)
        })
        .await;
        task.swarm.behaviour_mut().kad.remove_peer(&member_id);
        task.redial(Instant::now());
        until(
            &mut task,
            &mut member,
            "dialled again where it was reached",
            |t| t.swarm.is_connected(&member_id),
        )
        .await;
        drop(task);
        ledger.shutdown().await;
        drop(ledger);
        writer.join();
    }
}
