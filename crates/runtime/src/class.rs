//! Classes, shapes (hidden classes), instances and bound methods.
//!
//! An instance keeps its fields in a plain vector of values, and a pointer
//! to its *shape*: which field lives at which index. Shapes form a tree per
//! class: a class's root shape has no fields, and each child adds one field
//! to its parent's. Two instances of one class that gained the same fields
//! in the same order share a shape, so "this instance's shape is S" says at
//! once which class it has, which fields it has and where each one is. That
//! is what inline caches compare (see `cache.rs`), as V8's maps and
//! SpiderMonkey's shapes do.
//!
//! Shapes are heap objects: a class keeps its root shape alive, a shape its
//! children (the transitions) and its parent, an instance its shape. A
//! class's methods never change once its declaration has run (`Inherit` and
//! `DefineMethod` come before any code can see the class), which is what
//! lets a cache remember "shape S: method M" for good.

use std::alloc::Layout;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::blocks::Blocks;
use crate::buffer::{GrowArray, InBlocks};
use crate::cache::CacheHit;
use crate::object::{Gc, Header, ObjClosure, ObjKind, ObjRef, ObjString, Object, Trace};
use crate::table::Table;
use crate::value::Value;

// ------------------------------------------------------------------ classes

#[repr(C)]
pub struct ObjClass {
    header: Header,
    pub name: Gc<ObjString>,
    methods: UnsafeCell<Table>,
    /// `init`, cached when the class's methods are complete (null when
    /// the class has none: `Gc` is a non-null pointer).
    pub(crate) init: Cell<Option<Gc<ObjClosure>>>,
    /// The shape of a new instance: made with the first instance.
    root_shape: Cell<Option<Gc<ObjShape>>>,
    /// The most fields an instance of this class has had: new instances
    /// reserve that many (V8's "slack tracking", in its simplest form).
    field_hint: Cell<u32>,
    /// Set once the class is in use (instantiated, inherited from, or
    /// searched by `super`): its methods may no longer change, which is
    /// what lets caches remember them for good. Compiled code never changes
    /// a class after its declaration; a crafted bytecode file that tries is
    /// stopped with a runtime error.
    sealed: Cell<bool>,
    /// When the class was made, in the order of every class the process
    /// makes: of two classes of the same name, the later one is a newer
    /// version (a declaration run again), which inline caches let replace
    /// the older one (`cache.rs`).
    serial: u64,
}

/// The next class's [`ObjClass::serial`].
static NEXT_SERIAL: AtomicU64 = AtomicU64::new(0);

