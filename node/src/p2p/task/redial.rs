//! Dialling again the bootstrap peers and member nodes the node is not connected to
//! ([`Task::redial`]): a bootstrap peer at its configured address, a member only where it was
//! reached before ([`MemberAddrs`]).

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use libp2p::multiaddr::Protocol;
use libp2p::swarm::dial_opts::DialOpts;
use libp2p::{Multiaddr, PeerId};

use super::{ADDRS_PER_MEMBER, TARGET_PEERS, Task};

impl Task {
    /// Dials the bootstrap peers and member nodes the node is not connected to, unless banned or
    /// blocked: a bootstrap peer at its configured address; a member (not a bootstrap peer) only
    /// at the addresses where it was reached before ([`MemberAddrs`]), never at addresses
    /// Kademlia learned (any peer can feed Kademlia addresses for a member's id, and the node
    /// would connect to them every 30 s), and only while fewer than [`TARGET_PEERS`] members are
    /// connected. A member never reached is left to discovery.
    pub(super) fn redial(&mut self, now: Instant) {
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
    pub(super) fn of(&self, peer: &PeerId) -> Vec<Multiaddr> {
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
pub(super) fn bootstrap_peers(addrs: &[Multiaddr]) -> Vec<(PeerId, Multiaddr)> {
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
    use crate::p2p::discipline::{BAN_FOR, Discipline};

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
}
