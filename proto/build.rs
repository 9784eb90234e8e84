//! Compiles the `.proto` files of this crate with `protox` (pure Rust; no system `protoc`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["hourglass/bridge/v1/bridge.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["."])?;
    prost_build::Config::new().compile_fds(fds)?;

    // The external-worker protocol: messages plus tonic client and server.
    let external = ["hourglass/external/v1/external_worker.proto"];
    for f in external {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(external, ["."])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}
