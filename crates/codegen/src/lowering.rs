//! Which opcodes the code generator lowers, decided for every row of the
//! opcode table (DESIGN.md invariant 5): the match below lists each opcode,
//! so adding one to the table does not compile until it has a decision.
//!
//! Every opcode is lowered: inline (with helpers for rare paths), or as a
//! call of the `step` helper, which runs that one instruction with the VM's
//! own code on the written-back frame. Stepping suits instructions that are
//! slow paths anyway (class declarations) or whose inline fast paths are
//! still to come (`super`); it also serves as the slow path of the property
//! instructions, whose inline-cache hits are inline. It cannot serve an
//! instruction that calls or returns, which changes frames.

use bytecode::Op;

/// What the code generator does with an opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lowering {
    /// Lowered to machine code (inline, or through a runtime helper).
    Lowered,
    /// Run by the `step` helper, for the reason given.
    Stepped(&'static str),
}

/// The decision for `op`.
pub fn lowering(op: Op) -> Lowering {
    use Lowering::{Lowered, Stepped};
    const SUPER: &str = "binding a super method allocates: a slow path";
    const CLASSES: &str = "declaring a class is a slow path";
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
        | Op::GetCaptured
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
        | Op::ReturnThis
        | Op::GetProperty
        | Op::SetProperty
        | Op::StoreProperty
        | Op::Method
        | Op::SuperMethod
        | Op::Closure
        | Op::CloseUpvalue => Lowered,
        Op::GetSuper => Stepped(SUPER),
        Op::Class | Op::Inherit | Op::DefineMethod => Stepped(CLASSES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stepped_opcodes_have_reasons_and_stay_in_their_frame() {
        for info in bytecode::OPCODES {
            if let Lowering::Stepped(reason) = lowering(info.op) {
                assert!(!reason.is_empty(), "{} has no reason", info.name);
                assert!(
                    !matches!(info.op, Op::Call | Op::CallMethod | Op::Return | Op::ReturnThis),
                    "{} changes frames: the step helper cannot run it",
                    info.name
                );
            }
        }
    }
}
