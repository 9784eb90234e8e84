//! Activity types by Temporal type name, from link-time registrations.
//!
//! `ExecutableActivity` and `ActivityImplementer` mirror the traits of the same names in
//! temporalio-sdk 1.1.1 `src/activities.rs` (MIT, Copyright (c) 2021 Temporal Technologies, Inc.),
//! with Hourglass's [`ActivityContext`].

use std::{collections::HashMap, fmt, panic::AssertUnwindSafe, sync::Arc};

use futures::{FutureExt, future::BoxFuture};
use temporalio_common::{
    ActivityDefinition, ActivityError,
    data_converters::{
        ActivitySerializationContext, GenericPayloadConverter, PayloadConverter,
        SerializationContext, SerializationContextData,
    },
    error::ApplicationFailure,
    protos::temporal::api::common::v1::Payload,
};

use super::ActivityContext;
use crate::{error::WorkerError, panic_message::panic_message};

/// Runs one activity: decodes the input, calls the function (catching panics), encodes the output.
pub type ActivityInvocation = Arc<
    dyn Fn(
            Vec<Payload>,
            PayloadConverter,
            ActivityContext,
        ) -> BoxFuture<'static, Result<Payload, ActivityError>>
        + Send
        + Sync,
>;

/// Implemented by [`#[activities]`](macro@crate::activities) for each activity marker type.
pub trait ExecutableActivity: ActivityDefinition + Sized {
    /// Type containing the activity implementation.
    type Implementer: ActivityImplementer + Send + Sync + 'static;
    /// Whether this activity takes `self: Arc<Self>` and so needs an instance.
    const REQUIRES_INSTANCE: bool;
    /// The marker value.
    fn definition() -> Self;
    /// Runs the activity with typed input.
    fn execute(
        receiver: Option<Arc<Self::Implementer>>,
        ctx: ActivityContext,
        input: Self::Input,
    ) -> BoxFuture<'static, Result<Self::Output, ActivityError>>;
}

/// Implemented by [`#[activities]`](macro@crate::activities) for the type whose impl block
/// defines activities.
pub trait ActivityImplementer {
    /// Registers every activity of this type. `instance` may be `None` only if no activity takes
    /// `self: Arc<Self>`.
    fn register_all(
        instance: Option<Arc<Self>>,
        defs: &mut ActivityDefinitions,
    ) -> Result<(), WorkerError>;
}

/// A link-time activity registration (one impl block), submitted by
/// [`#[activities]`](macro@crate::activities) or [`register_activities!`](crate::register_activities).
pub struct ActivityRegistration {
    implementer: &'static str,
    register: fn(&mut ActivityDefinitions) -> Result<(), WorkerError>,
}

impl ActivityRegistration {
    /// A registration named after its implementer, registering through `register`.
    pub const fn new(
        implementer: &'static str,
        register: fn(&mut ActivityDefinitions) -> Result<(), WorkerError>,
    ) -> Self {
        Self {
            implementer,
            register,
        }
    }

    /// The implementing type (or instance expression), as written in the source.
    pub fn implementer(&self) -> &'static str {
        self.implementer
    }
}

inventory::collect!(ActivityRegistration);

/// Activity types by Temporal type name. Cheap to clone; `Send + Sync`.
#[derive(Clone, Default)]
pub struct ActivityDefinitions {
    activities: HashMap<String, ActivityInvocation>,
}

impl ActivityDefinitions {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every activity registered at link time in this binary. Errors on a duplicate type name or
    /// a failing registration (nothing is silently shadowed).
    pub fn from_registered() -> Result<Self, WorkerError> {
        let mut defs = Self::new();
        for reg in inventory::iter::<ActivityRegistration> {
            (reg.register)(&mut defs).map_err(|source| WorkerError::ActivityRegistration {
                implementer: reg.implementer,
                source: Box::new(source),
            })?;
        }
        tracing::debug!(activities = ?defs.activity_types(), "collected registered activities");
        Ok(defs)
    }

    /// Registers every activity of an implementer instance.
    pub fn register_activities<AI: ActivityImplementer>(
        &mut self,
        instance: AI,
    ) -> Result<&mut Self, WorkerError> {
        AI::register_all(Some(Arc::new(instance)), self)?;
        Ok(self)
    }

    /// Registers one activity. `instance` is required if the activity takes `self: Arc<Self>`.
    pub fn register_activity<AD>(
        &mut self,
        instance: Option<Arc<AD::Implementer>>,
    ) -> Result<&mut Self, WorkerError>
    where
        AD: ExecutableActivity,
        AD::Input: Send,
        AD::Output: Send,
    {
        let activity_type = AD::definition().name().to_owned();
        if AD::REQUIRES_INSTANCE && instance.is_none() {
            return Err(WorkerError::MissingActivityInstance { activity_type });
        }
        let invocation: ActivityInvocation = Arc::new(move |payloads, converter, ctx| {
            let instance = instance.clone();
            async move {
                let context_data =
                    SerializationContextData::Activity(ActivitySerializationContext::new());
                let input: AD::Input = converter.from_payloads(
                    &SerializationContext::new(&context_data, &converter),
                    payloads,
                )?;
                let output = match AssertUnwindSafe(AD::execute(instance, ctx, input))
                    .catch_unwind()
                    .await
                {
                    Ok(result) => result?,
                    Err(panic) => {
                        return Err(ApplicationFailure::new(anyhow::anyhow!(
                            "Activity function panicked: {}",
                            panic_message(panic.as_ref())
                        ))
                        .into());
                    }
                };
                Ok(converter.to_payload(
                    &SerializationContext::new(&context_data, &converter),
                    &output,
                )?)
            }
            .boxed()
        });
        self.insert(activity_type, invocation)?;
        Ok(self)
    }

    /// Registers a hand-written invocation under `activity_type` (e.g. an untyped/dynamic
    /// activity). Errors on a duplicate name.
    pub fn insert(
        &mut self,
        activity_type: String,
        invocation: ActivityInvocation,
    ) -> Result<(), WorkerError> {
        if self.activities.contains_key(&activity_type) {
            return Err(WorkerError::DuplicateActivityType { activity_type });
        }
        self.activities.insert(activity_type, invocation);
        Ok(())
    }

    /// The invocation for `activity_type`, if registered.
    pub fn get(&self, activity_type: &str) -> Option<ActivityInvocation> {
        self.activities.get(activity_type).cloned()
    }

    /// Registered type names, sorted.
    pub fn activity_types(&self) -> Vec<String> {
        let mut names: Vec<_> = self.activities.keys().cloned().collect();
        names.sort_unstable();
        names
    }

    /// True if no activity is registered.
    pub fn is_empty(&self) -> bool {
        self.activities.is_empty()
    }
}

impl fmt::Debug for ActivityDefinitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActivityDefinitions")
            .field("activities", &self.activity_types())
            .finish()
    }
}
