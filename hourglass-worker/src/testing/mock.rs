//! Activity mocks: a closure served under an activity type name in place of (or in addition
//! to) the registered implementation.

use std::{future::Future, panic::AssertUnwindSafe, sync::Arc};

use futures::FutureExt;
use serde::{Serialize, de::DeserializeOwned};

use crate::activity::{
    ActivityContext, ActivityDefinitions, ActivityError, ActivityInvocation, ApplicationFailure,
};
use crate::panic_message::panic_message;
use crate::payload::{from_payload, to_payload};

/// An invocation running `f` with the JSON-decoded first argument (`null` when the
/// activity got none) and JSON-encoding its result. Undecodable input is a non-retryable
/// failure; a panic in `f` is a retryable one, as for registered activities.
pub(crate) fn invocation<I, O, F, Fut>(activity_type: &str, f: F) -> ActivityInvocation
where
    I: DeserializeOwned + 'static,
    O: Serialize + 'static,
    F: Fn(ActivityContext, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, ActivityError>> + Send + 'static,
{
    let f = Arc::new(f);
    let activity_type = activity_type.to_owned();
    Arc::new(move |payloads, _converter, ctx| {
        let f = f.clone();
        let activity_type = activity_type.clone();
        async move {
            let input: I = match payloads.first() {
                Some(p) => from_payload(p).map_err(|e| non_retryable(&activity_type, e))?,
                None => serde_json::from_value(serde_json::Value::Null)
                    .map_err(|e| non_retryable(&activity_type, e))?,
            };
            let output = match AssertUnwindSafe(f(ctx, input)).catch_unwind().await {
                Ok(result) => result?,
                Err(panic) => {
                    return Err(ApplicationFailure::new(anyhow::anyhow!(
                        "mocked activity {activity_type} panicked: {}",
                        panic_message(panic.as_ref())
                    ))
                    .into());
                }
            };
            to_payload(&output).map_err(|e| non_retryable(&activity_type, e))
        }
        .boxed()
    })
}

fn non_retryable(activity_type: &str, e: impl std::fmt::Display) -> ActivityError {
    ApplicationFailure::non_retryable(anyhow::anyhow!("mocked activity {activity_type}: {e}"))
        .into()
}

/// `registered` with every type in `mocks` served by its mock instead.
pub(crate) fn with_mocks(
    registered: &ActivityDefinitions,
    mocks: &[(String, ActivityInvocation)],
) -> Result<ActivityDefinitions, crate::WorkerError> {
    let mut out = ActivityDefinitions::new();
    for activity_type in registered.activity_types() {
        if mocks.iter().any(|(t, _)| *t == activity_type) {
            continue;
        }
        if let Some(invocation) = registered.get(&activity_type) {
            out.insert(activity_type, invocation)?;
        }
    }
    for (activity_type, invocation) in mocks {
        out.insert(activity_type.clone(), invocation.clone())?;
    }
    Ok(out)
}
