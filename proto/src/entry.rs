//! Entries: decoding a `SignedEntry` into a structurally checked [`Entry`] (no ledger state
//! needed), computing ids, verifying signatures, and building and signing new entries.

use prost::Message;
use prost::bytes::Bytes;

use crate::body::{Body, Inception, Rotation};
use crate::domain;
use crate::ids::{Digest, EntryId, FeedId};
use crate::keys::{PublicKey, SecretKey};
use crate::limits::{MAX_ENTRY_BYTES, SIGNATURE_LEN};
use crate::pb;
use crate::validate::Rejection;
use crate::vocab::Role;

/// A structurally valid entry. Its signature and its place in the feed are checked by
/// [`crate::validate::validate`] against the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `BLAKE3("consent-ledger/entry-id/v1" || payload || signature)`.
    pub id: EntryId,
    /// The feed (computed from the payload for an inception).
    pub feed: FeedId,
    /// Position in the feed.
    pub seq: u64,
    /// Id of the entry at `seq - 1`; `None` for the inception.
    pub prev: Option<EntryId>,
    /// Author's clock, Unix ms.
    pub time_ms: u64,
    /// The statement.
    pub body: Body,
    /// The exact signed payload bytes.
    pub payload: Bytes,
    /// Ed25519 signature over `"consent-ledger/entry/v1" || payload`.
    pub signature: [u8; 64],
}

/// `BLAKE3("consent-ledger/entry-id/v1" || payload || signature)`.
pub fn entry_id(payload: &[u8], signature: &[u8; 64]) -> EntryId {
    let mut h = blake3::Hasher::new();
    h.update(domain::ENTRY_ID);
    h.update(payload);
    h.update(signature);
    EntryId(*h.finalize().as_bytes())
}

/// `BLAKE3("consent-ledger/feed-id/v1" || inception payload)`.
pub fn feed_id(inception_payload: &[u8]) -> FeedId {
    let mut h = blake3::Hasher::new();
    h.update(domain::FEED_ID);
    h.update(inception_payload);
    FeedId(*h.finalize().as_bytes())
}

impl Entry {
    /// Decodes an encoded `SignedEntry` (e.g. from the network or disk).
    pub fn decode(bytes: &[u8]) -> Result<Entry, Rejection> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(Rejection::TooLarge {
                size: bytes.len(),
                max: MAX_ENTRY_BYTES,
            });
        }
        let signed =
            pb::SignedEntry::decode(bytes).map_err(|e| Rejection::Malformed(e.to_string()))?;
        Entry::from_signed(&signed)
    }

    /// Checks a decoded `SignedEntry`: size, signature length, canonical payload, feed/seq/prev
    /// rules and every body field. Does not verify the signature (that needs the feed's key).
    pub fn from_signed(signed: &pb::SignedEntry) -> Result<Entry, Rejection> {
        let size = signed.encoded_len();
        if size > MAX_ENTRY_BYTES {
            return Err(Rejection::TooLarge {
                size,
                max: MAX_ENTRY_BYTES,
            });
        }
        let signature: [u8; 64] = signed
            .signature
            .as_ref()
            .try_into()
            .map_err(|_| Rejection::BadSignatureLength(signed.signature.len()))?;
        let payload = signed.payload.clone();
        let wire = pb::EntryPayload::decode(payload.as_ref())
            .map_err(|e| Rejection::Malformed(e.to_string()))?;
        // Only the canonical encoding is accepted: no unknown fields (nothing can be smuggled
        // into a citizen's entry), fields in order, defaults omitted.
        if wire.encoded_len() != payload.len() || wire.encode_to_vec() != payload.as_ref() {
            return Err(Rejection::NonCanonical);
        }
        let wire_body = wire.body.as_ref().ok_or(Rejection::MissingBody)?;
        let body = Body::from_wire(wire_body)?;
        let (feed, prev) = if let Body::Inception(_) = body {
            if wire.seq != 0 {
                return Err(Rejection::BadSeq("an inception must be at seq 0".into()));
            }
            if !wire.feed.is_empty() {
                return Err(Rejection::BadField {
                    field: "feed",
                    problem: "must be empty in an inception".into(),
                });
            }
            if wire.prev.as_ref() != [0u8; 32] {
                return Err(Rejection::BadField {
                    field: "prev",
                    problem: "must be 32 zero bytes in an inception".into(),
                });
            }
            (feed_id(&payload), None)
        } else {
            if wire.seq == 0 {
                return Err(Rejection::BadSeq("seq 0 must be an inception".into()));
            }
            let feed = FeedId::from_slice(&wire.feed).map_err(|e| Rejection::BadField {
                field: "feed",
                problem: e.to_string(),
            })?;
            let prev = EntryId::from_slice(&wire.prev).map_err(|e| Rejection::BadField {
                field: "prev",
                problem: e.to_string(),
            })?;
            (feed, Some(prev))
        };
        Ok(Entry {
            id: entry_id(&payload, &signature),
            feed,
            seq: wire.seq,
            prev,
            time_ms: wire.time_ms,
            body,
            payload,
            signature,
        })
    }

    /// The wire envelope (sharing the payload bytes).
    pub fn to_signed(&self) -> pb::SignedEntry {
        pb::SignedEntry {
            payload: self.payload.clone(),
            signature: Bytes::copy_from_slice(&self.signature),
        }
    }

    /// The encoded envelope, as stored and sent.
    pub fn encode(&self) -> Vec<u8> {
        self.to_signed().encode_to_vec()
    }

    /// The key a body carries itself (inception and rotation are signed by the key they introduce).
    pub fn key_in_body(&self) -> Option<PublicKey> {
        match &self.body {
            Body::Inception(b) => Some(b.signing_key),
            Body::Rotation(b) => Some(b.signing_key),
            _ => None,
        }
    }

    /// Strict verification of the signature under `key`.
    pub fn verify(&self, key: &PublicKey) -> bool {
        key.verify(domain::ENTRY_SIGNATURE, &self.payload, &self.signature)
    }

    /// Encodes, signs and re-checks a new entry.
    pub fn sign(
        feed: Option<FeedId>,
        seq: u64,
        prev: Option<EntryId>,
        time_ms: u64,
        body: &Body,
        key: &SecretKey,
    ) -> Result<Entry, Rejection> {
        let payload = pb::EntryPayload {
            feed: feed
                .map(|f| Bytes::copy_from_slice(&f.0))
                .unwrap_or_default(),
            seq,
            prev: Bytes::copy_from_slice(&prev.map(|p| p.0).unwrap_or([0; 32])),
            time_ms,
            body: Some(body.to_wire()),
        }
        .encode_to_vec();
        let signature = key.sign(domain::ENTRY_SIGNATURE, &payload);
        let signed = pb::SignedEntry {
            payload: payload.into(),
            signature: Bytes::copy_from_slice(&signature),
        };
        Entry::from_signed(&signed)
    }
}

