//! Heap objects: a common header, one struct per kind, and typed pointers.
//!
//! Every object is `#[repr(C)]` with a [`Header`] first, so a pointer to any
//! object is also a pointer to its header ([`ObjRef`]), and a header whose
//! `kind` says `String` may be cast back to an [`ObjString`]. Objects are
//! allocated and freed only by the [`Heap`](crate::Heap), in blocks of its
//! allocator (`blocks.rs`) sized by their kind's type.
//!
//! Mutable parts of objects use `Cell`/`UnsafeCell`: the runtime is
//! single-threaded and never hands out a reference into an object that
//! outlives the method call that made it.

use std::alloc::Layout;
use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

use crate::blocks::Blocks;
use crate::buffer::{FixedArray, InBlocks};
use crate::cache::InlineCache;
use crate::class::{ObjBoundMethod, ObjClass, ObjInstance, ObjShape};
use crate::value::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ObjKind {
    String,
    Function,
    Native,
    Closure,
    Upvalue,
    Class,
    Instance,
    BoundMethod,
    Shape,
}

/// The first field of every object.
///
/// `marked` and `remembered` are the collector's (`heap.rs`, "Generations"):
/// an object is *old* once it survived a collection, and its mark stays set
/// until a major collection starts ("sticky" mark bits), so a minor
/// collection stops at every old object. `remembered` says an old object is
/// in the heap's remembered set: it was written a reference since the last
/// collection, so the next minor one traces it. `marked` and `remembered`
/// are adjacent, so that machine code's write barrier reads both at once
/// (`abi::HEADER_GENERATION`).
#[repr(C)]
pub struct Header {
    pub(crate) kind: ObjKind,
    pub(crate) marked: Cell<bool>,
    pub(crate) remembered: Cell<bool>,
}

impl Header {
    pub(crate) fn new(kind: ObjKind) -> Header {
        Header { kind, marked: Cell::new(false), remembered: Cell::new(false) }
    }
}

/// A pointer to some live object, of any kind.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObjRef(NonNull<Header>);

impl ObjRef {
    /// The object at `addr` (as machine code hands one to a helper).
    ///
    /// # Safety
    /// `addr` must be the address of a live object's header.
    #[inline(always)]
    pub unsafe fn from_addr(addr: usize) -> ObjRef {
        // SAFETY: the caller promises a live object, which is never null.
        ObjRef(unsafe { NonNull::new_unchecked(addr as *mut Header) })
    }

    #[inline(always)]
    pub fn addr(self) -> usize {
        self.0.as_ptr() as usize
    }

    #[inline(always)]
    fn header(&self) -> &Header {
        // SAFETY: an `ObjRef` only exists for an object the heap allocated;
        // the caller keeps it reachable (see the rooting rules in heap.rs).
        unsafe { self.0.as_ref() }
    }

    #[inline(always)]
    pub fn kind(self) -> ObjKind {
        self.header().kind
    }

    /// Marked by the collection under way, or old (see [`Header`]).
    #[inline(always)]
    pub(crate) fn is_marked(self) -> bool {
        self.header().marked.get()
    }

    #[inline(always)]
    pub(crate) fn set_marked(self, marked: bool) {
        self.header().marked.set(marked)
    }

    /// Whether a write of a reference into this object must put it in the
    /// remembered set: it is old, and not there yet.
    #[inline(always)]
    pub(crate) fn needs_remembering(self) -> bool {
        let header = self.header();
        header.marked.get() && !header.remembered.get()
    }

    #[inline(always)]
    pub(crate) fn set_remembered(self, remembered: bool) {
        self.header().remembered.set(remembered)
    }

    /// This object as a `T`, if it is one.
    #[inline(always)]
    pub fn downcast<T: Object>(self) -> Option<Gc<T>> {
        if self.kind() == T::KIND { Some(Gc(self.0.cast(), PhantomData)) } else { None }
    }

