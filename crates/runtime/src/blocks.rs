//! The heap's own allocator for GC objects: size classes carved from chunks.
//!
//! It holds the objects and the arrays some of them keep (an instance's
//! fields, a closure's upvalues: `buffer.rs`'s `InBlocks`). A block of at
//! most [`MAX_SMALL`] bytes (every object kind today) belongs
//! to a *size class*: its size rounded up to a multiple of [`GRANULE`]
//! (16, 32, ..., 256 bytes). Blocks are cut by bump pointer from *chunks* of
//! [`CHUNK_SIZE`] bytes, which come from the global allocator. A freed
//! block goes onto its class's free list, threaded through the free blocks
//! themselves (a free block's first word points to the next one), and the
//! next block of that class is taken from that list before any new memory
//! is cut: the last block freed is the first reused. A chunk's tail too
//! short for the block being cut goes onto the free list of the class it
//! fits, so no part of a chunk is lost. Blocks larger than `MAX_SMALL`, or
//! aligned to more than `GRANULE`, come from the global allocator directly
//! and go back to it when freed.
//!
//! This is what the heap wants from an allocator and `malloc` does not give
//! it: an allocation is a pop or a bump, a free is a push, and neither
//! looks at a size stored beside the block. The allocator stores no size at
//! all: the caller frees a block with the [`Layout`] it allocated it with
//! (the heap derives it from the object's kind), and the class is computed
//! from that layout.
//!
//! # Memory policy
//!
//! Chunks are kept for reuse while the allocator lives: they are never
//! returned to the global allocator or the operating system before it is
//! dropped, even when every block in them is free, and a free block serves
//! only its own size class. So the memory the heap holds is, per class, the
//! most it ever held at once (rounded up to whole chunks in all), which is
//! the usual trade of a garbage-collected heap: the program's peak, kept,
//! for allocation that never calls into `malloc`. Pages of a chunk that no
//! block has reached yet are not touched, so they cost no resident memory.
//!
//! Dropping the allocator frees its chunks and nothing else: its owner runs
//! every object's destructor, and frees every large block, first.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// The size classes are multiples of this, and every block is aligned to it.
pub(crate) const GRANULE: usize = 16;
/// The largest block a size class holds; larger ones are the global
/// allocator's.
pub(crate) const MAX_SMALL: usize = 256;
/// How many size classes there are.
const CLASSES: usize = MAX_SMALL / GRANULE;
/// The bytes of each chunk: large enough that taking one is rare (a
/// chunk holds 5,461 instances of two fields: 32 bytes and 16 of fields),
/// small enough that a program's last chunk wastes little address space.
pub(crate) const CHUNK_SIZE: usize = 256 * 1024;

const CHUNK_LAYOUT: Layout = match Layout::from_size_align(CHUNK_SIZE, GRANULE) {
    Ok(layout) => layout,
    Err(_) => panic!("the chunk size is a valid layout"),
};

// A chunk is cut into whole blocks, and blocks into whole granules.
const _: () = assert!(CHUNK_SIZE.is_multiple_of(GRANULE) && MAX_SMALL.is_multiple_of(GRANULE));
const _: () = assert!(size_of::<FreeBlock>() <= GRANULE);

/// A block on a free list: its first word links to the next free block of
/// its class.
struct FreeBlock {
    next: Option<NonNull<FreeBlock>>,
}

/// Memory for the heap's objects (see the module doc).
pub(crate) struct Blocks {
    /// Per size class, the most recently freed block.
    free: [Option<NonNull<FreeBlock>>; CLASSES],
    /// The next byte to cut from the current chunk (null before the first).
    next: *mut u8,
    /// The end of the current chunk.
    end: *mut u8,
    /// Every chunk taken, to be freed with the allocator.
    chunks: Vec<NonNull<u8>>,
}

impl Blocks {
    pub(crate) fn new() -> Blocks {
        Blocks {
            free: [None; CLASSES],
            next: std::ptr::null_mut(),
            end: std::ptr::null_mut(),
            chunks: Vec::new(),
        }
    }

