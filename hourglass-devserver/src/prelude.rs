//! What the service modules share: the Temporal API types they speak and the engine's own
//! types, imported once (`use crate::prelude::*`).
#![allow(unused_imports)]
pub(crate) use crate::batcher::{BatchJobKey, BatchJobRec, BatcherSettings};
pub(crate) use crate::engine::{DEFAULT_WFT_TIMEOUT_MS, Engine, Inner, OPEN, RpcResult};
pub(crate) use crate::history::activity::{
    ActivityResult, act_timer, activity_started, timeout_name,
};
pub(crate) use crate::history::close::Close;
pub(crate) use crate::history::commands::{CmdCtx, CmdEffect, Deferred};
pub(crate) use crate::history::describe::started_attrs;
pub(crate) use crate::history::events::{dur, dur_ms, event, task_queue, ts, ts_ms};
pub(crate) use crate::history::mutable_state::{
    Activity, ActivityPause, BufferedEvent, Child, ExecKey, Execution, Parent, Timer, Update,
    WorkflowTask,
};
pub(crate) use crate::history::query::PendingQuery;
pub(crate) use crate::history::retry::retry_decision;
pub(crate) use crate::history::start::{NewRun, StartArgs};
pub(crate) use crate::history::{Exec, exec_of, new_id, set_started_id};
pub(crate) use crate::matching::poller_scaling::PollerScaling;
pub(crate) use crate::matching::worker_shutdown::ShutDownWorkers;
pub(crate) use crate::matching::{
    MAX_POLL, Queue, QueueKey, Task, poll_deadline, polled_queue_name,
};
pub(crate) use crate::namespaces::{NamespaceRec, ns_response};
pub(crate) use crate::persistence::store::{Batch, Database, Store};
pub(crate) use crate::persistence::writer::{Durable, writer_loop};
pub(crate) use crate::schedules::{BufferedStart, ScheduleKey, ScheduleRec};
pub(crate) use crate::status;
pub(crate) use crate::timers::time_source::TimeSource;
pub(crate) use crate::timers::{ActTimer, TimerTask};
pub(crate) use crate::token::TaskToken;
pub(crate) use crate::visibility::{exec_info, page_offset, status_name};
pub(crate) use parking_lot::Mutex;
pub(crate) use prost::Message;
pub(crate) use serde::{Deserialize, Serialize};
pub(crate) use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
pub(crate) use std::sync::Arc;
pub(crate) use temporalio_protos::temporal::api::{
    command::v1::{self as cmd, Command, command::Attributes as C},
    common::v1::{
        ActivityType, Header, Memo, Payloads, Priority, RetryPolicy, SearchAttributes,
        WorkflowExecution, WorkflowType,
    },
    enums::v1::{
        ContinueAsNewInitiator, EventType, HistoryEventFilterType, ParentClosePolicy,
        PendingActivityState, QueryResultType, RetryState,
        SignalExternalWorkflowExecutionFailedCause, StartChildWorkflowExecutionFailedCause,
        TaskQueueKind, TimeoutType, UpdateWorkflowExecutionLifecycleStage, WorkflowExecutionStatus,
        WorkflowIdConflictPolicy, WorkflowIdReusePolicy, WorkflowTaskFailedCause,
    },
    failure::v1::{ApplicationFailureInfo, Failure, TimeoutFailureInfo, failure::FailureInfo},
    history::v1::{self as h, History, HistoryEvent, history_event::Attributes as A},
    protocol::v1::{Message as ProtocolMessage, message::SequencingId},
    query::v1::{WorkflowQuery, WorkflowQueryResult},
    sdk::v1::UserMetadata,
    update::v1::{self as upd, Outcome, outcome},
    workflow::v1::{
        PendingActivityInfo, PendingChildExecutionInfo, PendingWorkflowTaskInfo, ResetPoints,
        WorkflowExecutionConfig, WorkflowExecutionInfo,
    },
    workflowservice::v1 as ws,
};
pub(crate) use tokio::sync::{Notify, oneshot, watch};
pub(crate) use tokio::time::Instant;
pub(crate) use tonic::Status;
