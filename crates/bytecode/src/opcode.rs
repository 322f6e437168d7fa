//! The opcode table: every instruction, defined once.
//!
//! Each row names an instruction, its operands (in encoding order), its
//! effect on the operand stack, what else it may do (in brackets:
//! `allocates`, `raises`, `calls`; see [`Effects`]) and a one-line doc. The `Op` enum, operand
//! decoding, the disassembler, the verifier's stack model and
//! `docs/bytecode.md` are all derived from this one table, so an opcode
//! cannot be added in one place and forgotten in another.
//!
//! Encoding: one byte of opcode, then each operand little-endian in its
//! width (`u8` slots, upvalue indices and argument counts; `u32` constant,
//! site, global and function indices and jump offsets).

/// What an operand means, which fixes its width and what it indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperandKind {
    /// A frame slot (`u8`).
    Slot,
    /// An index into the closure's captured variables (`u8`).
    Upvalue,
    /// An argument count (`u8`).
    Argc,
    /// An index into the function's constant table (`u32`).
    Const,
    /// A property site: an index into the function's site table (`u32`),
    /// which names the property by a string constant. Each site has its own
    /// inline cache at run time.
    Site,
    /// A global slot (`u32`).
    Global,
    /// An index into the module's functions (`u32`).
    Function,
    /// A forward jump distance in bytes, from the end of the instruction (`u32`).
    JumpForward,
    /// A backward jump distance in bytes, from the end of the instruction (`u32`).
    JumpBack,
}

impl OperandKind {
    pub const fn width(self) -> usize {
        match self {
            OperandKind::Slot | OperandKind::Upvalue | OperandKind::Argc => 1,
            _ => 4,
        }
    }
}

/// How an instruction changes the operand stack: it pops `pops` values
/// (plus the argument count, for calls) and pushes `pushes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackEffect {
    pub pops: u8,
    pub pushes: u8,
    /// Also pops as many values as the instruction's `Argc` operand says.
    pub pops_args: bool,
}

/// What running an instruction may do besides moving values: the
/// instruction's *safepoint* kinds. A code generator writes the frame back
/// before any instruction that may do one of these (DESIGN.md invariant 6),
/// and calls no runtime helper for an instruction whose row says it does
/// none of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Effects {
    /// May allocate on the heap, and so collect, or raise `Out of memory.`.
    pub allocates: bool,
    /// May raise a runtime error (a type error, an undefined name, a stack
    /// overflow, `Interrupted.` at a back-edge, a failed write).
    pub raises: bool,
    /// May run Lox code (a call), which may do anything: allocate, raise,
    /// assign any captured variable or global.
    pub calls: bool,
}

impl Effects {
    /// No effect at all: the instruction only moves and computes values.
    pub const NONE: Effects = Effects { allocates: false, raises: false, calls: false };

    /// Whether `self` does nothing `other` may not do.
    pub const fn within(self, other: Effects) -> bool {
        (!self.allocates || other.allocates)
            && (!self.raises || other.raises)
            && (!self.calls || other.calls)
    }

    pub const fn is_none(self) -> bool {
        !self.allocates && !self.raises && !self.calls
    }
}

macro_rules! opcodes {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident ( $($operand:ident),* ) $pops:literal $(+ $args:ident)? => $pushes:literal
            [ $($effect:ident)* ] ;
    )*) => {
        /// A bytecode instruction's opcode.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Op {
            $( $(#[doc = $doc])* $name, )*
        }

        /// Every opcode's row of the table, in opcode order.
        // A row naming all three effects leaves nothing to `Effects::NONE`.
        #[allow(clippy::needless_update)]
        pub const OPCODES: &[OpInfo] = &[
            $( OpInfo {
                op: Op::$name,
                name: stringify!($name),
                operands: &[$(OperandKind::$operand),*],
                effect: StackEffect {
                    pops: $pops,
                    pushes: $pushes,
                    pops_args: opcodes!(@args $($args)?),
                },
                effects: Effects { $( $effect: true, )* ..Effects::NONE },
                doc: concat!($($doc),*),
            }, )*
        ];
    };
    (@args argc) => { true };
    (@args) => { false };
}

