//! The machine-code ABI: every bit pattern and field offset that compiled
//! code (the JIT's and the AOT compiler's) may rely on, defined from the
//! Rust types with `offset_of!`, so a layout change cannot silently break
//! them. `docs/abi.md` documents each one and `tests/sizes.rs` pins their
//! values, so that a change is a decision, not an accident.
//!
//! Compiled code touches nothing else: whatever is not here, it reaches
//! through a runtime helper.

use std::mem::offset_of;

use crate::buffer::{FixedArray, GrowArray, InBlocks};
use crate::cache::{CacheEntry, InlineCache, MegamorphicEntry};
use crate::class::{ObjBoundMethod, ObjClass, ObjInstance};
use crate::frame::{FrameRecord, Frames};
use crate::heap::{Globals, Heap, RememberedSet, Stack};
use crate::object::{Header, ObjClosure, ObjFunction, ObjKind, ObjUpvalue};
use crate::value::Value;

// ------------------------------------------------------------------ values

pub use crate::value::{QNAN, SIGN_BIT, TAG_FALSE, TAG_NIL, TAG_TRUE, TAG_UNDEFINED};

/// The bits of `nil`, `false`, `true` and an undefined global.
pub const NIL: u64 = QNAN | TAG_NIL;
pub const FALSE: u64 = QNAN | TAG_FALSE;
pub const TRUE: u64 = QNAN | TAG_TRUE;
pub const UNDEFINED: u64 = QNAN | TAG_UNDEFINED;
/// Set in every object value; the rest is the object's address.
pub const OBJECT_TAG: u64 = SIGN_BIT | QNAN;
/// The address bits of an object value.
pub const ADDRESS_MASK: u64 = !OBJECT_TAG;

// ----------------------------------------------------------------- objects

/// Offset of the kind byte in every object's header.
pub const HEADER_KIND: usize = offset_of!(Header, kind);

/// Offset of the header's two generation bytes, `marked` then
/// `remembered`, which a write barrier reads as one little-endian 16-bit
/// word: [`GENERATION_OLD_UNREMEMBERED`] means a store of a reference into
/// the object must push it onto the remembered set (`heap/collect.rs`,
/// "Generations").
pub const HEADER_GENERATION: usize = offset_of!(Header, marked);
/// The generation word of an old object not in the remembered set.
pub const GENERATION_OLD_UNREMEMBERED: u16 = 1;
/// Offset of the header's `remembered` byte, which the barrier sets to 1
/// as it pushes the object onto the remembered set.
pub const HEADER_REMEMBERED: usize = offset_of!(Header, remembered);
/// `RememberedSet`: the address of its first entry, and how many there
/// are. The array has room for every old object, so the barrier pushes
/// without checking (`heap/remembered.rs`).
pub const REMEMBERED_DATA: usize = crate::heap::REMEMBERED_DATA;
pub const REMEMBERED_LEN: usize = crate::heap::REMEMBERED_LEN;
const _: () = assert!(offset_of!(Header, remembered) == HEADER_GENERATION + 1);

/// The kind bytes.
pub const KIND_STRING: u8 = ObjKind::String as u8;
pub const KIND_FUNCTION: u8 = ObjKind::Function as u8;
pub const KIND_NATIVE: u8 = ObjKind::Native as u8;
pub const KIND_CLOSURE: u8 = ObjKind::Closure as u8;
pub const KIND_UPVALUE: u8 = ObjKind::Upvalue as u8;
pub const KIND_CLASS: u8 = ObjKind::Class as u8;
pub const KIND_INSTANCE: u8 = ObjKind::Instance as u8;
pub const KIND_BOUND_METHOD: u8 = ObjKind::BoundMethod as u8;
pub const KIND_SHAPE: u8 = ObjKind::Shape as u8;

/// `ObjClosure`: the function, and the pointer to what it holds for each
/// captured variable (a value, or an upvalue as an object value).
pub const CLOSURE_FUNCTION: usize = offset_of!(ObjClosure, function);
pub const CLOSURE_UPVALUES: usize =
    offset_of!(ObjClosure, upvalues) + offset_of!(FixedArray<usize, InBlocks>, ptr);

