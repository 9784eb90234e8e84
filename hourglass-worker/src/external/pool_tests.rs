//! The slot allocator of [`PoolShared`]: least-loaded choice, FIFO waiters, and the permits of
//! workers that leave. The workers are pool members without processes (their gRPC clients are
//! never called): what is tested is only who gets which slot.

use super::*;
use std::time::Duration;

fn pool() -> Arc<PoolShared> {
    PoolShared::new(
        ExternalPoolConfig::new("alloc", "python3"),
        "run".into(),
        std::env::temp_dir(),
        Claims::default(),
        Arc::new(Notify::new()),
    )
}

fn join(pool: &Arc<PoolShared>, id: &str, capacity: usize) -> Membership {
    let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy();
    pool.join(Joining {
        id: id.into(),
        pid: 0,
        spawned_at: Instant::now(),
        client: hourglass_proto::external::v1::external_worker_client::ExternalWorkerClient::new(
            channel,
        ),
        session: None,
        capacity,
        types: vec!["T".into()],
    })
    .unwrap()
}

async fn slot(pool: &Arc<PoolShared>) -> Slot {
    match pool
        .acquire(&CancellationToken::new(), Admission::Wait(None))
        .await
    {
        Acquire::Slot(slot) => slot,
        Acquire::Done(outcome) => panic!("no slot: {outcome:?}"),
    }
}

fn loads(pool: &PoolShared) -> Vec<(String, usize)> {
    pool.workers
        .read()
        .values()
        .map(|c| (c.id.clone(), c.load()))
        .collect()
}

#[tokio::test]
async fn slots_go_to_the_least_loaded_worker() {
    let pool = pool();
    let _a = join(&pool, "a", 4);
    let _b = join(&pool, "b", 4);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(slot(&pool).await);
    }
    assert_eq!(loads(&pool), [("a".into(), 2), ("b".into(), 2)]);
    // Freeing two of a's makes a the least loaded: the next two go there.
    held.retain(|s| s.conn.id != "a");
    assert_eq!(loads(&pool), [("a".into(), 0), ("b".into(), 2)]);
    held.push(slot(&pool).await);
    held.push(slot(&pool).await);
    assert_eq!(loads(&pool), [("a".into(), 2), ("b".into(), 2)]);
    assert_eq!(pool.idle(), 4);
    assert_eq!(pool.free.available_permits(), 4);
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_in_arrival_order_when_slots_free_up() {
    let pool = pool();
    let _a = join(&pool, "a", 1);
    let first = slot(&pool).await;
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for i in 0..3 {
        let (pool, order) = (pool.clone(), order.clone());
        waiters.push(tokio::spawn(async move {
            let s = slot(&pool).await;
            order.lock().push(i);
            tokio::time::sleep(Duration::from_millis(10)).await;
            drop(s);
        }));
        // Each is queued before the next arrives.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(order.lock().is_empty(), "a full pool made nobody wait");
    drop(first);
    for w in waiters {
        w.await.unwrap();
    }
    assert_eq!(*order.lock(), [0, 1, 2]);
}

#[tokio::test(start_paused = true)]
async fn a_worker_that_leaves_takes_its_free_slots_and_its_busy_ones_do_not_come_back() {
    let pool = pool();
    let a = join(&pool, "a", 2);
    let _b = join(&pool, "b", 1);
    let on_a = slot(&pool).await; // a: 1 of 2 (least loaded, first in id order)
    assert_eq!(on_a.conn.id, "a");
    let on_b = slot(&pool).await;
    assert_eq!(on_b.conn.id, "b");
    drop(a); // a leaves: its free slot goes with it
    assert_eq!(pool.free.available_permits(), 0);
    drop(on_a); // a's busy slot ends: no permit for a worker that is gone
    assert_eq!(pool.free.available_permits(), 0);
    assert_eq!(pool.idle(), 0);
    // The next execution waits for b's slot rather than getting a's.
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move { slot(&pool).await.conn.id.clone() })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!waiter.is_finished(), "got a slot of a worker that left");
    drop(on_b);
    assert_eq!(waiter.await.unwrap(), "b");
}

#[tokio::test]
async fn a_permit_left_by_a_departed_worker_makes_its_holder_wait_again() {
    let pool = pool();
    let a = join(&pool, "a", 1);
    // Take a's permit as a waiter would, then a leaves before the slot is taken.
    let permit = pool.free.try_acquire().unwrap();
    permit.forget();
    drop(a);
    assert!(pool.take_least_loaded().is_none());
    // The holder waits again; a new worker's slot is then its.
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move { slot(&pool).await.conn.id.clone() })
    };
    let _b = join(&pool, "b", 1);
    assert_eq!(waiter.await.unwrap(), "b");
}

#[tokio::test]
async fn a_closed_pool_fails_its_waiters() {
    let pool = pool();
    let _a = join(&pool, "a", 1);
    let _held = slot(&pool).await;
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move {
            matches!(
                pool.acquire(&CancellationToken::new(), Admission::Wait(None))
                    .await,
                Acquire::Done(ExternalOutcome::Failed(_))
            )
        })
    };
    tokio::task::yield_now().await;
    pool.closed.cancel();
    assert!(waiter.await.unwrap());
}
