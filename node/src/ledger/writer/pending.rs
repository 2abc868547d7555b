//! The pending space, shared fairly between the sources that fill it. The entries themselves
//! are store rows (`P`, [`PendingRecord`](crate::ledger::tables::PendingRecord)); this index,
//! kept in memory by the writer beside them, knows for each one what it waits for, which source
//! sent it, whether a key of its feed signed it, and its age — and so which entry gives way when
//! space runs out.
//!
//! # Sources
//! A [`Source`] is who sent an entry: a gRPC client by IP address (an IPv6 client by its /64
//! network: one host usually holds a whole /64, so more addresses would not make it more
//! sources), a p2p peer by its peer id (the peer that pushed or answered with the entry, not its
//! author). In-process callers share [`Source::Local`]. The source is not stored: entries parked
//! before the node started count for [`Source::Restored`], as unverifiable.
//!
//! # Bounds
//! At most `max_pending` entries in all (`[ledger] max_pending`), and at most
//! [`per_source_bound`] from one source: an eighth of `max_pending`, at least 64. So at least
//! eight sources are needed to fill the space (with `max_pending` of 512 or more); 64 lets a
//! source park a real backlog (a wallet's burst sent out of order, a gossip peer's run ahead of a
//! gap) even under a small `max_pending`.
//!
//! # What gives way
//! *Verified* entries were signed by a key of their feed (see consent-proto's
//! `Verdict::Pending`); *unverifiable* ones belong to a feed the node does not know, or were
//! signed past a gap by a key it cannot tie to the feed yet: anyone can make those for free. When
//! source `s`, holding `n` entries, parks one more ([`PendingIndex::admit`]):
//! 1. if `n` is at the per-source bound, `s`'s own oldest unverifiable entry is dropped to make
//!    room; if `s` holds only verified entries, the new one is refused (`pending-full`);
//! 2. else if the space is full, the source holding the most entries gives one up — its oldest
//!    unverifiable entry, or if it has none its oldest verified one — provided it holds more than
//!    `n`; otherwise (`s` holds as many as anyone) `s`'s own oldest unverifiable entry is dropped,
//!    and if it has none the new one is refused;
//! 3. else there is room.
//!
//! A source's entries therefore give way only to its own newer entries or to a source holding
//! fewer: a flooder pushes out its own entries, never those of a source smaller than itself, and
//! a source under its bound that holds fewer entries than the largest one is never refused. Among the entries of the
//! one source that gives way, unverifiable and oldest go first. Size is weighed before
//! verification across sources because a flooder with one feed of its own makes verified entries
//! as cheaply as unverifiable ones (entries past a gap in its own feed): verification says who
//! signed, not that the sender is honest.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv6Addr};

use consent_proto::ids::EntryId;

use super::super::tables::Awaited;

/// Who sent an entry. Entries that must wait count against their source's share of the pending
/// space (at most [`per_source_bound`] entries); when the space is full, the source holding the
/// most gives way, its unverifiable entries first (the full rules: consent-proto's
/// specification, *Pending entries*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// A gRPC client: an IPv4 address, or an IPv6 address's /48 network ([`Source::client`]).
    Client(IpAddr),
    /// A p2p peer in the genesis's member list: the BLAKE3 digest of its peer id's bytes
    /// ([`Source::peer`]).
    Peer([u8; 32]),
    /// Every p2p peer outside the member list (every peer when the genesis lists none): one
    /// source, since peer ids cost nothing to make.
    Unlisted,
    /// The node itself: in-process callers (tools, tests), or a gRPC call whose address is unknown.
    Local,
    /// Entries parked before the node started: who sent them is not stored.
    Restored,
}

impl Source {
    /// The source of a gRPC client at `ip`: an IPv4 address (an IPv4-mapped IPv6 address counts as
    /// its IPv4 address), or the /48 network of an IPv6 address (a site's allocation: one holder
    /// has 65,536 /64s, so a /64 would let one flooder be thousands of sources).
    pub fn client(ip: IpAddr) -> Source {
        match ip.to_canonical() {
            IpAddr::V6(v6) => {
                let network = u128::from(v6) & (u128::MAX << 80);
                Source::Client(IpAddr::V6(Ipv6Addr::from(network)))
            }
            v4 => Source::Client(v4),
        }
    }

    /// The source of a p2p peer, from the bytes of its peer id (`PeerId::to_bytes`).
    pub fn peer(peer_id: &[u8]) -> Source {
        Source::Peer(*blake3::hash(peer_id).as_bytes())
    }
}

