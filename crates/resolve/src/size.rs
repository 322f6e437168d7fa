//! Code size in the reference bytecode encoding, for the jump limits.
//!
//! LOX.md measures `Loop body too large.` and `Too much code to jump over.`
//! in the book's clox encoding: one byte per opcode, one per constant, slot
//! or argument-count operand, two per jump offset. [`CodeSize`] counts the
//! bytes clox would have emitted so far in one function, instruction by
//! instruction as the parser narrates them, and checks each jump when it is
//! patched, exactly when and where clox checks it; so every engine rejects
//! exactly the programs clox's compiler would, whatever its own encoding.

use syntax::{Emit, FrameKind, Reporter, TokenRef};

/// The largest jump or loop offset a 16-bit operand holds.
pub const MAX_JUMP: u64 = u16::MAX as u64;

/// A forward jump or a backward jump's operand: 3 bytes.
const JUMP_BYTES: u64 = 3;

/// The bytes of clox code emitted so far in one function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct CodeSize(u64);

impl CodeSize {
    /// Count `op`, in a frame of kind `frame`.
    pub(crate) fn emit(&mut self, op: Emit, frame: FrameKind) {
        self.add(bytes(op, frame));
    }

    /// Count `n` bytes (a `DEFINE_GLOBAL` is 2, each local leaving a scope 1).
    pub(crate) fn add(&mut self, n: u64) {
        self.0 = self.0.saturating_add(n);
    }

    /// Emit a forward jump; the result is where its distance is measured from.
    pub(crate) fn jump(&mut self) -> CodeSize {
        self.add(JUMP_BYTES);
        *self
    }

    /// Land the jump emitted at `from` here.
    pub(crate) fn patch_jump(&self, from: CodeSize, at: TokenRef, report: &mut Reporter<'_>) {
        if self.0 - from.0 > MAX_JUMP {
            report.error_at(at, "Too much code to jump over.");
        }
    }

    /// Emit the loop instruction back to `start` (its offset covers itself).
    pub(crate) fn loop_back(&mut self, start: CodeSize, at: TokenRef, report: &mut Reporter<'_>) {
        self.add(JUMP_BYTES);
        if self.0 - start.0 > MAX_JUMP {
            report.error_at(at, "Loop body too large.");
        }
    }
}

/// How many bytes clox emits for `op`.
fn bytes(op: Emit, frame: FrameKind) -> u64 {
    match op {
        Emit::Missing | Emit::Method => 0,
        Emit::Literal | Emit::Unary | Emit::Pop | Emit::Print | Emit::Return | Emit::Inherit => 1,
        Emit::Binary(op) => {
            use syntax::ast::BinaryOp as B;
            // `!=`, `<=` and `>=` are an operator then a `NOT`.
            match op {
                B::NotEqual | B::LessEqual | B::GreaterEqual => 2,
                _ => 1,
            }
        }
        Emit::Constant
        | Emit::GetVar
        | Emit::SetVar
        | Emit::Call { .. }
        | Emit::GetProperty
        | Emit::SetProperty
        | Emit::GetSuper
        | Emit::Class
        | Emit::DefineMethod => 2,
        // `GET_LOCAL 0` or `NIL`, then `RETURN`.
        Emit::ReturnNil if frame == FrameKind::Initializer => 3,
        Emit::ReturnNil => 2,
        // Opcode, name, argument count.
        Emit::Invoke { .. } | Emit::SuperInvoke { .. } => 3,
        // Opcode and function, then two bytes per capture.
        Emit::Closure { captures } => 2 + 2 * captures as u64,
    }
}
