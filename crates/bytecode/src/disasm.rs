//! The bytecode listing, like `javap -c` or Python's `dis`: per function,
//! each instruction's offset, source line, opcode, operand and what the
//! operand refers to. It is also the format of the compiler's snapshot tests.

use std::fmt::Write;

use crate::chunk::{Constant, Function, FunctionKind, Module};
use crate::decode::instructions;
use crate::opcode::{OPCODES, OperandKind};

/// The widest opcode name, so that operands line up.
const NAME_WIDTH: usize = {
    let mut widest = 0;
    let mut index = 0;
    while index < OPCODES.len() {
        if OPCODES[index].name.len() > widest {
            widest = OPCODES[index].name.len();
        }
        index += 1;
    }
    widest
};

/// The whole module, script first, then functions in index order.
pub fn disassemble(module: &Module) -> String {
    let mut out = String::new();
    let script = module.script as usize;
    let order = std::iter::once(script).chain((0..module.functions.len()).filter(|&i| i != script));
    for (n, index) in order.enumerate() {
        if n > 0 {
            out.push('\n');
        }
        if let Some(function) = module.functions.get(index) {
            disassemble_function(&mut out, module, index, function);
        }
    }
    out
}

fn disassemble_function(out: &mut String, module: &Module, index: usize, function: &Function) {
    let name = function.name.as_deref().unwrap_or("<script>");
    let kind = match function.kind {
        FunctionKind::Script => "script",
        FunctionKind::Function => "function",
        FunctionKind::Method => "method",
        FunctionKind::Initializer => "initializer",
    };
    let _ = writeln!(
        out,
        "== {name} (#{index}, {kind}, arity {}, {} captured, max stack {}) ==",
        function.arity,
        function.captures.len(),
        function.max_stack
    );
    if !function.captures.is_empty() {
        // Where each upvalue comes from, and whether the closure holds the
        // variable's value (`GetCaptured`) or its upvalue.
        let captures: Vec<String> = function
            .captures
            .iter()
            .map(|c| {
                let from = if c.is_local { "local" } else { "upvalue" };
                let held = if c.by_value { "value" } else { "reference" };
                format!("{from} {} by {held}", c.index)
            })
            .collect();
        let _ = writeln!(out, "     captures: {}", captures.join(", "));
    }
    let chunk = &function.chunk;
    let mut last_line = None;
    for instruction in instructions(&chunk.code) {
        let instruction = match instruction {
            Ok(instruction) => instruction,
            Err(error) => {
                let _ = writeln!(out, "     !! {error}");
                return;
            }
        };
        let line = chunk.line_at(instruction.offset);
        let line_text =
            if last_line == Some(line) { "   |".to_string() } else { format!("{line:4}") };
        last_line = Some(line);
        let _ = write!(out, "{:04} {line_text} {}", instruction.offset, instruction.op.name());
        if let Some(kind) = instruction.op.info().operands.first() {
            let pad = NAME_WIDTH - instruction.op.name().len();
            let _ = write!(out, "{:pad$} {:>4}", "", instruction.operand);
            let note = match kind {
                OperandKind::Const => match chunk.constants.get(instruction.operand as usize) {
                    Some(Constant::Number(n)) => format!("{n:?}"),
                    Some(Constant::String(s)) => format!("{s:?}"),
                    None => "<out of range>".to_string(),
                },
                OperandKind::Site => chunk
                    .sites
                    .get(instruction.operand as usize)
                    .and_then(|&constant| chunk.constants.get(constant as usize))
                    .map_or("<out of range>".to_string(), |constant| match constant {
                        Constant::String(s) => format!("{s:?}"),
                        Constant::Number(n) => format!("{n:?}"),
                    }),
                OperandKind::Global => module
                    .globals
                    .get(instruction.operand as usize)
                    .map_or("<out of range>".to_string(), |name| name.clone()),
                OperandKind::Function => module
                    .functions
                    .get(instruction.operand as usize)
                    .map_or("<out of range>".to_string(), |f| {
                        format!("<fn {}>", f.name.as_deref().unwrap_or("<script>"))
                    }),
                OperandKind::JumpForward | OperandKind::JumpBack => instruction
                    .jump_target()
                    .map_or("<out of range>".to_string(), |t| format!("-> {t:04}")),
                OperandKind::Slot | OperandKind::Upvalue | OperandKind::Argc => String::new(),
            };
            if !note.is_empty() {
                let _ = write!(out, "  ; {note}");
            }
        }
        out.push('\n');
    }
}
