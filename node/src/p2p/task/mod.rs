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

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageId};
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{OutboundRequestId, ResponseChannel};
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::{Multiaddr, PeerId, Swarm};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::behaviour::{Behaviour, GRAYLIST_SCORE};
use super::codec::WireCounters;
use super::cosigning::LogParts;
use super::discipline::{Discipline, Offence, Pace, Sentence, gossip_sentence};
use super::protocol::{SyncRequest, SyncResponse};
use super::{Command, P2pStatus, PeerReport, Purpose, sync};
use crate::ledger::Ledger;

mod cosign;
mod events;
mod ingest;
mod unpublished;
mod waiting;

use self::ingest::Recent;
use self::unpublished::Unpublished;
use self::waiting::{Looked, Lookup};

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

/// Requests to one peer: how many are in flight, the rest in order, and their pace.
#[derive(Debug, Default)]
struct Outbound {
    in_flight: usize,
    queue: VecDeque<(SyncRequest, Purpose)>,
    pace: Pace,
}

impl Outbound {
    /// Whether the next request may go now: a free slot and budget for its cost.
    fn may_send(&mut self, request: &SyncRequest) -> bool {
        let cost = sync::cost(request).unwrap_or(1.0);
        self.in_flight < MAX_IN_FLIGHT && self.pace.take(cost, Instant::now())
    }

    /// The next queued request, if it may go now.
    fn next_to_send(&mut self) -> Option<(SyncRequest, Purpose)> {
        let cost = sync::cost(&self.queue.front()?.0).unwrap_or(1.0);
        if self.in_flight < MAX_IN_FLIGHT && self.pace.take(cost, Instant::now()) {
            self.in_flight += 1;
            self.queue.pop_front()
        } else {
            None
        }
    }
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
    /// their gossipsub score alone ([`gossip_sentence`]).
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

    /// Says how many accepted entries were not pushed since the last report, at most every
    /// 10 s ([`Unpublished`]): a warning when peers are connected (they pull them at their next
    /// round), debug when nobody would have received them anyway.
    fn report_unpublished(&mut self, now: Instant, peers: usize) {
        let Some(missed) = self.unpublished.take_due(now) else {
            return;
        };
        if peers > 0 {
            tracing::warn!(
                missed,
                peers,
                "p2p fell behind the ledger; peers will pull what was not pushed"
            );
        } else {
            tracing::debug!(missed, "accepted entries not published (no peer connected)");
        }
    }

    /// Once a second: lift expired bans, ban peers whose gossipsub score fell too low, feed
    /// offence scores to gossipsub, retry rounds that were cut short, and every
    /// [`REDIAL_EVERY`] dial the bootstrap peers and members not connected.
    fn housekeeping(&mut self) {
        let now = Instant::now();
        for peer in self.discipline.expired_bans(now) {
            if !self.blocked.contains(&peer) {
                tracing::info!(%peer, "ban lifted");
                self.swarm.behaviour_mut().unban(peer);
            }
        }
        let connected: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        self.report_unpublished(now, connected.len());
        // Kademlia's own periodic bootstrap is off: it warned "no known peers" at every start of
        // a lone node. Refresh the routing table from here, only when there is someone to ask.
        if !connected.is_empty()
            && self
                .last_bootstrap
                .is_none_or(|t| t.elapsed() >= REBOOTSTRAP_EVERY)
        {
            self.bootstrap_soon();
        }
        self.graylisted.retain(|p| connected.contains(p));
        for peer in &connected {
            let offence_score = self.discipline.score(peer, now);
            let named = self.is_named(peer);
            let gossip = &mut self.swarm.behaviour_mut().gossipsub;
            gossip.set_application_score(peer, -offence_score);
            let Some(score) = gossip.peer_score(peer) else {
                continue;
            };
            if score >= GRAYLIST_SCORE {
                self.graylisted.remove(peer);
                continue;
            }
            // Graylisted: gossipsub ignores it from now on (so its score stops falling). The
            // parts are logged: the node's own offence score enters as the application score,
            // the rest is gossipsub's (invalid messages, protocol slips).
            if gossip_sentence(score, named) == Sentence::Ban {
                tracing::warn!(
                    %peer,
                    score,
                    offence_score,
                    gossip_part = score + offence_score,
                    "gossipsub score too low; banning"
                );
                self.discipline.ban(*peer, now);
                self.swarm.behaviour_mut().ban(*peer);
            } else if self.graylisted.insert(*peer) {
                tracing::warn!(
                    %peer,
                    score,
                    offence_score,
                    gossip_part = score + offence_score,
                    "gossipsub score too low; its gossip is ignored until it recovers, but a member or bootstrap peer stays connected (only its offences ban it)"
                );
            }
        }
        if self.last_redial.elapsed() >= REDIAL_EVERY {
            self.last_redial = Instant::now();
            self.redial(now);
        }
        let expired: Vec<(MessageId, PeerId)> = self
            .waiting
            .iter()
            .filter(|(_, (_, since))| since.elapsed() > WAIT_FOR_PREDECESSOR)
            .map(|(id, (source, _))| (id.clone(), *source))
            .collect();
        for (id, source) in expired {
            self.waiting.remove(&id);
            self.swarm
                .behaviour_mut()
                .gossipsub
                .report_message_validation_result(&id, &source, MessageAcceptance::Ignore);
        }
        let due: Vec<PeerId> = self
            .retry
            .drain()
            .filter(|p| self.swarm.is_connected(p))
            .collect();
        for peer in due {
            self.start_round(peer);
        }
    }