    /// A block for a value of `layout`, uninitialized. Never fails: if the
    /// global allocator has no memory, this ends the process as a failed
    /// `Box::new` would ([`alloc::handle_alloc_error`]).
    #[inline]
    pub(crate) fn alloc(&mut self, layout: Layout) -> NonNull<u8> {
        let Some(class) = class_of(layout) else {
            return alloc_large(layout);
        };
        if let Some(block) = self.free[class] {
            // SAFETY: a block on a free list is one this allocator cut,
            // that was freed and not handed out since, so it is ours to
            // read and its first word is the link `free` wrote.
            self.free[class] = unsafe { block.as_ref().next };
            return block.cast();
        }
        self.cut(class_size(class))
    }

    /// Give back `block`, which will not be used again.
    ///
    /// # Safety
    /// `block` came from [`alloc`](Self::alloc) of this allocator with this
    /// same `layout`, was not freed since, and nothing reads or writes it
    /// afterwards (any value in it has been dropped or moved out).
    #[inline]
    pub(crate) unsafe fn free(&mut self, block: NonNull<u8>, layout: Layout) {
        let Some(class) = class_of(layout) else {
            if layout.size() != 0 {
                // SAFETY: a block of this layout that is not small came
                // from the global allocator with this layout (`alloc_large`).
                unsafe { alloc::dealloc(block.as_ptr(), layout) };
            }
            return;
        };
        if cfg!(debug_assertions) {
            // A stale pointer into a freed object reads this, not the object.
            // SAFETY: the whole block is ours again (the caller's promise).
            unsafe { block.as_ptr().write_bytes(0xdb, class_size(class)) };
        }
        let block = block.cast::<FreeBlock>();
        // SAFETY: the block is at least a granule and granule-aligned (it
        // was cut for this class), so a `FreeBlock` fits; it is ours again.
        unsafe { block.write(FreeBlock { next: self.free[class] }) };
        self.free[class] = Some(block);
    }

    /// Cut `size` bytes (a class's size) from the current chunk, taking a
    /// new chunk if it has too little room left.
    #[inline]
    fn cut(&mut self, size: usize) -> NonNull<u8> {
        let room = self.end.addr() - self.next.addr();
        if size > room {
            self.new_chunk();
        }
        let block = self.next;
        // SAFETY: `size` bytes from `next` lie inside the current chunk
        // (checked above; a new chunk is larger than any class), so the
        // result is at most its end.
        self.next = unsafe { block.add(size) };
        // SAFETY: `next` points into a chunk, never null once one is taken.
        unsafe { NonNull::new_unchecked(block) }
    }

    /// Make a new chunk the current one; what is left of the old one goes
    /// onto the free list of the largest class it fills.
    #[cold]
    #[inline(never)]
    fn new_chunk(&mut self) {
        let room = self.end.addr() - self.next.addr();
        if room >= GRANULE {
            // `room` is a multiple of the granule below `MAX_SMALL` (every
            // cut is a class size, from a chunk of whole granules, and a cut
            // of at most `MAX_SMALL` did not fit), so it is exactly a class.
            let class = (room / GRANULE) - 1;
            debug_assert_eq!(class_size(class), room);
            if let Some(tail) = NonNull::new(self.next) {
                let tail = tail.cast::<FreeBlock>();
                // SAFETY: the tail is `room` bytes of the current chunk that
                // no block covers, granule-aligned: a block of `class`.
                unsafe { tail.write(FreeBlock { next: self.free[class] }) };
                self.free[class] = Some(tail);
            }
        }
        // SAFETY: the chunk layout has a non-zero size.
        let chunk = unsafe { alloc::alloc(CHUNK_LAYOUT) };
        let Some(chunk) = NonNull::new(chunk) else {
            alloc::handle_alloc_error(CHUNK_LAYOUT);
        };
        self.chunks.push(chunk);
        self.next = chunk.as_ptr();
        // SAFETY: one past the end of the chunk just allocated.
        self.end = unsafe { chunk.as_ptr().add(CHUNK_SIZE) };
    }

