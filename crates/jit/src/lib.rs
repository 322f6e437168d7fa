//! The `jit` engine's compiler: the tier the VM hands hot functions to.
//!
//! Every function starts in the bytecode VM, which counts its calls
//! (`ObjFunction::calls`). When a count reaches the threshold the VM offers
//! the function once ([`vm::Tier`]); this crate lowers it with `codegen`
//! into a Cranelift `JITModule`, and the VM installs the machine code in the
//! function's entry cell, through which its later calls run. A function the
//! code generator cannot lower yet stays in the VM: that is a decision
//! (reported by `--trace-jit`), never an error of the program.
//!
//! Cranelift is set up at the first compile ([`backend::Backend`]), so a
//! program that never gets hot pays nothing for it.
//!
//! Seeing what it did: `--trace-jit` (the `trace` option) reports each
//! decision; `--perf-map` ([`JitOptions::perf_map`]) writes the address of
//! each compiled function to `/tmp/perf-PID.map` for `perf report`; and
//! [`listing`] shows each function's IR and machine code (`strata disasm
//! --jit`).

mod backend;
mod listing;

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

use backend::Backend;
use codegen::Speculations;
use runtime::abi::{CompiledEntry, DeoptReason};
use vm::{Deopt, FunctionCode, Tier, TierStats};

pub use listing::{ListingOptions, listing};

/// Calls after which a function is compiled, unless told otherwise: a
/// baseline compiler is cheap (a fraction of a millisecond per function),
/// so a function earns it early, as V8's Sparkplug does.
pub const DEFAULT_THRESHOLD: u32 = 100;

/// Back-edges per call of the threshold: a loop is compiled (on-stack
/// replacement) after `LOOP_FACTOR * threshold` back-edges of its function,
/// since one iteration is less work than one call.
pub const LOOP_FACTOR: u32 = 10;

/// How the JIT works.
pub struct JitOptions {
    /// Calls after which a function is compiled (0 and 1: at its first
    /// call, which compiles every function a program calls); a running loop
    /// is compiled after [`LOOP_FACTOR`] times as many back-edges (0: at
    /// the first).
    pub threshold: u32,
    /// Where each decision is reported (`--trace-jit`), if anywhere.
    pub trace: Option<Box<dyn Write>>,
    /// Also report each compile's Cranelift IR, guards and inlined callees
    /// included (`--trace-jit-ir`).
    pub trace_ir: bool,
    /// Name each compiled function's code in `/tmp/perf-PID.map`, the
    /// file `perf report` reads to name code that no ELF file describes
    /// (compiled code keeps frame pointers, so `perf` also unwinds through
    /// it).
    pub perf_map: bool,
    /// Bytes of code memory past which all of it is dropped before the
    /// next run (a REPL entry), and functions start over in the VM. Each
    /// compile's code takes whole pages.
    /// Cranelift's `JITModule` frees code only all at once, so this is
    /// what keeps a long session's code memory bounded.
    pub code_limit: u64,
    /// Deopt stress mode (HotSpot's `DeoptimizeALot`): every guard of
    /// optimized code fails the first time it runs, so every deoptimization
    /// path is taken (`--jit-stress-deopt`).
    pub stress_deopt: bool,
}

/// The page size code memory is counted in (each compile's code is made
/// executable on pages of its own).
const PAGE: u64 = 4096;

/// The default [`JitOptions::code_limit`]: far more than any program
/// compiles (a few thousand compiled functions; the benchmarks make at most
/// a few dozen).
pub const DEFAULT_CODE_LIMIT: u64 = 64 << 20;

impl Default for JitOptions {
    fn default() -> JitOptions {
        JitOptions {
            threshold: DEFAULT_THRESHOLD,
            trace: None,
            trace_ir: false,
            perf_map: false,
            code_limit: DEFAULT_CODE_LIMIT,
            stress_deopt: false,
        }
    }
}

/// The perf map of this process: `/tmp/perf-PID.map`.
pub fn perf_map_path() -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()))
}

/// The compiling tier.
pub struct Jit {
    threshold: u32,
    trace: Option<Box<dyn Write>>,
    trace_ir: bool,
    /// When the tier was made (about when the program started): each trace
    /// line says how long after, so warm-up can be read from it.
    started: Instant,
    /// Made at the first compile.
    backend: Option<Backend>,
    stats: TierStats,
    perf_map: PerfMap,
    code_limit: u64,
    stress_deopt: bool,
    /// What was compiled before (function index, entry), so a compile after
    /// a deoptimization says it is one.
    compiled_before: HashSet<(usize, Option<usize>)>,
}

