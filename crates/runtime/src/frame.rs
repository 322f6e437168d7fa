//! Call frame records: one per active call of bytecode, whichever engine
//! runs it (the VM, compiled code), in a root area of the heap.
//!
//! The values of a frame live in the value stack; its record says which
//! closure runs, where its slots start, where its result goes and which
//! instruction it is at. The record is the truth at every safepoint
//! (DESIGN.md invariant 6): runtime errors build their trace from the
//! records, the collector keeps their closures alive, and compiled code
//! resumes in the VM from one. The layout is fixed (`abi.rs`) and the area
//! never moves, so machine code pushes records and writes offsets itself.

use std::cell::Cell;
use std::ptr::NonNull;

use crate::heap::MAX_FRAMES;
use crate::object::{Gc, ObjClosure, ObjRef};
use crate::value::Value;

/// One active call. Pointers, not indices, so that entering a frame costs
/// no arithmetic: the stack and a loaded function's code never move.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct FrameRecord {
    /// The closure running; `None` for a script.
    pub closure: Option<Gc<ObjClosure>>,
    /// Where the frame resumes: the instruction after the one running (a
    /// call returns there). Written when the frame calls out or raises, so
    /// the instruction running ends just before it.
    pub ip: *const u8,
    /// The frame's slot 0, in the stack.
    pub base: *mut Value,
    /// The stack slot the result goes to (below slot 0 for a method call,
    /// whose callee is under its receiver).
    pub return_to: *mut Value,
    /// The engine's index of the function's code.
    pub function: u32,
}

/// The frame records of one heap: at most [`MAX_FRAMES`], reserved up front
/// and never moved. A root area.
#[repr(C)]
pub struct Frames {
    pub(crate) records: NonNull<FrameRecord>,
    pub(crate) len: Cell<usize>,
}

/// A call would make more than [`MAX_FRAMES`] frames: `Stack overflow.`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyFrames;

impl Frames {
    pub(crate) fn new() -> Frames {
        let mut reserved =
            std::mem::ManuallyDrop::new(Vec::<FrameRecord>::with_capacity(MAX_FRAMES));
        // SAFETY: a `Vec`'s pointer is never null.
        let records = unsafe { NonNull::new_unchecked(reserved.as_mut_ptr()) };
        Frames { records, len: Cell::new(0) }
    }

    /// How many frames are active.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len.get()
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len.get() == 0
    }

    /// Push a record, or refuse past the frame limit.
    #[inline(always)]
    pub fn push(&self, record: FrameRecord) -> Result<(), TooManyFrames> {
        let len = self.len.get();
        if len == MAX_FRAMES {
            return Err(TooManyFrames);
        }
        // SAFETY: below the reserved capacity (checked).
        unsafe { self.records.as_ptr().add(len).write(record) };
        self.len.set(len + 1);
        Ok(())
    }

    /// Pop the innermost record.
    ///
    /// # Panics
    /// If no frame is active.
    #[inline(always)]
    pub fn pop(&self) -> FrameRecord {
        let len = self.len.get().checked_sub(1).expect("a frame to pop");
        self.len.set(len);
        // SAFETY: below the old length, so written by a push.
        unsafe { self.records.as_ptr().add(len).read() }
    }

    /// The innermost record.
    ///
    /// # Panics
    /// If no frame is active.
    #[inline(always)]
    pub fn top(&self) -> FrameRecord {
        let top = self.len.get().checked_sub(1).expect("an active frame");
        // SAFETY: below the length, so a written record.
        unsafe { self.records.as_ptr().add(top).read() }
    }

    /// Record `ip` as where the innermost frame resumes.
    ///
    /// # Panics
    /// If no frame is active.
    #[inline(always)]
    pub fn set_top_ip(&self, ip: *const u8) {
        let top = self.len.get().checked_sub(1).expect("an active frame");
        // SAFETY: below the length, so a written record.
        unsafe { (*self.records.as_ptr().add(top)).ip = ip };
    }

    /// Record `index`, counted from the outermost frame (0).
    ///
    /// # Panics
    /// If `index` is not below the length.
    #[inline(always)]
    pub fn get(&self, index: usize) -> FrameRecord {
        assert!(index < self.len.get(), "frame {index} of {}", self.len.get());
        // SAFETY: below the length, so a written record.
        unsafe { self.records.as_ptr().add(index).read() }
    }

    /// Drop every frame from `len` up (after an error has been traced).
    pub fn truncate(&self, len: usize) {
        if len < self.len.get() {
            self.len.set(len);
        }
    }

    /// The active records, outermost first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = FrameRecord> + '_ {
        (0..self.len.get()).map(|index| self.get(index))
    }

    pub(crate) fn trace(&self, mark: &mut dyn FnMut(ObjRef)) {
        for record in self.iter() {
            if let Some(closure) = record.closure {
                mark(closure.as_obj());
            }
        }
    }
}

impl Drop for Frames {
    fn drop(&mut self) {
        // SAFETY: the allocation `new` reserved; records need no drop.
        drop(unsafe { Vec::from_raw_parts(self.records.as_ptr(), 0, MAX_FRAMES) });
    }
}
