//! Temporal's search-attribute validator (`common/searchattribute/validator.go`): the
//! attributes a start request carries must be registered custom attributes of the namespace
//! (or the predefined ones users may set), with values of the registered type.
use super::row::{Field, json_field};
use super::search_attributes::{predefined_type, system_type, type_name};
use crate::prelude::*;
use temporalio_protos::temporal::api::enums::v1::IndexedValueType as T;

/// Predefined attributes users may still set (`sadefs.predefinedWhiteList`).
const PREDEFINED_WHITELIST: &[&str] = &[
    "TemporalChangeVersion",
    "BinaryChecksums",
    "BuildIds",
    "BatcherNamespace",
    "BatcherUser",
    "TemporalScheduledStartTime",
    "TemporalScheduledById",
    "TemporalSchedulePaused",
    "TemporalNamespaceDivision",
    "TemporalPauseInfo",
    "TemporalReportedProblems",
];

impl Inner<'_> {
    /// Refuses, with Temporal's InvalidArgument messages, search attributes that are system
    /// attributes, not defined in `namespace`, internal predefined ones, or of the wrong type.
    pub(crate) fn validate_search_attributes(
        &self,
        namespace: &str,
        sas: &Option<SearchAttributes>,
    ) -> RpcResult<()> {
        let Some(s) = sas else { return Ok(()) };
        let ns = self.namespace(namespace)?;
        check_size(s)?;
        let mut names: Vec<&String> = s.indexed_fields.keys().collect();
        names.sort();
        // Temporal's SQL visibility first maps custom names to their columns
        // (`searchattribute.UnaliasFields`): a name it cannot map fails before validation.
        for name in &names {
            let mappable = system_type(name).is_none() && predefined_type(name).is_none();
            if mappable && !ns.search_attributes.contains_key(name.as_str()) {
                return Err(status::invalid(format!(
                    "Namespace {namespace} has no mapping defined for search attribute {name}"
                )));
            }
        }
        for name in names {
            if system_type(name).is_some() {
                return Err(status::invalid(format!(
                    "{name} attribute can't be set in SearchAttributes"
                )));
            }
            let predefined = predefined_type(name);
            let ty = match (ns.search_attributes.get(name.as_str()), predefined) {
                (Some(t), _) => T::try_from(*t).unwrap_or(T::Unspecified),
                (None, Some(t)) if PREDEFINED_WHITELIST.contains(&name.as_str()) => t,
                (None, Some(_)) => {
                    return Err(status::invalid(format!(
                        "{name} attribute can't be set in SearchAttributes"
                    )));
                }
                (None, None) => {
                    return Err(status::invalid(format!(
                        "Namespace {namespace} has no mapping defined for search attribute {name}"
                    )));
                }
            };
            let payload = &s.indexed_fields[name.as_str()];
            if !decodes_as(payload, ty) {
                return Err(status::invalid(format!(
                    "invalid value for search attribute {name} of type {}: {}",
                    type_name(ty as i32),
                    String::from_utf8_lossy(&payload.data)
                )));
            }
        }
        Ok(())
    }
}