/// One row of the opcode table.
#[derive(Debug, Clone, Copy)]
pub struct OpInfo {
    pub op: Op,
    pub name: &'static str,
    pub operands: &'static [OperandKind],
    pub effect: StackEffect,
    /// What it may do besides moving values (the row's bracket: `alloc`,
    /// `raise`, `call`).
    pub effects: Effects,
    pub doc: &'static str,
}

opcodes! {
    /// Push constant `c` (a number or string).
    Constant(Const) 0 => 1 [];
    /// Push `nil`.
    Nil() 0 => 1 [];
    /// Push `true`.
    True() 0 => 1 [];
    /// Push `false`.
    False() 0 => 1 [];
    /// Discard the top of the stack.
    Pop() 1 => 0 [];
    /// Push the local in frame slot `s`.
    GetLocal(Slot) 0 => 1 [];
    /// Store the top of the stack in frame slot `s`, leaving it on the stack.
    SetLocal(Slot) 1 => 1 [];
    /// Push global `g`; `Undefined variable` if it was never defined.
    GetGlobal(Global) 0 => 1 [raises];
    /// Pop a value into global `g`, defining it.
    DefineGlobal(Global) 1 => 0 [];
    /// Store the top of the stack in the already defined global `g`.
    SetGlobal(Global) 1 => 1 [raises];
    /// Push captured variable `u`.
    GetUpvalue(Upvalue) 0 => 1 [];
    /// Store the top of the stack in captured variable `u`.
    SetUpvalue(Upvalue) 1 => 1 [];
    /// Push captured value `u`: a variable no code assigns, which the
    /// closure holds by value rather than through an upvalue.
    GetCaptured(Upvalue) 0 => 1 [];
    /// Replace an instance with its property named by site `p`.
    GetProperty(Site) 1 => 1 [allocates raises];
    /// Set property `p` of the instance below the top to the top; leave the value.
    SetProperty(Site) 2 => 1 [allocates raises];
    /// Replace `this` and a superclass with the superclass's method `p` bound to `this`.
    GetSuper(Site) 2 => 1 [allocates raises];
    /// Replace a receiver with [callee, slot 0] for a call of its property `p`:
    /// [method, receiver] for a method, [value, value] for a field.
    Method(Site) 1 => 2 [raises];
    /// Replace `this` and a superclass with [superclass method `p`, `this`].
    SuperMethod(Site) 2 => 2 [raises];
    /// Lox `==`.
    Equal() 2 => 1 [];
    /// Lox `!=`.
    NotEqual() 2 => 1 [];
    /// `>` on numbers.
    Greater() 2 => 1 [raises];
    /// `>=` on numbers.
    GreaterEqual() 2 => 1 [raises];
    /// `<` on numbers.
    Less() 2 => 1 [raises];
    /// `<=` on numbers.
    LessEqual() 2 => 1 [raises];
    /// `+` on two numbers or two strings.
    Add() 2 => 1 [allocates raises];
    /// `-` on numbers.
    Subtract() 2 => 1 [raises];
    /// `*` on numbers.
    Multiply() 2 => 1 [raises];
    /// `/` on numbers.
    Divide() 2 => 1 [raises];
    /// Logical not of the top's truthiness.
    Not() 1 => 1 [];
    /// Negate a number.
    Negate() 1 => 1 [raises];
    /// Pop a value and print it with a newline.
    Print() 1 => 0 [raises];
    /// Jump forward `d` bytes.
    Jump(JumpForward) 0 => 0 [];
    /// Jump forward `d` bytes if the top is falsey (the top stays: it reads
    /// a value, so its row pops and pushes one, for the verifier).
    JumpIfFalse(JumpForward) 1 => 1 [];
    /// Jump back `d` bytes (loops).
    Loop(JumpBack) 0 => 0 [raises];
    /// Call the value below `n` arguments; slot 0 of the new frame is the callee.
    Call(Argc) 1 + argc => 1 [allocates raises calls];
    /// Call the callee two below `n` arguments, with the value above it as slot 0
    /// (what `Method` and `SuperMethod` push).
    CallMethod(Argc) 2 + argc => 1 [allocates raises calls];
    /// Push a closure over function `f`, capturing what its prototype lists.
    Closure(Function) 0 => 1 [allocates];
    /// Close the upvalue for the top slot if any, and pop it.
    CloseUpvalue() 1 => 0 [];
    /// Return the top from the current function.
    Return() 1 => 0 [];
    /// Return `this` (slot 0) from an initializer: the only way an
    /// initializer returns, so a class call always yields its instance.
    ReturnThis() 0 => 0 [];
    /// Push a new class named by constant `c`.
    Class(Const) 0 => 1 [allocates];
    /// Copy the superclass's methods into the class on top, and pop the class
    /// (the superclass stays, as the hidden `super` local).
    Inherit() 2 => 1 [allocates raises];
    /// Add the closure on top to the class below it as method `c`; pop the closure.
    DefineMethod(Const) 2 => 1 [allocates raises];

    // Superinstructions: each does the work of the two instructions its doc
    // names, in one dispatch. The compiler fuses the pair when nothing jumps
    // between them and both are on one source line (`compiler/src/emit.rs`).

    /// Pop the top into frame slot `s` (`SetLocal s`, `Pop`).
    StoreLocal(Slot) 1 => 0 [];
    /// Pop the top into the already defined global `g` (`SetGlobal g`, `Pop`).
    StoreGlobal(Global) 1 => 0 [raises];
    /// Pop the top into captured variable `u` (`SetUpvalue u`, `Pop`).
    StoreUpvalue(Upvalue) 1 => 0 [];
    /// Pop a value and the instance below it, setting its property `p`
    /// (`SetProperty p`, `Pop`).
    StoreProperty(Site) 2 => 0 [allocates raises];
    /// Pop the top; jump forward `d` bytes if it is falsey.
    PopJumpIfFalse(JumpForward) 1 => 0 [];
    /// Pop two numbers; jump forward `d` bytes unless the first is less than
    /// the second (`Less`, `PopJumpIfFalse d`).
    JumpIfNotLess(JumpForward) 2 => 0 [raises];
    /// As `JumpIfNotLess`, for `<=`.
    JumpIfNotLessEqual(JumpForward) 2 => 0 [raises];
    /// As `JumpIfNotLess`, for `>`.
    JumpIfNotGreater(JumpForward) 2 => 0 [raises];
    /// As `JumpIfNotLess`, for `>=`.
    JumpIfNotGreaterEqual(JumpForward) 2 => 0 [raises];
    /// Add constant `c` to the top (`Constant c`, `Add`).
    AddConstant(Const) 1 => 1 [allocates raises];
    /// Subtract constant `c` from the top (`Constant c`, `Subtract`).
    SubtractConstant(Const) 1 => 1 [raises];
    /// Multiply the top by constant `c` (`Constant c`, `Multiply`).
    MultiplyConstant(Const) 1 => 1 [raises];
    /// Divide the top by constant `c` (`Constant c`, `Divide`).
    DivideConstant(Const) 1 => 1 [raises];
}

