//! The swarm's events as the task handles them: connections opening and closing, identify's
//! compatibility check, discovery (Kademlia, mDNS) and dialling, and the sync protocol's
//! requests, responses and failures.

use std::time::{Duration, Instant};

use libp2p::request_response::{self, InboundFailure, OutboundFailure};
use libp2p::swarm::SwarmEvent;
use libp2p::{PeerId, gossipsub, identify, kad, mdns};

use super::super::behaviour::BehaviourEvent;
use super::super::discipline::Offence;
use super::super::protocol::{self, Incompatible, SyncRequest, SyncResponse};
use super::super::{Purpose, sync};
use super::{PeerState, TARGET_PEERS, Task};

impl Task {
    pub(super) fn event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => self.gossip(propagation_source, message_id, message.data),
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.sync_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(identify::Event::Received {
                peer_id,
                info,
                ..
            })) => {
                let compatible = protocol::compatibility(
                    &self.identify_version,
                    &self.sync_protocol,
                    &info.protocol_version,
                    info.protocols.iter().map(AsRef::<str>::as_ref),
                );
                if let Err(why) = compatible {
                    let theirs = match why {
                        Incompatible::NoCommonSync => sync_protocols(&info.protocols),
                        _ => info.protocol_version.clone(),
                    };
                    self.refuse_peer(peer_id, why, &theirs);
                    return;
                }
                // A member node's own word on where it listens: where it is dialled again.
                if self.swarm.behaviour().member_peers().is_member(&peer_id) {
                    for addr in info.listen_addrs.iter().take(super::ADDRS_PER_MEMBER) {
                        self.member_addrs.confirm(peer_id, addr.clone());
                    }
                }
                // A member: what it listens on feeds discovery.
                for addr in info.listen_addrs {
                    self.swarm.behaviour_mut().kad.add_address(&peer_id, addr);
                }
                self.bootstrap_soon();
            }
            SwarmEvent::Behaviour(BehaviourEvent::Kad(kad::Event::RoutingUpdated {
                peer,
                is_new_peer: true,
                ..
            })) => self.maybe_dial(peer),
            SwarmEvent::Behaviour(BehaviourEvent::Mdns(mdns::Event::Discovered(found))) => {
                for (peer, addr) in found {
                    self.swarm.behaviour_mut().kad.add_address(&peer, addr);
                    self.maybe_dial(peer);
                }
            }
            // Compare with a peer once it has subscribed to our topic: anything pushed before
            // that moment did not reach it, and the round pulls it.
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Subscribed {
                peer_id,
                ..
            })) => self.start_round(peer_id),
            SwarmEvent::ConnectionEstablished {
                peer_id, endpoint, ..
            } => {
                tracing::debug!(%peer_id, "peer connected");
                // Dialled there and proved by Noise: a member is dialled again there.
                if endpoint.is_dialer() && self.swarm.behaviour().member_peers().is_member(&peer_id)
                {
                    self.member_addrs
                        .confirm(peer_id, endpoint.get_remote_address().clone());
                }
                let now = self.ledger.now_ms();
                self.peers.entry(peer_id).or_insert_with(|| PeerState {
                    address: endpoint.get_remote_address().to_string(),
                    connected_ms: now,
                    ..PeerState::default()
                });
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                tracing::debug!(%peer_id, "peer disconnected");
                self.peers.remove(&peer_id);
                self.outbound.remove(&peer_id);
            }
            _ => {}
        }
    }

    /// Disconnects a peer this node cannot speak with, and forgets its addresses, saying why in
    /// one warning (with `theirs`, what it announced, and this node's version) and counting it.
    fn refuse_peer(&mut self, peer: PeerId, why: Incompatible, theirs: &str) {
        // One line per refusal: the requests in flight when the peer is cut off fail too.
        if self.peers.remove(&peer).is_some() {
            let ours = match why {
                Incompatible::NoCommonSync => &self.sync_protocol,
                _ => &self.identify_version,
            };
            tracing::warn!(%peer, reason = why.name(), theirs, ours = %ours, "{}", why.explain());
            self.ledger.metrics().peer_refused(why.name());
        }
        self.swarm.behaviour_mut().kad.remove_peer(&peer);
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    /// Traffic from `peer` counts as contact with the network (freshness) if it is a member, or
    /// anyone's without a member list ([`super::super::membership`]).
    pub(super) fn heard_from(&self, peer: &PeerId) {
        if self
            .swarm
            .behaviour()
            .member_peers()
            .counts_as_contact(peer)
        {
            self.ledger.heard_from_peer();
        }
    }

    /// Runs a Kademlia bootstrap query at most every ten seconds (finds the network's nodes).
    pub(super) fn bootstrap_soon(&mut self) {
        if self
            .last_bootstrap
            .is_some_and(|t| t.elapsed() < Duration::from_secs(10))
        {
            return;
        }
        self.last_bootstrap = Some(Instant::now());
        let _ = self.swarm.behaviour_mut().kad.bootstrap();
    }

    /// Dials a discovered peer if the node has fewer connections than it seeks: members count
    /// only members (others connecting never stop it seeking members); no others with
    /// `members_only`.
    pub(super) fn maybe_dial(&mut self, peer: PeerId) {
        let enough = {
            let members = self.swarm.behaviour().member_peers();
            let connected = self.swarm.connected_peers();
            if members.is_member(&peer) {
                connected.filter(|p| members.is_member(p)).count() >= TARGET_PEERS
            } else {
                members.members_only() || connected.count() >= TARGET_PEERS
            }
        };
        if peer == *self.swarm.local_peer_id()
            || self.swarm.is_connected(&peer)
            || enough
            || self.discipline.is_banned(&peer, Instant::now())
            || self.blocked.contains(&peer)
        {
            return;
        }
        if let Err(e) = self.swarm.dial(peer) {
            tracing::debug!(%peer, error = %e, "cannot dial discovered peer");
        }
    }

    fn sync_event(&mut self, event: request_response::Event<SyncRequest, SyncResponse>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => match sync::cost(&request) {
                    Err(reason) => {
                        self.offend(peer, Offence::BadMessage);
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .sync
                            .send_response(channel, SyncResponse::Refused(reason));
                    }
                    Ok(cost) if !self.discipline.allow_request(peer, cost, Instant::now()) => {
                        self.offend(peer, Offence::OverRate);
                        let _ = self.swarm.behaviour_mut().sync.send_response(
                            channel,
                            SyncResponse::Refused("rate limited; slow down".into()),
                        );
                    }
                    Ok(_) => self.serve(peer, request, channel),
                },
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    self.finished(peer);
                    self.heard_from(&peer);
                    match self.requests.remove(&request_id).map(|(_, p)| p) {
                        Some(Purpose::Digests(prefix)) => {
                            self.compare_digests(peer, prefix, response)
                        }
                        Some(Purpose::Heads { prefix, after }) => {
                            self.compare_heads(peer, prefix, after, response)
                        }
                        Some(Purpose::Checkpoint(since)) => {
                            self.on_checkpoint(peer, since, response)
                        }
                        Some(Purpose::History) => self.on_history(response),
                        Some(Purpose::Done) => {}
                        Some(Purpose::Branch { feed, from_seq }) => {
                            self.received(peer, response, Some((feed, from_seq)))
                        }
                        Some(Purpose::Entries) | None => self.received(peer, response, None),
                    }
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                self.finished(peer);
                let purpose = self.requests.remove(&request_id).map(|(_, p)| p);
                if matches!(error, OutboundFailure::UnsupportedProtocols) {
                    // Identify said otherwise, or has not arrived yet: retrying cannot help.
                    self.refuse_peer(peer, Incompatible::NoCommonSync, "(none in common)");
                    self.outbound.remove(&peer);
                    return;
                }
                tracing::debug!(%peer, %error, ?purpose, "sync request failed; the peer will be compared again");
                if let OutboundFailure::Io(e) = &error
                    && garbled_response(e)
                {
                    self.offend(peer, Offence::Garbage);
                }
                self.retry.insert(peer);
            }
            request_response::Event::InboundFailure {
                peer,
                error: InboundFailure::Io(e),
                ..
            } if garbled_request(&e) => {
                tracing::debug!(%peer, error = %e, "undecodable or oversized sync request");
                self.offend(peer, Offence::Garbage);
            }
            _ => {}
        }
    }
}

/// The sync protocols of consent-ledger networks among `protocols` (a peer's identify list), for
/// the log line that says it shares none with this node.
fn sync_protocols(protocols: &[libp2p::StreamProtocol]) -> String {
    let names: Vec<&str> = protocols
        .iter()
        .map(AsRef::<str>::as_ref)
        .filter(|p| p.starts_with("/consent-ledger/") && p.contains("/sync/"))
        .collect();
    if names.is_empty() {
        "(none)".to_string()
    } else {
        names.join(" ")
    }
}

/// Whether an I/O error reading a peer's request means it sent bytes that do not decode or are
/// over the size limit (cut off there, so they end early), rather than a connection that went away.
fn garbled_request(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), InvalidData | Unsupported | UnexpectedEof | Other)
}

/// The same for a response; one that ends before it starts is a peer that chose not to answer
/// (overloaded, or it refused the stream), which is no offence.
fn garbled_response(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), InvalidData | Unsupported | Other)
}
