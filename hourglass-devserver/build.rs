//! Generates the tonic *server* traits for the Temporal services from the descriptor set
//! `temporalio-protos` publishes (`DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH`), reusing that
//! crate's message types so the server and the official clients share one set of types.
//!
//! It also compiles the same crate's `.proto` sources once more, keeping their options:
//! the published descriptor set drops the `google.api.http` rules the HTTP API serves.
use prost::Message;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH").map_err(
        |_| "DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH not set: depend on temporalio-protos directly",
    )?;
    println!("cargo:rerun-if-changed={path}");
    println!("cargo:rerun-if-changed=build.rs");
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
    http_api_descriptors()
}

/// Writes `$OUT_DIR/http_api_descriptors.bin`: WorkflowService and OperatorService with
/// every message they use and the error details, options (the HTTP rules) included.
fn http_api_descriptors() -> Result<(), Box<dyn std::error::Error>> {
    let root = protos_root()?;
    let api = root.join("api_upstream");
    let mut compiler = protox::Compiler::new([api.as_path(), root.as_path()])?;
    compiler.include_imports(true);
    compiler.open_files([
        "temporal/api/workflowservice/v1/service.proto",
        "temporal/api/operatorservice/v1/service.proto",
        "temporal/api/errordetails/v1/message.proto",
        "google/rpc/status.proto",
    ])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("http_api_descriptors.bin");
    std::fs::write(&out, compiler.encode_file_descriptor_set())?;
    println!(
        "cargo:rustc-env=HOURGLASS_HTTP_API_DESCRIPTORS={}",
        out.display()
    );
    // The OpenAPI documents of the same API, served at /swagger.json and /openapi.yaml.
    let openapi = api.join("openapi");
    for (file, var) in [
        ("openapiv2.json", "HOURGLASS_OPENAPI_V2"),
        ("openapiv3.yaml", "HOURGLASS_OPENAPI_V3"),
    ] {
        println!("cargo:rustc-env={var}={}", openapi.join(file).display());
    }
    Ok(())
}

/// The `protos` directory of the `temporalio-protos` package this build uses, from
/// `cargo metadata` (the package's manifest path).
fn protos_root() -> Result<PathBuf, Box<dyn std::error::Error>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = std::env::var("CARGO_MANIFEST_DIR")?;
    // Filtered to the platform being built: only its crates have been downloaded, and an
    // offline `cargo metadata` over every platform fails on a fresh machine.
    let target = std::env::var("TARGET")?;
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--offline",
            "--filter-platform",
            &target,
            "--manifest-path",
        ])
        .arg(Path::new(&manifest).join("Cargo.toml"))
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let meta: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let packages = meta["packages"]
        .as_array()
        .ok_or("cargo metadata: no packages")?;
    let protos = packages
        .iter()
        .find(|p| p["name"] == "temporalio-protos")
        .and_then(|p| p["manifest_path"].as_str())
        .ok_or("cargo metadata: no temporalio-protos package")?;
    let dir = Path::new(protos)
        .parent()
        .ok_or("temporalio-protos manifest has no directory")?
        .join("protos");
    println!("cargo:rerun-if-changed={}", dir.display());
    Ok(dir)
}
