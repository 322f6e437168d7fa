//! The lab (`strata bench`): one program under every execution strategy,
//! each in fresh processes, measured side by side.
//!
//! A strategy is each engine the driver knows (`driver::Engine::ALL`, run
//! as `strata run --engine NAME`), then `aot` (`strata build`, then the
//! executable), then any outside command the user adds (`--also`). For
//! each it measures start-up (an empty program), time to first output,
//! wall and CPU time (median and spread over the runs), peak RSS, the
//! engine's own `--stats=json` figures, and for `aot` the build time and
//! executable size; and it checks that every strategy printed the same.
//!
//! With `iterations`, one more process per strategy runs the program's
//! top level that many times (`strata run --iterations K`, or
//! `STRATA_ITERATIONS=K` for an executable), and the lab classifies the
//! curve of their times (`warmup.rs`).
//!
//! Processes are measured one at a time (`measure.rs`), so they do not
//! compete for the machine.

pub mod markdown;
mod measure;
pub mod report;
pub mod text;
pub mod warmup;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use driver::Engine;

pub use measure::{Measured, Output};
pub use warmup::{Class, Curve};

/// A way to run the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// `strata run --engine NAME FILE`.
    Engine(Engine),
    /// `strata build FILE`, then the executable.
    Aot,
    /// A command of the user's (`--also NAME=CMD`), run as it is.
    Outside { name: String, argv: Vec<String> },
}

impl Strategy {
    /// Every strategy Strata has, in the order the lab shows them.
    pub fn all() -> Vec<Strategy> {
        Engine::ALL.iter().map(|&engine| Strategy::Engine(engine)).chain([Strategy::Aot]).collect()
    }

    pub fn name(&self) -> String {
        match self {
            Strategy::Engine(engine) => engine.to_string(),
            Strategy::Aot => "aot".to_string(),
            Strategy::Outside { name, .. } => name.clone(),
        }
    }

    /// A strategy by name (`tree`, `vm`, `jit`, `aot`).
    pub fn named(name: &str) -> Option<Strategy> {
        Strategy::all().into_iter().find(|strategy| strategy.name() == name)
    }
}

/// How to run the lab.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `strata` binary to run engines with and build with.
    pub strata: PathBuf,
    /// Timed runs per strategy (and per start-up measure).
    pub runs: usize,
    pub strategies: Vec<Strategy>,
    /// Also run each strategy's top level this many times in one process
    /// and classify the curve (outside commands are not asked).
    pub iterations: Option<u32>,
    /// Set (by a Ctrl-C handler) to stop after the run under way; what was
    /// measured is kept.
    pub stop: Arc<AtomicBool>,
}

/// A sample's median and spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
    pub samples: usize,
}

impl Summary {
    pub(crate) fn of(mut samples: Vec<Duration>) -> Option<Summary> {
        samples.sort();
        let median = match samples.len() {
            0 => return None,
            n if n % 2 == 1 => samples[n / 2],
            n => (samples[n / 2 - 1] + samples[n / 2]) / 2,
        };
        Some(Summary {
            median,
            min: samples[0],
            max: samples[samples.len() - 1],
            samples: samples.len(),
        })
    }
}

/// What the lab found for one strategy.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    pub name: String,
    /// An empty program's wall time (`None` for outside commands).
    pub startup: Option<Summary>,
    pub wall: Option<Summary>,
    pub cpu: Option<Summary>,
    pub first_output: Option<Summary>,
    /// The largest peak RSS of the runs, in bytes.
    pub peak_rss: Option<u64>,
    /// The engine's `--stats=json` object (engines only).
    pub stats: Option<serde_json::Value>,
    /// For `aot`: the build's wall time and the executable's size.
    pub build: Option<(Duration, u64)>,
    /// The warm-up curve, when iterations were asked for.
    pub warmup: Option<Curve>,
    /// What the first run printed.
    pub output: Option<Output>,
    /// Why this strategy failed, if it did: a build that failed, a run
    /// that could not start or was killed, or runs that disagreed with
    /// each other.
    pub failure: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    pub program: PathBuf,
    pub runs: usize,
    /// Iterations of the repeated runs, if asked.
    pub iterations: Option<u32>,
    pub findings: Vec<Findings>,
    /// Strategies whose output differs from the first one's (by name).
    pub disagree: Vec<String>,
    /// Stopped early (Ctrl-C).
    pub stopped: bool,
}

/// What the lab is doing, for a progress display.
pub trait Progress {
    /// `step` of `steps` of the strategy `name`, the `index`th, starts.
    fn step(&mut self, index: usize, name: &str, step: usize, steps: usize);
}

