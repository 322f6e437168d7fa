//! Owned arrays with a layout machine code can read: a pointer and a
//! length (and a capacity, for the growable one) at fixed offsets, where a
//! `Box<[T]>` or `Vec<T>` would have whatever layout Rust chooses.
//!
//! Objects that compiled code indexes (a closure's upvalues, a function's
//! inline caches, an instance's fields) keep their elements in these; the
//! offsets are exported by `abi.rs`.
//!
//! An array's [`Storage`] says where its elements live, and so who frees
//! them: the global allocator ([`Global`], the default: the array frees
//! them when dropped), or the heap's allocator ([`InBlocks`]). An array in
//! blocks has its elements either in a block of its own, which the object
//! owning the array gives back with `release` when the heap frees the
//! object (dropping the array cannot reach the heap), or in a *room*: the
//! part of the owner's own block after the owner (a closure's upvalues, an
//! instance's first fields), which goes with the owner's block, so the
//! owner `forget`s the array instead. The kinds are one type with one
//! layout, so machine code reads them all alike.

use std::alloc::Layout;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;

use crate::blocks::Blocks;

/// Where an array's elements live (see the module doc).
pub trait Storage {
    /// Free what an array being dropped still owns.
    ///
    /// # Safety
    /// `ptr`, `len` and `capacity` are the parts of an array of this
    /// storage, which is being dropped and never used again.
    unsafe fn drop_parts<T>(ptr: NonNull<T>, len: usize, capacity: usize);
}

/// Elements from the global allocator, as a `Vec` or `Box` holds them.
#[derive(Debug)]
pub enum Global {}

impl Storage for Global {
    unsafe fn drop_parts<T>(ptr: NonNull<T>, len: usize, capacity: usize) {
        // SAFETY: the parts of a `Vec` (or of a boxed slice, whose capacity
        // is its length) that the array owns (the caller's promise).
        drop(unsafe { Vec::from_raw_parts(ptr.as_ptr(), len, capacity) });
    }
}

/// Elements in a block of the heap's allocator (`blocks.rs`). Only `Copy`
/// elements, so giving the block back drops nothing.
#[derive(Debug)]
pub enum InBlocks {}

impl Storage for InBlocks {
    unsafe fn drop_parts<T>(_: NonNull<T>, _: usize, capacity: usize) {
        // The owner released the block before the array was dropped; one
        // that was not stays unused until the heap is dropped.
        debug_assert_eq!(capacity, 0, "an array in blocks is released before it is dropped");
    }
}

/// The layout of `capacity` elements of `T` in a block.
fn block_layout<T>(capacity: usize) -> Layout {
    // An array in blocks holds fewer than 2^32 elements (its length is a
    // `u32`, or a closure's captures), far below what overflows a layout.
    Layout::array::<T>(capacity).expect("an array's layout fits in memory")
}

/// A fixed-length array: a `Box<[T]>` as a thin pointer and a length.
#[repr(C)]
pub struct FixedArray<T, S: Storage = Global> {
    pub(crate) ptr: NonNull<T>,
    pub(crate) len: usize,
    storage: PhantomData<S>,
}

impl<T> FixedArray<T> {
    pub fn new(elements: Box<[T]>) -> FixedArray<T> {
        let len = elements.len();
        // `Box::into_raw` of a slice never returns null.
        let ptr = NonNull::new(Box::into_raw(elements).cast::<T>()).expect("a box is not null");
        FixedArray { ptr, len, storage: PhantomData }
    }
}

impl<T: Copy> FixedArray<T, InBlocks> {
    /// An array of `len` elements in the room at `room`, which is not a
    /// block of its own but part of its owner's (a closure's upvalues): the
    /// owner fills it before anything reads it, and
    /// [`forget`](Self::forget)s the array rather than releasing it.
    ///
    /// # Safety
    /// `room` is aligned and has room for `len` elements, which nothing else
    /// uses while the array lives.
    pub(crate) unsafe fn in_room(room: NonNull<T>, len: usize) -> FixedArray<T, InBlocks> {
        FixedArray { ptr: room, len, storage: PhantomData }
    }

    /// Leave the array empty without giving anything back: for elements in
    /// another's room ([`in_room`](Self::in_room)).
    pub(crate) fn forget(&mut self) {
        self.ptr = NonNull::dangling();
        self.len = 0;
    }
}

impl<T, S: Storage> FixedArray<T, S> {
    pub fn as_ptr(&self) -> *const T {
        self.ptr.as_ptr()
    }
}

