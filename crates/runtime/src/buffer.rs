//! Owned arrays with a layout machine code can read: a pointer and a
//! length (and a capacity, for the growable one) at fixed offsets, where a
//! `Box<[T]>` or `Vec<T>` would have whatever layout Rust chooses.
//!
//! Objects that compiled code indexes (a closure's upvalues, a function's
//! inline caches, an instance's fields) keep their elements in these; the
//! offsets are exported by `abi.rs`.

use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;

/// A fixed-length array: a `Box<[T]>` as a thin pointer and a length.
#[repr(C)]
pub struct FixedArray<T> {
    pub(crate) ptr: NonNull<T>,
    pub(crate) len: usize,
}

impl<T> FixedArray<T> {
    pub fn new(elements: Box<[T]>) -> FixedArray<T> {
        let len = elements.len();
        // `Box::into_raw` of a slice never returns null.
        let ptr = NonNull::new(Box::into_raw(elements).cast::<T>()).expect("a box is not null");
        FixedArray { ptr, len }
    }

    pub fn as_ptr(&self) -> *const T {
        self.ptr.as_ptr()
    }
}

impl<T> Deref for FixedArray<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` and `len` came from a boxed slice this array owns.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for FixedArray<T> {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len);
        // SAFETY: the slice is the one `new` took from its box, still owned.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// A growable array of `Copy` elements: a `Vec<T>` as its raw parts, with
/// `u32` length and capacity. Mutated through `&self` (the owner is a heap
/// object); the caller keeps no reference across a mutation, as for every
/// object's interior state.
#[repr(C)]
pub struct GrowArray<T: Copy> {
    pub(crate) ptr: std::cell::Cell<NonNull<T>>,
    pub(crate) len: std::cell::Cell<u32>,
    pub(crate) capacity: std::cell::Cell<u32>,
}

impl<T: Copy> GrowArray<T> {
    pub fn with_capacity(capacity: usize) -> GrowArray<T> {
        let array = GrowArray {
            ptr: std::cell::Cell::new(NonNull::dangling()),
            len: std::cell::Cell::new(0),
            capacity: std::cell::Cell::new(0),
        };
        array.store(Vec::with_capacity(capacity));
        array
    }

    /// Keep `vec`'s parts (it must own what it holds; the old parts must
    /// already be taken).
    fn store(&self, vec: Vec<T>) {
        let mut vec = ManuallyDrop::new(vec);
        // An instance never holds 2^32 fields: the heap limit stops it long
        // before (and a `Vec` of them could not be allocated anyway).
        self.len.set(u32::try_from(vec.len()).expect("fewer than 2^32 elements"));
        self.capacity.set(u32::try_from(vec.capacity()).expect("fewer than 2^32 elements"));
        // SAFETY: a `Vec`'s pointer is never null.
        self.ptr.set(unsafe { NonNull::new_unchecked(vec.as_mut_ptr()) });
    }

    /// Append `value`; returns the bytes the allocation grew by.
    pub fn push(&self, value: T) -> usize {
        // SAFETY: the parts are those of a `Vec` this array owns, taken out
        // here and stored back right below (`push` does not unwind for a
        // `Copy` element short of an allocation failure, which aborts).
        let mut vec = unsafe {
            Vec::from_raw_parts(
                self.ptr.get().as_ptr(),
                self.len.get() as usize,
                self.capacity.get() as usize,
            )
        };
        let before = vec.capacity();
        vec.push(value);
        let grown = (vec.capacity() - before) * size_of::<T>();
        self.store(vec);
        grown
    }

    pub fn len(&self) -> usize {
        self.len.get() as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len.get() == 0
    }

    pub fn capacity(&self) -> usize {
        self.capacity.get() as usize
    }

    /// The element at `index`.
    ///
    /// # Panics
    /// If `index` is not below the length.
    #[inline(always)]
    pub fn get(&self, index: usize) -> T {
        assert!(index < self.len(), "index {index} out of {} elements", self.len());
        // SAFETY: in bounds (checked), and the elements below `len` are
        // initialized.
        unsafe { self.ptr.get().as_ptr().add(index).read() }
    }

    /// Overwrite the element at `index`.
    ///
    /// # Panics
    /// If `index` is not below the length.
    #[inline(always)]
    pub fn set(&self, index: usize, value: T) {
        assert!(index < self.len(), "index {index} out of {} elements", self.len());
        // SAFETY: as in `get`.
        unsafe { self.ptr.get().as_ptr().add(index).write(value) }
    }

    /// A copy of every element, for tracing.
    pub fn for_each(&self, mut f: impl FnMut(T)) {
        for index in 0..self.len() {
            f(self.get(index));
        }
    }
}

impl<T: Copy> Drop for GrowArray<T> {
    fn drop(&mut self) {
        // SAFETY: the parts of the `Vec` this array owns.
        drop(unsafe {
            Vec::from_raw_parts(
                self.ptr.get().as_ptr(),
                self.len.get() as usize,
                self.capacity.get() as usize,
            )
        });
    }
}
