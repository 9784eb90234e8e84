//! Throughput benchmark: workflows of one activity each, driven by the official Rust SDK
//! worker against the dev server running as its own OS process on the same machine (the
//! `hourglass-devserver` binary, `--port 0`), with durable SQLite (`--db-filename`) and in
//! memory. For each workflow count (default 1,000 and 10,000; override with
//! `HOURGLASS_BENCH_COUNTS=500,2000`) it prints completed workflows per second, the server
//! process's CPU time per workflow (utime + stime from `/proc/PID/stat`, read right before
//! and right after the load), the bench process's own CPU time per workflow (SDK worker and
//! client), and the server's resident memory after the run (`VmRSS`). It asserts nothing
//! about speed. Goals from the issue: ≥ 1,000 wf/s on durable SQLite, flat (±20 %) from
//! 1,000 to 100,000 workflows, ≤ 0.3 ms of server CPU per workflow.
//!
//! Run: `cargo bench -p hourglass-devserver --bench throughput`
#[path = "support/mod.rs"]
mod support;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{BenchActs, env_list, sdk_client};
use temporalio_client::{WorkflowGetResultOptions, WorkflowStartOptions};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext, WorkflowResult,
};

#[workflow]
#[derive(Default)]
pub struct OneActivity;

#[workflow_methods]
impl OneActivity {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, n: u64) -> WorkflowResult<u64> {
        Ok(ctx
            .execute_activity(
                BenchActs::echo,
                n,
                ActivityOptions::start_to_close_timeout(Duration::from_secs(30)),
            )
            .await?)
    }
}

const IN_FLIGHT: usize = 400;

/// Clock ticks per second for `/proc/PID/stat`'s utime and stime: the kernel's `AT_CLKTCK`
/// from this process's auxiliary vector (what `sysconf(_SC_CLK_TCK)` returns; nix's
/// `sysconf` is behind a feature this workspace does not enable), else 100.
fn clock_ticks_per_sec() -> f64 {
    const AT_CLKTCK: u64 = 17;
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        return 100.0;
    };
    for pair in auxv.chunks_exact(16) {
        let key = u64::from_ne_bytes(pair[..8].try_into().unwrap_or_default());
        let value = u64::from_ne_bytes(pair[8..].try_into().unwrap_or_default());
        if key == AT_CLKTCK && value > 0 {
            return value as f64;
        }
    }
    100.0
}

/// utime + stime of a process (`self` or a pid), in clock ticks: fields 14 and 15 of
/// `/proc/PID/stat`, counted after the parenthesised command name.
fn cpu_ticks(pid: &str) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| anyhow::anyhow!("malformed /proc/{pid}/stat"))?;
    // `rest` starts at field 3 (state), so fields 14 and 15 are at indices 11 and 12.
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> anyhow::Result<u64> {
        Ok(fields
            .get(i)
            .ok_or_else(|| anyhow::anyhow!("short /proc/{pid}/stat"))?
            .parse()?)
    };
    Ok(field(11)? + field(12)?)
}

/// The resident set size of a process, in MiB (`VmRSS` from `/proc/PID/status`).
fn rss_mib(pid: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{pid}/status"))?
        .parse()?;
    Ok(kb / 1024.0)
}

/// The dev server as a child process. Dropping it kills (SIGKILL) and reaps the process if
/// [`ServerProcess::stop`] did not already.
struct ServerProcess {
    child: Option<Child>,
    pid: u32,
    addr: String,
}