/// The signature length, re-exported for callers that check envelopes.
pub const SIGNATURE_BYTES: usize = SIGNATURE_LEN;

/// Authors a feed: holds the current and next secret keys and the head, and signs each next
/// entry. Used by wallets, collectors, registrars and tests; it does no I/O.
#[derive(Debug, Clone)]
pub struct Author {
    key: SecretKey,
    next: SecretKey,
    feed: FeedId,
    seq: u64,
    head: EntryId,
    role: Role,
}

impl Author {
    /// Creates a feed: returns the author and its signed inception entry.
    pub fn incept(
        role: Role,
        key: SecretKey,
        next: SecretKey,
        time_ms: u64,
    ) -> Result<(Author, Entry), Rejection> {
        let body = Body::Inception(Inception {
            role,
            signing_key: key.public(),
            next_key_digest: next.public().next_key_digest(),
        });
        let entry = Entry::sign(None, 0, None, time_ms, &body, &key)?;
        let author = Author {
            key,
            next,
            feed: entry.feed,
            seq: 0,
            head: entry.id,
            role,
        };
        Ok((author, entry))
    }

    /// Resumes an existing feed at its head.
    pub fn resume(
        role: Role,
        key: SecretKey,
        next: SecretKey,
        feed: FeedId,
        seq: u64,
        head: EntryId,
    ) -> Author {
        Author {
            key,
            next,
            feed,
            seq,
            head,
            role,
        }
    }

    /// The same author, moved to a head learned from a node (e.g. after other devices appended).
    pub fn with_head(mut self, seq: u64, head: EntryId) -> Author {
        self.seq = seq;
        self.head = head;
        self
    }

    /// Signs the next entry and advances the head.
    pub fn append(&mut self, time_ms: u64, body: Body) -> Result<Entry, Rejection> {
        let entry = self.sign_next(time_ms, &body)?;
        self.seq = entry.seq;
        self.head = entry.id;
        Ok(entry)
    }

    /// Signs an entry at `head + 1` without advancing (e.g. to show what would be signed).
    pub fn sign_next(&self, time_ms: u64, body: &Body) -> Result<Entry, Rejection> {
        Entry::sign(
            Some(self.feed),
            self.seq + 1,
            Some(self.head),
            time_ms,
            body,
            &self.key,
        )
    }

    /// Rotates to the pre-committed next key, committing to `new_next`.
    pub fn rotate(&mut self, time_ms: u64, new_next: SecretKey) -> Result<Entry, Rejection> {
        let body = Body::Rotation(Rotation {
            signing_key: self.next.public(),
            next_key_digest: new_next.public().next_key_digest(),
        });
        let entry = Entry::sign(
            Some(self.feed),
            self.seq + 1,
            Some(self.head),
            time_ms,
            &body,
            &self.next,
        )?;
        self.seq = entry.seq;
        self.head = entry.id;
        self.key = std::mem::replace(&mut self.next, new_next);
        Ok(entry)
    }

