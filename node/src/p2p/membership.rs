//! Which peers are the network's member nodes (the genesis `nodes` list as libp2p peer ids:
//! a peer id is the node key, proven by Noise), and what that earns them: connection slots that
//! others cannot take, and being the only traffic that counts as contact with the network (the
//! freshness clock behind `NODE_NOT_FRESH`). With `members_only`, other peers are refused when
//! they connect.
//!
//! Slots: of the node's [`Slots::total`] established connections, nodes outside the list may
//! hold at most `total - reserved`, where `reserved` is twice the number of members (a peer may
//! hold two connections; at most `total`), so every member can always connect, however many
//! others try. Without a list every peer is
//! treated alike: no reservation, and any peer's traffic counts as contact — the weaker mode, in
//! which whoever knows the genesis digest can take the slots and keep the node looking fresh.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use libp2p::PeerId;
use libp2p::core::transport::PortUse;
use libp2p::core::{Endpoint, Multiaddr};
use libp2p::swarm::behaviour::ConnectionEstablished;
use libp2p::swarm::{
    ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm, dummy,
};

use crate::members::Members;

/// The member nodes as peer ids; clones share them.
#[derive(Debug, Clone, Default)]
pub struct MemberPeers {
    /// `None`: the genesis lists no nodes.
    peers: Option<Arc<HashSet<PeerId>>>,
    only: bool,
}

impl MemberPeers {
    /// The peer ids of `members`.
    pub fn new(members: &Members) -> Self {
        if !members.is_listed() {
            return Self::default();
        }
        let peers: HashSet<PeerId> = members
            .keys()
            .filter_map(super::cosigning::peer_of_key)
            .collect();
        Self {
            peers: Some(Arc::new(peers)),
            only: members.members_only(),
        }
    }

    /// Whether the genesis lists the network's nodes.
    pub fn is_listed(&self) -> bool {
        self.peers.is_some()
    }

    /// Whether nodes outside the list are refused when they connect.
    pub fn members_only(&self) -> bool {
        self.only && self.is_listed()
    }

    /// Whether `peer` is a listed node (never, without a list).
    pub fn is_member(&self, peer: &PeerId) -> bool {
        self.peers.as_ref().is_some_and(|p| p.contains(peer))
    }

    /// The member nodes' peer ids (none without a list).
    pub fn peers(&self) -> impl Iterator<Item = &PeerId> {
        self.peers.iter().flat_map(|p| p.iter())
    }

    /// Whether traffic from `peer` counts as contact with the network: any peer's without a
    /// list, only members' with one.
    pub fn counts_as_contact(&self, peer: &PeerId) -> bool {
        self.peers.as_ref().is_none_or(|p| p.contains(peer))
    }

    /// Connections kept free for members out of `total`: two per member, as many as one peer may
    /// hold (two nodes that dial each other at once each keep both connections for a while).
    pub fn reserved(&self, total: u32) -> u32 {
        let members = self.peers.as_ref().map_or(0, |p| p.len());
        u32::try_from(members)
            .unwrap_or(u32::MAX)
            .saturating_mul(CONNECTIONS_PER_PEER)
            .min(total)
    }
}

/// Established connections one peer may hold (the swarm's per-peer limit).
pub(crate) const CONNECTIONS_PER_PEER: u32 = 2;

/// Established connections in all, and how many of them are kept for members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slots {
    /// Most established connections in all.
    pub total: u32,
    /// Of which nodes outside the member list may never hold.
    pub reserved: u32,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// `members_only`, and the peer is not listed.
    #[error("not a member node of the network (the genesis lists its nodes, and admits only them)")]
    NotMember,
    /// The slots left to non-members are taken.
    #[error("the {0} connections open to nodes outside the genesis list are taken")]
    NoSlot(u32),
}

/// Whether a new connection of a peer may be kept, with `others` connections of non-members
/// established now. Members are always admitted here (the overall limit still applies).
pub(crate) fn admit(
    members: &MemberPeers,
    peer: &PeerId,
    others: usize,
    slots: Slots,
) -> Result<(), Refusal> {
    if !members.is_listed() || members.is_member(peer) {
        return Ok(());
    }
    if members.members_only() {
        return Err(Refusal::NotMember);
    }
    let open = slots.total.saturating_sub(slots.reserved);
    if others >= open as usize {
        return Err(Refusal::NoSlot(open));
    }
    Ok(())
}

