//! The heap: allocation, string interning, and the roots the collector scans.
//!
//! # Rooting rules
//!
//! The collector is precise: it frees every object it cannot reach from the
//! roots, and collection can happen at any allocation. The roots are all
//! owned by the heap, so no engine can forget to report one:
//!
//! - the value [`Stack`]: every engine's frames, locals and temporaries
//!   (DESIGN.md invariant 6: the frame layout is the truth at safepoints);
//! - the [`Globals`] table, indexed by the resolver's global slots;
//! - *pinned* values: constants an engine loaded for the life of the heap
//!   (interned names, function prototypes), and objects whose addresses
//!   machine code names, kept until the code is dropped ([`Heap::pin_for_code`]);
//! - [`Root`] handles: a value a Rust frame holds across an allocation;
//! - open upvalues.
//!
//! A [`Value`] or [`Gc`] in a Rust local is *not* a root. It stays valid
//! until the next allocation; to hold it across one, keep it in one of the
//! places above. An object under construction is safe: `alloc` treats the
//! references of the object it is about to allocate as roots. GC stress mode
//! (a collection at every allocation) runs the whole conformance suite to
//! keep these rules honest.
//!
//! All methods take `&self`: engines hold `&Heap` alongside their own
//! `&mut` state, and a [`Root`] can borrow the heap while the engine runs.
//! Interior state is in `Cell`/`UnsafeCell`; no method returns a reference
//! into that state, so no reference can be invalidated by a collection.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashSet;
use std::ptr::NonNull;

use crate::blocks::Blocks;
use crate::buffer::GrowArray;
use crate::cache::{CacheEntry, CacheHit, InlineCache, MegamorphicCache};
use crate::class::{ObjClass, ObjInstance, ObjShape};
use crate::frame::Frames;
use crate::gc::{GcConfig, GcLog, GcStats, OutOfMemory};
use crate::intern::StringTable;
use crate::interrupt::Interrupt;
use crate::object::{self, Gc, ObjRef, ObjString, ObjUpvalue, Object, Trace};
use crate::object::{CaptureFrom, ObjClosure, ObjFunction};
use crate::string_hash;
use crate::value::Value;

mod collect;
mod remembered;

use collect::Generation;
pub use remembered::RememberedSet;
pub(crate) use remembered::{DATA_OFFSET as REMEMBERED_DATA, LEN_OFFSET as REMEMBERED_LEN};

/// The most call frames any engine may have live at once, the script's
/// included: a call that would make one more is the runtime error
/// `Stack overflow.`. This is the whole rule, the same on every engine:
/// nothing else (native stack, value stack) runs out first, because
/// every frame fits in [`MAX_FRAME_SLOTS`] and the value stack has room for
/// that many of the largest frames, and the tree-walker grows its native
/// stack as it needs.
pub const MAX_FRAMES: usize = 16_384;
/// The most value-stack slots one frame may need (locals and temporaries,
/// slot 0 included). The front end rejects a function that would need more
/// (`resolve::MAX_FRAME_SLOTS`) and the verifier a bytecode file that
/// declares more (`bytecode::MAX_FRAME_SLOTS`); a test pins all three equal.
pub const MAX_FRAME_SLOTS: usize = 1024;
/// Value-stack capacity: [`MAX_FRAMES`] frames at their largest. Reserved
/// once and never moved, so open upvalues and machine code may address
/// slots directly; untouched pages cost nothing.
pub const STACK_SLOTS: usize = MAX_FRAMES * MAX_FRAME_SLOTS;

/// How a heap is set up: its collector's policy and log, and the interrupt
/// its engine polls.
#[derive(Default)]
pub struct HeapOptions {
    pub gc: GcConfig,
    /// Called after every collection (`--gc-log`), from the first on.
    pub gc_log: Option<GcLog>,
    pub interrupt: Interrupt,
}

pub struct Heap {
    /// The objects that survived a collection (old), for a major sweep.
    old: UnsafeCell<Vec<ObjRef>>,
    /// The objects made since the last collection (young), for every sweep.
    young: UnsafeCell<Vec<ObjRef>>,
    /// The old objects written a reference since the last collection
    /// (`collect.rs`, "Generations"), each once.
    remembered: RememberedSet,
    /// The memory the objects live in. Dropped after `Heap::drop` freed
    /// every object.
    blocks: UnsafeCell<Blocks>,
    /// Every string, found by contents.
    strings: UnsafeCell<StringTable>,
    bytes_allocated: Cell<usize>,
    /// The heap size that triggers the next collection.
    next_gc: Cell<usize>,
    /// The bytes of the young objects: made, or grown while young, since
    /// the last collection.
    young_bytes: Cell<usize>,
    /// The old objects' bytes, as the last collection left them.
    old_bytes: Cell<usize>,
    /// The next collection is major once `old_bytes` is past this.
    major_at: Cell<usize>,
    /// How many bytes to allocate between collections.
    nursery: Cell<usize>,
    config: GcConfig,
    log: RefCell<Option<GcLog>>,
    stats: Cell<GcStats>,
    collecting: Cell<bool>,
    gray: UnsafeCell<Vec<ObjRef>>,

