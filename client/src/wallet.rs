//! Key derivation. Everything a wallet signs with derives from its 32-byte master secret, so the
//! recovery key alone restores it, without any operator's help.
//!
//! - A citizen has one **pairwise feed per collector**: key `n` of the feed for collector `C` is
//!   `Ed25519 seed = BLAKE3-derive-key("consent-ledger wallet v1 pairwise key", master || C || n_le32)`.
//!   Its inception is dated at a pseudo-random instant of 2020 derived the same way, so the feed id
//!   is recomputable from the master secret and the collector id, and two feeds of one wallet share
//!   no key, digest, id or time: no field of the ledger links them. When the person acts can
//!   (entries signed and sent together): the `privacy` module, which builds on this one, is what
//!   the wallet does about it.
//! - A collector or registrar has one feed: key `n` is
//!   `BLAKE3-derive-key("consent-ledger wallet v1 own key", master || role || n_le32)`.
//! - Key `n + 1` is always the pre-committed next key (pre-rotation).

use consent_proto::Entry;
use consent_proto::entry::Author;
use consent_proto::ids::{EntryId, FeedId};
use consent_proto::keys::SecretKey;
use consent_proto::limits::MIN_TIME_MS;
use consent_proto::validate::Rejection;
use consent_proto::vocab::Role;
use zeroize::Zeroizing;

const PAIRWISE_KEY: &str = "consent-ledger wallet v1 pairwise key";
const PAIRWISE_TIME: &str = "consent-ledger wallet v1 pairwise inception time";
const OWN_KEY: &str = "consent-ledger wallet v1 own key";
/// One year of ms: inception times of derived feeds fall in 2020 (`MIN_TIME_MS` + less than this).
pub(crate) const YEAR_MS: u64 = 365 * 86_400_000;

/// `BLAKE3-derive-key(context, parts concatenated)`, the parts and the result wiped when dropped.
pub(crate) fn derive(context: &str, parts: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let mut input = Zeroizing::new(Vec::new());
    for p in parts {
        input.extend_from_slice(p);
    }
    Zeroizing::new(blake3::derive_key(context, &input))
}

/// Key number `n` of the pairwise feed for `collector`.
pub fn pairwise_key(master: &[u8; 32], collector: &FeedId, n: u32) -> SecretKey {
    SecretKey::from_seed(&derive(
        PAIRWISE_KEY,
        &[master, &collector.0, &n.to_le_bytes()],
    ))
}

/// Inception time of the pairwise feed for `collector`.
pub fn pairwise_inception_ms(master: &[u8; 32], collector: &FeedId) -> u64 {
    let d = derive(PAIRWISE_TIME, &[master, &collector.0]);
    let mut eight = [0u8; 8];
    eight.copy_from_slice(&d[..8]);
    MIN_TIME_MS + u64::from_le_bytes(eight) % YEAR_MS
}

/// The pairwise feed's inception (always signed with key 0, committing to key 1).
pub fn pairwise_inception(
    master: &[u8; 32],
    collector: &FeedId,
) -> Result<(Author, Entry), Rejection> {
    Author::incept(
        Role::Citizen,
        pairwise_key(master, collector, 0),
        pairwise_key(master, collector, 1),
        pairwise_inception_ms(master, collector),
    )
}

/// Key number `n` of a collector's or registrar's own feed.
pub fn own_key(master: &[u8; 32], role: Role, n: u32) -> SecretKey {
    SecretKey::from_seed(&derive(OWN_KEY, &[master, &[role as u8], &n.to_le_bytes()]))
}

/// An author for a pairwise feed at a head learned from a node, signing with key `rotations`.
pub fn pairwise_author(
    master: &[u8; 32],
    collector: &FeedId,
    rotations: u32,
    seq: u64,
    head: EntryId,
) -> Author {
    let feed = pairwise_feed(master, collector);
    Author::resume(
        Role::Citizen,
        pairwise_key(master, collector, rotations),
        pairwise_key(master, collector, rotations + 1),
        feed,
        seq,
        head,
    )
}