/// The fraction of `max_pending` one source may hold: an eighth.
const SHARES: u64 = 8;
/// The least one source may hold, whatever `max_pending` (unless that is smaller).
const MIN_PER_SOURCE: u64 = 64;

/// The most entries one source may hold pending when the node holds at most `max_pending`:
/// `max_pending / 8`, at least 64, at most `max_pending`.
pub fn per_source_bound(max_pending: u64) -> u64 {
    (max_pending / SHARES).max(MIN_PER_SOURCE).min(max_pending)
}

/// What the index knows of one parked entry.
#[derive(Debug, Clone, Copy)]
pub(super) struct Held {
    /// Who sent it.
    pub(super) source: Source,
    /// Whether a key of its feed signed it.
    pub(super) verified: bool,
    /// What it waits for.
    pub(super) awaited: Awaited,
    /// Its place in arrival order (lower: older), kept when it is parked again.
    pub(super) order: u64,
}

/// One source's parked entries, by arrival order.
#[derive(Debug, Default)]
struct Share {
    unverifiable: BTreeMap<u64, EntryId>,
    verified: BTreeMap<u64, EntryId>,
    /// The arrival order of its newest entry: between sources holding as many, the one that
    /// grew last gives way first (never an order an attacker can pick, like its address).
    latest: u64,
}

impl Share {
    fn len(&self) -> u64 {
        (self.unverifiable.len() + self.verified.len()) as u64
    }

    fn oldest_unverifiable(&self) -> Option<EntryId> {
        self.unverifiable.first_key_value().map(|(_, id)| *id)
    }

    /// The entry this source gives up first: its oldest unverifiable one, else its oldest.
    fn first_to_go(&self) -> Option<EntryId> {
        self.oldest_unverifiable()
            .or_else(|| self.verified.first_key_value().map(|(_, id)| *id))
    }
}

/// Whether one more entry from a source can be parked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// There is room.
    Room,
    /// There is room once this entry is dropped.
    Evict(EntryId),
    /// No room: refuse it (`pending-full`).
    Full,
}

/// The parked entries: by what they wait for, by id, and by source (see the module docs).
#[derive(Debug, Default)]
pub(super) struct PendingIndex {
    /// What each awaited entry or feed would wake, in arrival order.
    waiting: HashMap<Awaited, BTreeMap<u64, EntryId>>,
    held: HashMap<EntryId, Held>,
    shares: HashMap<Source, Share>,
    /// `(entries held, newest arrival, source)` for every source holding any: the largest last,
    /// and among the largest the one that grew last.
    by_size: BTreeSet<(u64, u64, Source)>,
    /// The next arrival order number.
    next: u64,
}

impl PendingIndex {
    /// Entries parked.
    pub(super) fn len(&self) -> u64 {
        self.held.len() as u64
    }

    /// Whether nothing is parked.
    pub(super) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Whether `id` is parked.
    pub(super) fn contains(&self, id: &EntryId) -> bool {
        self.held.contains_key(id)
    }

    /// What is known of a parked entry.
    pub(super) fn get(&self, id: &EntryId) -> Option<&Held> {
        self.held.get(id)
    }

    /// Entries parked for `source`.
    #[cfg(test)]
    pub(super) fn count(&self, source: &Source) -> u64 {
        self.shares.get(source).map_or(0, Share::len)
    }

    /// Whether one more entry from `source` fits, with at most `max_total` entries in all and
    /// `per_source` from one source, and if not, what gives way (the order in the module docs).
    pub(super) fn admit(&self, source: &Source, max_total: u64, per_source: u64) -> Admission {
        let own = self.shares.get(source);
        let count = own.map_or(0, Share::len);
        let own_unverifiable = || {
            own.and_then(Share::oldest_unverifiable)
                .map_or(Admission::Full, Admission::Evict)
        };
        if count >= per_source {
            return own_unverifiable();
        }
        if self.len() < max_total {
            return Admission::Room;
        }
        match self.by_size.last() {
            Some((largest, _, victim)) if *largest > count => self
                .shares
                .get(victim)
                .and_then(Share::first_to_go)
                .map_or(Admission::Full, Admission::Evict),
            _ => own_unverifiable(),
        }
    }