/// A strategy's steps, told to a [`Progress`].
struct Steps<'a> {
    progress: &'a mut dyn Progress,
    index: usize,
    name: String,
    steps: usize,
}

impl Steps<'_> {
    fn at(&mut self, step: usize) {
        self.progress.step(self.index, &self.name, step, self.steps);
    }
}

/// Measure `program` under every strategy of `options`.
pub fn bench(program: &Path, options: &Options, progress: &mut dyn Progress) -> Report {
    let scratch = tempfile::Builder::new().prefix("strata-lab-").tempdir();
    let mut findings = Vec::new();
    let mut stopped = false;
    for (index, strategy) in options.strategies.iter().enumerate() {
        if options.stop.load(Ordering::Relaxed) {
            stopped = true;
            break;
        }
        let steps = options.runs * 2 + 3;
        let mut steps = Steps { progress: &mut *progress, index, name: strategy.name(), steps };
        let found = match &scratch {
            Ok(dir) => measure_strategy(strategy, program, dir.path(), options, &mut steps),
            Err(error) => Findings {
                name: strategy.name(),
                failure: Some(format!("no scratch directory: {error}")),
                ..Findings::default()
            },
        };
        findings.push(found);
    }
    stopped |= options.stop.load(Ordering::Relaxed);
    let reference = findings.iter().find_map(|found| found.output.as_ref());
    let disagree = findings
        .iter()
        .filter(|found| found.output.is_some() && found.output.as_ref() != reference)
        .map(|found| found.name.clone())
        .collect();
    Report {
        program: program.to_path_buf(),
        runs: options.runs,
        iterations: options.iterations,
        findings,
        disagree,
        stopped,
    }
}

fn measure_strategy(
    strategy: &Strategy,
    program: &Path,
    scratch: &Path,
    options: &Options,
    progress: &mut Steps<'_>,
) -> Findings {
    let name = strategy.name();
    let mut found = Findings { name: name.clone(), ..Findings::default() };
    let strata = options.strata.to_string_lossy().into_owned();
    let empty = scratch.join("empty.lox");
    if let Err(error) = std::fs::write(&empty, "") {
        found.failure = Some(format!("cannot write an empty program: {error}"));
        return found;
    }
    // The commands that run the program and the empty program.
    let (command, empty_command): (Vec<String>, Option<Vec<String>>) = match strategy {
        Strategy::Engine(engine) => {
            let run = |file: &Path| {
                vec![
                    strata.clone(),
                    "run".into(),
                    "--engine".into(),
                    engine.to_string(),
                    file.to_string_lossy().into_owned(),
                ]
            };
            (run(program), Some(run(&empty)))
        }
        Strategy::Aot => {
            progress.at(0);
            let executable = scratch.join("program");
            let started = Instant::now();
            let built = build(&strata, program, &executable);
            let time = started.elapsed();
            if let Err(why) = built {
                found.failure = Some(why);
                return found;
            }
            found.build = Some((time, measure::file_size(&executable)));
            let empty_executable = scratch.join("empty");
            let empty_command = build(&strata, &empty, &empty_executable)
                .ok()
                .map(|()| vec![empty_executable.to_string_lossy().into_owned()]);
            (vec![executable.to_string_lossy().into_owned()], empty_command)
        }
        Strategy::Outside { argv, .. } => (argv.clone(), None),
    };
    // One untimed run of each first, so that every timed run finds the
    // files in the page cache, as the runs after it do.
    for warm_up in [Some(&command), empty_command.as_ref()].into_iter().flatten() {
        let _ = measure::run(warm_up);
    }
    let mut startups = Vec::new();
    if let Some(empty_command) = &empty_command {
        for run in 0..options.runs {
            if options.stop.load(Ordering::Relaxed) {
                return found;
            }
            progress.at(run + 1);
            let measured = measure::run(empty_command);
            // A run under way when Ctrl-C came was ended by it too.
            if options.stop.load(Ordering::Relaxed) {
                break;
            }
            if let Ok(measured) = measured {
                startups.push(measured.wall);
            }
        }
    }
    found.startup = Summary::of(startups);
    let (mut walls, mut cpus, mut firsts) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..options.runs {
        if options.stop.load(Ordering::Relaxed) {
            break;
        }
        progress.at(options.runs + run + 1);
        let measured = measure::run(&command);
        if options.stop.load(Ordering::Relaxed) {
            break;
        }
        let measured = match measured {
            Ok(measured) => measured,
            Err(error) => {
                found.failure = Some(format!("cannot start `{}`: {error}", command.join(" ")));
                break;
            }
        };
        walls.push(measured.wall);
        cpus.push(measured.cpu);
        firsts.extend(measured.first_output);
        // Zero: the run could not be traced, so its peak is unknown.
        if measured.peak_rss > 0 {
            found.peak_rss = Some(found.peak_rss.unwrap_or(0).max(measured.peak_rss));
        }
        match &found.output {
            None => found.output = Some(measured.output),
            Some(first) if *first != measured.output => {
                found.failure.get_or_insert_with(|| {
                    format!("run {} printed something else than run 1", run + 1)
                });
            }
            Some(_) => {}
        }
    }
    if let Some(Output { code: None, .. }) = &found.output {
        found.failure.get_or_insert_with(|| "ended by a signal".to_string());
    }
    found.wall = Summary::of(walls);
    found.cpu = Summary::of(cpus);
    found.first_output = Summary::of(firsts);
    if let Strategy::Engine(_) = strategy
        && !options.stop.load(Ordering::Relaxed)
    {
        progress.at(options.runs * 2 + 1);
        let mut with_stats = command.clone();
        with_stats.insert(2, "--stats=json".to_string());
        found.stats = measure::run(&with_stats).ok().and_then(|measured| last_json(&measured));
    }
    if let Some(iterations) = options.iterations
        && !options.stop.load(Ordering::Relaxed)
    {
        progress.at(options.runs * 2 + 2);
        let measured = match strategy {
            Strategy::Engine(_) => {
                let mut repeated = command.clone();
                repeated.splice(
                    2..2,
                    ["--stats=json".to_string(), format!("--iterations={iterations}")],
                );
                Some(measure::run(&repeated))
            }
            Strategy::Aot => {
                Some(measure::run_with(&command, &[("STRATA_ITERATIONS", iterations.to_string())]))
            }
            Strategy::Outside { .. } => None,
        };
        if let Some(measured) = measured
            && !options.stop.load(Ordering::Relaxed)
        {
            match curve(measured) {
                Ok(curve) => found.warmup = Some(curve),
                Err(why) => {
                    found.failure.get_or_insert(why);
                }
            }
        }
    }
    found
}

