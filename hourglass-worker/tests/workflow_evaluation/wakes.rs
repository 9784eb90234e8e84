//! Wakes in workflow code: a wake the workflow makes itself while it is polled (a yielding
//! combinator such as `join_all` over more than 30 futures) is polled again; a wake from
//! anywhere else (another thread, a tokio timer) is nondeterminism; endless yielding is a
//! busy loop.

use super::*;
use std::task::Waker;

/// Returns `Pending` once, after calling `wake` with the poll's waker, then `Ready`.
async fn pending_once(wake: impl FnOnce(&Waker)) {
    let mut wake = Some(wake);
    poll_fn(|cx| match wake.take() {
        Some(wake) => {
            wake(cx.waker());
            Poll::Pending
        }
        None => Poll::Ready(()),
    })
    .await
}

/// Wakes its own waker from inside workflow code and returns `Pending` once: a cooperative
/// yield, which a deterministic executor polls again.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct SelfWakingWorkflow;

#[workflow_methods]
impl SelfWakingWorkflow {
    #[run]
    pub async fn run(_ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        pending_once(|waker| waker.wake_by_ref()).await;
        Ok(())
    }
}

/// Waits on `count` durable timers at once through `join_all`, which switches to a
/// waker-driven `FuturesOrdered` above 30 futures (a yield inside it wakes its own waker).
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct JoinedTimersWorkflow;

#[workflow_methods]
impl JoinedTimersWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, count: u32) -> WorkflowResult<u32> {
        let timers = (0..count).map(|_| ctx.timer(Duration::from_secs(1)));
        Ok(futures::future::join_all(timers).await.len() as u32)
    }
}

/// Wakes its waker from another thread during the poll: a wake from outside the workflow.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct ThreadWakingWorkflow;

#[workflow_methods]
impl ThreadWakingWorkflow {
    #[run]
    pub async fn run(_ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        pending_once(|waker| {
            let waker = waker.clone();
            let _ = std::thread::spawn(move || waker.wake()).join();
        })
        .await;
        Ok(())
    }
}

/// Yields forever: wakes itself on every poll and never gets anywhere.
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct BusyYieldingWorkflow;

#[workflow_methods]
impl BusyYieldingWorkflow {
    #[run]
    pub async fn run(_ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        poll_fn(|cx| {
            cx.waker().wake_by_ref();
            Poll::<()>::Pending
        })
        .await;
        Ok(())
    }
}

/// Uses a tokio timer: nondeterministic (the wake comes from the tokio timer driver).
#[hourglass_worker::register]
#[workflow]
#[derive(Default)]
pub struct TokioSleepWorkflow;

#[workflow_methods]
impl TokioSleepWorkflow {
    #[run]
    pub async fn run(_ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok(())
    }
}

#[test]
fn joining_more_than_thirty_sdk_futures_completes() {
    for count in [30u32, 31, 100] {
        let mut cache = cache();
        let run = format!("run-{count}");
        let c = cache.process(activation(
            &run,
            vec![init("JoinedTimersWorkflow", vec![p(count)])],
        ));
        let cmds = commands(&c);
        let seqs: Vec<u32> = cmds
            .iter()
            .filter_map(|c| match c {
                Cmd::StartTimer(t) => Some(t.seq),
                _ => None,
            })
            .collect();
        assert_eq!(seqs.len(), count as usize, "{count} timers: {cmds:?}");
        let fired = seqs
            .iter()
            .map(|seq| Variant::FireTimer(FireTimer { seq: *seq }))
            .collect();
        let c = cache.process(activation(&run, fired));
        assert_eq!(decode::<u32>(&complete_result(&commands(&c))), count);
    }
}

#[test]
fn a_yield_in_workflow_code_is_polled_again_not_nondeterminism() {
    let mut cache = cache();
    let c = cache.process(activation(
        "run-1",
        vec![init("SelfWakingWorkflow", vec![p(())])],
    ));
    assert!(matches!(
        commands(&c).last(),
        Some(Cmd::CompleteWorkflowExecution(_))
    ));
}

#[test]
fn a_wake_from_another_thread_is_nondeterminism() {
    let mut cache = cache();
    let c = cache.process(activation(
        "run-1",
        vec![init("ThreadWakingWorkflow", vec![p(())])],
    ));
    let (f, cause) = failure(&c);
    assert!(f.message.contains("TMPRL1100"), "{}", f.message);
    assert_eq!(cause, WorkflowTaskFailedCause::NonDeterministicError);
}

#[test]
fn workflow_code_yielding_forever_fails_the_task_as_a_busy_loop() {
    let mut cache = cache();
    let c = cache.process(activation(
        "run-1",
        vec![init("BusyYieldingWorkflow", vec![p(())])],
    ));
    let (f, _) = failure(&c);
    assert!(f.message.contains("busy loop"), "{}", f.message);
}

#[tokio::test(start_paused = true)]
async fn tokio_sleep_in_workflow_is_nondeterminism() {
    let mut cache = cache();
    // The tokio timer parks the workflow without any command...
    let c = cache.process(activation(
        "run-1",
        vec![init("TokioSleepWorkflow", vec![p(())])],
    ));
    assert!(commands(&c).is_empty());
    // ...and its wake, coming from the tokio timer driver, is detected at the next activation.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let c = cache.process(activation(
        "run-1",
        vec![Variant::SignalWorkflow(SignalWorkflow {
            signal_name: "anything".to_owned(),
            ..Default::default()
        })],
    ));
    let (f, cause) = failure(&c);
    assert!(f.message.contains("non-SDK source"), "{}", f.message);
    assert_eq!(cause, WorkflowTaskFailedCause::NonDeterministicError);
}