    /// The object as a `T`, without looking at its kind.
    ///
    /// # Safety
    /// The object's kind is `T::KIND`.
    #[inline(always)]
    pub(crate) unsafe fn downcast_unchecked<T: Object>(self) -> Gc<T> {
        debug_assert_eq!(self.kind(), T::KIND);
        Gc(self.0.cast(), PhantomData)
    }

    pub(crate) fn raw(self) -> NonNull<Header> {
        self.0
    }
}

impl fmt::Debug for ObjRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}@{:#x}", self.kind(), self.addr())
    }
}

/// A typed pointer to a live object of kind `T`.
///
/// `Gc` is a plain pointer: it does not keep its object alive. It stays
/// valid while the object is reachable from a root (see `heap.rs`).
#[repr(transparent)]
pub struct Gc<T>(NonNull<T>, PhantomData<*const T>);

impl<T> Clone for Gc<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for Gc<T> {}

impl<T> PartialEq for Gc<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<T> Eq for Gc<T> {}

impl<T: Object> Gc<T> {
    /// Move `obj` into a block of `blocks`, where it stays until [`free`].
    pub(crate) fn place(blocks: &mut Blocks, obj: T) -> Gc<T> {
        debug_assert_eq!(obj.block_layout(), Layout::new::<T>());
        let ptr = blocks.alloc(Layout::new::<T>()).cast::<T>();
        // SAFETY: a fresh block of `T`'s layout, which nothing else uses.
        unsafe { ptr.write(obj) };
        Gc(ptr, PhantomData)
    }

    /// Move `obj` into a block of `blocks` of its
    /// [`block_layout`](Object::block_layout), larger than its type's:
    /// the rest of the block is the object's, uninitialized.
    #[inline(always)]
    pub(crate) fn place_sized(blocks: &mut Blocks, obj: T) -> Gc<T> {
        let layout = obj.block_layout();
        debug_assert!(layout.size() >= size_of::<T>() && layout.align() == align_of::<T>());
        let ptr = blocks.alloc(layout).cast::<T>();
        // SAFETY: a fresh block with room for a `T` at its start (asserted
        // by the `Object` impl's layout), which nothing else uses.
        unsafe { ptr.write(obj) };
        Gc(ptr, PhantomData)
    }

    #[inline(always)]
    pub fn as_obj(self) -> ObjRef {
        ObjRef(self.0.cast())
    }

    #[inline(always)]
    pub fn to_value(self) -> Value {
        Value::object(self.as_obj())
    }

    pub fn ptr_eq(a: Gc<T>, b: Gc<T>) -> bool {
        a.0 == b.0
    }

    pub fn as_ptr(self) -> *const T {
        self.0.as_ptr()
    }
}

impl<T> Deref for Gc<T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        // SAFETY: a `Gc` is only made for an object the heap allocated, and
        // is used only while that object is reachable from a root, so the
        // object is alive. Its mutable parts are `Cell`s.
        unsafe { self.0.as_ref() }
    }
}

impl<T: Object> fmt::Debug for Gc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_obj().fmt(f)
    }
}

/// Visits the object references an object or root holds.
pub trait Trace {
    fn trace(&self, tracer: &mut dyn FnMut(ObjRef));
}

/// A kind of heap object.
///
/// # Safety
/// The type must be `#[repr(C)]` with a [`Header`] of kind `KIND` as its
/// first field, and `trace` must visit every object reference it holds.
/// `block_layout` must be the layout of the block the object was placed in,
/// for as long as it lives.
pub unsafe trait Object: Trace + Sized {
    const KIND: ObjKind;
    /// Bytes this object owns: itself and any buffer it points to.
    fn heap_size(&self) -> usize;
    /// The layout of the object's block: its type's, unless the object
    /// keeps more in the same block (an instance's first fields, a
    /// closure's upvalues).
    #[inline(always)]
    fn block_layout(&self) -> Layout {
        Layout::new::<Self>()
    }
}

