//! Which opcodes the code generator lowers, decided for every row of the
//! opcode table (DESIGN.md invariant 5): the match below lists each opcode,
//! so adding one to the table does not compile until it has a decision.
//!
//! An opcode that is not lowered yet keeps any function using it in the
//! interpreter, with the reason given here; it never makes a program fail.

use bytecode::Op;

/// What the code generator does with an opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lowering {
    /// Lowered to machine code (inline, or through a runtime helper).
    Lowered,
    /// Not lowered yet: a function using it stays in the interpreter.
    Interpreted(&'static str),
}

/// The decision for `op`.
pub fn lowering(op: Op) -> Lowering {
    use Lowering::{Interpreted, Lowered};
    const PROPERTIES: &str = "property access through inline caches is not lowered yet";
    const CLASSES: &str = "class declarations are not lowered yet";
    const CLOSURES: &str = "making closures and closing upvalues is not lowered yet";
    match op {
        Op::Constant
        | Op::Nil
        | Op::True
        | Op::False
        | Op::Pop
        | Op::GetLocal
        | Op::SetLocal
        | Op::StoreLocal
        | Op::GetGlobal
        | Op::DefineGlobal
        | Op::SetGlobal
        | Op::StoreGlobal
        | Op::GetUpvalue
        | Op::SetUpvalue
        | Op::StoreUpvalue
        | Op::Equal
        | Op::NotEqual
        | Op::Greater
        | Op::GreaterEqual
        | Op::Less
        | Op::LessEqual
        | Op::Add
        | Op::Subtract
        | Op::Multiply
        | Op::Divide
        | Op::AddConstant
        | Op::SubtractConstant
        | Op::MultiplyConstant
        | Op::DivideConstant
        | Op::Not
        | Op::Negate
        | Op::Print
        | Op::Jump
        | Op::JumpIfFalse
        | Op::PopJumpIfFalse
        | Op::JumpIfNotLess
        | Op::JumpIfNotLessEqual
        | Op::JumpIfNotGreater
        | Op::JumpIfNotGreaterEqual
        | Op::Loop
        | Op::Call
        | Op::CallMethod
        | Op::Return
        | Op::ReturnThis => Lowered,
        Op::GetProperty
        | Op::SetProperty
        | Op::StoreProperty
        | Op::Method
        | Op::GetSuper
        | Op::SuperMethod => Interpreted(PROPERTIES),
        Op::Class | Op::Inherit | Op::DefineMethod => Interpreted(CLASSES),
        Op::Closure | Op::CloseUpvalue => Interpreted(CLOSURES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_opcode_has_a_decision_with_a_reason() {
        for info in bytecode::OPCODES {
            if let Lowering::Interpreted(reason) = lowering(info.op) {
                assert!(!reason.is_empty(), "{} has no reason", info.name);
            }
        }
    }
}