impl ObjClass {
    pub fn new(name: Gc<ObjString>) -> ObjClass {
        ObjClass {
            header: Header::new(ObjKind::Class),
            name,
            methods: UnsafeCell::new(Table::new()),
            init: Cell::new(None),
            root_shape: Cell::new(None),
            field_hint: Cell::new(0),
            sealed: Cell::new(false),
            serial: NEXT_SERIAL.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// When the class was made (see the field).
    pub(crate) fn serial(&self) -> u64 {
        self.serial
    }

    /// Whether this class is a newer version of `older`: a class of the
    /// same name, made after it.
    pub(crate) fn supersedes(&self, older: &ObjClass) -> bool {
        self.name == older.name && self.serial > older.serial
    }

    /// Whether the class is in use, and so its methods are final.
    #[inline]
    pub fn is_sealed(&self) -> bool {
        self.sealed.get()
    }

    /// Mark the class as in use: its methods are final from now on.
    #[inline]
    pub fn seal(&self) {
        self.sealed.set(true);
    }

    fn methods(&self) -> &Table {
        // SAFETY: the table is only mutated by `set_method`/`inherit`, which
        // take no reference that outlives them; single-threaded.
        unsafe { &*self.methods.get() }
    }

    #[inline]
    pub fn method(&self, name: Gc<ObjString>) -> Option<Gc<ObjClosure>> {
        let value = self.methods().get(name)?;
        value.as_object()?.downcast::<ObjClosure>()
    }

    /// Define (or override) a method; `init_name` is the interned `"init"`.
    /// The class must not be sealed. Returns the bytes the method table grew
    /// by (see `Heap::define_method`, which accounts for them).
    pub(crate) fn set_method(
        &self,
        name: Gc<ObjString>,
        method: Gc<ObjClosure>,
        init_name: Gc<ObjString>,
    ) -> usize {
        debug_assert!(!self.is_sealed(), "methods of a class in use never change");
        // SAFETY: no reference into the table is live (see `methods`).
        let methods = unsafe { &mut *self.methods.get() };
        let before = methods.heap_size();
        methods.set(name, method.to_value());
        if name == init_name {
            self.init.set(Some(method));
        }
        methods.heap_size() - before
    }

    /// Copy every method of `superclass` into this class (done before the
    /// class's own methods are defined, which then override). The two are
    /// distinct classes and this one is not sealed; the superclass becomes
    /// sealed.
    pub(crate) fn inherit(&self, superclass: &ObjClass) {
        assert!(!std::ptr::eq(self, superclass), "a class never inherits from itself");
        debug_assert!(!self.is_sealed(), "methods of a class in use never change");
        superclass.seal();
        // SAFETY: two distinct classes (asserted above), no live references.
        let methods = unsafe { &mut *self.methods.get() };
        for (name, value) in superclass.methods().iter() {
            methods.set(name, value);
        }
        self.init.set(superclass.init.get());
    }

    #[inline]
    pub fn initializer(&self) -> Option<Gc<ObjClosure>> {
        self.init.get()
    }

    pub(crate) fn root_shape(&self) -> Option<Gc<ObjShape>> {
        self.root_shape.get()
    }

    pub(crate) fn set_root_shape(&self, shape: Gc<ObjShape>) {
        self.root_shape.set(Some(shape));
    }

    pub(crate) fn field_hint(&self) -> usize {
        self.field_hint.get() as usize
    }
}

impl Trace for ObjClass {
    fn trace(&self, tracer: &mut dyn FnMut(ObjRef)) {
        tracer(self.name.as_obj());
        self.methods().trace(tracer);
        if let Some(shape) = self.root_shape.get() {
            tracer(shape.as_obj());
        }
    }
}

// SAFETY: repr(C), header first, `trace` visits the name, the methods (the
// cached `init` is one of them) and the root shape.
unsafe impl Object for ObjClass {
    const KIND: ObjKind = ObjKind::Class;
    fn heap_size(&self) -> usize {
        size_of::<Self>() + self.methods().heap_size()
    }
}

// ------------------------------------------------------------------- shapes

/// Up to this many fields, finding one walks the shape chain; past it, a
/// shape has an index from field name to field index.
const LINEAR_LOOKUP_MAX: u32 = 8;

/// Field indices shared along a chain of shapes, as V8 shares descriptor
/// arrays: each shape that extends its parent by one field adds its key to
/// the parent's table instead of copying it, and a shape of `len` fields
/// sees only the entries below `len`. So a chain of n shapes costs one table
/// of n entries, not n tables of up to n (an instance of 10,000 fields once
/// took 1.4 GB). A second child of the same parent finds the table already
/// extended by its sibling and builds its own, which costs as much as the
/// field sets that made the branch.
struct FieldIndex {
    table: Table<u32>,
    /// How many fields the table covers: the longest shape sharing it.
    len: u32,
}

/// A hidden class: the class of an instance and the layout of its fields.
#[repr(C)]
pub struct ObjShape {
    header: Header,
    class: Gc<ObjClass>,
    parent: Option<Gc<ObjShape>>,
    /// The field this shape adds to its parent's; `None` for a root shape.
    key: Option<Gc<ObjString>>,
    /// How many fields an instance of this shape has; the last one is `key`.
    len: u32,
    /// Children by the field they add.
    transitions: UnsafeCell<Table<Gc<ObjShape>>>,
    /// For shapes of more than `LINEAR_LOOKUP_MAX` fields, every field's
    /// index (set by [`ObjShape::attach_index`] right after allocation).
    index: UnsafeCell<Option<Rc<RefCell<FieldIndex>>>>,
    /// Whether this shape built its index (and so counts its size), rather
    /// than sharing its parent's.
    owns_index: Cell<bool>,
}

impl ObjShape {
    pub(crate) fn root(class: Gc<ObjClass>) -> ObjShape {
        ObjShape::new(class, None, None, 0)
    }

    pub(crate) fn child(parent: Gc<ObjShape>, key: Gc<ObjString>) -> ObjShape {
        ObjShape::new(parent.class, Some(parent), Some(key), parent.len + 1)
    }

    fn new(
        class: Gc<ObjClass>,
        parent: Option<Gc<ObjShape>>,
        key: Option<Gc<ObjString>>,
        len: u32,
    ) -> ObjShape {
        ObjShape {
            header: Header::new(ObjKind::Shape),
            class,
            parent,
            key,
            len,
            transitions: UnsafeCell::new(Table::new()),
            index: UnsafeCell::new(None),
            owns_index: Cell::new(false),
        }
    }

    fn index(&self) -> Option<&Rc<RefCell<FieldIndex>>> {
        // SAFETY: the index is written only by `attach_index`, once, before
        // any lookup; no reference into it outlives a method call.
        unsafe { &*self.index.get() }.as_ref()
    }

    /// Give a new shape its field index, if it needs one: the parent's,
    /// extended by this shape's field, or a new one. Returns the bytes the
    /// heap grew by (the caller accounts for them).
    pub(crate) fn attach_index(&self) -> usize {
        let (Some(key), Some(parent)) = (self.key, self.parent) else { return 0 };
        if self.len <= LINEAR_LOOKUP_MAX {
            return 0;
        }
        let shared = parent.index().filter(|index| index.borrow().len == parent.len);
        let (index, grown) = match shared {
            Some(index) => {
                let mut fields = index.borrow_mut();
                let before = fields.table.heap_size();
                fields.table.set(key, self.len - 1);
                fields.len = self.len;
                let grown = fields.table.heap_size() - before;
                drop(fields);
                (Rc::clone(index), grown)
            }
            None => {
                let mut table = Table::new();
                let mut shape = Some(self);
                while let Some(s) = shape {
                    if let Some(key) = s.key {
                        table.set(key, s.len - 1);
                    }
                    shape = s.parent.as_deref();
                }
                let grown = table.heap_size();
                self.owns_index.set(true);
                (Rc::new(RefCell::new(FieldIndex { table, len: self.len })), grown)
            }
        };
        // SAFETY: as in `index`; this is the one write, before any read.
        unsafe { *self.index.get() = Some(index) };
        grown
    }

    /// The shape whose heap size counts this shape's field index, if it
    /// has one made by another shape (an ancestor, whose index this
    /// shape's extends): the growth [`attach_index`](Self::attach_index)
    /// returns is that shape's.
    pub(crate) fn index_owner(&self) -> Option<Gc<ObjShape>> {
        if self.index().is_none() || self.owns_index.get() {
            return None;
        }
        let mut owner = self.parent?;
        while !owner.owns_index.get() {
            owner = owner.parent.expect("a shared index has an owner up the chain");
        }
        Some(owner)
    }

    #[inline(always)]
    pub fn class(&self) -> Gc<ObjClass> {
        self.class
    }

    /// How many fields an instance of this shape has.
    #[inline(always)]
    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The index of field `name`, if this shape has it.
    pub fn lookup(&self, name: Gc<ObjString>) -> Option<u32> {
        if self.len <= LINEAR_LOOKUP_MAX {
            let mut shape = self;
            while let Some(key) = shape.key {
                if key == name {
                    return Some(shape.len - 1);
                }
                shape = shape.parent.as_deref()?;
            }
            return None;
        }
        let index = self.index().expect("long shapes have an index").borrow();
        index.table.get(name).filter(|&field| field < self.len)
    }

    /// What reading property `name` of an instance of this shape finds: the
    /// field's index if it has that field (fields shadow methods), else its
    /// class's method. Never [`CacheHit::AddField`].
    pub fn resolve(&self, name: Gc<ObjString>) -> Option<CacheHit> {
        match self.lookup(name) {
            Some(index) => Some(CacheHit::Field(index)),
            None => self.class.method(name).map(CacheHit::Method),
        }
    }

    /// The child adding field `name`, if one was made already.
    pub(crate) fn transition(&self, name: Gc<ObjString>) -> Option<Gc<ObjShape>> {
        // SAFETY: no reference into the table outlives a method call.
        unsafe { &*self.transitions.get() }.get(name)
    }

    /// Record `child` as the shape adding field `name`; returns the bytes
    /// the transition table grew by.
    pub(crate) fn add_transition(&self, name: Gc<ObjString>, child: Gc<ObjShape>) -> usize {
        // SAFETY: as in `transition`.
        let transitions = unsafe { &mut *self.transitions.get() };
        let before = transitions.heap_size();
        transitions.set(name, child);
        transitions.heap_size() - before
    }
}

impl Trace for ObjShape {
    fn trace(&self, tracer: &mut dyn FnMut(ObjRef)) {
        tracer(self.class.as_obj());
        if let Some(parent) = self.parent {
            tracer(parent.as_obj());
        }
        if let Some(key) = self.key {
            tracer(key.as_obj());
        }
        // SAFETY: tracing takes no lasting reference (see `transition`).
        for (key, child) in unsafe { &*self.transitions.get() }.iter() {
            tracer(key.as_obj());
            tracer(child.as_obj());
        }
        // The index's keys are keys of this shape's chain or of its
        // descendants', all traced through `parent` and `transitions`.
    }
}

// SAFETY: repr(C), header first, `trace` visits the class, parent, key and
// transitions.
unsafe impl Object for ObjShape {
    const KIND: ObjKind = ObjKind::Shape;
    fn heap_size(&self) -> usize {
        // SAFETY: as in `transition`.
        let transitions = unsafe { &*self.transitions.get() };
        let index = match self.index() {
            Some(index) if self.owns_index.get() => index.borrow().table.heap_size(),
            _ => 0,
        };
        size_of::<Self>() + transitions.heap_size() + index
    }
}

// ---------------------------------------------------------------- instances

#[repr(C)]
pub struct ObjInstance {
    header: Header,
    /// How many fields fit in the instance's own block, after it (see
    /// [`ObjInstance::INLINE_MAX`]): part of the block's layout, fixed for
    /// the instance's life.
    inline_capacity: u32,
    pub(crate) shape: Cell<Gc<ObjShape>>,
    /// One value per field of the shape, in the shape's order: in the
    /// instance's own block while they fit there, then in a block of their
    /// own from the heap's allocator, given back when the instance is freed
    /// (`object::free`).
    pub(crate) fields: GrowArray<Value, InBlocks>,
}

impl ObjInstance {
    /// The most fields an instance keeps in its own block. An instance's
    /// first fields are there, in the cache line of its shape and field
    /// pointer, and an instance is one allocation rather than two; past
    /// this, a class's instances keep their fields in an array of their
    /// own from the start. 16 keeps the block in a size class (32 + 128
    /// bytes).
    pub(crate) const INLINE_MAX: usize = 16;

    /// An instance of `shape` with room for `capacity` fields in its own
    /// block (at most [`INLINE_MAX`](Self::INLINE_MAX)), or none, to be
    /// placed by `Gc::place_sized` and then given that room by
    /// [`use_inline_fields`](Self::use_inline_fields). Inline, so that the
    /// heap builds it in its block.
    #[inline]
    pub(crate) fn new(shape: Gc<ObjShape>, capacity: usize) -> ObjInstance {
        ObjInstance {
            header: Header::new(ObjKind::Instance),
            inline_capacity: capacity.min(Self::INLINE_MAX) as u32,
            shape: Cell::new(shape),
            fields: GrowArray::empty_in(),
        }
    }

    /// An instance of `shape` whose `capacity` fields are in an array of
    /// their own in `blocks` (more than [`INLINE_MAX`](Self::INLINE_MAX)).
    #[inline]
    pub(crate) fn with_array(
        shape: Gc<ObjShape>,
        capacity: usize,
        blocks: &mut Blocks,
    ) -> ObjInstance {
        ObjInstance {
            header: Header::new(ObjKind::Instance),
            inline_capacity: 0,
            shape: Cell::new(shape),
            fields: GrowArray::with_capacity_in(blocks, capacity),
        }
    }

    /// Point the fields at the room after the instance in its block. Once,
    /// right after the instance was placed, before it has a field.
    ///
    /// # Safety
    /// The instance is in a block of its [`block_layout`](Object::block_layout).
    #[inline(always)]
    pub(crate) unsafe fn use_inline_fields(&self) {
        if self.inline_capacity != 0 {
            // SAFETY: the array is new, and the block has room for
            // `inline_capacity` values after the instance (the caller's
            // promise), which nothing else uses.
            unsafe { self.fields.use_room(self.inline_fields(), self.inline_capacity as usize) };
        }
    }

    /// Where the fields kept in the instance's own block start.
    #[inline(always)]
    fn inline_fields(&self) -> std::ptr::NonNull<Value> {
        let end = std::ptr::from_ref(self).wrapping_add(1).cast::<Value>().cast_mut();
        // One past a reference is never null.
        std::ptr::NonNull::new(end).expect("an object's end is not null")
    }

    /// Whether the fields are in the instance's own block.
    #[inline(always)]
    fn fields_inline(&self) -> bool {
        self.inline_capacity != 0 && self.fields.as_ptr() == self.inline_fields().as_ptr()
    }

    /// Give back the fields' array, if it has one of its own (as the heap
    /// frees the instance).
    ///
    /// # Safety
    /// `blocks` is the allocator of the heap that made this instance, and
    /// the instance is not used again but to be dropped.
    pub(crate) unsafe fn release_fields(&self, blocks: &mut Blocks) {
        if self.fields_inline() {
            // They go with the instance's block.
            self.fields.forget();
        } else {
            // SAFETY: the array's block came from `blocks` (the caller's promise).
            unsafe { self.fields.release(blocks) };
        }
    }

    #[inline(always)]
    pub fn shape(&self) -> Gc<ObjShape> {
        self.shape.get()
    }

    #[inline(always)]
    pub fn class(&self) -> Gc<ObjClass> {
        self.shape.get().class
    }

    /// The field at `index` of the instance's shape.
    ///
    /// # Panics
    /// If the shape has no field at `index` (a stale cache would be a bug).
    #[inline(always)]
    pub fn field_at(&self, index: u32) -> Value {
        self.fields.get(index as usize)
    }

    /// Overwrite the field at `index` of the instance's shape.
    #[inline(always)]
    pub(crate) fn set_field_at(&self, index: u32, value: Value) {
        self.fields.set(index as usize, value);
    }

    /// Append a field, moving to `shape` (a child of the current shape);
    /// returns how many bytes the instance grew by.
    ///
    /// # Safety
    /// `blocks` is the allocator of the heap that made this instance.
    pub(crate) unsafe fn add_field(
        &self,
        shape: Gc<ObjShape>,
        value: Value,
        blocks: &mut Blocks,
    ) -> usize {
        assert!(
            shape.parent == Some(self.shape()) && shape.len as usize == self.fields.len() + 1,
            "a field is added along a transition of the instance's shape"
        );
        let grown = if self.fields.len() == self.fields.capacity() && self.fields_inline() {
            // The fields outgrow the instance's block: they move to an
            // array of their own, and their room there stays unused (the
            // block's size is fixed), so all of the array is growth.
            // SAFETY: the fields are in the array's room; the room they
            // leave is the instance's, not a block, so nothing frees it.
            let capacity = unsafe { self.fields.move_to_new_block(blocks) };
            // SAFETY: the new array came from `blocks` and has room.
            unsafe { self.fields.push_in(blocks, value) };
            capacity * size_of::<Value>()
        } else {
            // SAFETY: the fields' array, if it is one of its own, came from
            // the heap's `blocks`, which is this one (the caller's promise).
            unsafe { self.fields.push_in(blocks, value) }
        };
        self.shape.set(shape);
        let class = shape.class;
        if shape.len > class.field_hint.get() {
            class.field_hint.set(shape.len);
        }
        grown
    }
}

impl Trace for ObjInstance {
    fn trace(&self, tracer: &mut dyn FnMut(ObjRef)) {
        tracer(self.shape().as_obj());
        self.fields.for_each(|value| crate::object::trace_value(value, tracer));
    }
}

// SAFETY: repr(C), header first, `trace` visits the shape and field values;
// the block's layout depends only on `inline_capacity`, fixed at creation.
unsafe impl Object for ObjInstance {
    const KIND: ObjKind = ObjKind::Instance;
    fn heap_size(&self) -> usize {
        let own_array = if self.fields_inline() { 0 } else { self.fields.capacity() };
        self.block_layout().size() + own_array * size_of::<Value>()
    }
    #[inline(always)]
    fn block_layout(&self) -> Layout {
        const _: () = assert!(size_of::<ObjInstance>().is_multiple_of(align_of::<Value>()));
        let size = size_of::<Self>() + self.inline_capacity as usize * size_of::<Value>();
        // SAFETY: the alignment is a type's, so a power of two, and the
        // size, at most `INLINE_MAX` values after a small struct, is far
        // below `isize::MAX`.
        unsafe { Layout::from_size_align_unchecked(size, align_of::<Self>()) }
    }
}

// ------------------------------------------------------------ bound methods

/// A method read off an instance: calling it runs the method with `this`
/// bound to `receiver`.
#[repr(C)]
pub struct ObjBoundMethod {
    header: Header,
    pub receiver: Value,
    pub method: Gc<ObjClosure>,
}

impl ObjBoundMethod {
    pub fn new(receiver: Value, method: Gc<ObjClosure>) -> ObjBoundMethod {
        ObjBoundMethod { header: Header::new(ObjKind::BoundMethod), receiver, method }
    }
}

impl Trace for ObjBoundMethod {
    fn trace(&self, tracer: &mut dyn FnMut(ObjRef)) {
        crate::object::trace_value(self.receiver, tracer);
        tracer(self.method.as_obj());
    }
}

// SAFETY: repr(C), header first, `trace` visits receiver and method.
unsafe impl Object for ObjBoundMethod {
    const KIND: ObjKind = ObjKind::BoundMethod;
    fn heap_size(&self) -> usize {
        size_of::<Self>()
    }
}
