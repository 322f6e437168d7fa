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

use std::collections::HashMap;

use bytecode::{Capture, Chunk, Constant, Function, FunctionKind, Op, OperandKind};

/// A function under construction.
pub(crate) struct FnBuilder {
    function: Function,
    /// Values on the frame's stack now, slot 0 included.
    depth: u32,
    /// Whether control can reach the next instruction emitted. Code after a
    /// `return` or an unconditional jump is dead until a live jump lands on
    /// it. Dead code is not emitted at all: the verifier requires every
    /// instruction to be reachable and `max_stack` to be exactly the deepest
    /// reachable depth. While dead, `depth` means nothing; a live jump's
    /// landing restores it.
    reachable: bool,
    /// The last instruction emitted, while fusing with it is allowed.
    last: Option<Last>,
    /// Every constant added so far, so that equal ones share an index.
    constants: HashMap<ConstantKey, u32>,
}

/// A constant as a map key: numbers by their bits, so that `-0` and `0`
/// stay distinct constants.
#[derive(PartialEq, Eq, Hash)]
enum ConstantKey {
    Number(u64),
    String(String),
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
    /// Offset of the jump's operand; `None` if the jump was in dead code and
    /// so never emitted (landing it makes nothing reachable).
    operand: Option<usize>,
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
        FnBuilder { function, depth, reachable: true, last: None, constants: HashMap::new() }
    }

    /// Whether the function's closures hold upvalue `index` by value.
    pub(crate) fn holds_by_value(&self, index: u8) -> bool {
        self.function.captures[index as usize].by_value
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

    /// Whether the next instruction emitted would be reachable. Statements
    /// in dead code are skipped whole (see `Compiler::stmt`).
    pub(crate) fn is_reachable(&self) -> bool {
        self.reachable
    }

    /// Emit `op` with its operand (ignored for opcodes without one); in dead
    /// code, emit nothing.
    pub(crate) fn emit(&mut self, op: Op, operand: u32, line: u32) {
        if !self.reachable {
            return;
        }
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
        self.function.max_stack = self.function.max_stack.max(self.depth);
        if op.ends_flow() {
            self.reachable = false;
        }
    }

    pub(crate) fn op(&mut self, op: Op, line: u32) {
        debug_assert!(op.info().operands.is_empty());
        self.emit(op, 0, line);
    }

    /// The index of `constant`, added if it is new.
    pub(crate) fn constant(&mut self, constant: Constant) -> u32 {
        let key = match &constant {
            Constant::Number(n) => ConstantKey::Number(n.to_bits()),
            Constant::String(s) => ConstantKey::String(s.clone()),
        };
        let chunk = &mut self.function.chunk;
        *self.constants.entry(key).or_insert_with(|| chunk.add_constant(constant))
    }

    pub(crate) fn name_constant(&mut self, name: &str) -> u32 {
        self.constant(Constant::String(name.to_string()))
    }

    /// A new property site naming `name`: each instruction that looks a
    /// property up gets its own, and so its own inline cache.
    pub(crate) fn site(&mut self, name: &str) -> u32 {
        let constant = self.name_constant(name);
        self.function.chunk.add_site(constant)
    }

    /// Emit a forward jump (`Jump` or `JumpIfFalse`) to patch later.
    pub(crate) fn jump(&mut self, op: Op, line: u32) -> Jump {
        debug_assert_eq!(op.info().operands, &[OperandKind::JumpForward]);
        let live = self.reachable;
        self.emit(op, 0, line);
        let operand = live.then(|| self.function.chunk.code.len() - 4);
        Jump { operand, depth: self.depth }
    }

    /// Point `jump` here. A live jump makes the code here reachable, with
    /// the jump's depth; a dead one changes nothing.
    pub(crate) fn land(&mut self, jump: Jump) {
        let Some(operand) = jump.operand else { return };
        let distance = self.function.chunk.code.len() - (operand + 4);
        self.function.chunk.patch_u32(operand, distance as u32);
        debug_assert!(!self.reachable || self.depth == jump.depth, "depths differ at a merge");
        self.depth = jump.depth;
        self.reachable = true;
        self.last = None;
    }

    /// The current offset, as the target of a later `loop_back`. A loop is
    /// entered only by falling into its start, so this changes nothing
    /// about reachability: a loop whose start is dead is dead throughout.
    pub(crate) fn loop_target(&mut self) -> usize {
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
            self.op(Op::ReturnThis, line);
        } else {
            self.op(Op::Nil, line);
            self.op(Op::Return, line);
        }
    }
}
