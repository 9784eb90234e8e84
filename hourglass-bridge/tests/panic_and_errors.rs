//! Panic containment and argument errors across the ABI, in dynamic and linked mode.

use hourglass_bridge::config::{ClientConfig, RuntimeConfig, WorkerConfig};
use hourglass_bridge::{BridgeError, Core};
use hourglass_tests::core_lib;
use std::time::{Duration, Instant};

fn cores() -> Vec<(&'static str, Core)> {
    let mut v = vec![("dynamic", Core::load(core_lib::core_library()).unwrap())];
    #[cfg(feature = "linked")]
    v.push(("linked", Core::linked()));
    v
}

#[tokio::test]
async fn panics_in_the_core_become_errors() {
    for (mode, core) in cores() {
        let err = core.test_panic().unwrap_err();
        assert!(matches!(err, BridgeError::Panic(_)), "{mode}: {err:?}");
        assert!(
            err.to_string().contains("deliberate panic"),
            "{mode}: {err}"
        );

        let rt = core.runtime(&RuntimeConfig::default()).unwrap();
        let err = tokio::time::timeout(Duration::from_secs(10), rt.test_panic_async())
            .await
            .expect("a panicking future must still call back")
            .unwrap_err();
        assert!(matches!(err, BridgeError::Panic(_)), "{mode}: {err:?}");
        // The runtime survives the panic.
        for _ in 0..3 {
            assert!(matches!(
                rt.test_panic_async().await.unwrap_err(),
                BridgeError::Panic(_)
            ));
        }
    }
}

#[tokio::test]
async fn connecting_to_a_closed_port_fails_fast() {
    // Bind then drop: the port is closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (mode, core) in cores() {
        let rt = core.runtime(&RuntimeConfig::default()).unwrap();
        let started = Instant::now();
        let err = rt
            .connect(&ClientConfig {
                target_url: format!("http://127.0.0.1:{port}"),
                identity: "test@host".into(),
                namespace: "default".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert!(matches!(err, BridgeError::Connect(_)), "{mode}: {err:?}");
        assert!(err.to_string().contains(&port.to_string()), "{mode}: {err}");
        assert!(took < Duration::from_secs(5), "{mode}: took {took:?}");
    }
}

#[tokio::test]
async fn bad_client_configs_are_invalid_arguments() {
    for (mode, core) in cores() {
        let rt = core.runtime(&RuntimeConfig::default()).unwrap();
        let err = rt
            .connect(&ClientConfig {
                target_url: "http://127.0.0.1:7233".into(),
                identity: String::new(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, BridgeError::InvalidArgument(_)),
            "{mode}: {err:?}"
        );
        assert!(err.to_string().contains("identity"), "{mode}: {err}");
        let err = rt
            .connect(&ClientConfig {
                target_url: "::not a url".into(),
                identity: "me".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert!(
            matches!(err, BridgeError::InvalidArgument(_)),
            "{mode}: {err:?}"
        );
    }
}

#[tokio::test]
async fn bad_worker_configs_and_malformed_bytes_are_rejected() {
    for (mode, core) in cores() {
        let rt = core.runtime(&RuntimeConfig::default()).unwrap();
        let err = rt
            .replayer(&WorkerConfig {
                namespace: "default".into(),
                task_queue: String::new(),
                ..Default::default()
            })
            .unwrap_err();
        assert!(
            matches!(err, BridgeError::InvalidArgument(_)),
            "{mode}: {err:?}"
        );
        assert!(err.to_string().contains("task_queue"), "{mode}: {err}");

        let rp = rt
            .replayer(&WorkerConfig {
                namespace: "default".into(),
                task_queue: "tq".into(),
                ..Default::default()
            })
            .unwrap();
        let err = rp.push_encoded(&[0xff, 0xff, 0xff]).unwrap_err();
        assert!(matches!(err, BridgeError::Malformed(_)), "{mode}: {err:?}");
        assert!(err.to_string().contains("ReplayHistory"), "{mode}: {err}");
        let err = rp.request_workflow_eviction("").unwrap_err();
        assert!(
            matches!(err, BridgeError::InvalidArgument(_)),
            "{mode}: {err:?}"
        );
        let err = rp
            .complete_workflow_activation(&Default::default())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("run_id"), "{mode}: {err}");
        let err = rp
            .record_activity_heartbeat(&Default::default())
            .unwrap_err();
        assert!(err.to_string().contains("task_token"), "{mode}: {err}");
        rp.finish().unwrap();
        assert!(matches!(
            rp.finish().unwrap_err(),
            BridgeError::InvalidArgument(_)
        ));
    }
}

#[tokio::test]
async fn bad_runtime_configs_are_rejected() {
    for (mode, core) in cores() {
        let err = core
            .runtime(&RuntimeConfig {
                worker_heartbeat_interval_millis: 70_000,
                ..Default::default()
            })
            .unwrap_err();
        assert!(
            matches!(err, BridgeError::InvalidArgument(_)),
            "{mode}: {err:?}"
        );
    }
}
