//! Every loader error is distinct and clear: missing file, not a library, wrong ABI version,
//! missing symbol. Fixtures are real shared libraries compiled from C with the system `cc`.

use hourglass_bridge::{BridgeError, Core};
use hourglass_proto::abi::{ABI_VERSION, SYMBOLS};
use hourglass_tests::core_lib;

#[test]
fn missing_file_is_library_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libnope.so");
    let err = Core::load(&path).unwrap_err();
    assert!(
        matches!(err, BridgeError::LibraryNotFound { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("not found"), "{err}");
    assert!(err.to_string().contains("libnope.so"), "{err}");
}

#[test]
fn text_file_is_not_a_library() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libtext.so");
    std::fs::write(&path, "this is just text, not an ELF file\n").unwrap();
    let err = Core::load(&path).unwrap_err();
    assert!(matches!(err, BridgeError::NotALibrary { .. }), "{err:?}");
    assert!(err.to_string().contains("not a loadable library"), "{err}");
}

#[test]
fn wrong_abi_version_is_abi_mismatch() {
    let wrong = ABI_VERSION + 41;
    let lib = core_lib::compile_c_fixture(
        "hourglass_wrong_abi",
        &format!(
            "unsigned int hourglass_core_abi_version(void) {{ return {wrong}u; }}\n\
             unsigned long long hourglass_core_instance_id(void) {{ return 7ull; }}\n"
        ),
    )
    .unwrap();
    let err = Core::load(&lib).unwrap_err();
    match &err {
        BridgeError::AbiMismatch {
            expected, found, ..
        } => {
            assert_eq!(*expected, ABI_VERSION);
            assert_eq!(*found, wrong);
        }
        other => panic!("expected AbiMismatch, got {other:?}"),
    }
    assert!(err.to_string().contains("ABI version"), "{err}");
}

#[test]
fn library_without_the_abi_symbol_is_missing_symbol() {
    let lib = core_lib::compile_c_fixture(
        "hourglass_not_core",
        "int some_other_library(void) { return 1; }\n",
    )
    .unwrap();
    let err = Core::load(&lib).unwrap_err();
    match err {
        BridgeError::MissingSymbol { symbol, .. } => {
            assert_eq!(symbol, "hourglass_core_abi_version")
        }
        other => panic!("expected MissingSymbol, got {other:?}"),
    }
}

#[test]
fn library_lacking_one_symbol_names_it() {
    let omitted = "hourglass_core_worker_poll_activity_task";
    assert!(SYMBOLS.contains(&omitted));
    let mut src =
        format!("unsigned int hourglass_core_abi_version(void) {{ return {ABI_VERSION}u; }}\n");
    for s in SYMBOLS {
        if *s != omitted && *s != "hourglass_core_abi_version" {
            src.push_str(&format!("int {s}(void) {{ return 0; }}\n"));
        }
    }
    let lib = core_lib::compile_c_fixture("hourglass_missing_symbol", &src).unwrap();
    let err = Core::load(&lib).unwrap_err();
    match &err {
        BridgeError::MissingSymbol { symbol, .. } => assert_eq!(*symbol, omitted),
        other => panic!("expected MissingSymbol, got {other:?}"),
    }
    assert!(err.to_string().contains(omitted), "{err}");
}

#[test]
fn the_real_library_loads() {
    let core = Core::load(core_lib::core_library()).unwrap();
    assert_eq!(core.generation(), 1);
    assert_ne!(core.instance_id(), 0);
}
