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
    /// Owner's e-mail.
    #[serde(default)]
    pub owner_email: String,
    /// Free-form key/value data.
    #[serde(default)]
    pub data: BTreeMap<String, String>,
    /// Custom search attributes registered in the namespace: name → IndexedValueType.
    #[serde(default)]
    pub search_attributes: BTreeMap<String, i32>,
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
                g.namespaces().into_iter().find(|n| n.id == req.id)
            } else {
                g.namespace(&req.namespace).ok()
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
                namespaces: g.namespaces().iter().map(|n| ns_response(n)).collect(),
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
            if g.namespace(&req.namespace).is_ok() {
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
                owner_email: req.owner_email.clone(),
                data: req.data.clone().into_iter().collect(),
                search_attributes: BTreeMap::new(),
            });
            tracing::info!(namespace = %req.namespace, "namespace registered");
            Ok(())
        })
        .await
    }
}

impl Engine {
    /// UpdateNamespace, as Temporal's namespace handler: a non-empty description or owner
    /// e-mail replaces the old one, data entries are merged in, a retention (validated as at
    /// registration) applies to runs closing from now on. Answers the updated namespace.
    pub async fn update_namespace(
        &self,
        req: ws::UpdateNamespaceRequest,
    ) -> RpcResult<ws::UpdateNamespaceResponse> {
        self.with(|g| {
            let mut rec = (*g.namespace(&req.namespace)?).clone();
            if let Some(info) = &req.update_info {
                if !info.description.is_empty() {
                    rec.description = info.description.clone();
                }
                if !info.owner_email.is_empty() {
                    rec.owner_email = info.owner_email.clone();
                }
                rec.data
                    .extend(info.data.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
            if let Some(ttl) = req
                .config
                .as_ref()
                .and_then(|c| c.workflow_execution_retention_ttl.as_ref())
            {
                let ms = requested_retention(Some(ttl))?;
                rec.retention = Some(ms);
                rec.retention_days = ms / 86_400_000;
            }
            tracing::info!(namespace = %rec.name, retention_ms = rec.retention_ms(), "namespace updated");
            let d = ns_response(&rec);
            g.put_namespace(rec);
            Ok(ws::UpdateNamespaceResponse {
                namespace_info: d.namespace_info,
                config: d.config,
                replication_config: d.replication_config,
                failover_version: d.failover_version,
                is_global_namespace: d.is_global_namespace,
            })
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
            owner_email: rec.owner_email.clone(),
            data: rec.data.clone().into_iter().collect(),
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

impl crate::engine::Shared {
    /// The namespace `ns` (a snapshot: a later update replaces it), or NamespaceNotFound.
    pub(crate) fn namespace(&self, ns: &str) -> RpcResult<Arc<NamespaceRec>> {
        self.namespaces
            .read()
            .get(ns)
            .cloned()
            .ok_or_else(|| status::namespace_not_found(ns))
    }
}

impl Inner<'_> {
    pub(crate) fn put_namespace(&mut self, rec: NamespaceRec) {
        let json = serde_json::to_string(&rec).unwrap_or_default();
        self.dirty_ns.push((rec.name.clone(), json));
        self.s
            .namespaces
            .write()
            .insert(rec.name.clone(), Arc::new(rec));
    }

    /// The namespace `ns` (a snapshot: a later update replaces it), or NamespaceNotFound.
    pub(crate) fn namespace(&self, ns: &str) -> RpcResult<Arc<NamespaceRec>> {
        self.s.namespace(ns)
    }

    /// Every namespace, by name.
    pub(crate) fn namespaces(&self) -> Vec<Arc<NamespaceRec>> {
        self.s.namespaces.read().values().cloned().collect()
    }

    /// Start-up: the namespaces of the store, and the default one if it is not there.
    pub(crate) fn load_namespaces(&mut self, default_namespace: &str) -> crate::error::Result<()> {
        let rows = match self.store {
            Some(store) => store.load_namespaces()?,
            None => vec![],
        };
        for (name, data) in rows {
            let rec: NamespaceRec =
                serde_json::from_str(&data).map_err(|e| crate::error::DevServerError::Corrupt {
                    what: format!("namespace {name}"),
                    detail: e.to_string(),
                })?;
            self.s.namespaces.write().insert(name, Arc::new(rec));
        }
        if self.namespace(default_namespace).is_err() {
            self.put_namespace(NamespaceRec {
                name: default_namespace.to_string(),
                id: new_id(),
                description: "default namespace".into(),
                retention_days: 1,
                retention: None,
                owner_email: String::new(),
                data: BTreeMap::new(),
                search_attributes: BTreeMap::new(),
            });
        }
        Ok(())
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

    #[tokio::test]
    async fn update_namespace_merges_its_info_and_validates_retention() {
        use temporalio_protos::temporal::api::namespace::v1::{
            NamespaceConfig, UpdateNamespaceInfo,
        };
        let e = Engine::open(&Database::InMemory, "default").unwrap();
        let update =
            |description: &str, key: &str, hours: Option<i64>| ws::UpdateNamespaceRequest {
                namespace: "default".into(),
                update_info: Some(UpdateNamespaceInfo {
                    description: description.into(),
                    data: [(key.to_string(), "v".to_string())].into_iter().collect(),
                    ..Default::default()
                }),
                config: hours.map(|h| NamespaceConfig {
                    workflow_execution_retention_ttl: Some(prost_wkt_types::Duration {
                        seconds: h * 3600,
                        nanos: 0,
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            };
        e.update_namespace(update("first", "a", Some(48)))
            .await
            .unwrap();
        let r = e.update_namespace(update("", "b", None)).await.unwrap();
        let info = r.namespace_info.unwrap();
        assert_eq!(
            info.description, "first",
            "an empty description keeps the old one"
        );
        assert_eq!(info.data.len(), 2, "data is merged");
        let ttl = r.config.unwrap().workflow_execution_retention_ttl.unwrap();
        assert_eq!(ttl.seconds, 48 * 3600);
        let err = e
            .update_namespace(update("x", "c", Some(0)))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let missing = ws::UpdateNamespaceRequest {
            namespace: "nope".into(),
            ..Default::default()
        };
        let err = e.update_namespace(missing).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::NotFound);
    }
}
