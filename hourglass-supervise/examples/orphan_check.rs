//! Helper for the "no orphan after SIGKILL" test (also a small demo of a process child).
//!
//! Supervises `sleep 1000`, prints `PID <pid of sleep>` once it runs, then waits forever.
//! The test SIGKILLs this program and checks in `/proc` that the `sleep` is gone.

use std::io::Write;
use std::time::Duration;

use hourglass_supervise::{ProcessInfo, ProcessSpec, Registry, SupervisorSpec};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::new();
    let sup = SupervisorSpec::new("orphan-check")
        .registry(registry.clone())
        .child(
            ProcessSpec::new("sleep")
                .arg("1000")
                .register_as("sleeper")
                .child_spec("sleeper"),
        )
        .start()
        .await?;
    let info: ProcessInfo = registry.via("sleeper")?;
    println!("PID {}", info.pid);
    std::io::stdout().flush()?;
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        if !sup.is_running() {
            return Ok(());
        }
    }
}
