//! Code size in the reference bytecode encoding, for the jump limits.
//!
//! LOX.md measures "Loop body too large." and "Too much code to jump over."
//! in the book's clox encoding: one byte per opcode, one per constant, slot
//! or argument-count operand, two per jump offset. The resolver computes
//! each construct's size bottom-up with these rules, so every engine rejects
//! exactly the programs clox's compiler would, whatever its own encoding.

use std::ops::{Add, AddAssign, Sub};

use syntax::ast::VarRef;

/// The largest jump or loop offset a 16-bit operand holds.
pub const MAX_JUMP: u64 = u16::MAX as u64;

/// A size in bytes of reference bytecode (saturating: huge programs only
/// need to compare as "too large").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

impl Size {
    pub const ZERO: Size = Size(0);
}

impl Add for Size {
    type Output = Size;
    fn add(self, other: Size) -> Size {
        Size(self.0.saturating_add(other.0))
    }
}

impl Add<u64> for Size {
    type Output = Size;
    fn add(self, other: u64) -> Size {
        Size(self.0.saturating_add(other))
    }
}

impl Sub<u64> for Size {
    type Output = Size;
    fn sub(self, other: u64) -> Size {
        Size(self.0.saturating_sub(other))
    }
}

impl AddAssign<u64> for Size {
    fn add_assign(&mut self, other: u64) {
        *self = *self + other;
    }
}

impl AddAssign for Size {
    fn add_assign(&mut self, other: Size) {
        *self = *self + other;
    }
}

/// Defining a variable: `OP_DEFINE_GLOBAL name` for a global; a local just
/// stays where its initializer left it.
pub fn define(var: VarRef) -> Size {
    match var {
        VarRef::Global(_) => Size(2),
        _ => Size::ZERO,
    }
}

/// The operand of the `OP_LOOP` that closes a loop whose condition part
/// (condition, its jump and pop) is `cond_part` and whose body is `body`:
/// it jumps back over both and over itself (3 bytes).
pub fn loop_offset(cond_part: Size, body: Size) -> Size {
    cond_part + body + 3
}
