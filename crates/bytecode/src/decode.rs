//! Reading instructions back from bytes, with every bound checked.
//!
//! The disassembler and the verifier decode with this; the VM decodes
//! unchecked, which is sound only for code the verifier accepted.

use std::fmt;

use crate::opcode::{Op, OperandKind};

/// One decoded instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instruction {
    pub offset: usize,
    pub op: Op,
    /// The instruction's operand (every opcode has at most one), or 0.
    pub operand: u32,
    /// Offset of the next instruction.
    pub next: usize,
}

impl Instruction {
    /// Where a jump lands, for jump instructions; `None` if it would leave
    /// the address space.
    pub fn jump_target(&self) -> Option<usize> {
        match self.op.info().operands.first()? {
            OperandKind::JumpForward => self.next.checked_add(self.operand as usize),
            OperandKind::JumpBack => self.next.checked_sub(self.operand as usize),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// There is no instruction at `offset`: it is at or past the end.
    OutOfRange {
        offset: usize,
    },
    UnknownOpcode {
        offset: usize,
        byte: u8,
    },
    Truncated {
        offset: usize,
        op: Op,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::OutOfRange { offset } => {
                write!(f, "offset {offset} is past the end of the code")
            }
            DecodeError::UnknownOpcode { offset, byte } => {
                write!(f, "unknown opcode {byte:#04x} at offset {offset}")
            }
            DecodeError::Truncated { offset, op } => {
                write!(f, "{} at offset {offset} is cut off by the end of the code", op.name())
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decode the instruction at `offset` of `code`.
pub fn decode(code: &[u8], offset: usize) -> Result<Instruction, DecodeError> {
    let &byte = code.get(offset).ok_or(DecodeError::OutOfRange { offset })?;
    let op = Op::from_byte(byte).ok_or(DecodeError::UnknownOpcode { offset, byte })?;
    let mut at = offset + 1;
    let mut operand = 0;
    for kind in op.info().operands {
        let bytes = code.get(at..at + kind.width()).ok_or(DecodeError::Truncated { offset, op })?;
        operand = match bytes {
            [b] => *b as u32,
            [a, b, c, d] => u32::from_le_bytes([*a, *b, *c, *d]),
            _ => unreachable!("operands are 1 or 4 bytes"),
        };
        at += kind.width();
    }
    Ok(Instruction { offset, op, operand, next: at })
}

/// Every instruction of `code`, in order, stopping at the first error.
pub fn instructions(code: &[u8]) -> impl Iterator<Item = Result<Instruction, DecodeError>> + '_ {
    let mut offset = 0;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || offset >= code.len() {
            return None;
        }
        let result = decode(code, offset);
        match &result {
            Ok(instruction) => offset = instruction.next,
            Err(_) => failed = true,
        }
        Some(result)
    })
}