    /// The feed id.
    pub fn feed(&self) -> FeedId {
        self.feed
    }

    /// The feed's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Sequence number of the head.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Id of the head.
    pub fn head(&self) -> EntryId {
        self.head
    }

    /// The current signing key.
    pub fn key(&self) -> &SecretKey {
        &self.key
    }

    /// The digest committed for the next key.
    pub fn next_key_digest(&self) -> Digest {
        self.next.public().next_key_digest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Revoke;
    use proptest::prelude::*;

    fn key(n: u8) -> SecretKey {
        SecretKey::from_seed(&[n; 32])
    }

    const T: u64 = 1_700_000_000_000;

    #[test]
    fn encoding_round_trips_and_ids_are_stable() {
        let (mut author, inception) =
            Author::incept(Role::Citizen, key(1), key(2), T).expect("incept");
        assert_eq!(inception.feed, feed_id(&inception.payload));
        assert_eq!(Entry::decode(&inception.encode()), Ok(inception.clone()));
        assert!(inception.verify(&key(1).public()));
        let revoke = author
            .append(
                T + 1,
                Body::Revoke(Revoke {
                    grant: EntryId([5; 32]),
                    erase: true,
                    on_behalf: None,
                }),
            )
            .expect("sign");
        assert_eq!(revoke.prev, Some(inception.id));
        assert_eq!(revoke.feed, inception.feed);
        let again = Entry::decode(&revoke.encode()).expect("decodes");
        assert_eq!(again.id, revoke.id);
        assert_eq!(again.id, entry_id(&revoke.payload, &revoke.signature));
    }

    #[test]
    fn known_vector() {
        // Pinned so that an accidental change to encoding or hashing is caught.
        let (_, inception) = Author::incept(Role::Collector, key(1), key(2), T).expect("incept");
        // 34 (prev) + 7 (time) + 72 (inception: role 2, key 34, digest 34, framing 2).
        assert_eq!(inception.payload.len(), 113);
        assert_eq!(
            inception.id.to_string(),
            "ent1z7u8rx0m0fctl0zs6k7tssf9lpxrlrzxc6r7x8edmmfv7gutd7lsn9net8"
        );
        assert_eq!(
            inception.feed.typed(Role::Collector).to_string(),
            "col1frz2yc6kdrm6fyfr50durv99an82ngs3x74p3k026qlw045pycpsdwfhcw"
        );
        // The id is computed as documented: BLAKE3 over the domain, payload and signature.
        let mut input = b"consent-ledger/entry-id/v1".to_vec();
        input.extend_from_slice(&inception.payload);
        input.extend_from_slice(&inception.signature);
        assert_eq!(inception.id.0, *blake3::hash(&input).as_bytes());
    }

    #[test]
    fn non_canonical_payload_is_rejected() {
        let (_, inception) = Author::incept(Role::Citizen, key(1), key(2), T).expect("incept");
        let mut payload = inception.payload.to_vec();
        payload.extend_from_slice(&[0xF8, 0x07, 0x01]); // unknown field 127, varint 1
        let sig = key(1).sign(domain::ENTRY_SIGNATURE, &payload);
        let signed = pb::SignedEntry {
            payload: payload.into(),
            signature: Bytes::copy_from_slice(&sig),
        };
        assert_eq!(Entry::from_signed(&signed), Err(Rejection::NonCanonical));
    }

    #[test]
    fn structural_rejections() {
        assert!(matches!(
            Entry::decode(&vec![0u8; MAX_ENTRY_BYTES + 1]),
            Err(Rejection::TooLarge { .. })
        ));
        assert!(matches!(
            Entry::decode(&[0xFF, 0xFF, 0xFF]),
            Err(Rejection::Malformed(_))
        ));
        let no_body = pb::SignedEntry {
            payload: Bytes::new(),
            signature: Bytes::from(vec![0u8; 64]),
        };
        assert_eq!(Entry::from_signed(&no_body), Err(Rejection::MissingBody));
        let short_sig = pb::SignedEntry {
            payload: Bytes::new(),
            signature: Bytes::from(vec![0u8; 10]),
        };
        assert_eq!(
            Entry::from_signed(&short_sig),
            Err(Rejection::BadSignatureLength(10))
        );
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = Entry::decode(&bytes);
        }

        #[test]
        fn decoding_mutated_entries_never_panics(pos in 0usize..200, byte in any::<u8>()) {
            let (mut author, _) = Author::incept(Role::Citizen, key(1), key(2), T).expect("incept");
            let entry = author.append(T, Body::Revoke(Revoke { grant: EntryId([1; 32]), erase: false, on_behalf: None })).expect("sign");
            let mut bytes = entry.encode();
            let i = pos % bytes.len();
            bytes[i] = byte;
            if let Ok(decoded) = Entry::decode(&bytes) {
                // Any change that still decodes changes the id or leaves the bytes identical.
                prop_assert!(decoded.id != entry.id || bytes == entry.encode());
            }
        }
    }
}
