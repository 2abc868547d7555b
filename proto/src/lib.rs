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
//! - [`decide`]: the decision rule for consent checks (pure); [`delegation`]: when a statement a
//!   delegate signed in someone's name counts, and the submit-path refusal of backdated ones.
//! - [`policy_change`]: what changes between two policy versions (widens, narrows) and ids kept
//!   with another meaning; [`consultation`]: consultations' state, effect, counts and admission
//!   refusals.
//! - [`scope`]: zones, sensors, time windows and forms of policies and grants, the context of a
//!   check, and the rule that judges it; [`h3`]: H3 cell indexes by integer rules alone.
//! - [`reasons`]: the closed, versioned enum of rejection reasons, and refusals' status details.
//! - [`envelope`]: the unsigned `SignedEntry` envelope, checked as bytes (no unknown fields).
//! - [`receipt`]: node-signed receipts; [`evidence`]: receipts checked with their log evidence.
//! - [`sig`]: the signature rule; [`auth`]: collectors' authentication statements.
//! - [`merkle`], [`note`]: the verifiable log's tree, proofs and signed checkpoints.
//! - [`chain`]: a feed checked on its own; [`memory`]: a reference ledger in memory.
//! - [`dev`]: the development network's registrar.
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
//! - Keys: Ed25519. A secret key is an RFC 8032 32-byte seed; a public key is 32 bytes, and is
//!   usable (in an `Inception` or a `Rotation`, as a node key, as a note signer) only if its `y`
//!   is canonical (below 2^255 − 19), it decodes to a curve point, and that point is not of small
//!   order ([`keys::PublicKey::from_bytes`]; in an entry, anything else is `bad-field`). A key with a torsion component
//!   that is not itself of small order (mixed order) is usable.
//! - Signatures: 64 bytes `R || s`, made by RFC 8032 signing (deterministic: the same key and
//!   message always give the same bytes), over `domain || message`, verified by the rule in
//!   [`sig`] and by no other: `s` below the group order `l`; `R` canonical and not of small order;
//!   the key usable as above; and the **cofactored** equation `[8](s·B − R − h·A) = 0` with
//!   `h = SHA-512(R || A || domain || message) mod l`. Checked alone or in a batch, a signature
//!   gets the same verdict, so every node accepts the same entries.
//! - What other Ed25519 libraries disagree on. Most check the **cofactorless** equation
//!   `s·B = R + h·A` (OpenSSL and so Python's `cryptography`, libsodium, Go's `crypto/ed25519`,
//!   ed25519-dalek's `verify_strict`). On every signature an RFC 8032 signer makes with an RFC
//!   8032 key both rules agree. They differ where `s·B − R − h·A` is a point of small order other
//!   than the identity, which only a crafted signature or key gives: an `R` with a torsion
//!   component (vector `torsion-in-r`) or a mixed-order key (`mixed-order-key`) is valid here and
//!   refused there. The other way round, libraries that do not refuse small-order points (RFC 8032
//!   read literally, ed25519-dalek's `verify`) accept a small-order `R` (`small-order-r`) or key
//!   (`small-order-key`) that this rule refuses, and ZIP 215 verifiers also accept non-canonical
//!   encodings of `R` and keys. An implementation must verify by this rule, or it refuses entries
//!   every node accepted, or accepts entries every node refused. The `signatures` test vectors
//!   give both verdicts for each case.
//!
//! ## Entries
//! An entry travels and is stored as `SignedEntry { payload, signature }`:
//! - `payload` is the canonical protobuf encoding of `EntryPayload` (see *Canonical encoding*).
//!   Authors sign these exact bytes; nodes store and forward these exact bytes and never re-encode
//!   them.
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
//! ## Canonical encoding
//! A `payload` is accepted only in its **canonical** encoding: decoding it as `EntryPayload` and
//! encoding the result again gives the same bytes. That is the node's check (decode, re-encode,
//! compare), and it is what proto3 serializers (prost, protobuf-python/upb, Go's `proto.Marshal`)
//! produce, so one statement has one encoding, one signature input and one id, and nothing can
//! ride along in a signed entry. Spelled out, the canonical encoding of a message is:
//! 1. its fields in ascending field-number order, each key `varint(field_number << 3 | wire_type)`;
//! 2. `uint32`, `uint64`, `bool` and enum fields as varints (wire type 0), `true` as `01`, enum
//!    values as `int32` (a negative value takes 10 bytes; none is a valid value); `bytes`,
//!    `string` and message fields length-delimited (wire type 2);
//! 3. a field that is not repeated and not in the `body` oneof is omitted when it holds its
//!    default (0, `false`, empty) and written exactly once when it does not;
//! 4. the `body` oneof: exactly one member, written even if its message is empty;
//! 5. a repeated enum field (`purposes`, `categories`): one packed record (wire type 2) of the
//!    values' varints, omitted when the list is empty; a repeated string (`recipients`): one
//!    record per value; values in the author's order (nodes do not sort them; a value listed
//!    twice is `bad-field`);
//!    - 5a. the same for the scopes' lists (see *Scope and form*): a repeated `uint32` or enum
//!      (`GrantScope.zones`, `sensors`, `sensor_kinds`) is one packed record of varints, a
//!      `repeated fixed64` (`Zone.cells`) one packed record of 8-byte little-endian values,
//!      a repeated message one record per message, in order; a `sint32`
//!      (`PolicyScope.utc_offset_minutes`) is zig-zag encoded (`+60` is `78`, `−60` is `77`).
//!      Written as a plain `int32` it is another statement, not a refused one: `10 3c` is
//!      canonical and means +30 (accepted: a multiple of 15); a negative value written so takes
//!      10 bytes and is `non-canonical`;
//!    - 5b. id and cell lists (`Zone.cells`, `PolicyScope.zones` and `sensors` by their `id`,
//!      `GrantScope.zones` and `sensors`) are strictly ascending; other lists keep the author's
//!      order with no duplicate. A violation is `bad-field`, not `non-canonical`: the encoding is
//!      canonical, the statement is not allowed;
//!    - 5c. a present `scope` carries `version = 1` (so it is never an empty message) and
//!      declares or narrows something; another version is `bad-field` (`scope version N is not
//!      supported: 1`);
//!    - 5d. consultations (see *Consultations*): `Stance.reasons` is one packed record, in the
//!      author's order; `ConsultationOutcome.responses` one record per 32-byte id, in the author's
//!      order; a present `Policy.consultation` carries a non-zero `closes_ms` (0, an empty
//!      message, is `bad-field`, `policy.consultation.closes_ms`). Keys: `Policy.consultation`
//!      `62 <len> 08 <varint closes_ms>`, the bodies `stance` `9a 01 <len>`, `response`
//!      `a2 01 <len>`, `outcome` `aa 01 <len>`;
//!    - 5e. delegation (see *Delegation*): `Delegation.powers` and `purposes` are one packed
//!      record each, in the author's order; `Delegation.collectors` one record per 32-byte id,
//!      strictly ascending; a present `on_behalf` carries both ids (an empty `OnBehalf`, `4a 00`
//!      in a grant, is canonical and refused `bad-field`). Keys: `on_behalf` is
//!      `4a <len>` in a `Grant` (field 9), `1a <len>` in a `Revoke` (3), `22 <len>` in a
//!      `Request` (4) and `12 <len>` in an `Endorsement` (2), holding `0a 20 <person> 12 20
//!      <delegation>`; the bodies `delegation` `b2 01 <len>`, `undelegation` `ba 01 <len>`,
//!      `endorsement` `c2 01 <len>`. An entry without `on_behalf` encodes as it did before
//!      delegation existed;
//! 6. every varint (keys, values, lengths) in its shortest form;
//! 7. no field the message does not define; embedded messages canonical by the same rules.
//!
//! These follow from "re-encoding gives the same bytes": the same body member written twice is
//! `non-canonical` (decoders merge the two, and the merge re-encodes once); a `uint32` field
//! holding a value of 2^32 or more is `non-canonical` (it is truncated on decode); a 10-byte
//! varint whose last byte is above 1 is `malformed` (it overflows 64 bits).
//!
//! A payload that does not decode as `EntryPayload` is refused as `malformed` (truncated, a length
//! past the end, a string that is not UTF-8, a known field sent with another wire type, a varint
//! over 10 bytes); one that decodes but is not canonical as `non-canonical`; a canonical one
//! without a body as `missing-body`. Some protobuf libraries (upb, under protobuf-python) read a
//! known field sent with another wire type as an unknown field, so they find that payload
//! non-canonical rather than malformed: it is refused either way. The revoke entry of the test
//! vectors (seq 3, `erase` true) is, canonically,
//!
//! ```text
//! 0a 20 <feed: 32 bytes>  10 03  1a 20 <prev: 32 bytes>  20 <time_ms: varint>
//! 82 01 24  0a 20 <grant: 32 bytes>  10 01
//! ```
//!
//! (`feed` field 1, `seq` 2, `prev` 3, `time_ms` 4; the body `revoke` is field 16, key `82 01`,
//! 36 bytes: `grant` field 1, `erase` field 2). Each refused form below is in the test vectors
//! (`encodings`), signed by the author's key so that only the encoding is wrong:
//!
//! | form | what differs | refused as |
//! |---|---|---|
//! | unknown field | `f8 07 01` (field 127, varint 1) appended | `non-canonical` |
//! | fields out of order | `0a 20 <feed>  1a 20 <prev>  10 03  …` | `non-canonical` |
//! | repeated scalar | `20 <time_ms>  20 <time_ms>` | `non-canonical` |
//! | overlong varint | seq as `10 83 00` | `non-canonical` |
//! | overlong length | the body as `82 01 a4 00 …` | `non-canonical` |
//! | explicit default | the body ends `10 00` (`erase` false, written) | `non-canonical` |
//! | bool not 0 or 1 | the body ends `10 02` | `non-canonical` |
//! | two bodies | `8a 01 24 0a 20 <collector> 10 01` (a request, field 17) appended | `non-canonical` |
//! | unpacked repeated | a grant's purposes as `18 01 18 05`, not `1a 02 01 05` | `non-canonical` |
//! | split packed record | a grant's purposes as `1a 01 01 1a 01 05` | `non-canonical` |
//! | no body | the four header fields alone | `missing-body` |
//! | wrong wire type | seq as `12 01 03` | `malformed` |
//! | truncated | the last byte missing | `malformed` |
//! | not UTF-8 | an ack's reason as `1a 02 ff fe` | `malformed` |
//!
//! ## Text forms
//! Bech32m (BIP 350) of the 32 bytes, lower case, with a human-readable prefix naming the type;
//! they round-trip exactly:
//! - `cit1…`, `col1…`, `reg1…`: a feed id of a citizen, collector or registrar. The role comes
//!   from the feed's inception; the 32 bytes do not say it.
//! - `feed1…`: a feed id shown without its role. Nodes write feed ids this way in their logs and
//!   error messages, as `FeedId(feed1…)` (for example `this node knows no feed FeedId(feed1…)`, and
//!   the equivocation message); parsers of typed ids ([`ids::TypedFeedId`], the CLI) refuse it,
//!   [`ids::decode_text`] with the prefix `feed` reads it.
//! - `ent1…`: an entry id; `dig1…`: another digest (a document, details or next-key digest).
//! - `node1…`: a node's public key (the node id: a checkpoint's origin, a witness's name);
//!   `key1…`: any other Ed25519 public key.
//!
//! A parser ignores white space around the text, takes it all lower or all upper case (bech32's
//! rule), and refuses a Bech32 (BIP 173) checksum, another prefix than the one expected (naming
//! the type it expected) and data that is not 32 bytes. Test vectors: `text_forms`, and every
//! entry's `id_text` and `feed_text`.
//!
//! ## Key derivations
//! Nodes check none of this; another wallet or registrar tool needs it to reach the same feeds.
//!
//! **The development registrar** ([`dev`]). The built-in dev network (network id `dev`: a node
//! started without a genesis file) lists one registrar whose secret keys are public. Its key `n`
//! (0: the inception's signing key; 1: the key it commits to; it never rotates) is the Ed25519 seed
//! `BLAKE3("consent-ledger/dev-registrar/v1/key<n>")`, the plain hash of the ASCII label. Its
//! inception is `EntryPayload { seq: 0, prev: 32 zero bytes, time_ms: 1,577,836,800,000
//! (2020-01-01T00:00:00Z), inception: { role: ROLE_REGISTRAR, signing_key: key 0,
//! next_key_digest: next-key digest of key 1 } }`, signed with key 0, so its feed id is fixed
//! (test vector `dev_registrar`). A fresh node does **not** hold that inception: the genesis lists
//! the feed id alone. The first client to act as the dev registrar submits it (`consent registrar
//! init --dev` does; submitting it again is a duplicate); until then the registrar's
//! accreditations wait as pending. Anyone can sign as this registrar: never list it in a real
//! network's genesis.
//!
//! **Pairwise citizen feeds** (consent-client `wallet`). A wallet holds a 32-byte master secret and
//! one citizen feed per collector, so that the public ledger cannot link one person's feeds. For
//! the collector whose feed id is `C` (32 bytes):
//! - key `n` is the Ed25519 seed `BLAKE3-derive-key("consent-ledger wallet v1 pairwise key",
//!   master || C || n)`, with `n` as 4 bytes little-endian (BLAKE3's key derivation mode with that
//!   context string);
//! - the inception is signed with key 0, commits to key 1, and is dated `1,577,836,800,000 +
//!   (u64 little-endian of the first 8 bytes of BLAKE3-derive-key("consent-ledger wallet v1
//!   pairwise inception time", master || C)) mod 31,536,000,000`, an instant of 2020: the feed id
//!   follows from the master secret and `C` alone;
//! - rotation `r` (the first is 1) introduces key `r` and commits to key `r + 1`.
//!
//! Two pairwise feeds of one wallet share no key, digest, id or time. A collector's or
//! registrar's own feed uses key `n` = `BLAKE3-derive-key("consent-ledger wallet v1 own key",
//! master || role || n)`, `role` one byte (2 collector, 3 registrar), `n` 4 bytes little-endian.
//! Test vector: `pairwise`.
//!
//! **Delegate feeds** (consent-client `delegate`, see *Delegation*). A wallet acting for others
//! numbers its delegate feeds by `slot` (4 bytes little-endian, from 0), each used for one
//! represented feed only, so that two people's delegations (or one person's feeds with two
//! collectors) cannot be linked through the delegate: key `n` of slot `s` is the Ed25519 seed
//! `BLAKE3-derive-key("consent-ledger wallet v1 delegate key", master || s || n)`, the inception
//! is dated `1,577,836,800,000 + (u64 little-endian of the first 8 bytes of
//! BLAKE3-derive-key("consent-ledger wallet v1 delegate inception time", master || s)) mod
//! 31,536,000,000`, and rotations follow the pairwise rule. A wallet recovering its delegate
//! feeds tries slots in order until 20 in a row have no delegation naming them
//! (`Ledger.ListDelegations`). The code a delegate hands the person (`dlg1…`) is bech32m (BIP
//! 350, prefix `dlg`) of one version byte (1) followed by 1..=16 distinct delegate feed ids (so
//! the string stays within the 1,023 characters bech32m's checksum is defined for; a code naming
//! an id twice, or with another version byte, is refused); the person's
//! wallet writes one `Delegation` per pairwise feed, each naming another id of the code.
//!
//! ## Acceptance
//! A node accepts an entry only if [`validate::validate`] returns accept; the order of its checks,
//! which fixes the reason a refusal names when several apply, is listed in [`validate`]. Every
//! entry is first decoded ([`entry::Entry::from_signed`]): sizes within [`limits`]; a 64-byte
//! signature; the payload canonically encoded; exactly one body; body fields well formed (see
//! `entry.proto`); the seq/feed/prev form (an `Inception` at seq 0 with an empty `feed` and a `prev` of 32 zero
//! bytes; any other body at a seq above 0, with a 32-byte `feed` and `prev`).
//!
//! **Text fields** (`Policy.name`, `recipients`, `jurisdiction`, `document_url`, `contact`,
//! `Zone.name`, `Suspension.reason`, a refusing `Ack.reason`, `ConsultationResponse.text`,
//! `ConsultationOutcome.text`): 1..=N bytes of UTF-8 (N per field,
//! in `entry.proto` and [`limits`]), no character of Unicode general category Cc, and neither the
//! first nor the last character has the Unicode `White_Space` property (Rust's `char::is_control`
//! and `str::trim`); otherwise `bad-field`.
//!
//! **A new entry** (`seq = head + 1`, or the inception of a feed the node does not know) must
//! also have: `prev = head id`; `time_ms` not before the previous entry's, not before
//! 2020-01-01, and at most [`limits::MAX_CLOCK_SKEW_MS`] ahead of the node's clock; a body allowed
//! for the feed's role; a valid signature (by the key in force; a `Rotation` by the key it
//! introduces, which must hash to the committed next-key digest); valid references (a grant's
//! policy exists, is a `Policy` of that collector, and declares every purpose and category
//! granted, with a retention at least as long as the grant's, and the grant's scope lies within
//! the policy's (see *Scope and form*); a revoke names a grant the revoking feed may revoke and
//! has not revoked yet (one it signed, or one made in its name; signed in someone's name, one made
//! in that person's name: see *Delegation*); an entry signed in someone's name lies inside
//! the delegation it names, and a feed whose seq 1 is a guardian's delegation may not grant
//! before its coming of age (see *Delegation*); an ack answers a request or an erase-revocation that concerns the acking
//! collector; a policy keeps no id with another meaning and, when it widens, has a long enough
//! consultation where the genesis asks for one; a stance, response or outcome names a policy
//! with a consultation, in its window or after it as *Consultations* says); and a registrar feed
//! must be listed in the network genesis. An entry past
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
//! ### Signed times of citizen entries
//! An entry's `time_ms` is its author's claim: validation bounds it only as above (at most
//! [`limits::MAX_CLOCK_SKEW_MS`] ahead of the node's clock, not before 2020-01-01, not before the
//! feed's previous entry), never from below by the node's clock, so validation accepts any past
//! time that keeps the feed in order. (Some admissions do read the node's clock: an entry in
//! someone's name, an endorsement or an undelegation signed more than
//! [`limits::DELEGATED_ENTRY_TOLERANCE_MS`] before it is `delegated-entry-too-old`; a draft has
//! its `draft-backdated` tolerance; a stance is `consultation-closed` once its consultation has
//! closed.) Wallets use this to hide the moment a person acted, because exact times link a
//! person's pairwise feeds (*Key derivations*; the linkage benchmark, docs/privacy.md). The
//! wallet rule below (consent-client `privacy::coarse` and `privacy::handling`; test vectors
//! `coarse_times`) changes nothing a node checks or decides; a second wallet that follows it
//! signs the same numbers. For each entry it signs in its own citizen feeds (its pairwise feeds,
//! and the delegate feeds in which it signs in someone's name):
//!
//! **Granularity.** `g` is a multiple of 150,000 ms (2.5 minutes) that divides 86,400,000 (a
//! day), counted from the Unix epoch (UTC): 150,000, 300,000, 450,000, 600,000, 900,000 (the
//! `consent` wallet's default: 15 minutes), 1,200,000, 1,800,000, 3,600,000, ..., 86,400,000; or
//! none (exact times). Every such grid holds the 2.5-minute grid and every UTC midnight.
//! `floor_x(t) = t − (t mod x)`; `ceil_x(t)` is the smallest multiple of `x` that is ≥ `t` (`t`
//! itself on a boundary); with no granularity both are `t`.
//!
//! **How exact each `time_ms` is**, by what the entry says. The principle: an own consenting
//! statement (in the person's own feed) may be dated before it was signed, which can only add
//! denials; a statement in someone's name may be so only within its delegation (below); a
//! withdrawal whose time a rule compares with times signed in other feeds may not, which could
//! only lose it.
//! - **exact** (the moment of signing): an opt-out of sale and sharing, own or in someone's name
//!   (an opt-out denies under grants signed at or before it, across feeds: *Opting out of sale and
//!   sharing*); an undelegation (the delegate's withdrawals count up to its signed time:
//!   *Delegation*); a delegation; a stance (compared with its consultation's window); anything
//!   not listed below;
//! - **within the admission bound**, granularity `e = min(g, 150,000)` (150,000 with any allowed
//!   `g`; none when `g` is none): every other entry signed in someone's name (`on_behalf`), and an
//!   endorsement; the other half of the 5-minute bound is left for the clocks' difference and the
//!   sending. A wallet signs such an entry only when `s` itself lies inside the delegation as it
//!   knows it (`D.time_ms ≤ s < valid_until`, and before every undelegation of it that it
//!   holds); when `floor_e(s)` would lie inside it but `s` does not, it signs nothing: rounding
//!   never brings a statement made after its delegation ended back inside it. The `consent`
//!   wallet signs these exact (`e` none: a grant's `valid_from` is then `s`, the moment of
//!   signing, never an earlier moment its terms were read, and its `valid_until` the end asked),
//!   which the rule allows: any entry may be signed exact (with `--now`, the `consent` wallet
//!   signs everything so; it always signs exact, and sends at once, the rotations of its
//!   delegate feeds and those of `consent wallet takeover`);
//! - **coarse**, granularity `e = g`: an own grant, revocation and rotation, and an own request
//!   other than an opt-out;
//! - **never rounded**: an inception, dated by its derivation (*Key derivations*; rounding it
//!   would change the feed id).
//!
//! **`time_ms`** `= max(floor_e(s), floors)`, `s` the moment of signing and `floors` exactly these
//! lower bounds: the feed's previous entry's `time_ms`; for a stance, its draft's `time_ms`; for
//! an entry with `on_behalf`, its delegation's `time_ms`; for an undelegation with a
//! `void_from_ms`, that value; for an own grant whose `purposes` hold `sell-data` or
//! `third-party-sharing` (the purposes an opt-out denies; no other grant takes this floor), one
//! millisecond after the latest opt-out of sale and sharing that a delegate signed in the
//! person's name for the grant's collector and that counts (`withdraws`, *Delegation*), when
//! that opt-out was signed before `s` (otherwise it denies sale and sharing under the grant, and
//! the wallet says so); and 1,577,836,800,000 (2020-01-01). Nothing else raises it: revocations
//! sent in one batch before a grant (below) take their own floors, not the grant's. A grant in a
//! feed whose seq 1 is a `GUARDIAN` delegation is not signed before that delegation's
//! `valid_until`, the coming-of-age instant (a node refuses it, `minor-feed`); the instant is on
//! every grid, so `floor_e(s)` is never before it. On an exact entry a floor is above `s` only
//! when the clock that dated it ran ahead of the signer's; a wallet may then sign `s` instead,
//! and the entry is refused (`time-before-prev`, `outside-consultation-window`,
//! `delegation-not-in-force`) until its clock passes the floor: the `consent` wallet raises the
//! entries of its pairwise feeds it dates by this rule (own grants, revocations, requests with
//! opt-outs, `consent wallet rotate`'s rotations) and signs the others at `s` (delegations,
//! undelegations, stances, entries in someone's name, endorsements, the rotations it signs
//! exact).
//!
//! **A grant's `valid_from`** `= max(ceil_e(max(s, d)), time_ms)`, `s` the moment of signing (not
//! an earlier moment the wallet read the grant's terms, e.g. before the person confirmed), `d`
//! the moment the wallet plans to send it (`s` when it sends it at once) and `e` the grant's
//! granularity; a grant sent in one batch after the revocations of the grants it replaces is sent
//! at once (`d = s`): it may allow what the grants it replaces never did, so it is never
//! backdated either. So a consent is never in force before it was given, nor while it waits in
//! the wallet: the decision rule reads a grant for the time `at` asked, whatever its arrival
//! (*Deciding a check*), and a question about a moment before `d` is not answered allow once the
//! grant has arrived. A wallet that sends after `d` (no command of it ran then) leaves the gap
//! from `d` to the arrival; the arrival is public only in the node's log (below).
//! **`valid_until`**: every end the person gives (a duration, a date, an instant) becomes
//! `floor_e(end)` (never longer than asked); a date's UTC midnight is on every grid. The decision
//! rule reads `valid_from` and `valid_until` exactly: they are what a grant allows.
//!
//! **What is sent at once** (never queued, never delayed): revocations; opt-outs of sale and
//! sharing; erasure and restriction requests; anything signed in someone's name; endorsements;
//! undelegations; delegations; stances. Withdrawing is never delayed, and the admission of an
//! entry in someone's name, an endorsement, an undelegation or a stance reads the node's clock.
//! The one exception is the person's own choice: a wallet may queue its own revocations when the
//! person asks it to spread them, saying that each grant stays in force until its revocation is
//! sent (the `consent` wallet's `revoke --all --spread W`: each feed's revocations leave at its
//! own random moment of `W`); never an opt-out, an erasure or restriction request, or what it
//! signs in someone's name. Everything not listed above (own grants, rotations, other requests,
//! inceptions) may be queued and sent later, each feed at its own moment. A feed's entries leave
//! in feed order: one sent at once takes the queued entries of its feed before it along. Before
//! it sends a queued entry, or signs after queued entries, a wallet reads the feed's head from
//! the node it sends to, and sends only when the first queued entry is at `head + 1` with `prev`
//! the head (entries the node holds already count as sent); an entry that meets another at its
//! seq is never sent (that would be an equivocation, and freeze the feed).
//!
//! **Other rules.** Validation and the decision rule do not change. A stance stays in `[draft
//! time, closes_ms)`. A revocation revokes for every `at` once a node holds it, whatever its time.
//! `AnswerTimes` (how long a collector takes to answer requests) counts from a request's
//! `time_ms` raised to its arrival minus 10 minutes: with coarse or queued requests a collector
//! may look up to 10 minutes slower than it was.
//!
//! **What a verifier may conclude** from a citizen entry's `time_ms`: only that its author
//! claims to have signed it then. For a wallet following this rule, the signing happened in
//! `[time_ms, time_ms + g)` (for the `consent` wallet, within a day after `time_ms`, its largest
//! `g`), or before `time_ms` when a floor raised it; any `time_ms` may also be exact (the person
//! asked for exact times, or the entry's kind keeps them). Neither the moment the person acted nor
//! the moment the entry reached the network follows from it: a wallet may send it at a random
//! moment of its spread window (30 minutes by default), or later still when no command of the
//! wallet runs then. When an entry took effect at a node is public only in that node's log: its
//! arrival index, bounded by the signed checkpoints before and after it (a receipt's `time_ms`
//! is when the receipt was signed: *Receipts*). A `time_ms` on an unusual grid, or an exact one
//! among coarse ones, itself marks the wallet that signed it: wallets keep the default. The
//! `consent` wallet's own bounds, which no node checks: a spread window of 1 s to 1 day, `consent
//! wallet prepare` over at most 7 days, at most 16 nodes, at most 1,024 entries in its send queue,
//! the last 16 accepted entries of each feed kept to bring a lagging node up to date, at most 64
//! refusals kept until acknowledged, one overdue feed per run of its sender besides withdrawals,
//! and a withdrawal waits at most 5 minutes for another command to release the queue.
//!
//! ## Pending entries
//! An entry that is valid so far but waits for another is held *pending* rather than refused: the
//! answer is `SUBMIT_STATUS_PENDING`, with `missing` naming what it waits for (a feed id when it
//! waits for an entry of a feed: its predecessor, or the inception of a feed the node does not
//! know; an entry id when it waits for a referenced entry). It waits for
//! - its predecessor: an entry past `head + 1`, or any entry but an inception of a feed the node
//!   does not know (it then waits for seq 0);
//! - a collector feed the node does not know, named by an accreditation, suspension, grant or
//!   request;
//! - an entry the node does not hold, referenced by a grant (its policy), an ack (the request
//!   or revocation it answers), a stance or an outcome (its draft), an outcome (each listed
//!   response, in list order), a revoke (its grant: it may be a delegate's, in another feed),
//!   an entry signed in someone's name (`on_behalf.delegation`), an undelegation (its
//!   delegation: a delegate resigns from another feed's) or an endorsement (its grant). A
//!   response naming a draft the node does not hold is refused `not-own-consultation`: the draft
//!   is earlier in the same feed.
//!
//! When the awaited entry is accepted, every entry waiting for it is validated again, in full, in
//! the same commit, and accepted or refused; then what waited for those, and so on. `PENDING` is
//! no promise: an entry refused then is dropped, and its submitter gets no receipt either way.
//! Read it back (`Ledger.GetEntry`, `Log.GetInclusionProof` by id), or submit the same bytes again
//! (a duplicate answers with the receipt; a pending entry answers pending again and is not held
//! twice). When a peer pushed the entry, the node pulls what is missing from that peer;
//! anti-entropy between nodes brings the rest.
//!
//! - **What is checked before parking** ([`validate::Verdict::Pending`]). Decoding, in full. An
//!   entry that waits for a reference is at `head + 1` and has passed every check that does not
//!   need the reference, its signature included. An entry past `head + 1` is *verified* if the
//!   feed's current key signed it — for a `Rotation`, if it is signed by the key it names and that
//!   key hashes to the feed's committed next-key digest — and otherwise *unverifiable*, not
//!   refused: a rotation may lie in the gap. An entry of a feed the node does not know is
//!   *unverifiable*: no key of it is known. A `Rotation` not signed by the key it names is refused
//!   (`bad-signature`) wherever it stands. Everything else (prev, time, role, references, body
//!   rules; the signature of an unverifiable entry) is judged when the entry is woken. An entry a
//!   client submits is also asked, before it is parked, the two admission refusals that read only
//!   the entry and the node's clock (`delegated-entry-too-old`, *Delegation*; `draft-backdated`,
//!   *Consultations*): a woken entry is not asked again.
//! - **For a while.** A parked entry is dropped once the node's pending time-out has passed
//!   (consent-node `[ledger] pending_ttl`, 10 minutes by default, from when it first arrived;
//!   checked every 30 s), or earlier to make room for another (below). Either way silently: send
//!   what it waits for, then the entry again (an entry parked already answers `PENDING` again and
//!   changes nothing).
//! - **Bounded, and shared between sources.** A node parks at most `max_pending` entries
//!   (`[ledger] max_pending`, 10,000 by default), and from one *source* at most
//!   `min(max(max_pending / 8, 64), max_pending)` (1,250 by default). A source is a gRPC client's
//!   IP address (an IPv6 client's /48 network, an IPv4-mapped address its IPv4 address), or the
//!   p2p peer that pushed the entry or answered a pull with it — a peer in the genesis's member
//!   list is a source of its own, every other peer (every peer, without a list) shares one, since
//!   peer ids cost nothing to make. When a source at its bound parks
//!   one more, its own oldest unverifiable entry is dropped; if it holds only verified ones, the
//!   new entry is refused. When the node holds `max_pending`, the source holding the most entries
//!   (among as many, the one whose newest entry is newest) gives one up — its oldest unverifiable
//!   entry, or if it has none its oldest verified one —
//!   provided it holds more than the source parking; otherwise the parking source's own oldest
//!   unverifiable entry is dropped, and if it has none the new entry is refused. So a flood from
//!   one source costs only that source's entries; a source's entries give way only to sources
//!   holding fewer; and a source under its bound that holds fewer entries than the largest one is
//!   never refused.
//!   The per-source bound is applied first, then the node-wide one. "Oldest" means first parked
//!   (an entry woken and parked again keeps its place); a tie between largest sources goes against
//!   the one that grew last (no decision depends on it). Who sent an entry is not stored: after a
//!   restart, the entries parked before count for one source, as unverifiable.
//! - **Refused: `pending-full`.** `Submit` answers `RESOURCE_EXHAUSTED` with the reason
//!   `pending-full` (in `SubmitBatch`, that item's `error_reason`); nothing was kept. Send what
//!   the entry waits for first (it is then accepted, not parked), or retry later.
//! - **Seen from outside.** `Node.Status` reports `pending` (entries parked now) and
//!   `pending_evicted` (entries dropped to make room since the node started; entries that timed
//!   out are not counted); `/metrics` the same
//!   as `consent_pending_entries` and `consent_pending_evicted_total`.
//!
//! These bounds are each node's own: nodes of one network may set them differently, and no
//! decision depends on them.
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
//! See [`decide`] for the rule, including which grant and reason a deny names, and *Scope and
//! form* below for its step 6 (the observation's context against the grant's scope). Step 5
//! also asks that the grant's policy is in effect at `at` (a gated draft takes effect at its
//! approving outcome, *Consultations*; `at` alone is compared, not `observed_ms`): else
//! `POLICY_NOT_IN_EFFECT`, after `REVOKED`, `OPTED_OUT`,
//! `NOT_YET_VALID` and `EXPIRED` and before step 6. Grants delegates signed in the subject's
//! name are read beside its own (*Delegation*): after `OPTED_OUT` such a grant may fail
//! `DELEGATION_WITHDRAWN`, then `ENDORSEMENT_MISSING`, before
//! `NOT_YET_VALID`; at every tier an own grant is named before a delegated one. The subject's
//! own grants are the entries of its feed without `on_behalf`: the grants it signed in someone
//! else's name are not read for it (*Delegation*, "Whose statement"). Two bounds
//! belong to the rule, so every node (and every client cache) applies them alike:
//! - only the subject's newest [`limits::GRANTS_CONSIDERED`] (1,024) grants naming the collector
//!   are read, by seq: they are counted over all grants naming the collector, revoked, expired,
//!   not yet valid or not covering the question alike; older ones are ignored (a deny at worst,
//!   and only for a feed that signed that many grants to one collector). Entries are never
//!   refused for it. Nodes of releases before this bound read every grant, so while a network
//!   upgrades they can answer such a feed differently, and a quorum read then answers "the
//!   nodes disagree" (a deny). Likewise only the newest 1,024 grants delegates signed in the
//!   subject's name naming the collector are read, by `(time_ms, entry id bytes)`, counted over
//!   all of them, withdrawn, frozen or not. The revocations, endorsements and delegated opt-outs
//!   the rule reads are not bounded (*Delegation*, "What a check reads").
//! - the rule answers from the state the node holds when deciding, for the time `at` asked. A
//!   question more than [`limits::QUESTION_TIME_TOLERANCE_MS`] before or after the node's clock
//!   is a *past* or *future* question ([`decide::question_time`]), marked so in the answer and
//!   its receipt.
//!
//! **Opting out of sale and sharing** (the one place it is stated): a `Request` of kind
//! `REQUEST_KIND_OPT_OUT_SALE` in the subject's feed, naming the collector, denies `sell-data`
//! and `third-party-sharing` (`OPTED_OUT`) under every grant to that collector at a lower seq of
//! that feed. A grant signed after it is not affected, and nothing undoes it (an ack does not).
//! Across feeds (*Delegation*) signed times are compared and the opt-out wins a tie: an own
//! opt-out signed at or after a delegate's grant denies under it; a delegate's opt-out in the
//! subject's name that counts (`withdraws`: signed before its delegation's `valid_until` and at
//! or before each undelegation of it was signed, and never from a frozen delegate feed) denies
//! under every grant, own or delegated, signed at or before it. Of the delegated opt-outs that count, the one with the largest `time_ms` decides. An
//! opt-out a feed signs in someone else's name is not its own: it denies nothing under that
//! feed's own grants.
//!
//! ## Scope and form
//! A collector's policy may declare **where** (zones: sets of H3 cells), **with which sensors**,
//! **when** (weekly windows of a fixed local time) and **in which forms** it collects
//! (`Policy.scope`, a `PolicyScope`); a citizen's grant may **narrow** that (`Grant.scope`, a
//! `GrantScope`); a check says what the observation is (`CheckRequest.context`, an
//! `ObservationContext`: sensor and its kind, cell, time, form). Both scopes are optional fields:
//! an entry without one encodes exactly as before scopes existed, so its id and signature are
//! unchanged. The **effective scope** of a grant is its policy's declaration intersected with its
//! own narrowing: a dimension the policy declares constrains every grant to it, even one that
//! narrows nothing ("the whole policy"). Its policy is the `Policy` entry `grant.policy` names, not
//! the collector's latest version: zone and sensor ids are read in that version's numbering. A
//! later version may not keep a sensor id for a sensor of another kind (`id-redefined`,
//! *Consultations*), but an id that skips a version may come back as another kind, so a context
//! names the sensor's kind beside its id, and the rule allows only when the grant's version
//! declares that id with that kind: a gateway that uses its current numbering can never pass a
//! camera under a grant whose version gave the id to an air-quality sensor. A grant whose policy
//! has no scope and which narrows nothing is *unscoped*: no context is needed and the rule is
//! exactly the one without scopes. In Rust:
//! [`scope`] ([`scope::ScopeFacts::resolve`], [`scope::evaluate`], [`scope::required_form`]),
//! [`h3`].
//!
//! **Forms and their rank.** `FORM_RAW` (rank 1: as observed) < `FORM_PSEUDONYMISED` (2: the
//! subject's identifier replaced by a keyed hash whose key is never on the ledger) <
//! `FORM_BINNED` (3: pseudonymised, time floored to a stated interval and place coarsened to a
//! stated H3 resolution) < `FORM_AGGREGATED` (4: no per-person record; counts and sums per (time
//! bin, cell) over groups of at least k distinct subjects, smaller groups suppressed). "At least
//! as protective" means a rank at least as high. The rank is this table, not the wire number, so
//! a later value can slot in between. Why this order: each form is a function of the one before
//! under the same policy (pseudonymised = raw with the identifier keyed-hashed; binned =
//! pseudonymised with time floored and cell coarsened; aggregated = binned records counted per
//! group, groups under k dropped), so it can carry no more information (data-processing
//! inequality). Pseudonymised and binned records are still personal data (GDPR Recital 26, Art.
//! 4(5)); singling out stays possible, less so when binned (WP216's generalisation); aggregates
//! over at least k distinct people approach anonymous data (WP216's aggregation, k-anonymity),
//! so they rank highest. The ledger records the collector's declaration; it cannot see the
//! stored data, and the collector is accountable for applying it (consent-client
//! `transforms`).
//!
//! **A policy scope** (`PolicyScope`; each violation is `bad-field`, with the message `field
//! <path>: <problem>`, `<path>` the dotted field such as `policy.scope.zones.cells`, and a problem
//! about one item starting with its index, `[i]`, or `[i][j]` for a zone's cell or a purpose's
//! offer; messages are for people, only the reason is normative):
//! - `version` 1; declares at least one zone, sensor, window or purpose's forms;
//! - `utc_offset_minutes` in −720..=840, a multiple of 15; fixed all year (no daylight saving
//!   time: a policy for CET states +60, and its 07:00–19:00 window is 08:00–20:00 CEST in summer);
//! - `zones`: at most 16 ([`limits::MAX_ZONES`]), ids ≥ 1 strictly ascending; each a name of
//!   1..=64 bytes (a text field, *Acceptance*; names need not be distinct and may be digits), a
//!   `resolution` 0..=15, and 1..=256 ([`limits::MAX_CELLS_PER_ZONE`]) cells strictly ascending,
//!   each an H3 cell (below) of exactly that resolution; at most 512 cells in all zones
//!   ([`limits::MAX_CELLS_PER_POLICY`]);
//! - `sensors`: at most 64 ([`limits::MAX_SENSORS`]), ids ≥ 1 strictly ascending; `kind` a known
//!   `SensorKind`; `zone` 0 (not tied to a zone) or a declared zone id (informational: where an
//!   observation was made is judged by its cell alone);
//! - `windows`: at most 8 ([`limits::MAX_WINDOWS`]); `days` 1..=127 (bit 0 Monday … bit 6
//!   Sunday), `start_minute < end_minute ≤ 1440` (a window never wraps past midnight: 22:00–06:00
//!   is two windows); no window twice (rule 5b; checked after each window alone);
//! - `forms`: at most 16, purposes distinct and each one of the policy's purposes; per purpose
//!   1..=4 ([`limits::MAX_FORM_OFFERS`]) offers, one per form, strictly ascending by rank; a
//!   `FormSpec` of `RAW` or `PSEUDONYMISED` has every parameter 0; `BINNED` has `interval_s`
//!   60..=86,400 dividing 86,400 (bins align to local midnight) and `resolution` 0..=15, and
//!   `min_group` 0; `AGGREGATED` the same with `min_group` (k) 2..=1,000.
//!
//! **A grant scope** (`GrantScope`, structural rules, each `bad-field` as above, paths under
//! `grant.scope`): `version` 1; narrows something; `zones` at most 16 and `sensors` at most 64
//! ids ≥ 1, strictly ascending;
//! `sensor_kinds` at most 16 known kinds, no duplicate; `windows` as above, at most 8; `forms` at
//! most 16 floors, purposes distinct, each one of the grant's purposes, each a known form. Then,
//! **against the policy** (validation, after `retention-exceeds-policy`; the first offending item
//! in list order, except kinds; a policy without scope counts as an empty one): a zone id the
//! policy does not declare is `zone-not-in-policy`; a sensor id it does not declare, then a kind no
//! declared sensor has (of several, the lowest wire number, whatever the list's order),
//! `sensor-not-in-policy`; when the policy declares windows, a grant window within
//! none of them (its days a subset, `start ≥`, `end ≤`) `window-not-in-policy`; a floor the policy
//! does not offer for that purpose `form-not-offered`. A grant may narrow windows under a policy
//! without scope; they are then in UTC.
//!
//! **The encoding** (rules 5a–5c of *Canonical encoding*). A grant narrowing zone 1 only ends with
//! its scope, field 8: `42 05  08 01  12 01 01` (5 bytes: `version` 1, then `zones` as one packed
//! record); a policy scope at +01:00 starts `5a <length>  08 01  10 78` (field 11; `version` 1;
//! the offset 60 zig-zagged to 120). Test vectors: `scopes`.
//!
//! **H3 cells** ([`h3`], integer operations only). Bits of a 64-bit index, from the top: 1
//! reserved (0), 4 mode (1 = cell), 3 reserved (0), 4 resolution `r`, 7 base cell, then 15
//! digits of 3 bits, digit `i` (1..=15) at bits `3·(15−i) .. 3·(15−i)+2`. An index is a cell when
//! its top byte is `0x08`, its base cell is below 122, digits 1..=r are 0..=6, digits r+1..=15
//! are 7, and, in the 12 pentagon base cells (4, 14, 24, 38, 49, 58, 63, 72, 83, 97, 107, 117), the
//! first non-zero digit is not 1 (the deleted subsequence; a pentagon cell with digits 1..=r all
//! 0, its centre child, is valid: vector `pentagon 4, digits 0 0`). This is H3's `isValidCell`.
//! The parent at resolution `p ≤ r` (`cellToParent`) sets the resolution field to `p` and digits
//! p+1..=15 to 7: `parent(0x8a754e64992ffff, 9) = 0x89754e64993ffff`, `parent(…, 0) =
//! 0x8075fffffffffff`. The text form is lower-case hex without `0x` (15 digits). Test vectors:
//! `h3`.
//!
//! **Local time** (integers only). `local = observed_ms + 60,000 · utc_offset_minutes` (a
//! mathematical integer), `day = ⌊local / 86,400,000⌋`, `minute = ⌊(local − day · 86,400,000) /
//! 60,000⌋`, `weekday = (day + 3) mod 7` (Monday 0; 1970-01-01 was a Thursday), floor and mod
//! as in Python. A window contains `(weekday, minute)` when bit `weekday` of `days` is set and
//! `start_minute ≤ minute < end_minute`. Test vectors: `local_time`.
//!
//! **The rule** ([`scope::evaluate`]): step 6 of [`decide`], judged for a grant only after it
//! passed revoked, opted out, not yet valid and expired (so those still win), in this order:
//! 1. when the check gives `observed_ms`, it lies in the grant's validity, `valid_from ≤
//!    observed_ms < valid_until` (`valid_until` 0: until revoked, no upper bound), for every
//!    grant, scoped or not, else `TIME_NOT_COVERED`;
//! 2. for a scoped grant, with `P` its policy's scope (empty if none), `G` its own (may be
//!    absent), `c` the context and `p` the purpose:
//!
//! ```text
//! needs_sensor = P.sensors ≠ ∅
//! needs_cell   = P.zones ≠ ∅
//! needs_time   = P.windows ≠ ∅ or (G and G.windows ≠ ∅)
//! needs_form   = P.offers(p) ≠ ∅
//! -- missing context first, in this order
//! if needs_sensor and (c.sensor absent or c.sensor_kind absent)
//!                                       → CONTEXT_MISSING_SENSOR
//! if needs_cell   and c.cell absent     → CONTEXT_MISSING_CELL
//! if needs_time   and c.observed absent → CONTEXT_MISSING_TIME
//! if needs_form   and c.form absent     → CONTEXT_MISSING_FORM
//! -- then coverage, in this order; each step only if its needs_* holds
//! sensor: s = the sensor of P with id c.sensor                     else SENSOR_NOT_COVERED
//!         require s.kind = c.sensor_kind                           else SENSOR_NOT_COVERED
//!         if G and (G.sensors ≠ ∅ or G.sensor_kinds ≠ ∅):
//!             require c.sensor ∈ G.sensors or s.kind ∈ G.sensor_kinds else SENSOR_NOT_COVERED
//! cell:   Z = the zones of P named in G.zones if G and G.zones ≠ ∅, else all zones of P
//!         require some z ∈ Z: res(c.cell) ≥ z.resolution
//!                             and parent(c.cell, z.resolution) ∈ z.cells  else ZONE_NOT_COVERED
//!         (a cell coarser than a zone is never in it: it reaches outside)
//! time:   (wd, m) = local time of c.observed at P.utc_offset_minutes
//!         if P.windows ≠ ∅: require some w ∈ P.windows contains (wd, m)  else TIME_NOT_COVERED
//!         if G and G.windows ≠ ∅: require some w ∈ G.windows contains (wd, m)
//!                                                                    else TIME_NOT_COVERED
//! form:   require c.form ∈ the forms of P.offers(p)                   else FORM_NOT_COVERED
//!         require rank(c.form) ≥ rank(G's floor for p), if G sets one else FORM_NOT_COVERED
//! allow
//! ```
//!
//! The sensor is its id **and** its kind: the kind is what makes an id unambiguous across the
//! collector's policy versions (above), so a context that gives one without the other gives no
//! sensor. Context a dimension does not need is ignored (a cell sent for a policy without zones, a
//! sensor and kind for a policy without sensors). A context field is absent when 0 (`UNSPECIFIED`
//! for the form and the sensor kind); INVALID_ARGUMENT (in a batch, naming the item), checked in
//! this order: a non-zero `cell` that is not an H3 cell (`context.cell <hex> is not an H3 cell
//! index`), a `form` number this release does not know (`context.form: unknown form <n>`), a
//! `sensor_kind` number this release does not know (`context.sensor_kind: unknown sensor kind
//! <n>`), a `sensor_kind` with `sensor` 0 (`context.sensor_kind <kind> is given without
//! context.sensor`, the kind by its text name). These are checked after the session, the 32-byte
//! ids, the purpose and the category, and before the check's collector is compared with the
//! session's; in a `CheckBatch` the first bad check (from 0) refuses the whole batch, its message
//! starting `check <i>: `.
//! Which grant an answer names is unchanged (an allowing grant if any, the newest; else the newest
//! covering purpose and category, with its first failure).
//!
//! **The required form** (`CheckResponse.required_form`, [`scope::required_form`]): for the grant
//! the answer names, when it is scoped and covers the purpose, the grant's floor for the purpose
//! if it sets one, else the least protective form its policy offers for the purpose; otherwise
//! `UNSPECIFIED`. It is a lower bound, not a recommendation: every form the policy offers for the
//! purpose at least as protective is allowed too. A collector denied `FORM_NOT_COVERED`
//! transforms the observation to that form (or a more protective one offered) and checks again
//! with it. Test vectors: `scope_decisions` (policy scopes, one grant each, a
//! question with its context, and the expected decision, reason and required form).
//!
//! **The context digest** (`DecisionPayload.context_digest`): `BLAKE3("consent-ledger/context/v2"
//! || sensor (4 bytes, big-endian) || sensor_kind (1 byte: its wire number) || cell (8 bytes,
//! big-endian) || observed_ms (8 bytes, big-endian) || form (1 byte: its wire number))` over the
//! question's context, 0 for what is not given: 22 bytes after the domain. (The `…/v1` digest of
//! the first scoped release hashed no kind; a receipt carrying one does not verify now, and no v1
//! digest can equal a v2 one.) It is present exactly when `CheckRequest.context` is present **on
//! the wire**, even with every field 0 (its digest is then `df086cb9…1a7825`, the first
//! `context_digests` item), and empty when the field is absent; the rule reads a context with every
//! field 0 as no context. The signature already covers the context (in `question`); the digest is a
//! fixed-size handle of the *context alone*: the same observation checked for two subjects,
//! purposes or answers has the same digest, so it ties a record to a receipt only together with
//! that receipt's question.
//! A verifier refuses a receipt whose digest is present without a context, absent with one, or
//! wrong ([`receipt::verify_decision`]). Test vectors:
//! `context_digests`, and the third `decision_receipts` item.
//!
//! ## Consultations
//! A collector may put a policy version to public **consultation** until `closes_ms`
//! (`Policy.consultation`). A version **widens** what is collected when [`policy_change::compare`]
//! finds a widening item against the collector's previous Policy entry (`prev`) **or** against
//! its last Policy entry that is not gated (the *base*); none for a first policy. A widening
//! version with a consultation is **gated**: it takes effect only when a registrar approves it
//! after the window. Any other version is in effect at once, as before, and a consultation on it
//! is voluntary (stances, responses and outcomes are accepted, counted and shown; an outcome
//! changes nothing about its effect). Whether a version is gated is fixed when it is accepted;
//! it depends only on the feed's own entries. Nobody declares it. Gated is a permanent property
//! of the entry: an approved gated version stays gated, so it never becomes the base; after an
//! approved widening the base is still the last version before it that was not gated (a later
//! version that keeps the approved widening widens again against that base, and needs its own
//! consultation). In field names (`Stance.draft`, `GetConsultationRequest.draft`,
//! `ConsultationSummary.draft`) and in the rules below, the **draft** is the Policy entry under
//! consultation, gated or not; *gated* is the property that delays its effect. Consultations do
//! not depend on accreditation: a suspended or never accredited collector may consult (its
//! grants deny for the accreditation anyway).
//!
//! **The genesis.** A network's genesis may have a `[consultation]` section, with both
//! `widening_min_days` (1..=365) and `objection_threshold` (1..=1,000,000), or neither. The
//! genesis digest covers `consultation widening_min_days=N objection_threshold=K\n` after the
//! registrars (consent-node `p2p::protocol`): the window changes validity, and the threshold what
//! every node asks before it takes an approval, so nodes of one network agree on both
//! (`Node.Status.consultation` reports them). Without the section (a dev network) a widening needs no
//! consultation and an approval needs no response.
//!
//! **What widens** ([`policy_change::compare`]). An absent scope is the empty scope: anywhere,
//! any sensor, any time, any form. Each change is an item with a direction (`widens`, `narrows`,
//! `neutral`), a code and a sentence. A line that both widens and narrows (a zone whose area
//! overlaps the old one but reaches outside it) widens. `compare` is pure and also reports pairs
//! that validity refuses (a zone id moved to a disjoint area is `id-redefined`, below).
//!
//! | code | widens when | narrows when |
//! |---|---|---|
//! | `purposes` | a purpose added | a purpose removed |
//! | `categories` | a category added | a category removed |
//! | `retention` | longer | shorter |
//! | `recipients` | a recipient added (exact bytes) | one removed |
//! | `name`, `contact`, `document_url` | neutral: any change | neutral |
//! | `jurisdiction` | any change (fail closed) | — |
//! | `document` | the digest changed (the ledger cannot read the document: fail closed) | — |
//! | `zones` | the old declares zones and the new none; or a cell `c` (resolution `rc`) of a new or changed zone lies in no old zone (`z` holds `c` when `z.resolution <= rc` and `parent(c, z.resolution)` is one of its cells) | zones declared where there were none; or a cell of a changed or removed old zone lies in no new zone |
//! | `sensors` | the old declares sensors and the new none; or a new sensor id absent from the old | the new declares sensors and the old none; or an old id absent from the new |
//! | `windows` | a UTC minute of the week covered by the new and not by the old | the reverse |
//! | `forms` | for a purpose the new version declares: the old offers `O ≠ ∅` and the new none; or `O ≠ ∅` and some new offer `n` has no `o ∈ O` with `n ⪰ o` | the new offers `N ≠ ∅` and the old none; or `N ≠ ∅` and some old offer `o` has no `n ∈ N` with `o ⪰ n` |
//!
//! **Items, in this order** (a second implementation matches `direction` and `code`, in order;
//! the sentences are for people, not part of the protocol, and the vectors' are informative):
//! 1. `purposes`: one widening item listing the purposes added (in the new version's order), then
//!    one narrowing item listing those removed (in the old's order); each only if not empty.
//!    Likewise `categories`, then `retention` (one item when the number differs), then
//!    `recipients` (added, then removed).
//! 2. `name`, `jurisdiction`, `contact`, `document_url`: one item each when the text differs;
//!    then `document` when the digest differs.
//! 3. `zones`: no zones on either side, nothing; zones only in the new, one narrowing item; only
//!    in the old, one widening item; else one item per zone id of the new version, by id, for an
//!    id the old lacks (widens if one of its cells lies in no old zone, else neutral) or whose
//!    cells or resolution differ (widens as above, else narrows if a cell of the old zone lies in
//!    no new zone, else neutral), then one per id of the old that the new lacks, by id (narrows if
//!    one of its cells lies in no new zone, else neutral). A renamed zone gives no item.
//! 4. `sensors`: one item when the sensor lists differ at all (a changed zone tie alone:
//!    neutral).
//! 5. `windows`: one item when the windows differ, or when the new version declares windows and
//!    the UTC offset differs; its direction from the minute sets (so a full-week window against
//!    none is neutral). An offset changed without windows gives no item. A local minute `m` of
//!    weekday `d` (Monday 0) at offset `u` is UTC minute `(1440·d + m − u) mod 10,080` of the
//!    week (Monday 00:00 UTC is 0); no window means every minute.
//! 6. `forms`: for every purpose either version lists in `forms` (absent: no offers, any form),
//!    by wire number, one item when the offers differ. It may widen only for a purpose the new
//!    version declares; for a purpose dropped with its offers it is neutral (the `purposes`
//!    item says it).
//!
//! The change's `kind` is `widening` if an item widens, else `narrowing` if one narrows, else
//! `unchanged`; its `sentences` are the items', or `No change in what is collected, why, for how
//! long or with whom.` when there is none. A form change across ranks is judged by rank alone
//! (binned at one day to aggregated at one minute narrows); a collector's first policy is never
//! gated (a registrar reviews it before accrediting).
//!
//! `a ⪰ b` (at least as protective, [`policy_change::at_least_as_protective`]): a higher rank;
//! or the same form and, for RAW and PSEUDONYMISED, always; BINNED, `a.interval_s >=
//! b.interval_s` and `a.resolution <= b.resolution`; AGGREGATED, the same and `a.min_group >=
//! b.min_group`.
//!
//! **Ids keep their meaning** (`id-redefined`, [`policy_change::redefined`]): against `prev` and
//! then against the base (when it is another entry), a sensor id present in both with another
//! kind, or a zone id present in both for disjoint areas (with `r` the coarser of the two
//! resolutions, no cell in common between `{parent(c, r)}` of the old and of the new), is
//! refused; the first sensor by id, then the first zone by id. Changing a sensor's zone tie,
//! renaming a zone, or growing or shrinking an overlapping zone is allowed (growing widens). An
//! id that skips a version (absent from `prev` and from the base) is not tracked.
//!
//! **Validity** (step 8 of [`validate`], in this order): for a `Policy`, after
//! `policy-version-not-increasing`: `id-redefined`; then, with a consultation, with `w =
//! closes_ms − time_ms` (mathematical integers, a day 86,400,000 ms): `closes_ms <= time_ms`, or
//! for a widening on a network whose genesis has `[consultation]` `w < widening_min_days ×
//! 86,400,000`, is `consultation-too-short`; `w > 365 × 86,400,000`
//! ([`limits::MAX_CONSULTATION_DAYS`]) is `consultation-too-long` (exactly 365 days is accepted);
//! without a consultation, a widening on such a network is `widening-without-consultation`. The
//! feed's state then keeps `policy_head` = this entry, and `policy_base` = the base before it
//! for a gated version, else this entry. A `Stance` must come from a citizen's feed, a
//! `ConsultationResponse` from a collector's, a `ConsultationOutcome` from a genesis registrar's
//! (else `body-not-allowed`, like any body outside its role). A `Stance`: the draft held (else
//! pending), a policy with a consultation (`not-a-consultation`), signed in `[draft time,
//! closes_ms)` (`outside-consultation-window`). A `ConsultationResponse`: the draft held and of
//! its own feed (`not-own-consultation`, never pending: the draft is earlier in the same feed), a
//! policy with a consultation. A `ConsultationOutcome`: the draft held (else pending), a policy
//! with a consultation, signed at or after the draft and, when it approves, at or after
//! `closes_ms` (`outcome-too-early`); then each listed response in list order held (else
//! pending) and a `ConsultationResponse` naming this draft (`response-not-for-draft`): the first
//! listed response that fails decides. Validity reads no other stance, outcome or later version,
//! so every node judges an entry alike in any arrival order. Unknown enum values in these
//! bodies (an `ObjectionReason` beyond 6, a `StanceKind` or `ConsultationResult` beyond 2) are
//! `bad-field` (`entry.proto`).
//!
//! **State and effect** ([`consultation::state`], [`consultation::in_effect_from`]), from the
//! draft, the time of the collector's next Policy entry (`superseded_ms`: any newer version
//! withdraws an undecided draft, so a collector has at most one open draft) and the **counted**
//! outcomes naming the draft. An outcome is counted when its registrar feed is not frozen and,
//! if the draft is superseded, its `time_ms < superseded_ms` (strictly). An outcome signed by a
//! frozen registrar feed (its equivocation proven) neither approves nor requires changes: the
//! state is a function of the set of entries present, and once both branches of a fork are
//! seen every node freezes the registrar and ignores its outcomes alike. Of the counted
//! outcomes, `first_changes_required` is the earliest `CHANGES_REQUIRED` and `first_approval`
//! the earliest `APPROVED`, each by `(time_ms, entry id bytes)`. It fails closed: one counted
//! request for changes outweighs every approval, earlier or later.
//!
//! ```text
//! if first_changes_required = Some(c): ChangesRequired{at_ms: c.time_ms}
//! elif first_approval = Some(a):       Approved{from_ms: a.time_ms}
//! elif superseded_ms = Some(s):        Withdrawn{at_ms: s}
//! elif now_ms < closes_ms:             Open
//! else:                                AwaitingOutcome
//! in_effect_from = if !gated { 0 } else if state = Approved{from_ms} { from_ms } else { u64::MAX }
//! ```
//!
//! A grant under a gated draft denies `POLICY_NOT_IN_EFFECT` for every `at` before
//! `in_effect_from` (*Deciding a check*). The rule compares `at` alone with `in_effect_from`: an
//! `observed_ms` before it is not refused by it (step 6 checks `observed_ms` against the grant's
//! validity only). A version that is not gated has `in_effect_from` 0: the rule never denies
//! `POLICY_NOT_IN_EFFECT` under it, whatever `at` is (as before consultations). The
//! collector's **version in effect** at `t` is its latest Policy entry with `time_ms ≤ t` and
//! `in_effect_from ≤ t`; wallets grant under it, and grants under older versions keep their own
//! version.
//!
//! **Counting** ([`consultation::count()`]): of the stances naming the draft, each feed's latest
//! (highest seq) counts, whatever that feed has signed about other drafts. A stance is
//! *affected* when its feed holds a Grant naming the draft's collector at a lower seq of the
//! same feed (signed before the stance; revoked or not, under any version), else *others*:
//! decided at the stance, from its own feed alone, so a grant signed later does not move an
//! earlier stance. Each group counts supports, objections and, per objection reason, the
//! objections giving it. A reason is *raised* when at least `objection_threshold` objecting
//! stances of both groups together give it. Counts are computed from the entries a node holds
//! when it answers; nodes holding the same entries give the same counts. They are signals to the
//! registrar, not votes (one person can hold many feeds), and no decision depends on them. A
//! frozen citizen feed stays counted with whichever of its branches a node holds, so counts may
//! differ by one per such feed between nodes. The number of stances, responses and outcomes per
//! draft is not bounded; a node keeps the tallies as stances arrive, so reading them costs the
//! same whatever their number.
//!
//! **Admission** ([`consultation::admission`]): the node a client submits to (and only it: not
//! peers, not entries woken from pending) refuses, FAILED_PRECONDITION, an entry validation
//! accepted, the message starting `entry refused (<name>): `:
//! - a Policy with a consultation whose `time_ms` is before the node's clock minus 10 minutes
//!   (`draft-backdated`: its window would have run before anyone could see it). This one reads
//!   only the entry and the clock, so it is also asked when the node receives an entry that would
//!   wait as pending (an entry woken later is not asked again): sent ahead of what it waits for,
//!   a backdated draft is refused all the same;
//! - a grant under a draft whose `in_effect_from` is after the node's clock (`policy-draft`);
//! - a stance on a draft withdrawn or decided, or submitted when the node's clock is at or past
//!   `closes_ms + 600,000` (the stance's own `time_ms` does not matter) (`consultation-closed`);
//! - an outcome, checked in this order: the node holds any outcome naming the draft
//!   (`outcome-exists`, even one that is not counted); the draft is withdrawn
//!   (`consultation-closed`); an approval, on a network whose genesis has `[consultation]`,
//!   whose listed responses leave a raised reason without a response (`consultation-unanswered`;
//!   a raised reason is answered when one of the listed responses has that `reason`).
//!
//! The state and counts are the node's when the entry arrives, including the entries accepted
//! before it in the same `SubmitBatch`. These rules apply to every consultation, gated or
//! voluntary. The 10 minutes are the tolerance of stances and drafts alike
//! (consent-node `ledger::admission`); another implementation may choose its own, since
//! admission decides nothing. Admission is a courtesy to the people involved: the decision rule
//! is what keeps consent safe, and a valid entry refused here may still arrive from a peer
//! (a registrar can approve through a node that skips admission; the outcome's listed responses
//! are public, so an approval that skipped raised reasons can be seen by anyone).
//!
//! ## Delegation
//! A person may let another citizen feed, its **delegate**, sign some statements in its name: an
//! **assistant** (a relative, a social worker) or, for a child, a **guardian**. Delegated
//! statements live in the **delegate's own feed**: a `Grant`, `Revoke` or `Request` carrying
//! `on_behalf { person, delegation }`, or an `Endorsement`. Nobody but the person ever writes the
//! person's feed, so nothing a delegate does can make it fork or look like an equivocation: a
//! delegate that equivocates freezes only its own feed, and what that feed signed in the person's
//! name then counts as *Frozen delegates* says. Delegated entries are verified under the delegate
//! feed's keys, like any entry of that feed. In Rust: [`delegation`], [`body::OnBehalf`],
//! [`body::Delegation`].
//!
//! **Whose statement.** The **subject** of a grant is the person it was made for: its
//! `on_behalf.person` when it has one, else the feed that signed it. A feed's **own** grants and
//! opt-outs are the entries of its feed without `on_behalf`; what a feed signs in someone's name
//! belongs to that person alone (a check about a delegate feed does not read the grants it signed
//! for others, nor its opt-outs in their names).
//!
//! **The delegation** (a `Delegation` body in the person's feed): `delegate`, the delegate feed (it
//! need not be known yet); `powers`, 1..=3 of GRANT, REVOKE, REQUEST, distinct (GRANT also lets it
//! revoke; REVOKE alone never grants); `collectors`, 0..=16 ([`limits::MAX_DELEGATION_COLLECTORS`])
//! strictly ascending (none: any), which limit grants, revocations, requests and endorsements (by
//! the collector of the grant, the request, or the revoked or endorsed grant); `purposes`, 0..=16
//! distinct (none: any), which limit grants and endorsements only (a revocation or a request is not
//! limited by purpose); `valid_until` (exclusive; 0: until undelegated); `kind`, ASSISTANT or
//! GUARDIAN; and for a guardian optionally `co_signer`, the other guardian's delegate feed, whose
//! endorsement every grant under this delegation needs (2 of 2). Each delegation names a delegate
//! feed used for that one represented feed only (*Key derivations*), so delegations do not link one
//! person's pairwise feeds. An **undelegation** (in the person's feed, or a delegate resigning in
//! its own) ends a delegation. Its `void_from_ms` (0: its own `time_ms − 300,000`, saturating at 0)
//! voids the consenting statements (grants and endorsements) signed from then on; the statements
//! that withdraw (revocations and opt-outs) are judged by the undelegation's own signed time
//! instead (the rule below), so an undelegation never brings back what the delegate withdrew.
//!
//! **Field rules.** At decoding, before anything else (`bad-field`, *Acceptance*): every id is 32
//! bytes, those of a present `on_behalf` included (an empty `OnBehalf`, `4a 00` in a grant, is
//! canonical and refused `bad-field`, `grant.on_behalf.person`); an `Endorsement` carries
//! `on_behalf`; `powers` and `purposes` hold no UNSPECIFIED or unknown value and none twice; `kind`
//! is ASSISTANT or GUARDIAN; a GUARDIAN `valid_until` is non-zero and a multiple of 86,400,000;
//! `co_signer` is empty for an ASSISTANT and is not the delegate; `void_from_ms` is 0 or at least
//! 1,577,836,800,000 (2020-01-01, [`limits::MIN_TIME_MS`]). Step 8 of [`validate`], after the
//! signature, checks what compares with the entry's own feed or time, each `bad-field`:
//! `on_behalf.person`, a delegation's `delegate` or its `co_signer` is the signing feed; an
//! undelegation's `void_from_ms` is after its own `time_ms`. So an entry that also fails steps 3 to
//! 7 (prev, time, role, signature) names that earlier reason.
//!
//! **Validity** (step 8 of [`validate`]) reads signed times only. The order of the checks is
//! [`validate`]'s, body by body, and not the order of the items below; it decides the reason a
//! refusal names and, for delegated entries, can decide the verdict itself: the delegation an entry
//! names is checked first (held, else pending; `not-delegated`; `power-not-delegated`), then the
//! grant a `Revoke` or an `Endorsement` names (held, else pending; then `unknown-grant` or
//! `not-endorsable`), and only then the delegation's collectors, purposes and time. So an
//! out-of-force revocation or endorsement of a grant the node does not hold is pending, and refused
//! once the grant arrives; an implementation that checks the time first refuses it at once. For a
//! `Grant`, `minor-feed` comes first, and the delegation's collectors, purposes and time come
//! before the grant's own collector and policy are looked up (each of which may be missing). When
//! both the delegation and the grant a `Revoke` or an `Endorsement` names are missing, `missing`
//! names the delegation.
//! - an entry with `on_behalf`: the delegation is held (else pending), a `Delegation` in `person`'s
//!   feed naming the signing feed as delegate (`not-delegated`), giving the power the body needs
//!   (`power-not-delegated`: a grant and an endorsement GRANT, a revocation REVOKE or GRANT, a
//!   request REQUEST); when it lists collectors, the collector of the grant, the request, or the
//!   revoked or endorsed grant is one of them (`collector-not-delegated`); when it lists purposes,
//!   every purpose of the grant, or of the endorsed grant, is one of them (`purpose-not-delegated`,
//!   naming the first outside by wire number); and `delegation.time_ms <= entry.time_ms <
//!   valid_until` (`delegation-not-in-force`);
//! - a `Revoke` names a grant held (else pending: it may be in another feed) that the signing feed
//!   may revoke, else `unknown-grant`. Without `on_behalf`: a grant it signed, or one whose subject
//!   it is (the person revoking a delegate's grant made in its name). With `on_behalf { person: P,
//!   .. }`: a grant whose subject is P (P's own, or one a delegate made in P's name, this feed's
//!   included), never a grant made in someone else's name. `already-revoked` means the *same feed*
//!   revoked it before: one grant may be revoked by its own feed, its subject and delegates, once
//!   each;
//! - an `Endorsement` names a grant held (else pending) in the same person's name whose delegation
//!   names the signing feed as `co_signer` (`not-endorsable`);
//! - a GUARDIAN `Delegation` stands at seq 1, or at seq 2 after a GUARDIAN delegation at seq 1 with
//!   the same `valid_until` that it mirrors: both have a `co_signer` or neither has, and when they
//!   have, each one's `co_signer` is the other's `delegate` (otherwise `guardian-misplaced`); in a
//!   minor's feed any other `Delegation` is `minor-feed` (*Guardians and coming of age*);
//! - an `Undelegation` names a delegation held (else pending: a delegate resigns from another
//!   feed's) that the signing feed gave or that names it as delegate (`unknown-delegation`); in a
//!   minor's feed, not a guardian's (`minor-feed`).
//!
//! **Not checked.** Nothing else is checked; an implementation that adds a check refuses entries
//! every node accepts. In particular:
//! - an ASSISTANT `valid_until` may be any non-zero value, also before the delegation's own time or
//!   before 2020 (nothing signed under it is then in force); a GUARDIAN `valid_until` any multiple
//!   of 86,400,000, also at or before the delegation's own time (the feed is then no minor's), with
//!   no maximum;
//! - `void_from_ms` may be before the delegation's own time;
//! - two guardian delegations without a `co_signer` may name the same delegate;
//! - the endorser's own delegation need not be a GUARDIAN one (it names the endorser as delegate
//!   and gives GRANT);
//! - an endorsement may be signed before the grant it endorses, and one feed may endorse one grant
//!   any number of times;
//! - a delegation may be undelegated any number of times, by the person and by the delegate;
//! - a person may give any number of delegations, to one delegate or to many, and anyone may name
//!   any feed as delegate;
//! - a delegated grant may name any collector its delegation allows, also one the person's feed
//!   never named (the wallet names exactly the collector of each pairwise feed).
//!
//! **The rule.** Whether an undelegation ended a delegation is never a validity question: an entry
//! signed inside its delegation as given stays valid whatever arrives later, so every node judges
//! it alike in any arrival order. It is the decision rule's question, read from the entries
//! present:
//!
//! ```text
//! subject(G) = G.on_behalf.person if G has one, else G.feed
//! void(U)    = U.void_from_ms, or max(0, U.time_ms − 300000) when it is 0
//! end(D)     = min(D.valid_until (0: ∞), min over the Undelegations U naming D held of void(U))
//! wend(D)    = min(D.valid_until (0: ∞), min over the Undelegations U naming D held of U.time_ms)
//! frozen(F)  = the node holds an equivocation proof about feed F
//! read(S)    = not frozen(S.feed)         (what a frozen feed signed in someone's name, with
//!                                          on_behalf or as an Endorsement, is not read: as if
//!                                          absent)
//! -- S an entry read, with S.on_behalf naming delegation D
//! counts(S)    = D.time_ms <= S.time_ms < end(D)                 (grants, endorsements)
//! withdraws(S) = D.time_ms <= S.time_ms <= wend(D)               (revocations, opt-outs)
//! delegated(subject) = the Grants read whose on_behalf.person is the subject
//! revoked(G) = some Revoke R read, naming G, with
//!                R.feed = G.feed (with or without on_behalf), or
//!                R.feed = subject(G), or
//!                R.on_behalf set, R.feed ≠ G.feed and withdraws(R)
//! endorsed(G) = of the Endorsements E naming G with E.feed = co_signer of G's delegation,
//!               read(E), whose own delegation names E.feed as delegate and counts(E):
//!               the smallest (E.time_ms, E id bytes); none without a co_signer
//! opted out   = by the subject's own opt-outs, and by every delegated opt-out O in its name
//!               (a Request of kind OPT_OUT_SALE with on_behalf) read with withdraws(O)
//! ```
//!
//! Grants and endorsements count only when signed inside their delegation as the undelegations
//! present end it (`end`): an ex-delegate can no longer consent, and what it signed before the end
//! **stays** until revoked (the subject can revoke any grant made in its name). Revocations of
//! other feeds' grants and opt-outs a delegate signs in the person's name count when signed before
//! the delegation's `valid_until` and at or before each undelegation of it was signed (`wend`; the
//! same millisecond counts: withdrawal wins a tie):
//! `void_from_ms` voids consenting statements only, so an undelegation never turns a withdrawn
//! grant back into an allow, however far back it sets `void_from_ms`; from the moment it is signed,
//! the ex-delegate withdraws nothing more. A delegate can always take back its own grant: a
//! revocation by the grant's own feed counts with or without `on_behalf`, inside its delegation or
//! not (what a frozen feed signed in someone's name is not read at all: *Frozen delegates*).
//!
//! A check (*Deciding a check*, [`decide`]) reads the delegated grants naming the subject and the
//! collector beside the subject's own; such a grant fails, after `REVOKED` and `OPTED_OUT`,
//! `DELEGATION_WITHDRAWN` when not `counts(G)`, then `ENDORSEMENT_MISSING` when its delegation has a `co_signer` and `endorsed(G)`
//! is none; then as any grant (`NOT_YET_VALID`, `EXPIRED`, `POLICY_NOT_IN_EFFECT`, step 6).
//! Revocations and opt-outs need no endorsement: either guardian withdraws alone. At every tier
//! (allowing, covering, for the purpose, any) an own grant is named before a delegated one, so a
//! subject without delegated grants gets exactly the answers it got before delegation existed. A
//! decision naming a delegated grant, allow or deny, reports `delegated { delegation, delegate,
//! kind, endorsement }` (`CheckResponse.delegated`, and signed in `DecisionPayload.delegated`):
//! `endorsement` is `endorsed(G)` of the named grant, whatever the decision (empty when none
//! counts, or without a co-signer). A GUARDIAN kind says the grant was made by a guardian, also
//! after the child came of age.
//!
//! **What a check reads.** Besides the newest 1,024 own and 1,024 delegated grants naming the
//! collector (*Deciding a check*), the rule reads every revocation of each grant it reads, every
//! endorsement of each delegated grant under a co-signed delegation, and every delegated opt-out in
//! the subject's name naming the collector (of those that count, the largest `time_ms` decides).
//! None of these is bounded: an implementation that stops early decides differently (an ex-delegate
//! can sign any number of opt-outs that do not count, a co-guardian any number of endorsements).
//! consent-node reads them for each check whose facts are not cached: the revocations by other
//! feeds of each grant its own feed has not revoked, the endorsements of each co-signed delegated
//! grant, and the delegated opt-outs newest first until one counts.
//!
//! **Frozen delegates.** A delegate feed that equivocates is frozen on every node that holds the
//! proof (*Equivocation evidence*); the person's feed is untouched. Nodes may hold different
//! branches of the frozen feed, and learn different forks of it first (a frozen feed takes no
//! further proof), so no seq of it is one every node agrees on: **nothing a frozen feed signed in
//! someone's name is read**, whatever its seq (`read`). Its grants in anyone's name are as if
//! absent (not named, no place among the newest 1,024), its endorsements do not count, its
//! revocations and opt-outs in someone's name withdraw nothing. Every node answers alike as soon
//! as it holds the proof; until then it answers as for any other feed. The cost: a withdrawal a
//! delegate made for the person is lost if that delegate later equivocates, so the person's
//! wallet, told by its monitor, withdraws again in the person's own name (fail closed for the
//! grants, which stop counting at once). A node that holds the grant a person revokes only as half
//! of an equivocation proof (in no feed) keeps that revocation pending until it times out, and
//! the person's later entries wait behind it there: a wallet does not revoke a frozen delegate's
//! grants (they are not read anyway); it undelegates.
//!
//! **Guardians and coming of age.** A GUARDIAN delegation stands at seq 1 of the child's feed, a
//! second guardian's at seq 2, mirroring it (*Validity*; `guardian-misplaced` anywhere else): a
//! feed has at most two guardians ([`limits::MAX_GUARDIANS`]). Its `valid_until` is the
//! **coming-of-age instant**, UTC midnight of the date ([`delegation::coming_of_age_ms`]). While a
//! feed's seq 1 is a GUARDIAN delegation whose `valid_until` is after an entry's `time_ms`, that
//! entry may not be a `Grant`, a `Delegation` (but the second guardian's) or an `Undelegation` of a
//! guardian's delegation (`minor-feed`); requests and revocations are the child's to sign. From the
//! instant on, guardians' entries are `delegation-not-in-force` and the child's feed is its own.
//! Both rules compare signed times with a field of an earlier entry, so every node switches at the
//! same instant. Before the instant a guardian's delegation ends only by that guardian's
//! resignation (an `Undelegation` in its own delegate feed): the child's feed may not undelegate it
//! (`minor-feed`), and the other guardian's feed neither gave it nor is named by it
//! (`unknown-delegation`). When both guardians resign, nobody can grant for the child until the
//! instant (its feed stays a minor's); requests and revocations stay the child's. The guardians
//! hold the child's keystore until handover; the child's wallet then rotates its keys
//! (pre-rotation, *Entries*), so no key a guardian held signs again.
//!
//! **Backdating.** A delegate that learns of its withdrawal could sign a statement dated before it.
//! The default `void_from_ms` voids the 5 minutes before an undelegation, and the node a client
//! submits to refuses an entry with `on_behalf`, an `Endorsement` or an `Undelegation` signed more
//! than 5 minutes ([`limits::DELEGATED_ENTRY_TOLERANCE_MS`]) before its clock (FAILED_PRECONDITION
//! `delegated-entry-too-old`, [`delegation::admission`]). It asks this when it receives the entry,
//! both when validation accepts it and when the entry would wait as pending (an entry validation
//! refuses names its rejection); copies from peers skip it, and an entry woken from pending is not
//! asked again. So an honest node takes from a client no delegated statement dated more than 5
//! minutes before it receives it, and a delegate that acts on its withdrawal cannot get a grant
//! dated before `void_from_ms` accepted through it. What remains: a delegate can sign a fresh
//! statement, make it wait behind a predecessor in its own feed that it withholds, and release it
//! by submitting the predecessor up to the node's pending time-out later (consent-node `[ledger]
//! pending_ttl`, 10 minutes by default): until then it is invisible (not in the log, not in
//! `ListDelegated`), so the bound becomes 5 minutes plus that time-out; a delegate colluding with a
//! node operator can inject a backdated statement through replication, which counts until the
//! person revokes it (its arrival after the undelegation is visible in the node's log; a wallet
//! monitoring `Ledger.ListDelegated` alerts on every statement signed in its name); clock skew
//! between the person and the node shifts the bound by as much; honest grants signed in the 5
//! minutes before a withdrawal are voided too (withdrawal wins; a person who suspects earlier
//! misuse sets `void_from_ms` further back, which voids more grants and endorsements and brings
//! back no withdrawal).
//!
//! **Collectors.** A collector's watch stream (`Consent.Watch`) reports a `Grant`, `Revoke` or
//! `Request` carrying `on_behalf` as `GRANT`, `REVOKE` or `REQUEST` under the person
//! (`WatchEvent.subject` is `on_behalf.person`); a `REVOKE` is reported under the subject of the
//! grant it names (its `on_behalf.person`, else the feed that signed it), so a delegate taking
//! back a grant it made in someone's name is reported under that person. `Delegation`,
//! `Undelegation` and `Endorsement` entries are not sent. Whether a delegated statement counts
//! depends on them and on signed times the stream does not carry, so a decision cache does not
//! apply a delegated event itself: it asks the node about that subject (consent-client's cache
//! answers `Stale::Delegated` for every subject with a statement a delegate signed in its name).
//! A delegated `Request`, or a `Revoke` in someone's name of a grant its signer did not make,
//! stays a valid entry after its delegation ended (validity reads `valid_until` only); the node
//! does not deliver one that does not count as the delegation stands when it writes it
//! (`withdraws`: signed before the earliest undelegation's signed time and `valid_until`): it is
//! not in the collector's watch stream nor among the requests awaiting its answer, though it is
//! in the log and in `ListDelegated`. A node that wrote it before the undelegation reached it has
//! delivered it; so before acting on a delegated request (answering an access request, erasing),
//! a collector may ask `Ledger.ListDelegations(person)` whether its delegation still holds; after
//! a revocation that does not count, `Consent.Check` still allows under the revoked grant.
//!
//! **Reads** (public, `consent.v1.Ledger`). `ListDelegations(feed)` lists the delegations that
//! concern a feed: those it gave as a person first, then those naming it as delegate (a feed may
//! be both), each part oldest first by the Delegation's arrival index, at most 256 in all
//! ([`limits::MAX_DELEGATIONS_LISTED`]). Each comes with the first 16 Undelegations held, in
//! arrival order, and `end_ms`: the earliest `void_from_ms` of the Undelegations held when it is
//! before `valid_until` (or there is none), else 0 (none held, or none ending it before its
//! `valid_until`); `end_ms` is where `end(D)` stops consenting statements, not `wend(D)`.
//! consent-node reads at most 4,096 rows of each of the two sides in key order (the delegations a
//! person gave by delegation id; those naming a delegate by person id, then delegation id) before
//! it sorts by arrival and keeps 256: past 4,096 on a side, the list is not the oldest. Anyone may
//! name any feed as delegate, so strangers can crowd the delegate side, never the delegations a
//! feed gave (listed first). `ListDelegated(person, after, limit)` streams every entry
//! signed in the person's name (statements with `on_behalf`, endorsements, and delegates'
//! resignations of its delegations) with an arrival index above `after`, in arrival order, at most
//! 10,000 per call (`limit` 0: 10,000).
//!
//! ## Receipts
//! `Receipt { payload, signature }` with `payload` the protobuf encoding of `ReceiptPayload` and
//! `signature = Ed25519-sign(node key, "consent-ledger/receipt/v1" || payload)`. The payload's
//! `index` is the entry's place in the node's arrival log; its `time_ms` is the node's clock when
//! it signed the receipt, which is when the receipt was asked for: the answer to a submission,
//! `ACCEPTED` or `DUPLICATE` (a resubmission, e.g. `consent receipt`, gets a receipt signed
//! then). It is an upper bound of when the entry took effect at that node, tight only for the
//! first `ACCEPTED` answer; an entry accepted from the pending pool gets no receipt. When an entry
//! took effect is its arrival `index`, bounded by the signed checkpoints around it.
//!
//! ## Decision receipts
//! `DecisionReceipt { payload, signature, checkpoint, grant_inclusion, revocation_inclusion,
//! delegation_inclusion }`:
//! - `signature = Ed25519-sign(node key, "consent-ledger/decision/v1" || payload)`, with `payload`
//!   the protobuf encoding of `DecisionPayload`; the node key is the payload's `node`. The
//!   signature covers every payload field: `question` (the `CheckRequest` as asked, except that
//!   an `at_ms` left 0 is set to the time the decision is about, `time_ms`; receipts signed
//!   before this rule echo the 0 they were asked with), `decision`,
//!   `reason`, `grant` (the grant named, or empty), `subject_head` and `subject_head_seq`,
//!   `log_size`, `time_ms` (when the node decided), `at_ms` (the time the decision is about:
//!   `question.at_ms`, or `time_ms` when that is 0), `when` (`question_time(at_ms, time_ms)`:
//!   `PAST` if `at_ms + 300,000 < time_ms`, `FUTURE` if `at_ms > time_ms + 300,000`, else
//!   `CURRENT`; the margin is [`limits::QUESTION_TIME_TOLERANCE_MS`]), for a `REVOKED` deny,
//!   `revocation` (the id of a revocation of the grant that counts), when the question carries
//!   an observation context, `context_digest` (see *Scope and form*), and, when the grant named
//!   was made in the subject's name by a delegate, allow or deny, `delegated` (the delegation it
//!   rests on, the delegate that signed the grant, the delegation's kind, and `endorsed(G)`, empty
//!   when none counts; *Delegation*). In a receipt of a node that knows delegation (its
//!   `Node.Status.rejection_reasons_version` is 4 or more; the receipt does not say), no
//!   `delegated` means the named grant is the subject's own, which anyone can confirm from the
//!   grant entry itself (no `on_behalf`) through `grant_inclusion`. Times are compared as
//!   mathematical integers, with no wraparound (in `u64`, saturating sums give the same result).
//! - A `REVOKED` receipt may name no revocation, and any revocation of the grant that counts is
//!   a correct one to name; several feeds may have revoked it (its own feed, its subject,
//!   delegates). consent-node names the first that counts among the revocations by feeds other
//!   than the grant's own, by the revoking feed's id (bytes, ascending); else the grant's own
//!   feed's first revocation of it among the 1,000 entries of that feed that follow the grant (for
//!   a delegated grant, the delegate's feed); else none. Receipts signed before the field existed
//!   never name one. Any other reason names none: a `revocation` with another reason, or not 32
//!   bytes long, makes the receipt malformed.
//! - Not signed: `checkpoint` (a note the node signed itself, with witness cosignatures) and the
//!   two inclusion proofs, each of which proves itself against that checkpoint. They are bound to
//!   the signed payload by entry id: `grant_inclusion.entry_id` must equal `grant`, and, when the
//!   payload names a revocation, `revocation_inclusion.entry_id` must equal `revocation`, and
//!   when it names a delegation, `delegation_inclusion.entry_id` must equal
//!   `delegated.delegation` (a proof of another entry makes the receipt invalid). When the
//!   payload names none, such a proof is bound to nothing signed: it is ignored and proves
//!   nothing (older `REVOKED` receipts carry a revocation proof; see
//!   [`evidence::verify_decision`] to use it).
//!
//! A verifier ([`evidence::verify_decision`]) checks: the signature under a node key it trusts;
//! `question` present; `context_digest` empty exactly when `question.context` is absent, and
//! otherwise the context digest of `question.context` (*Scope and form*); a `revocation` only
//! with `REVOKED`, and then 32 bytes; a `delegated` only beside a 32-byte `grant`, with 32-byte
//! `delegation` and `delegate`, a known `kind` and an `endorsement` of 0 or 32 bytes; if either
//! `at_ms` or `when` is non-zero, both equal the
//! values computed from `question.at_ms` and `time_ms` as above (receipts signed before these
//! fields existed leave both zero: compute them with [`receipt::decided_about`]); the checkpoint
//! signed by the same node and cosigned by enough of the witnesses it trusts; and each proof as
//! above. Then it reads the decision *about `at_ms`*: an allow with `when = PAST` says a grant
//! was in force at that time, as the node knew at `time_ms`, and is no consent to process data at
//! `time_ms`; with `when = FUTURE`, a revocation or suspension before `at_ms` can change the
//! answer.
//! `subject_head_seq` and `log_size` say how fresh the node's state was.
//!
//! Of `delegated`, only the delegation is proven (`delegation_inclusion`); the rest are the
//! node's signed claims, which a verifier checks from the entries: the grant (proven by
//! `grant_inclusion`; fetch it with `Ledger.GetEntry`) carries `on_behalf` exactly when the
//! receipt carries `delegated` (a receipt without it for a grant with `on_behalf` hides that a
//! delegate made the grant), names `delegated.delegation` there, and is signed by the feed
//! `delegated.delegate`; the delegation (in the subject's feed) names that delegate and has
//! that kind; a non-empty `endorsement` is an `Endorsement` naming the grant, signed by the
//! delegation's `co_signer` (`Ledger.GetEntry`, `Log.GetInclusionProof`).
//! [`evidence::verify_decision`] holds no entry, so it checks none of this.
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
//! are errors without being rejections (`equivocation`, `pending-full`), `unknown-field`
//! below, and the admission refusals: the five of *Consultations* (`policy-draft`,
//! `consultation-unanswered`, `outcome-exists`, `consultation-closed`, `draft-backdated`) and
//! `delegated-entry-too-old` (*Delegation*), FAILED_PRECONDITION, the message starting `entry
//! refused (<name>): ` ([`consultation::Refusal::reason`]). A reason's name (`wrong-prev`) is its value's name without `REJECTION_REASON_`, in
//! lower case with `_` as `-`. It travels:
//! - in `Submit`'s refusal: the gRPC status details (the `grpc-status-details-bin` trailer) are a
//!   `google.rpc.Status` whose `details` hold one `google.protobuf.Any` with type URL
//!   `type.googleapis.com/consent.v1.RejectionDetail` and an encoded `RejectionDetail { reason,
//!   code }`; the trailing metadata `consent-reason` holds the name; the message starts
//!   `entry rejected (<name>): ` for a rejection. The inner `google.rpc.Status` repeats the
//!   call's code and message;
//! - in a `SubmitBatch`, per entry: `SubmitResult.rejection_reason`, and the name in
//!   `error_reason` (`internal`, with `rejection_reason` unspecified, when the node failed on the
//!   entry).
//!
//! A refusal that is not about one entry carries no `RejectionReason` and no details: an empty
//! batch (INVALID_ARGUMENT), a batch over 1,000 entries or a `GetFeed`/`GetLog` `limit` over
//! 10,000 (RESOURCE_EXHAUSTED), an id or feed that is not 32 bytes (INVALID_ARGUMENT), and the
//! limits on callers (RESOURCE_EXHAUSTED with their own `consent-reason`, see *Limits*).
//!
//! Versioned by [`reasons::REJECTION_REASONS_VERSION`] (1: values 1 to 30; 2: 1 to 34; 3: 1 to
//! 48; 4: 1 to 58, delegation's `not-delegated` 49 to `unknown-delegation` 57 and
//! `delegated-entry-too-old` 58), which
//! `Node.Status` reports: values are never renumbered or reused, and a new reason is added with a new number
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
//!   (`identify_version`), whose major number follows the sync protocol's (minor and patch are
//!   always 0, and identify versions are compared as whole strings). `<network>` is the first 16
//!   hex digits of the genesis digest (the gossip topic `/consent-ledger/<network>/entries/1` and
//!   the Kademlia protocol `/consent-ledger/<network>/kad/1` carry it too). *Any* change to what
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
//!
//! Scopes (*Scope and form*) changed three of them: entries may carry scopes that a node of an
//! earlier release finds non-canonical (an unknown field), so the sync protocol became `/sync/3`
//! (identify `3.0.0`); four rejection reasons were added (version 2); the store's layout became
//! 5 (grants keep their scope). The gRPC changes are additive (`CheckRequest.context`,
//! `CheckResponse.required_form`, `DecisionPayload.context_digest`, reasons 14 to 21): a client
//! that sends no context gets the answers it got before for unscoped grants (every grant of an
//! earlier release is unscoped), and, for a scoped grant whose effective scope needs a sensor,
//! cell, time or form for the purpose asked, a deny naming the first missing one; the entry
//! signature domain stays `consent-ledger/entry/v1`, and `scope.version` (1) versions the scopes
//! themselves. A node of an earlier release ignores `CheckRequest.context` (an unknown field): it
//! judges no observation time or scope, names no `required_form`, and its receipt's question
//! carries no context and no digest. A collector that relies on the context checks
//! `Node.Status.rejection_reasons_version` ≥ 2, or that the receipt's question carries the
//! context it sent. `ObservationContext.sensor_kind` came after the first scoped release, also
//! additive: a node from before it ignores the kind (judging a sensor by its id alone, and
//! signing a `…/v1` context digest of a question without the kind, which a newer verifier
//! refuses); a client from before it, sending a sensor without its kind, is denied
//! `CONTEXT_MISSING_SENSOR` under a grant whose policy declares sensors (fail closed).
//!
//! Consultations (*Consultations*) changed all of them: entries may carry a policy's
//! consultation, stances, responses and outcomes, which a node of an earlier release finds
//! non-canonical or without a body, and whether a grant counts now depends on them, so the sync
//! protocol became `/sync/4` (identify `4.0.0`); fourteen rejection reasons were added (version
//! 3: 35 to 48); the store's layout became 6. A new `ObjectionReason`, `StanceKind` or
//! `ConsultationResult` value changes validity (an unknown value is `bad-field`): it renames the
//! sync protocol. The gRPC changes are additive: the `Consultations` service,
//! `Reason` `POLICY_NOT_IN_EFFECT` (22), `Node.Status.consultation`, and the watch kinds
//! `POLICY`, `STANCES` and `OUTCOME`, sent only to a client that asks
//! (`WatchRequest.consultations`), so an older client never sees a kind it does not know.
//!
//! Delegation (*Delegation*) changed all of them too: entries may carry `on_behalf`, and the
//! bodies `Delegation`, `Undelegation` and `Endorsement`, which a node of an earlier release
//! finds non-canonical or without a body, and `already-revoked` and `unknown-grant` now read as
//! stated there (as do `guardian-misplaced`, the second guardian mirroring the first, and
//! `unknown-grant` for a revocation in the name of a person who is not the grant's subject), so
//! the sync protocol became `/sync/5` (identify `5.0.0`); ten rejection reasons were added
//! (version 4: 49 to 58); the store's layout became 7. A new `DelegatedPower` or
//! `DelegationKind` value changes validity (an unknown value is `bad-field`): it renames the
//! sync protocol. The gRPC changes are additive: `CheckResponse.delegated`,
//! `DecisionPayload.delegated`, `DecisionReceipt.delegation_inclusion`, `Reason`
//! `DELEGATION_WITHDRAWN` (23) and `ENDORSEMENT_MISSING` (24), which
//! only a subject with delegated grants ever gets (an older client reads them as unspecified: a
//! deny), and `Ledger.ListDelegations` and `ListDelegated`. Every entry and answer of a subject
//! without delegation is byte for byte what it was. For a subject with delegation, the watch
//! stream reports what delegates signed in its name under the subject (*Delegation*,
//! "Collectors"): an SDK of an earlier release cannot decode those entries (an unknown field) and
//! asks the node (fail closed); one written from this text must not apply them itself.
//! - **The store on disk**: a layout version (`store_layout_version`; consent-node
//!   `ledger::tables::SCHEMA_VERSION`). A node opens a store of its own layout, migrates at start
//!   the older layouts it names (and says so in its log), and refuses any other with a message
//!   saying what to do (run the release that wrote it, or move the data directory aside and
//!   sync anew from peers). A release that changes the layout raises it.
//! - The domain-separation prefixes ([`domain`], `…/v1`; the context digest's `…/v2`, since it
//!   binds the sensor's kind) change only with the meaning of what they sign or hash; a new
//!   prefix is a new protocol.
//!
//! ## The verifiable log
//! Every node numbers the entries it accepts in arrival order, its own (its **arrival log**: index
//! 0, 1, …), and keeps a Merkle tree over it ([`merkle`], RFC 9162 §2.1):
//! - leaf `i` is the 32-byte id of the entry at arrival index `i`; a leaf hash is
//!   `SHA-256(0x00 || id)`, an inner node `SHA-256(0x01 || left || right)`; the tree over `n`
//!   leaves splits at the largest power of two below `n`; the empty tree's root is `SHA-256("")`.
//!   (SHA-256 here, as in RFC 9162; ids are BLAKE3.)
//! - an inclusion proof is the audit path of RFC 9162 §2.1.3 (leaf side first); a consistency
//!   proof is that of §2.1.4 (empty from size 0, and from a size to itself); both at most
//!   [`merkle::MAX_PROOF_HASHES`] (64) hashes.
//!
//! **Checkpoints** ([`note`]): a node commits to its log in C2SP signed notes
//! (c2sp.org/signed-note, c2sp.org/tlog-checkpoint): UTF-8 text, every line ending in `\n`:
//!
//! ```text
//! node1qx…                origin: the node id (bech32m of the node's Ed25519 public key)
//! 51234                   tree size, decimal, no leading zero
//! 3q2+7w…=                root hash, standard base64 with padding
//! time 1795959010768      when the node signed: Unix time in MILLISECONDS
//!                         (an empty line)
//! — node1qx… <base64(key id (4) ‖ Ed25519 signature (64))>
//! — node1zz… <base64(key id (4) ‖ time (8 bytes, big-endian, Unix SECONDS) ‖ signature (64))>
//! ```
//!
//! - The **body** is the first four lines, each with its `\n`, exactly these four. The node signs
//!   the body's bytes with Ed25519, with no domain prefix.
//! - A **key id** is the first 4 bytes of `SHA-256(name || "\n" || type || public key)`: `name` the
//!   signer's node id, `type` one byte, `0x01` for the origin's signature, `0x04` for a
//!   cosignature. A name is a node id, so it says which key to verify under.
//! - A **cosignature** (c2sp.org/tlog-cosignature, `cosignature/v1`) by a witness is an Ed25519
//!   signature over `"cosignature/v1\ntime <s>\n" || body`, `<s>` the witness's time in Unix
//!   **seconds**, the same number as the 8 bytes in its line. The body's own `time` line is in
//!   **milliseconds**.
//! - Signature lines start with U+2014 EM DASH and a space, then the name, a space and the base64
//!   blob (68 bytes for a signature, 76 for a cosignature). A node writes its own line first, then
//!   at most one cosignature per witness. A note is at most [`note::MAX_NOTE_BYTES`] (16 KiB), with at
//!   most [`note::MAX_SIGNATURES`] (32) lines and names of at most 256 bytes; a blob of another
//!   length makes the note malformed here (C2SP would have verifiers skip unknown signature
//!   types).
//! - To verify a checkpoint: parse it, find the line named by the origin with the `0x01` key id
//!   and check it under the key the origin names; count the cosignatures, under `0x04` key ids,
//!   of the witnesses you trust.
//!
//! A node signs a checkpoint every second its log grew (and on the first `Log.GetCheckpoint`),
//! over its durable entries only. Test vectors: `merkle`, and `decision_receipts[].checkpoint`
//! (every line with the exact text it signs).
//!
//! **The `Log` service** (`consent.v1.Log`): `GetCheckpoint` (the latest note with the cosignatures
//! witnesses added, and its fields parsed), `GetInclusionProof(index or entry_id, tree_size)` and
//! `GetConsistencyProof(old_size, new_size)`. A size of 0 means the latest checkpoint's, and no
//! proof is given for a size above it, so each proof can be checked against a root the node
//! signed. Errors:
//!
//! | call | code | when | message |
//! |---|---|---|---|
//! | any | UNAVAILABLE | no checkpoint could be signed yet | `no checkpoint signed yet; retry shortly` |
//! | inclusion, consistency | OUT_OF_RANGE | the size asked is above the latest checkpoint's | `tree size N is beyond the latest signed checkpoint (M); ask for the checkpoint again later` |
//! | inclusion | INVALID_ARGUMENT | neither `index` nor `entry_id` | `name the entry: its arrival index or its id` |
//! | inclusion | INVALID_ARGUMENT | `entry_id` not 32 bytes | `entry_id must be 32 bytes, got N` |
//! | inclusion | NOT_FOUND | no entry at that index / with that id | `no entry at arrival index N` / `no entry ent1…` |
//! | inclusion | OUT_OF_RANGE | the entry's index is not below the size | `entry N is not in the tree of M entries; ask with a later checkpoint's size` |
//! | consistency | INVALID_ARGUMENT | `old_size` above the new size | `old size N is above the new size M` |
//!
//! The size is checked first (the checkpoint is read before the entry). Any call of any service
//! may also answer UNAVAILABLE (the node is shutting down: retry on another node), CANCELLED (the
//! request went away) or INTERNAL: a failure of the node's own storage, with trailing metadata
//! `consent-reason` `store-error`, `corrupt-store` or `internal-error` and a fixed message (the
//! cause stays in the node's log).
//!
//! ## Collector sessions
//! A collector proves that it holds its feed's current key with `Consent.Authenticate` ([`auth`]):
//! an Ed25519 signature by that key over `"consent-ledger/auth/v1" || node key (32) || collector
//! feed id (32) || time_ms (8 bytes, big-endian)`, the node key being the answering node's
//! (`Node.NodeKey`) and `time_ms` within [`auth::WINDOW_MS`] (120,000 ms) of the node's clock,
//! either way. Each signed statement opens at most one session at a node: the node remembers the
//! statements that opened one while their time is within the window (consent-node: at most
//! 65,536; beyond that the oldest are forgotten) and refuses one presented again
//! (`statement-replayed`), so sign a new statement, with a later `time_ms`, for every
//! `Authenticate`. The answer is a token, 160 hex digits (opaque: it is the node's own MAC; a
//! client must not parse it), valid [`auth::TOKEN_TTL_MS`] (15 minutes) at that node only, and no
//! longer once the collector rotates its key. Every other `Consent` call sends it as metadata
//! `authorization: Bearer <token>`: exactly `Bearer`, one space and the token (the scheme is
//! case-sensitive here; send one `authorization` entry). `expires_ms` is by the node's clock,
//! which may differ from the collector's by up to the statement window: renew a minute or more
//! early, and in any case authenticate again on UNAUTHENTICATED. A frozen collector can still
//! authenticate; its checks answer `COLLECTOR_FROZEN`. Test vector: `auth`.
//!
//! **Client certificates.** When a node asks for client certificates (consent-node: `[tls]
//! client_ca`), it speaks TLS 1.3 only and resumes no TLS session, so every connection's
//! certificate is checked at its own handshake. A session is bound to the client certificate its
//! `Authenticate` call was made over: the end-entity certificate exactly as presented (its DER
//! bytes; intermediates do not count), or "no certificate". Any later connection to the same node
//! that presents that same certificate (or, for an unbound session, none) may use the token:
//! reconnecting, a second channel and a restart of the node (tokens are checked with a key
//! derived from the node key) all keep the session. A call over a connection that presents
//! another certificate, or none when the session has one, or one when it has none, is refused
//! UNAUTHENTICATED with `consent-reason: certificate-mismatch`: authenticate again over that
//! connection. A renewed client certificate is another certificate, even with the same key and
//! names. Over TLS without client certificates, or when a proxy terminates TLS, sessions are
//! bound to no certificate and a token is a plain bearer credential.
//!
//! **Collectors named by certificates.** A client certificate names its collector by a subject
//! alternative name of type URI (GeneralName `uniformResourceIdentifier`) whose value is the ASCII
//! string [`auth::CERT_COLLECTOR_URI`] (`urn:consent-ledger:collector:`, exactly so, in lower
//! case: another case is not a collector name) followed by the collector's feed id in its text
//! form (`col1…`, as `consent collector init` prints it). Only the end-entity certificate counts,
//! and at most one such URI; other names (DNS, e-mail, other URIs, the subject CN) are ignored. A
//! certificate without such a URI names no collector. `Authenticate` over a certificate that names
//! another collector, or more than one (two such URIs, even with the same id), or a malformed id,
//! or that cannot be parsed, is refused PERMISSION_DENIED with `consent-reason:
//! certificate-collector`. A node whose operator lists collectors (consent-node: `[tls]
//! collectors`) completes the TLS handshake only with certificates naming one of them.
//!
//! **TLS refusals.** A node refuses a connection at the handshake with a TLS alert:
//!
//! | alert | why |
//! |---|---|
//! | `certificate_required` | the node requires a client certificate and none was presented |
//! | `unknown_ca` | the client certificate does not chain to the node's client CAs |
//! | `certificate_expired` | it is expired, or not yet valid, by the node's clock |
//! | `unsupported_certificate` | its extended key usage lacks `clientAuth` |
//! | `bad_certificate`, `decode_error`, `decrypt_error`, `certificate_unknown` | it is malformed, or a signature does not verify |
//! | `access_denied` | the node lists the collectors it admits, and the certificate names none of them (or none at all, two, or a malformed id) |
//! | `no_application_protocol` | the client offered ALPN without `h2` |
//! | `protocol_version`, `handshake_failure` | no TLS version in common (TLS 1.3 only when the node asks for client certificates, else 1.3 or 1.2), or no cipher suite |
//!
//! A client certificate is judged after the client has finished its side of the TLS 1.3
//! handshake: the client's handshake succeeds, and the alert arrives on its first read, typically
//! as its first call fails (many gRPC libraries then report UNAVAILABLE, CANCELLED or UNKNOWN). The
//! node keeps such a connection half-closed for at most 1 s so that the alert can be read. To name
//! the cause, read the alert from the TLS layer, or make one fresh handshake and read before
//! sending anything (the Rust SDK does this). The other alerts end the handshake itself.
//!
//! `Authenticate` refuses, in the order it checks:
//!
//! | code | when | message | `consent-reason` |
//! |---|---|---|---|
//! | RESOURCE_EXHAUSTED | over the per-address rate (see *Limits*) | starts `too-many-authentications` | `too-many-authentications` |
//! | INVALID_ARGUMENT | `collector` not 32 bytes | `collector must be 32 bytes, got N` | — |
//! | UNAUTHENTICATED | `node_key` is not this node's | `the statement names another node's key: sign for this node's key (Node.Status node_key)` | — |
//! | PERMISSION_DENIED | the connection's client certificate names another collector, names more than one, names a malformed id, or cannot be parsed | starts `certificate-collector: ` | `certificate-collector` |
//! | INVALID_ARGUMENT | `signature` not 64 bytes | `signature: 64 bytes expected, got N` | — |
//! | UNAUTHENTICATED | `time_ms` more than 120,000 ms from the node's clock | `the statement's time T is more than 120000 ms from the node's clock N: check the collector's clock` | — |
//! | UNAUTHENTICATED | the node knows no such feed | `this node knows no feed col1…; submit the collector's inception first` | — |
//! | PERMISSION_DENIED | the feed is not a collector's | `only collectors authenticate; this feed is not a collector's` | — |
//! | UNAUTHENTICATED | the signature does not verify under the collector's current key | `the signature does not verify under the collector's current key` | — |
//! | UNAUTHENTICATED | the statement already opened a session at this node | starts `statement-replayed: this signed statement was already used for a session: sign a new one` | `statement-replayed` |
//!
//! A call that needs a session (`Check`, `CheckBatch`, `Watch` when it opens) is refused, in this
//! order:
//!
//! | code | when | message | `consent-reason` |
//! |---|---|---|---|
//! | UNAUTHENTICATED | no `authorization` metadata | `` no session: call Consent.Authenticate and send `authorization: Bearer <token>` `` | — |
//! | UNAUTHENTICATED | not ASCII, or not `Bearer ` (capital B, one space) followed by the token | `` authorization must be `Bearer <token>` `` | — |
//! | UNAUTHENTICATED | the token is not 160 hex digits (tokens of releases before client certificates had 128) | `malformed session token` | — |
//! | UNAUTHENTICATED | another node issued it (or this node under another node key) | `session token not issued by this node (tokens are per node)` | — |
//! | UNAUTHENTICATED | it expired (`expires_ms` ≤ the node's clock) | `session expired: authenticate again` | `session-expired` |
//! | UNAUTHENTICATED | the connection presents another client certificate than the session's, or none, or one where it had none | starts `certificate-mismatch: ` | `certificate-mismatch` |
//! | UNAUTHENTICATED | the collector's key changed since the session began | `the collector's key changed since this session began: authenticate again` | `key-changed` |
//! | PERMISSION_DENIED | a check names another collector (in a batch: `check <i>: ` first, and the whole batch is refused) | `a collector checks only for itself: this check names another collector` | — |
//!
//! On any UNAUTHENTICATED, authenticate again (over the connection you will use) and retry once;
//! `consent-reason` only says why. Match on it, not on messages. A refusal before any response
//! message is a gRPC "Trailers-Only" response: libraries expose its metadata as trailing metadata
//! (grpcio `e.trailing_metadata()`, grpc-go `grpc.Trailer`, grpc-java
//! `Status.trailersFromThrowable`). A `Watch` stream already open ends, with UNAUTHENTICATED, only
//! when its session expires (`session-expired`) or the collector's key changes (`key-changed`):
//! its connection's certificate cannot change, and reloading the node's certificate or client CAs
//! does not end it.
//!
//! ## Test vectors
//! `proto/vectors/vectors.json` holds vectors for this specification, generated from fixed seeds
//! by `proto/tests/vectors/` (every key is the Ed25519 seed `BLAKE3(label)` of its label;
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
//! - `receipts`: two entry receipts. `decision_receipts`: an `ALLOW`, a `REVOKED` deny about a
//!   past time, and an `ALLOW` whose question carries an observation context (with its
//!   `context_digest`), each with its checkpoint note (signed by the node, cosigned by a witness)
//!   and the inclusion proofs of the grant (and revocation) in that checkpoint's tree.
//! - `merkle`: the tree over the entries' ids in arrival order: leaf hashes, the root at every
//!   size, inclusion and consistency proofs.
//! - `equivocation`: an inception and two entries at seq 1, both signed by its key.
//! - `h3`: 64-bit indexes with whether each is an H3 cell (pentagons' deleted children among
//!   them), and parents of three cells at every resolution (null when finer than the cell).
//! - `local_time`: the local weekday and minute of a time at a fixed UTC offset.
//! - `scopes`: after `entries`, the collector's second policy, declaring a scope, and two grants
//!   under it (one narrowing it in every dimension, one narrowing zone 1 only: the worked bytes
//!   of *Scope and form*), as in `entries`; each scope's JSON also carries its `encoding`.
//! - `scope_decisions`: the rule alone (steps 5 and 6 of [`decide`] for one subject with one grant;
//!   steps 1–4 passed). `policies`: policy scopes, each with its `encoding`, `null` for a policy
//!   without one (the `scopes` policy's first); every policy is taken to declare all of `purposes`
//!   and `categories`. Each case: `policy`, an index into `policies` or `null` (no scope); `grant`:
//!   seq 1, `valid_from`, `valid_until` (0: until revoked), `revoked`, `scope` (`null`: it narrows
//!   nothing; else with its `encoding`), each within its policy scope; `opt_out_seq` (the seq of an
//!   opt-out of sale and sharing, or `null`); `question`: `purpose`, `category`, `at_ms` (never 0)
//!   and `context` (`null`: absent; a `cell` of `null` is 0; `sensor_kind` and `form` by name,
//!   `…_UNSPECIFIED` for 0); and the expected `decision`, `reason` and `required_form`. Hand-picked
//!   edges first (each with `about`), then 2,000 seeded cases.
//! - `context_digests`: contexts, the bytes their digest hashes, and the digest.
//! - `consultations`: after `scopes`, as in `entries`, judged by validity alone (no admission:
//!   at `validation_clock_ms` a node's admission would refuse these stances as
//!   `consultation-closed`) on a network without `[consultation]` (with `widening_min_days` ≥ 3
//!   the draft would be `consultation-too-short`). `T` is the collector's inception time
//!   (1750004800000): the collector's third policy, a draft signed at `T + 0.5 days` (it adds
//!   marketing, with a consultation closing at `T + 2.5 days`, a 2-day window; the collector was
//!   suspended before it, and consultations do not depend on accreditation), the citizen's objection
//!   (`RETENTION_TOO_LONG`, `OTHER`, with a details digest) and then support, the collector's
//!   response to `OTHER`, and the dev registrar's approval listing it, an hour after the window.
//! - `consultation_validation`: `history` (the dev registrar, a collector with a scoped first
//!   policy, a citizen), then `cases`: each with `widening_min_days` (the genesis's, `null`
//!   without `[consultation]`), `entries` submitted in order after the history on a fresh ledger
//!   at `validation_clock_ms`, and their `verdicts` (`accept`, `pending`, or the rejection's
//!   name); a refused or pending entry does not advance its feed, so the next is signed at the
//!   same seq. Some cases carry an `about`.
//! - `policy_changes`: pairs of policies (`old`, `new` as bodies, with their `…_encoding`: the
//!   `Policy` message's bytes), the change's `kind` (`widening`, `narrowing`, `unchanged`), its
//!   `items` (`direction`, `code`, `sentence`) in order, and the `sentences` shown (informative:
//!   a second implementation matches `kind` and each item's `direction` and `code`).
//! - `consultation_states`: a draft's `time_ms`, `closes_ms`, `gated`, `superseded_ms`, its valid
//!   `outcomes` in any order (`id`, `time_ms`, `approved`, and `frozen`: signed by a frozen
//!   registrar feed) and a clock `now_ms`; the `state` (and `state_wire`), `state_ms` and
//!   `in_effect_from` (`u64::MAX`: never). An implementation drops the frozen outcomes and those
//!   at or after `superseded_ms`, takes the earliest changes-required and the earliest approval
//!   by `(time_ms, id)`, and applies *State and effect*.
//! - `consultation_counts`: stances (`feed`, `seq`, `kind`, `reasons`, `affected`: whether the
//!   feed held a grant naming the collector at a lower seq, decided at the stance) in any order,
//!   the `affected` and `others` tallies (`support`, `object`, and non-zero `reasons` in reason
//!   order), and the reasons `raised` at `threshold`.
//! - `consultation_decisions`: like `scope_decisions` (no policy scope, a grant that narrows
//!   nothing), each case with the grant's policy's `in_effect_from` (0: not gated; `u64::MAX`: a
//!   gated draft not approved; else its approval's time): `POLICY_NOT_IN_EFFECT` at one
//!   millisecond before and at the approval, its place after `REVOKED`, `NOT_YET_VALID` and
//!   `EXPIRED` and before `TIME_NOT_COVERED`, and an `observed_ms` before the approval.
//! - `delegations`: a network of its own (its `keys`; the dev registrar as the genesis's
//!   registrar): `history`, as in `entries` and in an order a fresh node accepts at
//!   `validation_clock_ms`: a collector, its policy and accreditation; a person's delegation to
//!   an assistant (GRANT; research and third-party sharing; this collector; 9 days), the
//!   assistant's grant in the person's name; a child's two guardian delegations at seq 1 and 2
//!   (2 of 2, coming of age at `comes_of_age_ms`, 2034-05-01), a guardian's grant in the child's
//!   name, the co-guardian's endorsement, a second grant, an opt-out in the child's name, the
//!   co-guardian's revocation of that grant; the person's undelegation (default
//!   `void_from_ms`), the assistant's grant signed a minute before it (valid, and withdrawn),
//!   and the assistant's resignation. Then `validation`: cases, each one `entry` signed next by
//!   its author after the whole history, and its `verdict` on a fresh node holding the history
//!   (`accept`, `pending`, or the rejection's name): every delegation rejection reason, and
//!   `already-revoked` and `unknown-grant` as *Delegation* reads them.
//! - `delegation_receipts`: two decision receipts over the `delegations` history's own arrival
//!   log (its list order), as `decision_receipts`, each with `delegated` (null, or `delegation`,
//!   `delegate`, `kind`, `endorsement`, bytes in hex, empty for none) and the
//!   `delegation_inclusion` proof: an `ALLOW` under the guardian's grant with the co-guardian's
//!   endorsement, and a `DELEGATION_WITHDRAWN` deny under the assistant's late grant.
//! - `delegation_decisions`: 1,000 seeded cases of steps 5 and 6 with delegation
//!   ([`decide::decide_subject`]; steps 1 to 4 passed; grants unscoped, their policies in
//!   effect) for `subject`: the subject's `own` grants (`id`, `seq`, `time_ms`, `purposes`,
//!   `categories`, `valid_from`, `valid_until` (0: none), `revoked`), `delegated` grants (a
//!   `grant` as above, its `delegation` (`id`, `delegate`, `kind`, `time_ms`, `valid_until`,
//!   `co_signer` (empty: none), and its `undelegations` (`time_ms`, `void_from_ms`, 0: the
//!   default)) and its `endorsements` (`id`, `endorser`, `time_ms`, and the endorser's own
//!   `delegation` as above)), `opt_out_seq` and `opt_out_ms` (the subject's latest own opt-out),
//!   `delegated_opt_out_ms` (the largest `time_ms` of the delegated opt-outs that count, null
//!   for none), the `question`, and the expected `decision`, `reason`, `grant` (empty: none) and
//!   `answer_delegated` (null, or as in `delegation_receipts`). An implementation computes each
//!   delegation's `end` and the counting endorsement as *Delegation* says. `revoked` and
//!   `delegated_opt_out_ms` are given, so these cases do not exercise which revocations and
//!   delegated opt-outs count (`withdraws`).
//! - `coarse_times` (informative: the wallet rule of *Signed times of citizen entries*, which no
//!   node checks): `granularities`, each `g` and whether a wallet may use it (`allowed`); `times`,
//!   each an entry signed at `now_ms` by a wallet of granularity `g` (null: none), how exact the
//!   entry is (`exactness`: `coarse`, `within` the admission bound of entries in someone's name,
//!   or `exact`), the largest of its floors (`floor_ms`, 0: none) and the `time_ms` it signs;
//!   `valid_from`, each a grant signed at `now_ms` with `time_ms` and due to be sent at `due_ms`,
//!   and its `valid_from`; `valid_until`, each an end asked (`end_ms`) and the `valid_until`
//!   signed; `own_grants`, which own grants a delegate's opt-out raises: each an own grant signed
//!   at `now_ms` by a wallet of granularity `g`, its `purposes` (wire names), its feed's previous
//!   entry's `prev_ms`, the latest counting opt-out of sale and sharing a delegate signed in the
//!   person's name for its collector (`opt_out_ms`, null: none), and the `time_ms` it signs. Each
//!   case has an `about`. consent-client's `privacy::coarse` is checked against it.
//!
//! The Rust tests check that the file is what the generator writes and verify every vector
//! through this crate's API; the Python client written from this text checks them with its own
//! code (`tests/interop/vectors.py`). A change to a vector is a change to the protocol.
//!
//! ## Limits
//! See [`limits`]; the same numbers are stated in the `.proto` comments. Of scopes: a policy
//! declares at most 16 zones ([`limits::MAX_ZONES`]) of at most 256 cells each
//! ([`limits::MAX_CELLS_PER_ZONE`]) and 512 in all ([`limits::MAX_CELLS_PER_POLICY`]; the whole
//! entry must stay within 8 KiB, [`limits::MAX_ENTRY_BYTES`]: a policy at every scope limit with
//! short texts is about 6,700 bytes, and with its text fields at their limits too about 9,500,
//! refused `too-large`), zone names of at most 64 bytes, at most 64 sensors, 8 time
//! windows and 16 purposes with forms of at most 4 offers each; a grant names at most 16 zones,
//! 64 sensors, 16 sensor kinds, 8 windows and 16 floors. UTC offsets are −720..=840 minutes in
//! steps of 15; bins 60..=86,400 s dividing 86,400; k 2..=1,000. Of consultations: a window of
//! at most 365 days ([`limits::MAX_CONSULTATION_DAYS`]), and for a widening at least the
//! genesis's `widening_min_days` (1..=365); an objection gives 1..=6 reasons; a response's and
//! an outcome's text 1..=280 bytes ([`limits::MAX_REASON_BYTES`]); an outcome lists at most 6
//! responses ([`limits::MAX_OUTCOME_RESPONSES`]); the genesis's `objection_threshold`
//! 1..=1,000,000; a stance is admitted while the node's clock is before `closes_ms + 600,000`,
//! and a draft only if signed at most 10 minutes before the node's clock (`draft-backdated`);
//! `ListConsultations` pages hold at most 200 (50 by default) and a call scans at most 4,096
//! rows (a page may be short, even empty, and still carry a `next_page_token`: continue until
//! the token is empty); `GetConsultation` returns at most 64 outcomes. Stances, responses and
//! outcomes per draft are not bounded. The transparency site's pages (20 a page, `?page=` at
//! most 50) are the site's, not the protocol's.
//! Of delegation: a delegation gives 1..=3 powers and lists at most 16 collectors
//! ([`limits::MAX_DELEGATION_COLLECTORS`]) and 16 purposes ([`limits::MAX_DELEGATION_PURPOSES`]);
//! a feed has at most two guardian delegations, at seq 1 and 2 ([`limits::MAX_GUARDIANS`]); a
//! GUARDIAN `valid_until` is any non-zero multiple of 86,400,000 and an ASSISTANT's any value (0:
//! none), neither compared with the entry's time; an undelegation's `void_from_ms` is 0 or
//! 1,577,836,800,000..=its own `time_ms`; an entry in someone's name, an undelegation or an
//! endorsement is admitted while signed at most 5 minutes before the node's clock when the node
//! receives it, whether accepted or pending ([`limits::DELEGATED_ENTRY_TOLERANCE_MS`],
//! `delegated-entry-too-old`); `ListDelegations` lists at most 256 delegations
//! ([`limits::MAX_DELEGATIONS_LISTED`]), each with at most 16 undelegations, after reading at
//! most 4,096 rows of each side (consent-node); a `ListDelegated` call streams at most 10,000
//! entries (`limit` 0: 10,000); a delegate's offer code names 1..=16 distinct feeds. Not
//! bounded: delegations per person, delegations naming one delegate, statements per delegation,
//! undelegations per delegation, endorsements of one grant (by one feed too); a check reads at
//! most 1,024 own and 1,024 delegated grants (*Deciding a check*) but every revocation,
//! endorsement and delegated opt-out it needs (*Delegation*, "What a check reads").
//!
//! ### What a node lets a caller without a session spend
//! These protect one node's resources; they decide nothing (no answer depends on them), and a
//! node of another implementation may set its own. A client must expect them: each refusal of a
//! call is `RESOURCE_EXHAUSTED` with trailing metadata `consent-reason` naming the limit (the
//! message starts with the same words); back off and retry, or use another node. A *client
//! address* is the IP address a call comes from, an IPv6 address by its /48 prefix; behind a
//! reverse proxy the node trusts, the address that proxy appends to `x-forwarded-for`.
//!
//! | resource | limit (consent-node's defaults) | over it |
//! |---|---|---|
//! | gRPC connections | 4,096 open on a node, 64 per client address (configurable) | closed at once, before TLS or HTTP/2 start (over TLS the client sees the connection closed during its handshake; in plain text, `UNAVAILABLE`) |
//! | a new connection's TLS handshake (over TLS) and HTTP/2 preface | within 10 s of connecting, both together | the connection is closed |
//! | HTTP/2 streams per connection | 512 (twice the calls in flight; `SETTINGS_MAX_CONCURRENT_STREAMS`) | the client waits for one to close (HTTP/2) |
//! | calls in flight per connection | 256 (configurable) | the next waits its turn |
//! | a unary call's time | 30 s (configurable) | `CANCELLED` |
//! | `Submit` / `SubmitBatch` | an entry at most 8 KiB, a batch 1..=1,000 entries, a message 4 MiB | `too-large` (the entry), INVALID_ARGUMENT (an empty batch), RESOURCE_EXHAUSTED (a larger batch), OUT_OF_RANGE (the message, before it is read) |
//! | pending entries | 10,000 on a node, 1,250 per source (see *Pending entries*) | the source's own or the largest source's entries give way; else `pending-full` |
//! | `Authenticate` | a token bucket per client address: 64 calls, refilled at 8 a second | `too-many-authentications` |
//! | `GetLog` / `GetFeed` / `ListDelegated` streams | 16 open per client address, 256 per node | `too-many-read-streams`, `node-read-streams-full` |
//! | a `GetLog` / `GetFeed` client that does not read | 30 s with the stream's 64-entry buffer full | the stream ends with `client-not-reading` before what it buffered; call again from the entry after the last one received |
//! | entries per `GetLog` / `GetFeed` call | 10,000 ([`limits::MAX_FEED_STREAM`]) | a larger `limit` is refused; resume from the next index or seq |
//! | public reads (`GetEntry`, `GetHead`, `GetEquivocation`, stream pages, proofs, `Status`, `AnswerTimes`, `ListConsultations`, `GetConsultation`, `ListDelegations`) | 16 store reads at once per node | the next waits its turn |
//! | `Watch` (needs a session) | 4 streams per collector, 1,024 per node; a buffer of 256 events; 30 s not reading | `too-many-watch-streams`, `node-watch-streams-full`, `client-not-reading` |
//! | the transparency site (HTTP) | 64 requests at once, a capped number of connections, a header deadline | 503 |
//!
//! Between nodes (the sync protocol, any peer that knows the genesis digest): each peer has a
//! budget of 2,000 request units a second (burst 4,000; a range, an id list or a head page
//! costs 1 or 2, a digest list 4 or 20, a checkpoint 2, a signed checkpoint 10, fork evidence
//! 4, cosignatures 2 a line and at least 4); a request over it is answered `Refused("rate limited; slow down")` and
//! counts against the peer (enough of them, with other offences, ban it for 10 minutes). A node
//! answers at most 32 sync requests at once, all peers together; the rest wait their turn, and a
//! request whose requester gave up (20 s) is dropped unanswered. Pushed entries beyond 20,000 a
//! second per peer (burst 40,000) are ignored, left to anti-entropy, as are entries from other
//! branches of forked feeds beyond 50 a second per peer (burst 500). A node keeps at most 256
//! peer connections, 2 per peer.

pub mod auth;
pub mod body;
pub mod chain;
#[cfg(feature = "grpc")]
pub mod codec;
pub mod consultation;
pub mod decide;
pub mod delegation;
pub mod dev;
pub mod entry;
pub mod envelope;
pub mod evidence;
#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;
pub mod h3;
pub mod ids;
pub mod keys;
pub mod limits;
pub mod memory;
pub mod merkle;
pub mod note;
pub mod pb;
pub mod policy_change;
pub mod reasons;
pub mod receipt;
pub mod scope;
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
    /// Prefix of the context digest of a decision receipt ([`crate::scope::context_digest`]);
    /// v2 since the digest binds the sensor's kind.
    pub const CONTEXT: &[u8] = b"consent-ledger/context/v2";
}
