//! Reload detection end to end with the real core library.

use hourglass_bridge::config::{RuntimeConfig, WorkerConfig};
use hourglass_bridge::{BridgeError, Core, mapped_library_count};
use hourglass_proto::abi::{self, HgBuffer};
use hourglass_tests::core_lib;
use std::time::Duration;

fn replayer_config() -> WorkerConfig {
    WorkerConfig {
        namespace: "default".into(),
        task_queue: "reload-tq".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn handles_from_an_older_generation_fail_with_reloaded() {
    let core = Core::load(core_lib::core_library()).unwrap();
    let old_instance = core.instance_id();
    let rt1 = core.runtime(&RuntimeConfig::default()).unwrap();
    let rp1 = rt1.replayer(&replayer_config()).unwrap();
    assert_eq!(rt1.generation(), 1);
    assert!(!rt1.is_stale());

    let generation = core.reload().unwrap();
    assert_eq!(generation, 2);
    assert_eq!(core.generation(), 2);
    assert_ne!(
        core.instance_id(),
        old_instance,
        "reload must load a fresh copy"
    );
    assert!(rt1.is_stale());

    // Every call through generation-1 handles reports the reload.
    let err = rt1.replayer(&replayer_config()).unwrap_err();
    assert!(
        matches!(
            err,
            BridgeError::Reloaded {
                handle_generation: 1,
                current: 2
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("reloaded"), "{err}");
    assert!(rt1.test_panic_async().await.unwrap_err().is_reloaded());
    assert!(
        rp1.poll_workflow_activation()
            .await
            .unwrap_err()
            .is_reloaded()
    );
    assert!(rp1.initiate_shutdown().unwrap_err().is_reloaded());
    assert!(rp1.finish().unwrap_err().is_reloaded());

    // New handles work.
    let rt2 = core.runtime(&RuntimeConfig::default()).unwrap();
    assert_eq!(rt2.generation(), 2);
    let rp2 = rt2.replayer(&replayer_config()).unwrap();
    rp2.finish().unwrap();
    // The replayer with no histories shuts down.
    let err = rp2.poll_workflow_activation().await.unwrap_err();
    assert!(matches!(err, BridgeError::ShutDown), "{err:?}");
}

#[tokio::test]
async fn reload_notifies_subscribers() {
    let core = Core::load(core_lib::core_library()).unwrap();
    let mut rx = core.subscribe();
    assert_eq!(*rx.borrow_and_update(), 1);
    core.reload().unwrap();
    tokio::time::timeout(Duration::from_secs(5), rx.changed())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(*rx.borrow(), 2);
}

#[tokio::test]
async fn fifty_reloads_with_live_handles() {
    let core = Core::load(core_lib::core_library()).unwrap();
    let before = mapped_library_count();
    let mut live = Vec::new();
    for i in 0..50u64 {
        let rt = core.runtime(&RuntimeConfig::default()).unwrap();
        let rp = rt.replayer(&replayer_config()).unwrap();
        live.push((rt, rp));
        assert_eq!(core.reload().unwrap(), i + 2);
        // Every handle so far is stale; calls fail cleanly, never crash.
        for (rt, rp) in &live {
            assert!(rt.replayer(&replayer_config()).unwrap_err().is_reloaded());
            assert!(rp.finish().unwrap_err().is_reloaded());
        }
    }
    assert_eq!(core.generation(), 51);
    // Other tests in this process may load copies concurrently.
    assert!(mapped_library_count() - before >= 50);
    // Dropping stale handles frees them in their own (still mapped) libraries.
    drop(live);
    let rt = core.runtime(&RuntimeConfig::default()).unwrap();
    assert!(
        rt.test_panic_async()
            .await
            .unwrap_err()
            .to_string()
            .contains("deliberate panic")
    );
}

#[test]
fn reload_failure_keeps_the_current_generation() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libhourglass_core.so");
    std::fs::copy(core_lib::core_library(), &path).unwrap();
    let core = Core::load(&path).unwrap();
    let rt = core.runtime(&RuntimeConfig::default()).unwrap();
    std::fs::write(&path, "garbage").unwrap();
    let err = core.reload().unwrap_err();
    assert!(matches!(err, BridgeError::NotALibrary { .. }), "{err:?}");
    assert_eq!(core.generation(), 1);
    assert!(!rt.is_stale());
    std::fs::remove_file(&path).unwrap();
    assert!(matches!(
        core.reload().unwrap_err(),
        BridgeError::LibraryNotFound { .. }
    ));
    assert_eq!(core.generation(), 1);
}

#[test]
fn watcher_reloads_when_the_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libhourglass_core.so");
    std::fs::copy(core_lib::core_library(), &path).unwrap();
    let core = Core::load(&path).unwrap();
    let _watcher = core.watch(Duration::from_millis(200)).unwrap();
    // Replace the file the way a build does: write elsewhere, rename over it.
    let staged = dir.path().join("staged.so");
    std::fs::copy(core_lib::core_library(), &staged).unwrap();
    std::fs::rename(&staged, &path).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while core.generation() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "watcher did not reload"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(core.generation(), 2);
}

#[cfg(feature = "linked")]
#[test]
fn linked_core_cannot_reload_or_watch() {
    let core = Core::linked();
    assert!(matches!(
        core.reload().unwrap_err(),
        BridgeError::ReloadUnsupported
    ));
    assert!(matches!(
        core.watch(Duration::from_millis(10)).unwrap_err(),
        BridgeError::ReloadUnsupported
    ));
}

fn status_and_message(
    t: &hourglass_bridge::FunctionTable,
    f: impl FnOnce(*mut HgBuffer) -> u32,
) -> (u32, String) {
    let mut err = HgBuffer::EMPTY;
    let status = f(&mut err);
    let msg = if err.data.is_null() {
        String::new()
    } else {
        // SAFETY: the core filled the buffer.
        String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(err.data, err.len) })
            .into_owned()
    };
    // SAFETY: the buffer came from this table's library.
    unsafe { (t.buffer_free)(err) };
    (status, msg)
}