/// `ObjFunction`: the arity (`u8`), the pointer to its inline caches and
/// its compiled entry (null until compiled).
pub const FUNCTION_ARITY: usize = offset_of!(ObjFunction, arity);
pub const FUNCTION_CACHES: usize =
    offset_of!(ObjFunction, caches) + offset_of!(FixedArray<usize>, ptr);
pub const FUNCTION_ENTRY: usize = offset_of!(ObjFunction, entry);
/// `ObjFunction`: the engine's index of its code (`u32`) and the start of
/// its bytecode (what frame records' resume points point into).
pub const FUNCTION_PROTO: usize = offset_of!(ObjFunction, proto);
pub const FUNCTION_CODE: usize = offset_of!(ObjFunction, code);
/// `ObjFunction`: the pointer to its type feedback, one byte per byte of
/// bytecode, indexed by an instruction's offset.
pub const FUNCTION_FEEDBACK: usize =
    offset_of!(ObjFunction, feedback) + offset_of!(FixedArray<usize>, ptr);
/// `ObjFunction`: the pointer to its constants as runtime values (8 bytes
/// each, in constant-table order).
pub const FUNCTION_CONSTANTS: usize = offset_of!(ObjFunction, constants);

/// Type-feedback bits (`ObjFunction::feedback`), at an instruction's offset.
/// An `Add`, `AddConstant`, `Equal` or `NotEqual` whose operands were not
/// two numbers.
pub const FEEDBACK_NOT_NUMBER: u8 = 1;
/// A guard of optimized code failed here: never speculate here again.
pub const FEEDBACK_DEOPTED: u8 = 2;
/// Deopt stress mode (`--jit-stress-deopt`) already failed a guard here
/// once; its guards now fail only when their assumption does.
pub const FEEDBACK_STRESSED: u8 = 4;
/// An `Equal` or `NotEqual` whose operands were two numbers. (An add needs
/// no such bit: a program adds numbers far more often than anything else,
/// so an add that never ran is assumed to add numbers. An equality as often
/// compares with `nil`, so only one seen comparing numbers is assumed to.)
pub const FEEDBACK_NUMBERS: u8 = 8;
/// A `Call`'s operand byte (offset + 1, where no instruction starts) holds
/// not bits but its site's number: 1 + the index of the site's callee cell
/// (`ObjFunction::callees`), for this many sites of a function, in code
/// order; 0 for the others.
pub const FEEDBACK_CALL_SITES: usize = u8::MAX as usize;

/// `ObjUpvalue`: where the variable's value is (a stack slot while open,
/// the upvalue's own cell once closed).
pub const UPVALUE_LOCATION: usize = offset_of!(ObjUpvalue, location);

/// `ObjInstance`: its shape, the pointer to its fields, their count
/// (`u32`) and how many fit before the array must grow (`u32`).
pub const INSTANCE_SHAPE: usize = offset_of!(ObjInstance, shape);
pub const INSTANCE_FIELDS: usize =
    offset_of!(ObjInstance, fields) + offset_of!(GrowArray<Value, InBlocks>, ptr);
pub const INSTANCE_FIELD_COUNT: usize =
    offset_of!(ObjInstance, fields) + offset_of!(GrowArray<Value, InBlocks>, len);
pub const INSTANCE_FIELD_CAPACITY: usize =
    offset_of!(ObjInstance, fields) + offset_of!(GrowArray<Value, InBlocks>, capacity);

/// `ObjClass`: its initializer (an `ObjClosure`, or null when it has none).
pub const CLASS_INITIALIZER: usize = offset_of!(ObjClass, init);

/// `ObjBoundMethod`: the receiver (a value) and the method (a closure).
pub const BOUND_RECEIVER: usize = offset_of!(ObjBoundMethod, receiver);
pub const BOUND_METHOD: usize = offset_of!(ObjBoundMethod, method);

// ----------------------------------------------------------- inline caches

