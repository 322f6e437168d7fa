//! The collector: mark and sweep, in two generations.
//!
//! # Generations
//!
//! Most objects die young (a temporary tree, a string built to be printed),
//! and a few live as long as the program (its classes, a long-lived tree).
//! A collection that marks everything marks the long-lived objects again
//! each time: `bench/binary_trees.lox` spent half its collection time
//! marking its 32,767-node tree over and over. So the heap keeps two
//! generations, without moving any object: its mark bits are *sticky*, as
//! in Demers et al., "Combining Generational and Conservative Garbage
//! Collection" (POPL 1990), Ruby's RGenGC and Lua 5.4's generational mode.
//!
//! - An object is *young* when made, and *old* once it survived a
//!   collection. An old object's mark bit stays set between collections.
//! - A *minor* collection marks from the roots and the remembered set.
//!   Marking stops at every old object (marked already), so it visits only
//!   the young objects still in use. It sweeps only the young list, and
//!   the survivors become old.
//! - A *major* collection clears the old objects' marks first, so it marks
//!   everything in use and sweeps both lists: it frees the old objects
//!   that died.
//!
//! ## The write barrier
//!
//! A minor collection is right only if every young object that an old one
//! holds is marked. So every store of a reference into an object that
//! exists already passes [`Heap::write_barrier`] on it: an instance's
//! field or shape, a closed upvalue, a class's methods or root shape, a
//! shape's transitions, and a function's inline caches. The barrier puts
//! an old object in the remembered set, once; the next minor collection
//! traces it as a root. An object being made needs none: it is young.
//! Engines cannot forget it: the runtime's mutators (`set_field`,
//! `set_upvalue`, `cache_insert`, …) pass it themselves, and the parts of
//! objects they mutate are private to the runtime. Machine code inlines the
//! barrier's test (codegen's `write_barrier`: one 16-bit load of the
//! header's generation bytes and a compare, `abi::HEADER_GENERATION`) and
//! pushes onto the remembered set inline (`remembered.rs`) only for an old
//! object not remembered yet.
//!
//! Under `--gc-stress` every minor collection checks that invariant before
//! it sweeps ([`Heap::verify_minor`]): every object an old one holds must
//! be marked. A missed barrier is then a panic naming the two objects, not
//! an object freed while in use.
//!
//! ## Policy
//!
//! - A minor collection comes after `nursery` bytes of allocation: as
//!   many as survived the last major collection (`growth_factor - 1`
//!   times that), at least a quarter of the first collection's threshold;
//!   and not before the heap holds that threshold. So a heap of a few
//!   long-lived objects cycles through as little memory as before
//!   generations, and one of many is not collected more often.
//! - The next collection is major once the old generation is past
//!   `major_at`: `growth_factor` times what survived the last major
//!   collection, at least the first threshold. So the old generation
//!   grows as the whole heap did before.
//! - A heap about to pass its limit collects fully first (`make_room`,
//!   `grew`), so `Out of memory.` means what it did before generations.
//! - Under `--gc-stress`, a collection at every allocation, one in
//!   [`STRESS_MAJOR_EVERY`] is major; the others are minor, each checked.

use std::time::Instant;

use super::Heap;
use crate::gc::GcReport;
use crate::object::{self, ObjRef, Trace};

/// Which collection a caller asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Generation {
    /// Minor, unless the policy says a major one is due.
    Due,
    /// Major: every object marked and swept.
    Major,
}

/// Under `--gc-stress`, one collection in this many is major.
const STRESS_MAJOR_EVERY: u64 = 8;

impl Heap {
    /// Call before or after a store of a reference into `obj`, an object
    /// that exists already (see "The write barrier" above). Cheap when
    /// `obj` is young or remembered already: a load and a test.
    #[inline(always)]
    pub fn write_barrier(&self, obj: ObjRef) {
        if obj.needs_remembering() {
            self.remember(obj);
        }
    }

    /// Put `obj`, an old object not remembered yet, in the remembered set:
    /// the barrier's slow path (machine code's pushes inline).
    #[cold]
    #[inline(never)]
    fn remember(&self, obj: ObjRef) {
        debug_assert!(obj.needs_remembering());
        self.remembered.push(obj);
    }

    /// Collect now (for tests and `--gc-stress` at safepoints): minor,
    /// unless a major collection is due.
    pub fn collect(&self) {
        self.collect_with(None, Generation::Due);
    }

