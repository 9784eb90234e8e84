//! Reloading the core when its library file changes.

use crate::core::{Core, CoreMode};
use crate::error::BridgeError;
use notify::{RecursiveMode, Watcher};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

/// Quiet period after the last change before reloading (a build writes the file in steps).
pub const DEFAULT_SETTLE: Duration = Duration::from_millis(500);

/// Watches the core's library file and calls [`Core::reload`] after each change has settled.
/// Dropping it stops watching.
pub struct CoreWatcher {
    _watcher: notify::RecommendedWatcher,
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Option<mpsc::Sender<()>>,
}

impl std::fmt::Debug for CoreWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreWatcher").finish_non_exhaustive()
    }
}

impl Drop for CoreWatcher {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

enum Msg {
    Changed,
}

impl Core {
    /// Starts watching the library file (its directory, so replacing the file is seen);
    /// every change reloads after `settle` without further changes. A failed reload is logged
    /// and the current generation stays. Linked cores cannot be watched.
    pub fn watch(&self, settle: Duration) -> Result<CoreWatcher, BridgeError> {
        let CoreMode::Dynamic(path) = self.mode() else {
            return Err(BridgeError::ReloadUnsupported);
        };
        let path: PathBuf = path.clone();
        let watch_err = |e: &dyn std::fmt::Display| BridgeError::Watch {
            path: path.clone(),
            message: e.to_string(),
        };
        let dir = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    p.to_owned()
                }
            })
            .ok_or_else(|| watch_err(&"the path has no parent directory"))?;
        let name = path.file_name().map(|n| n.to_owned());
        let (tx, rx) = mpsc::channel::<Msg>();
        let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            if let Ok(ev) = ev {
                let relevant = ev.kind.is_create() || ev.kind.is_modify() || ev.kind.is_remove();
                if relevant && ev.paths.iter().any(|p| p.file_name() == name.as_deref()) {
                    let _ = tx.send(Msg::Changed);
                }
            }
        })
        .map_err(|e| watch_err(&e))?;
        watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .map_err(|e| watch_err(&e))?;
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let core = self.clone();
        let thread = std::thread::Builder::new()
            .name("hourglass-core-watch".into())
            .spawn(move || {
                loop {
                    // Wait for a change (or stop).
                    loop {
                        if !matches!(stop_rx.try_recv(), Err(mpsc::TryRecvError::Empty)) {
                            return;
                        }
                        match rx.recv_timeout(Duration::from_millis(100)) {
                            Ok(Msg::Changed) => break,
                            Err(mpsc::RecvTimeoutError::Timeout) => continue,
                            Err(mpsc::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    // Settle: wait until no change for `settle`.
                    loop {
                        match rx.recv_timeout(settle) {
                            Ok(Msg::Changed) => continue,
                            Err(mpsc::RecvTimeoutError::Timeout) => break,
                            Err(mpsc::RecvTimeoutError::Disconnected) => return,
                        }
                    }
                    if !matches!(stop_rx.try_recv(), Err(mpsc::TryRecvError::Empty)) {
                        return;
                    }
                    tracing::info!("hourglass core library changed; reloading");
                    // Errors are logged by `reload`.
                    let _ = core.reload();
                }
            })
            .map_err(|e| watch_err(&e))?;
        Ok(CoreWatcher {
            _watcher: watcher,
            thread: Some(thread),
            stop: Some(stop_tx),
        })
    }
}
