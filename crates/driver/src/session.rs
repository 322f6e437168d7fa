//! Running source: a [`Session`] keeps one engine's state across entries
//! (the REPL), and [`run`] is a one-entry session.

use std::io::Write;
use std::time::Instant;

use resolve::FrontEnd;
use runtime::{ErrorKind, GcConfig, GcLog, GcStats, HeapOptions, Interrupt};
use treewalk::TreeWalker;
use vm::TierStats;

use crate::stats::{RunStats, Timings};

use crate::diagnostics::{DiagnosticStyle, write_diagnostics};
use crate::engine::Engine;

/// Run `f` with at least [`STACK_NEEDED`] bytes of native stack: on the
/// caller's stack if it has them, else on a new [`STACK_SEGMENT`]. The front
/// end and the compiler recurse at most once per nesting level (256), which
/// takes well under a megabyte; the tree-walker grows its own segments as
/// Lox calls nest; the VM does not recurse. So an embedder's thread with a
/// small stack works, and a thread with a big one pays nothing.
pub(crate) fn on_engine_stack<T>(f: impl FnOnce() -> T) -> T {
    match runtime::native_stack::remaining() >= STACK_NEEDED {
        true => f(),
        false => stacker::grow(STACK_SEGMENT, f),
    }
}

const STACK_NEEDED: usize = 4 << 20;
const STACK_SEGMENT: usize = 16 << 20;

/// How to run.
#[derive(Default)]
pub struct Options {
    pub engine: Engine,
    pub gc: GcConfig,
    /// Called after every collection (`--gc-log`).
    pub gc_log: Option<GcLog>,
    /// Stops the running program with `Interrupted.` when requested (from
    /// any thread). `None`: the session makes its own (see
    /// [`Session::interrupt`]).
    pub interrupt: Option<Interrupt>,
    pub diagnostics: DiagnosticStyle,
    /// How the `jit` engine tiers (ignored by the others).
    pub jit: JitConfig,
}

/// How the `jit` engine tiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitConfig {
    /// Calls after which a function is compiled (0: at its first call).
    pub threshold: u32,
    /// Report every compile decision to stderr (`--trace-jit`).
    pub trace: bool,
    /// With `trace`, also each compile's Cranelift IR (`--trace-jit-ir`).
    pub trace_ir: bool,
    /// Name compiled code in `/tmp/perf-PID.map` for `perf` (`--perf-map`).
    pub perf_map: bool,
    /// Bytes of code memory past which all machine code is dropped before
    /// the next entry (a long REPL session stays bounded).
    pub code_limit: u64,
    /// Fail every guard of optimized code the first time it runs
    /// (`--jit-stress-deopt`), so every deoptimization path is taken.
    pub stress_deopt: bool,
}

impl Default for JitConfig {
    fn default() -> JitConfig {
        JitConfig {
            threshold: jit::DEFAULT_THRESHOLD,
            trace: false,
            trace_ir: false,
            perf_map: false,
            code_limit: jit::DEFAULT_CODE_LIMIT,
            stress_deopt: false,
        }
    }
}

/// How a run ended. The CLI maps these to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The source did not compile (or was not UTF-8); nothing ran.
    CompileError,
    /// The program raised a runtime error.
    RuntimeError,
    /// Writing the program's output to `out` failed, which stopped it; the
    /// writer knows why. Nothing was written to `err`.
    OutputError,
}

enum EngineState {
    Tree(TreeWalker),
    Vm(vm::Vm),
}

/// An engine with its front end, kept across entries.
pub struct Session {
    front: FrontEnd,
    engine: EngineState,
    style: DiagnosticStyle,
    engine_name: Engine,
    timings: Timings,
}

impl Session {
    pub fn new(options: Options) -> Session {
        let mut front = FrontEnd::new();
        let heap = HeapOptions {
            gc: options.gc,
            gc_log: options.gc_log,
            interrupt: options.interrupt.unwrap_or_default(),
        };
        let engine = match options.engine {
            Engine::Tree => EngineState::Tree(TreeWalker::new(heap, &mut front)),
            Engine::Vm => EngineState::Vm(vm::Vm::new(heap, |name| front.global_slot(name))),
            Engine::Jit => {
                let trace = options.jit.trace.then(|| Box::new(std::io::stderr()) as _);
                let tier = jit::Jit::new(jit::JitOptions {
                    threshold: options.jit.threshold,
                    trace,
                    trace_ir: options.jit.trace_ir,
                    perf_map: options.jit.perf_map,
                    code_limit: options.jit.code_limit,
                    stress_deopt: options.jit.stress_deopt,
                });
                EngineState::Vm(vm::Vm::with_tier(
                    heap,
                    |name| front.global_slot(name),
                    Box::new(tier),
                ))
            }
        };
        Session {
            front,
            engine,
            style: options.diagnostics,
            engine_name: options.engine,
            timings: Timings::default(),
        }
    }

