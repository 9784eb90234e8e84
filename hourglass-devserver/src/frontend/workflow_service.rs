//! The `WorkflowService` gRPC implementation: decodes requests, calls the [`Engine`],
//! and answers RPCs the dev server does not implement with `Unimplemented`.
use crate::engine::Engine;
use crate::frontend::batch_service;
use crate::frontend::blob_size::{self, BlobSite};
use crate::frontend::grpc_timeout::timeout;
use crate::frontend::multi_operation;
use crate::frontend::validation;
use crate::generated::workflow_service_server::WorkflowService;
use crate::history::activity::ActivityResult;
use crate::status::{self, VersioningApis};
use crate::token::TaskToken;
use std::sync::Arc;
use temporalio_protos::temporal::api::workflowservice::v1::{
    self as ws, get_system_info_response::Capabilities,
};
use tonic::{Request, Response, Status};

/// The gRPC service over an engine.
#[derive(Clone)]
pub struct Service {
    engine: Arc<Engine>,
}

impl Service {
    /// Wraps an engine.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }
}

type R<T> = Result<Response<T>, Status>;

/// The workflow id an activity task token names, for log lines ("" when malformed: the
/// engine refuses such a token itself).
fn token_workflow_id(token: &[u8]) -> String {
    match TaskToken::decode(token) {
        Some(TaskToken::Activity { key, .. }) => key.workflow_id,
        _ => String::new(),
    }
}

fn site<'a>(operation: &'a str, namespace: &'a str, workflow_id: &'a str) -> BlobSite<'a> {
    BlobSite {
        operation,
        namespace,
        workflow_id,
    }
}

#[tonic::async_trait]
impl WorkflowService for Service {
    async fn get_system_info(
        &self,
        _r: Request<ws::GetSystemInfoRequest>,
    ) -> R<ws::GetSystemInfoResponse> {
        Ok(Response::new(ws::GetSystemInfoResponse {
            server_version: "1.29.0".into(),
            capabilities: Some(Capabilities {
                signal_and_query_header: true,
                internal_error_differentiation: true,
                activity_failure_include_heartbeat: true,
                supports_schedules: true,
                encoded_failure_attributes: true,
                // As Temporal's frontend: workers then stamp their build id on each
                // completed task, which replays read as the task's build id.
                build_id_based_versioning: true,
                upsert_memo: true,
                eager_workflow_start: true,
                sdk_metadata: true,
                count_group_by_execution_status: true,
                nexus: false,
                ..Default::default()
            }),
        }))
    }

    async fn get_cluster_info(
        &self,
        _r: Request<ws::GetClusterInfoRequest>,
    ) -> R<ws::GetClusterInfoResponse> {
        Ok(Response::new(ws::GetClusterInfoResponse {
            server_version: "1.29.0".into(),
            cluster_id: "hourglass-devserver".into(),
            cluster_name: "active".into(),
            history_shard_count: 1,
            persistence_store: "sqlite".into(),
            visibility_store: "sqlite".into(),
            ..Default::default()
        }))
    }