    stack: Stack,
    frames: Frames,
    globals: Globals,
    pinned: UnsafeCell<Vec<Value>>,
    /// What machine code names by address (`pin_for_code`).
    code_pins: UnsafeCell<HashSet<Value>>,
    handles: UnsafeCell<Vec<Value>>,
    /// Open upvalues, sorted by stack slot, at most one per slot.
    open_upvalues: UnsafeCell<Vec<Gc<ObjUpvalue>>>,
    /// The interned `"init"`, pinned.
    init_string: Cell<Option<Gc<ObjString>>>,
    interrupt: Interrupt,
    /// What megamorphic property sites found (emptied at each collection).
    megamorphic: MegamorphicCache,
}

impl Heap {
    pub fn new(options: HeapOptions) -> Heap {
        let HeapOptions { gc: config, gc_log: log, interrupt } = options;
        let heap = Heap {
            old: UnsafeCell::new(Vec::new()),
            young: UnsafeCell::new(Vec::new()),
            remembered: RememberedSet::new(),
            blocks: UnsafeCell::new(Blocks::new()),
            strings: UnsafeCell::new(StringTable::new()),
            bytes_allocated: Cell::new(0),
            next_gc: Cell::new(config.initial_threshold),
            young_bytes: Cell::new(0),
            old_bytes: Cell::new(0),
            major_at: Cell::new(config.initial_threshold),
            nursery: Cell::new(config.initial_threshold / 4),
            config,
            log: RefCell::new(log),
            stats: Cell::new(GcStats::default()),
            collecting: Cell::new(false),
            gray: UnsafeCell::new(Vec::new()),
            stack: Stack::new(),
            frames: Frames::new(),
            globals: Globals { values: GrowArray::with_capacity(0) },
            pinned: UnsafeCell::new(Vec::new()),
            code_pins: UnsafeCell::new(HashSet::new()),
            handles: UnsafeCell::new(Vec::new()),
            open_upvalues: UnsafeCell::new(Vec::new()),
            init_string: Cell::new(None),
            interrupt,
            megamorphic: MegamorphicCache::default(),
        };
        let init = heap.intern_code("init");
        heap.pin(init.to_value());
        heap.init_string.set(Some(init));
        heap
    }

    pub fn stats(&self) -> GcStats {
        self.stats.get()
    }

    /// What megamorphic property sites found (see [`MegamorphicCache`]).
    pub fn megamorphic(&self) -> &MegamorphicCache {
        &self.megamorphic
    }

    /// The remembered set, which machine code's write barrier pushes onto
    /// (`abi::CONTEXT_REMEMBERED`).
    pub fn remembered_set(&self) -> &RememberedSet {
        &self.remembered
    }

    pub fn bytes_allocated(&self) -> usize {
        self.bytes_allocated.get()
    }

    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    pub fn globals(&self) -> &Globals {
        &self.globals
    }

    /// The records of the active calls of bytecode (a root area).
    pub fn frames(&self) -> &Frames {
        &self.frames
    }

    /// The flag the engine polls at back-edges and calls.
    pub fn interrupt(&self) -> &Interrupt {
        &self.interrupt
    }

    /// The interned string `"init"`.
    pub fn init_string(&self) -> Gc<ObjString> {
        self.init_string.get().expect("interned in Heap::new")
    }

    /// Keep `value` alive for the life of the heap.
    pub fn pin(&self, value: Value) {
        // SAFETY: no reference into `pinned` is live (module rules).
        unsafe { &mut *self.pinned.get() }.push(value);
    }

    /// Keep `value` alive while machine code may name its address (a
    /// shape a compiled property site compares with, a closure a compiled
    /// call compares with): until [`Heap::unpin_code`]. Were it freed, a
    /// new object could take its address and pass the code's comparison.
    /// A value pinned already is not held twice, so recompiles add nothing.
    pub fn pin_for_code(&self, value: Value) {
        // SAFETY: no reference into `code_pins` is live (module rules).
        unsafe { &mut *self.code_pins.get() }.insert(value);
    }

    /// Let go of everything [`Heap::pin_for_code`] kept: the engine has
    /// dropped all its machine code, and none of it is running.
    pub fn unpin_code(&self) {
        // SAFETY: as in `pin_for_code`.
        unsafe { &mut *self.code_pins.get() }.clear();
    }

    // ------------------------------------------------------------ allocation

    /// Allocate `obj`, collecting first if the heap is due, or fail if even
    /// after a collection it would not fit under the heap limit.
    ///
    /// The references `obj` holds are roots during that collection.
    pub fn alloc<T: Object>(&self, obj: T) -> Result<Gc<T>, OutOfMemory> {
        let size = obj.heap_size();
        // The object goes into its block before room is made, so that it
        // is built there rather than on the stack and copied over (such a
        // copy, right after the object's fields were stored, stalled on
        // store forwarding in every allocation). Not listed as young yet,
        // it cannot be swept; its references are roots meanwhile.
        let gc = self.place(obj);
        self.adopt_placed(gc, size)
    }

