//! Strata's one runtime, shared by every engine (DESIGN.md invariant 2).
//!
//! - [`Value`]: the 64-bit NaN-boxed value (invariant 3, `docs/abi.md`).
//! - Objects ([`ObjString`], [`ObjClosure`], ...) and typed pointers [`Gc`];
//!   instances laid out by shapes ([`ObjShape`]), and the inline caches
//!   engines keep per property site ([`InlineCache`]).
//! - [`Heap`]: allocation, interning, the roots, and the precise mark-sweep
//!   collector, with stress and log modes ([`GcConfig`], [`GcReport`]).
//! - Printing ([`Printed`], [`format_number`]), natives ([`NATIVES`]),
//!   runtime errors with stack traces ([`RuntimeError`]), and the flag that
//!   stops a running program from outside ([`Interrupt`]).
//!
//! It depends on no other Strata crate. Unsafe code lives in `value.rs`,
//! `object.rs`, `class.rs`, `heap.rs` and `blocks.rs` (the heap's allocator);
//! each block says why it is sound.

pub mod abi;
mod blocks;
mod buffer;
mod cache;
mod call;
mod class;
mod error;
mod frame;
mod gc;
mod heap;
mod intern;
mod interrupt;
pub mod native_stack;
mod natives;
mod object;
mod print;
mod string_hash;
mod table;
mod value;

pub use buffer::{FixedArray, GrowArray};
pub use cache::{
    CACHE_WAYS, CacheCounts, CacheEntry, CacheHit, CacheState, InlineCache, MegamorphicCache,
};
pub use call::{Call, call_native, check_arity, prepare_call};
pub use class::{ObjBoundMethod, ObjClass, ObjInstance, ObjShape};
pub use error::{ErrorKind, RuntimeError, TraceLine, messages};
pub use frame::{FrameRecord, Frames, TooManyFrames};
pub use gc::{DEFAULT_MAX_HEAP, GcConfig, GcLog, GcReport, GcStats, OUT_OF_MEMORY, OutOfMemory};
pub use heap::{
    Globals, Heap, HeapOptions, MAX_FRAME_SLOTS, MAX_FRAMES, RememberedSet, Root, STACK_SLOTS,
    Stack, StackFull,
};
pub use interrupt::{INTERRUPTED, Interrupt};
pub use natives::{NATIVES, NativeSpec, define_natives};
pub use object::{
    CaptureFrom, Gc, NativeFn, ObjClosure, ObjFunction, ObjKind, ObjNative, ObjRef, ObjString,
    ObjUpvalue, Object, Trace,
};
pub use print::{Printed, format_number};
pub use table::Table;
pub use value::Value;
