//! Generates the protobuf types (always) and the tonic service stubs (feature `grpc`) from
//! `consent/v1/*.proto`, with the protoc binary vendored by `protoc-bin-vendored`, so a fresh
//! machine needs nothing but cargo. Also writes the file descriptor set that gRPC reflection serves.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "consent/v1/vocab.proto",
    "consent/v1/entry.proto",
    "consent/v1/ledger.proto",
    "consent/v1/consent.proto",
    "consent/v1/node.proto",
    "consent/v1/log.proto",
    "consent/v1/receipts.proto",
    "consent/v1/consultation.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let grpc = std::env::var_os("CARGO_FEATURE_GRPC").is_some();

    let mut config = prost_build::Config::new();
    config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    config.file_descriptor_set_path(out_dir.join("consent_descriptor.bin"));
    config.bytes(["."]);

    tonic_prost_build::configure()
        .build_server(grpc)
        .build_client(grpc)
        .codec_path("crate::codec::StrictCodec")
        .compile_with_config(config, PROTOS, &["."])?;
    Ok(())
}
