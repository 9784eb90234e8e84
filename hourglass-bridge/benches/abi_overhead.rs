//! Cost of the C ABI: replay-driven poll + complete round trips through
//! 1. the dynamic bridge (`Core::load` of libhourglass_core.so),
//! 2. the linked bridge (`Core::linked`, same function table, no dlopen),
//! 3. the core crate called directly (no ABI, no protobuf encoding).
//!
//! Each mode replays the same hand-built histories (sequential timers) on a fresh replayer
//! and times every poll + complete pair after a warm-up. Host heap (counting allocator; in
//! dynamic mode the library's own allocations are not counted) and RSS are sampled after the
//! warm-up and at the end to show there is no growth.
//!
//! `HOURGLASS_BENCH_CALLS` (default 100000) sets the number of measured round trips.

use futures::StreamExt;
use hourglass_bridge::config::{RuntimeConfig, WorkerConfig};
use hourglass_bridge::history::HistoryBuilder;
use hourglass_bridge::protos::coresdk::workflow_activation::{
    WorkflowActivation, workflow_activation_job::Variant as Job,
};
use hourglass_bridge::protos::coresdk::workflow_commands::{
    CompleteWorkflowExecution, StartTimer, workflow_command::Variant as Cmd,
};
use hourglass_bridge::protos::coresdk::workflow_completion::WorkflowActivationCompletion;
use hourglass_bridge::protos::temporal::api::history::v1::History;
use hourglass_bridge::{BridgeError, Core};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

struct Counting;
static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards to the system allocator, only counting bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as i64 - l.size() as i64, Ordering::Relaxed);
        // SAFETY: forwarded.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const TIMERS: u32 = 500;

fn rss_kib() -> i64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<i64>().ok())
        })
        .map(|pages| pages * 4)
        .unwrap_or(-1)
}

fn respond(act: &WorkflowActivation) -> WorkflowActivationCompletion {
    if act.is_only_eviction() {
        return WorkflowActivationCompletion::empty(act.run_id.clone());
    }
    let mut cmds = Vec::with_capacity(1);
    for job in &act.jobs {
        let next = match &job.variant {
            Some(Job::InitializeWorkflow(_)) => 1,
            Some(Job::FireTimer(f)) => f.seq + 1,
            _ => continue,
        };
        cmds.push(if next <= TIMERS {
            Cmd::StartTimer(StartTimer {
                seq: next,
                start_to_fire_timeout: Duration::from_secs(1).try_into().ok(),
            })
        } else {
            Cmd::CompleteWorkflowExecution(CompleteWorkflowExecution { result: None })
        });
    }
    WorkflowActivationCompletion::from_cmds(act.run_id.clone(), cmds)
}

/// Produces the histories of one run lazily: a template cloned with a fresh run id, so at
/// most two histories are alive at a time and the heap stays flat.
struct Feed {
    template: History,
    tag: String,
    next: usize,
    total: usize,
}

impl Feed {
    fn new(tag: &str, total: usize) -> Self {
        Self {
            template: HistoryBuilder::sequential_timers("bench_wf", "bench", "template", TIMERS),
            tag: tag.to_owned(),
            next: 0,
            total,
        }
    }

    fn next(&mut self) -> Option<(String, History)> {
        use hourglass_bridge::protos::temporal::api::history::v1::history_event::Attributes;
        if self.next == self.total {
            return None;
        }
        let mut h = self.template.clone();
        let run_id = format!("run-{}-{}", self.tag, self.next);
        if let Some(Attributes::WorkflowExecutionStartedEventAttributes(a)) =
            h.events[0].attributes.as_mut()
        {
            a.original_execution_run_id.clone_from(&run_id);
            a.first_execution_run_id = run_id;
        }
        let id = format!("wf-{}-{}", self.tag, self.next);
        self.next += 1;
        Some((id, h))
    }
}

#[derive(Debug)]
struct Stats {
    measured: usize,
    elapsed: Duration,
    heap_delta: i64,
    rss_delta_kib: i64,
}

impl Stats {
    fn per_call_ns(&self) -> f64 {
        self.elapsed.as_nanos() as f64 / self.measured as f64
    }
}

/// Tracks the warm-up boundary and the end of a run.
struct Meter {
    warmup: usize,
    count: usize,
    start: Option<(Instant, i64, i64)>,
}

impl Meter {
    fn tick(&mut self) {
        self.count += 1;
        if self.count == self.warmup {
            self.start = Some((Instant::now(), LIVE.load(Ordering::Relaxed), rss_kib()));
        }
    }
    fn finish(self) -> Stats {
        let (t, heap, rss) = self.start.expect("run shorter than warm-up");
        Stats {
            measured: self.count - self.warmup,
            elapsed: t.elapsed(),
            heap_delta: LIVE.load(Ordering::Relaxed) - heap,
            rss_delta_kib: rss_kib() - rss,
        }
    }
}

