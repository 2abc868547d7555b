//! Sync requests to peers: at most [`MAX_IN_FLIGHT`] in flight to one, the rest queued in order
//! and paced by their cost ([`Outbound`]); anti-entropy rounds start here ([`Task::start_round`]).

use std::collections::VecDeque;
use std::time::Instant;

use libp2p::PeerId;

use super::super::discipline::Pace;
use super::super::protocol::SyncRequest;
use super::super::{Purpose, sync};
use super::{MAX_IN_FLIGHT, MAX_QUEUED, Task};

/// Requests to one peer: how many are in flight, the rest in order, and their pace.
#[derive(Debug, Default)]
pub(super) struct Outbound {
    in_flight: usize,
    queue: VecDeque<(SyncRequest, Purpose)>,
    pace: Pace,
}

impl Outbound {
    /// Nothing queued and nothing in flight: a new round would not overlap one still running.
    pub(super) fn idle(&self) -> bool {
        self.queue.is_empty() && self.in_flight == 0
    }

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

impl Task {
    /// Sends a sync request now if fewer than [`MAX_IN_FLIGHT`] are in flight to the peer and
    /// its pace allows, else queues it (sent as answers come back, or by [`Self::drain`]).
    pub(in super::super) fn ask(&mut self, peer: PeerId, request: SyncRequest, purpose: Purpose) {
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
    pub(super) fn finished(&mut self, peer: PeerId) {
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
    pub(super) fn drain(&mut self) {
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
    pub(super) fn start_round(&mut self, peer: PeerId) {
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