    async fn describe_namespace(
        &self,
        r: Request<ws::DescribeNamespaceRequest>,
    ) -> R<ws::DescribeNamespaceResponse> {
        self.engine
            .describe_namespace(r.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_namespaces(
        &self,
        _r: Request<ws::ListNamespacesRequest>,
    ) -> R<ws::ListNamespacesResponse> {
        self.engine.list_namespaces().await.map(Response::new)
    }

    async fn register_namespace(
        &self,
        r: Request<ws::RegisterNamespaceRequest>,
    ) -> R<ws::RegisterNamespaceResponse> {
        self.engine
            .register_namespace(r.into_inner())
            .await
            .map(|_| Response::new(ws::RegisterNamespaceResponse {}))
    }

    async fn update_namespace(
        &self,
        r: Request<ws::UpdateNamespaceRequest>,
    ) -> R<ws::UpdateNamespaceResponse> {
        self.engine
            .update_namespace(r.into_inner())
            .await
            .map(Response::new)
    }

    async fn start_workflow_execution(
        &self,
        r: Request<ws::StartWorkflowExecutionRequest>,
    ) -> R<ws::StartWorkflowExecutionResponse> {
        let mut r = r.into_inner();
        validation::start_workflow(&mut r)?;
        self.engine.start_workflow(r).await.map(Response::new)
    }

    async fn signal_workflow_execution(
        &self,
        r: Request<ws::SignalWorkflowExecutionRequest>,
    ) -> R<ws::SignalWorkflowExecutionResponse> {
        let r = r.into_inner();
        validation::signal(&r)?;
        self.engine
            .signal_workflow(r)
            .await
            .map(|_| Response::new(ws::SignalWorkflowExecutionResponse::default()))
    }

    async fn signal_with_start_workflow_execution(
        &self,
        r: Request<ws::SignalWithStartWorkflowExecutionRequest>,
    ) -> R<ws::SignalWithStartWorkflowExecutionResponse> {
        let mut r = r.into_inner();
        validation::signal_with_start(&mut r)?;
        self.engine.signal_with_start(r).await.map(Response::new)
    }

    async fn request_cancel_workflow_execution(
        &self,
        r: Request<ws::RequestCancelWorkflowExecutionRequest>,
    ) -> R<ws::RequestCancelWorkflowExecutionResponse> {
        self.engine
            .request_cancel(r.into_inner())
            .await
            .map(|_| Response::new(ws::RequestCancelWorkflowExecutionResponse {}))
    }

    async fn terminate_workflow_execution(
        &self,
        r: Request<ws::TerminateWorkflowExecutionRequest>,
    ) -> R<ws::TerminateWorkflowExecutionResponse> {
        self.engine
            .terminate(r.into_inner())
            .await
            .map(|_| Response::new(ws::TerminateWorkflowExecutionResponse {}))
    }

    async fn get_worker_task_reachability(
        &self,
        _r: Request<ws::GetWorkerTaskReachabilityRequest>,
    ) -> R<ws::GetWorkerTaskReachabilityResponse> {
        Err(status::versioning_disabled(VersioningApis::Rules))
    }

    async fn get_worker_versioning_rules(
        &self,
        _r: Request<ws::GetWorkerVersioningRulesRequest>,
    ) -> R<ws::GetWorkerVersioningRulesResponse> {
        Err(status::versioning_disabled(VersioningApis::Rules))
    }

    async fn update_worker_versioning_rules(
        &self,
        _r: Request<ws::UpdateWorkerVersioningRulesRequest>,
    ) -> R<ws::UpdateWorkerVersioningRulesResponse> {
        Err(status::versioning_disabled(VersioningApis::Rules))
    }

    async fn get_worker_build_id_compatibility(
        &self,
        _r: Request<ws::GetWorkerBuildIdCompatibilityRequest>,
    ) -> R<ws::GetWorkerBuildIdCompatibilityResponse> {
        Err(status::versioning_disabled(VersioningApis::VersionSets))
    }

    async fn update_worker_build_id_compatibility(
        &self,
        _r: Request<ws::UpdateWorkerBuildIdCompatibilityRequest>,
    ) -> R<ws::UpdateWorkerBuildIdCompatibilityResponse> {
        Err(status::versioning_disabled(VersioningApis::VersionSets))
    }

    async fn reset_workflow_execution(
        &self,
        r: Request<ws::ResetWorkflowExecutionRequest>,
    ) -> R<ws::ResetWorkflowExecutionResponse> {
        let r = r.into_inner();
        validation::reset(&r)?;
        Ok(Response::new(self.engine.reset_workflow(r).await?))
    }

    async fn delete_workflow_execution(
        &self,
        r: Request<ws::DeleteWorkflowExecutionRequest>,
    ) -> R<ws::DeleteWorkflowExecutionResponse> {
        let r = r.into_inner();
        validation::execution(r.workflow_execution.as_ref())?;
        self.engine
            .delete_workflow(r)
            .await
            .map(|_| Response::new(ws::DeleteWorkflowExecutionResponse {}))
    }

    async fn get_search_attributes(
        &self,
        _r: Request<ws::GetSearchAttributesRequest>,
    ) -> R<ws::GetSearchAttributesResponse> {
        self.engine.get_search_attributes().await.map(Response::new)
    }

    async fn list_task_queue_partitions(
        &self,
        r: Request<ws::ListTaskQueuePartitionsRequest>,
    ) -> R<ws::ListTaskQueuePartitionsResponse> {
        let mut r = r.into_inner();
        validation::task_queue(&mut r.task_queue)?;
        self.engine
            .list_task_queue_partitions(r)
            .await
            .map(Response::new)
    }

    async fn describe_task_queue(
        &self,
        r: Request<ws::DescribeTaskQueueRequest>,
    ) -> R<ws::DescribeTaskQueueResponse> {
        let mut r = r.into_inner();
        validation::describe_task_queue(&mut r)?;
        self.engine.describe_task_queue(r).await.map(Response::new)
    }

    async fn describe_workflow_execution(
        &self,
        r: Request<ws::DescribeWorkflowExecutionRequest>,
    ) -> R<ws::DescribeWorkflowExecutionResponse> {
        self.engine
            .describe(r.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_workflow_executions(
        &self,
        r: Request<ws::ListWorkflowExecutionsRequest>,
    ) -> R<ws::ListWorkflowExecutionsResponse> {
        self.engine.list(r.into_inner()).await.map(Response::new)
    }

    async fn count_workflow_executions(
        &self,
        r: Request<ws::CountWorkflowExecutionsRequest>,
    ) -> R<ws::CountWorkflowExecutionsResponse> {
        self.engine.count(r.into_inner()).await.map(Response::new)
    }

    async fn get_workflow_execution_history(
        &self,
        r: Request<ws::GetWorkflowExecutionHistoryRequest>,
    ) -> R<ws::GetWorkflowExecutionHistoryResponse> {
        let t = timeout(&r);
        self.engine
            .history(r.into_inner(), t)
            .await
            .map(Response::new)
    }

    async fn get_workflow_execution_history_reverse(
        &self,
        r: Request<ws::GetWorkflowExecutionHistoryReverseRequest>,
    ) -> R<ws::GetWorkflowExecutionHistoryReverseResponse> {
        self.engine
            .history_reverse(r.into_inner())
            .await
            .map(Response::new)
    }

    async fn poll_workflow_task_queue(
        &self,
        r: Request<ws::PollWorkflowTaskQueueRequest>,
    ) -> R<ws::PollWorkflowTaskQueueResponse> {
        let t = timeout(&r);
        self.engine
            .poll_workflow_task(r.into_inner(), t)
            .await
            .map(Response::new)
    }

    async fn respond_workflow_task_completed(
        &self,
        r: Request<ws::RespondWorkflowTaskCompletedRequest>,
    ) -> R<ws::RespondWorkflowTaskCompletedResponse> {
        self.engine
            .complete_workflow_task(r.into_inner())
            .await
            .map(Response::new)
    }

    async fn respond_workflow_task_failed(
        &self,
        r: Request<ws::RespondWorkflowTaskFailedRequest>,
    ) -> R<ws::RespondWorkflowTaskFailedResponse> {
        self.engine
            .fail_workflow_task(r.into_inner())
            .await
            .map(|_| Response::new(ws::RespondWorkflowTaskFailedResponse {}))
    }

    async fn respond_query_task_completed(
        &self,
        r: Request<ws::RespondQueryTaskCompletedRequest>,
    ) -> R<ws::RespondQueryTaskCompletedResponse> {
        self.engine
            .respond_query(r.into_inner())
            .await
            .map(|_| Response::new(ws::RespondQueryTaskCompletedResponse {}))
    }

    async fn query_workflow(
        &self,
        r: Request<ws::QueryWorkflowRequest>,
    ) -> R<ws::QueryWorkflowResponse> {
        let t = timeout(&r);
        let r = r.into_inner();
        validation::query(&r)?;
        self.engine.query(r, t).await.map(Response::new)
    }

    async fn update_workflow_execution(
        &self,
        r: Request<ws::UpdateWorkflowExecutionRequest>,
    ) -> R<ws::UpdateWorkflowExecutionResponse> {
        let t = timeout(&r);
        let mut r = r.into_inner();
        validation::update(&mut r)?;
        self.engine.update(r, t).await.map(Response::new)
    }

    async fn execute_multi_operation(
        &self,
        r: Request<ws::ExecuteMultiOperationRequest>,
    ) -> R<ws::ExecuteMultiOperationResponse> {
        let t = timeout(&r);
        let (start, update) = multi_operation::update_with_start(r.into_inner())?;
        self.engine
            .update_with_start(start, update, t)
            .await
            .map(Response::new)
    }

    async fn poll_workflow_execution_update(
        &self,
        r: Request<ws::PollWorkflowExecutionUpdateRequest>,
    ) -> R<ws::PollWorkflowExecutionUpdateResponse> {
        let t = timeout(&r);
        self.engine
            .poll_update(r.into_inner(), t)
            .await
            .map(Response::new)
    }

    async fn poll_activity_task_queue(
        &self,
        r: Request<ws::PollActivityTaskQueueRequest>,
    ) -> R<ws::PollActivityTaskQueueResponse> {
        let t = timeout(&r);
        self.engine
            .poll_activity_task(r.into_inner(), t)
            .await
            .map(Response::new)
    }

    async fn pause_activity(
        &self,
        r: Request<ws::PauseActivityRequest>,
    ) -> R<ws::PauseActivityResponse> {
        self.engine.pause_activity(r.into_inner()).await?;
        Ok(Response::new(ws::PauseActivityResponse {}))
    }

    async fn unpause_activity(
        &self,
        r: Request<ws::UnpauseActivityRequest>,
    ) -> R<ws::UnpauseActivityResponse> {
        self.engine.unpause_activity(r.into_inner()).await?;
        Ok(Response::new(ws::UnpauseActivityResponse {}))
    }

    async fn reset_activity(
        &self,
        r: Request<ws::ResetActivityRequest>,
    ) -> R<ws::ResetActivityResponse> {
        self.engine.reset_activity(r.into_inner()).await?;
        Ok(Response::new(ws::ResetActivityResponse {}))
    }

    async fn record_activity_task_heartbeat(
        &self,
        r: Request<ws::RecordActivityTaskHeartbeatRequest>,
    ) -> R<ws::RecordActivityTaskHeartbeatResponse> {
        let r = r.into_inner();
        let wf = token_workflow_id(&r.task_token);
        let site = site("RecordActivityTaskHeartbeat", &r.namespace, &wf);
        if blob_size::blob_over_limit(r.details.as_ref(), &site) {
            // As Temporal: the activity fails at once and is told to stop.
            let failure = blob_size::server_failure(blob_size::HEARTBEAT_EXCEEDS_LIMIT, true);
            self.engine
                .finish_activity(
                    &r.task_token,
                    &r.identity,
                    ActivityResult::Failed(Box::new(Some(failure))),
                )
                .await?;
            return Ok(Response::new(ws::RecordActivityTaskHeartbeatResponse {
                cancel_requested: true,
                ..Default::default()
            }));
        }
        let reply = self.engine.heartbeat(&r.task_token, r.details).await?;
        Ok(Response::new(ws::RecordActivityTaskHeartbeatResponse {
            cancel_requested: reply.cancel_requested,
            activity_paused: reply.activity_paused,
            activity_reset: reply.activity_reset,
        }))
    }

    async fn record_activity_task_heartbeat_by_id(
        &self,
        r: Request<ws::RecordActivityTaskHeartbeatByIdRequest>,
    ) -> R<ws::RecordActivityTaskHeartbeatByIdResponse> {
        let r = r.into_inner();
        let site = site(
            "RecordActivityTaskHeartbeatById",
            &r.namespace,
            &r.workflow_id,
        );
        if blob_size::blob_over_limit(r.details.as_ref(), &site) {
            let failure = blob_size::server_failure(blob_size::HEARTBEAT_EXCEEDS_LIMIT, true);
            self.engine
                .finish_activity_by_id(
                    &r.namespace,
                    &r.workflow_id,
                    &r.run_id,
                    &r.activity_id,
                    &r.identity,
                    ActivityResult::Failed(Box::new(Some(failure))),
                )
                .await?;
            return Ok(Response::new(ws::RecordActivityTaskHeartbeatByIdResponse {
                cancel_requested: true,
                ..Default::default()
            }));
        }
        let reply = self
            .engine
            .heartbeat_by_id(
                &r.namespace,
                &r.workflow_id,
                &r.run_id,
                &r.activity_id,
                r.details,
            )
            .await?;
        Ok(Response::new(ws::RecordActivityTaskHeartbeatByIdResponse {
            cancel_requested: reply.cancel_requested,
            activity_paused: reply.activity_paused,
            activity_reset: reply.activity_reset,
        }))
    }

    async fn respond_activity_task_completed(
        &self,
        r: Request<ws::RespondActivityTaskCompletedRequest>,
    ) -> R<ws::RespondActivityTaskCompletedResponse> {
        let r = r.into_inner();
        let wf = token_workflow_id(&r.task_token);
        let result = blob_size::activity_completed(
            r.result,
            &site("RespondActivityTaskCompleted", &r.namespace, &wf),
        );
        self.engine
            .finish_activity(&r.task_token, &r.identity, result)
            .await?;
        Ok(Response::new(ws::RespondActivityTaskCompletedResponse {}))
    }

    async fn respond_activity_task_completed_by_id(
        &self,
        r: Request<ws::RespondActivityTaskCompletedByIdRequest>,
    ) -> R<ws::RespondActivityTaskCompletedByIdResponse> {
        let r = r.into_inner();
        self.engine
            .finish_activity_by_id(
                &r.namespace,
                &r.workflow_id,
                &r.run_id,
                &r.activity_id,
                &r.identity,
                blob_size::activity_completed(
                    r.result,
                    &site(
                        "RespondActivityTaskCompletedById",
                        &r.namespace,
                        &r.workflow_id,
                    ),
                ),
            )
            .await?;
        Ok(Response::new(
            ws::RespondActivityTaskCompletedByIdResponse {},
        ))
    }

    async fn respond_activity_task_failed(
        &self,
        r: Request<ws::RespondActivityTaskFailedRequest>,
    ) -> R<ws::RespondActivityTaskFailedResponse> {
        let mut r = r.into_inner();
        let wf = token_workflow_id(&r.task_token);
        let (result, failures) = blob_size::activity_failed(
            r.failure,
            &mut r.last_heartbeat_details,
            &site("RespondActivityTaskFailed", &r.namespace, &wf),
        );
        if r.last_heartbeat_details.is_some() {
            self.engine
                .heartbeat(&r.task_token, r.last_heartbeat_details)
                .await?;
        }
        self.engine
            .finish_activity(&r.task_token, &r.identity, result)
            .await?;
        Ok(Response::new(ws::RespondActivityTaskFailedResponse {
            failures,
        }))
    }

    async fn respond_activity_task_failed_by_id(
        &self,
        r: Request<ws::RespondActivityTaskFailedByIdRequest>,
    ) -> R<ws::RespondActivityTaskFailedByIdResponse> {
        let mut r = r.into_inner();
        let (result, failures) = blob_size::activity_failed(
            r.failure,
            &mut r.last_heartbeat_details,
            &site(
                "RespondActivityTaskFailedById",
                &r.namespace,
                &r.workflow_id,
            ),
        );
        if r.last_heartbeat_details.is_some() {
            self.engine
                .heartbeat_by_id(
                    &r.namespace,
                    &r.workflow_id,
                    &r.run_id,
                    &r.activity_id,
                    r.last_heartbeat_details.clone(),
                )
                .await?;
        }
        self.engine
            .finish_activity_by_id(
                &r.namespace,
                &r.workflow_id,
                &r.run_id,
                &r.activity_id,
                &r.identity,
                result,
            )
            .await?;
        Ok(Response::new(ws::RespondActivityTaskFailedByIdResponse {
            failures,
        }))
    }

    async fn respond_activity_task_canceled(
        &self,
        r: Request<ws::RespondActivityTaskCanceledRequest>,
    ) -> R<ws::RespondActivityTaskCanceledResponse> {
        let r = r.into_inner();
        let wf = token_workflow_id(&r.task_token);
        let result = blob_size::activity_canceled(
            r.details,
            &site("RespondActivityTaskCanceled", &r.namespace, &wf),
        );
        self.engine
            .finish_activity(&r.task_token, &r.identity, result)
            .await?;
        Ok(Response::new(ws::RespondActivityTaskCanceledResponse {}))
    }

    async fn respond_activity_task_canceled_by_id(
        &self,
        r: Request<ws::RespondActivityTaskCanceledByIdRequest>,
    ) -> R<ws::RespondActivityTaskCanceledByIdResponse> {
        let r = r.into_inner();
        self.engine
            .finish_activity_by_id(
                &r.namespace,
                &r.workflow_id,
                &r.run_id,
                &r.activity_id,
                &r.identity,
                blob_size::activity_canceled(
                    r.details,
                    &site(
                        "RespondActivityTaskCanceledById",
                        &r.namespace,
                        &r.workflow_id,
                    ),
                ),
            )
            .await?;
        Ok(Response::new(
            ws::RespondActivityTaskCanceledByIdResponse {},
        ))
    }

    async fn reset_sticky_task_queue(
        &self,
        r: Request<ws::ResetStickyTaskQueueRequest>,
    ) -> R<ws::ResetStickyTaskQueueResponse> {
        self.engine.reset_sticky_task_queue(r.into_inner()).await?;
        Ok(Response::new(ws::ResetStickyTaskQueueResponse {}))
    }

    async fn shutdown_worker(
        &self,
        r: Request<ws::ShutdownWorkerRequest>,
    ) -> R<ws::ShutdownWorkerResponse> {
        self.engine.shutdown_worker(r.into_inner()).await?;
        Ok(Response::new(ws::ShutdownWorkerResponse::default()))
    }

    async fn create_schedule(
        &self,
        r: Request<ws::CreateScheduleRequest>,
    ) -> R<ws::CreateScheduleResponse> {
        Ok(Response::new(
            self.engine.create_schedule(r.into_inner()).await?,
        ))
    }

    async fn describe_schedule(
        &self,
        r: Request<ws::DescribeScheduleRequest>,
    ) -> R<ws::DescribeScheduleResponse> {
        Ok(Response::new(
            self.engine.describe_schedule(r.into_inner()).await?,
        ))
    }

    async fn update_schedule(
        &self,
        r: Request<ws::UpdateScheduleRequest>,
    ) -> R<ws::UpdateScheduleResponse> {
        Ok(Response::new(
            self.engine.update_schedule(r.into_inner()).await?,
        ))
    }

    async fn patch_schedule(
        &self,
        r: Request<ws::PatchScheduleRequest>,
    ) -> R<ws::PatchScheduleResponse> {
        Ok(Response::new(
            self.engine.patch_schedule(r.into_inner()).await?,
        ))
    }

    async fn delete_schedule(
        &self,
        r: Request<ws::DeleteScheduleRequest>,
    ) -> R<ws::DeleteScheduleResponse> {
        Ok(Response::new(
            self.engine.delete_schedule(r.into_inner()).await?,
        ))
    }

    async fn list_schedules(
        &self,
        r: Request<ws::ListSchedulesRequest>,
    ) -> R<ws::ListSchedulesResponse> {
        Ok(Response::new(
            self.engine.list_schedules(r.into_inner()).await?,
        ))
    }

    async fn count_schedules(
        &self,
        r: Request<ws::CountSchedulesRequest>,
    ) -> R<ws::CountSchedulesResponse> {
        Ok(Response::new(
            self.engine.count_schedules(r.into_inner()).await?,
        ))
    }

    async fn list_schedule_matching_times(
        &self,
        r: Request<ws::ListScheduleMatchingTimesRequest>,
    ) -> R<ws::ListScheduleMatchingTimesResponse> {
        Ok(Response::new(
            self.engine
                .list_schedule_matching_times(r.into_inner())
                .await?,
        ))
    }

    async fn start_batch_operation(
        &self,
        r: Request<ws::StartBatchOperationRequest>,
    ) -> R<ws::StartBatchOperationResponse> {
        batch_service::start(&self.engine, r.into_inner())
            .await
            .map(Response::new)
    }

    async fn describe_batch_operation(
        &self,
        r: Request<ws::DescribeBatchOperationRequest>,
    ) -> R<ws::DescribeBatchOperationResponse> {
        batch_service::describe(&self.engine, r.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_batch_operations(
        &self,
        r: Request<ws::ListBatchOperationsRequest>,
    ) -> R<ws::ListBatchOperationsResponse> {
        batch_service::list(&self.engine, r.into_inner())
            .await
            .map(Response::new)
    }

    async fn stop_batch_operation(
        &self,
        r: Request<ws::StopBatchOperationRequest>,
    ) -> R<ws::StopBatchOperationResponse> {
        batch_service::stop(&self.engine, r.into_inner())
            .await
            .map(Response::new)
    }

    async fn record_worker_heartbeat(
        &self,
        _r: Request<ws::RecordWorkerHeartbeatRequest>,
    ) -> R<ws::RecordWorkerHeartbeatResponse> {
        Ok(Response::new(ws::RecordWorkerHeartbeatResponse::default()))
    }
}