    /// The flag that stops this session's running program: request it
    /// (from another thread, or a signal handler's) and the program ends
    /// with the runtime error `Interrupted.` at its next loop iteration or
    /// call.
    pub fn interrupt(&self) -> Interrupt {
        self.heap().interrupt().clone()
    }

    fn heap(&self) -> &runtime::Heap {
        match &self.engine {
            EngineState::Tree(tree) => tree.heap(),
            EngineState::Vm(vm) => vm.heap(),
        }
    }

    /// What this session has done so far (`strata run --stats`).
    pub fn stats(&self) -> RunStats {
        let heap = self.heap();
        let gc = heap.stats();
        let (caches, osr_entries) = match &self.engine {
            EngineState::Vm(vm) => {
                let osr = vm.tier_stats().map(|_| vm.osr_entries());
                (Some(vm.cache_counts()), osr)
            }
            EngineState::Tree(_) => (None, None),
        };
        RunStats {
            engine: self.engine_name,
            front_end: self.timings.front_end,
            compile: self.timings.compile,
            run: self.timings.run,
            iterations: self.timings.iterations.clone(),
            gc,
            allocated: gc.bytes_freed + heap.bytes_allocated() as u64,
            peak_heap: gc.peak_bytes.max(heap.bytes_allocated()) as u64,
            caches,
            osr_entries,
            tier: self.tier_stats(),
        }
    }

    /// What the `jit` engine's compiler has done so far (`None` for the
    /// other engines).
    pub fn tier_stats(&self) -> Option<TierStats> {
        match &self.engine {
            EngineState::Vm(vm) => vm.tier_stats(),
            EngineState::Tree(_) => None,
        }
    }

    /// Totals of the collector so far.
    pub fn gc_stats(&self) -> GcStats {
        self.heap().stats()
    }

    /// Compile and run one source text in this session.
    ///
    /// Program output goes to `out`; compile errors and runtime errors, in
    /// LOX.md's exact format, to `err`.
    pub fn eval(&mut self, source: &[u8], out: &mut dyn Write, err: &mut dyn Write) -> Outcome {
        on_engine_stack(|| self.eval_on_engine_stack(source, Repeat::Once, out, err))
    }

