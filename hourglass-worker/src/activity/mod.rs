//! Activities: definitions, link-time registration by Temporal type name, and execution of the
//! core's activity tasks.
//!
//! Activities are written like the official Rust SDK's, with
//! [`#[hourglass_worker::activities]`](macro@crate::activities) in place of the official
//! `#[activities]` (whose generated code needs `temporalio_sdk`'s `ActivityContext`, which only
//! an in-process core worker can construct):
//!
//! ```ignore
//! use hourglass_worker::activity::{ActivityContext, ActivityError};
//!
//! pub struct Greeter;
//!
//! #[hourglass_worker::activities]
//! impl Greeter {
//!     #[activity]
//!     pub async fn greet(_ctx: ActivityContext, name: String) -> Result<String, ActivityError> {
//!         Ok(format!("Hello, {name}!"))
//!     }
//! }
//! // A workflow calls it exactly as with the official SDK:
//! // ctx.start_activity(Greeter::greet, name, ActivityOptions::start_to_close_timeout(..)).await
//! ```

mod context;
mod executor;
mod registry;

pub use context::{ActivityContext, ActivityHeartbeatDetails, ActivityHost, ActivityInfo};
pub use executor::{ACTIVITY_NOT_FOUND_TYPE, ActivityDispatch, ActivityExecutor, ActivityRun};
pub use registry::{
    ActivityDefinitions, ActivityImplementer, ActivityInvocation, ActivityRegistration,
    ExecutableActivity,
};
/// The error an activity returns (re-exported from `temporalio-common`, as the official SDK does).
pub use temporalio_common::ActivityError;
/// Application failures with type, non-retryable flag, details, next retry delay.
pub use temporalio_common::error::ApplicationFailure;
/// Why the core cancelled an activity.
pub use temporalio_common::protos::coresdk::activity_task::ActivityCancelReason;

/// Errors of activity registration (an alias kept for the generated code).
pub type ActivityRegistrationError = crate::error::WorkerError;

/// Registers an activities implementer instance for link-time discovery, for
/// `#[activities(register = false)]` blocks. The expression is evaluated when a registry is built
/// (`ActivityDefinitions::from_registered`), once per build.
///
/// ```ignore
/// hourglass_worker::register_activities!(MyActivities::new("config"));
/// ```
#[macro_export]
macro_rules! register_activities {
    ($instance:expr) => {
        $crate::__private::inventory::submit! {
            $crate::activity::ActivityRegistration::new(
                ::std::stringify!($instance),
                |defs| $crate::activity::ActivityImplementer::register_all(
                    ::std::option::Option::Some(::std::sync::Arc::new($instance)),
                    defs,
                ),
            )
        }
    };
}