/// Where compiled code is named for `perf`.
enum PerfMap {
    Off,
    /// Asked for; the file is made at the first compile.
    Wanted,
    Open(BufWriter<File>),
}

impl Jit {
    pub fn new(options: JitOptions) -> Jit {
        Jit {
            threshold: options.threshold,
            trace: options.trace,
            trace_ir: options.trace_ir,
            started: Instant::now(),
            backend: None,
            stats: TierStats::default(),
            perf_map: if options.perf_map { PerfMap::Wanted } else { PerfMap::Off },
            code_limit: options.code_limit,
            stress_deopt: options.stress_deopt,
            compiled_before: HashSet::new(),
        }
    }

    /// Name `size` bytes of code at `entry` in the perf map, if there is
    /// one. A failure to write it is reported once and ends the map; the
    /// program goes on.
    fn name_code(&mut self, entry: CompiledEntry, size: u32, name: &str) {
        if let PerfMap::Wanted = self.perf_map {
            let path = perf_map_path();
            self.perf_map = match File::create(&path) {
                Ok(file) => PerfMap::Open(BufWriter::new(file)),
                Err(error) => {
                    self.report(format_args!("no perf map: {}: {error}", path.display()));
                    PerfMap::Off
                }
            };
        }
        if let PerfMap::Open(file) = &mut self.perf_map {
            let line = format!("{:x} {size:x} {name}\n", entry as usize);
            // `perf` may read the map while the program still runs.
            if let Err(error) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
                self.perf_map = PerfMap::Off;
                self.report(format_args!("perf map stopped: {error}"));
            }
        }
    }

    fn report(&mut self, line: std::fmt::Arguments<'_>) {
        if let Some(trace) = &mut self.trace {
            // The trace is a diagnostic: failing to write it does not stop
            // the program.
            let _ = writeln!(trace, "[jit {:9.3} ms] {line}", millis(self.started));
        }
    }
}

impl Tier for Jit {
    fn threshold(&self) -> u32 {
        self.threshold
    }

    fn loop_threshold(&self) -> u32 {
        self.threshold.saturating_mul(LOOP_FACTOR)
    }

    fn stats(&self) -> TierStats {
        self.stats
    }

    fn wants_reset(&self) -> bool {
        self.stats.code_memory >= self.code_limit
    }

    fn reset(&mut self) {
        let (bytes, limit) = (self.stats.code_memory, self.code_limit);
        // Dropping the backend frees the module's memory; a new one is set
        // up at the next compile.
        self.backend = None;
        self.stats.code_memory = 0;
        self.stats.resets += 1;
        self.report(format_args!(
            "dropped all {bytes} bytes of code memory (the limit is {limit}): \
             every function starts over in the VM"
        ));
    }

    fn deoptimized(&mut self, function: &FunctionCode<'_>, deopt: &Deopt<'_>) {
        self.stats.deopts += 1;
        let name = display_name(function.function.name.as_deref());
        let inlined = match deopt.host {
            Some(host) => format!(" inlined into {}", display_name(host.function.name.as_deref())),
            None => String::new(),
        };
        let then = match (deopt.dropped, deopt.reason) {
            (false, _) => "an older activation, of code already dropped",
            (true, DeoptReason::Stress) => "its code is dropped, to be compiled again",
            (true, _) => "its code is dropped, to be compiled again without that assumption",
        };
        let Deopt { offset, line, .. } = deopt;
        self.report(format_args!(
            "deoptimized {name}{inlined} at {offset:04} (line {line}): {}; {then}",
            deopt.reason.describe()
        ));
    }

