//! ListTaskQueuePartitions, as Temporal's matching engine answers it for a task queue with
//! one read/write partition.
use crate::prelude::*;

impl Engine {
    /// ListTaskQueuePartitions: the dev server keeps one partition per task queue and type,
    /// the root one (keyed by the queue's name), owned by this server's address — what
    /// Temporal's matching engine answers with one read/write partition.
    pub async fn list_task_queue_partitions(
        &self,
        req: ws::ListTaskQueuePartitionsRequest,
    ) -> RpcResult<ws::ListTaskQueuePartitionsResponse> {
        use temporalio_protos::temporal::api::taskqueue::v1::TaskQueuePartitionMetadata;
        let g = self.lock_all();
        g.namespace(&req.namespace)?;
        let partition = TaskQueuePartitionMetadata {
            key: req.task_queue.map(|t| t.name).unwrap_or_default(),
            owner_host_name: g.s.host_address.lock().clone(),
        };
        Ok(ws::ListTaskQueuePartitionsResponse {
            activity_task_queue_partitions: vec![partition.clone()],
            workflow_task_queue_partitions: vec![partition],
        })
    }
}
