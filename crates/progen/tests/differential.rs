//! The differential test: generated programs must behave identically on
//! every engine in `Engine::ALL`, normally and with the collector running
//! at every allocation, and on `vm` after a round trip through a `.loxc`
//! file; and fed to a session one top-level statement at a time (as the
//! REPL does), every engine must again agree. The first
//! `DEFAULT_AOT_CASES` programs are also built into executables (`strata
//! build`), which must print what `vm` prints. "Identically" means the same
//! outcome and the same bytes on stdout and stderr; the program must also
//! compile (the generator promises valid programs) and nothing may panic
//! (see `progen::check`).
//!
//! Each case is a seed: splitmix64 turns it into bytes, `progen::generate`
//! turns the bytes into a program. The seeds are fixed, so CI runs the same
//! programs every time and a failure names a seed that reproduces it.
//!
//! Environment variables:
//! - `PROGEN_CASES=N`: run N seeds (default `DEFAULT_CASES`, about a
//!   minute in a release build on two cores).
//! - `PROGEN_START=S`: start at seed S (default 0), to explore new seeds.
//! - `PROGEN_AOT_CASES=N`: build N of them into executables (default
//!   `DEFAULT_AOT_CASES`).
//! - `PROGEN_SEED=S`: run only seed S, and print its program and outputs.
//! - `PROGEN_SIZE=N`, `PROGEN_DEPTH=D`: generate up to N statements (default
//!   150) nested up to D deep (default 5), to explore bigger programs.
//!
//! For example `PROGEN_SEED=1234 cargo test --release -p progen --test
//! differential -- --nocapture` reproduces one case.

use arbitrary::Unstructured;
use libtest_mimic::{Arguments, Failed, Trial};

/// Seeds in a default run.
const DEFAULT_CASES: u64 = 7500;
/// Seeds per trial: a trial reports every failing seed of its batch.
const BATCH: u64 = 100;
/// Seeds of a default run whose programs are also built into executables
/// (`strata build`) and run as processes against `vm`: a build links an
/// executable, so this is the slower part of a run per seed.
const DEFAULT_AOT_CASES: u64 = 400;

fn main() {
    let args = Arguments::from_args();
    let env = |name: &str| {
        std::env::var(name).ok().map(|value| {
            value.parse::<u64>().unwrap_or_else(|_| panic!("{name} must be a number: {value}"))
        })
    };
    let executables =
        tempfile::Builder::new().prefix("strata-progen-").tempdir().expect("a temp dir");
    let dir = executables.path().to_path_buf();
    let trials = match env("PROGEN_SEED") {
        Some(seed) => vec![Trial::test(format!("seed_{seed}"), move || {
            let case = Case::new(seed);
            println!("---- program (seed {seed}) ----\n{}", case.program.text);
            for (label, run) in progen::runs(&case.program) {
                println!("---- {label} ----\n{run}");
            }
            case.check().map_err(Failed::from)?;
            progen::check_aot(&case.program, &dir, &format!("seed-{seed}")).map_err(Failed::from)
        })],
        None => {
            let start = env("PROGEN_START").unwrap_or(0);
            let cases = env("PROGEN_CASES").unwrap_or(DEFAULT_CASES);
            let aot_cases = env("PROGEN_AOT_CASES").unwrap_or(DEFAULT_AOT_CASES).min(cases);
            let mut trials: Vec<Trial> = (start..start + cases)
                .step_by(BATCH as usize)
                .map(|first| {
                    let last = (first + BATCH).min(start + cases);
                    Trial::test(format!("seeds_{first:08}_{:08}", last - 1), move || {
                        check_seeds(first..last)
                    })
                })
                .collect();
            trials.extend((start..start + aot_cases).step_by(BATCH as usize).map(|first| {
                let last = (first + BATCH).min(start + aot_cases);
                let dir = dir.clone();
                Trial::test(format!("aot_seeds_{first:08}_{:08}", last - 1), move || {
                    check_aot_seeds(first..last, &dir)
                })
            }));
            trials
        }
    };
    let conclusion = libtest_mimic::run(&args, trials);
    drop(executables);
    conclusion.exit();
}

/// Each seed's program built into an executable, run against `vm`.
fn check_aot_seeds(seeds: std::ops::Range<u64>, dir: &std::path::Path) -> Result<(), Failed> {
    let failures: Vec<String> = seeds
        .filter_map(|seed| {
            let program = Case::new(seed).program;
            progen::check_aot(&program, dir, &format!("seed-{seed}"))
                .err()
                .map(|failure| format!("seed {seed}: {failure}"))
        })
        .collect();
    match failures.first() {
        None => Ok(()),
        Some(first) => {
            Err(format!("{} failing seeds; the first:\n\n{first}", failures.len()).into())
        }
    }
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

/// The bytes for `seed`: between 1 KiB and about 100 bytes per statement
/// the configuration allows (16 KiB by default), so program sizes vary.
fn bytes_for(seed: u64, config: &progen::Config) -> Vec<u8> {
    let mut state = seed;
    let span = 100 * config.max_statements as u64 + 1;
    let len = 1024 + (splitmix64(&mut state) % span) as usize;
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// The generator's knobs: the defaults, or `PROGEN_SIZE` statements and
/// `PROGEN_DEPTH` levels of nesting.
fn config() -> progen::Config {
    let mut config = progen::Config::default();
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u32>().ok());
    if let Some(size) = env("PROGEN_SIZE") {
        config.max_statements = size;
    }
    if let Some(depth) = env("PROGEN_DEPTH") {
        config.max_depth = depth;
    }
    config
}

/// One generated program.
struct Case {
    seed: u64,
    program: progen::Program,
}

impl Case {
    fn new(seed: u64) -> Case {
        let config = config();
        let bytes = bytes_for(seed, &config);
        let program = progen::generate(&mut Unstructured::new(&bytes), &config);
        Case { seed, program }
    }

    fn check(&self) -> Result<(), String> {
        progen::check(&self.program).map_err(|report| {
            format!("seed {} (reproduce with PROGEN_SEED={}): {report}", self.seed, self.seed)
        })
    }
}