/// An `InlineCache` is its ways first, each a `CacheEntry`.
pub const CACHE_SIZE: usize = size_of::<InlineCache>();
pub const CACHE_WAYS_OFFSET: usize = offset_of!(InlineCache, entries);
/// How many ways a cache has (its entries, filled in order).
pub const CACHE_WAYS: usize = crate::cache::CACHE_WAYS;
pub const CACHE_ENTRY_SIZE: usize = size_of::<CacheEntry>();
/// A way's key: a shape (instance sites) or a class (super sites); null
/// when the way is empty.
pub const ENTRY_KEY: usize = offset_of!(CacheEntry, key);
/// What the hit is (`u32`): one of the `HIT_*` kinds.
pub const ENTRY_KIND: usize = offset_of!(CacheEntry, kind);
/// A field hit's index (`u32`).
pub const ENTRY_INDEX: usize = offset_of!(CacheEntry, index);
/// A method hit's closure, or an add-field hit's new shape.
pub const ENTRY_TARGET: usize = offset_of!(CacheEntry, target);
/// The property name a site looks up (an `ObjString`, untagged).
pub const CACHE_NAME: usize = offset_of!(InlineCache, name);

/// The heap's megamorphic cache (`MegamorphicCache::table`, which
/// `Context::megamorphic` points at): `MEGAMORPHIC_ENTRIES` entries of
/// `MEGAMORPHIC_ENTRY_SIZE` bytes, each a name and a way keyed by a shape.
/// The pair (shape, name) is at index `((shape >> 3) ^ (name >> 3) *
/// MEGAMORPHIC_MULTIPLIER) & (MEGAMORPHIC_ENTRIES - 1)`
/// (`MegamorphicCache::index`).
pub const MEGAMORPHIC_ENTRIES: usize = crate::cache::MEGAMORPHIC_ENTRIES;
pub const MEGAMORPHIC_MULTIPLIER: u64 = crate::cache::MEGAMORPHIC_MULTIPLIER;
pub const MEGAMORPHIC_ENTRY_SIZE: usize = size_of::<MegamorphicEntry>();
pub const MEGAMORPHIC_NAME: usize = offset_of!(MegamorphicEntry, name);
/// The entry's way, laid out as an inline cache's (`ENTRY_*`).
pub const MEGAMORPHIC_WAY: usize = offset_of!(MegamorphicEntry, entry);
pub use crate::cache::hit_kind::{
    ADD_FIELD as HIT_ADD_FIELD, FIELD as HIT_FIELD, METHOD as HIT_METHOD,
};

// ------------------------------------------------------------ root areas

/// `Stack`: slot 0's address (fixed for the heap's life) and the published
/// height (`usize`), which compiled code writes at every safepoint.
pub const STACK_BASE: usize = offset_of!(Stack, base);
pub const STACK_LEN: usize = offset_of!(Stack, len);

/// `Globals`: the pointer to the global slots and their count (`u32`).
/// The array does not move while code runs (see `Globals`).
pub const GLOBALS_VALUES: usize = offset_of!(Globals, values) + offset_of!(GrowArray<Value>, ptr);
pub const GLOBALS_COUNT: usize = offset_of!(Globals, values) + offset_of!(GrowArray<Value>, len);

/// `Frames`: the pointer to the records and how many are active (`usize`).
pub const FRAMES_RECORDS: usize = offset_of!(Frames, records);
pub const FRAMES_LEN: usize = offset_of!(Frames, len);
/// A `FrameRecord`'s size and its `ip` (where the frame resumes).
pub const FRAME_RECORD_SIZE: usize = size_of::<FrameRecord>();
pub const FRAME_CLOSURE: usize = offset_of!(FrameRecord, closure);
pub const FRAME_IP: usize = offset_of!(FrameRecord, ip);
pub const FRAME_BASE: usize = offset_of!(FrameRecord, base);
pub const FRAME_RETURN_TO: usize = offset_of!(FrameRecord, return_to);
pub const FRAME_FUNCTION: usize = offset_of!(FrameRecord, function);
/// How many frame records there are room for.
pub const MAX_FRAMES: usize = crate::heap::MAX_FRAMES;

// ---------------------------------------------------------- compiled code