    /// Make room for `gc`, an object of `size` bytes just placed in a block
    /// and not yet listed, and list it; or, if it does not fit, free it.
    #[inline(always)]
    fn adopt_placed<T: Object>(&self, gc: Gc<T>, size: usize) -> Result<Gc<T>, OutOfMemory> {
        if let Err(full) = self.make_room(size, Some(&*gc)) {
            // SAFETY: placed by the caller, listed nowhere and not handed
            // out, so nothing uses it again.
            unsafe { object::free(gc.as_obj(), &mut *self.blocks.get()) };
            return Err(full);
        }
        Ok(self.adopt(gc, size))
    }

    /// Allocate code rather than data: a loaded function's object, its
    /// constants and names. Like a JVM's class metadata, code is not held
    /// against the heap limit (its size is bounded by the source's, which
    /// the front end caps), so that a program that filled the heap can
    /// still be given the code that frees it (`list = nil;` in a REPL). It
    /// may collect, as any allocation.
    pub fn alloc_code<T: Object>(&self, obj: T) -> Gc<T> {
        let size = obj.heap_size();
        // Placed first, as in `alloc`.
        let gc = self.place(obj);
        if self.config.stress
            || self.bytes_allocated.get().saturating_add(size) > self.next_gc.get()
        {
            self.collect_with(Some(&*gc), Generation::Due);
        }
        self.adopt(gc, size)
    }

    /// [`intern`](Self::intern) for code (a constant or a name), outside the
    /// heap limit as [`alloc_code`](Self::alloc_code) is.
    pub fn intern_code(&self, text: &str) -> Gc<ObjString> {
        let hash = string_hash::hash(text.as_bytes());
        if let Some(found) = self.find_interned(hash, text) {
            return found;
        }
        let string = self.alloc_code(ObjString::new(hash, text.into()));
        self.add_interned(string);
        string
    }

    /// Allocate without a limit check or a collection: only for what a heap
    /// needs before any program runs (the natives, `"init"`).
    pub(crate) fn alloc_unchecked<T: Object>(&self, obj: T, size: usize) -> Gc<T> {
        self.adopt(self.place(obj), size)
    }

    /// Move `obj` into a block of the heap's allocator. Until it is
    /// [adopted](Self::adopt) the collector neither sees nor frees it.
    #[inline(always)]
    fn place<T: Object>(&self, obj: T) -> Gc<T> {
        // SAFETY: no reference into `blocks` is live (module rules).
        Gc::place(unsafe { &mut *self.blocks.get() }, obj)
    }

    /// Count a placed object's `size` bytes and list it for the sweep, as
    /// young.
    #[inline(always)]
    fn adopt<T: Object>(&self, gc: Gc<T>, size: usize) -> Gc<T> {
        self.bytes_allocated.set(self.bytes_allocated.get() + size);
        self.young_bytes.set(self.young_bytes.get() + size);
        // SAFETY: no reference into `young` is live (module rules).
        unsafe { &mut *self.young.get() }.push(gc.as_obj());
        gc
    }

    /// Whether `size` more bytes fit without a collection: `make_room`
    /// would neither collect nor fail for them.
    fn has_room_without_collecting(&self, size: usize) -> bool {
        let wanted = self.bytes_allocated.get().saturating_add(size);
        !self.config.stress && wanted <= self.next_gc.get() && wanted <= self.config.max_heap
    }

    /// Make sure `size` more bytes fit: collect if the heap is due (or at
    /// every allocation under stress), and again, fully (a major
    /// collection), if they would go past the limit. `extra`'s references
    /// are roots meanwhile.
    fn make_room(&self, size: usize, extra: Option<&dyn Trace>) -> Result<(), OutOfMemory> {
        let wanted = |heap: &Heap| heap.bytes_allocated.get().saturating_add(size);
        let mut major = false;
        if self.config.stress || wanted(self) > self.next_gc.get() {
            major = self.collect_with(extra, Generation::Due);
        }
        if wanted(self) > self.config.max_heap {
            if !major {
                self.collect_with(extra, Generation::Major);
            }
            if wanted(self) > self.config.max_heap {
                return Err(OutOfMemory);
            }
        }
        Ok(())
    }

    /// Account for `bytes` that `obj`, an existing object, just grew by (a
    /// field vector, a method or transition table), so that the collector's
    /// figures and the heap limit see all memory: if the heap is now past
    /// its limit even after a collection, the program is out of memory.
    fn grew(&self, obj: ObjRef, bytes: usize) -> Result<(), OutOfMemory> {
        self.bytes_allocated.set(self.bytes_allocated.get().saturating_add(bytes));
        if !obj.is_marked() {
            self.young_bytes.set(self.young_bytes.get() + bytes);
        }
        if self.bytes_allocated.get() > self.config.max_heap {
            self.collect_with(None, Generation::Major);
            if self.bytes_allocated.get() > self.config.max_heap {
                return Err(OutOfMemory);
            }
        }
        Ok(())
    }

