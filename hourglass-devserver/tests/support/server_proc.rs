//! A real `hourglass-devserver` process on a SQLite file, for the durability tests:
//! started on a port (0 = any free one), SIGKILLed on demand, killed on drop.
#![allow(dead_code)]
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A server process; killed with SIGKILL on drop if still running.
pub struct ServerProc {
    child: Child,
    /// The port it listens on.
    pub port: u16,
}

impl ServerProc {
    /// Starts the server on `db`, waiting for its `listening on` line.
    pub fn start(db: &std::path::Path, port: u16) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hourglass-devserver"))
            .args(["--port", &port.to_string(), "--db-filename"])
            .arg(db)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr: std::net::SocketAddr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap()
            .parse()
            .unwrap();
        Self {
            child,
            port: addr.port(),
        }
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn sigkill(mut self) {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL).unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for ServerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