/// The pairwise feed id for `collector` (computed, whether or not it exists on any node).
pub fn pairwise_feed(master: &[u8; 32], collector: &FeedId) -> FeedId {
    pairwise_inception(master, collector)
        .map(|(a, _)| a.feed())
        .unwrap_or(FeedId([0; 32]))
}

/// An author for an own feed at a known head.
pub fn own_author(
    master: &[u8; 32],
    role: Role,
    rotations: u32,
    feed: FeedId,
    seq: u64,
    head: EntryId,
) -> Author {
    Author::resume(
        role,
        own_key(master, role, rotations),
        own_key(master, role, rotations + 1),
        feed,
        seq,
        head,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use consent_proto::pb;
    use prost::Message;

    #[test]
    fn pairwise_feeds_of_one_wallet_share_no_field() {
        let master = [7u8; 32];
        let (_, a) = pairwise_inception(&master, &FeedId([1; 32])).expect("valid");
        let (_, b) = pairwise_inception(&master, &FeedId([2; 32])).expect("valid");
        let pa = pb::EntryPayload::decode(a.payload.as_ref()).expect("decodes");
        let pb_ = pb::EntryPayload::decode(b.payload.as_ref()).expect("decodes");
        assert_ne!(pa.time_ms, pb_.time_ms);
        let (
            Some(pb::entry_payload::Body::Inception(ia)),
            Some(pb::entry_payload::Body::Inception(ib)),
        ) = (pa.body, pb_.body)
        else {
            panic!("inceptions")
        };
        assert_ne!(ia.signing_key, ib.signing_key);
        assert_ne!(ia.next_key_digest, ib.next_key_digest);
        assert_ne!(a.feed, b.feed);
        assert_ne!(a.signature, b.signature);
        // Role is the only shared value, and every citizen feed has it.
        assert_eq!(ia.role, ib.role);
    }

    /// The pairwise feed in the protocol's test vectors (proto/vectors/vectors.json, written
    /// from the derivation the crate docs state) is this wallet's.
    #[test]
    fn the_pairwise_test_vector_is_this_derivation() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto/vectors/vectors.json");
        let text = std::fs::read_to_string(path).expect("the vectors file");
        let vectors: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let v = &vectors["pairwise"];
        let bytes32 = |field: &serde_json::Value| -> [u8; 32] {
            let mut out = [0u8; 32];
            hex::decode_to_slice(field.as_str().expect("hex"), &mut out).expect("32 bytes of hex");
            out
        };
        let master = bytes32(&v["master"]);
        let collector = FeedId(bytes32(&v["collector"]));
        for k in v["keys"].as_array().expect("keys") {
            let n = k["n"].as_u64().expect("n") as u32;
            let key = pairwise_key(&master, &collector, n);
            assert_eq!(*key.to_seed(), bytes32(&k["seed"]), "seed {n}");
            assert_eq!(key.public().to_bytes(), bytes32(&k["public"]), "key {n}");
        }
        assert_eq!(
            Some(pairwise_inception_ms(&master, &collector)),
            v["inception_ms"].as_u64()
        );
        let (_, inception) = pairwise_inception(&master, &collector).expect("valid");
        let expected = &v["inception"];
        assert_eq!(inception.feed.0, bytes32(&expected["feed"]));
        assert_eq!(inception.id.0, bytes32(&expected["id"]));
        assert_eq!(
            hex::encode(inception.encode()),
            expected["signed_entry"].as_str().expect("hex")
        );
        assert_eq!(pairwise_feed(&master, &collector), inception.feed);
    }

    #[test]
    fn derivation_is_deterministic_and_master_bound() {
        let c = FeedId([3; 32]);
        assert_eq!(pairwise_feed(&[1; 32], &c), pairwise_feed(&[1; 32], &c));
        assert_ne!(pairwise_feed(&[1; 32], &c), pairwise_feed(&[2; 32], &c));
        assert_ne!(
            own_key(&[1; 32], Role::Collector, 0).public(),
            own_key(&[1; 32], Role::Registrar, 0).public()
        );
        let t = pairwise_inception_ms(&[1; 32], &c);
        assert!((MIN_TIME_MS..MIN_TIME_MS + YEAR_MS).contains(&t));
    }
}
