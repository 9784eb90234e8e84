//! The HTTP routes of the Temporal API: every `google.api.http` rule (and its additional
//! bindings) on the methods of WorkflowService and OperatorService, read from the
//! descriptors, and the matching of a request's method and path against them.
use super::Bindings;
use super::proto_json::{ProtoJsonError, pool};
use percent_encoding::percent_decode_str;
use prost_reflect::{DynamicMessage, MethodDescriptor, Value as PValue};

/// The services whose rules are served.
const SERVICES: [&str; 2] = [
    "temporal.api.workflowservice.v1.WorkflowService",
    "temporal.api.operatorservice.v1.OperatorService",
];

/// One binding of an HTTP rule.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    /// The RPC it calls.
    pub(crate) method: MethodDescriptor,
    /// The HTTP method it answers.
    pub(crate) http_method: http::Method,
    /// The path template, as written in the rule (for logs).
    pub(crate) template: String,
    segments: Vec<Segment>,
    /// Which part of the request message the body is.
    pub(crate) body: Body,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `{field.path}`: one path segment into that (dotted, proto-named) field.
    Variable(String),
}

/// The rule's `body`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    /// No body: fields not bound by the path come from the query string.
    None,
    /// `body: "*"`: the body is the whole request message (minus path-bound fields).
    Whole,
    /// `body: "field"`: the body is that field.
    Field(String),
}

/// A path's variables: (dotted field path, percent-decoded value).
pub(crate) type PathVariables = Vec<(String, String)>;

/// What a request's method and path matched.
#[derive(Debug)]
pub(crate) enum Match<'a> {
    /// A route, with the path's variables (field path, decoded value).
    Found(&'a Route, PathVariables),
    /// Some route has this path, none this method.
    MethodNotAllowed,
    /// No route has this path.
    NotFound,
}

/// The routes of both services.
#[derive(Debug, Clone)]
pub(crate) struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Reads every rule from the descriptors.
    pub(crate) fn load() -> Result<Self, ProtoJsonError> {
        let pool = pool()?;
        let http = pool
            .get_extension_by_name("google.api.http")
            .ok_or_else(|| ProtoJsonError::UnknownMessage("extension google.api.http".into()))?;
        let mut routes = Vec::new();
        for name in SERVICES {
            let service = pool
                .get_service_by_name(name)
                .ok_or_else(|| ProtoJsonError::UnknownMessage(name.into()))?;
            for method in service.methods() {
                let options = method.options();
                if !options.has_extension(&http) {
                    continue;
                }
                if let PValue::Message(rule) = options.get_extension(&http).as_ref() {
                    add_rule(&method, rule, &mut routes);
                }
            }
        }
        Ok(Self { routes })
    }

    /// The routes whose paths `bindings` serves.
    pub(crate) fn only(&self, bindings: Bindings) -> Self {
        let routes = self
            .routes
            .iter()
            .filter(|r| match bindings {
                Bindings::All => true,
                Bindings::ApiV1 => r.template.starts_with("/api/v1/"),
            })
            .cloned()
            .collect();
        Self { routes }
    }

    /// Every route, in the order the rules are declared.
    #[cfg(test)]
    pub(crate) fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route for a request, preferring the one with the most literal segments (so
    /// `/workflows/{id}/cancel` is not taken for `/workflows/{id}/{other}`).
    pub(crate) fn find(&self, method: &http::Method, path: &str) -> Match<'_> {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let mut best: Option<(&Route, PathVariables, usize)> = None;
        let mut path_known = false;
        for route in &self.routes {
            let Some(vars) = route.bind(&parts) else {
                continue;
            };
            path_known = true;
            if route.http_method != *method {
                continue;
            }
            let literals = route.literal_count();
            if best.as_ref().is_none_or(|(_, _, l)| literals > *l) {
                best = Some((route, vars, literals));
            }
        }
        match best {
            Some((route, vars, _)) => Match::Found(route, vars),
            None if path_known => Match::MethodNotAllowed,
            None => Match::NotFound,
        }
    }
}

