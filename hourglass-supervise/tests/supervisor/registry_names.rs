//! Registry names and supervision: a child's names are gone before it is restarted, when it
//! is killed, or when its start fails; conflicting `register_as` names are clear errors.

use super::*;

#[tokio::test(start_paused = true)]
async fn registry_names_are_gone_before_the_restart() {
    let log = Log::default();
    let l2 = log.clone();
    let sup = SupervisorSpec::new("top")
        .child(ChildSpec::new("named", move |ctx| {
            let log = l2.clone();
            async move {
                // Fails (and the test sees it) if the old incarnation's name were still there.
                match ctx.register("svc", ctx.incarnation()) {
                    Ok(()) => log.push(format!("registered:{}", ctx.restart_count())),
                    Err(e) => {
                        log.push(format!("register failed: {e}"));
                        return Exit::error(e);
                    }
                }
                if ctx.restart_count() < 3 {
                    return Exit::error("crash");
                }
                ctx.cancelled().await;
                Exit::Shutdown
            }
        }))
        .intensity(10, Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    settle().await;
    assert_eq!(
        log.take(),
        [
            "registered:0",
            "registered:1",
            "registered:2",
            "registered:3"
        ]
    );
    let reg_value: u64 = sup_registry_lookup(&sup).await;
    assert_eq!(reg_value, 3);
    sup.shutdown().await;
}

async fn sup_registry_lookup(sup: &SupervisorHandle) -> u64 {
    sup.registry().lookup::<u64>("svc").unwrap()
}

#[tokio::test(start_paused = true)]
async fn names_of_a_killed_child_are_removed() {
    let registry = Registry::new();
    let sup = SupervisorSpec::new("top")
        .registry(registry.clone())
        .child(
            ChildSpec::new("k", |ctx| async move {
                ctx.register("k-name", 1u8).unwrap();
                std::future::pending::<()>().await;
                Exit::Normal
            })
            .shutdown(Shutdown::BrutalKill),
        )
        .start()
        .await
        .unwrap();
    settle().await;
    assert!(registry.contains("k-name"));
    sup.terminate_child("k").await.unwrap();
    assert!(!registry.contains("k-name"));
    assert_eq!(
        states(&sup).await,
        [("k".into(), ChildState::Terminated, 0)]
    );
    sup.restart_child("k").await.unwrap();
    settle().await;
    assert!(registry.contains("k-name"));
    sup.shutdown().await;
    assert!(registry.is_empty());
}

#[tokio::test(start_paused = true)]
async fn register_as_conflicts_are_clear_errors() {
    let registry = Registry::new();
    let squatter = registry.owner();
    squatter.register("taken", 0u8).unwrap();
    let err = SupervisorSpec::new("s")
        .registry(registry.clone())
        .register_as("taken")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, SuperviseError::Register { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "supervisor `s` could not register its name: name `taken` is already registered"
    );
    let err = DynamicSupervisorSpec::new("d")
        .registry(registry.clone())
        .register_as("taken")
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, SuperviseError::Register { .. }), "{err}");
    // nested: the child fails to start, so the parent's init fails naming it
    let err = SupervisorSpec::new("top")
        .registry(registry.clone())
        .child(
            SupervisorSpec::new("inner")
                .register_as("taken")
                .into_child_spec(),
        )
        .start()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("child `inner` of supervisor `top` failed to start: name `taken`"),
        "{err}"
    );
    // the name is still the squatter's
    assert_eq!(registry.lookup::<u8>("taken"), Some(0));
}

#[tokio::test(start_paused = true)]
async fn names_registered_by_a_failed_start_are_removed() {
    let registry = Registry::new();
    let err = SupervisorSpec::new("top")
        .registry(registry.clone())
        .child(ChildSpec::with_init("half", |ctx| async move {
            ctx.register("half", 1u8).map_err(StartError::new)?;
            Err::<std::future::Ready<Exit>, _>(StartError::new("then failed"))
        }))
        .start()
        .await;
    assert!(err.is_err());
    assert!(registry.is_empty());
}
