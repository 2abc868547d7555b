//! # consent-client: wallets and collectors for consent-ledger
//!
//! The library behind the `consent` command line, for programs that embed a wallet or a
//! collector.
//!
//! # Layout
//! - [`audit`]: replaying a node's whole log from outside, collecting findings.
//! - [`collector`]: the collector SDK: an authenticated session and checks that fail closed.
//! - [`cache`]: the collector's local decision cache, kept exact by its watch stream.
//! - [`keystore`]: the encrypted keystore file (Argon2id + XChaCha20-Poly1305).
//! - [`wallet`]: key derivation: pairwise citizen feeds, collector and registrar feeds.
//! - [`privacy`]: keeping a person's pairwise feeds unlinkable: coarse signed times, the spread
//!   send schedule, the send queue file.
//! - [`delegate`]: delegate feeds (acting for someone else), the offer code that hands their ids
//!   to the person, and what a delegation lets its delegate sign.
//! - [`node`]: [`node::NodeConnection`], a gRPC connection to a node with actionable errors;
//!   public consultations and which policy version is in effect.
//! - [`transport`]: how every connection to a node is made, in plain HTTP/2 or TLS
//!   ([`transport::TlsOptions`]), and what a failed one says ([`transport::ConnectError`]).
//! - [`quorum`]: quorum reads across nodes of different operators, outvoting a node that
//!   withholds a revocation.
//! - [`policy_file`]: the collector's policy TOML format.
//! - [`transforms`]: the forms data is kept in (pseudonymised, binned, aggregated over at least
//!   k distinct subjects), applied to a collector's observations.
//! - [`time`]: dates on the command line.

pub mod audit;
pub mod cache;
pub mod collector;
pub mod delegate;
pub mod keystore;
pub mod node;
pub mod policy_file;
pub mod privacy;
pub mod quorum;
pub mod time;
pub mod transforms;
pub mod transport;
pub mod wallet;