/// Machine code for a function's body: `entry(ctx, base, closure,
/// function)` runs the frame whose record is pushed (by the caller), whose
/// slot 0 is at `base` and whose arguments are in place, whose closure is
/// `closure` (null for a script) and whose function object (its inline
/// caches) is `function`. It returns [`STATUS_RETURNED`] with the result in slot 0,
/// or [`STATUS_RAISED`] after a helper recorded the error (the records of
/// the frames that raised stay pushed, for the trace). It never unwinds.
pub type CompiledEntry = unsafe extern "C" fn(
    ctx: *mut Context,
    base: *mut Value,
    closure: *const ObjClosure,
    function: *const ObjFunction,
) -> u32;

/// The body returned; its result is in its slot 0.
pub const STATUS_RETURNED: u32 = 0;
/// A runtime error was raised; the engine holds it.
pub const STATUS_RAISED: u32 = 1;

/// What compiled code and its helpers reach the runtime through: fixed for
/// the length of a run, passed to every compiled body and every helper.
#[repr(C)]
pub struct Context {
    pub stack: *const Stack,
    pub globals: *const Globals,
    pub frames: *const Frames,
    pub heap: *const Heap,
    /// The interrupt flag (a byte, nonzero when a stop was requested),
    /// which compiled code reads at every back-edge.
    pub interrupt: *const std::sync::atomic::AtomicBool,
    /// Compiled code calls compiled code directly only while the native
    /// stack pointer is above this address (else through the `call`
    /// helper, which moves to a new stack segment).
    pub native_floor: usize,
    /// The engine running the code (its helpers know what it is).
    pub engine: *mut std::ffi::c_void,
    /// The heap's megamorphic cache (`MEGAMORPHIC_*`), which compiled code
    /// probes when a site's ways miss.
    pub megamorphic: *const u8,
    /// The heap's remembered set (`REMEMBERED_*`), which the write barrier
    /// pushes onto.
    pub remembered: *const RememberedSet,
}

pub const CONTEXT_STACK: usize = offset_of!(Context, stack);
pub const CONTEXT_GLOBALS: usize = offset_of!(Context, globals);
pub const CONTEXT_FRAMES: usize = offset_of!(Context, frames);
pub const CONTEXT_INTERRUPT: usize = offset_of!(Context, interrupt);
pub const CONTEXT_NATIVE_FLOOR: usize = offset_of!(Context, native_floor);
pub const CONTEXT_MEGAMORPHIC: usize = offset_of!(Context, megamorphic);
pub const CONTEXT_REMEMBERED: usize = offset_of!(Context, remembered);

/// The symbols of the runtime helpers compiled code calls. Their Cranelift
/// signatures are in `codegen::Helper`, their implementations in the VM
/// (`vm::native`): both follow the documentation there, which must agree.
pub mod helper {
    pub const CALL: &str = "strata_call";
    pub const ADD: &str = "strata_add";
    pub const RAISE: &str = "strata_raise";
    pub const UNDEFINED: &str = "strata_undefined";
    pub const PRINT: &str = "strata_print";
    pub const INTERRUPTED: &str = "strata_interrupted";
    pub const STEP: &str = "strata_step";
    pub const CLOSE_UPVALUES: &str = "strata_close_upvalues";
    pub const CLOSURE: &str = "strata_closure";
    pub const INSTANTIATE: &str = "strata_instantiate";
    pub const DEOPT: &str = "strata_deopt";
    pub const LOOKUP: &str = "strata_lookup";
    pub const NEW_INSTANCE: &str = "strata_new_instance";
    pub const CONCAT: &str = "strata_concat";
    pub const NEW_CLOSURE: &str = "strata_new_closure";
}

/// Why optimized code deoptimized: the `reason` the `deopt` helper gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum DeoptReason {
    /// An `Add` guarded to numbers met something else.
    AddNotNumbers = 0,
    /// A slot guarded to a number on entry to a loop was not one.
    LoopEntryNotNumber = 1,
    /// Deopt stress mode failed the guard on purpose, the first time it ran.
    Stress = 2,
    /// A property site's receiver had none of the shapes the code knew.
    UnknownShape = 3,
    /// An `Equal` or `NotEqual` guarded to numbers met something else.
    EqualityNotNumbers = 4,
    /// A set that adds a field at a known offset met an instance whose
    /// fields have no room for it (growing them allocates).
    FieldsFull = 5,
    /// A call of known functions met a callee that was none of them.
    UnknownCallee = 6,
    /// An inlined call found no room for its frame record (the VM's call
    /// then raises `Stack overflow.`, with its trace).
    FramesFull = 7,
}