    /// Records a parked entry (nothing if it is parked already). `order`: its place in arrival
    /// order when it is parked again after a wake-up; `None` for a new arrival (the newest).
    pub(super) fn insert(
        &mut self,
        id: EntryId,
        awaited: Awaited,
        source: Source,
        verified: bool,
        order: Option<u64>,
    ) {
        if self.held.contains_key(&id) {
            return;
        }
        let order = order.unwrap_or_else(|| {
            self.next += 1;
            self.next - 1
        });
        let old = self.key(&source);
        let share = self.shares.entry(source).or_default();
        if verified {
            share.verified.insert(order, id);
        } else {
            share.unverifiable.insert(order, id);
        }
        share.latest = share.latest.max(order);
        self.rekey(source, old);
        self.waiting.entry(awaited).or_default().insert(order, id);
        self.held.insert(
            id,
            Held {
                source,
                verified,
                awaited,
                order,
            },
        );
    }

    /// Forgets a parked entry (woken, timed out or evicted); what was known of it, if it was.
    pub(super) fn remove(&mut self, id: &EntryId) -> Option<Held> {
        let held = self.held.remove(id)?;
        if let Some(ids) = self.waiting.get_mut(&held.awaited) {
            ids.remove(&held.order);
            if ids.is_empty() {
                self.waiting.remove(&held.awaited);
            }
        }
        let old = self.key(&held.source);
        if let Some(share) = self.shares.get_mut(&held.source) {
            if held.verified {
                share.verified.remove(&held.order);
            } else {
                share.unverifiable.remove(&held.order);
            }
            if share.len() == 0 {
                self.shares.remove(&held.source);
            }
        }
        self.rekey(held.source, old);
        Some(held)
    }

    /// Takes every entry waiting for `awaited` out of the index, oldest first.
    pub(super) fn take_waiting(&mut self, awaited: &Awaited) -> Vec<(EntryId, Held)> {
        let Some(ids) = self.waiting.remove(awaited) else {
            return Vec::new();
        };
        ids.into_values()
            .filter_map(|id| self.remove(&id).map(|held| (id, held)))
            .collect()
    }

    /// `source`'s place in `by_size` now, if it holds anything.
    fn key(&self, source: &Source) -> Option<(u64, u64, Source)> {
        self.shares
            .get(source)
            .filter(|s| s.len() > 0)
            .map(|s| (s.len(), s.latest, *source))
    }