    /// The interned string with these contents.
    pub fn intern(&self, text: &str) -> Result<Gc<ObjString>, OutOfMemory> {
        let hash = string_hash::hash(text.as_bytes());
        if let Some(found) = self.find_interned(hash, text) {
            return Ok(found);
        }
        self.insert_interned(hash, text.into())
    }

    /// [`intern`](Self::intern) for a string the caller built.
    pub fn intern_owned(&self, text: String) -> Result<Gc<ObjString>, OutOfMemory> {
        let hash = string_hash::hash(text.as_bytes());
        if let Some(found) = self.find_interned(hash, &text) {
            return Ok(found);
        }
        self.insert_interned(hash, text.into_boxed_str())
    }

    /// `a + b` for strings: builds the result before allocating, so neither
    /// operand needs to survive a collection. Room is made first, so a
    /// result past the heap limit is never built. The result's hash comes
    /// from the operands' (`string_hash.rs`): it is compared with interned
    /// strings of that hash, and never hashed itself.
    pub fn concat(&self, a: Gc<ObjString>, b: Gc<ObjString>) -> Result<Gc<ObjString>, OutOfMemory> {
        let len = a.as_str().len().saturating_add(b.as_str().len());
        // Both operands stay alive across this collection: `extra` roots them.
        self.make_room(size_of::<ObjString>().saturating_add(len), Some(&Operands(a, b)))?;
        self.concat_in_room(a, b)
    }

    /// `a + b`, as [`concat`](Self::concat) makes it, if that takes no
    /// collection: the heap is under the threshold of its next collection
    /// even with the result new (never under stress). Else `None`, having
    /// done nothing. It cannot collect, so compiled code calls it without
    /// a safepoint.
    pub fn concat_without_collecting(
        &self,
        a: Gc<ObjString>,
        b: Gc<ObjString>,
    ) -> Option<Gc<ObjString>> {
        let len = a.as_str().len().saturating_add(b.as_str().len());
        if !self.has_room_without_collecting(size_of::<ObjString>().saturating_add(len)) {
            return None;
        }
        // The result's allocation, if any, finds the room checked here, so
        // it does not collect either: it cannot fail.
        self.concat_in_room(a, b).ok()
    }

    /// `a + b`, with room made for the result.
    ///
    /// Most concatenations of a program that builds the same strings again
    /// find their result interned, so the result is not built to look for
    /// it: each interned string of its hash is compared with the two
    /// operands in place, and the result is built (once, in its own
    /// allocation) only when it is new.
    fn concat_in_room(
        &self,
        a: Gc<ObjString>,
        b: Gc<ObjString>,
    ) -> Result<Gc<ObjString>, OutOfMemory> {
        let hash = string_hash::concat(a.hash, b.hash, b.as_str().len());
        let (a, b) = (a.as_str(), b.as_str());
        let len = a.len() + b.len();
        let is_result = |s: &str| {
            let s = s.as_bytes();
            s.len() == len
                && same_bytes(&s[..a.len()], a.as_bytes())
                && same_bytes(&s[a.len()..], b.as_bytes())
        };
        if let Some(found) = self.find_interned_by(hash, is_result) {
            return Ok(found);
        }
        let mut text = String::with_capacity(len);
        text.push_str(a);
        text.push_str(b);
        self.insert_interned(hash, text.into_boxed_str())
    }

    /// The interned string with these contents, whose hash is `hash`.
    fn find_interned(&self, hash: u64, text: &str) -> Option<Gc<ObjString>> {
        let text = text.as_bytes();
        self.find_interned_by(hash, |s| s.len() == text.len() && same_bytes(s.as_bytes(), text))
    }

    /// The interned string whose hash is `hash` and whose contents `is`
    /// accepts.
    #[inline(always)]
    fn find_interned_by(&self, hash: u64, is: impl Fn(&str) -> bool) -> Option<Gc<ObjString>> {
        // SAFETY: no reference into `strings` is live (module rules).
        let strings = unsafe { &*self.strings.get() };
        strings.find(hash, |s| is(s.as_str()))
    }

    fn insert_interned(&self, hash: u64, chars: Box<str>) -> Result<Gc<ObjString>, OutOfMemory> {
        let string = self.alloc(ObjString::new(hash, chars))?;
        self.add_interned(string);
        Ok(string)
    }

    fn add_interned(&self, string: Gc<ObjString>) {
        // SAFETY: as above; an allocation may have collected, which only
        // removes dead strings, so `string` is still absent.
        let strings = unsafe { &mut *self.strings.get() };
        strings.insert(string);
    }

