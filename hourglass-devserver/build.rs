//! Generates the tonic *server* traits for the Temporal services from the descriptor set
//! `temporalio-protos` publishes (`DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH`), reusing that
//! crate's message types so the server and the official clients share one set of types.
use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH").map_err(
        |_| "DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH not set: depend on temporalio-protos directly",
    )?;
    println!("cargo:rerun-if-changed={path}");
    // The HTTP API transcodes JSON through the same descriptors (`google.api.http` rules).
    println!("cargo:rustc-env=HOURGLASS_TEMPORAL_DESCRIPTORS={path}");
    let bytes = std::fs::read(&path).map_err(|e| format!("reading descriptor set {path}: {e}"))?;
    let fds = prost_types::FileDescriptorSet::decode(bytes.as_slice())?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .generate_default_stubs(true)
        .extern_path(".temporal", "::temporalio_protos::temporal")
        .extern_path(".coresdk", "::temporalio_protos::coresdk")
        .extern_path(".grpc", "::temporalio_protos::grpc")
        .extern_path(".google.rpc", "::temporalio_protos::google::rpc")
        .compile_fds(fds)?;
    Ok(())
}