impl Inner<'_> {
    /// Validates the search attributes the commands of a completed workflow task carry
    /// (UpsertWorkflowSearchAttributes, StartChildWorkflowExecution, ContinueAsNew), as
    /// Temporal's command handler does before applying any of them.
    pub(crate) fn validate_command_search_attributes(
        &self,
        namespace: &str,
        commands: &[temporalio_protos::temporal::api::command::v1::Command],
    ) -> RpcResult<()> {
        use temporalio_protos::temporal::api::command::v1::command::Attributes as C;
        for c in commands {
            match &c.attributes {
                Some(C::UpsertWorkflowSearchAttributesCommandAttributes(a)) => {
                    self.validate_search_attributes(namespace, &a.search_attributes)?
                }
                Some(C::ContinueAsNewWorkflowExecutionCommandAttributes(a)) => {
                    self.validate_search_attributes(namespace, &a.search_attributes)?
                }
                Some(C::StartChildWorkflowExecutionCommandAttributes(a)) => {
                    let ns = if a.namespace.is_empty() {
                        namespace
                    } else {
                        &a.namespace
                    };
                    if self.namespace(ns).is_ok() {
                        self.validate_search_attributes(ns, &a.search_attributes)?
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// `frontend.searchAttributesNumberOfKeysLimit`, `…SizeOfValueLimit`, `…TotalSizeLimit`.
const KEYS_LIMIT: usize = 100;
const VALUE_SIZE_LIMIT: usize = 2 * 1024;
const TOTAL_SIZE_LIMIT: usize = 40 * 1024;

/// Temporal's key-count and size limits (`Validate`'s count check and `ValidateSize`).
fn check_size(s: &SearchAttributes) -> RpcResult<()> {
    use prost::Message;
    if s.indexed_fields.len() > KEYS_LIMIT {
        return Err(status::invalid(format!(
            "number of search attributes {} exceeds limit {KEYS_LIMIT}",
            s.indexed_fields.len()
        )));
    }
    let mut names: Vec<&String> = s.indexed_fields.keys().collect();
    names.sort();
    for name in names {
        let len = s.indexed_fields[name.as_str()].data.len();
        if len > VALUE_SIZE_LIMIT {
            return Err(status::invalid(format!(
                "search attribute {name} value size {len} exceeds size limit {VALUE_SIZE_LIMIT}"
            )));
        }
    }
    let total = s.encoded_len();
    if total > TOTAL_SIZE_LIMIT {
        return Err(status::invalid(format!(
            "total size of search attributes {total} exceeds size limit {TOTAL_SIZE_LIMIT}"
        )));
    }
    Ok(())
}

/// `sadefs.DecodeValue`: whether the payload holds a value of `ty` (null unsets, and is valid).
fn decodes_as(payload: &temporalio_protos::temporal::api::common::v1::Payload, ty: T) -> bool {
    if payload.data.is_empty() {
        return true;
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&payload.data) else {
        return false;
    };
    match json {
        serde_json::Value::Null => true,
        // A list of values is accepted for a KeywordList and, as Temporal's SQL visibility
        // still allows, as an empty list (unset) or a list of one value for any type.
        serde_json::Value::Array(items) if ty != T::KeywordList && items.len() != 1 => {
            items.is_empty()
        }
        json => matches!(
            (ty, json_field(json, ty)),
            (T::Keyword | T::Text, Some(Field::Str(_)))
                | (T::Int, Some(Field::Int(_)))
                | (T::Double, Some(Field::Float(_)))
                | (T::Bool, Some(Field::Bool(_)))
                | (T::Datetime, Some(Field::Time(_)))
                | (T::KeywordList, Some(Field::List(_) | Field::Str(_)))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyword(v: &str) -> temporalio_protos::temporal::api::common::v1::Payload {
        crate::visibility::search_attribute_payload(&serde_json::Value::from(v), "Keyword")
    }

    #[tokio::test]
    async fn counts_and_sizes_over_temporals_limits_are_refused() {
        let e = Engine::open(&Database::InMemory, "default").unwrap();
        let g = e.lock_all();
        let many = SearchAttributes {
            indexed_fields: (0..101).map(|i| (format!("A{i}"), keyword("x"))).collect(),
        };
        assert_eq!(
            g.validate_search_attributes("default", &Some(many))
                .unwrap_err()
                .message(),
            "number of search attributes 101 exceeds limit 100"
        );
        // 30 values of 1.5 KB: each under the value limit, together over the total.
        let big = SearchAttributes {
            indexed_fields: (0..30)
                .map(|i| (format!("A{i}"), keyword(&"y".repeat(1500))))
                .collect(),
        };
        let msg = g
            .validate_search_attributes("default", &Some(big))
            .unwrap_err()
            .message()
            .to_string();
        assert!(
            msg.starts_with("total size of search attributes ")
                && msg.ends_with("exceeds size limit 40960"),
            "{msg}"
        );
        assert!(g.validate_search_attributes("default", &None).is_ok());
    }

    #[test]
    fn a_list_of_one_value_stands_for_the_value_as_in_sql_visibility() {
        let p = |json: &str| temporalio_protos::temporal::api::common::v1::Payload {
            data: json.as_bytes().to_vec(),
            ..Default::default()
        };
        assert!(decodes_as(&p(r#"["a"]"#), T::Keyword));
        assert!(decodes_as(&p("[]"), T::Keyword));
        assert!(decodes_as(&p("[7]"), T::Int));
        assert!(!decodes_as(&p(r#"["a", "b"]"#), T::Keyword));
        assert!(!decodes_as(&p(r#"["x"]"#), T::Int));
        assert!(decodes_as(&p(r#"["a", "b"]"#), T::KeywordList));
        assert_eq!(
            crate::visibility::row::json_field(serde_json::json!(["a"]), T::Keyword),
            Some(crate::visibility::row::Field::Str("a".into()))
        );
    }
}
