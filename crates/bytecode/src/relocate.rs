//! Moving a module's global slots into another numbering.
//!
//! A module names its global slots (`Module::globals`); a session that loads
//! it (a `.loxc` file compiled by another process) has its own numbering,
//! natives first. Relocation rewrites every global operand so the module's
//! slot `i` becomes the session's `map[i]`.

use crate::chunk::Module;
use crate::decode::instructions;
use crate::opcode::OperandKind;

/// Rewrite `module`'s global operands through `map` (indexed by the
/// module's slots), and its global table to `names` (the session's).
///
/// The module must have passed the verifier, so every global operand is
/// below `module.globals.len() == map.len()`.
pub fn relocate_globals(module: &mut Module, map: &[u32], names: Vec<String>) {
    debug_assert_eq!(map.len(), module.globals.len());
    for function in &mut module.functions {
        let code = &mut function.chunk.code;
        let sites: Vec<(usize, u32)> = instructions(code)
            .filter_map(Result::ok)
            .filter(|i| i.op.info().operands.first() == Some(&OperandKind::Global))
            .map(|i| (i.offset + 1, i.operand))
            .collect();
        for (at, slot) in sites {
            let new = map[slot as usize];
            code[at..at + 4].copy_from_slice(&new.to_le_bytes());
        }
    }
    module.globals = names;
}