pub(crate) fn trace_value(value: Value, tracer: &mut dyn FnMut(ObjRef)) {
    if let Some(obj) = value.as_object() {
        tracer(obj);
    }
}

// ------------------------------------------------------------------ strings

/// An immutable, interned string: equal contents means the same object.
#[repr(C)]
pub struct ObjString {
    header: Header,
    /// The hash of the contents (`string_hash.rs`), from which that of a
    /// concatenation is computed; tables take its `spread`.
    pub(crate) hash: u64,
    chars: Box<str>,
}

impl ObjString {
    pub(crate) fn new(hash: u64, chars: Box<str>) -> ObjString {
        ObjString { header: Header::new(ObjKind::String), hash, chars }
    }

    pub fn as_str(&self) -> &str {
        &self.chars
    }
}

impl Trace for ObjString {
    fn trace(&self, _: &mut dyn FnMut(ObjRef)) {}
}

// SAFETY: repr(C), header first, and a string holds no references.
unsafe impl Object for ObjString {
    const KIND: ObjKind = ObjKind::String;
    fn heap_size(&self) -> usize {
        size_of::<Self>() + self.chars.len()
    }
}

// ---------------------------------------------------------------- functions

/// A function's identity for the runtime: name, arity, how many variables
/// it captures, and the inline caches of its property sites. Its code
/// belongs to the engine, which finds it by `proto`.
#[repr(C)]
pub struct ObjFunction {
    header: Header,
    /// `None` for the top-level script.
    pub name: Option<Gc<ObjString>>,
    pub arity: u8,
    pub upvalue_count: u16,
    /// The engine's index of this function's code.
    pub proto: u32,
    /// One cache per property, method or super site of the code, indexed by
    /// the site operand (see `cache.rs`). Engines without sites leave it empty.
    pub caches: FixedArray<InlineCache>,
    /// Machine code for the function's body, once a compiler has made it;
    /// an engine calls it instead of interpreting (`abi::CompiledEntry`).
    pub entry: Cell<Option<crate::abi::CompiledEntry>>,
    /// How many times the function was called (saturating), for tiering.
    pub calls: Cell<u32>,
    /// The start of the function's bytecode, where a frame record's resume
    /// point points (set by a bytecode engine at load; null otherwise).
    pub code: Cell<*const u8>,
    /// Back-edges taken in the function's interpreted frames since its
    /// loops were last offered to a compiler, for tiering (on-stack
    /// replacement).
    pub backedges: Cell<u32>,
    /// Type feedback, one byte per byte of bytecode (at the offset where an
    /// instruction starts; `abi::FEEDBACK_*` bits): what the interpreter's
    /// slow paths saw and where compiled code's guards failed, for an
    /// optimizing compiler to speculate on. Empty for engines without
    /// bytecode.
    pub feedback: FixedArray<Cell<u8>>,
    /// The function's constants as runtime values, in constant-table
    /// order (set by a bytecode engine at load, which keeps them alive and
    /// in place for the function's life; null otherwise). Compiled code
    /// reads its string constants here, so it holds no heap address.
    pub constants: Cell<*const crate::Value>,
    /// The callee feedback of its `Call` sites (the last field, so that no
    /// offset compiled code reads moved for it): [`CALL_WAYS`](Self::CALL_WAYS)
    /// cells per site, sites in code order (the operand byte's feedback
    /// numbers a site: `abi::FEEDBACK_CALL_SITES`). A site's cells hold the
    /// addresses of the functions whose closures it has called, in the
    /// order it first called them, then zeros; or, in its first cell,
    /// [`CALLEES_MANY`](Self::CALLEES_MANY) once it called more. Function
    /// objects of a loaded module live as long as its engine (which pins
    /// them), so an address here stays a function's.
    pub callees: FixedArray<Cell<usize>>,
}

