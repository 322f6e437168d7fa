//! `strata disasm`: what a program compiles to, as bytecode or as the JIT's
//! IR and machine code, from source or from a verified `.loxc` file.

use std::io::Write;

use bytecode::{Facts, Module};
use resolve::FrontEnd;
use runtime::HeapOptions;

use crate::diagnostics::DiagnosticStyle;
use crate::session::{
    LoadError, compile_verified, front_end_alone, front_end_with_natives, load_verified,
    on_engine_stack, relocate_into,
};

/// What a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// The bytecode (`strata disasm`).
    Bytecode,
    /// What the JIT makes of every function: its Cranelift IR and machine
    /// code, as each is compiled at its entry (`strata disasm --jit`).
    Jit(jit::ListingOptions),
}

/// Why there is no listing.
#[derive(Debug)]
pub enum ListingError {
    /// The source does not compile; the diagnostics went to `err`.
    Compile,
    /// The bytecode file does not load or verify.
    Load(LoadError),
    /// Cranelift cannot make code for this host.
    NoMachineCode(String),
}

/// The listing of `source`; compile errors go to `err`.
pub fn disassemble(
    source: &[u8],
    style: &DiagnosticStyle,
    err: &mut dyn Write,
    listing: Listing,
) -> Result<String, ListingError> {
    on_engine_stack(|| {
        let (program, mut front) =
            front_end_alone(source, style, err).ok_or(ListingError::Compile)?;
        let (module, facts) = compile_verified(&program, &front);
        list(module, facts, &mut front, listing)
    })
}

/// The listing of a `.loxc` file's bytes: loaded and verified first, so
/// only code that could run is listed.
pub fn disassemble_bytecode(bytes: &[u8], listing: Listing) -> Result<String, ListingError> {
    let (mut module, facts) = load_verified(bytes).map_err(ListingError::Load)?;
    // Global slots as a run would number them: natives first.
    let mut front = front_end_with_natives();
    if let Listing::Jit(_) = listing {
        relocate_into(&mut module, &mut front);
    }
    on_engine_stack(|| list(module, facts, &mut front, listing))
}

fn list(
    module: Module,
    facts: Facts,
    front: &mut FrontEnd,
    listing: Listing,
) -> Result<String, ListingError> {
    match listing {
        Listing::Bytecode => Ok(bytecode::disassemble(&module)),
        Listing::Jit(options) => {
            // Loaded as a run would load it (constants interned, function
            // objects made), but not run.
            let mut vm = vm::Vm::new(HeapOptions::default(), |name| front.global_slot(name));
            let functions = vm.load_module(module, facts);
            jit::listing(&functions, options).map_err(ListingError::NoMachineCode)
        }
    }
}