impl DeoptReason {
    pub fn from_u32(reason: u32) -> Option<DeoptReason> {
        [
            DeoptReason::AddNotNumbers,
            DeoptReason::LoopEntryNotNumber,
            DeoptReason::Stress,
            DeoptReason::UnknownShape,
            DeoptReason::EqualityNotNumbers,
            DeoptReason::FieldsFull,
            DeoptReason::UnknownCallee,
            DeoptReason::FramesFull,
        ]
        .into_iter()
        .find(|known| *known as u32 == reason)
    }

    /// What failed, as `--trace-jit` says it.
    pub fn describe(self) -> &'static str {
        match self {
            DeoptReason::AddNotNumbers => "an operand of + was not a number",
            DeoptReason::LoopEntryNotNumber => "a variable entering the loop was not a number",
            DeoptReason::Stress => "deopt stress mode",
            DeoptReason::UnknownShape => "a receiver had a shape the code did not know",
            DeoptReason::EqualityNotNumbers => "an operand of == or != was not a number",
            DeoptReason::FieldsFull => "an instance had no room for the field the code adds",
            DeoptReason::UnknownCallee => "a call's callee was not a function the code knew",
            DeoptReason::FramesFull => "an inlined call found no room for its frame",
        }
    }
}

/// The runtime errors with a fixed message, by number: compiled code raises
/// them through the `raise` helper, and every engine takes their messages
/// from here, so each is written once. (Messages that name something are
/// made by `runtime::error::messages`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum ErrorCode {
    /// `Operands must be numbers.`
    OperandsNumbers = 0,
    /// `Operand must be a number.`
    OperandNumber = 1,
    /// `Operands must be two numbers or two strings.`
    AddOperands = 2,
    /// `Only instances have properties.`
    OnlyInstancesProperties = 3,
    /// `Only instances have fields.`
    OnlyInstancesFields = 4,
    /// `Only instances have methods.`
    OnlyInstancesMethods = 5,
    /// `Superclass must be a class.`
    SuperclassNotClass = 6,
    /// `Can only call functions and classes.`
    NotCallable = 7,
    /// `Stack overflow.`
    StackOverflow = 8,
    /// `Only classes have methods.` (only a crafted bytecode file gets it)
    OnlyClassesMethods = 9,
    /// `Methods can't be added to a class in use.` (only a crafted file)
    ClassInUse = 10,
}

impl ErrorCode {
    /// Every code, in number order.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::OperandsNumbers,
        ErrorCode::OperandNumber,
        ErrorCode::AddOperands,
        ErrorCode::OnlyInstancesProperties,
        ErrorCode::OnlyInstancesFields,
        ErrorCode::OnlyInstancesMethods,
        ErrorCode::SuperclassNotClass,
        ErrorCode::NotCallable,
        ErrorCode::StackOverflow,
        ErrorCode::OnlyClassesMethods,
        ErrorCode::ClassInUse,
    ];

    pub fn from_u32(code: u32) -> Option<ErrorCode> {
        ErrorCode::ALL.get(code as usize).copied()
    }

    pub fn message(self) -> &'static str {
        match self {
            ErrorCode::OperandsNumbers => "Operands must be numbers.",
            ErrorCode::OperandNumber => "Operand must be a number.",
            ErrorCode::AddOperands => "Operands must be two numbers or two strings.",
            ErrorCode::OnlyInstancesProperties => "Only instances have properties.",
            ErrorCode::OnlyInstancesFields => "Only instances have fields.",
            ErrorCode::OnlyInstancesMethods => "Only instances have methods.",
            ErrorCode::SuperclassNotClass => "Superclass must be a class.",
            ErrorCode::NotCallable => "Can only call functions and classes.",
            ErrorCode::StackOverflow => "Stack overflow.",
            ErrorCode::OnlyClassesMethods => "Only classes have methods.",
            ErrorCode::ClassInUse => "Methods can't be added to a class in use.",
        }
    }
}
