//! `hourglass server start-dev` takes the command line the official SDKs give the Temporal
//! CLI when they start a dev server themselves (`--namespace`, `--ip`, `--log-format`,
//! `--log-level`, `--dynamic-config-value`, `--headless`), and `--time-skipping` runs it on
//! Temporal's virtual clock with the TestService served.
use hourglass_tests::child_output::{KillOnDrop, free_port};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use temporalio_protos::temporal::api::testservice::v1::{
    SleepRequest, test_service_client::TestServiceClient,
};

const BIN: &str = env!("CARGO_BIN_EXE_hourglass");

/// Starts `start-dev` with the SDKs' arguments plus `extra`; answers the child once it
/// printed its address line.
fn start_dev(port: u16, extra: &[&str]) -> KillOnDrop {
    let port = port.to_string();
    let mut args = vec![
        "server",
        "start-dev",
        "--port",
        &port,
        "--namespace",
        "default",
        "--ip",
        "127.0.0.1",
        "--log-format",
        "pretty",
        "--log-level",
        "warn",
        "--dynamic-config-value",
        "frontend.enableServerVersionCheck=false",
        "--headless",
    ];
    args.extend_from_slice(extra);
    let mut child = KillOnDrop(
        Command::new(BIN)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn hourglass"),
    );
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("an address line").expect("utf-8");
    assert!(first.contains(&format!("127.0.0.1:{port}")), "{first}");
    child
}

#[tokio::test]
async fn time_skipping_serves_the_test_service_and_skips_a_week_at_once() {
    let port = free_port();
    let _server = start_dev(port, &["--time-skipping"]);
    let mut ts = TestServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    let t0 = ts
        .get_current_time(())
        .await
        .unwrap()
        .into_inner()
        .time
        .unwrap();
    let wall = Instant::now();
    ts.sleep(SleepRequest {
        duration: Some(prost_wkt_types::Duration {
            seconds: 7 * 86_400,
            nanos: 0,
        }),
    })
    .await
    .unwrap();
    assert!(
        wall.elapsed() < Duration::from_secs(30),
        "{:?}",
        wall.elapsed()
    );
    let t1 = ts
        .get_current_time(())
        .await
        .unwrap()
        .into_inner()
        .time
        .unwrap();
    assert!(t1.seconds - t0.seconds >= 7 * 86_400, "{t0:?} -> {t1:?}");
}

#[tokio::test]
async fn without_time_skipping_the_test_service_is_not_served() {
    let port = free_port();
    let _server = start_dev(port, &[]);
    let mut ts = TestServiceClient::connect(format!("http://127.0.0.1:{port}"))
        .await
        .unwrap();
    let err = ts.get_current_time(()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unimplemented, "{err}");
}

#[test]
fn an_unknown_log_level_is_refused_naming_the_choices() {
    let out = Command::new(BIN)
        .args(["server", "start-dev", "--log-level", "loud"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("loud") && err.contains("never"), "{err}");
}

/// An SDK reads the address line and closes its end of the pipe: the lines printed after
/// it (the web UI's address) must not make the server exit on a broken pipe.
#[test]
fn a_closed_stdout_after_the_address_line_does_not_stop_the_server() {
    let port = free_port();
    let mut server = start_dev(port, &[]);
    std::thread::sleep(Duration::from_millis(500));
    let status = server.try_wait().expect("wait on the server");
    assert!(status.is_none(), "start-dev exited: {status:?}");
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .expect("the server still accepts connections");
}
