//! The task's upkeep, once a second ([`Task::housekeeping`]), and its discipline of peers
//! ([`Task::offend`]): bans lifted and imposed, gossipsub scores fed and watched, rounds cut short
//! retried, peers dialled again, gossip left waiting too long let go.

use std::time::Instant;

use libp2p::PeerId;
use libp2p::gossipsub::{MessageAcceptance, MessageId};

use super::super::behaviour::GRAYLIST_SCORE;
use super::super::discipline::{Offence, Sentence, gossip_sentence};
use super::{REBOOTSTRAP_EVERY, REDIAL_EVERY, Task, WAIT_FOR_PREDECESSOR};

impl Task {
    /// Says how many accepted entries were not pushed since the last report, at most every
    /// 10 s ([`Unpublished`](super::unpublished::Unpublished)): a warning when peers are
    /// connected (they pull them at their next round), debug when nobody would have received
    /// them anyway.
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
    pub(super) fn housekeeping(&mut self) {
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
        // A peer whose requests are still queued or in flight is compared again only once they
        // are done: a round that overlapped them would queue its comparisons ahead of the pulls
        // still waiting, and every pulled page asks for a round.
        let (due, busy): (Vec<PeerId>, Vec<PeerId>) = self
            .retry
            .drain()
            .filter(|p| self.swarm.is_connected(p))
            .partition(|p| self.outbound.get(p).is_none_or(|out| out.idle()));
        self.retry.extend(busy);
        for peer in due {
            self.start_round(peer);
        }
    }

    /// Records an offence; bans the peer when it has done enough.
    pub(in super::super) fn offend(&mut self, peer: PeerId, offence: Offence) {
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
}