impl Op {
    /// The superinstruction doing `self` then `next`, if there is one.
    pub fn fused_with(self, next: Op) -> Option<Op> {
        Some(match (self, next) {
            (Op::SetLocal, Op::Pop) => Op::StoreLocal,
            (Op::SetGlobal, Op::Pop) => Op::StoreGlobal,
            (Op::SetUpvalue, Op::Pop) => Op::StoreUpvalue,
            (Op::SetProperty, Op::Pop) => Op::StoreProperty,
            (Op::Less, Op::PopJumpIfFalse) => Op::JumpIfNotLess,
            (Op::LessEqual, Op::PopJumpIfFalse) => Op::JumpIfNotLessEqual,
            (Op::Greater, Op::PopJumpIfFalse) => Op::JumpIfNotGreater,
            (Op::GreaterEqual, Op::PopJumpIfFalse) => Op::JumpIfNotGreaterEqual,
            (Op::Constant, Op::Add) => Op::AddConstant,
            (Op::Constant, Op::Subtract) => Op::SubtractConstant,
            (Op::Constant, Op::Multiply) => Op::MultiplyConstant,
            (Op::Constant, Op::Divide) => Op::DivideConstant,
            _ => return None,
        })
    }
}

impl Op {
    /// Whether control never goes on to the next instruction: an
    /// unconditional jump or a return. Code right after one is reached only
    /// by a jump.
    pub fn ends_flow(self) -> bool {
        matches!(self, Op::Jump | Op::Loop | Op::Return | Op::ReturnThis)
    }