impl ServerProcess {
    /// Spawns `hourglass-devserver --port 0 [--db-filename PATH]` and waits for its
    /// `listening on IP:PORT` line.
    async fn spawn(db: Option<&Path>) -> anyhow::Result<Self> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hourglass-devserver"));
        cmd.args(["--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env("RUST_LOG", "warn");
        if let Some(path) = db {
            cmd.arg("--db-filename").arg(path);
        }
        let mut child = cmd.spawn()?;
        let stdout = child.stdout.take();
        let mut server = ServerProcess {
            pid: child.id(),
            child: Some(child),
            addr: String::new(),
        };
        let stdout = stdout.ok_or_else(|| anyhow::anyhow!("no stdout pipe"))?;
        let (tx, rx) = tokio::sync::oneshot::channel();
        // Reads the readiness line, then keeps draining stdout until the process exits.
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on ")
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        server.addr = tokio::time::timeout(Duration::from_secs(60), rx)
            .await
            .map_err(|_| anyhow::anyhow!("dev server not listening after 60 s"))?
            .map_err(|_| anyhow::anyhow!("dev server exited before listening"))?;
        Ok(server)
    }

    fn pid(&self) -> String {
        self.pid.to_string()
    }

    /// SIGTERM, then waits up to 30 s for the exit (SIGKILL after that).
    async fn stop(mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = nix::unistd::Pid::from_raw(self.pid as i32);
        if let Err(e) = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM) {
            let _ = child.kill();
            let _ = child.wait();
            anyhow::bail!("SIGTERM to dev server failed: {e}");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait()? {
                anyhow::ensure!(status.success(), "dev server exited with {status}");
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!("dev server still running 30 s after SIGTERM; killed");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Figures {
    elapsed: Duration,
    server_ticks: u64,
    bench_ticks: u64,
    server_rss_mib: f64,
}

async fn run_one(
    label: &str,
    db: Option<&Path>,
    count: u64,
    ticks_per_sec: f64,
) -> anyhow::Result<f64> {
    let server = ServerProcess::spawn(db).await?;
    let pid = server.pid();
    let client = sdk_client(&format!("http://{}", server.addr)).await?;
    let tq = format!("bench-{label}-{count}");
    let opts = WorkerOptions::new(&tq)
        .register_activities(BenchActs)
        .register_workflow::<OneActivity>()?
        .max_cached_workflows(2000)
        .build();
    let runtime = Runtime::from_current_tokio(Default::default())?;
    let mut worker = Worker::new(&runtime, client.clone(), opts)?;
    let shutdown = worker.shutdown_handle();
    let load = tokio::spawn(async move {
        let sem = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
        let server0 = cpu_ticks(&pid)?;
        let bench0 = cpu_ticks("self")?;
        let t0 = Instant::now();
        let mut tasks = Vec::with_capacity(count as usize);
        for i in 0..count {
            let permit = sem.clone().acquire_owned().await?;
            let c = client.clone();
            let tq = tq.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = permit;
                let h = c
                    .start_workflow(
                        OneActivity::run,
                        i,
                        WorkflowStartOptions::new(tq, format!("bench-{i}")).build(),
                    )
                    .await?;
                let r = h.get_result(WorkflowGetResultOptions::default()).await?;
                anyhow::ensure!(r == i, "wrong result {r} for {i}");
                anyhow::Ok(())
            }));
        }
        for t in tasks {
            t.await??;
        }
        let elapsed = t0.elapsed();
        let server_ticks = cpu_ticks(&pid)? - server0;
        let bench_ticks = cpu_ticks("self")? - bench0;
        let server_rss_mib = rss_mib(&pid)?;
        shutdown();
        anyhow::Ok(Figures {
            elapsed,
            server_ticks,
            bench_ticks,
            server_rss_mib,
        })
    });
    worker.run().await?;
    let f = load.await??;
    server.stop().await?;
    let secs = f.elapsed.as_secs_f64();
    let rate = count as f64 / secs;
    let ms_per_wf = |ticks: u64| ticks as f64 * 1000.0 / ticks_per_sec / count as f64;
    println!(
        "{label:>8}  workflows={count:>6}  elapsed={secs:>7.2}s  rate={rate:>8.1} wf/s  \
         server_cpu={:>6.3} ms/wf  bench_cpu={:>6.3} ms/wf  server_rss={:>7.1} MiB",
        ms_per_wf(f.server_ticks),
        ms_per_wf(f.bench_ticks),
        f.server_rss_mib,
    );
    Ok(rate)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    if support::run_by_cargo_test() {
        return Ok(());
    }
    let counts = env_list("HOURGLASS_BENCH_COUNTS").unwrap_or_else(|| vec![1_000, 10_000]);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let ticks_per_sec = clock_ticks_per_sec();
    println!(
        "dev server throughput: one-activity workflows, official Rust SDK worker, server as its \
         own process, {IN_FLIGHT} in flight, {cores} cores, {ticks_per_sec} clock ticks/s"
    );
    println!(
        "goals: >= 1000 wf/s on sqlite, flat (+-20%) from 1,000 to 100,000, server_cpu <= 0.3 ms/wf"
    );
    let mut sqlite_rates = Vec::new();
    for &count in &counts {
        println!("load average before {count}: {}", support::loadavg());
        let dir = tempfile::tempdir()?;
        let rate = run_one(
            "sqlite",
            Some(&dir.path().join("bench.sqlite")),
            count,
            ticks_per_sec,
        )
        .await?;
        sqlite_rates.push((count, rate));
        dir.close()?;
        run_one("memory", None, count, ticks_per_sec).await?;
    }
    if let [(c0, r0), .., (c1, r1)] = sqlite_rates[..] {
        println!(
            "sqlite rate at {c1} vs {c0} workflows: {:.2}x (goal 0.8x..1.2x)",
            r1 / r0
        );
    }
    Ok(())
}