    /// A newly accepted entry: forwarded if it came by gossip and waited for a predecessor,
    /// published otherwise.
    fn publish(&mut self, bytes: Vec<u8>) {
        let id = gossipsub::MessageId::from(blake3::hash(&bytes).as_bytes().to_vec());
        if let Some((source, _)) = self.waiting.remove(&id) {
            let forwarded = self
                .swarm
                .behaviour_mut()
                .gossipsub
                .report_message_validation_result(&id, &source, MessageAcceptance::Accept);
            if !forwarded {
                // Gone from gossipsub's cache (and its id is in the seen cache, so it cannot be
                // published again): peers get it by anti-entropy, now.
                let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
                self.retry.extend(peers);
            }
            return;
        }
        if self.received.contains(&id) {
            return;
        }
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

    /// What the node, or one of the task's own helpers, asks of the task.
    fn command(&mut self, command: Command) {
        match command {
            Command::Validated {
                id,
                source,
                acceptance,
            } => {
                self.swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&id, &source, acceptance);
            }
            Command::Waiting {
                id,
                source,
                entry,
                feed,
                missing,
            } => self.wait(Lookup {
                id,
                source,
                entry,
                feed,
                missing,
            }),
            Command::Ask {
                peer,
                request,
                purpose,
            } => self.ask(peer, request, purpose),
            Command::Spread { from, fork } => self.spread(from, fork),
            Command::Respond {
                peer,
                channel,
                response,
            } => self.respond(peer, channel, response),
            Command::Offend { peer, offence } => self.offend(peer, offence),
            Command::OtherBranch { peer, entries } => {
                self.discipline.other_branch(peer, entries, Instant::now())
            }
            Command::Compared { peer, differing } => self.compared(peer, differing),
            Command::Behind { peer, feeds } => self.behind(peer, feeds),
            Command::Pulled { peer, accepted } => self.pulled(peer, accepted),
            Command::Peers(reply) => {
                let _ = reply.send(self.swarm.connected_peers().copied().collect());
            }
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Command::Dial(addr) => self.dial(addr),
            Command::Block { peer, blocked } => self.block(peer, blocked),
        }
    }

