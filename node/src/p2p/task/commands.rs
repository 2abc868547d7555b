//! What the task is asked to do: the [`Command`]s of the node and of the task's own helpers
//! ([`Task::command`]), and publishing the entries the ledger accepts ([`Task::publish`]).

use std::time::Instant;

use libp2p::gossipsub::{self, MessageAcceptance};
use libp2p::request_response::ResponseChannel;
use libp2p::{Multiaddr, PeerId};

use super::super::protocol::SyncResponse;
use super::super::{Command, P2pStatus, PeerReport};
use super::Task;
use super::waiting::Lookup;

impl Task {
    /// A newly accepted entry: forwarded if it came by gossip and waited for a predecessor,
    /// published otherwise.
    pub(super) fn publish(&mut self, bytes: Vec<u8>) {
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
    pub(super) fn command(&mut self, command: Command) {
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
}