    fn compile(&mut self, function: &FunctionCode<'_>) -> Option<CompiledEntry> {
        let name = match function.entry_at {
            None => display_name(function.function.name.as_deref()),
            Some(header) => {
                format!(
                    "the loop at {header:04} of {}",
                    display_name(function.function.name.as_deref())
                )
            }
        };
        let why = match function.entry_at {
            None => {
                let calls = function.object.calls.get();
                format!("after {calls} call{}", plural(calls.into()))
            }
            Some(_) => {
                let backedges = self.loop_threshold().max(1);
                format!("after {backedges} back-edge{}", plural(backedges.into()))
            }
        };
        if self.backend.is_none() {
            let started = Instant::now();
            let made = Backend::new();
            // Setting Cranelift up counts as compiling.
            self.stats.compile_time += started.elapsed();
            match made {
                Ok(backend) => {
                    self.backend = Some(backend);
                    let isa = self.backend.as_ref().map_or("", |b| b.isa_name());
                    self.report(format_args!(
                        "Cranelift set up for {isa} in {:.2} ms",
                        millis(started)
                    ));
                }
                Err(why) => {
                    // No machine code on this host: everything stays in the
                    // VM, and the JIT is not asked again.
                    self.threshold = u32::MAX;
                    self.report(format_args!("no machine code on this host: {why}"));
                    return None;
                }
            }
        }
        let backend = self.backend.as_mut()?;
        let started = Instant::now();
        let want_ir = self.trace_ir && self.trace.is_some();
        let compiled = backend.compile(function, want_ir, self.stress_deopt);
        self.stats.compile_time += started.elapsed();
        match compiled {
            Ok((entry, compiled)) => {
                match function.entry_at {
                    None => self.stats.functions += 1,
                    Some(_) => self.stats.loops += 1,
                }
                self.stats.code_bytes += u64::from(compiled.code_size);
                // Each compile's code is made executable on pages of its own.
                self.stats.code_memory += u64::from(compiled.code_size).next_multiple_of(PAGE);
                let lox_name = function.function.name.as_deref().unwrap_or("<script>");
                let symbol = match function.entry_at {
                    None => format!("lox:{lox_name}"),
                    Some(header) => format!("lox:{lox_name}:loop@{header:04}"),
                };
                self.name_code(entry, compiled.code_size, &symbol);
                let again = !self.compiled_before.insert((function.index, function.entry_at));
                let compiled_word = if again { "recompiled" } else { "compiled" };
                self.report(format_args!(
                    "{compiled_word} {name} {why}: {} bytes of bytecode, {} of machine code, in {:.2} ms{}",
                    function.function.chunk.code.len(),
                    compiled.code_size,
                    millis(started),
                    speculating(compiled.speculations),
                ));
                if let (Some(ir), Some(trace)) = (&compiled.ir, &mut self.trace) {
                    let _ = write!(trace, "{ir}");
                }
                Some(entry)
            }
            Err(why) => {
                self.stats.declined += 1;
                self.report(format_args!("{name} stays in the VM: {why}"));
                None
            }
        }
    }
}

/// What a compile assumed, as the trace says it.
fn speculating(assumed: Speculations) -> String {
    let mut parts = Vec::new();
    let Speculations {
        number_adds,
        number_equalities,
        loop_numbers,
        known_calls,
        known_fields,
        known_methods,
        inlined_calls,
        polymorphic_calls,
    } = assumed;
    if number_adds > 0 || loop_numbers > 0 {
        parts.push(format!(
            "{number_adds} + site{} on numbers, {loop_numbers} variable{} numbers through a loop",
            plural(number_adds as u64),
            plural(loop_numbers as u64)
        ));
    }
    if number_equalities > 0 {
        let sites = plural(number_equalities as u64);
        parts.push(format!("{number_equalities} == site{sites} on numbers"));
    }
    if known_calls > 0 {
        let mut notes = Vec::new();
        if polymorphic_calls > 0 {
            notes.push(format!("{polymorphic_calls} polymorphic"));
        }
        if inlined_calls > 0 {
            notes.push(format!("{inlined_calls} inlined"));
        }
        let inlined = match notes.is_empty() {
            true => String::new(),
            false => format!(" ({})", notes.join(", ")),
        };
        let calls = plural(known_calls as u64);
        parts.push(format!("{known_calls} call{calls} of known functions{inlined}"));
    }
    if known_fields > 0 {
        let sites = plural(known_fields as u64);
        parts.push(format!("{known_fields} field site{sites} of known shapes"));
    }
    if known_methods > 0 {
        let sites = plural(known_methods as u64);
        parts.push(format!("{known_methods} method site{sites} of known shapes"));
    }
    match parts.is_empty() {
        true => String::new(),
        false => format!(", speculating: {}", parts.join(", ")),
    }
}

/// The plural ending for `n` things.
fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A function's name as the trace shows it.
fn display_name(name: Option<&str>) -> String {
    name.map_or_else(|| "the script".to_string(), |name| format!("'{name}'"))
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