    /// Sends a response computed off the task.
    fn respond(
        &mut self,
        peer: PeerId,
        channel: ResponseChannel<SyncResponse>,
        response: SyncResponse,
    ) {
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

    /// The top-level digests were compared with `peer`: in sync if none differ.
    fn compared(&mut self, peer: PeerId, differing: usize) {
        let now = self.ledger.now_ms();
        if differing == 0
            && let Some(state) = self.peers.get_mut(&peer)
        {
            state.in_sync_ms = now;
            state.lag_feeds = 0;
        }
    }

    /// Heads were compared with `peer`: it is ahead in `feeds` feeds.
    fn behind(&mut self, peer: PeerId, feeds: usize) {
        if let Some(state) = self.peers.get_mut(&peer) {
            state.lag_feeds = feeds as u64;
        }
    }

    /// Entries pulled from `peer` were accepted: compare with every connected peer soon.
    fn pulled(&mut self, peer: PeerId, accepted: usize) {
        if let Some(state) = self.peers.get_mut(&peer) {
            state.entries_pulled += accepted as u64;
        }
        let peers: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        self.retry.extend(peers);
    }

    /// Dials an address (operator or test decision).
    fn dial(&mut self, addr: Multiaddr) {
        if let Err(e) = self.swarm.dial(addr.clone()) {
            tracing::warn!(%addr, error = %e, "cannot dial");
        }
    }

    /// Bans (`blocked`) or unbans a peer by operator decision.
    fn block(&mut self, peer: PeerId, blocked: bool) {
        if blocked {
            self.blocked.insert(peer);
            self.swarm.behaviour_mut().ban(peer);
        } else {
            self.blocked.remove(&peer);
            self.swarm.behaviour_mut().unban(peer);
        }
    }

    fn status(&self) -> P2pStatus {
        let (bytes_sent, bytes_received) = self.counters.get();
        let now = Instant::now();
        let gossip = &self.swarm.behaviour().gossipsub;
        let mut peers: Vec<PeerReport> = self
            .swarm
            .connected_peers()
            .map(|peer| {
                let state = self.peers.get(peer).cloned().unwrap_or_default();
                PeerReport {
                    peer_id: *peer,
                    address: state.address,
                    connected_ms: state.connected_ms,
                    last_round_ms: state.last_round_ms,
                    in_sync_ms: state.in_sync_ms,
                    lag_feeds: state.lag_feeds,
                    entries_pulled: state.entries_pulled,
                    offences: self.discipline.offences(peer),
                    score: gossip
                        .peer_score(peer)
                        .unwrap_or(-self.discipline.score(peer, now)),
                }
            })
            .collect();
        peers.sort_by_key(|p| p.peer_id.to_bytes());
        P2pStatus {
            peers,
            last_round_ms: self.last_round_ms,
            banned: self.discipline.banned(),
            bytes_sent,
            bytes_received,
        }
    }

    /// Records an offence; bans the peer when it has done enough.
    pub(super) fn offend(&mut self, peer: PeerId, offence: Offence) {
        let now = Instant::now();
        if self.discipline.is_banned(&peer, now) {
            return;
        }
        tracing::info!(%peer, offence = offence.name(), "peer offence");
        let sentence = self.discipline.offend(peer, offence, now);
        let named = self.is_named(&peer);
        let gossip_ban = self
            .swarm
            .behaviour()
            .gossipsub
            .peer_score(&peer)
            .is_some_and(|s| gossip_sentence(s, named) == Sentence::Ban);
        if sentence == Sentence::Ban || gossip_ban {
            tracing::warn!(%peer, offence = offence.name(), "peer keeps misbehaving; banned");
            self.discipline.ban(peer, now);
            self.swarm.behaviour_mut().ban(peer);
            self.outbound.remove(&peer);
        }
    }

    /// Whether the peer is one this node was told about: a member node of the genesis list, or a
    /// bootstrap peer ([`gossip_sentence`]).
    fn is_named(&self, peer: &PeerId) -> bool {
        self.swarm.behaviour().member_peers().is_member(peer)
            || self.bootstrap.iter().any(|(p, _)| p == peer)
    }

    /// Dials the bootstrap peers and member nodes the node is not connected to, unless banned or
    /// blocked: a bootstrap peer at its configured address; a member (not a bootstrap peer) only
    /// at the addresses where it was reached before ([`MemberAddrs`]), never at addresses
    /// Kademlia learned (any peer can feed Kademlia addresses for a member's id, and the node
    /// would connect to them every 30 s), and only while fewer than [`TARGET_PEERS`] members are
    /// connected. A member never reached is left to discovery.
    fn redial(&mut self, now: Instant) {
        let skip = |peer: &PeerId| {
            self.swarm.is_connected(peer)
                || self.discipline.is_banned(peer, now)
                || self.blocked.contains(peer)
        };
        let addrs: Vec<(PeerId, Multiaddr)> = redials(&self.bootstrap, skip);
        let members = self.swarm.behaviour().member_peers();
        let connected_members = self
            .swarm
            .connected_peers()
            .filter(|p| members.is_member(p))
            .count();
        let again: Vec<(PeerId, Vec<Multiaddr>)> = match connected_members < TARGET_PEERS {
            true => member_redials(members.peers().copied(), &self.member_addrs, |p| {
                skip(p) || self.bootstrap.iter().any(|(b, _)| b == p)
            }),
            false => Vec::new(),
        };
        for (peer, addr) in addrs {
            tracing::debug!(%peer, %addr, "dialling a bootstrap peer again");
            let opts = DialOpts::peer_id(peer).addresses(vec![addr]).build();
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(%peer, error = %e, "cannot dial a bootstrap peer again");
            }
        }
        for (peer, addrs) in again {
            tracing::debug!(%peer, ?addrs, "dialling a member node again where it was reached");
            let opts = DialOpts::peer_id(peer).addresses(addrs).build();
            if let Err(e) = self.swarm.dial(opts) {
                tracing::debug!(%peer, error = %e, "cannot dial a member node again");
            }
        }
    }

