//! The search-attribute registry, as Temporal keeps it for SQL visibility (`sadefs` and the
//! operator handler's SQL paths): the system and predefined attributes with their types, and
//! per namespace the custom attributes registered through OperatorService
//! (Add / Remove / ListSearchAttributes) or `server start-dev --search-attribute NAME=TYPE`,
//! within SQL visibility's preallocated columns per type. Names under Temporal's reserved
//! prefix, system names and reserved fields cannot be registered.
use crate::prelude::*;
use temporalio_protos::temporal::api::enums::v1::IndexedValueType as T;
use temporalio_protos::temporal::api::operatorservice::v1 as op;

/// Temporal's `system` attributes (stored as separate fields).
pub(crate) const SYSTEM: &[(&str, T)] = &[
    ("WorkflowId", T::Keyword),
    ("RunId", T::Keyword),
    ("WorkflowType", T::Keyword),
    ("StartTime", T::Datetime),
    ("ExecutionTime", T::Datetime),
    ("CloseTime", T::Datetime),
    ("ExecutionStatus", T::Keyword),
    ("TaskQueue", T::Keyword),
    ("HistoryLength", T::Int),
    ("ExecutionDuration", T::Int),
    ("StateTransitionCount", T::Int),
    ("HistorySizeBytes", T::Int),
    ("ParentWorkflowId", T::Keyword),
    ("ParentRunId", T::Keyword),
    ("RootWorkflowId", T::Keyword),
    ("RootRunId", T::Keyword),
];

/// Temporal's `predefined` attributes (stored with the custom ones, set by the server).
pub(crate) const PREDEFINED: &[(&str, T)] = &[
    ("TemporalChangeVersion", T::KeywordList),
    ("BinaryChecksums", T::KeywordList),
    ("BuildIds", T::KeywordList),
    ("BatcherNamespace", T::Keyword),
    ("BatcherUser", T::Keyword),
    ("TemporalScheduledStartTime", T::Datetime),
    ("TemporalScheduledById", T::Keyword),
    ("TemporalSchedulePaused", T::Bool),
    ("TemporalNamespaceDivision", T::Keyword),
    ("TemporalPauseInfo", T::KeywordList),
    ("TemporalReportedProblems", T::KeywordList),
    ("TemporalWorkerDeploymentVersion", T::Keyword),
    ("TemporalWorkflowVersioningBehavior", T::Keyword),
    ("TemporalWorkerDeployment", T::Keyword),
    ("TemporalUsedWorkerDeploymentVersions", T::KeywordList),
    ("TemporalExternalPayloadCount", T::Int),
    ("TemporalExternalPayloadSizeBytes", T::Int),
];

/// Fields no search attribute may be named after (`sadefs.reserved`).
const RESERVED_FIELDS: &[&str] = &["NamespaceId", "MemoEncoding", "Memo", "VisibilityTaskKey"];

/// SQL visibility's preallocated custom columns per type (`Keyword01`…`Keyword10`, …).
fn columns(t: T) -> usize {
    match t {
        T::Keyword => 10,
        _ => 3,
    }
}

/// The type's name as Temporal's API prints it (`Keyword`, `KeywordList`, …).
pub(crate) fn type_name(t: i32) -> String {
    match T::try_from(t) {
        Ok(T::Text) => "Text",
        Ok(T::Keyword) => "Keyword",
        Ok(T::Int) => "Int",
        Ok(T::Double) => "Double",
        Ok(T::Bool) => "Bool",
        Ok(T::Datetime) => "Datetime",
        Ok(T::KeywordList) => "KeywordList",
        _ => return t.to_string(),
    }
    .to_string()
}

/// The type named `name` (case-insensitive, as the Temporal CLI takes it).
pub fn parse_type(name: &str) -> Option<i32> {
    (1..=7).find(|t| type_name(*t).eq_ignore_ascii_case(name))
}

