//! Multi-node and end-to-end scenarios: real nodes on 127.0.0.1 with ephemeral ports and
//! temporary directories, driven through gRPC, libp2p, HTTP, a headless browser and a Python
//! client (`tests/interop/`). One test binary: each scenario file used to be its own binary and
//! link the whole node. The harness they share is the `consent-tests` library (`tests/src/`).
//!
//! Run one scenario: `cargo nextest run -p consent-tests -E 'test(/^replication::/)'`.

mod byzantine;
mod cache;
mod clock;
mod consultation;
mod decisions;
mod delegation;
mod delegation_age;
mod flood;
mod forks;
mod interop;
mod limits;
mod log;
mod metrics;
mod reads;
mod receipt_groups;
mod replication;
mod scope;
mod scope_cache;
mod sessions;
mod single_node;
mod tls;
mod tls_sessions;
mod transparency;
mod versions;
mod watch;
mod witness;