    /// The opcode encoded as `byte`, if any.
    #[inline]
    pub fn from_byte(byte: u8) -> Option<Op> {
        OPCODES.get(byte as usize).map(|info| info.op)
    }

    #[inline]
    pub fn info(self) -> &'static OpInfo {
        &OPCODES[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// Encoded size: the opcode byte plus its operands.
    pub fn size(self) -> usize {
        1 + self.info().operands.iter().map(|k| k.width()).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_are_in_opcode_order() {
        for (index, info) in OPCODES.iter().enumerate() {
            assert_eq!(info.op as usize, index, "{}", info.name);
            assert_eq!(Op::from_byte(index as u8), Some(info.op));
            assert!(!info.doc.is_empty(), "{} has no doc", info.name);
        }
        assert_eq!(Op::from_byte(OPCODES.len() as u8), None);
    }

    #[test]
    fn a_superinstruction_has_its_pair_s_operands_and_stack_effect() {
        for first in OPCODES {
            for second in OPCODES {
                let Some(fused) = first.op.fused_with(second.op) else { continue };
                let fused = fused.info();
                let operands: Vec<_> =
                    first.operands.iter().chain(second.operands).copied().collect();
                assert_eq!(fused.operands, &operands[..], "{}", fused.name);
                // Net effect of the pair (neither pops arguments).
                let depth = |pops: u8, pushes: u8| i32::from(pushes) - i32::from(pops);
                assert_eq!(
                    depth(fused.effect.pops, fused.effect.pushes),
                    depth(first.effect.pops, first.effect.pushes)
                        + depth(second.effect.pops, second.effect.pushes),
                    "{}",
                    fused.name
                );
            }
        }
    }

    #[test]
    fn a_superinstruction_may_do_what_its_pair_may_do_and_no_more() {
        for first in OPCODES {
            for second in OPCODES {
                let Some(fused) = first.op.fused_with(second.op) else { continue };
                let (a, b) = (first.effects, second.effects);
                let union = Effects {
                    allocates: a.allocates || b.allocates,
                    raises: a.raises || b.raises,
                    calls: a.calls || b.calls,
                };
                // `Constant` then `Add` may concatenate strings, so
                // `AddConstant` allocates although `Constant` does not.
                assert_eq!(fused.info().effects, union, "{}", fused.info().name);
            }
        }
    }

    #[test]
    fn what_runs_lox_code_may_also_allocate_and_raise() {
        for info in OPCODES {
            if info.effects.calls {
                assert!(info.effects.allocates && info.effects.raises, "{}", info.name);
            }
        }
    }

    #[test]
    fn only_calls_pop_their_arguments() {
        for info in OPCODES {
            let has_argc = info.operands.contains(&OperandKind::Argc);
            assert_eq!(info.effect.pops_args, has_argc, "{}", info.name);
        }
    }
}
