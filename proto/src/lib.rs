//! # consent-proto: the consent-ledger protocol
//!
//! Wire types and the protocol's rules, shared by nodes, wallets, collectors and auditors. Pure:
//! no async runtime, no I/O. The generated tonic service stubs sit behind the `grpc` feature.
//!
//! # Layout
//! - [`pb`]: protobuf types generated from `proto/consent/v1/*.proto` (wire only).
//! - [`ids`], [`keys`]: 32-byte ids and Ed25519 keys as newtypes with bech32 text forms.
//! - [`vocab`]: roles, purposes, data categories, request kinds, and their text names.
//! - [`entry`]: decoding a [`pb::SignedEntry`] into a checked [`entry::Entry`]; building and signing entries.
//! - [`body`]: the domain form of every entry body, with its structural checks.
//! - [`validate`]: whether an entry may extend a feed given the ledger so far (pure, typed reasons).
//! - [`decide`]: the decision rule for consent checks (pure).
//! - [`receipt`]: node-signed receipts.
//! - [`limits`]: every size limit.
//!
//! # Protocol specification
//!
//! Everything below is normative; with the `.proto` files it is enough to write a client.
//!
//! ## Hashes, keys, signatures
//! - Hash: BLAKE3, 32-byte output. `H(domain, parts...)` below means BLAKE3 over the ASCII bytes of
//!   the domain string followed by the parts, concatenated with no separators or lengths (every
//!   part except the last has a fixed length, so the input is unambiguous).
//! - Signatures: Ed25519 (RFC 8032 signing), verified by the rule in [`sig`]: canonical `s`,
//!   canonical non-small-order `R` and key, and the cofactored equation, so that single and batch
//!   checks always agree. Public keys are 32 bytes, signatures 64 bytes.
//!
//! ## Entries
//! An entry travels and is stored as `SignedEntry { payload, signature }`:
//! - `payload` is the protobuf encoding of `EntryPayload`. Authors sign these exact bytes; nodes
//!   store and forward these exact bytes and never re-encode them.
//! - `signature = Ed25519-sign(key, "consent-ledger/entry/v1" || payload)`.
//! - **Entry id** `= BLAKE3("consent-ledger/entry-id/v1" || payload || signature)`.
//! - **Feed id** `= BLAKE3("consent-ledger/feed-id/v1" || payload of the inception entry)`. The
//!   inception (seq 0) has an empty `feed` and a `prev` of 32 zero bytes; every later entry carries
//!   its feed id in `feed` and the id of the entry at `seq - 1` in `prev`.
//! - **Next-key digest** `= BLAKE3("consent-ledger/next-key/v1" || public key)`.
//! - The key that signs an entry: for an `Inception` or a `Rotation`, the `signing_key` in its body;
//!   otherwise the feed's current key (the last inception or rotation key before it).
//! - A `Rotation`'s key must hash to the `next_key_digest` committed by the previous inception or
//!   rotation of the feed.
//!
//! ## Text forms
//! Bech32m (BIP 350) with a human-readable prefix naming the type; they round-trip exactly:
//! `cit1…`, `col1…`, `reg1…` (feed ids of a citizen, collector, registrar), `ent1…` (entry ids),
//! `node1…` (a node's public key), `key1…` (any other Ed25519 public key).
//!
//! ## Acceptance
//! A node accepts an entry only if [`validate::validate`] returns accept. Every entry is first
//! decoded ([`entry::Entry::from_signed`]): sizes within [`limits`]; a 64-byte signature; the
//! payload canonically encoded; exactly one body; body fields well formed (see `entry.proto`);
//! the seq/feed/prev form (an `Inception` at seq 0 with an empty `feed` and a `prev` of 32 zero
//! bytes; any other body at a seq above 0, with a 32-byte `feed` and `prev`).
//!
//! **A new entry** (`seq = head + 1`, or the inception of a feed the node does not know) must
//! also have: `prev = head id`; `time_ms` not before the previous entry's, not before
//! 2020-01-01, and at most [`limits::MAX_CLOCK_SKEW_MS`] ahead of the node's clock; a body allowed
//! for the feed's role; a valid signature (by the key in force; a `Rotation` by the key it
//! introduces, which must hash to the committed next-key digest); valid references (a grant's
//! policy exists, is a `Policy` of that collector, and declares every purpose and category
//! granted, with a retention at least as long as the grant's; a revoke names an unrevoked grant of
//! the same feed; an ack answers a request or an erase-revocation that concerns the acking
//! collector); and a registrar feed must be listed in the network genesis. An entry past
//! `head + 1` (or of a feed the node does not know), or whose referenced entry is missing, is
//! *pending*. A frozen feed takes no new entry (`feed-frozen`). A collector may ack one request
//! more than once: every ack is accepted and kept, and its **latest** ack (the highest seq in its
//! feed) is its answer; answer times count from the first.
//!
//! **An entry at a seq the node holds** (`seq ≤ head`) is judged by decoding and the
//! author-signature test alone: prev, time, role, references and body rules do not apply. In
//! order: the same id is a duplicate; on a frozen feed anything else is `feed-frozen`; otherwise
//! it is an **equivocation** when the author signed it, judged by the feed's keys *as of
//! seq − 1* on the node's own branch ([`validate::author_signed`]): signed by the key in force
//! after `seq − 1` (a `Rotation` signed by that key counts, whatever key it names), or a
//! `Rotation` to the next key committed by then, signed by that new key; at seq 0, signed by the
//! inception's own key. A conflict at seq 0 can only be the same payload signed differently (the
//! feed id is the hash of the inception payload, so another payload is another feed). Judging by
//! the key the node holds *at* `seq` would be wrong: if one branch rotates at `seq` and the other
//! does not, each side would find the other badly signed. The node then keeps both entries as
//! proof (the entry it held, then the conflicting one), freezes the feed and passes the second
//! entry on by gossip. A node holding the first entry's branch finds the same equivocation. A node
//! holding the second entry's branch sees a duplicate; it freezes through anti-entropy: the frozen
//! flag is part of the feed's head digest, so the comparison reaches the feed's head, which the
//! peer marks frozen, and the node asks that peer for the feed's `Proofs`, answered with the kept
//! pair, held entry first, which this node judges like any entry at a seq it holds.
//!
//! A conflicting entry that fails the author-signature test is refused as `unproven-conflict`
//! (it may be the author's, on a branch that rotated earlier), and an entry at `head + 1` whose
//! `prev` is not the head as `wrong-prev` (checked before its signature). Both depend on which
//! branch a node holds, so a node never blames the peer that relayed them
//! ([`validate::Rejection::blameless`]) and instead pulls that peer's branch of the feed from
//! `fetch_from` ([`validate::Rejection::fetch_from`]), on this node's branch: for `wrong-prev`,
//! the seq of the inception or of the latest `Rotation` at or before the head seq; for
//! `unproven-conflict` at seq `s`, the same at or before `s − 1`; 0 when `s` is 0 or when the
//! node has a hole below its head. The entries from there on show the fork, or are refused in
//! turn with a `fetch_from` further back. Between nodes the pull is bounded (the node's sync
//! protocol docs, consent-node `p2p::protocol`, "Another branch of a forked feed"): a branch
//! pull names `(feed, from_seq)` and its answer must hold only that feed's entries at or after
//! `from_seq`, else it is a bad message; a further pull of that feed follows only if the new
//! `fetch_from` is below the pull's `from_seq`; after gossip, at most one pull per refused entry,
//! and refused entries are rate-limited per peer.
//!
//! Wallets retry with the exact bytes they sent (Ed25519 signing is deterministic), so honest
//! retries are duplicates. On `wrong-prev` or `unproven-conflict` a wallet reads the feed's head
//! (`Ledger.GetHead`, `GetFeed`) and never signs another entry at a seq another node may already
//! hold: that is an equivocation, and it freezes the wallet's own feed.
//!
//! ## Equivocation evidence
//! Two entries with the same feed and seq and different ids, both signed by the author's keys as
//! of `seq − 1` ([`validate::author_signed`]), prove that the author equivocated. A node that
//! finds such a pair keeps both, freezes the feed (every check on it answers deny; the feed takes
//! no entry any more) and goes on serving the entry it held as part of the feed: the other one is
//! in no feed and not in the arrival log, so `Ledger.GetEntry` answers NOT_FOUND for it and
//! `GetFeed` and `GetLog` never show it. `Ledger.GetEquivocation(feed)` returns the evidence:
//! `frozen`, and each pair the node keeps, `{ seq, held, conflicting }` (two `SignedEntry`, exactly
//! as signed, the entry the node held first), by seq, at most
//! [`limits::MAX_EQUIVOCATIONS_LISTED`] (one in practice: a frozen feed takes nothing more). A
//! feed that is not frozen has an empty list; an unknown feed is NOT_FOUND, a feed id that is not
//! 32 bytes INVALID_ARGUMENT. A node holding the other branch keeps the same pair the other way
//! round.
//!
//! To check a pair without trusting the node: decode both ([`entry::Entry::from_signed`]); they
//! name the same feed and seq and have different ids; fetch the feed's entries `0..seq`
//! (`GetFeed`), check them as a chain ([`chain::verify_chain`]) and take the keys in force after
//! `seq − 1`: the signing key, and the next-key digest last committed. Each entry of the pair is
//! signed by that signing key, or is a `Rotation` whose key hashes to that digest and signs it.
//! At seq 0 both are inceptions signed by their own key; they differ only in their signature
//! bytes (another payload is another feed), which only the key holder can make. The test vectors
//! hold one pair (`equivocation`).
//!
//! The submit that reveals an equivocation is refused FAILED_PRECONDITION (in a batch,
//! `SubmitResult.error_reason` `equivocation`) with the message `equivocation: the feed
//! FeedId(feed1…) already holds a different entry at seq N; both are kept as proof and the feed is
//! now frozen (every check on it answers deny)`. `feed1…` is a feed id's text form without its
//! role (see *Text forms*).
//!
//! ## Deciding a check
//! See [`decide`] for the rule, including which grant and reason a deny names. Two bounds belong
//! to the rule, so every node (and every client cache) applies them alike:
//! - only the subject's newest [`limits::GRANTS_CONSIDERED`] (1,024) grants naming the collector
//!   are read, by seq: they are counted over all grants naming the collector, revoked, expired,
//!   not yet valid or not covering the question alike; older ones are ignored (a deny at worst,
//!   and only for a feed that signed that many grants to one collector). Entries are never
//!   refused for it. Nodes of releases before this bound read every grant, so while a network
//!   upgrades they can answer such a feed differently, and a quorum read then answers "the
//!   nodes disagree" (a deny).
//! - the rule answers from the state the node holds when deciding, for the time `at` asked. A
//!   question more than [`limits::QUESTION_TIME_TOLERANCE_MS`] before or after the node's clock
//!   is a *past* or *future* question ([`decide::question_time`]), marked so in the answer and
//!   its receipt.
//!
//! ## Receipts
//! `Receipt { payload, signature }` with `payload` the protobuf encoding of `ReceiptPayload` and
//! `signature = Ed25519-sign(node key, "consent-ledger/receipt/v1" || payload)`.
//!
//! ## Decision receipts
//! `DecisionReceipt { payload, signature, checkpoint, grant_inclusion, revocation_inclusion }`:
//! - `signature = Ed25519-sign(node key, "consent-ledger/decision/v1" || payload)`, with `payload`
//!   the protobuf encoding of `DecisionPayload`; the node key is the payload's `node`. The
//!   signature covers every payload field: `question` (the `CheckRequest` as asked), `decision`,
//!   `reason`, `grant` (the grant named, or empty), `subject_head` and `subject_head_seq`,
//!   `log_size`, `time_ms` (when the node decided), `at_ms` (the time the decision is about:
//!   `question.at_ms`, or `time_ms` when that is 0), `when` (`question_time(at_ms, time_ms)`:
//!   `PAST` if `at_ms + 300,000 < time_ms`, `FUTURE` if `at_ms > time_ms + 300,000`, else
//!   `CURRENT`; the margin is [`limits::QUESTION_TIME_TOLERANCE_MS`]) and, for a `REVOKED` deny,
//!   `revocation` (the id of the entry that revoked the grant). Times are compared as
//!   mathematical integers, with no wraparound (in `u64`, saturating sums give the same result).
//! - A `REVOKED` receipt may name no revocation: the node looks for it only among the 1,000
//!   entries of the subject's feed that follow the grant, and receipts signed before the field
//!   existed never name one. Any other reason names none: a `revocation` with another reason, or
//!   not 32 bytes long, makes the receipt malformed.
//! - Not signed: `checkpoint` (a note the node signed itself, with witness cosignatures) and the
//!   two inclusion proofs, each of which proves itself against that checkpoint. They are bound to
//!   the signed payload by entry id: `grant_inclusion.entry_id` must equal `grant`, and, when the
//!   payload names a revocation, `revocation_inclusion.entry_id` must equal `revocation` (a
//!   proof of another entry makes the receipt invalid). When the payload names none, a
//!   revocation proof is bound to nothing signed: it is ignored and proves nothing (older
//!   `REVOKED` receipts carry one; see [`evidence::verify_decision`] to use it).
//!
//! A verifier ([`evidence::verify_decision`]) checks: the signature under a node key it trusts;
//! `question` present; if either `at_ms` or `when` is non-zero, both equal the values computed
//! from `question.at_ms` and `time_ms` as above (receipts signed before these fields existed
//! leave both zero: compute them with [`receipt::decided_about`]); the checkpoint signed by the
//! same node and cosigned by enough of the witnesses it trusts; and each proof as above. Then it
//! reads the decision *about `at_ms`*: an allow with `when = PAST` says a grant was in force at
//! that time, as the node knew at `time_ms`, and is no consent to process data at `time_ms`; with
//! `when = FUTURE`, a revocation or suspension before `at_ms` can change the answer.
//! `subject_head_seq` and `log_size` say how fresh the node's state was.
//!
//! A `CheckResponse` carries `at_ms` and `when` too, computed the same way; a node always sets
//! `when` to `CURRENT`, `PAST` or `FUTURE`. `QUESTION_TIME_UNSPECIFIED` there means a node from
//! before the field existed, not `CURRENT`: compute it from `at_ms` and the time of the answer,
//! or ask for a receipt.
//!
//! ## Test vectors
//! `proto/vectors/vectors.json` holds vectors for this specification, generated from fixed seeds
//! by `proto/tests/vectors.rs` (every key is the Ed25519 seed `BLAKE3(label)` of its label;
//! bytes are lower-case hex, enums named as in the `.proto` files):
//! - `keys`: each labelled key, its public key and `key1…` text.
//! - `entries`: a small network's history in an order a node accepts at `validation_clock_ms`:
//!   the dev registrar's inception, its accreditation and later suspension of a collector; the
//!   collector's inception, policy and two acks (`DONE` to a request, `REFUSED` to an erasure); a
//!   citizen's inception, grant, access request, revocation with erasure, rotation and an erasure
//!   request signed with the new key. Every body kind, each with its fields (`body`, as in the
//!   `.proto`), `payload`, `signature`, `signed_entry` (the `SignedEntry` encoding), `id`, `feed`,
//!   their text forms, and the key that signs it.
//! - `dev_registrar` and `pairwise`: the two key derivations below, and the inceptions they give.
//! - `encodings`: payloads with their signed envelopes, canonical (`reason` null) or refused with
//!   the reason a node gives (`non-canonical`, `missing-body`, `malformed`); each is signed by its
//!   author, so only the encoding is wrong.
//! - `signatures`: the signature rule's edge cases, whether this protocol accepts each (`valid`)
//!   and whether the cofactorless equation holds (`cofactorless`).
//! - `text_forms`: 32 bytes under each text prefix.
//! - `auth`: a collector's authentication statement and its signature.
//! - `receipts`: two entry receipts. `decision_receipts`: an `ALLOW`, and a `REVOKED` deny about a
//!   past time, each with its checkpoint note (signed by the node, cosigned by a witness) and the
//!   inclusion proofs of the grant (and revocation) in that checkpoint's tree.
//! - `merkle`: the tree over the entries' ids in arrival order: leaf hashes, the root at every
//!   size, inclusion and consistency proofs.
//! - `equivocation`: an inception and two entries at seq 1, both signed by its key.
//!
//! The Rust tests check that the file is what the generator writes and verify every vector
//! through this crate's API; the Python client written from this text checks them with its own
//! code (`tests/interop/vectors.py`). A change to a vector is a change to the protocol.
//!
//! ## Limits
//! See [`limits`]; the same numbers are stated in the `.proto` comments.