    /// A new instance of `class`, which the caller keeps rooted. The class
    /// is sealed: its methods are final from now on.
    pub fn instantiate(&self, class: Gc<ObjClass>) -> Result<Gc<ObjInstance>, OutOfMemory> {
        class.seal();
        let shape = match class.root_shape() {
            Some(shape) => shape,
            None => {
                // The shape under construction names the class: rooted.
                let shape = self.alloc(ObjShape::root(class))?;
                class.set_root_shape(shape);
                self.write_barrier(class.as_obj());
                shape
            }
        };
        let capacity = class.field_hint();
        if capacity > ObjInstance::INLINE_MAX {
            // SAFETY: no reference into `blocks` is live (module rules);
            // this one ends before the allocation.
            let blocks = unsafe { &mut *self.blocks.get() };
            return self.alloc(ObjInstance::with_array(shape, capacity, blocks));
        }
        // The fields go into the instance's own block, after it.
        let instance = ObjInstance::new(shape, capacity);
        let size = instance.heap_size();
        // SAFETY: no reference into `blocks` is live (module rules).
        let gc = Gc::place_sized(unsafe { &mut *self.blocks.get() }, instance);
        // SAFETY: just placed, in a block of its layout.
        unsafe { gc.use_inline_fields() };
        self.adopt_placed(gc, size)
    }

    /// A new instance of `class`, made as [`instantiate`](Self::instantiate)
    /// makes it, if that takes no collection and no other allocation: the
    /// class made an instance before (so it has its root shape, and is
    /// sealed), its fields fit in the instance's own block, and the heap is
    /// under the threshold of its next collection (never under stress).
    /// Else `None`, having done nothing. It cannot collect, so compiled code
    /// calls it without a safepoint, and `instantiate` only when it fails.
    pub fn instantiate_without_collecting(&self, class: Gc<ObjClass>) -> Option<Gc<ObjInstance>> {
        let shape = class.root_shape()?;
        let capacity = class.field_hint();
        if capacity > ObjInstance::INLINE_MAX {
            return None;
        }
        let instance = ObjInstance::new(shape, capacity);
        let size = instance.heap_size();
        if !self.has_room_without_collecting(size) {
            return None;
        }
        // SAFETY: no reference into `blocks` is live (module rules).
        let gc = Gc::place_sized(unsafe { &mut *self.blocks.get() }, instance);
        // SAFETY: just placed, in a block of its layout.
        unsafe { gc.use_inline_fields() };
        Some(self.adopt(gc, size))
    }

    /// Set field `name` of `instance` to `value` by the generic lookup, and
    /// say how, for an inline cache: the index of an existing field, or the
    /// shape the instance moved to when the field was new.
    pub fn set_field(
        &self,
        instance: Gc<ObjInstance>,
        name: Gc<ObjString>,
        value: Value,
    ) -> Result<CacheHit, OutOfMemory> {
        let shape = instance.shape();
        if let Some(index) = shape.lookup(name) {
            self.set_field_at(instance, index, value);
            return Ok(CacheHit::Field(index));
        }
        let child = match shape.transition(name) {
            Some(child) => child,
            None => {
                // The new shape names its parent, class and key, so they are
                // rooted while it is allocated; the instance and value are not.
                let _instance = Root::new(self, instance.to_value());
                let _value = Root::new(self, value);
                let child = self.alloc(ObjShape::child(shape, name))?;
                let transition = shape.add_transition(name, child);
                let index = child.attach_index();
                self.write_barrier(shape.as_obj());
                // The child is reachable from its parent now: rooted.
                self.grew(shape.as_obj(), transition)?;
                let owner = child.index_owner().unwrap_or(child);
                self.grew(owner.as_obj(), index)?;
                child
            }
        };
        self.add_field(instance, child, value)?;
        Ok(CacheHit::AddField(child))
    }

    /// Append a field to `instance`, moving it to `shape`, which must be the
    /// child of its shape that adds one field (what [`set_field`] returned
    /// for an instance of the same shape). Allocates nothing the GC tracks.
    ///
    /// [`set_field`]: Self::set_field
    #[inline]
    pub fn add_field(
        &self,
        instance: Gc<ObjInstance>,
        shape: Gc<ObjShape>,
        value: Value,
    ) -> Result<(), OutOfMemory> {
        // SAFETY: no reference into `blocks` is live (module rules), and the
        // instance was made by this heap, in these blocks.
        let grown = unsafe { instance.add_field(shape, value, &mut *self.blocks.get()) };
        self.write_barrier(instance.as_obj());
        match grown {
            0 => Ok(()),
            grown => self.grew(instance.as_obj(), grown),
        }
    }

    /// Set field `index` of `instance`, one its shape has, to `value`.
    #[inline(always)]
    pub fn set_field_at(&self, instance: Gc<ObjInstance>, index: u32, value: Value) {
        instance.set_field_at(index, value);
        self.write_barrier(instance.as_obj());
    }

    /// Remember `hit` for `key` in `cache`, an inline cache of `function`
    /// (see [`InlineCache::insert`]).
    pub fn cache_insert(
        &self,
        function: Gc<ObjFunction>,
        cache: &InlineCache,
        key: ObjRef,
        hit: CacheHit,
    ) {
        cache.insert(key, hit);
        self.write_barrier(function.as_obj());
    }

    /// At a miss on `key` at `cache`, an inline cache of `function`: what
    /// the megamorphic cache holds for it, taken into `cache` (see
    /// [`InlineCache::recall`]).
    pub fn cache_recall(
        &self,
        function: Gc<ObjFunction>,
        cache: &InlineCache,
        key: ObjRef,
    ) -> Option<&CacheEntry> {
        let entry = cache.recall(&self.megamorphic, key)?;
        self.write_barrier(function.as_obj());
        Some(entry)
    }

