//! Temporal's `TestService` (served only by a time-skipping server, as only Temporal's
//! test server serves it): lock and unlock time skipping, sleep on the virtual clock, and
//! read it. Semantics are the Java test server's `TestService`.
use crate::engine::Engine;
use crate::generated_test::test_service_server::TestService;
use crate::history::events::{dur_ms, ts, ts_ms};
use crate::timers::time_source::TimeSkippingError;
use std::sync::Arc;
use temporalio_protos::temporal::api::testservice::v1 as t;
use tonic::{Request, Response, Status};

/// The TestService over an engine's clock.
#[derive(Clone)]
pub struct TimeSkipping {
    engine: Arc<Engine>,
}

impl TimeSkipping {
    /// Wraps an engine (whose clock must be a skipping one; otherwise every call fails).
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }

    /// Waits until virtual time reaches `at_ms`.
    async fn sleep_until_ms(&self, at_ms: i64, unlock_first: bool) -> Result<(), Status> {
        let rx = {
            // Under the engine's lock, so the work counted is the work there is.
            let g = self.engine.lock_all();
            let outstanding = unlock_first.then(|| g.outstanding_work());
            g.s.time.sleep_until(at_ms, outstanding).map_err(status)?
        };
        // The timer loop owns the clock: tell it there is a new deadline to consider.
        self.engine.timer_notify.notify_one();
        rx.await
            .map_err(|_| Status::unavailable("the server stopped while sleeping"))
    }
}

fn status(e: TimeSkippingError) -> Status {
    match e {
        TimeSkippingError::NotEnabled => Status::unimplemented(e.to_string()),
        TimeSkippingError::Unbalanced => Status::failed_precondition(e.to_string()),
    }
}

/// A request duration in milliseconds; negative is InvalidArgument.
fn duration_ms(d: &Option<prost_wkt_types::Duration>) -> Result<i64, Status> {
    if d.as_ref().is_some_and(|d| d.seconds < 0 || d.nanos < 0) {
        return Err(Status::invalid_argument("duration must not be negative"));
    }
    Ok(dur_ms(d))
}

#[tonic::async_trait]
impl TestService for TimeSkipping {
    async fn lock_time_skipping(
        &self,
        _r: Request<t::LockTimeSkippingRequest>,
    ) -> Result<Response<t::LockTimeSkippingResponse>, Status> {
        self.engine.time.lock().map_err(status)?;
        Ok(Response::new(t::LockTimeSkippingResponse {}))
    }

    async fn unlock_time_skipping(
        &self,
        _r: Request<t::UnlockTimeSkippingRequest>,
    ) -> Result<Response<t::UnlockTimeSkippingResponse>, Status> {
        {
            let g = self.engine.lock_all();
            g.s.time.unlock(g.outstanding_work()).map_err(status)?;
        }
        self.engine.timer_notify.notify_one();
        Ok(Response::new(t::UnlockTimeSkippingResponse {}))
    }

    async fn sleep(
        &self,
        r: Request<t::SleepRequest>,
    ) -> Result<Response<t::SleepResponse>, Status> {
        let d = duration_ms(&r.get_ref().duration)?;
        self.sleep_until_ms(self.engine.now_ms() + d, false).await?;
        Ok(Response::new(t::SleepResponse {}))
    }

    async fn sleep_until(
        &self,
        r: Request<t::SleepUntilRequest>,
    ) -> Result<Response<t::SleepResponse>, Status> {
        let at = r.get_ref().timestamp.as_ref().map(ts_ms).unwrap_or(0);
        self.sleep_until_ms(at, false).await?;
        Ok(Response::new(t::SleepResponse {}))
    }

    async fn unlock_time_skipping_with_sleep(
        &self,
        r: Request<t::SleepRequest>,
    ) -> Result<Response<t::SleepResponse>, Status> {
        let d = duration_ms(&r.get_ref().duration)?;
        self.sleep_until_ms(self.engine.now_ms() + d, true).await?;
        Ok(Response::new(t::SleepResponse {}))
    }

    async fn get_current_time(
        &self,
        _r: Request<()>,
    ) -> Result<Response<t::GetCurrentTimeResponse>, Status> {
        Ok(Response::new(t::GetCurrentTimeResponse {
            time: Some(ts(self.engine.now_ms())),
        }))
    }
}
