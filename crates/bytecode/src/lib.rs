//! Strata's bytecode: the opcode table, compiled code as plain data, the
//! checked decoder, the verifier, the `.loxc` file format, relocation and
//! the disassembler.
//!
//! Everything here is plain data and pure functions: no heap, no runtime
//! (DESIGN.md invariant 4), and every instruction's shape comes from the one
//! table in `opcode.rs` (invariant 5).

mod chunk;
mod decode;
mod disasm;
mod file;
mod opcode;
mod relocate;
mod verify;

pub use chunk::{Capture, Chunk, Constant, Function, FunctionKind, LineRun, Module};
pub use decode::{DecodeError, Instruction, decode, instructions};
pub use disasm::disassemble;
pub use file::{FORMAT_VERSION, FileError, MAGIC, TooLarge, read_module, write_module};
pub use opcode::{Effects, OPCODES, Op, OpInfo, OperandKind, StackEffect};
pub use relocate::relocate_globals;
pub use verify::{Facts, FunctionFacts, MAX_FRAME_SLOTS, VerifyError, analyze, verify};

/// `docs/bytecode.md`'s instruction reference, generated from the table.
pub fn opcode_reference() -> String {
    let mut out = String::from(
        "# Bytecode reference\n\n\
         Generated from the opcode table in `crates/bytecode/src/opcode.rs` by\n\
         `bytecode::opcode_reference()`; a test fails if this file is stale\n\
         (regenerate with `UPDATE_DOCS=1 cargo test --release -p bytecode`).\n\n\
         Encoding: one opcode byte, then the operand little-endian: `u8` for\n\
         slots, upvalue indices and argument counts, `u32` for constant,\n\
         global and function indices and jump distances (measured from the end\n\
         of the instruction). Stack effects are *pops -> pushes*; `+n` means\n\
         the argument count is popped too. The last three columns say what\n\
         else an instruction may do: allocate (and so collect, or raise\n\
         `Out of memory.`), raise a runtime error, or call Lox code. A code\n\
         generator writes its frame back before such an instruction (a\n\
         *safepoint*) and calls no runtime helper for one that does none.\n\n\
         | opcode | byte | operand | stack | alloc | raise | call | meaning |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for info in OPCODES {
        let operand = info.operands.first().map_or(String::new(), |k| format!("{k:?}"));
        let args = if info.effect.pops_args { " + n" } else { "" };
        let mark = |yes: bool| if yes { "yes" } else { "" };
        out.push_str(&format!(
            "| `{}` | {} | {} | {}{} -> {} | {} | {} | {} | {} |\n",
            info.name,
            info.op as u8,
            operand,
            info.effect.pops,
            args,
            info.effect.pushes,
            mark(info.effects.allocates),
            mark(info.effects.raises),
            mark(info.effects.calls),
            info.doc.trim()
        ));
    }
    out
}
