//! Workflow types by Temporal type name, from link-time registrations.

use std::{collections::HashMap, fmt, rc::Rc, sync::Arc};

use temporalio_common::{WorkflowDefinition, data_converters::DataConverter};
use temporalio_workflow::{
    __private::sdk::{GuestWorkflowInstance, WorkflowHost, WorkflowInit, WorkflowInstance},
    BaseWorkflowContext,
    workflows::{WorkflowDefinitionDescriptor, WorkflowImplementation},
};

use crate::error::WorkerError;

/// Creates one run's guest instance. Errors (e.g. undecodable input) become workflow-task
/// failures.
pub type WorkflowFactory = Arc<
    dyn Fn(
            WorkflowInit,
            DataConverter,
            Rc<dyn WorkflowHost>,
        ) -> Result<Box<dyn WorkflowInstance>, anyhow::Error>
        + Send
        + Sync,
>;

/// A link-time workflow registration, submitted by
/// [`#[hourglass_worker::register]`](macro@crate::register) through `inventory`.
pub struct WorkflowRegistration {
    name: fn() -> &'static str,
    definition: fn() -> WorkflowDefinitionDescriptor,
    factory: fn() -> WorkflowFactory,
}

impl WorkflowRegistration {
    /// The registration of workflow implementation `W` (what the attribute macro submits).
    pub const fn of<W>() -> Self
    where
        W: WorkflowImplementation,
        <W::Run as WorkflowDefinition>::Input: Send,
    {
        Self {
            name: W::name,
            definition: W::definition,
            factory: factory_of::<W>,
        }
    }

    /// The Temporal workflow type name of this registration.
    pub fn workflow_type(&self) -> &'static str {
        (self.name)()
    }
}

inventory::collect!(WorkflowRegistration);

fn factory_of<W>() -> WorkflowFactory
where
    W: WorkflowImplementation,
    <W::Run as WorkflowDefinition>::Input: Send,
{
    Arc::new(|init: WorkflowInit, data_converter: DataConverter, host| {
        let payloads = init.initialize_workflow.arguments.clone();
        let payload_converter = data_converter.payload_converter().clone();
        // No patch-activation callback and no interceptors: the same defaults the official
        // worker uses when none are configured.
        let base_ctx = BaseWorkflowContext::from_raw(init, data_converter, host, None, Vec::new());
        GuestWorkflowInstance::<W>::instantiate(payloads, payload_converter, base_ctx)
            .map_err(|e| anyhow::anyhow!("failed to instantiate workflow {}: {e}", W::name()))
    })
}

#[derive(Clone)]
struct RegisteredWorkflow {
    definition: WorkflowDefinitionDescriptor,
    factory: WorkflowFactory,
}

/// Workflow types by Temporal type name. Cheap to clone; `Send + Sync`.
#[derive(Clone, Default)]
pub struct WorkflowDefinitions {
    workflows: HashMap<String, RegisteredWorkflow>,
}

impl WorkflowDefinitions {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every workflow registered at link time in this binary.
    ///
    /// Errors if two registrations claim the same type name (nothing is silently shadowed).
    pub fn from_registered() -> Result<Self, WorkerError> {
        let mut defs = Self::new();
        for reg in inventory::iter::<WorkflowRegistration> {
            defs.insert((reg.definition)(), (reg.factory)())?;
        }
        tracing::debug!(workflows = ?defs.workflow_types(), "collected registered workflows");
        Ok(defs)
    }

    /// Adds workflow implementation `W` under its type name. Errors on a duplicate name.
    pub fn register<W>(&mut self) -> Result<&mut Self, WorkerError>
    where
        W: WorkflowImplementation,
        <W::Run as WorkflowDefinition>::Input: Send,
    {
        self.insert(W::definition(), factory_of::<W>())?;
        Ok(self)
    }

    fn insert(
        &mut self,
        definition: WorkflowDefinitionDescriptor,
        factory: WorkflowFactory,
    ) -> Result<(), WorkerError> {
        let workflow_type = definition.workflow_type.clone();
        if self.workflows.contains_key(&workflow_type) {
            return Err(WorkerError::DuplicateWorkflowType { workflow_type });
        }
        self.workflows.insert(
            workflow_type,
            RegisteredWorkflow {
                definition,
                factory,
            },
        );
        Ok(())
    }

    /// The factory for `workflow_type`, if registered.
    pub fn get(&self, workflow_type: &str) -> Option<WorkflowFactory> {
        self.workflows.get(workflow_type).map(|w| w.factory.clone())
    }

    /// The static description (signals, queries, updates) of `workflow_type`, if registered.
    pub fn definition(&self, workflow_type: &str) -> Option<&WorkflowDefinitionDescriptor> {
        self.workflows.get(workflow_type).map(|w| &w.definition)
    }

    /// Registered type names, sorted.
    pub fn workflow_types(&self) -> Vec<String> {
        let mut names: Vec<_> = self.workflows.keys().cloned().collect();
        names.sort_unstable();
        names
    }

    /// True if no workflow is registered.
    pub fn is_empty(&self) -> bool {
        self.workflows.is_empty()
    }
}

impl fmt::Debug for WorkflowDefinitions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkflowDefinitions")
            .field("workflows", &self.workflow_types())
            .finish()
    }
}