impl ObjFunction {
    pub fn new(name: Option<Gc<ObjString>>, arity: u8, upvalue_count: u16, proto: u32) -> Self {
        ObjFunction::with_caches(name, arity, upvalue_count, proto, Box::new([]), 0, &[])
    }

    /// A function whose code is `code_len` bytes long, with `caches` for
    /// its property sites and a callee cell for each `Call` instruction at
    /// the offsets `call_sites` (in order; past the first
    /// `abi::FEEDBACK_CALL_SITES`, none).
    pub fn with_caches(
        name: Option<Gc<ObjString>>,
        arity: u8,
        upvalue_count: u16,
        proto: u32,
        caches: Box<[InlineCache]>,
        code_len: usize,
        call_sites: &[u32],
    ) -> Self {
        let feedback: FixedArray<Cell<u8>> =
            FixedArray::new((0..code_len).map(|_| Cell::new(0)).collect());
        let watched = &call_sites[..call_sites.len().min(crate::abi::FEEDBACK_CALL_SITES)];
        for (site, &offset) in (1..=u8::MAX).zip(watched) {
            // The operand's byte: no instruction starts there.
            if let Some(cell) = feedback.get(offset as usize + 1) {
                cell.set(site);
            }
        }
        ObjFunction {
            header: Header::new(ObjKind::Function),
            name,
            arity,
            upvalue_count,
            proto,
            caches: FixedArray::new(caches),
            entry: Cell::new(None),
            calls: Cell::new(0),
            code: Cell::new(std::ptr::null()),
            backedges: Cell::new(0),
            feedback,
            callees: FixedArray::new(
                (0..watched.len() * Self::CALL_WAYS).map(|_| Cell::new(0)).collect(),
            ),
            constants: Cell::new(std::ptr::null()),
        }
    }

    /// The type feedback recorded at the instruction at `offset`.
    pub fn feedback_at(&self, offset: usize) -> u8 {
        self.feedback.get(offset).map_or(0, Cell::get)
    }

    /// Record `bits` (`abi::FEEDBACK_*`) at the instruction at `offset`
    /// (a load and a comparison once they are recorded: the byte is not
    /// written again).
    #[inline]
    pub fn record_feedback(&self, offset: usize, bits: u8) {
        if let Some(cell) = self.feedback.get(offset) {
            let recorded = cell.get();
            if recorded & bits != bits {
                cell.set(recorded | bits);
            }
        }
    }

    /// How many functions a `Call` site's feedback tells apart (as an
    /// inline cache's ways): a call of closures of more is megamorphic.
    pub const CALL_WAYS: usize = 4;

    /// A site's first callee cell once it called closures of more than
    /// [`CALL_WAYS`](Self::CALL_WAYS) functions (no function is at address 1).
    pub const CALLEES_MANY: usize = 1;

    /// Record that the `Call` whose operand is at `operand` called a
    /// closure of `callee`. Costs the interpreter a load and a comparison
    /// at a site that has settled on one function.
    #[inline(always)]
    pub fn record_callee(&self, operand: usize, callee: Gc<ObjFunction>) {
        if let Some(ways) = self.callee_ways(operand) {
            let address = callee.as_ptr().addr();
            if ways[0].get() != address {
                Self::record_other_callee(ways, address);
            }
        }
    }

    /// `record_callee` past its first way.
    #[inline(never)]
    fn record_other_callee(ways: &[Cell<usize>], address: usize) {
        for way in ways {
            match way.get() {
                Self::CALLEES_MANY => return,
                0 => return way.set(address),
                seen if seen == address => return,
                _ => {}
            }
        }
        ways[0].set(Self::CALLEES_MANY);
        ways[1..].iter().for_each(|way| way.set(0));
    }

    /// How many `Call` sites have callee feedback.
    pub fn call_sites(&self) -> usize {
        self.callees.len() / Self::CALL_WAYS
    }

