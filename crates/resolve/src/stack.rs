//! Stack slots: how many values a frame holds at once on the VM's stack.
//!
//! [`StackDepth`] follows one function's operand-stack depth as the parser
//! narrates its instructions, in the bytecode VM's push model (locals are
//! stack slots; an operator holds its left operand while its right one
//! runs; a call holds the callee and the arguments so far; a method call
//! `a.m(...)` holds the method and the receiver while its arguments run),
//! and keeps the deepest point. A branch's code starts from the depth at
//! its jump, and dead code after a `return` is counted as if it ran, so the
//! result is an upper bound on the depth the compiler reaches (its
//! `max_stack`; `compiler` checks this).
//!
//! A frame needing more than [`MAX_FRAME_SLOTS`] is the compile error
//! `Function needs too many stack slots.`, reported once per function at
//! the token of the value whose push first goes over the limit. The bound
//! lets the runtime size its value stack so that its frame limit, not the
//! stack's size, is what ends a runaway recursion of any function, so that
//! `Stack overflow.` comes at the same depth on every engine.

use syntax::{Emit, Reporter, TokenRef};

/// The most stack slots one frame may need (slot 0, parameters, locals and
/// temporaries).
pub const MAX_FRAME_SLOTS: u32 = 1024;

#[derive(Debug)]
pub(crate) struct StackDepth {
    depth: u32,
    max: u32,
    /// The limit error was reported (it is reported once per function).
    reported: bool,
}

impl StackDepth {
    /// A new frame: slot 0 (the callee or `this`) is in place.
    pub(crate) fn new() -> StackDepth {
        StackDepth { depth: 1, max: 1, reported: false }
    }

    /// The depth now (where a jump taken here lands).
    pub(crate) fn depth(&self) -> u32 {
        self.depth
    }

    /// Continue at `depth` (where a jump lands).
    pub(crate) fn set_depth(&mut self, depth: u32) {
        self.depth = depth;
    }

    /// The deepest point so far, for [`syntax::ast::FnInfo::stack_slots`].
    pub(crate) fn max(&self) -> u16 {
        u16::try_from(self.max).unwrap_or(u16::MAX)
    }

    /// Push one value, whose token is `at`.
    pub(crate) fn push(&mut self, at: TokenRef, report: &mut Reporter<'_>) {
        self.depth += 1;
        self.max = self.max.max(self.depth);
        if self.depth > MAX_FRAME_SLOTS && !self.reported {
            self.reported = true;
            report.error_at(at, "Function needs too many stack slots.");
        }
    }

    pub(crate) fn pop(&mut self, n: u32) {
        // Saturating: a program with errors may be unbalanced.
        self.depth = self.depth.saturating_sub(n);
    }

    /// What `op` does to the stack.
    pub(crate) fn emit(&mut self, op: Emit, at: TokenRef, report: &mut Reporter<'_>) {
        match op {
            // Push one value.
            Emit::Literal
            | Emit::Constant
            | Emit::GetVar
            | Emit::Missing
            | Emit::Closure { .. }
            | Emit::Class
            // The method joins the receiver, which stays below the arguments.
            | Emit::Method => self.push(at, report),
            // Replace the top.
            Emit::SetVar | Emit::Unary | Emit::GetProperty => {}
            // Pop two, push one; or pop one.
            Emit::Binary(_)
            | Emit::SetProperty
            | Emit::GetSuper
            | Emit::Inherit
            | Emit::DefineMethod
            | Emit::Pop
            | Emit::Print
            | Emit::Return => self.pop(1),
            Emit::ReturnNil => {
                self.push(at, report);
                self.pop(1);
            }
            // The callee and arguments become the result.
            Emit::Call { args } => self.pop(args),
            // The method, receiver and arguments become the result.
            Emit::Invoke { args } | Emit::SuperInvoke { args } => {
                self.pop(args + 1)
            }
        }
    }
}
