//! From an HTTP request to the RPC's request message, as grpc-gateway builds it: the body
//! (for `body: "*"` rules) or the query string (rules without a body), then the path's
//! variables on top.
use super::proto_json::{self, ProtoJsonError};
use super::route_table::{Body, Route};
use prost_reflect::{DynamicMessage, FieldDescriptor, Kind, MessageDescriptor};
use serde_json::{Map, Value};

/// Query parameters that choose the output format rather than set a field.
const FORMAT_PARAMETERS: [&str; 2] = ["pretty", "noPayloadShorthand"];

/// The request message of `route` from the request's path variables, query string and
/// body. A body that is not JSON, a field that does not exist or a value of the wrong
/// type is an error whose text says which (InvalidArgument for the caller).
pub(crate) fn request_message(
    route: &Route,
    vars: &[(String, String)],
    query: Option<&str>,
    body: &[u8],
    shorthand: bool,
) -> Result<DynamicMessage, String> {
    let desc = route.method.input();
    let mut value = match &route.body {
        Body::None => {
            let mut v = Value::Object(Map::new());
            for (key, text) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
                if FORMAT_PARAMETERS.contains(&key.as_ref()) {
                    continue;
                }
                set_path(&mut v, &desc, &key, &text, true)?;
            }
            v
        }
        Body::Whole => parse_body(body)?,
        Body::Field(field) => {
            let mut v = Value::Object(Map::new());
            if let Value::Object(m) = &mut v {
                m.insert(field.clone(), parse_body(body)?);
            }
            v
        }
    };
    if !value.is_object() {
        return Err(format!(
            "the body must be a JSON object ({}), not {}",
            desc.full_name(),
            kind_of(&value)
        ));
    }
    for (path, text) in vars {
        set_path(&mut value, &desc, path, text, false)?;
    }
    proto_json::from_json(&desc, value, shorthand).map_err(|e| match e {
        ProtoJsonError::Invalid(m) => m,
        other => other.to_string(),
    })
}

/// An empty body is an empty message, as grpc-gateway treats EOF.
fn parse_body(body: &[u8]) -> Result<Value, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Sets the (dotted) field `path` of the JSON object `root` of message `desc` to `text`,
/// typed by the field's kind. Query parameters (`lenient`) naming no field are ignored,
/// as grpc-gateway ignores them, and a repeated field collects every value; path
/// variables always name a field and replace what the body said.
fn set_path(
    root: &mut Value,
    desc: &MessageDescriptor,
    path: &str,
    text: &str,
    lenient: bool,
) -> Result<(), String> {
    let mut desc = desc.clone();
    let mut node = root;
    let names: Vec<&str> = path.split('.').collect();
    for (i, name) in names.iter().enumerate() {
        let Some(field) = field_named(&desc, name) else {
            if lenient {
                tracing::debug!(parameter = path, "query parameter names no field; ignored");
                return Ok(());
            }
            return Err(format!("{} has no field {name}", desc.full_name()));
        };
        let Value::Object(obj) = node else {
            return Err(format!("{path}: {name} is not a message"));
        };
        let key = field.json_name().to_string();
        // The body may have used the proto name; one key per field, or the parser refuses.
        if field.name() != key
            && let Some(v) = obj.remove(field.name())
        {
            obj.insert(key.clone(), v);
        }
        let last = i + 1 == names.len();
        if last {
            let value = scalar_from_text(&field, text).map_err(|e| format!("{path}: {e}"))?;
            if field.is_list() && lenient {
                let slot = obj.entry(key).or_insert_with(|| Value::Array(Vec::new()));
                match slot {
                    Value::Array(items) => items.push(value),
                    other => *other = Value::Array(vec![value]),
                }
            } else {
                obj.insert(key, value);
            }
            return Ok(());
        }
        let Kind::Message(next) = field.kind() else {
            return Err(format!("{path}: {name} is not a message"));
        };
        if field.is_list() || field.is_map() {
            return Err(format!("{path}: {name} is repeated"));
        }
        node = obj.entry(key).or_insert_with(|| Value::Object(Map::new()));
        if !node.is_object() {
            *node = Value::Object(Map::new());
        }
        desc = next;
    }
    Ok(())
}

fn field_named(desc: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    desc.get_field_by_name(name)
        .or_else(|| desc.get_field_by_json_name(name))
}

