//! Core log records reach the host's `tracing` subscriber (target `hourglass_core`).

use hourglass_bridge::Core;
use hourglass_bridge::config::{LogForwarding, RuntimeConfig, WorkerConfig};
use hourglass_tests::core_lib;
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::{Context, SubscriberExt};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "hourglass_core" {
            return;
        }
        struct V(String);
        impl tracing::field::Visit for V {
            fn record_debug(&mut self, f: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={:?} ", f.name(), v));
            }
        }
        let mut v = V(String::new());
        event.record(&mut v);
        self.0.lock().unwrap().push(v.0);
    }
}

fn forwarding_config() -> RuntimeConfig {
    RuntimeConfig {
        log_forwarding: Some(LogForwarding {
            enabled: true,
            filter: "info".into(),
        }),
        ..Default::default()
    }
}

fn check(core: &Core, mode: &str) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    tracing::subscriber::with_default(subscriber, || {
        let rt = core.runtime(&forwarding_config()).unwrap();
        let _rp = rt
            .replayer(&WorkerConfig {
                namespace: "default".into(),
                task_queue: format!("log-tq-{mode}"),
                ..Default::default()
            })
            .unwrap();
    });
    // Records are emitted by the bridge's forwarding thread; wait for them.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let seen = capture.0.lock().unwrap().clone();
        if seen.iter().any(|l| {
            l.contains("Registering replay worker") && l.contains(&format!("log-tq-{mode}"))
        }) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{mode}: core log not forwarded; saw {seen:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn core_logs_are_forwarded_in_dynamic_mode() {
    check(&Core::load(core_lib::core_library()).unwrap(), "dynamic");
}

#[cfg(feature = "linked")]
#[test]
fn core_logs_are_forwarded_in_linked_mode() {
    check(&Core::linked(), "linked");
}