    /// How many chunks the allocator holds (for tests and statistics).
    #[cfg(test)]
    fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// Which chunk `block` is in, if any (for tests).
    #[cfg(test)]
    fn chunk_of(&self, block: NonNull<u8>) -> Option<usize> {
        let addr = block.addr().get();
        self.chunks
            .iter()
            .position(|c| (c.addr().get()..c.addr().get() + CHUNK_SIZE).contains(&addr))
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        for &chunk in &self.chunks {
            // SAFETY: each chunk came from `alloc::alloc` with this layout and
            // is freed once; its blocks are no longer used (the owner's
            // promise: every object in them was freed first).
            unsafe { alloc::dealloc(chunk.as_ptr(), CHUNK_LAYOUT) };
        }
    }
}

/// The size class of a block of `layout`, or `None` if it is large.
#[inline(always)]
const fn class_of(layout: Layout) -> Option<usize> {
    if layout.size() <= MAX_SMALL && layout.align() <= GRANULE {
        // Sizes 0 to 16 are class 0, 17 to 32 class 1, ...
        Some(layout.size().saturating_sub(1) / GRANULE)
    } else {
        None
    }
}

/// The block size of `class`.
#[inline(always)]
const fn class_size(class: usize) -> usize {
    (class + 1) * GRANULE
}

