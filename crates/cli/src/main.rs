//! `strata`: the command line. The only crate that reads user files, talks
//! to the terminal on its own account, and turns outcomes into exit codes
//! (DESIGN.md invariant 9).

// The entry point is `main` below, a C `main` (but for the unit tests,
// which get the test harness's).
#![cfg_attr(not(test), no_main)]

/// Write `strata: MESSAGE` on stderr, as one line (`host::complain!`).
macro_rules! complain {
    ($($arg:tt)*) => {
        host::complain!($($arg)*)
    };
}

mod args;
mod bench;
mod build;
mod compile;
mod input;
mod program;
mod repl;
mod stats;

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use driver::{
    DiagnosticStyle, GcConfig, Interrupt, JitConfig, Listing, ListingError, ListingOptions,
    Options, Outcome,
};

// Exit codes, program output and its failures: shared with the
// executables `strata build` makes.
use host as output;
use host::{describe, exit};

use crate::args::{Command, RunArgs};
use crate::output::{Output, WriteFailure};
use crate::program::Program;

/// The process's entry: a C `main`, so that Rust's start-up code, which
/// `strata` does not need and which costs `strata hello.lox` a tenth of its
/// memory, does not run (`host::start` says what it would do, and does
/// what of it matters). Arguments are read with `std::env::args_os` as
/// usual: the standard library collects them before `main` on this
/// platform.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    host::start();
    std::ffi::c_int::from(run_command())
}

#[cfg_attr(test, allow(dead_code))]
fn run_command() -> u8 {
    let command = match args::parse() {
        Ok(command) => command,
        Err(code) => return code,
    };
    match command {
        Command::Run(run) => run_file(&run),
        Command::Disasm { file, jit } => disasm_file(&file, jit),
        Command::Compile { file, output } => compile::compile_file(&file, &output),
        Command::Build(build) => build::build_file(&build),
        Command::Bench(bench) => bench::bench_files(&bench),
        Command::Repl(run) => repl::run(&run),
    }
}

/// The driver options a `run` asks for. Output failures of the GC log are
/// recorded in `failure`.
pub(crate) fn options(run: &RunArgs, file_name: &str, failure: &WriteFailure) -> Options {
    let interrupt = Interrupt::new();
    let gc_log = run.gc_log.then(|| output::gc_log(failure.clone(), interrupt.clone()));
    Options {
        engine: run.engine,
        gc: GcConfig { stress: run.gc_stress, max_heap: run.max_heap, ..GcConfig::default() },
        gc_log,
        interrupt: Some(interrupt),
        diagnostics: diagnostic_style(Path::new(file_name)),
        jit: JitConfig {
            threshold: run.jit_threshold,
            trace: run.trace_jit || run.trace_jit_ir,
            trace_ir: run.trace_jit_ir,
            perf_map: run.perf_map,
            stress_deopt: run.jit_stress_deopt,
            ..JitConfig::default()
        },
    }
}

fn exit_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Success => exit::OK,
        Outcome::CompileError => exit::COMPILE_ERROR,
        Outcome::RuntimeError => exit::RUNTIME_ERROR,
        Outcome::OutputError => exit::IO_ERROR,
    }
}

fn run_file(run: &RunArgs) -> u8 {
    let path = run.file.as_deref().expect("`run` always has a file");
    let Some(program) = read_program(path) else { return exit::IO_ERROR };
    let failure = WriteFailure::default();
    let options = options(run, &display_name(path), &failure);
    let mut out = Output::stdout(failure);
    let mut err = io::stderr().lock();
    let mut session = driver::Session::new(options);
    let code = match program {
        Program::Source(source) => exit_code(match run.iterations {
            Some(times) => session.eval_repeatedly(&source, times, &mut out, &mut err),
            None => session.eval(&source, &mut out, &mut err),
        }),
        Program::Bytecode(bytes, why) => match match run.iterations {
            Some(times) => session.run_bytecode_repeatedly(&bytes, times, &mut out, &mut err),
            None => session.run_bytecode(&bytes, &mut out, &mut err),
        } {
            Ok(outcome) => exit_code(outcome),
            Err(error) => {
                let hint = program::load_error_hint(&error, why);
                complain!("cannot run '{}': {error}{hint}", path.display());
                match error {
                    driver::LoadError::WrongEngine(_) => exit::USAGE,
                    _ => exit::COMPILE_ERROR,
                }
            }
        },
    };
    let code = out.finish(code);
    if let Some(format) = &run.stats {
        let stats = session.stats();
        let report = if format == "json" { stats::json(&stats) } else { stats::text(&stats) };
        // A diagnostic, like the trace: failing to write it changes nothing.
        let _ = err.write_all(report.as_bytes());
    }
    code
}

/// The file's bytes, classified, or `None` after saying why they cannot be
/// read.
pub(crate) fn read_program(path: &Path) -> Option<Program> {
    match input::read_file(path) {
        Ok(bytes) => Some(Program::classify(path, bytes)),
        Err(error) => {
            complain!("cannot read '{}': {error}", path.display());
            None
        }
    }
}

pub(crate) fn diagnostic_style(path: &Path) -> DiagnosticStyle {
    if io::stderr().is_terminal() {
        DiagnosticStyle::Excerpt { file_name: display_name(path) }
    } else {
        DiagnosticStyle::Plain
    }
}

fn disasm_file(path: &Path, jit: bool) -> u8 {
    let Some(program) = read_program(path) else { return exit::IO_ERROR };
    let listing = if jit {
        Listing::Jit(ListingOptions { ir: true, machine_code: true })
    } else {
        Listing::Bytecode
    };
    let result = match &program {
        Program::Source(source) => {
            let style = diagnostic_style(path);
            driver::disassemble(source, &style, &mut io::stderr().lock(), listing)
        }
        Program::Bytecode(bytes, _) => driver::disassemble_bytecode(bytes, listing),
    };
    let listing = match result {
        Ok(listing) => listing,
        Err(ListingError::Compile) => return exit::COMPILE_ERROR,
        Err(ListingError::Load(error)) => {
            let Program::Bytecode(_, why) = program else { unreachable!("only files load") };
            let hint = program::load_error_hint(&error, why);
            complain!("cannot disassemble '{}': {error}{hint}", path.display());
            return exit::COMPILE_ERROR;
        }
        Err(ListingError::NoMachineCode(why)) => {
            complain!("no machine code on this host: {why}");
            return exit::RUNTIME_ERROR;
        }
    };
    let mut out = Output::stdout(WriteFailure::default());
    let _ = out.write_all(listing.as_bytes()); // A failure is recorded in `out`.
    out.finish(exit::OK)
}

fn display_name(path: &Path) -> String {
    path.display().to_string()
}
