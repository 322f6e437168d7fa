//! The differential test: generated programs must behave identically on
//! every engine in `Engine::ALL`, normally and with the collector running
//! at every allocation, and on `vm` after a round trip through a `.loxc`
//! file. "Identically" means the same outcome and the same bytes on stdout
//! and stderr; the program must also compile (the generator promises valid
//! programs) and nothing may panic.
//!
//! Each case is a seed: splitmix64 turns it into bytes, `progen::generate`
//! turns the bytes into a program. The seeds are fixed, so CI runs the same
//! programs every time and a failure names a seed that reproduces it.
//!
//! Environment variables:
//! - `PROGEN_CASES=N`: run N seeds (default `DEFAULT_CASES`, about a
//!   minute in a release build on two cores).
//! - `PROGEN_START=S`: start at seed S (default 0), to explore new seeds.
//! - `PROGEN_SEED=S`: run only seed S, and print its program and outputs.
//!
//! For example `PROGEN_SEED=1234 cargo test --release -p progen --test
//! differential -- --nocapture` reproduces one case.

use std::panic::{AssertUnwindSafe, catch_unwind};

use arbitrary::Unstructured;
use driver::{DiagnosticStyle, Engine, GcConfig, Options, Outcome};
use libtest_mimic::{Arguments, Failed, Trial};

/// Seeds in a default run.
const DEFAULT_CASES: u64 = 4000;
/// Seeds per trial: a trial reports every failing seed of its batch.
const BATCH: u64 = 100;

fn main() {
    let args = Arguments::from_args();
    let env = |name: &str| {
        std::env::var(name).ok().map(|value| {
            value.parse::<u64>().unwrap_or_else(|_| panic!("{name} must be a number: {value}"))
        })
    };
    let trials = match env("PROGEN_SEED") {
        Some(seed) => vec![Trial::test(format!("seed_{seed}"), move || {
            let case = Case::new(seed);
            println!("---- program (seed {seed}) ----\n{}", case.program);
            for (label, run) in case.runs() {
                println!("---- {label} ----\n{run}");
            }
            case.check().map_err(Failed::from)
        })],
        None => {
            let start = env("PROGEN_START").unwrap_or(0);
            let cases = env("PROGEN_CASES").unwrap_or(DEFAULT_CASES);
            (start..start + cases)
                .step_by(BATCH as usize)
                .map(|first| {
                    let last = (first + BATCH).min(start + cases);
                    Trial::test(format!("seeds_{first:08}_{:08}", last - 1), move || {
                        check_seeds(first..last)
                    })
                })
                .collect()
        }
    };
    libtest_mimic::run(&args, trials).exit();
}

fn check_seeds(seeds: std::ops::Range<u64>) -> Result<(), Failed> {
    let mut failures = Vec::new();
    for seed in seeds {
        if let Err(failure) = Case::new(seed).check() {
            failures.push(failure);
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    let count = failures.len();
    // The first few in full; a batch of identical failures says little more.
    let shown: Vec<String> = failures.into_iter().take(3).collect();
    Err(format!("{count} failing seeds; the first:\n\n{}", shown.join("\n\n")).into())
}

/// splitmix64: a tiny, well-mixed PRNG, enough to turn seeds into bytes.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The bytes for `seed`: between 1 and 16 KiB, so program sizes vary.
fn bytes_for(seed: u64) -> Vec<u8> {
    let mut state = seed;
    let len = 1024 + (splitmix64(&mut state) % (15 * 1024)) as usize;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// One generated program.
struct Case {
    seed: u64,
    program: String,
}

/// What one run produced, or the panic that ended it.
#[derive(PartialEq, Eq)]
enum Run {
    Ended { outcome: Outcome, stdout: String, stderr: String },
    Panicked(String),
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Run::Panicked(message) => write!(f, "PANIC: {message}"),
            Run::Ended { outcome, stdout, stderr } => {
                writeln!(f, "outcome: {outcome:?}")?;
                writeln!(f, "stdout:\n{}", abbreviate(stdout))?;
                write!(f, "stderr:\n{}", abbreviate(stderr))
            }
        }
    }
}

/// At most 40 lines of `text` (a stack overflow's trace has thousands).
fn abbreviate(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= 40 {
        return text.to_string();
    }
    format!(
        "{}\n... ({} more lines) ...\n{}\n",
        lines[..20].join("\n"),
        lines.len() - 30,
        lines[lines.len() - 10..].join("\n")
    )
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_string())
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl Case {
    fn new(seed: u64) -> Case {
        let bytes = bytes_for(seed);
        let program = progen::generate(&mut Unstructured::new(&bytes), &progen::Config::default());
        Case { seed, program }
    }

    fn run_engine(&self, engine: Engine, stress: bool) -> Run {
        let options = Options {
            engine,
            gc: GcConfig { stress, ..GcConfig::default() },
            ..Options::default()
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        match catch_unwind(AssertUnwindSafe(|| {
            driver::run(self.program.as_bytes(), options, &mut out, &mut err)
        })) {
            Ok(outcome) => Run::Ended { outcome, stdout: text(out), stderr: text(err) },
            Err(payload) => Run::Panicked(panic_message(payload)),
        }
    }

    /// Compile to `.loxc` bytes, then load, verify and run them.
    fn run_loxc(&self) -> Run {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let result = catch_unwind(AssertUnwindSafe(|| {
            let Some(bytes) = driver::compile_to_bytes(
                self.program.as_bytes(),
                &DiagnosticStyle::Plain,
                &mut err,
            ) else {
                return Ok(Outcome::CompileError);
            };
            let mut session = driver::Session::new(Options::default());
            session.run_bytecode(&bytes, &mut out, &mut err).map_err(|e| e.to_string())
        }));
        match result {
            Ok(Ok(outcome)) => Run::Ended { outcome, stdout: text(out), stderr: text(err) },
            Ok(Err(load_error)) => {
                Run::Panicked(format!("a freshly compiled file does not load: {load_error}"))
            }
            Err(payload) => Run::Panicked(panic_message(payload)),
        }
    }

    /// Every run, labelled.
    fn runs(&self) -> Vec<(String, Run)> {
        let mut runs = Vec::new();
        for &engine in Engine::ALL {
            runs.push((engine.to_string(), self.run_engine(engine, false)));
            runs.push((format!("{engine} --gc-stress"), self.run_engine(engine, true)));
        }
        runs.push(("vm via .loxc".to_string(), self.run_loxc()));
        runs
    }

    fn check(&self) -> Result<(), String> {
        let runs = self.runs();
        let (first_label, first) = &runs[0];
        let mut problems = Vec::new();
        if let Run::Ended { outcome: Outcome::CompileError, .. } = first {
            problems.push("the generated program does not compile".to_string());
        }
        for (label, run) in &runs {
            if let Run::Panicked(_) = run {
                problems.push(format!("{label} panicked"));
            } else if run != first {
                problems.push(format!("{label} differs from {first_label}"));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        let mut report = format!(
            "seed {} ({}); reproduce with PROGEN_SEED={}\n---- program ----\n{}",
            self.seed,
            problems.join(", "),
            self.seed,
            self.program
        );
        // The reference run, then every run that is not the same.
        report.push_str(&format!("---- {first_label} ----\n{first}\n"));
        for (label, run) in &runs[1..] {
            if run != first {
                report.push_str(&format!("---- {label} ----\n{run}\n"));
            }
        }
        Err(report)
    }
}