    /// Copy `superclass`'s methods into `class` (see [`ObjClass::inherit`]),
    /// accounting for the growth.
    pub fn inherit(
        &self,
        class: Gc<ObjClass>,
        superclass: Gc<ObjClass>,
    ) -> Result<(), OutOfMemory> {
        let before = class.heap_size();
        class.inherit(&superclass);
        self.write_barrier(class.as_obj());
        self.grew(class.as_obj(), class.heap_size() - before)
    }

    /// Define method `name` of `class`, which is being declared (not
    /// sealed), accounting for the growth of its method table.
    pub fn define_method(
        &self,
        class: Gc<ObjClass>,
        name: Gc<ObjString>,
        method: Gc<ObjClosure>,
    ) -> Result<(), OutOfMemory> {
        let grown = class.set_method(name, method, self.init_string());
        self.write_barrier(class.as_obj());
        self.grew(class.as_obj(), grown)
    }

    // -------------------------------------------------------------- upvalues

    /// A closure over `function`, made as `Closure` and a function
    /// declaration make it in every engine: each capture, in order, is
    /// either the local in stack slot `base + index` of the running frame
    /// (`is_local`: its value, if by value, else its open upvalue, shared
    /// with every closure that captured it) or what the enclosing closure
    /// holds for its captured variable `index` (held the same way).
    pub fn make_closure(
        &self,
        function: Gc<ObjFunction>,
        captures: impl ExactSizeIterator<Item = CaptureFrom>,
        base: u32,
        enclosing: Option<Gc<ObjClosure>>,
    ) -> Result<Gc<ObjClosure>, OutOfMemory> {
        // The closure is placed first, and each upvalue goes straight into
        // the room after it in its block as it is captured. Not listed yet,
        // the closure is neither traced nor swept by a collection while an
        // upvalue is made; it needs not be: its function is code the
        // engine keeps pinned (every engine pins the function objects it
        // makes), captures of the enclosing closure stay
        // reachable through it (it is running, so it is a root), values
        // copied from the frame's slots stay there, and new open upvalues
        // are roots.
        // SAFETY: no reference into `blocks` is live (module rules).
        let closure =
            ObjClosure::place(unsafe { &mut *self.blocks.get() }, function, captures.len());
        for (at, capture) in captures.enumerate() {
            let slot = base + u32::from(capture.index);
            let held = match capture {
                CaptureFrom { is_local: false, index, .. } => {
                    enclosing.expect("nested functions run in a closure").upvalues[index as usize]
                }
                CaptureFrom { by_value: true, .. } => self.stack.get(slot as usize),
                CaptureFrom { by_value: false, .. } => match self.capture_upvalue(slot) {
                    Ok(upvalue) => upvalue.to_value(),
                    Err(full) => {
                        // SAFETY: placed above, listed nowhere and not
                        // handed out, so nothing uses it again.
                        unsafe { object::free(closure.as_obj(), &mut *self.blocks.get()) };
                        return Err(full);
                    }
                },
            };
            // SAFETY: just placed, not yet listed or read; `at` is below
            // the count of captures it was placed with.
            unsafe { closure.init_upvalue(at, held) };
        }
        self.adopt_placed(closure, closure.heap_size())
    }

    /// A closure over `function` whose captured variables are all nil, if
    /// the heap makes it without collecting: it is under the threshold of
    /// its next collection even with the closure new (never under stress).
    /// Else `None`, having done nothing. It cannot collect, so compiled
    /// code calls it without a safepoint, and then stores what each
    /// capture takes (as [`make_closure`](Self::make_closure) would) into
    /// the closure's upvalues before anything can read them: values it
    /// has in hand, which it need not write to the frame first.
    pub fn closure_without_collecting(&self, function: Gc<ObjFunction>) -> Option<Gc<ObjClosure>> {
        let count = usize::from(function.upvalue_count);
        let size = ObjClosure::size(count);
        if !self.has_room_without_collecting(size) {
            return None;
        }
        // SAFETY: no reference into `blocks` is live (module rules).
        let closure = ObjClosure::place(unsafe { &mut *self.blocks.get() }, function, count);
        for at in 0..count {
            // SAFETY: just placed, not yet listed or read; `at` is below
            // the count it was placed with.
            unsafe { closure.init_upvalue(at, Value::NIL) };
        }
        Some(self.adopt(closure, size))
    }

