//! A registry of unique names, each owned by a live process (a child incarnation or a
//! [`RegistryOwner`]), removed atomically when the owner ends.

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::mpsc;

use crate::error::RegistryError;

static NEXT_OWNER: AtomicU64 = AtomicU64::new(1);

type Value = Arc<dyn Any + Send + Sync>;

struct Entry {
    owner: u64,
    value: Value,
}

#[derive(Default)]
struct Inner {
    names: HashMap<String, Entry>,
    owners: HashMap<u64, Vec<String>>,
    listeners: Vec<mpsc::UnboundedSender<RegistryEvent>>,
}

impl Inner {
    fn notify(&mut self, event: impl Fn() -> RegistryEvent) {
        if !self.listeners.is_empty() {
            self.listeners.retain(|l| l.send(event()).is_ok());
        }
    }
}

/// A change in the registry (Elixir's registry `:listeners`), delivered to every listener in
/// the order the changes happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryEvent {
    /// `name` was registered.
    Registered(String),
    /// `name` was removed (its owner unregistered it or ended).
    Unregistered(String),
}

/// Unique-key registry mapping names to values (typically channel senders or handles).
///
/// Guarantees:
/// - a name maps to at most one value at a time (unique keys, like Elixir's `Registry` with
///   `keys: :unique`);
/// - every entry belongs to an owner; when the owner ends (a supervised child incarnation exits,
///   or a [`RegistryOwner`] is dropped) all its entries disappear in one step under one lock, and
///   the owner can no longer register. For supervised children this happens *before* the
///   supervisor sees the exit, so a restarted incarnation can always re-register its names.
///
/// Cloning is cheap and yields a handle to the same registry.
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<Mutex<Inner>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("len", &self.len())
            .finish()
    }
}

/// Identity and liveness of a registry owner (shared with child contexts).
#[derive(Debug)]
pub(crate) struct OwnerCore {
    id: u64,
    closed: AtomicBool,
}

impl OwnerCore {
    pub(crate) fn new() -> Self {
        Self {
            id: NEXT_OWNER.fetch_add(1, Ordering::Relaxed),
            closed: AtomicBool::new(false),
        }
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new owner for entries registered outside a supervised child (e.g. from `main`).
    /// Its entries are removed when it is dropped.
    pub fn owner(&self) -> RegistryOwner {
        RegistryOwner {
            registry: self.clone(),
            core: OwnerCore::new(),
        }
    }

    pub(crate) fn register_for(
        &self,
        owner: &OwnerCore,
        name: String,
        value: Value,
    ) -> Result<(), RegistryError> {
        let mut inner = self.inner.lock();
        // Checked under the lock that `release` takes, so registration and release are atomic.
        if owner.closed.load(Ordering::Acquire) {
            return Err(RegistryError::OwnerGone(name));
        }
        if inner.names.contains_key(&name) {
            return Err(RegistryError::AlreadyRegistered(name));
        }
        inner.owners.entry(owner.id).or_default().push(name.clone());
        inner.notify(|| RegistryEvent::Registered(name.clone()));
        inner.names.insert(
            name,
            Entry {
                owner: owner.id,
                value,
            },
        );
        Ok(())
    }

    pub(crate) fn unregister_for(&self, owner: &OwnerCore, name: &str) -> bool {
        let mut inner = self.inner.lock();
        match inner.names.get(name) {
            Some(e) if e.owner == owner.id => {
                inner.names.remove(name);
                if let Some(list) = inner.owners.get_mut(&owner.id) {
                    list.retain(|n| n != name);
                }
                inner.notify(|| RegistryEvent::Unregistered(name.to_string()));
                true
            }
            _ => false,
        }
    }

    /// Closes `owner` and removes all its entries atomically.
    pub(crate) fn release(&self, owner: &OwnerCore) {
        let removed = {
            let mut inner = self.inner.lock();
            owner.closed.store(true, Ordering::Release);
            let names = inner.owners.remove(&owner.id).unwrap_or_default();
            let mut removed = Vec::with_capacity(names.len());
            for n in names {
                if let Some(e) = inner.names.remove(&n) {
                    removed.push(e.value);
                    inner.notify(|| RegistryEvent::Unregistered(n.clone()));
                }
            }
            removed
        };
        // Values (which may have their own Drop) are dropped outside the lock.
        drop(removed);
    }

    /// Subscribes to registrations and removals from now on. Events arrive in order; a
    /// listener whose receiver is dropped is forgotten.
    pub fn listen(&self) -> mpsc::UnboundedReceiver<RegistryEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.inner.lock().listeners.push(tx);
        rx
    }

