//! Verifying one feed on its own, without trusting whoever served it: the inception (whose hash
//! is the feed id), then each entry linked to the one before, numbered in order, and signed by
//! the key in force — the inception's, then each rotation's, every rotation matching the digest
//! its predecessor committed to. Used by clients that must not take a node's word for a feed's
//! head (quorum reads, monitors). Cross-feed rules (policies, accreditations) are not checked.

use crate::Entry;
use crate::body::Body;
use crate::domain;
use crate::ids::{Digest, EntryId, FeedId};
use crate::keys::PublicKey;
use crate::sig;

/// Why a chain does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// No entries.
    #[error("the feed is empty")]
    Empty,
    /// An entry of another feed.
    #[error("entry {seq} belongs to another feed")]
    WrongFeed {
        /// Its position.
        seq: u64,
    },
    /// Out of order or with a gap.
    #[error("entry at position {position} has seq {seq}")]
    BadSeq {
        /// Where it is.
        position: u64,
        /// What it says.
        seq: u64,
    },
    /// Not linked to its predecessor.
    #[error("entry {seq} does not link to its predecessor")]
    BrokenLink {
        /// Its seq.
        seq: u64,
    },
    /// The first entry is not an inception, or a later one is.
    #[error("entry {seq} has the wrong kind for its place")]
    WrongKind {
        /// Its seq.
        seq: u64,
    },
    /// A rotation to a key its predecessor did not commit to.
    #[error("rotation at {seq} introduces a key that was not committed")]
    UncommittedKey {
        /// Its seq.
        seq: u64,
    },
    /// A signature that does not verify under the key in force.
    #[error("entry {seq} is not signed by the key in force")]
    BadSignature {
        /// Its seq.
        seq: u64,
    },
}

/// Verifies `entries` as the feed `feed` from its inception; returns its head `(seq, id)`.
pub fn verify_chain(feed: &FeedId, entries: &[Entry]) -> Result<(u64, EntryId), ChainError> {
    let mut key: Option<PublicKey> = None;
    let mut committed: Option<Digest> = None;
    let mut prev: Option<EntryId> = None;
    for (position, entry) in entries.iter().enumerate() {
        let position = position as u64;
        if entry.feed != *feed {
            return Err(ChainError::WrongFeed { seq: entry.seq });
        }
        if entry.seq != position {
            return Err(ChainError::BadSeq {
                position,
                seq: entry.seq,
            });
        }
        if entry.prev != prev {
            return Err(ChainError::BrokenLink { seq: entry.seq });
        }
        match (&entry.body, position) {
            (Body::Inception(i), 0) => {
                key = Some(i.signing_key);
                committed = Some(i.next_key_digest);
            }
            (Body::Inception(_), _) | (_, 0) => {
                return Err(ChainError::WrongKind { seq: entry.seq });
            }
            (Body::Rotation(r), _) => {
                if Some(r.signing_key.next_key_digest()) != committed {
                    return Err(ChainError::UncommittedKey { seq: entry.seq });
                }
                key = Some(r.signing_key);
                committed = Some(r.next_key_digest);
            }
            _ => {}
        }
        let Some(signer) = key.as_ref() else {
            return Err(ChainError::WrongKind { seq: entry.seq });
        };
        let item = sig::Item {
            key: signer,
            domain: domain::ENTRY_SIGNATURE,
            message: &entry.payload,
            signature: &entry.signature,
        };
        if !sig::verify(&item) {
            return Err(ChainError::BadSignature { seq: entry.seq });
        }
        prev = Some(entry.id);
    }
    match entries.last() {
        Some(last) => Ok((last.seq, last.id)),
        None => Err(ChainError::Empty),
    }
}

#[cfg(all(test, feature = "fixtures"))]
mod tests {
    use super::*;
    use crate::fixtures::{self, DAY, T0};
    use crate::keys::SecretKey;
    use crate::vocab::Role;

    #[test]
    fn a_real_feed_verifies_and_every_forgery_is_caught() {
        let scene = fixtures::scene(T0);
        let (mut alice, a0) = fixtures::author(Role::Citizen, "alice", T0);
        let a1 = fixtures::append(
            &mut alice,
            T0 + DAY,
            fixtures::request(scene.collector.feed(), crate::vocab::RequestKind::Access),
        );
        let a2 = alice
            .rotate(T0 + 2 * DAY, SecretKey::from_seed(&[8; 32]))
            .expect("rotation");
        let a3 = fixtures::append(
            &mut alice,
            T0 + 3 * DAY,
            fixtures::request(scene.collector.feed(), crate::vocab::RequestKind::Erasure),
        );
        let feed = alice.feed();
        let chain = vec![a0.clone(), a1.clone(), a2.clone(), a3.clone()];
        assert_eq!(verify_chain(&feed, &chain), Ok((3, a3.id)));
        assert_eq!(verify_chain(&feed, &chain[..2]), Ok((1, a1.id)));
        assert_eq!(verify_chain(&feed, &[]), Err(ChainError::Empty));
        // Skipping an entry, reordering, another feed's entry.
        assert!(verify_chain(&feed, &[a0.clone(), a2.clone()]).is_err());
        assert!(verify_chain(&feed, &[a1.clone(), a0.clone()]).is_err());
        assert!(verify_chain(&feed, &scene.entries[..1]).is_err());
        // An entry signed by someone else (a node inventing a newer head).
        let (mut mallory, _) = fixtures::author(Role::Citizen, "mallory", T0);
        let forged = consent_forge(&mut mallory, &feed, &a3);
        assert_eq!(
            verify_chain(&feed, &[a0, a1, a2, a3, forged]),
            Err(ChainError::BadSignature { seq: 4 })
        );
    }

    /// An entry that claims to extend `feed` after `head`, signed with the wrong key.
    fn consent_forge(mallory: &mut crate::entry::Author, feed: &FeedId, head: &Entry) -> Entry {
        let body = fixtures::request(FeedId([1; 32]), crate::vocab::RequestKind::Access);
        Entry::sign(
            Some(*feed),
            head.seq + 1,
            Some(head.id),
            head.time_ms + 1,
            &body,
            mallory.key(),
        )
        .expect("signs")
    }
}
