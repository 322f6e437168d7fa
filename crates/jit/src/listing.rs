//! `strata disasm --jit`: what the JIT makes of each function of a program,
//! without running it: the Cranelift IR the lowering builds (each
//! instruction tagged `@offset` with the bytecode instruction it came from)
//! and the machine code Cranelift makes of it, disassembled with `iced-x86`
//! and annotated with the same bytecode offsets.
//!
//! Every function is compiled at its entry, as `--jit-threshold 0` would
//! compile it at its first call; loops compiled for on-stack replacement
//! differ only in their entry block.

use std::fmt::Write;

use vm::FunctionCode;

use crate::backend::Backend;

/// What a listing shows of each function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingOptions {
    /// The Cranelift IR, before Cranelift's own optimizations.
    pub ir: bool,
    /// The machine code.
    pub machine_code: bool,
}

/// The listing of `functions` (the script first, as `strata disasm`
/// orders them), or why no machine code can be made on this host.
pub fn listing(functions: &[FunctionCode<'_>], options: ListingOptions) -> Result<String, String> {
    let mut backend = Backend::new()?;
    let mut out = String::new();
    let script = functions.iter().position(|f| f.function.name.is_none()).unwrap_or(0);
    let order = std::iter::once(script).chain((0..functions.len()).filter(|&i| i != script));
    for (n, index) in order.enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let function = &functions[index];
        let name = function.function.name.as_deref().unwrap_or("<script>");
        let bytecode_bytes = function.function.chunk.code.len();
        match backend.compile(function, options.ir, false) {
            Ok((entry, compiled)) => {
                let _ = writeln!(
                    out,
                    "== {name} (#{index}: {bytecode_bytes} bytes of bytecode, {} of {} machine code) ==",
                    compiled.code_size,
                    backend.isa_name()
                );
                if let Some(ir) = &compiled.ir {
                    out.push_str(ir);
                }
                if options.machine_code {
                    if options.ir {
                        out.push('\n');
                    }
                    // SAFETY: `entry` is the start of the function's code,
                    // finalized (mapped readable and executable) and
                    // `code_size` bytes long; `backend`, which owns that
                    // memory, lives until the end of this function.
                    let code = unsafe {
                        std::slice::from_raw_parts(entry as *const u8, compiled.code_size as usize)
                    };
                    machine_code(&mut out, code, &compiled.origins, function);
                }
            }
            Err(why) => {
                let _ = writeln!(
                    out,
                    "== {name} (#{index}: {bytecode_bytes} bytes of bytecode) ==\n\
                     stays in the VM: {why}"
                );
            }
        }
    }
    Ok(out)
}

/// Write `code` as assembly, one instruction a line, with each bytecode
/// instruction's name before the machine code made for it.
#[cfg(target_arch = "x86_64")]
fn machine_code(out: &mut String, code: &[u8], origins: &[(u32, u32, u32)], f: &FunctionCode<'_>) {
    use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter, Mnemonic};

    // Addresses are shown from the function's start, as offsets are.
    let mut decoder = Decoder::with_ip(64, code, 0, DecoderOptions::NONE);
    let instructions: Vec<_> =
        std::iter::from_fn(|| decoder.can_decode().then(|| decoder.decode())).collect();
    // Cranelift puts the function's constants after its code: the code
    // ends with its last return or jump.
    let code_end = instructions
        .iter()
        .rposition(|i| matches!(i.mnemonic(), Mnemonic::Ret | Mnemonic::Jmp))
        .map_or(instructions.len(), |last| last + 1);
    let mut formatter = IntelFormatter::with_options(Some(Box::new(HelperNames)), None);
    let options = formatter.options_mut();
    options.set_first_operand_char_index(8);
    options.set_space_after_operand_separator(true);
    options.set_branch_leading_zeros(false);
    let mut text = String::new();
    let mut origin = None;
    for instruction in &instructions[..code_end] {
        let offset = instruction.ip() as u32;
        let here = origins
            .iter()
            .find(|&&(from, to, _)| (from..to).contains(&offset))
            .map(|&(_, _, bytecode)| bytecode);
        if here != origin {
            origin = here;
            // (A listing inlines nothing: every location is an offset of
            // the function listed, below `codegen::INLINED_SHIFT`.)
            if let Some(bytecode) = here.filter(|&bits| bits >> codegen::INLINED_SHIFT == 0) {
                let op = opcode_at(f, bytecode as usize);
                let _ = writeln!(out, "                ; {bytecode:04} {op}");
            }
        }
        text.clear();
        formatter.format(instruction, &mut text);
        let bytes = &code[offset as usize..offset as usize + instruction.len()];
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        let _ = writeln!(out, "  {offset:04x}  {hex:<22} {text}");
    }
    let constants = instructions.get(code_end).map_or(code.len(), |i| i.ip() as usize);
    if constants < code.len() {
        let _ = writeln!(out, "  ; constants");
        hex_rows(out, &code[constants..], constants);
    }
}

/// `bytes` in rows of 16, each row marked with its offset (`first` for the
/// first byte).
fn hex_rows(out: &mut String, bytes: &[u8], first: usize) {
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|byte| format!("{byte:02x}")).collect();
        let _ = writeln!(out, "  {:04x}  {}", first + row * 16, hex.join(" "));
    }
}

/// On other hosts, the machine code as bytes.
#[cfg(not(target_arch = "x86_64"))]
fn machine_code(out: &mut String, code: &[u8], _: &[(u32, u32, u32)], _: &FunctionCode<'_>) {
    out.push_str("  ; no disassembler for this instruction set; the code's bytes:\n");
    hex_rows(out, code, 0);
}

/// The name of the bytecode instruction at `offset` of `f`.
fn opcode_at(f: &FunctionCode<'_>, offset: usize) -> &'static str {
    f.function
        .chunk
        .code
        .get(offset)
        .and_then(|&byte| bytecode::Op::from_byte(byte))
        .map_or("?", bytecode::Op::name)
}

/// Names the runtime helpers where the code loads their addresses.
#[cfg(target_arch = "x86_64")]
struct HelperNames;

#[cfg(target_arch = "x86_64")]
impl iced_x86::SymbolResolver for HelperNames {
    fn symbol(
        &mut self,
        _instruction: &iced_x86::Instruction,
        _operand: u32,
        _instruction_operand: Option<u32>,
        address: u64,
        _address_size: u32,
    ) -> Option<iced_x86::SymbolResult<'_>> {
        vm::HELPERS
            .iter()
            .find(|(_, helper)| helper.0 as u64 == address)
            .map(|(symbol, _)| iced_x86::SymbolResult::with_str(address, symbol))
    }
}