    /// Collect, with `extra`'s references as roots too (an object placed
    /// but not yet listed). Says whether the collection was major (`false`
    /// if a collection is running already: it does nothing then).
    pub(super) fn collect_with(&self, extra: Option<&dyn Trace>, generation: Generation) -> bool {
        if self.collecting.replace(true) {
            return false;
        }
        let start = Instant::now();
        let major = generation == Generation::Major || self.major_due();
        // Its entries name objects without keeping them alive.
        self.megamorphic.clear();
        let bytes_before = self.bytes_allocated.get();
        // SAFETY: collection does not re-enter the heap's other methods, so
        // no other reference into these cells is live while it runs.
        let (old, young, blocks, gray, strings) = unsafe {
            (
                &mut *self.old.get(),
                &mut *self.young.get(),
                &mut *self.blocks.get(),
                &mut *self.gray.get(),
                &mut *self.strings.get(),
            )
        };
        let objects_before = old.len() + young.len();

        if major {
            // Every object is unmarked again, so that all are traced.
            old.iter().for_each(|obj| obj.set_marked(false));
            self.remembered.drain().for_each(drop);
        }
        self.trace_roots(&mut |obj| mark(gray, obj));
        if let Some(extra) = extra {
            extra.trace(&mut |obj| mark(gray, obj));
        }
        // Old objects that may hold young ones (none left in a major
        // collection): traced although they are marked.
        for obj in self.remembered.drain() {
            object::trace_object(obj, &mut |child| mark(gray, child));
        }
        while let Some(obj) = gray.pop() {
            object::trace_object(obj, &mut |child| mark(gray, child));
        }
        if self.config.stress && !major {
            self.verify_minor(old);
        }

        strings.retain(|s| s.as_obj().is_marked());
        // A marked object survives, and stays marked: it is old now.
        let bytes_after = if major {
            let mut live_bytes = 0;
            let mut survives = |obj: ObjRef| {
                if obj.is_marked() {
                    live_bytes += object::heap_size_of(obj);
                    true
                } else {
                    // SAFETY: unmarked in a major collection means
                    // unreachable from every root, so nothing can use the
                    // object again; the heap placed it in `blocks`, and
                    // drops it from its list here, so only once.
                    unsafe { object::free(obj, blocks) };
                    false
                }
            };
            old.retain(|&obj| survives(obj));
            for obj in young.drain(..) {
                if survives(obj) {
                    old.push(obj);
                }
            }
            live_bytes
        } else {
            // What the young objects took, less what the survivors take.
            let mut survived_bytes = 0;
            for obj in young.drain(..) {
                if obj.is_marked() {
                    survived_bytes += object::heap_size_of(obj);
                    old.push(obj);
                } else {
                    // SAFETY: an unmarked young object is unreachable: no
                    // root reaches it, and no old object holds it (the
                    // write barrier's invariant, above). The heap placed it
                    // in `blocks`, and drops it from `young` here, so only
                    // once.
                    unsafe { object::free(obj, blocks) };
                }
            }
            debug_assert!(self.young_bytes.get() <= bytes_before);
            bytes_before.saturating_sub(self.young_bytes.get()) + survived_bytes
        };

        self.bytes_allocated.set(bytes_after);
        self.young_bytes.set(0);
        self.old_bytes.set(bytes_after);
        let (growth, least) = (self.config.growth_factor, self.config.initial_threshold);
        if major {
            self.major_at.set(bytes_after.saturating_mul(growth).max(least));
            let nursery = bytes_after.saturating_mul(growth.saturating_sub(1));
            self.nursery.set(nursery.max(least / 4));
        }
        let next_gc = bytes_after.saturating_add(self.nursery.get()).max(least);
        self.remembered.reserve(old.len());
        self.next_gc.set(next_gc);
        let report = GcReport {
            bytes_before,
            bytes_after,
            objects_freed: objects_before - old.len(),
            objects_live: old.len(),
            pause: start.elapsed(),
            next_gc,
            major,
            sequence: self.stats.get().collections + 1,
        };
        let mut stats = self.stats.get();
        stats.record(&report);
        self.stats.set(stats);
        self.collecting.set(false);
        if let Some(log) = self.log.borrow_mut().as_mut() {
            log(&report);
        }
        major
    }

    /// Whether the policy wants the next collection major (see "Policy").
    fn major_due(&self) -> bool {
        let stress_turn = self.config.stress
            && (self.stats.get().collections + 1).is_multiple_of(STRESS_MAJOR_EVERY);
        stress_turn || self.old_bytes.get() > self.major_at.get()
    }

    /// After a minor collection's marking, before its sweep: check the
    /// barrier's invariant, that every object an old one holds is marked.
    /// It holds if every store of a reference into an old object passed
    /// the write barrier (an old object's references were all old when it
    /// became old, and a young one reaches it only through a store, after
    /// which the object is remembered and was traced). A missed barrier is
    /// a bug in the runtime, an engine or the code generator, reported
    /// here before the sweep would free an object in use. It checks the
    /// old objects that died too, so a barrier is checked wherever it was
    /// missed, not only where the object is still reachable. Visits every
    /// old object: for `--gc-stress` only.
    fn verify_minor(&self, old: &[ObjRef]) {
        for &obj in old {
            object::trace_object(obj, &mut |child| {
                assert!(
                    child.is_marked(),
                    "write barrier missed: {obj:?}, old, holds {child:?}, which a minor \
                     collection did not mark"
                );
            });
        }
    }

    fn trace_roots(&self, mark: &mut dyn FnMut(ObjRef)) {
        let mut value = |v: &crate::Value| {
            if let Some(obj) = v.as_object() {
                mark(obj)
            }
        };
        // SAFETY: collection runs inside an allocation; no reference into
        // these root areas is live then (module rules).
        unsafe {
            self.stack.live().iter().for_each(&mut value);
            self.globals.values.for_each(|v| value(&v));
            (*self.pinned.get()).iter().for_each(&mut value);
            (*self.code_pins.get()).iter().for_each(&mut value);
            (*self.handles.get()).iter().for_each(&mut value);
            for upvalue in (*self.open_upvalues.get()).iter() {
                mark(upvalue.as_obj());
            }
        }
        self.frames.trace(mark);
    }
}

/// Gray an object the first time it is reached (an old object is marked
/// already, so a minor collection goes no further).
#[inline]
fn mark(gray: &mut Vec<ObjRef>, obj: ObjRef) {
    if !obj.is_marked() {
        obj.set_marked(true);
        gray.push(obj);
    }
}
