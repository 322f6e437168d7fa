//! The runtime library of the executables `strata build` makes
//! (`libstrata_rt.a`): the shared runtime and collector, the VM for every
//! function that was not compiled, and [`strata_rt_main`], which the
//! executable's `main` calls.
//!
//! An executable holds its program twice: as machine code, one function per
//! bytecode function that `codegen` lowered (the same lowering as the
//! JIT's, with no speculation), and as the verified bytecode module itself.
//! The bytecode is what the VM loads: it makes the runtime objects
//! (functions, interned constants, inline caches) the machine code works
//! on, and runs whatever was not compiled. Each function's machine code is
//! installed in its entry cell, so calls reach it as they reach JIT code.
//!
//! The process behaves as `strata run FILE` does: the same output, the
//! same diagnostics and the same exit codes (`host`). The collector can be
//! watched as under `strata run`, through the environment:
//! `STRATA_GC=stress`, `STRATA_GC=log`, or both, `STRATA_GC=stress,log`
//! (the way Go's `GODEBUG=gctrace=1` works).

use std::io::{self, Write};

use host::{Output, WriteFailure, exit};
use runtime::abi::CompiledEntry;
use runtime::{ErrorKind, GcConfig, HeapOptions, Interrupt};

/// The symbol of [`strata_rt_main`], which an executable's `main` calls.
pub const MAIN_SYMBOL: &str = "strata_rt_main";

/// Run the program of an executable and return its exit code: `program` is
/// its bytecode file (`.loxc` bytes, globals numbered as `strata build`
/// numbered them: the natives first), `code` its machine code, one entry
/// per function of the module, null where a function was not compiled.
///
/// # Safety
///
/// `program` points at `program_len` readable bytes and `code` at
/// `code_len` entries, both for the process's life (they are the
/// executable's data). Each non-null entry was compiled by `codegen` from
/// the function of the same index in that module, for this runtime's ABI.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strata_rt_main(
    program: *const u8,
    program_len: usize,
    code: *const Option<CompiledEntry>,
    code_len: usize,
) -> i32 {
    host::start();
    // SAFETY: the caller's promise: the executable's own data.
    let (program, code) = unsafe {
        (
            std::slice::from_raw_parts(program, program_len),
            std::slice::from_raw_parts(code, code_len),
        )
    };
    // A panic is a bug, but it must not unwind into the caller's `main`.
    match std::panic::catch_unwind(|| run(program, code)) {
        Ok(code) => i32::from(code),
        Err(_) => i32::from(exit::RUNTIME_ERROR),
    }
}

fn run(program: &[u8], code: &[Option<CompiledEntry>]) -> u8 {
    // `strata build` wrote and verified these bytes; they are checked again
    // (the verifier's facts are what the VM runs on), so a damaged
    // executable stops here rather than running unverified code.
    let module = match bytecode::read_module(program) {
        Ok(module) => module,
        Err(error) => return damaged(&error),
    };
    let facts = match bytecode::analyze(&module) {
        Ok(facts) => facts,
        Err(error) => return damaged(&error),
    };
    if code.len() != module.functions.len() {
        return damaged(&"its machine code does not match its bytecode");
    }
    let failure = WriteFailure::default();
    let interrupt = Interrupt::new();
    let watch = Watch::from_env();
    let heap = HeapOptions {
        gc: GcConfig { stress: watch.stress, ..GcConfig::default() },
        gc_log: watch.log.then(|| host::gc_log(failure.clone(), interrupt.clone())),
        interrupt,
    };
    // The build numbered the natives' globals first, as every session does.
    let globals = module.globals.clone();
    let mut vm = vm::Vm::new(heap, |name| {
        globals.iter().position(|global| global == name).unwrap_or(globals.len()) as u32
    });
    let mut out = Output::stdout(failure);
    // SAFETY: the caller's promise: each entry was compiled from the
    // function of its index in this module.
    let result = unsafe { vm.run_precompiled(module, facts, code, &mut out) };
    let flushed = out.flush();
    let code = match result {
        Ok(()) if flushed.is_err() => exit::IO_ERROR,
        Ok(()) => exit::OK,
        Err(error) if error.kind == ErrorKind::Output => exit::IO_ERROR,
        Err(error) => {
            let mut err = io::stderr().lock();
            let _ = write!(err, "{error}");
            let _ = err.flush();
            exit::RUNTIME_ERROR
        }
    };
    out.finish(code)
}

/// The executable's program cannot be run: its data was damaged after the
/// build (exit 65, as for a bytecode file that does not verify).
fn damaged(why: &dyn std::fmt::Display) -> u8 {
    host::complain!("this executable's program is damaged: {why}");
    exit::COMPILE_ERROR
}

/// How the collector is watched (`STRATA_GC`).
#[derive(Debug, Default, PartialEq, Eq)]
struct Watch {
    /// Collect at every allocation (`--gc-stress`).
    stress: bool,
    /// One line per collection on stderr (`--gc-log`).
    log: bool,
}

impl Watch {
    fn from_env() -> Watch {
        std::env::var("STRATA_GC").map(|value| Watch::parse(&value)).unwrap_or_default()
    }

    /// Comma-separated words; unknown ones are ignored, as an environment
    /// variable meant for another version may hold them.
    fn parse(value: &str) -> Watch {
        let mut watch = Watch::default();
        for word in value.split(',').map(str::trim) {
            match word {
                "stress" => watch.stress = true,
                "log" => watch.log = true,
                _ => {}
            }
        }
        watch
    }
}

#[cfg(test)]
mod tests {
    use super::Watch;

    #[test]
    fn strata_gc_names_what_to_watch() {
        assert_eq!(Watch::parse(""), Watch::default());
        assert_eq!(Watch::parse("stress"), Watch { stress: true, log: false });
        assert_eq!(Watch::parse("log, stress"), Watch { stress: true, log: true });
        assert_eq!(Watch::parse("gctrace=1,log"), Watch { stress: false, log: true });
    }
}
