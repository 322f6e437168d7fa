//! The one value representation: 64 bits, NaN-boxed.
//!
//! ```text
//! number   any f64 whose bits are not a tagged quiet NaN below
//! nil      0x7ffc_0000_0000_0001
//! false    0x7ffc_0000_0000_0002
//! true     0x7ffc_0000_0000_0003
//! undef    0x7ffc_0000_0000_0004   (an unset global; never seen by programs)
//! object   0xfffc_0000_0000_0000 | 48-bit pointer to an object header
//! ```
//!
//! Arithmetic only ever produces the hardware's default NaN (`0x7ff8…` or
//! `0xfff8…`), never one with the `0x0004_0000_0000_0000` quiet bit pattern
//! that tags the others, so every computed double is a number. Machine code
//! from the JIT and AOT compilers relies on this layout; `docs/abi.md`
//! documents it and `tests/sizes.rs` pins it.

use std::fmt;

use crate::object::{Gc, ObjRef, Object};

/// The bits every non-number value has set (a quiet NaN with an extra bit).
pub const QNAN: u64 = 0x7ffc_0000_0000_0000;
/// Set, together with [`QNAN`], in object values.
pub const SIGN_BIT: u64 = 0x8000_0000_0000_0000;
pub const TAG_NIL: u64 = 1;
pub const TAG_FALSE: u64 = 2;
pub const TAG_TRUE: u64 = 3;
pub const TAG_UNDEFINED: u64 = 4;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Value(u64);

impl Value {
    pub const NIL: Value = Value(QNAN | TAG_NIL);
    pub const FALSE: Value = Value(QNAN | TAG_FALSE);
    pub const TRUE: Value = Value(QNAN | TAG_TRUE);
    /// The contents of a global slot that was never defined.
    pub const UNDEFINED: Value = Value(QNAN | TAG_UNDEFINED);

    #[inline(always)]
    pub fn number(n: f64) -> Value {
        Value(n.to_bits())
    }

    #[inline(always)]
    pub fn bool(b: bool) -> Value {
        if b { Value::TRUE } else { Value::FALSE }
    }

    #[inline(always)]
    pub fn object(obj: ObjRef) -> Value {
        Value(SIGN_BIT | QNAN | obj.addr() as u64)
    }

    #[inline(always)]
    pub fn to_bits(self) -> u64 {
        self.0
    }

    /// # Safety
    /// `bits` must be the bits of a live value: a number, a tagged constant,
    /// or an object tag around a pointer to a live object.
    #[inline(always)]
    pub unsafe fn from_bits(bits: u64) -> Value {
        Value(bits)
    }

    #[inline(always)]
    pub fn is_number(self) -> bool {
        self.0 & QNAN != QNAN
    }

    #[inline(always)]
    pub fn as_number(self) -> f64 {
        debug_assert!(self.is_number());
        f64::from_bits(self.0)
    }

    #[inline(always)]
    pub fn is_nil(self) -> bool {
        self == Value::NIL
    }

    #[inline(always)]
    pub fn is_bool(self) -> bool {
        self.0 | 1 == Value::TRUE.0
    }

    #[inline(always)]
    pub fn is_undefined(self) -> bool {
        self == Value::UNDEFINED
    }

    #[inline(always)]
    pub fn is_object(self) -> bool {
        self.0 & (QNAN | SIGN_BIT) == QNAN | SIGN_BIT
    }

    #[inline(always)]
    pub fn as_object(self) -> Option<ObjRef> {
        if self.is_object() {
            let addr = (self.0 & !(SIGN_BIT | QNAN)) as usize;
            // SAFETY: object values are only made by `Value::object` from a
            // live, non-null `ObjRef`; the tag bits never overlap a 48-bit
            // user-space address.
            Some(unsafe { ObjRef::from_addr(addr) })
        } else {
            None
        }
    }

    /// The object this value points to, if it is an object of kind `T`.
    #[inline(always)]
    pub fn downcast<T: Object>(self) -> Option<Gc<T>> {
        self.as_object()?.downcast::<T>()
    }

    /// Lox truthiness: `nil` and `false` are falsey, all else is truthy.
    #[inline(always)]
    pub fn is_falsey(self) -> bool {
        self == Value::NIL || self == Value::FALSE
    }

    /// Lox `==`: numbers by IEEE equality, everything else by identity
    /// (strings are interned, so identity is content equality).
    #[inline(always)]
    pub fn lox_eq(self, other: Value) -> bool {
        if self.is_number() && other.is_number() {
            self.as_number() == other.as_number()
        } else {
            self.0 == other.0
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_number() {
            write!(f, "Number({})", self.as_number())
        } else if let Some(obj) = self.as_object() {
            write!(f, "Object({:?} @ {:#x})", obj.kind(), obj.addr())
        } else {
            match *self {
                Value::NIL => write!(f, "Nil"),
                Value::TRUE => write!(f, "True"),
                Value::FALSE => write!(f, "False"),
                Value::UNDEFINED => write!(f, "Undefined"),
                _ => write!(f, "Invalid({:#x})", self.0),
            }
        }
    }
}
