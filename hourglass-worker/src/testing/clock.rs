//! The environment's clock: the server's virtual clock (Temporal's TestService) under time
//! skipping, the wall clock otherwise.
//!
//! A time-skipping environment follows the official SDKs' time-skipping environments: the
//! server starts with time skipping locked (time runs with the wall clock, so a test can act
//! on a waiting workflow), and the environment unlocks it while a helper waits on a workflow's
//! result and during [`TestEnvironment::sleep`](super::TestEnvironment::sleep), so time jumps
//! to the next timer whenever no workflow task or activity is outstanding.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hourglass_bridge::protos::temporal::api::testservice::v1::{
    LockTimeSkippingRequest, SleepRequest, UnlockTimeSkippingRequest,
    test_service_client::TestServiceClient,
};
use tokio::sync::Mutex;
use tonic::transport::Channel;

use super::TestEnvError;

/// Which clock an environment runs on.
#[derive(Clone)]
pub(crate) enum Clock {
    /// The wall clock (a normal dev server).
    Wall,
    /// The server's virtual clock.
    Skipping(Arc<Skipping>),
}

pub(crate) struct Skipping {
    client: TestServiceClient<Channel>,
    /// Helpers currently waiting with time skipping unlocked; the first unlocks the server,
    /// the last locks it again, so the server's lock count stays balanced.
    waiters: Mutex<usize>,
}

fn rpc(call: &'static str) -> impl FnOnce(tonic::Status) -> TestEnvError {
    move |status| TestEnvError::TimeSkipping {
        call,
        status: Box::new(status),
    }
}

impl Clock {
    /// The virtual clock of the server at `url`.
    pub(crate) async fn skipping(url: &str) -> Result<Clock, TestEnvError> {
        let client = TestServiceClient::connect(url.to_owned())
            .await
            .map_err(|e| TestEnvError::TimeSkipping {
                call: "connect",
                status: Box::new(tonic::Status::unavailable(e.to_string())),
            })?;
        Ok(Clock::Skipping(Arc::new(Skipping {
            client,
            waiters: Mutex::new(0),
        })))
    }

    /// The server's current time.
    pub(crate) async fn now(&self) -> Result<SystemTime, TestEnvError> {
        let Clock::Skipping(s) = self else {
            return Ok(SystemTime::now());
        };
        let response = s
            .client
            .clone()
            .get_current_time(())
            .await
            .map_err(rpc("GetCurrentTime"))?
            .into_inner();
        let time = response.time.ok_or_else(|| TestEnvError::TimeSkipping {
            call: "GetCurrentTime",
            status: Box::new(tonic::Status::internal("the server returned no time")),
        })?;
        SystemTime::try_from(time).map_err(|e| TestEnvError::TimeSkipping {
            call: "GetCurrentTime",
            status: Box::new(tonic::Status::internal(format!("bad time: {e}"))),
        })
    }

    /// Lets `duration` pass: on the virtual clock with time skipping unlocked (returns as
    /// soon as the server's time reached it), else on the wall clock.
    pub(crate) async fn sleep(&self, duration: Duration) -> Result<(), TestEnvError> {
        let Clock::Skipping(s) = self else {
            tokio::time::sleep(duration).await;
            return Ok(());
        };
        let request = SleepRequest {
            duration: duration.try_into().ok(),
        };
        let mut client = s.client.clone();
        let waiters = s.waiters.lock().await;
        if *waiters == 0 {
            drop(waiters);
            client
                .unlock_time_skipping_with_sleep(request)
                .await
                .map_err(rpc("UnlockTimeSkippingWithSleep"))?;
        } else {
            // Already unlocked by a waiting helper.
            drop(waiters);
            client.sleep(request).await.map_err(rpc("Sleep"))?;
        }
        Ok(())
    }

    /// Runs `fut` with time skipping unlocked (a no-op on the wall clock).
    pub(crate) async fn unlocked<T>(
        &self,
        fut: impl Future<Output = T>,
    ) -> Result<T, TestEnvError> {
        let Clock::Skipping(s) = self else {
            return Ok(fut.await);
        };
        s.enter().await?;
        let guard = Relock(Some(s.clone()));
        let out = fut.await;
        guard.release().await?;
        Ok(out)
    }
}

impl Skipping {
    async fn enter(&self) -> Result<(), TestEnvError> {
        let mut waiters = self.waiters.lock().await;
        if *waiters == 0 {
            self.client
                .clone()
                .unlock_time_skipping(UnlockTimeSkippingRequest {})
                .await
                .map_err(rpc("UnlockTimeSkipping"))?;
            tracing::debug!("test environment: time skipping unlocked");
        }
        *waiters += 1;
        Ok(())
    }

    async fn leave(&self) -> Result<(), TestEnvError> {
        let mut waiters = self.waiters.lock().await;
        *waiters = waiters.saturating_sub(1);
        if *waiters == 0 {
            self.client
                .clone()
                .lock_time_skipping(LockTimeSkippingRequest {})
                .await
                .map_err(rpc("LockTimeSkipping"))?;
            tracing::debug!("test environment: time skipping locked");
        }
        Ok(())
    }
}

/// Locks time skipping again when a waiting helper ends, also when its future is dropped.
struct Relock(Option<Arc<Skipping>>);

impl Relock {
    async fn release(mut self) -> Result<(), TestEnvError> {
        match self.0.take() {
            Some(s) => s.leave().await,
            None => Ok(()),
        }
    }
}

impl Drop for Relock {
    fn drop(&mut self) {
        // Only reached when the helper's future was dropped mid-wait.
        if let Some(s) = self.0.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            handle.spawn(async move {
                if let Err(e) = s.leave().await {
                    tracing::warn!(error = %e, "test environment: re-locking time skipping failed");
                }
            });
        }
    }
}