    /// The functions whose closures call site `site` has called (by
    /// address, in the order it first called them), unless it called more
    /// than [`CALL_WAYS`](Self::CALL_WAYS).
    pub fn site_callees(&self, site: usize) -> Vec<usize> {
        let ways = self.callees.get(site * Self::CALL_WAYS..(site + 1) * Self::CALL_WAYS);
        let seen = ways.into_iter().flatten().map(Cell::get);
        seen.take_while(|&seen| seen > Self::CALLEES_MANY).collect()
    }

    /// The callee cells of the `Call` whose operand is at `operand`.
    #[inline(always)]
    fn callee_ways(&self, operand: usize) -> Option<&[Cell<usize>]> {
        let site = usize::from(self.feedback.get(operand)?.get()).checked_sub(1)?;
        self.callees.get(site * Self::CALL_WAYS..(site + 1) * Self::CALL_WAYS)
    }

    /// The name used in stack traces: `None` for the script.
    pub fn name_str(&self) -> Option<&str> {
        self.name.as_ref().map(|n| n.as_str())
    }
}

impl Trace for ObjFunction {
    fn trace(&self, tracer: &mut dyn FnMut(ObjRef)) {
        if let Some(name) = self.name {
            tracer(name.as_obj());
        }
        for cache in self.caches.iter() {
            cache.trace(tracer);
        }
    }
}

// SAFETY: repr(C), header first, and `trace` visits `name` and the caches.
unsafe impl Object for ObjFunction {
    const KIND: ObjKind = ObjKind::Function;
    fn heap_size(&self) -> usize {
        size_of::<Self>()
            + self.caches.len() * size_of::<InlineCache>()
            + self.feedback.len()
            + self.callees.len() * size_of::<usize>()
    }
}

/// A native function's body: the arguments in, a value or an error message out.
pub type NativeFn = fn(&crate::Heap, &[Value]) -> Result<Value, String>;

#[repr(C)]
pub struct ObjNative {
    header: Header,
    pub name: &'static str,
    pub arity: u8,
    pub function: NativeFn,
}

impl ObjNative {
    pub fn new(name: &'static str, arity: u8, function: NativeFn) -> ObjNative {
        ObjNative { header: Header::new(ObjKind::Native), name, arity, function }
    }
}

impl Trace for ObjNative {
    fn trace(&self, _: &mut dyn FnMut(ObjRef)) {}
}

// SAFETY: repr(C), header first, and a native holds no references.
unsafe impl Object for ObjNative {
    const KIND: ObjKind = ObjKind::Native;
    fn heap_size(&self) -> usize {
        size_of::<Self>()
    }
}

/// How a closure being made takes one variable it captures (what a
/// function's capture list says, `bytecode::Capture` and the tree's
/// `Capture`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureFrom {
    /// From a slot of the running frame, else from an upvalue of the
    /// running closure.
    pub is_local: bool,
    pub index: u8,
    /// Hold the variable's value rather than its upvalue.
    pub by_value: bool,
}

/// A function together with the variables it captured.
#[repr(C)]
pub struct ObjClosure {
    header: Header,
    pub function: Gc<ObjFunction>,
    /// One per captured variable, in upvalue-index order: the variable's
    /// value, for a capture by value, or its [`ObjUpvalue`] (an object
    /// value that no program ever sees), for a capture by reference. The
    /// function's captures say which; every slot is a value, so the
    /// collector traces them alike. In the closure's own block, right after
    /// it (see [`ObjClosure::place`]): a closure is one allocation.
    pub upvalues: FixedArray<Value, InBlocks>,
}

