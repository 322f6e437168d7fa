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
//! (the way Go's `GODEBUG=gctrace=1` works). `STRATA_ITERATIONS=K` runs
//! the top level K times in the one process, as `strata run --iterations
//! K` does, and reports each run's time on stderr (`strata bench
//! --iterations` reads it).

use std::io::{self, Write};
use std::time::{Duration, Instant};

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
    let watch = match Watch::from_env() {
        Ok(watch) => watch,
        Err(why) => {
            host::complain!("{why}");
            return exit::USAGE;
        }
    };
    let failure = WriteFailure::default();
    let interrupt = Interrupt::new();
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
    let script = unsafe { vm.load_precompiled(module, facts, code) };
    let mut times = Vec::new();
    let mut result = Ok(());
    for _ in 0..watch.iterations.unwrap_or(1) {
        let started = Instant::now();
        result = vm.run_script(script, &mut out);
        times.push(started.elapsed());
        if result.is_err() {
            break;
        }
    }
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
    if watch.iterations.is_some() {
        report_iterations(&times);
    }
    out.finish(code)
}

/// The time of each run of the top level, as the last line on stderr: one
/// JSON object, `{"iterations_ms":[MILLISECONDS,...]}`, the field `strata
/// run --iterations K --stats=json` reports them in.
fn report_iterations(times: &[Duration]) {
    let ms: Vec<String> =
        times.iter().map(|time| (time.as_secs_f64() * 1000.0).to_string()).collect();
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{{\"iterations_ms\":[{}]}}", ms.join(","));
    let _ = err.flush();
}

/// The executable's program cannot be run: its data was damaged after the
/// build (exit 65, as for a bytecode file that does not verify).
fn damaged(why: &dyn std::fmt::Display) -> u8 {
    host::complain!("this executable's program is damaged: {why}");
    exit::COMPILE_ERROR
}

/// How the run is watched, from the environment.
#[derive(Debug, Default, PartialEq, Eq)]
struct Watch {
    /// Collect at every allocation (`STRATA_GC=stress`, as `--gc-stress`).
    stress: bool,
    /// One line per collection on stderr (`STRATA_GC=log`, as `--gc-log`).
    log: bool,
    /// Run the top level this many times and report each run's time
    /// (`STRATA_ITERATIONS=K`, as `strata run --iterations K`).
    iterations: Option<u32>,
}

impl Watch {
    fn from_env() -> Result<Watch, String> {
        let mut watch =
            std::env::var("STRATA_GC").map(|value| Watch::parse(&value)).unwrap_or_default();
        if let Some(value) = std::env::var_os("STRATA_ITERATIONS") {
            let value = value.to_string_lossy();
            watch.iterations = Some(parse_iterations(&value).ok_or_else(|| {
                format!(
                    "STRATA_ITERATIONS must be a whole number from 1 to {}, not \"{value}\"",
                    host::MAX_ITERATIONS
                )
            })?);
        }
        Ok(watch)
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

fn parse_iterations(value: &str) -> Option<u32> {
    value.trim().parse().ok().filter(|k| (1..=host::MAX_ITERATIONS).contains(k))
}

#[cfg(test)]
mod tests {
    use super::{Watch, parse_iterations};

    #[test]
    fn strata_gc_names_what_to_watch() {
        assert_eq!(Watch::parse(""), Watch::default());
        assert_eq!(Watch::parse("stress"), Watch { stress: true, ..Watch::default() });
        assert_eq!(
            Watch::parse("log, stress"),
            Watch { stress: true, log: true, iterations: None }
        );
        assert_eq!(Watch::parse("gctrace=1,log"), Watch { log: true, ..Watch::default() });
    }

    #[test]
    fn strata_iterations_is_a_count_in_range() {
        assert_eq!(parse_iterations("20"), Some(20));
        assert_eq!(parse_iterations(" 1 "), Some(1));
        assert_eq!(parse_iterations("0"), None);
        assert_eq!(parse_iterations("-3"), None);
        assert_eq!(parse_iterations("ten"), None);
        assert_eq!(parse_iterations(&(host::MAX_ITERATIONS + 1).to_string()), None);
    }
}
