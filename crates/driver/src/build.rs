//! `strata build`'s front half: a program, source or bytecode file, to the
//! object file of a standalone executable (`aot`). Writing the files and
//! linking them is the caller's ([`crate::link`]), as the driver touches no
//! file system.

use std::io::Write;

use crate::diagnostics::DiagnosticStyle;
use crate::session::{
    LoadError, compile_verified, front_end_alone, front_end_with_natives, load_verified,
    on_engine_stack, relocate_into,
};

/// A program to build.
#[derive(Debug, Clone, Copy)]
pub enum BuildInput<'a> {
    /// Lox source.
    Source(&'a [u8]),
    /// A bytecode file's bytes (`.loxc`), verified before it is compiled.
    Bytecode(&'a [u8]),
}

/// Why a program could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// It does not compile; the diagnostics are written.
    Compile,
    /// The bytecode file does not load or verify.
    Load(LoadError),
    /// No object file could be made.
    Object(aot::BuildError),
}

/// Compile `input` to an object file for an executable: every function the
/// code generator lowers as machine code, the rest as bytecode for the
/// executable's VM. Compile errors are written to `err` as `strata run`
/// writes them. With `want_clif`, the result carries the Cranelift IR.
pub fn build(
    input: BuildInput<'_>,
    style: &DiagnosticStyle,
    want_clif: bool,
    err: &mut dyn Write,
) -> Result<aot::Built, BuildError> {
    // Globals are numbered as every session numbers them, the natives
    // first: the executable's runtime defines them in those slots.
    let (module, facts) = match input {
        BuildInput::Source(source) => on_engine_stack(|| {
            let (program, front) = front_end_alone(source, style, err)?;
            Some(compile_verified(&program, &front))
        })
        .ok_or(BuildError::Compile)?,
        BuildInput::Bytecode(bytes) => {
            let (mut module, facts) = load_verified(bytes).map_err(BuildError::Load)?;
            relocate_into(&mut module, &mut front_end_with_natives());
            (module, facts)
        }
    };
    aot::compile(&module, &facts, want_clif).map_err(BuildError::Object)
}