    /// Sends a sync request now if fewer than [`MAX_IN_FLIGHT`] are in flight to the peer and
    /// its pace allows, else queues it (sent as answers come back, or by [`Self::drain`]).
    pub(super) fn ask(&mut self, peer: PeerId, request: SyncRequest, purpose: Purpose) {
        let out = self.outbound.entry(peer).or_default();
        if out.queue.is_empty() && out.may_send(&request) {
            out.in_flight += 1;
            let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
            self.requests.insert(id, (peer, purpose));
        } else if out.queue.len() < MAX_QUEUED {
            out.queue.push_back((request, purpose));
        } else {
            self.retry.insert(peer);
        }
    }

    /// A request to the peer finished (answered or failed): send what may go of its queue.
    fn finished(&mut self, peer: PeerId) {
        if let Some(out) = self.outbound.get_mut(&peer) {
            out.in_flight = out.in_flight.saturating_sub(1);
        }
        self.send_queued(peer);
    }

    /// Sends queued requests to the peer while its slots and pace allow.
    fn send_queued(&mut self, peer: PeerId) {
        while let Some((request, purpose)) = self
            .outbound
            .get_mut(&peer)
            .and_then(Outbound::next_to_send)
        {
            let id = self.swarm.behaviour_mut().sync.send_request(&peer, request);
            self.requests.insert(id, (peer, purpose));
        }
    }

    /// Sends what the pace now allows of every peer's queue.
    fn drain(&mut self) {
        let waiting: Vec<PeerId> = self
            .outbound
            .iter()
            .filter(|(_, out)| !out.queue.is_empty())
            .map(|(peer, _)| *peer)
            .collect();
        for peer in waiting {
            self.send_queued(peer);
        }
    }

    /// Starts an anti-entropy round with `peer`: compare the top-level digests.
    fn start_round(&mut self, peer: PeerId) {
        tracing::debug!(%peer, "anti-entropy round");
        let now = self.ledger.now_ms();
        self.last_round_ms = now;
        if let Some(state) = self.peers.get_mut(&peer) {
            state.last_round_ms = now;
        }
        self.ask(
            peer,
            SyncRequest::Digests { prefix: Vec::new() },
            Purpose::Digests(Vec::new()),
        );
    }
}

/// Where member nodes were reached, the most recent [`ADDRS_PER_MEMBER`] each: the address of a
/// connection this node dialled (Noise proved the peer there), and the addresses the member
/// itself says it listens on (identify, over its own connection). Only members are kept, so it
/// is bounded by the genesis's member list.
#[derive(Debug, Default)]
pub(super) struct MemberAddrs(HashMap<PeerId, VecDeque<Multiaddr>>);

impl MemberAddrs {
    /// Records that member `peer` was reached at, or says it listens on, `addr`.
    pub(super) fn confirm(&mut self, peer: PeerId, addr: Multiaddr) {
        let addrs = self.0.entry(peer).or_default();
        addrs.retain(|a| *a != addr);
        addrs.push_back(addr);
        while addrs.len() > ADDRS_PER_MEMBER {
            addrs.pop_front();
        }
    }