pub mod auth;
pub mod body;
pub mod chain;
#[cfg(feature = "grpc")]
pub mod codec;
pub mod decide;
pub mod dev;
pub mod entry;
pub mod evidence;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod ids;
pub mod keys;
pub mod limits;
pub mod memory;
pub mod merkle;
pub mod note;
pub mod pb;
pub mod receipt;
pub mod sig;
pub mod validate;
pub mod vocab;

pub use entry::Entry;
pub use ids::{EntryId, FeedId, TypedFeedId};
pub use keys::{PublicKey, SecretKey};
pub use validate::Rejection;

/// Domain-separation prefixes. Each is hashed or signed before the bytes it separates.
pub mod domain {
    /// Prefix of the bytes an entry signature covers.
    pub const ENTRY_SIGNATURE: &[u8] = b"consent-ledger/entry/v1";
    /// Prefix of the entry-id hash input.
    pub const ENTRY_ID: &[u8] = b"consent-ledger/entry-id/v1";
    /// Prefix of the feed-id hash input.
    pub const FEED_ID: &[u8] = b"consent-ledger/feed-id/v1";
    /// Prefix of the next-key digest input.
    pub const NEXT_KEY: &[u8] = b"consent-ledger/next-key/v1";
    /// Prefix of the bytes a node's receipt signature covers.
    pub const RECEIPT_SIGNATURE: &[u8] = b"consent-ledger/receipt/v1";
    /// Prefix of the bytes a node's decision receipt signature covers.
    pub const DECISION_SIGNATURE: &[u8] = b"consent-ledger/decision/v1";
    /// Prefix of a collector's authentication statement.
    pub const AUTH: &[u8] = b"consent-ledger/auth/v1";
}