/// The JSON value of `text` for a field of this kind, in the form the proto-JSON parser
/// takes (64-bit integers as strings, enums by name or number).
fn scalar_from_text(field: &FieldDescriptor, text: &str) -> Result<Value, String> {
    let bad = |what: &str| format!("`{text}` is not {what}");
    Ok(match field.kind() {
        Kind::String | Kind::Bytes => Value::String(text.to_string()),
        Kind::Bool => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("true or false")),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            Value::from(text.parse::<i32>().map_err(|_| bad("a 32-bit integer"))?)
        }
        Kind::Uint32 | Kind::Fixed32 => Value::from(
            text.parse::<u32>()
                .map_err(|_| bad("an unsigned 32-bit integer"))?,
        ),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            text.parse::<i64>().map_err(|_| bad("a 64-bit integer"))?;
            Value::String(text.to_string())
        }
        Kind::Uint64 | Kind::Fixed64 => {
            text.parse::<u64>()
                .map_err(|_| bad("an unsigned 64-bit integer"))?;
            Value::String(text.to_string())
        }
        Kind::Float | Kind::Double => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Value::from(f),
            _ => Value::String(text.to_string()),
        },
        Kind::Enum(_) => match text.parse::<i32>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(text.to_string()),
        },
        // Timestamps, durations, field masks and wrappers are strings (or numbers the
        // parser reads from strings) in proto-JSON.
        Kind::Message(m) if m.package_name() == "google.protobuf" => {
            Value::String(text.to_string())
        }
        Kind::Message(m) => {
            return Err(format!(
                "a {} cannot be given as a single value",
                m.full_name()
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::super::route_table::{Match, RouteTable};
    use super::*;

    fn transcode(
        method: http::Method,
        path: &str,
        query: Option<&str>,
        body: &str,
    ) -> Result<DynamicMessage, String> {
        let t = RouteTable::load().unwrap();
        let Match::Found(route, vars) = t.find(&method, path) else {
            panic!("no route for {path}")
        };
        request_message(route, &vars, query, body.as_bytes(), true)
    }

    #[test]
    fn query_parameters_fill_typed_and_nested_fields() {
        let m = transcode(
            http::Method::GET,
            "/api/v1/namespaces/ns/workflows/w/history",
            Some("execution.runId=r&maximumPageSize=5&historyEventFilterType=2&waitNewEvent=true&pretty&unknown=1"),
            "",
        )
        .unwrap();
        let v = proto_json::dynamic_to_json(&m, true).unwrap();
        assert_eq!(v["namespace"], "ns");
        assert_eq!(v["execution"]["workflowId"], "w");
        assert_eq!(v["execution"]["runId"], "r");
        assert_eq!(v["maximumPageSize"], 5);
        assert_eq!(
            v["historyEventFilterType"],
            "HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT"
        );
        assert_eq!(v["waitNewEvent"], true);
    }

    #[test]
    fn path_variables_override_the_body_even_in_proto_naming() {
        let m = transcode(
            http::Method::POST,
            "/namespaces/ns/workflows/w/signal/go",
            None,
            r#"{"workflow_execution": {"workflow_id": "other", "run_id": "r"}, "input": [1]}"#,
        )
        .unwrap();
        let v = proto_json::dynamic_to_json(&m, true).unwrap();
        assert_eq!(v["workflowExecution"]["workflowId"], "w");
        assert_eq!(v["workflowExecution"]["runId"], "r");
        assert_eq!(v["signalName"], "go");
        assert_eq!(v["input"], serde_json::json!([1]));
    }

    #[test]
    fn bad_bodies_and_values_say_what_is_wrong() {
        let e = transcode(
            http::Method::POST,
            "/namespaces/ns/workflows/w/cancel",
            None,
            "{nope",
        )
        .unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        let e = transcode(
            http::Method::POST,
            "/namespaces/ns/workflows/w/cancel",
            None,
            "[1]",
        )
        .unwrap_err();
        assert!(e.contains("must be a JSON object"), "{e}");
        let e = transcode(
            http::Method::POST,
            "/namespaces/ns/workflows/w/cancel",
            None,
            r#"{"bogus": 1}"#,
        )
        .unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        let e = transcode(
            http::Method::GET,
            "/namespaces/ns/workflows",
            Some("pageSize=many"),
            "",
        )
        .unwrap_err();
        assert!(e.contains("pageSize") && e.contains("many"), "{e}");
    }
}