    /// The addresses `peer` was reached at (none: never reached).
    fn of(&self, peer: &PeerId) -> Vec<Multiaddr> {
        self.0
            .get(peer)
            .map(|addrs| addrs.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// The member nodes to dial again, with the addresses each was reached at: those `skip` does
/// not rule out (connected, banned, blocked, a bootstrap peer) and that were reached before.
fn member_redials(
    members: impl Iterator<Item = PeerId>,
    addrs: &MemberAddrs,
    skip: impl Fn(&PeerId) -> bool,
) -> Vec<(PeerId, Vec<Multiaddr>)> {
    members
        .filter(|peer| !skip(peer))
        .map(|peer| (peer, addrs.of(&peer)))
        .filter(|(_, addrs)| !addrs.is_empty())
        .collect()
}

/// The bootstrap addresses that name their peer (`/p2p/<peer id>` last), with it.
fn bootstrap_peers(addrs: &[Multiaddr]) -> Vec<(PeerId, Multiaddr)> {
    addrs
        .iter()
        .filter_map(|addr| match addr.iter().last() {
            Some(Protocol::P2p(peer)) => Some((peer, addr.clone())),
            _ => None,
        })
        .collect()
}

/// The bootstrap peers to dial again: those `skip` does not rule out (connected, banned,
/// blocked).
fn redials(
    bootstrap: &[(PeerId, Multiaddr)],
    skip: impl Fn(&PeerId) -> bool,
) -> Vec<(PeerId, Multiaddr)> {
    bootstrap
        .iter()
        .filter(|(peer, _)| !skip(peer))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::p2p::discipline::BAN_FOR;

    fn addr(peer: &PeerId, port: u16) -> Multiaddr {
        format!("/ip4/127.0.0.1/tcp/{port}/p2p/{peer}")
            .parse()
            .expect("multiaddr")
    }

    /// A node whose only peer restarted, or whose ban of it ran out, had no way back: the
    /// bootstrap list was dialled at start only. Now a bootstrap peer not connected is dialled
    /// again, unless it is banned (until the ban runs out) or blocked.
    #[test]
    fn bootstrap_peers_not_connected_are_dialled_again_once_any_ban_runs_out() {
        let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
        let mut given = vec![addr(&a, 4001), addr(&b, 4002), addr(&c, 4003)];
        // An address that does not name its peer is dialled at start only.
        given.push("/ip4/127.0.0.1/tcp/4004".parse().expect("multiaddr"));
        let bootstrap = bootstrap_peers(&given);
        assert_eq!(bootstrap.len(), 3);
        assert_eq!(bootstrap[0], (a, given[0].clone()));

        let mut discipline = Discipline::default();
        let now = Instant::now();
        discipline.ban(a, now);
        let (connected, blocked) = ([b], [c]);
        let skip = |p: &PeerId| {
            connected.contains(p) || discipline.is_banned(p, now) || blocked.contains(p)
        };
        assert!(redials(&bootstrap, skip).is_empty());
        let later = now + BAN_FOR;
        let skip = |p: &PeerId| {
            connected.contains(p) || discipline.is_banned(p, later) || blocked.contains(p)
        };
        assert_eq!(redials(&bootstrap, skip), vec![(a, given[0].clone())]);
    }

    /// A member is dialled again only where it was reached (a dialled connection, or its own
    /// identify), at most four addresses, the latest kept; never at an address Kademlia learned
    /// from someone else, and a member never reached is left to discovery.
    #[test]
    fn members_are_dialled_again_only_where_they_were_reached() {
        let (a, b, c) = (PeerId::random(), PeerId::random(), PeerId::random());
        let mut addrs = MemberAddrs::default();
        for port in 5000..5006 {
            addrs.confirm(a, addr(&a, port));
        }
        addrs.confirm(a, addr(&a, 5003));
        addrs.confirm(b, addr(&b, 6000));
        assert_eq!(
            addrs.of(&a),
            vec![
                addr(&a, 5002),
                addr(&a, 5004),
                addr(&a, 5005),
                addr(&a, 5003)
            ],
            "the latest four, a repeat moved last"
        );
        let members = [a, b, c];
        let again = member_redials(members.iter().copied(), &addrs, |p| *p == b);
        assert_eq!(again, vec![(a, addrs.of(&a))], "b skipped, c never reached");
    }

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
