//! Delegate feeds: the feeds a wallet signs in when it acts for someone else (an assistant, a
//! guardian). A delegated statement lives in the delegate's own feed and names the person and the
//! delegation it relies on (crate docs of consent-proto, "Delegation"), so a delegate never
//! writes into the person's feed.
//!
//! - **Slot** `s` is one delegate feed, used for one represented feed only (pairwise, like the
//!   citizen's feeds): key `n` is
//!   `Ed25519 seed = BLAKE3-derive-key("consent-ledger wallet v1 delegate key", master || s_le32 || n_le32)`,
//!   and its inception is dated `MIN_TIME_MS + u64_le(first 8 bytes of
//!   BLAKE3-derive-key("consent-ledger wallet v1 delegate inception time", master || s_le32)) mod 365 days`.
//!   So the feed id is recomputable from the master secret alone: recovery scans slots until
//!   [`RECOVERY_GAP`] in a row are named by no delegation.
//! - The **offer code** that hands a person fresh delegate feed ids: [`offer`].
//! - What a delegation lets its delegate sign, checked before signing: [`permits`].

use consent_proto::Entry;
use consent_proto::entry::Author;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::keys::SecretKey;
use consent_proto::limits::MIN_TIME_MS;
use consent_proto::validate::Rejection;
use consent_proto::vocab::Role;

use crate::wallet::{YEAR_MS, derive};

pub mod offer;
pub mod permits;

const DELEGATE_KEY: &str = "consent-ledger wallet v1 delegate key";
const DELEGATE_TIME: &str = "consent-ledger wallet v1 delegate inception time";

/// Recovery stops scanning slots after this many in a row that no delegation names.
pub const RECOVERY_GAP: u32 = 20;

/// Key number `n` of delegate slot `slot`.
pub fn slot_key(master: &[u8; 32], slot: u32, n: u32) -> SecretKey {
    SecretKey::from_seed(&derive(
        DELEGATE_KEY,
        &[master, &slot.to_le_bytes(), &n.to_le_bytes()],
    ))
}

/// Inception time of delegate slot `slot` (in 2020, like a pairwise feed's).
pub fn slot_inception_ms(master: &[u8; 32], slot: u32) -> u64 {
    let d = derive(DELEGATE_TIME, &[master, &slot.to_le_bytes()]);
    let mut eight = [0u8; 8];
    eight.copy_from_slice(&d[..8]);
    MIN_TIME_MS + u64::from_le_bytes(eight) % YEAR_MS
}

/// The slot's inception (signed with key 0, committing to key 1). A delegate feed is an ordinary
/// citizen feed.
pub fn slot_inception(master: &[u8; 32], slot: u32) -> Result<(Author, Entry), Rejection> {
    Author::incept(
        Role::Citizen,
        slot_key(master, slot, 0),
        slot_key(master, slot, 1),
        slot_inception_ms(master, slot),
    )
}

/// The slot's feed id (computed, whether or not any node knows it yet).
pub fn slot_feed(master: &[u8; 32], slot: u32) -> FeedId {
    slot_inception(master, slot)
        .map(|(a, _)| a.feed())
        .unwrap_or(FeedId([0; 32]))
}

/// An author for the slot's feed at a head learned from a node, signing with key `rotations`.
pub fn slot_author(
    master: &[u8; 32],
    slot: u32,
    rotations: u32,
    seq: u64,
    head: EntryId,
) -> Author {
    Author::resume(
        Role::Citizen,
        slot_key(master, slot, rotations),
        slot_key(master, slot, rotations + 1),
        slot_feed(master, slot),
        seq,
        head,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wallet;

    #[test]
    fn slots_are_distinct_feeds_unlinkable_to_the_pairwise_ones() {
        let master = [7u8; 32];
        let a = slot_feed(&master, 0);
        let b = slot_feed(&master, 1);
        assert_ne!(a, b);
        assert_eq!(a, slot_feed(&master, 0), "deterministic");
        assert_ne!(a, slot_feed(&[8u8; 32], 0), "bound to the master secret");
        // Neither key nor time is shared with the pairwise feed derivation.
        let collector = FeedId([0; 32]);
        assert_ne!(
            slot_key(&master, 0, 0).public(),
            wallet::pairwise_key(&master, &collector, 0).public()
        );
        assert_ne!(slot_inception_ms(&master, 0), slot_inception_ms(&master, 1));
        let t = slot_inception_ms(&master, 3);
        assert!((MIN_TIME_MS..MIN_TIME_MS + YEAR_MS).contains(&t));
    }

    #[test]
    fn a_slot_author_signs_in_the_slot_feed_with_its_key() {
        let master = [9u8; 32];
        let (_, inception) = slot_inception(&master, 4).expect("valid");
        let author = slot_author(&master, 4, 0, 0, inception.id);
        assert_eq!(author.feed(), inception.feed);
        assert_eq!(author.key().public(), slot_key(&master, 4, 0).public());
        assert_eq!(
            author.next_key_digest(),
            slot_key(&master, 4, 1).public().next_key_digest()
        );
    }
}