impl<T, S: Storage> Deref for FixedArray<T, S> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` and `len` describe the initialized elements this
        // array owns (a boxed slice's, or a room's that its owner filled:
        // `in_room`), or a dangling pointer and zero.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T, S: Storage> Drop for FixedArray<T, S> {
    fn drop(&mut self) {
        // SAFETY: the array's own parts, never used again; a boxed slice's
        // capacity is its length.
        unsafe { S::drop_parts(self.ptr, self.len, self.len) };
    }
}

/// A growable array of `Copy` elements: a `Vec<T>` as its raw parts (or,
/// [`InBlocks`], a block used as one), with `u32` length and capacity.
/// Mutated through `&self` (the owner is a heap object); the caller keeps
/// no reference across a mutation, as for every object's interior state.
#[repr(C)]
pub struct GrowArray<T: Copy, S: Storage = Global> {
    pub(crate) ptr: std::cell::Cell<NonNull<T>>,
    pub(crate) len: std::cell::Cell<u32>,
    pub(crate) capacity: std::cell::Cell<u32>,
    storage: PhantomData<S>,
}

impl<T: Copy> GrowArray<T> {
    pub fn with_capacity(capacity: usize) -> GrowArray<T> {
        let array = GrowArray::empty();
        array.store(Vec::with_capacity(capacity));
        array
    }

    /// Keep `vec`'s parts (it must own what it holds; the old parts must
    /// already be taken).
    fn store(&self, vec: Vec<T>) {
        let mut vec = ManuallyDrop::new(vec);
        // SAFETY: a `Vec`'s pointer is never null.
        let ptr = unsafe { NonNull::new_unchecked(vec.as_mut_ptr()) };
        self.set_parts(ptr, vec.len(), vec.capacity());
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
}

impl<T: Copy> GrowArray<T, InBlocks> {
    /// An empty array with room for `capacity` elements in a block of
    /// `blocks` (no block if `capacity` is zero).
    #[inline]
    pub(crate) fn with_capacity_in(blocks: &mut Blocks, capacity: usize) -> GrowArray<T, InBlocks> {
        let array = GrowArray::empty();
        if capacity != 0 {
            let ptr = blocks.alloc(block_layout::<T>(capacity)).cast::<T>();
            array.set_parts(ptr, 0, capacity);
        }
        array
    }

    /// Append `value`, moving the elements to a larger block of `blocks`
    /// when the array is full (twice the capacity, at least 4, as a `Vec`
    /// of small elements grows); returns the bytes the array grew by.
    ///
    /// # Safety
    /// The array's block (if any) came from this same `blocks`, and a full
    /// array's elements are in that block, not in another's room
    /// ([`use_room`](Self::use_room)).
    pub(crate) unsafe fn push_in(&self, blocks: &mut Blocks, value: T) -> usize {
        let (len, capacity) = (self.len(), self.capacity());
        let mut grown = 0;
        if len == capacity {
            let old = self.ptr.get();
            // SAFETY: the elements are where `ptr` says.
            let new_capacity = unsafe { self.move_to_new_block(blocks) };
            if capacity != 0 {
                // SAFETY: the old block came from `blocks` (the caller's
                // promise) with this layout, and the array left it.
                unsafe { blocks.free(old.cast(), block_layout::<T>(capacity)) };
            }
            grown = (new_capacity - capacity) * size_of::<T>();
        }
        // SAFETY: below the capacity, which the block has room for.
        unsafe { self.ptr.get().as_ptr().add(len).write(value) };
        self.set_parts(self.ptr.get(), len + 1, self.capacity());
        grown
    }

    /// An empty array without a block, to be given room by
    /// [`use_room`](Self::use_room) or a block by growing.
    pub(crate) fn empty_in() -> GrowArray<T, InBlocks> {
        GrowArray::empty()
    }

    /// Keep the elements in the room for `capacity` of them at `room`,
    /// which is not a block of the array's own but part of its owner's
    /// (an instance's first fields). While they are there, the owner
    /// [`forget`](Self::forget)s the array rather than releasing it, and
    /// moves them out with [`move_to_new_block`](Self::move_to_new_block)
    /// before they outgrow it.
    ///
    /// # Safety
    /// The array is empty without a block, and `room` is aligned and has
    /// room for `capacity` elements, which nothing else uses while the
    /// array keeps its elements there.
    pub(crate) unsafe fn use_room(&self, room: NonNull<T>, capacity: usize) {
        debug_assert!(self.is_empty() && self.capacity() == 0);
        self.set_parts(room, 0, capacity);
    }

    /// Leave the array empty without giving anything back: for elements in
    /// another's room ([`use_room`](Self::use_room)).
    pub(crate) fn forget(&self) {
        self.set_parts(NonNull::dangling(), 0, 0);
    }

    /// Copy the elements to a new block of `blocks` with twice the
    /// capacity (at least 4, as a `Vec` of small elements grows), and point
    /// the array at it; returns that capacity. Where the elements were is
    /// the caller's to give back (`push_in`'s old block), or not (a room
    /// that [`use_room`](Self::use_room) gave).
    ///
    /// # Safety
    /// `ptr` holds the array's `len` initialized elements.
    pub(crate) unsafe fn move_to_new_block(&self, blocks: &mut Blocks) -> usize {
        let (len, capacity) = (self.len(), self.capacity());
        let new_capacity = (capacity * 2).max(4);
        let ptr = blocks.alloc(block_layout::<T>(new_capacity)).cast::<T>();
        // SAFETY: the new block has room for `len` elements, the old
        // room holds them initialized (the caller's promise), and a new
        // block overlaps nothing in use.
        unsafe { ptr.as_ptr().copy_from_nonoverlapping(self.ptr.get().as_ptr(), len) };
        self.set_parts(ptr, len, new_capacity);
        new_capacity
    }

    /// Give the block back to `blocks`, leaving the array empty.
    ///
    /// # Safety
    /// The array's block (if any) came from this same `blocks`.
    pub(crate) unsafe fn release(&self, blocks: &mut Blocks) {
        let capacity = self.capacity();
        if capacity != 0 {
            // SAFETY: the block was taken from `blocks` (the caller's
            // promise) with this layout; the array forgets it below.
            unsafe { blocks.free(self.ptr.get().cast(), block_layout::<T>(capacity)) };
        }
        self.set_parts(NonNull::dangling(), 0, 0);
    }
}

impl<T: Copy, S: Storage> GrowArray<T, S> {
    fn empty() -> GrowArray<T, S> {
        GrowArray {
            ptr: std::cell::Cell::new(NonNull::dangling()),
            len: std::cell::Cell::new(0),
            capacity: std::cell::Cell::new(0),
            storage: PhantomData,
        }
    }

    fn set_parts(&self, ptr: NonNull<T>, len: usize, capacity: usize) {
        // An instance never holds 2^32 fields: the heap limit stops it long
        // before (and a `Vec` of them could not be allocated anyway).
        self.len.set(u32::try_from(len).expect("fewer than 2^32 elements"));
        self.capacity.set(u32::try_from(capacity).expect("fewer than 2^32 elements"));
        self.ptr.set(ptr);
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

    /// Where the elements are.
    pub fn as_ptr(&self) -> *const T {
        self.ptr.get().as_ptr()
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

impl<T: Copy, S: Storage> Drop for GrowArray<T, S> {
    fn drop(&mut self) {
        // SAFETY: the array's own parts, never used again.
        unsafe { S::drop_parts(self.ptr.get(), self.len(), self.capacity()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grow_array_in_blocks_keeps_its_elements_as_it_grows() {
        let mut blocks = Blocks::new();
        let array = GrowArray::<u64, InBlocks>::with_capacity_in(&mut blocks, 2);
        assert_eq!(array.capacity(), 2);
        let mut grown = 0;
        for i in 0..100 {
            // SAFETY: the array's blocks are `blocks`.
            grown += unsafe { array.push_in(&mut blocks, i * 3) };
        }
        // 2, then 4, 8, ..., 128: as a `Vec` of small elements would grow.
        assert_eq!(array.capacity(), 128);
        assert_eq!(grown, (128 - 2) * size_of::<u64>());
        assert!((0..100).all(|i| array.get(i as usize) == i * 3));
        // SAFETY: as above.
        unsafe { array.release(&mut blocks) };
        assert_eq!((array.len(), array.capacity()), (0, 0));

        // A released block is the next one its size class hands out.
        let four = GrowArray::<u64, InBlocks>::with_capacity_in(&mut blocks, 4);
        let block = four.ptr.get();
        // SAFETY: as above.
        unsafe { four.release(&mut blocks) };
        let three = GrowArray::<u64, InBlocks>::with_capacity_in(&mut blocks, 3);
        assert_eq!(three.ptr.get(), block, "24 and 32 bytes share a class");
        // SAFETY: as above.
        unsafe { three.release(&mut blocks) };
    }

    #[test]
    fn a_grow_array_in_a_room_moves_out_and_leaves_the_room_alone() {
        let mut blocks = Blocks::new();
        let mut room = [0u64; 2];
        let array = GrowArray::<u64, InBlocks>::empty_in();
        let start = NonNull::new(room.as_mut_ptr()).unwrap();
        // SAFETY: an empty array, and `room` has room for two, used by
        // nothing else while the array keeps its elements there.
        unsafe { array.use_room(start, 2) };
        for i in 0..2 {
            // SAFETY: not full, so nothing is freed or moved.
            assert_eq!(unsafe { array.push_in(&mut blocks, 7 + i) }, 0);
        }
        assert_eq!(array.as_ptr(), start.as_ptr().cast_const());
        // SAFETY: its elements are in the room.
        let capacity = unsafe { array.move_to_new_block(&mut blocks) };
        assert_eq!((capacity, array.capacity(), array.len()), (4, 4, 2));
        assert_ne!(array.as_ptr(), start.as_ptr().cast_const());
        // SAFETY: the array's block is now one of `blocks`'.
        unsafe { array.push_in(&mut blocks, 9) };
        assert!((0..3).all(|i| array.get(i) == 7 + i as u64));
        // SAFETY: as above.
        unsafe { array.release(&mut blocks) };
        assert_eq!(room, [7, 8], "the room keeps what was copied out of it");
    }

    #[test]
    fn a_fixed_array_in_a_room_is_forgotten_not_freed() {
        let mut room = [3u64, 5, 8];
        let start = NonNull::new(room.as_mut_ptr()).unwrap();
        // SAFETY: three aligned elements that nothing else uses meanwhile.
        let mut array = unsafe { FixedArray::<u64, InBlocks>::in_room(start, 3) };
        assert_eq!(&*array, &[3, 5, 8]);
        array.forget();
        assert!(array.is_empty());
        drop(array);
        assert_eq!(room, [3, 5, 8]);
    }
}
