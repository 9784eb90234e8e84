//! Exit reasons of children and supervisors.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a child (or a supervisor) stopped. Returned by the child's future.
///
/// Like OTP, `Normal`, `Shutdown` and `ShutdownWith` are *normal* exits (a transient child is
/// not restarted after them); everything else is *abnormal*.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum Exit {
    /// The child finished its work (OTP `normal`).
    Normal,
    /// The child stopped because it was asked to (OTP `shutdown`).
    Shutdown,
    /// Shutdown with a reason (OTP `{shutdown, Reason}`); still a normal exit.
    ShutdownWith(String),
    /// The child failed with an error.
    Error(String),
    /// An application-defined abnormal reason (e.g. "core reloaded").
    Custom(String),
    /// The child panicked; the payload's message.
    Panic(String),
    /// The supervisor killed (aborted) the child: brutal kill, or shutdown timeout expired.
    Killed,
    /// A supervisor exceeded its restart intensity and gave up; escalates to its parent.
    Escalated(String),
}

impl Exit {
    /// True unless the exit is `Normal`, `Shutdown` or `ShutdownWith` (OTP's rule for transient children).
    pub fn is_abnormal(&self) -> bool {
        !matches!(self, Exit::Normal | Exit::Shutdown | Exit::ShutdownWith(_))
    }

    /// An `Error` exit from anything displayable.
    pub fn error(err: impl fmt::Display) -> Self {
        Exit::Error(err.to_string())
    }

    /// A `Custom` (abnormal) exit reason.
    pub fn custom(reason: impl Into<String>) -> Self {
        Exit::Custom(reason.into())
    }

    /// `Normal` for `Ok(())`, `Error` with the error's message otherwise.
    pub fn from_result<E: fmt::Display>(result: Result<(), E>) -> Self {
        match result {
            Ok(()) => Exit::Normal,
            Err(e) => Exit::error(e),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Normal => f.write_str("normal"),
            Exit::Shutdown => f.write_str("shutdown"),
            Exit::ShutdownWith(r) => write!(f, "shutdown: {r}"),
            Exit::Error(e) => write!(f, "error: {e}"),
            Exit::Custom(r) => write!(f, "{r}"),
            Exit::Panic(m) => write!(f, "panic: {m}"),
            Exit::Killed => f.write_str("killed"),
            Exit::Escalated(r) => write!(f, "escalated: {r}"),
        }
    }
}

/// Turns a panic payload into a message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_and_shutdown_are_not_abnormal() {
        assert!(!Exit::Normal.is_abnormal());
        assert!(!Exit::Shutdown.is_abnormal());
        assert!(!Exit::ShutdownWith("drain".into()).is_abnormal());
        assert!(Exit::error("boom").is_abnormal());
        assert!(Exit::custom("core reloaded").is_abnormal());
        assert!(Exit::Panic("p".into()).is_abnormal());
        assert!(Exit::Killed.is_abnormal());
        assert!(Exit::Escalated("x".into()).is_abnormal());
    }

    #[test]
    fn from_result_maps_errors() {
        assert_eq!(Exit::from_result::<String>(Ok(())), Exit::Normal);
        assert_eq!(
            Exit::from_result(Err("bad input")),
            Exit::Error("bad input".into())
        );
        assert_eq!(Exit::custom("core reloaded").to_string(), "core reloaded");
    }
}