    /// Compile one source text and run its top level `times` times (at
    /// least once), as a long-running program repeats its work: globals
    /// keep what the last run left in them, and the engine keeps what it
    /// learned (inline caches, type feedback, machine code). Each run's time
    /// goes into [`RunStats::iterations`]. Stops at the first run that
    /// fails (`strata run --iterations K`, the lab's warm-up curves).
    pub fn eval_repeatedly(
        &mut self,
        source: &[u8],
        times: u32,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Outcome {
        let repeat = Repeat::Timed(times.max(1));
        on_engine_stack(|| self.eval_on_engine_stack(source, repeat, out, err))
    }

    /// Compile and run one REPL entry: like [`Session::eval`], except that
    /// an entry that is a bare expression (`1 + 2`, no semicolon) prints its
    /// value, as Python's and Node's REPLs do.
    ///
    /// The rule: an entry whose only compile error is `Expect ';' after
    /// expression.` at its end runs as `print ENTRY;`. If that does not
    /// compile either, the entry's own error is reported.
    pub fn eval_entry(
        &mut self,
        source: &[u8],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Outcome {
        on_engine_stack(|| {
            let started = Instant::now();
            let Some(text) = decode(source, err) else { return Outcome::CompileError };
            let compiled = match self.front.compile(text) {
                Ok(program) => Ok(program),
                Err(diagnostics) if is_bare_expression(&diagnostics) => {
                    // The `;` goes on a line of its own, after any `//`
                    // comment ending the entry; lines keep their numbers.
                    self.front.compile(&format!("print {text}\n;")).map_err(|_| diagnostics)
                }
                Err(diagnostics) => Err(diagnostics),
            };
            self.timings.front_end += started.elapsed();
            match compiled {
                Ok(program) => self.run_program(&program, Repeat::Once, out, err),
                Err(diagnostics) => self.compile_failed(text, &diagnostics, err),
            }
        })
    }

    fn eval_on_engine_stack(
        &mut self,
        source: &[u8],
        repeat: Repeat,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Outcome {
        let started = Instant::now();
        let Some(text) = decode(source, err) else { return Outcome::CompileError };
        let compiled = self.front.compile(text);
        self.timings.front_end += started.elapsed();
        match compiled {
            Ok(program) => self.run_program(&program, repeat, out, err),
            Err(diagnostics) => self.compile_failed(text, &diagnostics, err),
        }
    }

    fn compile_failed(
        &self,
        text: &str,
        diagnostics: &[syntax::Diagnostic],
        err: &mut dyn Write,
    ) -> Outcome {
        let _ = write_diagnostics(err, &self.style, text, diagnostics);
        Outcome::CompileError
    }

    fn run_program(
        &mut self,
        program: &syntax::ast::Program,
        repeat: Repeat,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Outcome {
        let result = match &mut self.engine {
            EngineState::Tree(tree) => {
                let front = &self.front;
                repeat.run(&mut self.timings, || tree.run(program, front, out))
            }
            EngineState::Vm(vm) => {
                let started = Instant::now();
                let (module, facts) = compile_verified(program, &self.front);
                let script = vm.load_script(module, facts);
                self.timings.compile += started.elapsed();
                repeat.run(&mut self.timings, || vm.run_script(script, out))
            }
        };
        report(result, out, err)
    }
}

/// How many times a program's top level runs, and whether each run is
/// timed on its own.
#[derive(Debug, Clone, Copy)]
enum Repeat {
    Once,
    /// This many times (at least one), each run's time kept.
    Timed(u32),
}

impl Repeat {
    /// Run `top_level` as many times as asked, stopping at the first
    /// failure, and add the time to `timings`.
    fn run(
        self,
        timings: &mut Timings,
        mut top_level: impl FnMut() -> Result<(), runtime::RuntimeError>,
    ) -> Result<(), runtime::RuntimeError> {
        let times = match self {
            Repeat::Once => 1,
            Repeat::Timed(times) => times,
        };
        for _ in 0..times {
            let started = Instant::now();
            let result = top_level();
            let took = started.elapsed();
            timings.run += took;
            if let Repeat::Timed(_) = self {
                timings.iterations.push(took);
            }
            result?;
        }
        Ok(())
    }
}

/// The source as text, or `None` after reporting that it is not UTF-8.
fn decode<'a>(source: &'a [u8], err: &mut dyn Write) -> Option<&'a str> {
    match syntax::decode_source(source) {
        Ok(text) => Some(text),
        Err(diagnostic) => {
            let _ = write_diagnostics(err, &DiagnosticStyle::Plain, "", &[diagnostic]);
            None
        }
    }
}

/// Whether an entry's compile errors say only that it lacks the `;` that
/// would make it an expression statement.
fn is_bare_expression(diagnostics: &[syntax::Diagnostic]) -> bool {
    matches!(diagnostics, [only] if only.location == syntax::Location::End
        && only.message == "Expect ';' after expression.")
}

/// Run `source` once with `options`.
pub fn run(source: &[u8], options: Options, out: &mut dyn Write, err: &mut dyn Write) -> Outcome {
    Session::new(options).eval(source, out, err)
}

/// Why a bytecode file could not be run.
#[derive(Debug)]
pub enum LoadError {
    /// The file is not a well-formed `.loxc` container.
    File(bytecode::FileError),
    /// The container is fine but its code is not safe to run.
    Verify(bytecode::VerifyError),
    /// Only the bytecode engines (`vm`, `jit`) run bytecode.
    WrongEngine(Engine),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::File(error) => write!(f, "{error}"),
            LoadError::Verify(error) => write!(f, "rejected by the verifier: {error}"),
            LoadError::WrongEngine(engine) => {
                write!(f, "the {engine} engine cannot run bytecode files (use --engine vm or jit)")
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// Whether `bytes` start with the bytecode magic. No Lox source does, since
/// its first byte cannot start UTF-8 text; a file named `.loxc` is bytecode
/// too (that rule is the CLI's, which knows file names).
pub fn is_bytecode(bytes: &[u8]) -> bool {
    bytes.starts_with(&bytecode::MAGIC)
}

impl Session {
    /// Load a `.loxc` file's bytes, verify them and run the module.
    ///
    /// A file that does not load or verify runs nothing and is an `Err`.
    pub fn run_bytecode(
        &mut self,
        bytes: &[u8],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<Outcome, LoadError> {
        self.run_bytecode_as(bytes, Repeat::Once, out, err)
    }

    /// [`Session::run_bytecode`], running the module's top level `times`
    /// times as [`Session::eval_repeatedly`] does.
    pub fn run_bytecode_repeatedly(
        &mut self,
        bytes: &[u8],
        times: u32,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<Outcome, LoadError> {
        self.run_bytecode_as(bytes, Repeat::Timed(times.max(1)), out, err)
    }

    fn run_bytecode_as(
        &mut self,
        bytes: &[u8],
        repeat: Repeat,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<Outcome, LoadError> {
        // The engine is checked first: with `tree`, no file is runnable.
        let EngineState::Vm(vm) = &mut self.engine else {
            return Err(LoadError::WrongEngine(Engine::Tree));
        };
        let started = Instant::now();
        let (mut module, facts) = load_verified(bytes)?;
        relocate_into(&mut module, &mut self.front);
        let script = vm.load_script(module, facts);
        self.timings.compile += started.elapsed();
        let timings = &mut self.timings;
        let result = on_engine_stack(|| repeat.run(timings, || vm.run_script(script, out)));
        Ok(report(result, out, err))
    }
}

/// Load a `.loxc` file's bytes and check them with the verifier.
pub(crate) fn load_verified(
    bytes: &[u8],
) -> Result<(bytecode::Module, bytecode::Facts), LoadError> {
    let module = bytecode::read_module(bytes).map_err(LoadError::File)?;
    let facts = bytecode::analyze(&module).map_err(LoadError::Verify)?;
    Ok((module, facts))
}

/// Flush `out` and turn a run's result into an outcome, writing a runtime
/// error and its trace to `err`.
fn report(
    result: Result<(), runtime::RuntimeError>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Outcome {
    let flushed = out.flush();
    match result {
        Ok(()) if flushed.is_err() => Outcome::OutputError,
        Ok(()) => Outcome::Success,
        Err(error) if error.kind == ErrorKind::Output => Outcome::OutputError,
        Err(error) => {
            let _ = write!(err, "{error}");
            let _ = err.flush();
            Outcome::RuntimeError
        }
    }
}

/// A program's `.loxc` bytes (`strata compile`), or `None` after writing its
/// compile errors (or that it is too large for the format) to `err`.
pub fn compile_to_bytes(
    source: &[u8],
    style: &DiagnosticStyle,
    err: &mut dyn Write,
) -> Option<Vec<u8>> {
    // The front end and compiler recurse over the tree: give them the
    // engine stack, as `Session::eval` does.
    on_engine_stack(|| {
        let (program, front) = front_end_alone(source, style, err)?;
        match bytecode::write_module(&compile_verified(&program, &front).0) {
            Ok(bytes) => Some(bytes),
            Err(too_large) => {
                let _ = writeln!(err, "{too_large}");
                None
            }
        }
    })
}

/// A fresh front end with the natives' global slots declared first, as
/// every session numbers them.
pub(crate) fn front_end_with_natives() -> FrontEnd {
    let mut front = FrontEnd::new();
    for native in runtime::NATIVES {
        front.global_slot(native.name);
    }
    front
}

/// Renumber a loaded module's globals into `front`'s slots (declaring
/// those it has not seen), as a run of the module in that front end's
/// session needs.
pub(crate) fn relocate_into(module: &mut bytecode::Module, front: &mut FrontEnd) {
    let map: Vec<u32> = module.globals.iter().map(|name| front.global_slot(name)).collect();
    bytecode::relocate_globals(module, &map, front.global_names());
}

/// Decode and compile `source` in a fresh front end with the natives
/// declared first, as every session declares them.
pub(crate) fn front_end_alone(
    source: &[u8],
    style: &DiagnosticStyle,
    err: &mut dyn Write,
) -> Option<(syntax::ast::Program, FrontEnd)> {
    let text = decode(source, err)?;
    let mut front = front_end_with_natives();
    match front.compile(text) {
        Ok(program) => Some((program, front)),
        Err(diagnostics) => {
            let _ = write_diagnostics(err, style, text, &diagnostics);
            None
        }
    }
}

/// Compile `program` and check the result with the bytecode verifier.
///
/// Every resolved program must compile to bytecode the verifier accepts;
/// anything else is a compiler bug, reported as one.
pub(crate) fn compile_verified(
    program: &syntax::ast::Program,
    front: &FrontEnd,
) -> (bytecode::Module, bytecode::Facts) {
    let module = compiler::compile(program, front);
    match bytecode::analyze(&module) {
        Ok(facts) => (module, facts),
        Err(error) => panic!("bug: the compiler produced bytecode the verifier rejects: {error}"),
    }
}