#[test]
fn forged_and_cross_instance_handles_are_rejected_at_the_abi() {
    let core = Core::load(core_lib::core_library()).unwrap();
    let rt1 = core.runtime(&RuntimeConfig::default()).unwrap();
    let raw1 = rt1.raw();
    core.reload().unwrap();
    let t2 = core.function_table();
    // A generation-1 handle given to the generation-2 library directly.
    let (status, msg) = status_and_message(&t2, |e| unsafe { (t2.replayer_finish)(raw1, e) });
    assert_eq!(status, abi::STATUS_INVALID_HANDLE);
    assert!(msg.contains("another loaded instance"), "{msg}");
    // Forged values.
    for forged in [0u64, 1, u64::MAX, 0xdead_beef_dead_beef] {
        let (status, _) = status_and_message(&t2, |e| unsafe { (t2.runtime_free)(forged, e) });
        assert_eq!(status, abi::STATUS_INVALID_HANDLE, "{forged:#x}");
    }
    // A freed handle of the current instance.
    let rt2 = core.runtime(&RuntimeConfig::default()).unwrap();
    let raw2 = rt2.raw();
    drop(rt2);
    let (status, msg) = status_and_message(&t2, |e| unsafe { (t2.runtime_free)(raw2, e) });
    assert_eq!(status, abi::STATUS_INVALID_HANDLE);
    assert!(msg.contains("freed"), "{msg}");
    // A runtime handle used as a worker handle.
    let rt3 = core.runtime(&RuntimeConfig::default()).unwrap();
    let (status, msg) = status_and_message(&t2, |e| unsafe {
        (t2.worker_initiate_shutdown)(rt3.raw(), e)
    });
    assert_eq!(status, abi::STATUS_INVALID_HANDLE);
    assert!(msg.contains("not a worker handle"), "{msg}");
}

/// A worker whose core was reloaded refuses ordinary calls, but a retiring clone still
/// reaches the library that issued it, so the old core worker can be shut down, drained and
/// finalized instead of being dropped with its threads running.
#[tokio::test]
async fn a_stale_worker_can_still_be_retired() {
    let core = Core::load(core_lib::core_library()).unwrap();
    let rt1 = core.runtime(&RuntimeConfig::default()).unwrap();
    let rp1 = rt1.replayer(&replayer_config()).unwrap();
    rp1.finish().unwrap();
    core.reload().unwrap();

    let stale = rp1.worker();
    assert!(stale.initiate_shutdown().unwrap_err().is_reloaded());
    let retiring = stale.for_retirement();
    assert!(retiring.is_stale(), "still a generation-1 handle");
    // A replayer has no server: announcing its shutdown is a no-op, not an error.
    retiring.announce_shutdown().await.unwrap();
    retiring.initiate_shutdown().unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), retiring.poll_workflow_activation())
        .await
        .expect("the drained replayer answers its poll")
        .unwrap_err();
    assert!(matches!(err, BridgeError::ShutDown), "{err:?}");
    tokio::time::timeout(Duration::from_secs(10), retiring.finalize_shutdown())
        .await
        .expect("finalize returns")
        .unwrap();
    // Ordinary clones keep refusing, and the finalized worker is gone for the retiring one.
    assert!(stale.finalize_shutdown().await.unwrap_err().is_reloaded());
    let err = retiring.finalize_shutdown().await.unwrap_err();
    assert!(matches!(err, BridgeError::ShutDown), "{err:?}");
}

/// Distinct in-memory library copies mapped into this process, read from `/proc/self/maps`
/// (a memory file shows as `/memfd:hourglass-core (deleted)` with its own inode).
fn memory_copies_mapped() -> std::collections::HashSet<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter(|line| line.contains("/memfd:hourglass-core"))
        .filter_map(|line| line.split_whitespace().nth(4).map(str::to_owned))
        .collect()
}

#[test]
fn reload_copies_live_in_memory_not_in_the_temp_directory() {
    let core = Core::load(core_lib::core_library()).unwrap();
    core.reload().unwrap();
    core.reload().unwrap();
    let inodes = memory_copies_mapped();
    assert!(inodes.len() >= 3, "memory copies mapped: {inodes:?}");
    let prefix = format!("libhourglass_core-{}-", std::process::id());
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .collect();
    assert!(
        left.is_empty(),
        "copies written to the temp directory: {left:?}"
    );
}