fn run_bridge(core: &Core, mut feed: Feed, warmup: usize) -> Stats {
    let host = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = core.runtime(&RuntimeConfig::default()).unwrap();
    let rp = rt
        .replayer(&WorkerConfig {
            namespace: "default".into(),
            task_queue: "bench".into(),
            ..Default::default()
        })
        .unwrap();
    for _ in 0..2 {
        if let Some((id, h)) = feed.next() {
            rp.push_history(&id, &h).unwrap();
        }
    }
    let mut meter = Meter {
        warmup,
        count: 0,
        start: None,
    };
    host.block_on(async {
        loop {
            let act = match rp.poll_workflow_activation().await {
                Ok(a) => a,
                Err(BridgeError::ShutDown) => break,
                Err(e) => panic!("poll: {e}"),
            };
            if act.is_only_eviction() {
                match feed.next() {
                    Some((id, h)) => rp.push_history(&id, &h).unwrap(),
                    None => {
                        // Ignore "already finished".
                        let _ = rp.finish();
                    }
                }
            }
            rp.complete_workflow_activation(&respond(&act))
                .await
                .unwrap();
            meter.tick();
        }
    });
    let stats = meter.finish();
    host.block_on(rp.finalize_shutdown()).unwrap();
    stats
}

fn run_direct(mut feed: Feed, warmup: usize) -> Stats {
    use temporalio_sdk_core::replay::{HistoryForReplay, ReplayWorkerInput};
    use temporalio_sdk_core::{
        CoreRuntime, PollError, RuntimeOptions, TokioRuntimeBuilder, WorkerConfig as CoreConfig,
        WorkerVersioningStrategy,
    };
    let core_rt = CoreRuntime::new(
        RuntimeOptions::builder()
            .heartbeat_interval(None)
            .build()
            .unwrap(),
        TokioRuntimeBuilder::default(),
    )
    .unwrap();
    let config = CoreConfig::builder()
        .namespace("default")
        .task_queue("bench")
        .task_types(temporalio_common::worker::WorkerTaskTypes::all())
        .versioning_strategy(WorkerVersioningStrategy::None {
            build_id: "hourglass".into(),
        })
        .build()
        .unwrap();
    let (tx, rx) = futures::channel::mpsc::unbounded::<HistoryForReplay>();
    let mut tx = Some(tx);
    for _ in 0..2 {
        if let (Some((id, h)), Some(tx)) = (feed.next(), tx.as_ref()) {
            tx.unbounded_send(HistoryForReplay::new(h, id)).unwrap();
        }
    }
    let worker = {
        let _g = core_rt.tokio_handle().enter();
        temporalio_sdk_core::init_replay_worker(ReplayWorkerInput::new(config, rx.boxed())).unwrap()
    };
    let host = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut meter = Meter {
        warmup,
        count: 0,
        start: None,
    };
    host.block_on(async {
        loop {
            let act = match worker.poll_workflow_activation().await {
                Ok(a) => a,
                Err(PollError::ShutDown) => break,
                Err(e) => panic!("poll: {e}"),
            };
            if act.is_only_eviction() {
                match feed.next() {
                    Some((id, h)) => {
                        if let Some(tx) = tx.as_ref() {
                            tx.unbounded_send(HistoryForReplay::new(h, id)).unwrap();
                        }
                    }
                    None => drop(tx.take()),
                }
            }
            worker
                .complete_workflow_activation(respond(&act))
                .await
                .unwrap();
            meter.tick();
        }
    });
    let stats = meter.finish();
    host.block_on(worker.finalize_shutdown());
    stats
}

fn main() {
    let calls: usize = std::env::var("HOURGLASS_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    // Each history yields TIMERS + 1 activations and one replay-finished eviction.
    let per_history = TIMERS as usize + 2;
    let warm_histories = 4;
    let n = calls.div_ceil(per_history) + warm_histories;
    let lib = hourglass_tests::core_lib::core_library();
    println!(
        "abi_overhead: {calls} measured poll+complete round trips per mode, library {}",
        lib.display()
    );
    let dynamic = Core::load(&lib).unwrap();
    let linked = Core::linked();
    let warmup = warm_histories * per_history;
    let rounds = 3;
    let modes = ["direct", "linked", "dynamic"];
    let mut results: Vec<Vec<Stats>> = (0..modes.len()).map(|_| Vec::new()).collect();
    // Interleaved rounds; each mode's figure is its median round (the machine is shared).
    for round in 0..rounds {
        for (i, mode) in modes.iter().enumerate() {
            let feed = Feed::new(&format!("{mode}{round}"), n);
            let s = match *mode {
                "direct" => run_direct(feed, warmup),
                "linked" => run_bridge(&linked, feed, warmup),
                _ => run_bridge(&dynamic, feed, warmup),
            };
            println!(
                "  round {round} {mode:<8} {:>8.1} us/round trip ({} calls)",
                s.per_call_ns() / 1000.0,
                s.measured
            );
            results[i].push(s);
        }
    }
    let median = |v: &mut Vec<Stats>| -> Stats {
        v.sort_by(|a, b| a.per_call_ns().total_cmp(&b.per_call_ns()));
        v.remove(v.len() / 2)
    };
    let med: Vec<Stats> = results.iter_mut().map(median).collect();
    let direct = med[0].per_call_ns();
    println!(
        "{:<8} {:>10} {:>12} {:>8} {:>16} {:>10}",
        "mode", "calls", "us/call", "ratio", "heap delta B", "RSS d KiB"
    );
    for (mode, s) in modes.iter().zip(&med) {
        println!(
            "{:<8} {:>10} {:>12.1} {:>8.3} {:>16} {:>10}",
            mode,
            s.measured,
            s.per_call_ns() / 1000.0,
            s.per_call_ns() / direct,
            s.heap_delta,
            s.rss_delta_kib
        );
    }
    println!("goal: ratio <= 1.05 and no heap/RSS growth proportional to the number of calls");
}