/// The JSON object on the last line of a run's stderr (`--stats=json`).
fn last_json(measured: &Measured) -> Option<serde_json::Value> {
    let stderr = String::from_utf8_lossy(&measured.output.stderr).into_owned();
    serde_json::from_str(stderr.lines().last()?).ok()
}

/// The warm-up curve of a run of repeated iterations, or why there is none.
fn curve(measured: std::io::Result<Measured>) -> Result<Curve, String> {
    let measured = measured.map_err(|error| format!("cannot start the repeated run: {error}"))?;
    match measured.output.code {
        Some(0) => {}
        Some(code) => return Err(format!("the repeated run failed (exit code {code})")),
        None => return Err("the repeated run was ended by a signal".to_string()),
    }
    let times = last_json(&measured)
        .and_then(|stats| iteration_times(&stats))
        .ok_or("the repeated run reported no iteration times")?;
    Ok(warmup::classify(times))
}

/// The `iterations_ms` a run reported, as times. Whatever a process
/// printed, none can panic here or in the sums made of them: each is
/// clamped to between zero and a year.
fn iteration_times(stats: &serde_json::Value) -> Option<Vec<Duration>> {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
    let time =
        |ms: f64| Duration::try_from_secs_f64(ms.max(0.0) / 1000.0).unwrap_or(YEAR).min(YEAR);
    stats["iterations_ms"].as_array()?.iter().map(|ms| Some(time(ms.as_f64()?))).collect()
}

/// `strata build PROGRAM -o EXECUTABLE`, or why it failed.
fn build(strata: &str, program: &Path, executable: &Path) -> Result<(), String> {
    let argv = [
        strata.to_string(),
        "build".to_string(),
        program.to_string_lossy().into_owned(),
        "-o".to_string(),
        executable.to_string_lossy().into_owned(),
    ];
    let measured = measure::run(&argv).map_err(|error| format!("cannot build: {error}"))?;
    match measured.output.code {
        Some(0) => Ok(()),
        _ => Err(format!(
            "the build failed: {}",
            String::from_utf8_lossy(&measured.output.stderr).trim_end()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iteration_times_are_clamped_never_a_panic() {
        let stats = serde_json::json!({ "iterations_ms": [1.5, -3.0, 1e300, 0.0] });
        let year = Duration::from_secs(365 * 24 * 3600);
        let expected = [Duration::from_micros(1500), Duration::ZERO, year, Duration::ZERO];
        assert_eq!(iteration_times(&stats), Some(expected.to_vec()));
        assert_eq!(iteration_times(&serde_json::json!({ "iterations_ms": ["x"] })), None);
        assert_eq!(iteration_times(&serde_json::json!({ "engine": "vm" })), None);
    }
}