impl Route {
    /// The path's variables if `parts` (the request path's segments) fits the template.
    fn bind(&self, parts: &[&str]) -> Option<PathVariables> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut vars = Vec::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(l) if l == part => {}
                Segment::Literal(_) => return None,
                Segment::Variable(_) if part.is_empty() => return None,
                Segment::Variable(field) => {
                    let value = percent_decode_str(part).decode_utf8().ok()?;
                    vars.push((field.clone(), value.into_owned()));
                }
            }
        }
        Some(vars)
    }

    fn literal_count(&self) -> usize {
        self.segments
            .iter()
            .filter(|s| matches!(s, Segment::Literal(_)))
            .count()
    }

    /// The gRPC path of the RPC: `/package.Service/Method`.
    pub(crate) fn grpc_path(&self) -> String {
        format!(
            "/{}/{}",
            self.method.parent_service().full_name(),
            self.method.name()
        )
    }
}

/// Adds the bindings of one `google.api.HttpRule` (and its additional bindings).
fn add_rule(method: &MethodDescriptor, rule: &DynamicMessage, out: &mut Vec<Route>) {
    let text = |name: &str| match rule.get_field_by_name(name).as_deref() {
        Some(PValue::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    let verbs = [
        ("get", http::Method::GET),
        ("post", http::Method::POST),
        ("put", http::Method::PUT),
        ("delete", http::Method::DELETE),
        ("patch", http::Method::PATCH),
    ];
    let body = match text("body") {
        None => Body::None,
        Some(b) if b == "*" => Body::Whole,
        Some(b) => Body::Field(b),
    };
    for (verb, http_method) in verbs {
        if let Some(template) = text(verb) {
            out.push(Route {
                method: method.clone(),
                http_method,
                segments: parse_template(&template),
                template,
                body: body.clone(),
            });
        }
    }
    if let Some(PValue::List(more)) = rule.get_field_by_name("additional_bindings").as_deref() {
        for binding in more {
            if let PValue::Message(b) = binding {
                add_rule(method, b, out);
            }
        }
    }
}

/// `/namespaces/{namespace}/workflows/{execution.workflow_id}` → segments. Temporal's
/// templates use literals and `{field.path}` variables only.
fn parse_template(template: &str) -> Vec<Segment> {
    template
        .trim_matches('/')
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(var) => Segment::Variable(var.split('=').next().unwrap_or(var).to_string()),
                None => Segment::Literal(s.to_string()),
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_of_both_services_is_read() {
        let all = RouteTable::load().unwrap();
        let v1 = all.only(Bindings::ApiV1);
        assert!(all.routes().len() > 150, "{}", all.routes().len());
        assert!(
            v1.routes()
                .iter()
                .all(|r| r.template.starts_with("/api/v1/"))
        );
        assert!(v1.routes().len() * 2 <= all.routes().len() + 2);
    }

    #[test]
    fn paths_bind_their_variables_and_prefer_literals() {
        let t = RouteTable::load().unwrap();
        let Match::Found(r, vars) = t.find(
            &http::Method::POST,
            "/api/v1/namespaces/default/workflows/a%2Fb/signal/go",
        ) else {
            panic!("no route")
        };
        assert_eq!(r.method.name(), "SignalWorkflowExecution");
        assert_eq!(r.body, Body::Whole);
        assert_eq!(
            vars,
            vec![
                ("namespace".into(), "default".into()),
                ("workflow_execution.workflow_id".into(), "a/b".into()),
                ("signal_name".into(), "go".into()),
            ]
        );
        let Match::Found(r, _) = t.find(&http::Method::POST, "/namespaces/d/workflows/w/cancel")
        else {
            panic!("no route")
        };
        assert_eq!(r.method.name(), "RequestCancelWorkflowExecution");
        assert_eq!(
            r.grpc_path(),
            "/temporal.api.workflowservice.v1.WorkflowService/RequestCancelWorkflowExecution"
        );
    }

    #[test]
    fn a_known_path_with_another_method_is_told_apart_from_an_unknown_path() {
        let t = RouteTable::load().unwrap();
        assert!(matches!(
            t.find(&http::Method::DELETE, "/system-info"),
            Match::MethodNotAllowed
        ));
        assert!(matches!(
            t.find(&http::Method::GET, "/nope"),
            Match::NotFound
        ));
        assert!(matches!(
            t.find(&http::Method::GET, "/namespaces//workflows"),
            Match::NotFound
        ));
    }
}