impl ObjClosure {
    /// Place a closure of `function` in a block of `blocks` with room for
    /// `count` upvalues after it, which the caller fills with
    /// [`init_upvalue`](Self::init_upvalue) before anything reads them. Not
    /// listed in the heap yet (see `Heap::make_closure`).
    #[inline]
    pub(crate) fn place(
        blocks: &mut Blocks,
        function: Gc<ObjFunction>,
        count: usize,
    ) -> Gc<ObjClosure> {
        let layout = Self::layout(count);
        let ptr = blocks.alloc(layout).cast::<ObjClosure>();
        // The upvalues' room: the rest of the block.
        // SAFETY: the block has room for the closure and then `count`
        // upvalues (`layout`).
        let room = unsafe { NonNull::new_unchecked(ptr.as_ptr().add(1).cast::<Value>()) };
        // SAFETY: that room is aligned (the closure's size is a multiple of
        // a pointer's) and the closure's alone.
        let upvalues = unsafe { FixedArray::in_room(room, count) };
        // SAFETY: a fresh block with room for an `ObjClosure` at its start,
        // which nothing else uses.
        unsafe {
            ptr.write(ObjClosure { header: Header::new(ObjKind::Closure), function, upvalues })
        };
        Gc(ptr, PhantomData)
    }

    /// Set captured variable `index` (its value, or its upvalue as a
    /// value), once, before the closure is used.
    ///
    /// # Safety
    /// The closure was just [`place`](Self::place)d and is not yet listed,
    /// traced or read, and `index` is below its count.
    #[inline(always)]
    pub(crate) unsafe fn init_upvalue(&self, index: usize, captured: Value) {
        debug_assert!(index < self.upvalues.len);
        // SAFETY: inside the room (the caller's promise), which is the
        // closure's alone.
        unsafe { self.upvalues.ptr.as_ptr().add(index).write(captured) };
    }

    /// The upvalue of captured variable `index`, which the closure holds
    /// by reference (its function's capture says so: the verifier lets
    /// only such captures be read with `GetUpvalue` and written).
    #[inline(always)]
    pub fn upvalue(&self, index: usize) -> Gc<ObjUpvalue> {
        self.upvalues[index]
            .downcast::<ObjUpvalue>()
            .expect("a capture by reference holds an upvalue")
    }

    /// The value of captured variable `index`, held either way: a value
    /// held by value, or the current value of an upvalue. (An engine that
    /// knows how its function holds the variable reads it directly.)
    #[inline]
    pub fn captured(&self, index: usize) -> Value {
        let held = self.upvalues[index];
        match held.downcast::<ObjUpvalue>() {
            Some(upvalue) => upvalue.get(),
            None => held,
        }
    }

    /// The bytes of a closure with `count` upvalues, its block's size.
    #[inline(always)]
    pub(crate) fn size(count: usize) -> usize {
        size_of::<ObjClosure>() + count * size_of::<Value>()
    }

    /// The layout of the block of a closure with `count` upvalues.
    #[inline(always)]
    fn layout(count: usize) -> Layout {
        const _: () = assert!(size_of::<ObjClosure>().is_multiple_of(align_of::<Value>()));
        let size = Self::size(count);
        // SAFETY: the alignment is a type's, so a power of two; at most 255
        // upvalues (a one-byte operand counts them) after a small struct,
        // far below `isize::MAX`.
        unsafe { Layout::from_size_align_unchecked(size, align_of::<ObjClosure>()) }
    }
}

impl Trace for ObjClosure {
    fn trace(&self, tracer: &mut dyn FnMut(ObjRef)) {
        tracer(self.function.as_obj());
        for captured in self.upvalues.iter() {
            if let Some(object) = captured.as_object() {
                tracer(object);
            }
        }
    }
}

// SAFETY: repr(C), header first, and `trace` visits the function and
// upvalues; the block's layout depends only on how many upvalues there are,
// fixed when the closure is placed.
unsafe impl Object for ObjClosure {
    const KIND: ObjKind = ObjKind::Closure;
    fn heap_size(&self) -> usize {
        Self::size(self.upvalues.len())
    }
    #[inline(always)]
    fn block_layout(&self) -> Layout {
        Self::layout(self.upvalues.len())
    }
}

