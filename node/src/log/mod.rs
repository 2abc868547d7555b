//! The node's verifiable log, seen from outside the ledger: this node's signed checkpoints and
//! the cosignatures witnesses add to them ([`checkpoints`]), and what this node witnesses of
//! other nodes' logs — the latest checkpoint it cosigned for each, and evidence of forks
//! ([`witness`]).
//!
//! The Merkle tree over the arrival log is not here: it stays in the ledger
//! ([`crate::ledger::tree`]), because the writer grows it under the same lock that makes a
//! group commit visible to checks, so a view sees the tree and the store agree. This module
//! reads the tree, signs and verifies notes, and keeps its state in memory; what it keeps
//! durably it hands to the ledger's single writer (typed [`crate::ledger::Ledger`] methods such
//! as `save_checkpoint`), which flushes it before answering. It never names the store, and no
//! lock that a check reads is held while the writer flushes.

pub mod checkpoints;
pub mod witness;

pub use self::checkpoints::Checkpoints;
pub use self::witness::Witness;
