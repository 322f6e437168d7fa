//! The machine-code ABI: every bit pattern and field offset that compiled
//! code (the JIT's and the AOT compiler's) may rely on, defined from the
//! Rust types with `offset_of!`, so a layout change cannot silently break
//! them. `docs/abi.md` documents each one and `tests/sizes.rs` pins their
//! values, so that a change is a decision, not an accident.
//!
//! Compiled code touches nothing else: whatever is not here, it reaches
//! through a runtime helper.

use std::mem::offset_of;

use crate::buffer::{FixedArray, GrowArray};
use crate::cache::{CacheEntry, InlineCache};
use crate::class::{ObjBoundMethod, ObjInstance};
use crate::heap::{Globals, Stack};
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

/// `ObjClosure`: the function, and the pointer to its upvalue pointers.
pub const CLOSURE_FUNCTION: usize = offset_of!(ObjClosure, function);
pub const CLOSURE_UPVALUES: usize =
    offset_of!(ObjClosure, upvalues) + offset_of!(FixedArray<usize>, ptr);

/// `ObjFunction`: the arity (`u8`) and the pointer to its inline caches.
pub const FUNCTION_ARITY: usize = offset_of!(ObjFunction, arity);
pub const FUNCTION_CACHES: usize =
    offset_of!(ObjFunction, caches) + offset_of!(FixedArray<usize>, ptr);

/// `ObjUpvalue`: where the variable's value is (a stack slot while open,
/// the upvalue's own cell once closed).
pub const UPVALUE_LOCATION: usize = offset_of!(ObjUpvalue, location);

/// `ObjInstance`: its shape, the pointer to its fields and their count
/// (`u32`).
pub const INSTANCE_SHAPE: usize = offset_of!(ObjInstance, shape);
pub const INSTANCE_FIELDS: usize =
    offset_of!(ObjInstance, fields) + offset_of!(GrowArray<Value>, ptr);
pub const INSTANCE_FIELD_COUNT: usize =
    offset_of!(ObjInstance, fields) + offset_of!(GrowArray<Value>, len);

/// `ObjBoundMethod`: the receiver (a value) and the method (a closure).
pub const BOUND_RECEIVER: usize = offset_of!(ObjBoundMethod, receiver);
pub const BOUND_METHOD: usize = offset_of!(ObjBoundMethod, method);

// ----------------------------------------------------------- inline caches

/// An `InlineCache` is its ways first, each a `CacheEntry`.
pub const CACHE_SIZE: usize = size_of::<InlineCache>();
pub const CACHE_WAYS_OFFSET: usize = offset_of!(InlineCache, entries);
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
