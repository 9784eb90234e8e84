//! Shared helpers of the client-command tests: a dev server or `hourglass run` on a free
//! loopback port (killed on drop), and runners for the real `hourglass` binary.

pub use hourglass_tests::child_output::{KillOnDrop, LineReader, free_port};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `hourglass` binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_hourglass");

/// A running dev server (or `hourglass run`), killed when dropped.
pub struct Server {
    _child: KillOnDrop,
    /// `127.0.0.1:<port>`.
    pub address: String,
}

impl Server {
    /// `hourglass server start-dev` on a free port.
    pub fn start_dev() -> Server {
        let port = free_port();
        let mut child = KillOnDrop(
            Command::new(BIN)
                .args(["server", "start-dev", "--port", &port.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn start-dev"),
        );
        let mut stdout = LineReader::new(child.stdout.take().unwrap());
        stdout.wait_for("listening on", Duration::from_secs(60));
        Server {
            _child: child,
            address: format!("127.0.0.1:{port}"),
        }
    }

    /// `hourglass run --ephemeral` (embedded server plus the example workers).
    pub fn run(dir: &Path) -> Server {
        let port = free_port();
        let mut child = KillOnDrop(
            Command::new(BIN)
                .args(["run", "--ephemeral", "--port", &port.to_string()])
                .args(["--admin", &format!("127.0.0.1:{}", free_port())])
                .current_dir(dir)
                .env_remove("TEMPORAL_ADDRESS")
                .env_remove("TEMPORAL_NAMESPACE")
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn hourglass run"),
        );
        let mut stdout = LineReader::new(child.stdout.take().unwrap());
        stdout.wait_for("Stop with Ctrl-C", Duration::from_secs(120));
        Server {
            _child: child,
            address: format!("127.0.0.1:{port}"),
        }
    }

    /// `args` followed by `--address <this server>`.
    pub fn cmd(&self, args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        v.extend(["--address".to_string(), self.address.clone()]);
        v
    }

    pub fn ok(&self, args: &[&str]) -> String {
        ok(&self.cmd(args))
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut a = self.cmd(args);
        a.extend(["-o".to_string(), "json".to_string()]);
        let text = ok(&a);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{a:?}: not JSON ({e}):\n{text}"))
    }

    pub fn fails(&self, args: &[&str]) -> String {
        fails(&self.cmd(args))
    }
}

pub fn hourglass(args: &[String]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("TEMPORAL_ADDRESS")
        .env_remove("TEMPORAL_NAMESPACE")
        .stdin(Stdio::null())
        .output()
        .expect("run hourglass")
}

pub fn ok(args: &[String]) -> String {
    let out = hourglass(args);
    assert!(
        out.status.success(),
        "hourglass {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// Runs a command that must fail; returns its one-line error.
pub fn fails(args: &[String]) -> String {
    let out = hourglass(args);
    assert!(!out.status.success(), "hourglass {args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("hourglass: error: "), "{err}");
    err
}

/// Whether `text` holds a line `  <name>  ...<value>` of a card.
pub fn card_has(text: &str, name: &str, value: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim_start();
        t.starts_with(name) && t[name.len()..].starts_with(' ') && t.trim_end().ends_with(value)
    })
}

pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
