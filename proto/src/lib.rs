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
//! The protocol specification follows (its text: `proto/spec/*.md`, one file per part, in order).
#![doc = include_str!("../spec/1-hashes-entries-encoding.md")]
#![doc = include_str!("../spec/2-acceptance.md")]
#![doc = include_str!("../spec/3-deciding-and-scope.md")]
#![doc = include_str!("../spec/4-consultations.md")]
#![doc = include_str!("../spec/5-delegation.md")]
#![doc = include_str!("../spec/6-receipts-reasons-versions.md")]
#![doc = include_str!("../spec/7-log-and-sessions.md")]
#![doc = include_str!("../spec/8-vectors-and-limits.md")]

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
    /// Prefix of the bytes a node's signature over a group of receipts covers
    /// ([`crate::receipt::group`]).
    pub const RECEIPT_GROUP_SIGNATURE: &[u8] = b"consent-ledger/receipt-group/v1";
    /// Prefix of a collector's authentication statement.
    pub const AUTH: &[u8] = b"consent-ledger/auth/v1";
    /// Prefix of the context digest of a decision receipt ([`crate::scope::context_digest`]);
    /// v2 since the digest binds the sensor's kind.
    pub const CONTEXT: &[u8] = b"consent-ledger/context/v2";
}
