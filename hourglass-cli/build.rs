//! Points the crate at the Temporal API descriptor set that `temporalio-protos` writes at
//! build time (its `links` metadata), so `--output json` can print proto-JSON.

fn main() {
    match std::env::var("DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH") {
        Ok(path) => println!("cargo:rustc-env=HOURGLASS_TEMPORAL_DESCRIPTORS={path}"),
        Err(_) => panic!("temporalio-protos did not report its descriptor_path"),
    }
    println!("cargo:rerun-if-env-changed=DEP_TEMPORALIO_PROTOS_DESCRIPTOR_PATH");
}