/// The type of system attribute `name`, if it is one.
pub(crate) fn system_type(name: &str) -> Option<T> {
    SYSTEM.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The type of predefined attribute `name`, if it is one.
pub(crate) fn predefined_type(name: &str) -> Option<T> {
    PREDEFINED.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The type of `name` as `ns` knows it: a system, predefined or registered custom attribute.
pub(crate) fn known_type(ns: &NamespaceRec, name: &str) -> Option<T> {
    system_type(name)
        .or_else(|| predefined_type(name))
        .or_else(|| {
            ns.search_attributes
                .get(name)
                .and_then(|t| T::try_from(*t).ok())
        })
}

/// `sadefs.IsReserved`: system, predefined, reserved fields, or the `Temporal` prefix.
pub(crate) fn is_reserved(name: &str) -> bool {
    SYSTEM.iter().chain(PREDEFINED).any(|(n, _)| *n == name)
        || RESERVED_FIELDS.contains(&name)
        || name.starts_with("Temporal")
}

/// Whether `name` is a system or predefined attribute (always queryable).
pub(crate) fn is_system(name: &str) -> bool {
    SYSTEM.iter().chain(PREDEFINED).any(|(n, _)| *n == name) || name == "ScheduleId"
}

impl Inner<'_> {
    /// Registers custom attributes in `namespace` (AddSearchAttributes): an existing name is
    /// left as it is; a reserved name, an unknown type or more attributes of a type than SQL
    /// visibility has columns for are refused, and then nothing is registered.
    pub(crate) fn add_search_attributes(
        &mut self,
        namespace: &str,
        attributes: &HashMap<String, i32>,
    ) -> RpcResult<()> {
        if namespace.is_empty() {
            return Err(status::invalid("Namespace is not set on request."));
        }
        if attributes.is_empty() {
            return Err(status::invalid("SearchAttributes are not set on request."));
        }
        let mut rec = (*self.namespace(namespace)?).clone();
        let mut names: Vec<_> = attributes.iter().collect();
        names.sort();
        for (name, t) in names {
            if is_reserved(name) {
                return Err(status::invalid(format!(
                    "Search attribute {name} is reserved by system."
                )));
            }
            let Ok(ty) = T::try_from(*t).map_err(|_| ()).and_then(|ty| {
                if ty == T::Unspecified {
                    Err(())
                } else {
                    Ok(ty)
                }
            }) else {
                return Err(status::invalid(format!(
                    "Unknown search attribute type: {}.",
                    type_name(*t)
                )));
            };
            if rec.search_attributes.contains_key(name) {
                tracing::warn!(namespace, name = %name, "search attribute already exists");
                continue;
            }
            let used = rec.search_attributes.values().filter(|v| **v == *t).count();
            if used >= columns(ty) {
                return Err(status::invalid(format!(
                    "Unable to create search attributes: cannot have more than {used} search attribute of type {}.",
                    type_name(*t)
                )));
            }
            rec.search_attributes.insert(name.clone(), *t);
            tracing::info!(namespace, name = %name, r#type = %type_name(*t), "search attribute added");
        }
        self.put_namespace(rec);
        Ok(())
    }

    /// RemoveSearchAttributes: custom attributes are removed, unknown names ignored, and a
    /// system or predefined name refused.
    fn remove_search_attributes(&mut self, namespace: &str, names: &[String]) -> RpcResult<()> {
        if namespace.is_empty() {
            return Err(status::invalid("Namespace is not set on request."));
        }
        let mut rec = (*self.namespace(namespace)?).clone();
        for name in names {
            if rec.search_attributes.remove(name).is_some() {
                tracing::info!(namespace, name = %name, "search attribute removed");
            } else if is_system(name) {
                return Err(status::invalid(format!(
                    "Unable to remove non-custom search attributes: {name}."
                )));
            }
        }
        self.put_namespace(rec);
        Ok(())
    }
}

fn system_map() -> HashMap<String, i32> {
    SYSTEM
        .iter()
        .chain(PREDEFINED)
        .map(|(n, t)| (n.to_string(), *t as i32))
        .collect()
}

impl Engine {
    /// AddSearchAttributes.
    pub async fn add_search_attributes(&self, r: op::AddSearchAttributesRequest) -> RpcResult<()> {
        self.with(|g| g.add_search_attributes(&r.namespace, &r.search_attributes))
            .await
    }

    /// RemoveSearchAttributes.
    pub async fn remove_search_attributes(
        &self,
        r: op::RemoveSearchAttributesRequest,
    ) -> RpcResult<()> {
        self.with(|g| g.remove_search_attributes(&r.namespace, &r.search_attributes))
            .await
    }

    /// ListSearchAttributes: the namespace's custom attributes and the system ones.
    pub async fn list_search_attributes(
        &self,
        r: op::ListSearchAttributesRequest,
    ) -> RpcResult<op::ListSearchAttributesResponse> {
        if r.namespace.is_empty() {
            return Err(status::invalid("Namespace is not set on request."));
        }
        let g = self.lock_all();
        let rec = g.namespace(&r.namespace)?;
        Ok(op::ListSearchAttributesResponse {
            custom_attributes: rec.search_attributes.clone().into_iter().collect(),
            system_attributes: system_map(),
            storage_schema: HashMap::new(),
        })
    }

    /// GetSearchAttributes (WorkflowService, namespace-less): the system attributes and the
    /// custom ones of every namespace.
    pub async fn get_search_attributes(&self) -> RpcResult<ws::GetSearchAttributesResponse> {
        let g = self.lock_all();
        let mut keys = system_map();
        for rec in g.namespaces() {
            keys.extend(rec.search_attributes.iter().map(|(k, v)| (k.clone(), *v)));
        }
        Ok(ws::GetSearchAttributesResponse { keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(v: &[(&str, T)]) -> HashMap<String, i32> {
        v.iter().map(|(n, t)| (n.to_string(), *t as i32)).collect()
    }

    #[tokio::test]
    async fn custom_attributes_are_added_listed_and_removed_within_temporals_rules() {
        let e = Engine::open(&Database::InMemory, "default").unwrap();
        let mut g = e.lock_all();
        g.add_search_attributes(
            "default",
            &attrs(&[("Color", T::Keyword), ("Size", T::Int)]),
        )
        .unwrap();
        g.add_search_attributes("default", &attrs(&[("Color", T::Text)]))
            .unwrap();
        let rec = g.namespace("default").unwrap();
        assert_eq!(rec.search_attributes["Color"], T::Keyword as i32, "kept");
        let err = g
            .add_search_attributes("default", &attrs(&[("TemporalThing", T::Keyword)]))
            .unwrap_err();
        assert_eq!(
            err.message(),
            "Search attribute TemporalThing is reserved by system."
        );
        let err = g
            .add_search_attributes("default", &attrs(&[("WorkflowId", T::Keyword)]))
            .unwrap_err();
        assert!(err.message().contains("reserved"), "{}", err.message());
        let err = g
            .add_search_attributes("default", &attrs(&[("X", T::Unspecified)]))
            .unwrap_err();
        assert!(err.message().starts_with("Unknown search attribute type"));
        let three: Vec<(String, i32)> = (0..3).map(|i| (format!("B{i}"), T::Bool as i32)).collect();
        g.add_search_attributes("default", &three.into_iter().collect())
            .unwrap();
        let err = g
            .add_search_attributes("default", &attrs(&[("B3", T::Bool)]))
            .unwrap_err();
        assert_eq!(
            err.message(),
            "Unable to create search attributes: cannot have more than 3 search attribute of type Bool."
        );
        g.remove_search_attributes("default", &["Color".into(), "Unknown".into()])
            .unwrap();
        assert!(
            !g.namespace("default")
                .unwrap()
                .search_attributes
                .contains_key("Color")
        );
        let err = g
            .remove_search_attributes("default", &["WorkflowId".into()])
            .unwrap_err();
        assert!(err.message().contains("non-custom"), "{}", err.message());
        assert_eq!(parse_type("keywordlist"), Some(T::KeywordList as i32));
        assert_eq!(parse_type("Colour"), None);
    }
}
