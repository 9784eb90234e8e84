//! Time-skipping mode: the official Python SDK's time-skipping environment runs our binary
//! as its test server (`tests/python/time_skipping.py`: a 30-day sleep, manual sleeps,
//! retry backoffs, activity timeouts, a run timeout and a daily schedule on the virtual clock, auto skipping
//! disabled), and
//! Temporal's TestService is checked from Rust: the clock, sleeps, lock balance, and that a
//! plain dev server does not serve it.
mod common;

use common::python_scenario;
use hourglass_devserver::{DevServer, TimeSkipping};
use std::time::Duration;
use temporalio_common::protos::temporal::api::testservice::v1::{
    LockTimeSkippingRequest, SleepRequest, UnlockTimeSkippingRequest,
    test_service_client::TestServiceClient,
};

async fn run_scenario(name: &str) {
    let binary = env!("CARGO_BIN_EXE_hourglass-devserver").to_string();
    let args = vec![name.to_string(), binary];
    let text = python_scenario("time_skipping.py", args, vec![], Duration::from_secs(240)).await;
    for line in text.lines().filter(|l| l.starts_with("wall=")) {
        println!("{line}");
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            run_scenario(stringify!($name)).await;
        }
    )*};
}

scenarios!(
    ts_thirty_days,
    ts_manual_sleep,
    ts_retry_backoff,
    ts_activity_timeouts,
    ts_auto_skipping_disabled,
    ts_schedule,
    ts_run_timeout,
);

async fn client(url: String) -> TestServiceClient<tonic::transport::Channel> {
    TestServiceClient::connect(url).await.unwrap()
}

fn sleep(secs: i64) -> SleepRequest {
    SleepRequest {
        duration: Some(prost_wkt_types::Duration {
            seconds: secs,
            nanos: 0,
        }),
    }
}

#[tokio::test]
async fn test_service_sleeps_on_the_virtual_clock_and_refuses_unbalanced_unlocks() {
    let server = DevServer::builder()
        .port(0)
        .time_skipping(TimeSkipping::Unlocked)
        .start()
        .await
        .unwrap();
    let mut c = client(server.url()).await;
    let t0 = c
        .get_current_time(())
        .await
        .unwrap()
        .into_inner()
        .time
        .unwrap();
    let wall = std::time::Instant::now();
    c.sleep(sleep(7 * 86_400)).await.unwrap();
    assert!(
        wall.elapsed() < Duration::from_secs(30),
        "{:?}",
        wall.elapsed()
    );
    let t1 = c
        .get_current_time(())
        .await
        .unwrap()
        .into_inner()
        .time
        .unwrap();
    assert!(t1.seconds - t0.seconds >= 7 * 86_400, "{t0:?} -> {t1:?}");

    let err = c
        .unlock_time_skipping(UnlockTimeSkippingRequest {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err}");
    assert!(err.message().contains("Unbalanced"), "{err}");
    let err = c.sleep(sleep(-1)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");

    // Locked, a sleep waits on the wall clock: a short one returns after its real time.
    c.lock_time_skipping(LockTimeSkippingRequest {})
        .await
        .unwrap();
    let wall = std::time::Instant::now();
    c.sleep(sleep(1)).await.unwrap();
    assert!(
        wall.elapsed() >= Duration::from_millis(900),
        "{:?}",
        wall.elapsed()
    );
    c.unlock_time_skipping(UnlockTimeSkippingRequest {})
        .await
        .unwrap();
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_dev_server_does_not_serve_the_test_service() {
    let server = DevServer::builder().port(0).start().await.unwrap();
    let mut c = client(server.url()).await;
    let err = c.get_current_time(()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented, "{err}");
    server.shutdown().await.unwrap();
}