/// A captured variable.
///
/// While the variable's frame is live the upvalue is *open*: the value lives
/// in the VM stack, at `slot`. When the frame's scope ends it is *closed*:
/// the value moves into `closed`. Either way `location` points at the value
/// (the stack never moves, nor does a heap object), so reading or writing a
/// captured variable is one indirection, as in the book's C VM. Every
/// closure that captured the variable shares this one object, so they all
/// see each other's assignments.
#[repr(C)]
pub struct ObjUpvalue {
    header: Header,
    /// The stack slot while open; `u32::MAX` once closed.
    slot: Cell<u32>,
    pub(crate) location: Cell<*mut Value>,
    closed: Cell<Value>,
}

impl ObjUpvalue {
    const CLOSED: u32 = u32::MAX;

    /// An open upvalue for stack `slot`, whose value is at `location`.
    pub(crate) fn new_open(slot: u32, location: *mut Value) -> ObjUpvalue {
        debug_assert!(slot != Self::CLOSED);
        ObjUpvalue {
            header: Header::new(ObjKind::Upvalue),
            slot: Cell::new(slot),
            location: Cell::new(location),
            closed: Cell::new(Value::NIL),
        }
    }

    /// The stack slot holding the value, while the upvalue is open.
    #[inline(always)]
    pub fn open_slot(&self) -> Option<u32> {
        let slot = self.slot.get();
        if slot == Self::CLOSED { None } else { Some(slot) }
    }

    /// The variable's value.
    #[inline(always)]
    pub fn get(&self) -> Value {
        // SAFETY: `location` is a live stack slot while the upvalue is open
        // (the verifier proves a captured slot is only left by closing it)
        // or this object's own `closed` cell.
        unsafe { self.location.get().read() }
    }

    /// Assign the variable.
    #[inline(always)]
    pub(crate) fn set(&self, value: Value) {
        // SAFETY: as in `get`.
        unsafe { self.location.get().write(value) }
    }

    /// Move the value out of the stack into the upvalue itself.
    pub(crate) fn close(&self) {
        self.closed.set(self.get());
        self.location.set(self.closed.as_ptr());
        self.slot.set(Self::CLOSED);
    }
}

impl Trace for ObjUpvalue {
    fn trace(&self, tracer: &mut dyn FnMut(ObjRef)) {
        // An open upvalue's value is in the stack, which is a root.
        if self.open_slot().is_none() {
            trace_value(self.closed.get(), tracer);
        }
    }
}

// SAFETY: repr(C), header first, and `trace` visits the closed value.
unsafe impl Object for ObjUpvalue {
    const KIND: ObjKind = ObjKind::Upvalue;
    fn heap_size(&self) -> usize {
        size_of::<Self>()
    }
}

/// Expands `$body` once per object kind, with `$t` bound to its type, in a
/// `match` on `$obj.kind()`. The one list of kinds for freeing and tracing.
macro_rules! for_each_kind {
    ($obj:expr, $t:ident => $body:expr) => {
        match $obj.kind() {
            ObjKind::String => {
                type $t = ObjString;
                $body
            }
            ObjKind::Function => {
                type $t = ObjFunction;
                $body
            }
            ObjKind::Native => {
                type $t = ObjNative;
                $body
            }
            ObjKind::Closure => {
                type $t = ObjClosure;
                $body
            }
            ObjKind::Upvalue => {
                type $t = ObjUpvalue;
                $body
            }
            ObjKind::Class => {
                type $t = ObjClass;
                $body
            }
            ObjKind::Instance => {
                type $t = ObjInstance;
                $body
            }
            ObjKind::BoundMethod => {
                type $t = ObjBoundMethod;
                $body
            }
            ObjKind::Shape => {
                type $t = ObjShape;
                $body
            }
        }
    };
}

