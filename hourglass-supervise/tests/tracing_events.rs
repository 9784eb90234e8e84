//! `tracing` events: lifecycle events and process output. One global subscriber for this test
//! binary (scoped subscribers race with callsite-interest caching in parallel tests); each
//! test filters the captured lines by its own unique ids.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hourglass_supervise::*;
use parking_lot::Mutex;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn captured() -> String {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    let cap = CAPTURE.get_or_init(|| {
        let cap = Capture::default();
        let writer = cap.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        cap
    });
    String::from_utf8_lossy(&cap.0.lock()).into_owned()
}

#[tokio::test(start_paused = true)]
async fn start_exit_restart_and_escalation_are_traced() {
    captured();
    let starts = Arc::new(AtomicU32::new(0));
    let sup = SupervisorSpec::new("traced-sup")
        .intensity(1, Duration::from_secs(5))
        .child(ChildSpec::new("traced-child", move |_ctx| {
            starts.fetch_add(1, Ordering::SeqCst);
            async {
                tokio::time::sleep(Duration::from_millis(10)).await;
                Exit::error("crash")
            }
        }))
        .start()
        .await
        .unwrap();
    assert!(matches!(sup.wait().await, Exit::Escalated(_)));
    let text = captured();
    let mine: Vec<&str> = text.lines().filter(|l| l.contains("traced-sup")).collect();
    for needle in [
        "child started",
        "child exited abnormally",
        "reason=error: crash",
        "child restarted",
        "restart intensity exceeded",
        "supervisor exited",
    ] {
        assert!(
            mine.iter().any(|l| l.contains(needle)),
            "missing {needle:?} in:\n{}",
            mine.join("\n")
        );
    }
}

#[tokio::test]
async fn process_output_lines_carry_the_child_id() {
    captured();
    let sup = SupervisorSpec::new("top")
        .child(
            ProcessSpec::new("sh")
                .args([
                    "-c",
                    "echo hello-out; echo hello-err >&2; echo READY; exec sleep 100",
                ])
                .readiness(Readiness::StdoutLine("READY".into()))
                .child_spec("talker"),
        )
        .start()
        .await
        .unwrap();
    sup.shutdown().await;
    let text = captured();
    let out = text.lines().find(|l| l.contains("hello-out")).unwrap();
    assert!(
        out.contains("child=talker") && out.contains("stream=\"stdout\""),
        "{out}"
    );
    // stderr is drained concurrently; by shutdown it has been read
    let err = text.lines().find(|l| l.contains("hello-err")).unwrap();
    assert!(
        err.contains("WARN") && err.contains("stream=\"stderr\""),
        "{err}"
    );
}