/// A block too large (or too aligned) for the size classes, from the
/// global allocator.
#[cold]
fn alloc_large(layout: Layout) -> NonNull<u8> {
    if layout.size() == 0 {
        // Only an over-aligned empty layout gets here (a small one takes a
        // granule): a well-aligned address that holds nothing is enough.
        // SAFETY: an alignment is never zero.
        return unsafe { NonNull::new_unchecked(std::ptr::without_provenance_mut(layout.align())) };
    }
    // SAFETY: the layout's size is not zero (checked).
    let block = unsafe { alloc::alloc(layout) };
    NonNull::new(block).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 8).expect("a valid layout")
    }

    /// Fill a block with a byte, as an object would.
    fn fill(block: NonNull<u8>, size: usize, byte: u8) {
        // SAFETY: the block is `size` bytes the test owns.
        unsafe { block.as_ptr().write_bytes(byte, size) };
    }

    fn holds(block: NonNull<u8>, size: usize, byte: u8) -> bool {
        // SAFETY: as in `fill`, and filled.
        unsafe { std::slice::from_raw_parts(block.as_ptr(), size) }.iter().all(|&b| b == byte)
    }

    #[test]
    fn a_freed_block_is_reused_first_by_its_own_class() {
        let mut blocks = Blocks::new();
        let a = blocks.alloc(layout(32));
        let b = blocks.alloc(layout(32));
        assert_ne!(a, b);
        // SAFETY: allocated above with this layout, not used again.
        unsafe { blocks.free(a, layout(32)) };
        // Another class does not take it.
        let c = blocks.alloc(layout(48));
        assert!(c != a && c != b);
        // Its own class does, whatever the size within the class.
        assert_eq!(blocks.alloc(layout(17)), a);
        // And then fresh memory again.
        let d = blocks.alloc(layout(32));
        assert!(d != a && d != b && d != c);
        // Last freed, first reused.
        // SAFETY: as above.
        unsafe {
            blocks.free(b, layout(32));
            blocks.free(d, layout(32));
        }
        assert_eq!(blocks.alloc(layout(32)), d);
        assert_eq!(blocks.alloc(layout(32)), b);
    }

    #[test]
    fn sizes_fall_into_classes_at_multiples_of_the_granule() {
        assert_eq!(class_of(layout(0)), Some(0));
        assert_eq!(class_of(layout(1)), Some(0));
        assert_eq!(class_of(layout(16)), Some(0));
        assert_eq!(class_of(layout(17)), Some(1));
        assert_eq!(class_of(layout(32)), Some(1));
        assert_eq!(class_of(layout(33)), Some(2));
        assert_eq!(class_of(layout(MAX_SMALL)), Some(CLASSES - 1));
        assert_eq!(class_of(layout(MAX_SMALL + 1)), None);
        let over_aligned = Layout::from_size_align(32, 2 * GRANULE).expect("a valid layout");
        assert_eq!(class_of(over_aligned), None);

        // Cut blocks are exactly their class's size apart.
        let mut blocks = Blocks::new();
        for size in [1, 16, 17, 32, 100, 255, MAX_SMALL] {
            let first = blocks.alloc(layout(size));
            let second = blocks.alloc(layout(size));
            let class = class_of(layout(size)).expect("small");
            assert_eq!(second.addr().get() - first.addr().get(), class_size(class), "size {size}");
            assert_eq!(first.addr().get() % GRANULE, 0);
        }
        assert_eq!(blocks.chunk_count(), 1);
    }

    #[test]
    fn large_and_over_aligned_blocks_come_from_the_global_allocator() {
        let mut blocks = Blocks::new();
        let small = blocks.alloc(layout(MAX_SMALL));
        for layout in [
            layout(MAX_SMALL + 1),
            layout(CHUNK_SIZE * 2),
            Layout::from_size_align(64, 64).expect("a valid layout"),
            Layout::from_size_align(0, 64).expect("a valid layout"),
        ] {
            let block = blocks.alloc(layout);
            assert_eq!(blocks.chunk_of(block), None);
            assert_eq!(block.addr().get() % layout.align(), 0);
            fill(block, layout.size(), 0x5a);
            assert!(holds(block, layout.size(), 0x5a));
            // SAFETY: allocated above with this layout, not used again.
            unsafe { blocks.free(block, layout) };
        }
        // They took nothing from the chunk: the next small block follows
        // the last one.
        let next = blocks.alloc(layout(MAX_SMALL));
        assert_eq!(next.addr().get() - small.addr().get(), MAX_SMALL);
        assert_eq!(blocks.chunk_count(), 1);
    }

    #[test]
    fn many_chunks_hold_distinct_blocks_and_freed_ones_are_all_reused() {
        let mut blocks = Blocks::new();
        let sizes = [16, 24, 32, 48, 64, 96, 128, 200, 256];
        let mut live = Vec::new();
        for i in 0..40_000 {
            let size = sizes[i % sizes.len()];
            let block = blocks.alloc(layout(size));
            fill(block, size, i as u8);
            live.push((block, size, i as u8));
        }
        let chunks = blocks.chunk_count();
        assert!(chunks > 10, "only {chunks} chunks");
        // No block overlapped another: each still holds its own bytes.
        for &(block, size, byte) in &live {
            assert!(holds(block, size, byte));
            assert!(blocks.chunk_of(block).is_some());
        }
        for &(block, size, _) in &live {
            // SAFETY: allocated above with this layout, not used again.
            unsafe { blocks.free(block, layout(size)) };
        }
        // The same demand again is met from the free lists alone.
        let mut again = Vec::new();
        for i in 0..40_000 {
            let size = sizes[i % sizes.len()];
            let block = blocks.alloc(layout(size));
            fill(block, size, !(i as u8));
            again.push((block, size, !(i as u8)));
        }
        assert_eq!(blocks.chunk_count(), chunks);
        for &(block, size, byte) in &again {
            assert!(holds(block, size, byte));
        }
        let mut before: Vec<_> = live.iter().map(|&(b, ..)| b).collect();
        let mut after: Vec<_> = again.iter().map(|&(b, ..)| b).collect();
        before.sort();
        after.sort();
        assert_eq!(before, after);
    }

    #[test]
    fn a_chunks_tail_serves_the_class_it_fits() {
        let mut blocks = Blocks::new();
        // 240-byte blocks leave a 64-byte tail in a 256 KiB chunk.
        let per_chunk = CHUNK_SIZE / 240;
        let tail = CHUNK_SIZE - per_chunk * 240;
        assert_eq!(tail, 64);
        let first = blocks.alloc(layout(240));
        for _ in 1..per_chunk {
            blocks.alloc(layout(240));
        }
        assert_eq!(blocks.chunk_count(), 1);
        let spilled = blocks.alloc(layout(240));
        assert_eq!(blocks.chunk_count(), 2);
        assert_eq!(blocks.chunk_of(spilled), Some(1));
        // The tail is a free 64-byte block at the end of the first chunk.
        let from_tail = blocks.alloc(layout(64));
        assert_eq!(blocks.chunk_of(from_tail), Some(0));
        assert_eq!(from_tail.addr().get(), first.addr().get() + CHUNK_SIZE - tail);
        fill(from_tail, 64, 7);
        assert!(holds(from_tail, 64, 7));
    }
}