    /// The open upvalue for stack `slot`, created if none exists yet.
    pub fn capture_upvalue(&self, slot: u32) -> Result<Gc<ObjUpvalue>, OutOfMemory> {
        // SAFETY: no reference into `open_upvalues` is live (module rules);
        // this borrow ends before the allocation below.
        let open = unsafe { &*self.open_upvalues.get() };
        let at = match open.binary_search_by_key(&slot, |u| u.open_slot().unwrap_or(u32::MAX)) {
            Ok(found) => return Ok(open[found]),
            Err(at) => at,
        };
        // A captured slot is live, or (a local function capturing itself) the
        // slot its closure is about to be pushed into.
        assert!((slot as usize) <= self.stack.len(), "a captured slot is live");
        assert!((slot as usize) < self.stack.capacity(), "a captured slot is inside the stack");
        // SAFETY: inside the stack (asserted).
        let location = unsafe { self.stack.base_ptr().add(slot as usize) };
        let upvalue = self.alloc(ObjUpvalue::new_open(slot, location))?;
        // SAFETY: as above; a collection keeps the list's order.
        unsafe { &mut *self.open_upvalues.get() }.insert(at, upvalue);
        Ok(upvalue)
    }

    /// Assign the variable `upvalue` holds.
    #[inline(always)]
    pub fn set_upvalue(&self, upvalue: Gc<ObjUpvalue>, value: Value) {
        upvalue.set(value);
        self.write_barrier(upvalue.as_obj());
    }

    /// Close every open upvalue at `from_slot` or above: their variables'
    /// scope is ending.
    #[inline]
    pub fn close_upvalues(&self, from_slot: u32) {
        // SAFETY: no reference into `open_upvalues` is live (module rules).
        let open = unsafe { &mut *self.open_upvalues.get() };
        while let Some(&last) = open.last() {
            let slot = last.open_slot().expect("only open upvalues are listed");
            if slot < from_slot {
                break;
            }
            assert!((slot as usize) < self.stack.len(), "open upvalues point below the top");
            last.close();
            self.write_barrier(last.as_obj());
            open.pop();
        }
    }
}

impl Drop for Heap {
    /// Run every object's destructor; the chunks they were in are freed
    /// after this, when the `blocks` field is dropped.
    fn drop(&mut self) {
        let blocks = self.blocks.get_mut();
        for &obj in self.old.get_mut().iter().chain(self.young.get_mut().iter()) {
            // SAFETY: the heap placed every object in `blocks`, lists each
            // once, and is going away, so none is used again.
            unsafe { object::free(obj, blocks) };
        }
    }
}

/// The two operands of a string concatenation, as roots.
struct Operands(Gc<ObjString>, Gc<ObjString>);

impl Trace for Operands {
    fn trace(&self, tracer: &mut dyn FnMut(ObjRef)) {
        tracer(self.0.as_obj());
        tracer(self.1.as_obj());
    }
}

/// Whether two byte strings of the same length are equal. Interned strings
/// are short, and are compared with the candidates a lookup finds many
/// times a second: this compares them a word at a time, inline, where a
/// call of `memcmp` costs more than the comparison (`bench/strings.lox`).
#[inline(always)]
fn same_bytes(x: &[u8], y: &[u8]) -> bool {
    let n = x.len();
    let y = &y[..n];
    let word = |s: &[u8], at: usize| u64::from_ne_bytes(s[at..at + 8].try_into().unwrap());
    let half = |s: &[u8], at: usize| u32::from_ne_bytes(s[at..at + 4].try_into().unwrap());
    match n {
        0 => true,
        1..4 => x[0] == y[0] && x[n / 2] == y[n / 2] && x[n - 1] == y[n - 1],
        4..8 => half(x, 0) == half(y, 0) && half(x, n - 4) == half(y, n - 4),
        8..=64 => {
            // Whole words, then the last word (which may overlap the one
            // before it).
            let mut at = 0;
            while at + 8 < n {
                if word(x, at) != word(y, at) {
                    return false;
                }
                at += 8;
            }
            word(x, n - 8) == word(y, n - 8)
        }
        _ => x == y,
    }
}

// ------------------------------------------------------------------ roots

/// The value stack shared by every engine's frames. A root.
///
/// Its capacity is reserved up front ([`STACK_SLOTS`]) and never grows, so
/// slot addresses are stable. Pushing past it is a Lox `Stack overflow.`
/// The layout is fixed (`abi.rs`): machine code keeps the top in a register
/// and publishes the height at safepoints, as the VM does.
#[repr(C)]
pub struct Stack {
    /// Slot 0, fixed for the heap's life.
    pub(crate) base: NonNull<Value>,
    /// The published height: slots below it hold values, and are roots.
    pub(crate) len: Cell<usize>,
    capacity: usize,
}

/// The stack is full: the engine reports `Stack overflow.`
#[derive(Debug)]
pub struct StackFull;

impl Stack {
    fn new() -> Stack {
        // Reserved, not touched: the pages cost nothing until used.
        let mut reserved = std::mem::ManuallyDrop::new(Vec::<Value>::with_capacity(STACK_SLOTS));
        let capacity = reserved.capacity();
        // SAFETY: a `Vec`'s pointer is never null.
        let base = unsafe { NonNull::new_unchecked(reserved.as_mut_ptr()) };
        Stack { base, len: Cell::new(0), capacity }
    }

