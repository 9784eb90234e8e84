//! Namespaces: the registry (describe, list, register) and what each advertises.
use crate::prelude::*;

/// A namespace record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamespaceRec {
    /// Name.
    pub name: String,
    /// Stable id.
    pub id: String,
    /// Description.
    pub description: String,
    /// Retention in days (the record's first format; see [`Self::retention_ms`]).
    pub retention_days: i64,
    /// Retention in milliseconds, when set exactly.
    #[serde(default)]
    pub retention: Option<i64>,
}

impl NamespaceRec {
    /// How long closed runs are kept.
    pub fn retention_ms(&self) -> i64 {
        self.retention
            .unwrap_or(self.retention_days.saturating_mul(86_400_000))
    }
}

/// The retention a RegisterNamespace request asks for, refused as Temporal's frontend does
/// (`validateRetentionDuration`) when negative or under the local minimum of one hour. Unset
/// means the dev server's default (24 h).
fn requested_retention(d: Option<&prost_wkt_types::Duration>) -> RpcResult<i64> {
    use crate::history::retention::{DEFAULT_RETENTION_MS, MIN_RETENTION_MS};
    let Some(d) = d else {
        return Ok(DEFAULT_RETENTION_MS);
    };
    let ms = d
        .seconds
        .checked_mul(1000)
        .and_then(|s| s.checked_add(i64::from(d.nanos) / 1_000_000));
    match ms {
        Some(ms) if ms >= MIN_RETENTION_MS && d.nanos >= 0 => Ok(ms),
        _ => Err(status::invalid(
            "A valid retention period is not set on request.",
        )),
    }
}

impl Engine {
    /// DescribeNamespace.
    pub async fn describe_namespace(
        &self,
        req: ws::DescribeNamespaceRequest,
    ) -> RpcResult<ws::DescribeNamespaceResponse> {
        self.with(|g| {
            let rec = if !req.id.is_empty() {
                g.namespaces.values().find(|n| n.id == req.id).cloned()
            } else {
                g.namespaces.get(&req.namespace).cloned()
            };
            let rec = rec.ok_or_else(|| status::namespace_not_found(&req.namespace))?;
            Ok(ns_response(&rec))
        })
        .await
    }

    /// ListNamespaces.
    pub async fn list_namespaces(&self) -> RpcResult<ws::ListNamespacesResponse> {
        self.with(|g| {
            Ok(ws::ListNamespacesResponse {
                namespaces: g.namespaces.values().map(ns_response).collect(),
                next_page_token: vec![],
            })
        })
        .await
    }

    /// RegisterNamespace.
    pub async fn register_namespace(&self, req: ws::RegisterNamespaceRequest) -> RpcResult<()> {
        if req.namespace.is_empty() {
            return Err(status::invalid("namespace name is required"));
        }
        self.with(|g| {
            if g.namespaces.contains_key(&req.namespace) {
                return Err(Status::already_exists(format!(
                    "Namespace {} already exists.",
                    req.namespace
                )));
            }
            let retention = requested_retention(req.workflow_execution_retention_period.as_ref())?;
            g.put_namespace(NamespaceRec {
                name: req.namespace.clone(),
                id: new_id(),
                description: req.description.clone(),
                retention_days: retention / 86_400_000,
                retention: Some(retention),
            });
            tracing::info!(namespace = %req.namespace, "namespace registered");
            Ok(())
        })
        .await
    }
}

pub(crate) fn ns_response(rec: &NamespaceRec) -> ws::DescribeNamespaceResponse {
    use temporalio_protos::temporal::api::namespace::v1::{
        NamespaceConfig, NamespaceInfo, namespace_info::Capabilities,
    };
    ws::DescribeNamespaceResponse {
        namespace_info: Some(NamespaceInfo {
            name: rec.name.clone(),
            state: 1,
            description: rec.description.clone(),
            id: rec.id.clone(),
            capabilities: Some(Capabilities {
                eager_workflow_start: true,
                sync_update: true,
                async_update: true,
                // Poll responses carry scaling decisions (see `poller_scaling`), so SDK
                // workers left at their default poller behaviour autoscale, as they do
                // against a Temporal cluster that advertises it.
                poller_autoscaling: true,
                poller_autoscaling_auto_enroll: true,
                // ShutdownWorker answers the worker's open polls (see `worker_shutdown`), so
                // workers let them return instead of cancelling them and losing a task.
                worker_poll_complete_on_shutdown: true,
                ..Default::default()
            }),
            supports_schedules: false,
            ..Default::default()
        }),
        config: Some(NamespaceConfig {
            workflow_execution_retention_ttl: dur(rec.retention_ms()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Inner {
    pub(crate) fn put_namespace(&mut self, rec: NamespaceRec) {
        let json = serde_json::to_string(&rec).unwrap_or_default();
        self.dirty_ns.push((rec.name.clone(), json));
        self.namespaces.insert(rec.name.clone(), rec);
    }

    pub(crate) fn namespace(&self, ns: &str) -> RpcResult<&NamespaceRec> {
        self.namespaces
            .get(ns)
            .ok_or_else(|| status::namespace_not_found(ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_memory_engine_has_default_namespace_and_rejects_unknown() {
        let e = Engine::open(&Database::InMemory, "default").unwrap();
        assert!(
            e.describe_namespace(ws::DescribeNamespaceRequest {
                namespace: "default".into(),
                ..Default::default()
            })
            .await
            .is_ok()
        );
        let err = e
            .describe_namespace(ws::DescribeNamespaceRequest {
                namespace: "other".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
        e.register_namespace(ws::RegisterNamespaceRequest {
            namespace: "other".into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let err = e
            .register_namespace(ws::RegisterNamespaceRequest {
                namespace: "other".into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::AlreadyExists);
        assert_eq!(e.list_namespaces().await.unwrap().namespaces.len(), 2);
        let err = e
            .register_namespace(ws::RegisterNamespaceRequest {
                namespace: "short".into(),
                workflow_execution_retention_period: Some(prost_wkt_types::Duration {
                    seconds: 60,
                    nanos: 0,
                }),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.message(),
            "A valid retention period is not set on request."
        );
    }
}