/// Free an object: run its destructor in place and give its block back to
/// `blocks`. The block's layout is the one the object gives
/// ([`Object::block_layout`]: its type's, for every kind but instances), as
/// when [`Gc::place`] allocated it; no size is stored anywhere else.
///
/// # Safety
/// `obj` must have been placed in `blocks` by [`Gc::place`] (so its header's
/// kind names its type), must not have been freed since, and must not be
/// used afterwards.
pub(crate) unsafe fn free(obj: ObjRef, blocks: &mut Blocks) {
    let ptr = obj.raw();
    for_each_kind!(obj, T => {
        let object = ptr.cast::<T>().as_ptr();
        // SAFETY: the object is a live `T` (the kind names its type, the
        // caller's promise) that nothing will use again. Its block's layout
        // is read first, as the object gave it when placed (what it says
        // of its arrays changes as they go back); then the arrays it keeps
        // in blocks go back (dropping an array cannot reach `blocks`,
        // `buffer.rs`); then it is dropped, once, here, and its block is
        // unused.
        unsafe {
            let layout = (*object).block_layout();
            release_arrays(obj, blocks);
            std::ptr::drop_in_place(object);
            blocks.free(ptr.cast::<u8>(), layout);
        }
    })
}

/// Give back the arrays `obj` keeps in blocks, or forget those it keeps in
/// its own block, as [`free`] frees it.
///
/// # Safety
/// As for [`free`].
#[inline(always)]
unsafe fn release_arrays(obj: ObjRef, blocks: &mut Blocks) {
    let ptr = obj.raw();
    match obj.kind() {
        // SAFETY: the kind names the type, and the object is ours alone
        // (the caller's promise). The upvalues are in the closure's block.
        ObjKind::Closure => unsafe { (*ptr.cast::<ObjClosure>().as_ptr()).upvalues.forget() },
        // SAFETY: as above; the heap made the fields' array, if the
        // instance has one, in `blocks`.
        ObjKind::Instance => unsafe {
            (*ptr.cast::<ObjInstance>().as_ptr()).release_fields(blocks)
        },
        _ => {}
    }
}

/// Visit the references `obj` holds, as its type's `trace` does. The kind
/// picks the type here, so each kind's `trace` is called directly and can
/// be inlined with `tracer` (the collector's marking loop).
#[inline(always)]
pub(crate) fn trace_object(obj: ObjRef, tracer: &mut impl FnMut(ObjRef)) {
    // SAFETY: the kind names the object's type.
    for_each_kind!(obj, T => unsafe { obj.downcast_unchecked::<T>() }.trace(tracer))
}

/// The bytes `obj` owns, as its type's `heap_size` says.
#[inline(always)]
pub(crate) fn heap_size_of(obj: ObjRef) -> usize {
    // SAFETY: the kind names the object's type.
    for_each_kind!(obj, T => unsafe { obj.downcast_unchecked::<T>() }.heap_size())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blocks::{GRANULE, MAX_SMALL};

    /// Every kind's blocks come from a size class, not from `malloc`: what
    /// the heap's allocator is for. A kind that outgrows the classes still
    /// works (as a large block), but should be a decision.
    #[test]
    fn every_object_kind_fits_a_size_class() {
        let kinds = [
            ("ObjString", Layout::new::<ObjString>()),
            ("ObjFunction", Layout::new::<ObjFunction>()),
            ("ObjNative", Layout::new::<ObjNative>()),
            ("ObjClosure", Layout::new::<ObjClosure>()),
            ("ObjUpvalue", Layout::new::<ObjUpvalue>()),
            ("ObjClass", Layout::new::<ObjClass>()),
            ("ObjInstance", Layout::new::<ObjInstance>()),
            ("ObjBoundMethod", Layout::new::<ObjBoundMethod>()),
            ("ObjShape", Layout::new::<ObjShape>()),
        ];
        for (name, layout) in kinds {
            assert!(layout.size() <= MAX_SMALL, "{name} is {} bytes", layout.size());
            assert!(layout.align() <= GRANULE, "{name} is aligned to {}", layout.align());
        }
    }
}
