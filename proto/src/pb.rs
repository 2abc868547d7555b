//! Generated protobuf types of package `consent.v1` (wire only; see the domain modules for rules).
#![allow(missing_docs, clippy::all, clippy::unwrap_used)]

include!(concat!(env!("OUT_DIR"), "/consent.v1.rs"));

/// The encoded `FileDescriptorSet` of every consent.v1 file, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/consent_descriptor.bin"));