    /// The live slots (a root area).
    fn live(&self) -> &[Value] {
        // SAFETY: the slots below the published height hold values
        // (`set_len`'s contract); the caller keeps the slice only while no
        // engine writes the stack (tracing, inside an allocation).
        unsafe { std::slice::from_raw_parts(self.base.as_ptr(), self.len.get()) }
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len.get()
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len.get() == 0
    }

    #[inline(always)]
    pub fn push(&self, value: Value) -> Result<(), StackFull> {
        let len = self.len.get();
        if len == self.capacity {
            return Err(StackFull);
        }
        // SAFETY: below the capacity (checked).
        unsafe { self.base.as_ptr().add(len).write(value) };
        self.len.set(len + 1);
        Ok(())
    }

    #[inline(always)]
    pub fn pop(&self) -> Value {
        let len = self.len.get().checked_sub(1).expect("pop from an empty stack");
        self.len.set(len);
        // SAFETY: the slot was below the height, so it holds a value.
        unsafe { self.base.as_ptr().add(len).read() }
    }

    /// The value in `slot`.
    ///
    /// # Panics
    /// If `slot` is not below the height.
    #[inline(always)]
    pub fn get(&self, slot: usize) -> Value {
        assert!(slot < self.len.get(), "slot {slot} above the stack's top");
        // SAFETY: below the height (checked).
        unsafe { self.base.as_ptr().add(slot).read() }
    }

    /// Overwrite `slot`.
    ///
    /// # Panics
    /// If `slot` is not below the height.
    #[inline(always)]
    pub fn set(&self, slot: usize, value: Value) {
        assert!(slot < self.len.get(), "slot {slot} above the stack's top");
        // SAFETY: below the height (checked).
        unsafe { self.base.as_ptr().add(slot).write(value) }
    }

    /// Drop every slot from `len` up (a no-op if the stack is lower).
    #[inline(always)]
    pub fn truncate(&self, len: usize) {
        if len < self.len.get() {
            self.len.set(len);
        }
    }

    /// How many slots the stack can hold ([`STACK_SLOTS`]).
    #[inline(always)]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The address of slot 0, fixed for the life of the heap: an engine may
    /// keep the top of the stack in a register and write slots through it,
    /// then publish the height with [`set_len`](Self::set_len) before
    /// anything that can collect or read the stack (DESIGN.md invariant 6).
    #[inline(always)]
    pub fn base_ptr(&self) -> *mut Value {
        self.base.as_ptr()
    }

    /// Publish the stack's height.
    ///
    /// # Safety
    /// `len` is at most [`capacity`](Self::capacity), and every slot below
    /// it holds a value written since the heap was made.
    #[inline(always)]
    pub unsafe fn set_len(&self, len: usize) {
        debug_assert!(len <= self.capacity);
        self.len.set(len);
    }

    /// A copy of `range` (for native calls and diagnostics).
    pub fn slice_to_vec(&self, range: std::ops::Range<usize>) -> Vec<Value> {
        self.live()[range].to_vec()
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the allocation `new` reserved; `Value` needs no drop.
        drop(unsafe { Vec::from_raw_parts(self.base.as_ptr(), 0, self.capacity) });
    }
}

/// Global variables, indexed by the resolver's global slots. A root.
///
/// The layout is fixed (`abi.rs`). An engine makes room for every global a
/// module names before it runs the module ([`reserve`](Self::reserve)), so
/// the array does not move while code runs: machine code may load its
/// address once per entry.
#[repr(C)]
pub struct Globals {
    pub(crate) values: GrowArray<Value>,
}

impl Globals {
    /// The global in `slot`, or `Value::UNDEFINED` if it was never defined.
    #[inline(always)]
    pub fn get(&self, slot: usize) -> Value {
        if slot < self.values.len() { self.values.get(slot) } else { Value::UNDEFINED }
    }

    #[inline(always)]
    pub fn set(&self, slot: usize, value: Value) {
        self.reserve(slot + 1);
        self.values.set(slot, value);
    }

    /// Make room for `count` globals (undefined until set).
    pub fn reserve(&self, count: usize) {
        while self.values.len() < count {
            self.values.push(Value::UNDEFINED);
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// A value held by Rust code across allocations: a root for its lifetime.
///
/// Roots form a stack: they must be dropped in reverse order of creation,
/// which Rust's scoping does for locals.
pub struct Root<'h> {
    heap: &'h Heap,
    index: usize,
}

impl<'h> Root<'h> {
    pub fn new(heap: &'h Heap, value: Value) -> Root<'h> {
        // SAFETY: no reference into `handles` is live (module rules).
        let handles = unsafe { &mut *heap.handles.get() };
        handles.push(value);
        Root { heap, index: handles.len() - 1 }
    }

    #[inline(always)]
    pub fn get(&self) -> Value {
        // SAFETY: as in `new`.
        unsafe { (&*self.heap.handles.get())[self.index] }
    }
}

impl Drop for Root<'_> {
    fn drop(&mut self) {
        // SAFETY: as in `new`.
        let handles = unsafe { &mut *self.heap.handles.get() };
        debug_assert_eq!(handles.len(), self.index + 1, "roots dropped out of order");
        handles.truncate(self.index);
    }
}