    /// The value registered under `name`, if it exists and is a `V`.
    pub fn lookup<V: Clone + Send + Sync + 'static>(&self, name: &str) -> Option<V> {
        self.via(name).ok()
    }

    /// Via-style resolution: the value under `name` as a `V`, or a clear error saying whether
    /// the name is absent or holds another type.
    pub fn via<V: Clone + Send + Sync + 'static>(&self, name: &str) -> Result<V, RegistryError> {
        let value = {
            let inner = self.inner.lock();
            match inner.names.get(name) {
                Some(e) => e.value.clone(),
                None => return Err(RegistryError::NotFound(name.to_string())),
            }
        };
        value
            .downcast_ref::<V>()
            .cloned()
            .ok_or_else(|| RegistryError::WrongType {
                name: name.to_string(),
                expected: std::any::type_name::<V>(),
            })
    }

    /// True if `name` is currently registered.
    pub fn contains(&self, name: &str) -> bool {
        self.inner.lock().names.contains_key(name)
    }

    /// All registered names (unordered snapshot).
    pub fn names(&self) -> Vec<String> {
        self.inner.lock().names.keys().cloned().collect()
    }

    /// Number of registered names.
    pub fn len(&self) -> usize {
        self.inner.lock().names.len()
    }

    /// True if nothing is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An owner of registry entries outside supervision. Dropping it removes its entries.
pub struct RegistryOwner {
    registry: Registry,
    core: OwnerCore,
}

impl fmt::Debug for RegistryOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryOwner")
            .field("id", &self.core.id)
            .finish()
    }
}

impl RegistryOwner {
    /// Registers `value` under the unique `name`, owned by this owner.
    pub fn register<V: Send + Sync + 'static>(
        &self,
        name: impl Into<String>,
        value: V,
    ) -> Result<(), RegistryError> {
        self.registry
            .register_for(&self.core, name.into(), Arc::new(value))
    }

    /// Removes `name` if this owner registered it; returns whether it did.
    pub fn unregister(&self, name: &str) -> bool {
        self.registry.unregister_for(&self.core, name)
    }
}

impl Drop for RegistryOwner {
    fn drop(&mut self) {
        self.registry.release(&self.core);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_and_typed_lookup() {
        let reg = Registry::new();
        let a = reg.owner();
        let b = reg.owner();
        a.register("svc", 42u32).unwrap();
        assert_eq!(
            b.register("svc", 7u32),
            Err(RegistryError::AlreadyRegistered("svc".into()))
        );
        assert_eq!(reg.lookup::<u32>("svc"), Some(42));
        assert_eq!(reg.lookup::<String>("svc"), None);
        assert!(matches!(
            reg.via::<String>("svc"),
            Err(RegistryError::WrongType { .. })
        ));
        assert_eq!(
            reg.via::<u32>("nope"),
            Err(RegistryError::NotFound("nope".into()))
        );
    }

    #[test]
    fn entries_vanish_with_owner() {
        let reg = Registry::new();
        let a = reg.owner();
        a.register("x", 1u8).unwrap();
        a.register("y", 2u8).unwrap();
        assert_eq!(reg.len(), 2);
        drop(a);
        assert!(reg.is_empty());
        let b = reg.owner();
        b.register("x", 3u8).unwrap();
        assert_eq!(reg.lookup::<u8>("x"), Some(3));
    }

    #[test]
    fn listeners_see_changes_in_order() {
        let reg = Registry::new();
        let mut rx = reg.listen();
        let a = reg.owner();
        a.register("x", 1u8).unwrap();
        a.register("y", 1u8).unwrap();
        assert!(a.unregister("x"));
        drop(a);
        let mut got = Vec::new();
        while let Ok(ev) = rx.try_recv() {
            got.push(ev);
        }
        assert_eq!(
            got,
            [
                RegistryEvent::Registered("x".into()),
                RegistryEvent::Registered("y".into()),
                RegistryEvent::Unregistered("x".into()),
                RegistryEvent::Unregistered("y".into()),
            ]
        );
        drop(rx);
        let b = reg.owner();
        b.register("z", 1u8).unwrap();
        assert!(reg.inner.lock().listeners.is_empty());
    }

    #[test]
    fn only_owner_can_unregister_and_closed_owner_cannot_register() {
        let reg = Registry::new();
        let a = reg.owner();
        let b = reg.owner();
        a.register("x", 1u8).unwrap();
        assert!(!b.unregister("x"));
        assert!(a.unregister("x"));
        assert!(!reg.contains("x"));

        let core = OwnerCore::new();
        reg.release(&core);
        assert_eq!(
            reg.register_for(&core, "late".into(), Arc::new(1u8)),
            Err(RegistryError::OwnerGone("late".into()))
        );
    }
}
