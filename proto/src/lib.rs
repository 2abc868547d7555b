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
//! - [`reasons`]: the closed, versioned enum of rejection reasons, and refusals' status details.
//! - [`envelope`]: the unsigned `SignedEntry` envelope, checked as bytes (no unknown fields).
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
//! ## Pending entries
//! An entry that cannot be judged yet answers `PENDING`, with `missing` naming the feed or entry
//! it waits for ([`validate::Missing`]): its predecessor has not arrived (`seq > head + 1`; for a
//! feed the node does not know, its inception), or an entry it references has not. The node
//! *parks* it and judges it again, in full, when what it waits for is accepted, and then what
//! waited for that in turn; between nodes it pulls what is missing from the peer that sent the
//! entry. `PENDING` is no promise of acceptance.
//! - **What is checked before parking** ([`validate::Verdict::Pending`]). Decoding, in full. An
//!   entry that waits for a reference is at `head + 1` and has passed every check that does not
//!   need the reference, its signature included. An entry past `head + 1` is *verified* if the
//!   feed's current key signed it — for a `Rotation`, if it is signed by the key it names and that
//!   key hashes to the feed's committed next-key digest — and otherwise *unverifiable*, not
//!   refused: a rotation may lie in the gap. An entry of a feed the node does not know is
//!   *unverifiable*: no key of it is known. A `Rotation` not signed by the key it names is refused
//!   (`bad-signature`) wherever it stands. Everything else (prev, time, role, references, body
//!   rules; the signature of an unverifiable entry) is judged when the entry is woken.
//! - **For a while.** A parked entry is dropped once the node's pending time-out has passed
//!   (consent-node `[ledger] pending_ttl`, 10 minutes by default, from when it first arrived;
//!   checked every 30 s), or earlier to make room for another (below). Either way silently: send
//!   what it waits for, then the entry again (an entry parked already answers `PENDING` again and
//!   changes nothing).
//! - **Bounded, and shared between sources.** A node parks at most `max_pending` entries
//!   (`[ledger] max_pending`, 10,000 by default), and from one *source* at most
//!   `min(max(max_pending / 8, 64), max_pending)` (1,250 by default). A source is a gRPC client's
//!   IP address (an IPv6 client's /64 network, an IPv4-mapped address its IPv4 address), or the
//!   p2p peer that pushed the entry or answered a pull with it. When a source at its bound parks
//!   one more, its own oldest unverifiable entry is dropped; if it holds only verified ones, the
//!   new entry is refused. When the node holds `max_pending`, the source holding the most entries
//!   gives one up — its oldest unverifiable entry, or if it has none its oldest verified one —
//!   provided it holds more than the source parking; otherwise the parking source's own oldest
//!   unverifiable entry is dropped, and if it has none the new entry is refused. So a flood from
//!   one source costs only that source's entries; a source's entries give way only to sources
//!   holding fewer; and a source under its bound that holds fewer entries than the largest one is
//!   never refused.
//!   Who sent an entry is not stored: after a restart, the entries parked before count for one
//!   source, as unverifiable.
//! - **Refused: `pending-full`.** `Submit` answers `RESOURCE_EXHAUSTED` with the reason
//!   `pending-full` (in `SubmitBatch`, that item's `error_reason`); nothing was kept. Send what
//!   the entry waits for first (it is then accepted, not parked), or retry later.
//! - **Seen from outside.** `Node.Status` reports `pending` (entries parked now) and
//!   `pending_evicted` (entries dropped to make room since the node started); `/metrics` the same
//!   as `consent_pending_entries` and `consent_pending_evicted_total`.
//!
//! These bounds are each node's own: nodes of one network may set them differently, and no
//! decision depends on them.
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
//!   signature covers every payload field: `question` (the `CheckRequest` as asked, except that
//!   an `at_ms` left 0 is set to the time the decision is about, `time_ms`; receipts signed
//!   before this rule echo the 0 they were asked with), `decision`,
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
//! ## Rejection reasons
//! Every refusal of an entry names its reason, one value of the closed enum `RejectionReason`
//! (`ledger.proto`, where each is documented; [`reasons`]): the rejections of
//! [`validate::Rejection`] ([`reasons::reason`] maps each to its own value), the two outcomes that
//! are errors without being rejections (`equivocation`, `pending-full`), and `unknown-field`
//! below. A reason's name (`wrong-prev`) is its value's name without `REJECTION_REASON_`, in
//! lower case with `_` as `-`. It travels:
//! - in `Submit`'s refusal: the gRPC status details (the `grpc-status-details-bin` trailer) are a
//!   `google.rpc.Status` whose `details` hold one `google.protobuf.Any` with type URL
//!   `type.googleapis.com/consent.v1.RejectionDetail` and an encoded `RejectionDetail { reason,
//!   code }`; the trailing metadata `consent-reason` holds the name; the message starts
//!   `entry rejected (<name>): ` for a rejection;
//! - in a `SubmitBatch`, per entry: `SubmitResult.rejection_reason`, and the name in
//!   `error_reason` (`internal`, with `rejection_reason` unspecified, when the node failed on the
//!   entry).
//!
//! Versioned by [`reasons::REJECTION_REASONS_VERSION`] (1: values 1 to 30), which `Node.Status`
//! reports: values are never renumbered or reused, and a new reason is added with a new number
//! and raises the version. A client treats a value it does not know as "rejected, reason
//! unknown"; the gRPC code still tells it whether to fix the entry (INVALID_ARGUMENT), wait
//! (FAILED_PRECONDITION, RESOURCE_EXHAUSTED) or retry elsewhere.
//!
//! **The envelope.** `SignedEntry` has only `payload` (1) and `signature` (2). A `Submit` or
//! `SubmitBatch` whose `SignedEntry` holds any other field is refused whole, INVALID_ARGUMENT,
//! `unknown-field` (for a batch the message starts `entry <i>: `, `i` counting from 0): nothing
//! outside the payload is signed or kept, so the field would otherwise be dropped unseen
//! ([`envelope`]). Each of the two fields may appear more than once (protobuf's rule: the last
//! one counts) and in either order; the node stores and forwards the envelope re-encoded,
//! `payload` then `signature`.
//!
//! ## Versioning
//! What a node speaks has four versions, each reported by `Node.Status`:
//! - **Between nodes**: the sync protocol's name, `/consent-ledger/<network>/sync/<n>`
//!   (`sync_protocols`), and the libp2p identify version `/consent-ledger/<network>/<n>.0.0`
//!   (`identify_version`), whose major number follows the sync protocol's. *Any* change to what
//!   travels between nodes renames the sync protocol (and raises the identify major): its
//!   messages, their encoding or limits, the gossip message, and any rule that makes two nodes
//!   judge the same entry differently. A node disconnects a peer whose identify version is not
//!   its own, or which announces none of its sync protocols, with one warning naming the peer
//!   and both versions (consent-node `p2p::protocol`, "Transport and names").
//! - **Between clients and a node** (gRPC, package `consent.v1`): changes are additive. New
//!   fields, enum values, messages and methods are added with new numbers; nothing is
//!   renumbered, retyped or given another meaning; a client that ignores what it does not know
//!   keeps working. A node may become stricter about input it never accepted meaningfully (an
//!   unknown field in the envelope, an empty batch), with a clear error. A client treats an
//!   enum value it does not know as the enum's unspecified value (for `RejectionReason`,
//!   "rejected, reason unknown"); a node from before a field leaves it unset.
//! - **Rejection reasons**: [`reasons::REJECTION_REASONS_VERSION`] (`rejection_reasons_version`),
//!   above.
//! - **The store on disk**: a layout version (`store_layout_version`; consent-node
//!   `ledger::tables::SCHEMA_VERSION`). A node opens a store of its own layout, migrates at start
//!   the older layouts it names (and says so in its log), and refuses any other with a message
//!   saying what to do (run the release that wrote it, or move the data directory aside and
//!   sync anew from peers). A release that changes the layout raises it.
//! - The domain-separation prefixes ([`domain`], `…/v1`) change only with the meaning of what
//!   they sign or hash; a new prefix is a new protocol.
//!
//! ## Limits
//! See [`limits`]; the same numbers are stated in the `.proto` comments.
//!
//! ### What a node lets a caller without a session spend
//! These protect one node's resources; they decide nothing (no answer depends on them), and a
//! node of another implementation may set its own. A client must expect them: each refusal of a
//! call is `RESOURCE_EXHAUSTED` with trailing metadata `consent-reason` naming the limit (the
//! message starts with the same words); back off and retry, or use another node. A *client
//! address* is the IP address a call comes from, an IPv6 address by its /64 prefix; behind a
//! reverse proxy the node trusts, the address that proxy appends to `x-forwarded-for`.
//!
//! | resource | limit (consent-node's defaults) | over it |
//! |---|---|---|
//! | gRPC connections | 4,096 open on a node, 64 per client address (configurable) | closed at once, before HTTP/2 starts (the client sees `UNAVAILABLE`) |
//! | a new connection's HTTP/2 preface | within 10 s of connecting | the connection is closed |
//! | HTTP/2 streams per connection | 512 (twice the calls in flight; `SETTINGS_MAX_CONCURRENT_STREAMS`) | the client waits for one to close (HTTP/2) |
//! | calls in flight per connection | 256 (configurable) | the next waits its turn |
//! | a unary call's time | 30 s (configurable) | `CANCELLED` |
//! | `Authenticate` | 64 at once per client address, then 8 a second | `too-many-authentications` |
//! | `GetLog` / `GetFeed` streams | 16 open per client address, 256 per node | `too-many-read-streams`, `node-read-streams-full` |
//! | a `GetLog` / `GetFeed` client that does not read | 30 s with the stream's 64-entry buffer full | the stream ends with `client-not-reading` before what it buffered; call again from the entry after the last one received |
//! | entries per `GetLog` / `GetFeed` call | 10,000 ([`limits::MAX_FEED_STREAM`]) | a larger `limit` is refused; resume from the next index or seq |
//! | public reads (`GetEntry`, `GetHead`, stream pages, proofs, `Status`) | 16 store reads at once per node | the next waits its turn |
//! | `Watch` (needs a session) | 4 streams per collector, 1,024 per node; 30 s not reading | `too-many-watch-streams`, `node-watch-streams-full`, `client-not-reading` |
//!
//! Between nodes (the sync protocol, any peer that knows the genesis digest): each peer has a
//! budget of 2,000 request units a second (burst 4,000; a range, an id list or a head page
//! costs 1 or 2, a digest list 4 or 20, a checkpoint 2, a signed checkpoint 10, fork evidence
//! 4, cosignatures 2 a line and at least 4); a request over it is answered `Refused("rate limited; slow down")` and
//! counts against the peer (enough of them, with other offences, ban it for 10 minutes). A node
//! answers at most 32 sync requests at once, all peers together; the rest wait their turn, and a
//! request whose requester gave up (20 s) is dropped unanswered. Pushed entries beyond 20,000 a
//! second per peer (burst 40,000) are ignored, left to anti-entropy. A node keeps at most 256
//! peer connections, 2 per peer.

pub mod auth;
pub mod body;
pub mod chain;
#[cfg(feature = "grpc")]
pub mod codec;
pub mod decide;
pub mod dev;
pub mod entry;
pub mod envelope;
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
pub mod reasons;
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
