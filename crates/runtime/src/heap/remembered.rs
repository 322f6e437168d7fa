//! The remembered set: the old objects written a reference since the last
//! collection (`collect.rs`, "The write barrier").
//!
//! Machine code pushes onto it inline, without a call (codegen's
//! `write_barrier`), so that the code after a barrier need not reload what
//! it read of the heap, as it must after a call. So the set is laid out
//! for it (`abi::REMEMBERED_*`), and its array always has room for one
//! entry per old object: a push never grows it. That holds because an
//! object enters the set only while it is old and not in it already (its
//! header's `remembered` byte), and objects become old only at a
//! collection, after which the array is reserved again for all of them.

use std::cell::{Cell, UnsafeCell};

use crate::object::ObjRef;

#[repr(C)]
pub struct RememberedSet {
    /// The first entry; `storage`'s array.
    data: Cell<*mut ObjRef>,
    /// How many entries there are.
    len: Cell<usize>,
    /// The array, whose capacity is the set's: its own length stays 0, the
    /// entries are written into its spare capacity.
    storage: UnsafeCell<Vec<ObjRef>>,
}

impl RememberedSet {
    pub(crate) fn new() -> RememberedSet {
        let mut storage = Vec::new();
        RememberedSet {
            data: Cell::new(storage.as_mut_ptr()),
            len: Cell::new(0),
            storage: UnsafeCell::new(storage),
        }
    }

    /// Add `obj`, an old object not in the set: it sets the object's
    /// `remembered` byte, as machine code does.
    #[inline]
    pub(crate) fn push(&self, obj: ObjRef) {
        obj.set_remembered(true);
        let len = self.len.get();
        // SAFETY: no reference into `storage` is live (it is only borrowed
        // inside this type's methods, none of which calls another).
        let capacity = unsafe { &*self.storage.get() }.capacity();
        assert!(len < capacity, "the remembered set has room for every old object");
        // SAFETY: `len` is below the array's capacity (asserted), and
        // `data` is the array's start.
        unsafe { self.data.get().add(len).write(obj) };
        self.len.set(len + 1);
    }

    /// Take every entry out, clearing each object's `remembered` byte.
    pub(crate) fn drain(&self) -> impl Iterator<Item = ObjRef> + '_ {
        let len = self.len.replace(0);
        // SAFETY: the first `len` entries were written by `push` or by
        // machine code, into the array, which has not moved since (it moves
        // only in `reserve`, which runs when the set is empty).
        let entries = unsafe { std::slice::from_raw_parts(self.data.get(), len) };
        entries.iter().map(|&obj| {
            obj.set_remembered(false);
            obj
        })
    }

    /// Make room for `old_objects` entries: after a collection, which left
    /// that many old objects and the set empty.
    pub(crate) fn reserve(&self, old_objects: usize) {
        debug_assert_eq!(self.len.get(), 0, "reserved only when empty");
        // SAFETY: as in `push`.
        let storage = unsafe { &mut *self.storage.get() };
        storage.reserve(old_objects);
        self.data.set(storage.as_mut_ptr());
    }
}

/// Where machine code finds the set's fields.
pub(crate) const DATA_OFFSET: usize = std::mem::offset_of!(RememberedSet, data);
pub(crate) const LEN_OFFSET: usize = std::mem::offset_of!(RememberedSet, len);