/// How often refused connections are reported in the log (with their count).
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// The behaviour: refuses connections by [`admit`] and counts non-members' connections.
pub struct Behaviour {
    members: MemberPeers,
    slots: Slots,
    /// Established connections of non-members.
    others: HashSet<ConnectionId>,
    /// Refusals since the last report, and when that was.
    refused: u64,
    reported: Option<Instant>,
}

impl Behaviour {
    /// Admits members always and others within `total - reserved` connections.
    pub fn new(members: MemberPeers, total: u32) -> Self {
        let slots = Slots {
            total,
            reserved: members.reserved(total),
        };
        Self {
            members,
            slots,
            others: HashSet::new(),
            refused: 0,
            reported: None,
        }
    }

    /// The member peers.
    pub fn members(&self) -> &MemberPeers {
        &self.members
    }

    fn check(&mut self, peer: PeerId) -> Result<THandler<Self>, ConnectionDenied> {
        match admit(&self.members, &peer, self.others.len(), self.slots) {
            Ok(()) => Ok(dummy::ConnectionHandler),
            Err(refusal) => {
                self.refused += 1;
                let now = Instant::now();
                if self
                    .reported
                    .is_none_or(|t| now.duration_since(t) >= REPORT_EVERY)
                {
                    tracing::info!(%peer, reason = %refusal, refused = self.refused, "refused connections of nodes outside the genesis member list");
                    self.refused = 0;
                    self.reported = Some(now);
                }
                Err(ConnectionDenied::new(refusal))
            }
        }
    }
}

impl NetworkBehaviour for Behaviour {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(peer)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(peer)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(ConnectionEstablished {
                peer_id,
                connection_id,
                ..
            }) if !self.members.is_member(&peer_id) => {
                self.others.insert(connection_id);
            }
            FromSwarm::ConnectionClosed(ConnectionClosed { connection_id, .. }) => {
                self.others.remove(&connection_id);
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        match event {}
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use consent_proto::fixtures;

    use super::*;

    fn peer(label: &str) -> PeerId {
        let key = fixtures::key(label).public();
        super::super::cosigning::peer_of_key(&key).expect("a peer id")
    }

    fn listed(labels: &[&str], only: bool) -> MemberPeers {
        MemberPeers::new(&Members::listed(
            labels.iter().map(|l| fixtures::key(l).public()),
            only,
        ))
    }

    #[test]
    fn others_cannot_take_the_slots_kept_for_members() {
        let members = listed(&["a", "b", "c"], false);
        let slots = Slots {
            total: 10,
            reserved: members.reserved(10),
        };
        // Two per member: two members dialling each other at once hold two connections each.
        assert_eq!(slots.reserved, 6);
        let stranger = peer("stranger");
        // Others fill what is open to them, and no more.
        for others in 0..4 {
            assert_eq!(admit(&members, &stranger, others, slots), Ok(()));
        }
        assert_eq!(
            admit(&members, &stranger, 4, slots),
            Err(Refusal::NoSlot(4))
        );
        // Members still get in.
        for m in ["a", "b", "c"] {
            assert_eq!(admit(&members, &peer(m), 4, slots), Ok(()));
        }
        // More members than slots: others get none.
        let crowded = Slots {
            total: 2,
            reserved: members.reserved(2),
        };
        assert_eq!(
            admit(&members, &stranger, 0, crowded),
            Err(Refusal::NoSlot(0))
        );
    }

    #[test]
    fn members_only_refuses_others_and_no_list_admits_all() {
        let only = listed(&["a"], true);
        let slots = Slots {
            total: 256,
            reserved: only.reserved(256),
        };
        assert_eq!(
            admit(&only, &peer("stranger"), 0, slots),
            Err(Refusal::NotMember)
        );
        assert_eq!(admit(&only, &peer("a"), 0, slots), Ok(()));
        let none = MemberPeers::default();
        assert_eq!(none.reserved(256), 0);
        assert_eq!(admit(&none, &peer("stranger"), 10_000, slots), Ok(()));
    }

    #[test]
    fn only_members_traffic_counts_as_contact_with_a_list() {
        let members = listed(&["a"], false);
        assert!(members.counts_as_contact(&peer("a")));
        assert!(!members.counts_as_contact(&peer("stranger")));
        // Without a list, anyone's (the weaker mode).
        assert!(MemberPeers::default().counts_as_contact(&peer("stranger")));
    }
}
