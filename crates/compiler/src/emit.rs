//! Building one function's chunk: emitting instructions, tracking the
//! stack depth, patching jumps, and fusing instruction pairs into
//! superinstructions.
//!
//! Fusion happens as instructions are emitted: when the new instruction and
//! the one just before it have a superinstruction ([`Op::fused_with`]), the
//! earlier one's opcode byte is rewritten and the new one's operand appended
//! (the opcode table test guarantees the fused operands are the pair's, in
//! order). It is skipped when a jump lands between the two, which would
//! skip half of the pair, and when they are on different source lines, so
//! that an error raised by the pair reports the line it would have.

use bytecode::{Capture, Chunk, Constant, Function, FunctionKind, Op, OperandKind};

/// A function under construction.
pub(crate) struct FnBuilder {
    function: Function,
    /// Values on the frame's stack now, slot 0 included.
    depth: u32,
    /// Whether control can reach the next instruction emitted. Code after a
    /// `return` or an unconditional jump is dead until a jump lands on it,
    /// and dead code does not count towards `max_stack` (the verifier
    /// checks that `max_stack` is exactly the deepest reachable depth).
    reachable: bool,
    /// The last instruction emitted, while fusing with it is allowed.
    last: Option<Last>,
}

/// The last instruction emitted.
#[derive(Clone, Copy)]
struct Last {
    op: Op,
    offset: usize,
    /// `max_stack` before it was emitted.
    max_stack_before: u32,
}

/// A forward jump waiting for its target.
#[must_use]
pub(crate) struct Jump {
    /// Offset of the jump's operand.
    operand: usize,
    /// The stack depth when the jump is taken.
    depth: u32,
}

impl FnBuilder {
    pub(crate) fn new(
        name: Option<String>,
        kind: FunctionKind,
        arity: u8,
        captures: Vec<Capture>,
    ) -> FnBuilder {
        let depth = 1 + arity as u32;
        let function =
            Function { name, kind, arity, captures, max_stack: depth, chunk: Chunk::default() };
        FnBuilder { function, depth, reachable: true, last: None }
    }

    pub(crate) fn finish(self) -> Function {
        self.function
    }

    /// The line of the last instruction emitted (1 before any).
    pub(crate) fn line(&self) -> u32 {
        self.function.chunk.lines.last().map_or(1, |run| run.line)
    }

    pub(crate) fn depth(&self) -> u32 {
        self.depth
    }

    /// Emit `op` with its operand (ignored for opcodes without one).
    pub(crate) fn emit(&mut self, op: Op, operand: u32, line: u32) {
        let info = op.info();
        let max_stack_before = self.function.max_stack;
        let chunk = &mut self.function.chunk;
        let fused = self.last.and_then(|last| {
            let same_line = chunk.lines.last().is_some_and(|run| run.line == line);
            let fused = last.op.fused_with(op).filter(|_| same_line)?;
            Some((last, fused))
        });
        match fused {
            Some((last, fused)) => {
                chunk.code[last.offset] = fused as u8;
                // The pair's depth never exceeds its ends: undo the first
                // half's contribution to `max_stack`.
                self.function.max_stack = last.max_stack_before;
                self.last = Some(Last { op: fused, ..last });
            }
            None => {
                let offset = chunk.code.len();
                chunk.emit_op(op, line);
                self.last = Some(Last { op, offset, max_stack_before });
            }
        }
        let chunk = &mut self.function.chunk;
        match info.operands.first().map(|kind| kind.width()) {
            Some(1) => chunk.emit_u8(operand as u8),
            Some(_) => chunk.emit_u32(operand),
            None => {}
        }
        let pops = info.effect.pops as u32 + if info.effect.pops_args { operand } else { 0 };
        debug_assert!(self.depth >= pops, "{} pops below the frame", info.name);
        self.depth = self.depth - pops + info.effect.pushes as u32;
        if self.reachable {
            self.function.max_stack = self.function.max_stack.max(self.depth);
        }
        if matches!(op, Op::Return | Op::Jump | Op::Loop) {
            self.reachable = false;
        }
    }

    pub(crate) fn op(&mut self, op: Op, line: u32) {
        debug_assert!(op.info().operands.is_empty());
        self.emit(op, 0, line);
    }

    pub(crate) fn constant(&mut self, constant: Constant) -> u32 {
        self.function.chunk.add_constant(constant)
    }

    pub(crate) fn name_constant(&mut self, name: &str) -> u32 {
        self.constant(Constant::String(name.to_string()))
    }

    /// A new property site naming `name`: each instruction that looks a
    /// property up gets its own, and so its own inline cache.
    pub(crate) fn site(&mut self, name: &str) -> u32 {
        self.function.chunk.add_site(name)
    }

    /// Emit a forward jump (`Jump` or `JumpIfFalse`) to patch later.
    pub(crate) fn jump(&mut self, op: Op, line: u32) -> Jump {
        debug_assert_eq!(op.info().operands, &[OperandKind::JumpForward]);
        self.emit(op, 0, line);
        let operand = self.function.chunk.code.len() - 4;
        Jump { operand, depth: self.depth }
    }

    /// Point `jump` here. The code here is reached with the jump's depth.
    pub(crate) fn land(&mut self, jump: Jump) {
        let distance = self.function.chunk.code.len() - (jump.operand + 4);
        self.function.chunk.patch_u32(jump.operand, distance as u32);
        self.depth = jump.depth;
        self.reachable = true;
        self.last = None;
    }

    /// The current offset, as the target of a later `loop_back` (which
    /// makes the code here reachable).
    pub(crate) fn loop_target(&mut self) -> usize {
        self.reachable = true;
        self.last = None;
        self.function.chunk.code.len()
    }

    /// Jump back to `target`.
    pub(crate) fn loop_back(&mut self, target: usize, line: u32) {
        let size = Op::Loop.size();
        let distance = self.function.chunk.code.len() + size - target;
        self.emit(Op::Loop, distance as u32, line);
    }

    /// `return;` or the end of a body: `nil`, or `this` in initializers.
    pub(crate) fn emit_return_nil(&mut self, line: u32) {
        if self.function.kind == FunctionKind::Initializer {
            self.emit(Op::GetLocal, 0, line);
        } else {
            self.op(Op::Nil, line);
        }
        self.op(Op::Return, line);
    }
}
