//! Opaque task tokens. Our own encoding (JSON), carrying what the server needs to find the
//! task again: namespace, workflow id, run id, scheduled event id and attempt.
use crate::history::mutable_state::ExecKey;
use serde::{Deserialize, Serialize};

/// A decoded task token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaskToken {
    /// A workflow task.
    Workflow {
        /// The run.
        key: ExecKey,
        /// WorkflowTaskScheduled event id.
        scheduled_event_id: i64,
        /// Attempt.
        attempt: i32,
    },
    /// An activity task attempt.
    Activity {
        /// The run.
        key: ExecKey,
        /// ActivityTaskScheduled event id.
        scheduled_event_id: i64,
        /// Attempt.
        attempt: i32,
    },
    /// A (legacy) query task.
    Query {
        /// Query id.
        query_id: String,
    },
}

impl TaskToken {
    /// Encodes to bytes.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes bytes from a client; `None` when malformed.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_garbage() {
        let t = TaskToken::Activity {
            key: ExecKey {
                namespace: "n".into(),
                workflow_id: "w".into(),
                run_id: "r".into(),
            },
            scheduled_event_id: 5,
            attempt: 2,
        };
        assert_eq!(TaskToken::decode(&t.encode()), Some(t));
        assert_eq!(TaskToken::decode(b"\x00garbage"), None);
    }
}