    /// Moves `source` in `by_size` from `old` to where it stands now.
    fn rekey(&mut self, source: Source, old: Option<(u64, u64, Source)>) {
        if let Some(old) = old {
            self.by_size.remove(&old);
        }
        if let Some(new) = self.key(&source) {
            self.by_size.insert(new);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> EntryId {
        EntryId([n; 32])
    }

    fn client(last: u8) -> Source {
        Source::client(IpAddr::from([127, 0, 0, last]))
    }

    #[test]
    fn clients_are_their_address_and_ipv6_clients_their_48() {
        let a: IpAddr = "2001:db8:1:2:3:4:5:6".parse().expect("ip");
        let b: IpAddr = "2001:db8:1:2:ffff::1".parse().expect("ip");
        let c: IpAddr = "2001:db8:2::1".parse().expect("ip");
        assert_eq!(Source::client(a), Source::client(b));
        assert_ne!(Source::client(a), Source::client(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().expect("ip");
        assert_eq!(
            Source::client(mapped),
            Source::client(IpAddr::from([10, 0, 0, 1]))
        );
        assert_ne!(client(1), client(2));
        assert_eq!(Source::peer(b"peer"), Source::peer(b"peer"));
        assert_ne!(Source::peer(b"peer"), Source::peer(b"other"));
    }

    #[test]
    fn the_per_source_bound_is_an_eighth_at_least_64() {
        assert_eq!(per_source_bound(10_000), 1_250);
        assert_eq!(per_source_bound(512), 64);
        assert_eq!(per_source_bound(100), 64);
        assert_eq!(per_source_bound(10), 10);
        assert_eq!(per_source_bound(0), 0);
    }

    #[test]
    fn the_index_follows_inserts_wake_ups_and_removals() {
        let mut index = PendingIndex::default();
        let awaited = Awaited::Feed([1; 32]);
        index.insert(id(1), awaited, client(1), false, None);
        index.insert(id(2), awaited, client(2), true, None);
        index.insert(id(2), awaited, client(3), true, None);
        index.insert(id(3), Awaited::Entry([2; 32]), client(1), true, None);
        assert_eq!(index.len(), 3);
        assert_eq!(index.count(&client(1)), 2);
        assert_eq!(
            index.count(&client(3)),
            0,
            "parked once, for its first sender"
        );
        let woken = index.take_waiting(&awaited);
        assert_eq!(
            woken.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            vec![id(1), id(2)],
            "oldest first"
        );
        assert_eq!(index.len(), 1);
        assert_eq!(index.count(&client(2)), 0);
        // Parked again, it keeps its place in arrival order.
        let (again, held) = woken[0];
        index.insert(
            again,
            Awaited::Seq([1; 32], 0),
            held.source,
            true,
            Some(held.order),
        );
        assert_eq!(index.get(&again).map(|h| h.order), Some(held.order));
        assert!(index.remove(&id(3)).is_some());
        assert!(index.remove(&id(3)).is_none());
        assert_eq!(index.len(), 1);
        assert!(index.take_waiting(&awaited).is_empty());
    }

    #[test]
    fn a_source_at_its_bound_gives_up_its_own_oldest_unverifiable_entry_or_is_refused() {
        let mut index = PendingIndex::default();
        let (flooder, other) = (client(1), client(2));
        index.insert(id(1), Awaited::Feed([1; 32]), flooder, true, None);
        index.insert(id(2), Awaited::Feed([2; 32]), flooder, false, None);
        index.insert(id(3), Awaited::Feed([3; 32]), flooder, false, None);
        index.insert(id(4), Awaited::Feed([4; 32]), other, false, None);
        // Bound 3: the flooder's oldest unverifiable entry, not its older verified one.
        assert_eq!(index.admit(&flooder, 100, 3), Admission::Evict(id(2)));
        assert_eq!(index.admit(&other, 100, 3), Admission::Room);
        // Holding only verified entries at its bound: refused.
        index.remove(&id(2));
        index.remove(&id(3));
        assert_eq!(index.admit(&flooder, 100, 1), Admission::Full);
    }

    #[test]
    fn when_full_the_largest_source_gives_way_never_a_smaller_one() {
        let mut index = PendingIndex::default();
        let (big, small, honest) = (client(1), client(2), client(3));
        // big: an old verified entry, then unverifiable ones; small: two unverifiable (older).
        index.insert(id(10), Awaited::Feed([10; 32]), small, false, None);
        index.insert(id(11), Awaited::Feed([11; 32]), small, false, None);
        index.insert(id(1), Awaited::Feed([1; 32]), big, true, None);
        index.insert(id(2), Awaited::Feed([2; 32]), big, false, None);
        index.insert(id(3), Awaited::Feed([3; 32]), big, false, None);
        let full = index.len();
        // A newcomer takes the largest source's oldest unverifiable entry, not the older
        // entries of the smaller source, nor the largest's older verified one.
        assert_eq!(index.admit(&honest, full, 100), Admission::Evict(id(2)));
        // The smaller source too: big holds more than it.
        assert_eq!(index.admit(&small, full, 100), Admission::Evict(id(2)));
        // The largest source itself gives up its own oldest unverifiable entry.
        assert_eq!(index.admit(&big, full, 100), Admission::Evict(id(2)));
        // A largest source holding only verified entries gives up its oldest verified one to a
        // smaller source, and is refused itself.
        index.remove(&id(2));
        index.remove(&id(3));
        index.insert(id(4), Awaited::Feed([4; 32]), big, true, None);
        index.insert(id(5), Awaited::Feed([5; 32]), big, true, None);
        let full = index.len();
        assert_eq!(index.admit(&honest, full, 100), Admission::Evict(id(1)));
        assert_eq!(index.admit(&big, full, 100), Admission::Full);
        // Sources of equal size: a newcomer with none takes from one of them; one of them takes
        // its own oldest unverifiable entry.
        let mut even = PendingIndex::default();
        even.insert(id(1), Awaited::Feed([1; 32]), big, false, None);
        even.insert(id(2), Awaited::Feed([2; 32]), small, false, None);
        assert!(matches!(even.admit(&honest, 2, 100), Admission::Evict(_)));
        assert_eq!(even.admit(&small, 2, 100), Admission::Evict(id(2)));
        assert_eq!(even.admit(&big, 2, 100), Admission::Evict(id(1)));
    }

    /// Between sources holding as many, the one that grew last gives way — whatever their
    /// addresses (an order a flooder could pick).
    #[test]
    fn between_equal_sources_the_one_that_grew_last_gives_way() {
        let awaited = Awaited::Feed([1; 32]);
        for (first, second) in [(client(1), client(200)), (client(200), client(1))] {
            let mut index = PendingIndex::default();
            index.insert(id(1), awaited, first, false, None);
            index.insert(id(2), awaited, second, false, None);
            // Full at 2: a third source holding none parks; the one that grew last gives way.
            assert_eq!(
                index.admit(&client(50), 2, 2),
                Admission::Evict(id(2)),
                "{first:?} then {second:?}"
            );
        }
    }
}
