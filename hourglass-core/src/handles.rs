//! Generation-tagged handle tables.
//!
//! A handle is a `u64`: `[tag:16][kind:4][generation:20][slot:24]`. The tag comes from this
//! loaded instance's random id, the kind names the table, the generation is bumped every time
//! a slot is freed. Looking up a handle that is 0, from another loaded copy of the core, of
//! the wrong kind, out of range, or whose slot was freed (or reused) is an error — never a
//! dangling pointer.

use crate::error::CoreError;
use parking_lot::Mutex;
use std::sync::{Arc, OnceLock};

const SLOT_BITS: u32 = 24;
const GEN_BITS: u32 = 20;
const KIND_BITS: u32 = 4;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
const GEN_MASK: u64 = (1 << GEN_BITS) - 1;
const KIND_MASK: u64 = (1 << KIND_BITS) - 1;
const GEN_SHIFT: u32 = SLOT_BITS;
const KIND_SHIFT: u32 = SLOT_BITS + GEN_BITS;
const TAG_SHIFT: u32 = SLOT_BITS + GEN_BITS + KIND_BITS;

/// Kind of a runtime handle.
pub const KIND_RUNTIME: u8 = 1;
/// Kind of a client handle.
pub const KIND_CLIENT: u8 = 2;
/// Kind of a worker (or replayer) handle.
pub const KIND_WORKER: u8 = 3;

static INSTANCE_ID: OnceLock<u64> = OnceLock::new();

/// The random id of this loaded instance of the core: never 0, and its low 16 bits (the handle
/// tag) are never 0 either.
pub fn instance_id() -> u64 {
    *INSTANCE_ID.get_or_init(|| {
        loop {
            let id: u64 = rand::random();
            if id & 0xFFFF != 0 {
                break id;
            }
        }
    })
}

fn tag() -> u64 {
    instance_id() & 0xFFFF
}

struct Slot<T> {
    generation: u32,
    value: Option<Arc<T>>,
}

struct Inner<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
}

/// A table of live objects addressed by generation-tagged handles.
pub struct Table<T> {
    kind: u8,
    name: &'static str,
    inner: Mutex<Inner<T>>,
}

impl<T> Table<T> {
    /// An empty table of the given kind (one of the `KIND_*` constants).
    pub const fn new(kind: u8, name: &'static str) -> Self {
        Self {
            kind,
            name,
            inner: Mutex::new(Inner {
                slots: Vec::new(),
                free: Vec::new(),
            }),
        }
    }

    fn encode(&self, slot: u32, generation: u32) -> u64 {
        (tag() << TAG_SHIFT)
            | ((self.kind as u64 & KIND_MASK) << KIND_SHIFT)
            | ((generation as u64 & GEN_MASK) << GEN_SHIFT)
            | (slot as u64 & SLOT_MASK)
    }

    /// Stores `value` and returns its new handle.
    pub fn insert(&self, value: Arc<T>) -> Result<u64, CoreError> {
        let mut inner = self.inner.lock();
        let slot = match inner.free.pop() {
            Some(s) => s,
            None => {
                let s = inner.slots.len();
                if s as u64 > SLOT_MASK {
                    return Err(CoreError::InvalidArgument(format!(
                        "{} table is full ({} live handles)",
                        self.name, s
                    )));
                }
                inner.slots.push(Slot {
                    generation: 1,
                    value: None,
                });
                s as u32
            }
        };
        let entry = &mut inner.slots[slot as usize];
        entry.value = Some(value);
        let generation = entry.generation;
        Ok(self.encode(slot, generation))
    }

    fn locate(&self, handle: u64) -> Result<(usize, u32), CoreError> {
        let invalid = |reason| CoreError::InvalidHandle { handle, reason };
        if handle == 0 {
            return Err(invalid("null handle"));
        }
        if handle >> TAG_SHIFT != tag() {
            return Err(invalid(
                "handle belongs to another loaded instance of the core (or is forged)",
            ));
        }
        if (handle >> KIND_SHIFT) & KIND_MASK != self.kind as u64 {
            return Err(CoreError::InvalidHandle {
                handle,
                reason: match self.kind {
                    KIND_RUNTIME => "not a runtime handle",
                    KIND_CLIENT => "not a client handle",
                    _ => "not a worker handle",
                },
            });
        }
        Ok((
            (handle & SLOT_MASK) as usize,
            ((handle >> GEN_SHIFT) & GEN_MASK) as u32,
        ))
    }

    /// The object behind `handle`.
    pub fn get(&self, handle: u64) -> Result<Arc<T>, CoreError> {
        let (slot, generation) = self.locate(handle)?;
        let inner = self.inner.lock();
        match inner.slots.get(slot) {
            Some(Slot {
                generation: g,
                value: Some(v),
            }) if *g == generation => Ok(v.clone()),
            _ => Err(CoreError::InvalidHandle {
                handle,
                reason: "handle was freed, is stale or was never issued",
            }),
        }
    }

    /// Removes the object behind `handle`; the handle (and every copy of it) is invalid from
    /// now on. The object itself lives on while other `Arc`s to it exist.
    pub fn remove(&self, handle: u64) -> Result<Arc<T>, CoreError> {
        let (slot, generation) = self.locate(handle)?;
        let mut inner = self.inner.lock();
        let removed = match inner.slots.get_mut(slot) {
            Some(s) if s.generation == generation && s.value.is_some() => {
                s.generation = if s.generation as u64 >= GEN_MASK {
                    1
                } else {
                    s.generation + 1
                };
                s.value.take()
            }
            _ => None,
        };
        match removed {
            Some(v) => {
                inner.free.push(slot as u32);
                Ok(v)
            }
            None => Err(CoreError::InvalidHandle {
                handle,
                reason: "handle was freed, is stale or was never issued",
            }),
        }
    }

    /// Number of live handles.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .slots
            .iter()
            .filter(|s| s.value.is_some())
            .count()
    }

    /// Whether the table holds no live handle.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_get_remove() {
        let t: Table<u32> = Table::new(KIND_CLIENT, "test");
        let h = t.insert(Arc::new(7)).unwrap();
        assert_eq!(*t.get(h).unwrap(), 7);
        assert_eq!(t.len(), 1);
        assert_eq!(*t.remove(h).unwrap(), 7);
        assert!(t.is_empty());
        let e = t.get(h).unwrap_err();
        assert!(e.to_string().contains("freed"), "{e}");
        assert!(t.remove(h).is_err());
    }

    #[test]
    fn reused_slot_rejects_old_handle() {
        let t: Table<u32> = Table::new(KIND_CLIENT, "test");
        let h1 = t.insert(Arc::new(1)).unwrap();
        t.remove(h1).unwrap();
        let h2 = t.insert(Arc::new(2)).unwrap();
        assert_eq!(h1 & SLOT_MASK, h2 & SLOT_MASK, "slot reused");
        assert_ne!(h1, h2);
        assert!(t.get(h1).is_err());
        assert_eq!(*t.get(h2).unwrap(), 2);
    }

    #[test]
    fn forged_and_wrong_kind_handles_fail() {
        let t: Table<u32> = Table::new(KIND_WORKER, "test");
        let h = t.insert(Arc::new(1)).unwrap();
        assert!(t.get(0).unwrap_err().to_string().contains("null"));
        let other_tag = h ^ (1u64 << TAG_SHIFT);
        assert!(
            t.get(other_tag)
                .unwrap_err()
                .to_string()
                .contains("another loaded instance")
        );
        let wrong_kind = (h & !(KIND_MASK << KIND_SHIFT)) | ((KIND_RUNTIME as u64) << KIND_SHIFT);
        assert!(
            t.get(wrong_kind)
                .unwrap_err()
                .to_string()
                .contains("not a worker")
        );
        let out_of_range = (h & !SLOT_MASK) | 12345;
        assert!(t.get(out_of_range).is_err());
        assert!(matches!(
            t.get(u64::MAX).unwrap_err(),
            CoreError::InvalidHandle { .. }
        ));
    }

    #[test]
    fn instance_id_is_stable_and_tag_nonzero() {
        assert_eq!(instance_id(), instance_id());
        assert_ne!(instance_id() & 0xFFFF, 0);
    }
}
