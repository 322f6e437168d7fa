//! The conformance suite: every `.lox` file under `tests/conformance/` on
//! every engine the driver knows, normally and with the collector running at
//! every allocation (`jit` also with every function compiled at its first
//! call, `jit-eager`, and then also with every guard of optimized code
//! failing the first time it runs, `jit-eager-deopt`), plus a check that all engines agree byte for byte,
//! and a run of every file through a `.loxc` round trip (compile to bytes,
//! load, verify, run on `vm` and on `jit`). Every benchmark program in
//! `benches/` runs in every engine too, checked against its expected
//! output. And every file and benchmark is built into an executable
//! (`strata build`), run as its own process, normally (also compared with
//! `vm` byte for byte) and with `STRATA_GC=stress`. Each file also runs
//! twice in one session (`-repeat`), as `strata run --iterations 2` does.
//!
//! Expectations are comments in the files (see tests/conformance/README.md):
//! `// expect: TEXT`, `// expect runtime error: MESSAGE`, `// expect trace:
//! TEXT`, and compile errors `// Error ...` or `// [line N] Error ...`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use driver::{Engine, GcConfig, Options, Outcome};
use libtest_mimic::{Arguments, Failed, Trial};

/// Files an engine is allowed to fail, with the reason. Every entry is a
/// known gap; the suite fails if a listed file starts passing, so the list
/// cannot go stale.
const EXCEPTIONS: &[(Engine, &str, &str)] = &[];

/// One way to run a program: an engine, the collector at every allocation
/// or not, and for `jit`, whether every function is compiled at its first
/// call (`eager`) or only hot ones (the default threshold: mixed mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Config {
    engine: Engine,
    stress: bool,
    eager: bool,
    /// Deopt stress mode (`--jit-stress-deopt`).
    deopt: bool,
}

impl Config {
    const fn new(engine: Engine, stress: bool, eager: bool) -> Config {
        Config { engine, stress, eager, deopt: false }
    }

    const fn deopting(self) -> Config {
        Config { deopt: true, ..self }
    }

    fn label(self) -> String {
        let mut label = self.engine.to_string();
        if self.eager {
            label.push_str("-eager");
        }
        if self.deopt {
            label.push_str("-deopt");
        }
        if self.stress {
            label.push_str("-gc-stress");
        }
        label
    }

    fn options(self) -> Options {
        let mut options = Options {
            engine: self.engine,
            gc: GcConfig { stress: self.stress, ..GcConfig::default() },
            ..Options::default()
        };
        if self.eager {
            options.jit.threshold = 0;
        }
        options.jit.stress_deopt = self.deopt;
        options
    }
}

/// Every configuration each corpus file runs in.
const CONFIGS: &[Config] = &[
    Config::new(Engine::Tree, false, false),
    Config::new(Engine::Tree, true, false),
    Config::new(Engine::Vm, false, false),
    Config::new(Engine::Vm, true, false),
    Config::new(Engine::Jit, false, false),
    Config::new(Engine::Jit, false, true),
    Config::new(Engine::Jit, false, true).deopting(),
    Config::new(Engine::Jit, true, true).deopting(),
];

/// The configurations each corpus file also runs in twice in one session
/// (`Session::eval_repeatedly`, `strata run --iterations 2`): the second
/// run finds the globals, caches, feedback and machine code the first left.
const REPEAT_CONFIGS: &[Config] = &[
    Config::new(Engine::Tree, false, false),
    Config::new(Engine::Vm, false, false),
    Config::new(Engine::Jit, false, true),
    Config::new(Engine::Jit, false, true).deopting(),
];

/// The configurations benchmarks run in (no collector stress: too slow).
const BENCH_CONFIGS: &[Config] = &[
    Config::new(Engine::Tree, false, false),
    Config::new(Engine::Vm, false, false),
    Config::new(Engine::Jit, false, false),
    Config::new(Engine::Jit, false, true),
    Config::new(Engine::Jit, false, true).deopting(),
];

fn main() {
    let args = Arguments::from_args();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance");
    let mut files = Vec::new();
    collect_lox_files(&root, &mut files);
    files.sort();
    assert!(!files.is_empty(), "no conformance files under {}", root.display());
    for &engine in Engine::ALL {
        assert!(
            CONFIGS.iter().any(|config| config.engine == engine && !config.stress)
                && CONFIGS.iter().any(|config| config.engine == engine && config.stress)
                && BENCH_CONFIGS.iter().any(|config| config.engine == engine),
            "{engine} is missing from the suite's configurations"
        );
    }

    let mut trials = Vec::new();
    for path in &files {
        let name = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        for &config in CONFIGS {
            let (path, name) = (path.clone(), name.clone());
            trials.push(Trial::test(format!("{}::{name}", config.label()), move || {
                check_file(&path, &name, config)
            }));
        }
        for engine in [Engine::Vm, Engine::Jit] {
            let (path_loxc, name_loxc) = (path.clone(), name.clone());
            trials.push(Trial::test(format!("{engine}-loxc::{name}"), move || {
                check_loxc(&path_loxc, &name_loxc, engine)
            }));
        }
        for &config in REPEAT_CONFIGS {
            let (path, name) = (path.clone(), name.clone());
            trials.push(Trial::test(format!("{}-repeat::{name}", config.label()), move || {
                check_repeated(&path, &name, config)
            }));
        }
        let path = path.clone();
        trials.push(Trial::test(format!("engines-agree::{name}"), move || engines_agree(&path)));
    }
    trials.extend(benchmark_trials());
    // AOT: every file and benchmark built into an executable, which runs
    // as its own process, normally and with the collector at every
    // allocation.
    let executables = tempfile::Builder::new().prefix("strata-aot-").tempdir().expect("a temp dir");
    let aot = Aot::new(executables.path());
    for path in &files {
        let name = path.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        for stress in [false, true] {
            let (aot, path, name) = (aot.clone(), path.clone(), name.clone());
            let label = if stress { "aot-gc-stress" } else { "aot" };
            trials.push(Trial::test(format!("{label}::{name}"), move || {
                check_aot(&aot, &path, &name, stress)
            }));
        }
        let (aot_repeat, path, name) = (aot.clone(), path.clone(), name.clone());
        trials.push(Trial::test(format!("aot-repeat::{name}"), move || {
            check_aot_repeated(&aot_repeat, &path, &name)
        }));
    }
    for path in benchmark_programs() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let aot = aot.clone();
        trials.push(Trial::test(format!("bench-aot::{name}"), move || {
            check_aot_benchmark(&aot, &path)
        }));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    drop(executables);
    conclusion.exit();
}

/// Executables built from the corpus, each once, shared by the trials
/// that run it.
#[derive(Clone)]
struct Aot {
    dir: PathBuf,
    built: Arc<Mutex<HashMap<PathBuf, Arc<OnceLock<Build>>>>>,
    next: Arc<AtomicUsize>,
}

/// What building a file gave.
enum Build {
    Executable(PathBuf),
    /// It did not compile: the build's outcome and diagnostics.
    Failed(Run),
}

impl Aot {
    fn new(dir: &Path) -> Aot {
        Aot { dir: dir.to_path_buf(), built: Arc::default(), next: Arc::default() }
    }

    /// Build `path` (once) and run the executable, with the collector at
    /// every allocation if `stress`. A program that does not compile runs
    /// nothing: its result is the build's (diagnostics, exit 65).
    fn run(&self, path: &Path, stress: bool) -> Run {
        self.run_with(path, &[("STRATA_GC", if stress { "stress" } else { "" })])
    }

    /// [`Aot::run`], with `env` set for the executable.
    fn run_with(&self, path: &Path, env: &[(&str, &str)]) -> Run {
        let slot = Arc::clone(self.built.lock().unwrap().entry(path.to_path_buf()).or_default());
        let build = slot.get_or_init(|| {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            build_executable(path, &self.dir.join(format!("program-{n}")))
        });
        match build {
            Build::Executable(executable) => run_executable(executable, env),
            Build::Failed(run) => run.clone(),
        }
    }
}

/// Build `path` into `executable`, as `strata build` does.
fn build_executable(path: &Path, executable: &Path) -> Build {
    let source = std::fs::read(path).expect("a readable file");
    let mut err = Vec::new();
    let style = driver::DiagnosticStyle::Plain;
    let built = match driver::build(driver::BuildInput::Source(&source), &style, false, &mut err) {
        Ok(built) => built,
        Err(driver::BuildError::Compile) => {
            let stderr = String::from_utf8(err).expect("stderr is UTF-8");
            return Build::Failed(Run {
                outcome: Outcome::CompileError,
                stdout: String::new(),
                stderr,
            });
        }
        Err(error) => panic!("{}: cannot build: {error:?}", path.display()),
    };
    if let Err(error) = driver::link(&built.object, executable) {
        panic!("{}: cannot link: {error}", path.display());
    }
    Build::Executable(executable.to_path_buf())
}

fn run_executable(executable: &Path, env: &[(&str, &str)]) -> Run {
    let mut command = std::process::Command::new(executable);
    command.env_remove("STRATA_GC").env_remove("STRATA_ITERATIONS").envs(env.iter().copied());
    let output = command.output().expect("the executable runs");
    let outcome = match output.status.code() {
        Some(0) => Outcome::Success,
        Some(65) => Outcome::CompileError,
        Some(70) => Outcome::RuntimeError,
        Some(74) => Outcome::OutputError,
        _ => panic!("{}: ended by {}", executable.display(), output.status),
    };
    Run {
        outcome,
        stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
    }
}

/// The file's executable meets its expectations and prints, byte for byte,
/// what `vm` prints; under collector stress, it meets its expectations.
fn check_aot(aot: &Aot, path: &Path, name: &str, stress: bool) -> Result<(), Failed> {
    let source = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let expected = parse_expectations(&String::from_utf8_lossy(&source));
    let actual = aot.run(path, stress);
    compare(&expected, &actual).map_err(|failure| format!("{name}: {failure}"))?;
    if !stress {
        let reference = run(&source, Config::new(Engine::Vm, false, false));
        if actual != reference {
            return Err(format!("aot differs from vm:\n{actual:#?}\nvs\n{reference:#?}").into());
        }
    }
    Ok(())
}

/// The file's executable with `STRATA_ITERATIONS=2` does what two runs
/// would (as [`check_repeated`] asks of the engines), and then reports the
/// two runs' times as the last line on stderr.
fn check_aot_repeated(aot: &Aot, path: &Path, name: &str) -> Result<(), Failed> {
    let once = aot.run(path, false);
    let mut twice = aot.run_with(path, &[("STRATA_ITERATIONS", "2")]);
    if once.outcome == Outcome::CompileError {
        return (twice == once).then_some(()).ok_or_else(|| format!("{name}: {twice:#?}").into());
    }
    let report = twice.stderr.lines().last().unwrap_or_default().to_string();
    if !report.starts_with("{\"iterations_ms\":[") {
        return Err(format!("{name}: no iteration times on stderr: {twice:#?}").into());
    }
    twice.stderr.truncate(twice.stderr.len() - report.len() - 1);
    ran_twice_as_once(name, once, twice)
}

fn check_aot_benchmark(aot: &Aot, path: &Path) -> Result<(), Failed> {
    benchmark_prints_its_expected_output(path, "aot", aot.run(path, false))
}

/// Every benchmark program in `benches/` in every configuration: each
/// prints exactly its `.expected` output and exits successfully, so the
/// engines agree on real programs too, not only on the corpus's small ones.
fn benchmark_trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    for path in benchmark_programs() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        for &config in BENCH_CONFIGS {
            let path = path.clone();
            trials.push(Trial::test(format!("bench-{}::{name}", config.label()), move || {
                check_benchmark(&path, config)
            }));
        }
    }
    trials
}

/// The benchmark programs in `benches/`.
fn benchmark_programs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benches");
    let mut programs = Vec::new();
    collect_lox_files(&dir, &mut programs);
    programs.sort();
    assert!(!programs.is_empty(), "no benchmark programs under {}", dir.display());
    programs
}

fn check_benchmark(path: &Path, config: Config) -> Result<(), Failed> {
    let source = std::fs::read(path).map_err(|e| e.to_string())?;
    benchmark_prints_its_expected_output(path, &config.label(), run(&source, config))
}

/// The benchmark at `path` ran as `actual` (on `label`): it must have
/// printed exactly its `.expected` output and succeeded.
fn benchmark_prints_its_expected_output(
    path: &Path,
    label: &str,
    actual: Run,
) -> Result<(), Failed> {
    let expected = std::fs::read_to_string(path.with_extension("expected"))
        .map_err(|e| format!("{}: {e}", path.with_extension("expected").display()))?;
    let wanted = Run { outcome: Outcome::Success, stdout: expected, stderr: String::new() };
    if actual != wanted {
        return Err(format!("{label}: expected\n{wanted:#?}\ngot\n{actual:#?}").into());
    }
    Ok(())
}

fn collect_lox_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read conformance directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect_lox_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "lox") {
            files.push(path);
        }
    }
}

/// What one run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Run {
    outcome: Outcome,
    stdout: String,
    stderr: String,
}

fn run(source: &[u8], config: Config) -> Run {
    run_checking_the_collector(source, config).0
}

/// Run, and list every collection that ended with a bigger heap than it
/// started with. A collection only frees, so that means some growth of an
/// object (a table, a field vector) was not counted when it happened: the
/// heap limit and `--gc-log` would both be wrong.
fn run_checking_the_collector(source: &[u8], config: Config) -> (Run, Vec<String>) {
    let grew = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let log_grew = std::rc::Rc::clone(&grew);
    let gc_log: driver::GcLog = Box::new(move |report| {
        if report.bytes_after > report.bytes_before {
            log_grew.borrow_mut().push(report.to_string());
        }
    });
    let options = Options { gc_log: Some(gc_log), ..config.options() };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome = driver::run(source, options, &mut out, &mut err);
    let run = Run {
        outcome,
        stdout: String::from_utf8(out).expect("stdout is UTF-8"),
        stderr: String::from_utf8(err).expect("stderr is UTF-8"),
    };
    let grew = grew.borrow().clone();
    (run, grew)
}

/// A file's top level run twice in one session does exactly what two runs
/// would: a deterministic program that completed once completes again the
/// same way (any global it read before defining would have failed the
/// first run), and one that failed stops at its first run.
fn check_repeated(path: &Path, name: &str, config: Config) -> Result<(), Failed> {
    let source = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let once = run(&source, config);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome =
        driver::Session::new(config.options()).eval_repeatedly(&source, 2, &mut out, &mut err);
    let twice = Run {
        outcome,
        stdout: String::from_utf8(out).expect("stdout is UTF-8"),
        stderr: String::from_utf8(err).expect("stderr is UTF-8"),
    };
    ran_twice_as_once(name, once, twice)
}

/// `twice`, a run of the top level twice in one process, did what `once`
/// did, its output twice if it succeeded.
fn ran_twice_as_once(name: &str, once: Run, twice: Run) -> Result<(), Failed> {
    let wanted = match once.outcome {
        Outcome::Success => Run { stdout: once.stdout.repeat(2), ..once },
        _ => once,
    };
    if twice != wanted {
        return Err(format!("{name}: run twice, expected\n{wanted:#?}\ngot\n{twice:#?}").into());
    }
    Ok(())
}

/// Compile to `.loxc` bytes, then load, verify and run them on `engine`
/// (`jit`: every function compiled at its first call).
fn run_loxc(source: &[u8], engine: Engine) -> Run {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let style = driver::DiagnosticStyle::Plain;
    let outcome = match driver::compile_to_bytes(source, &style, &mut err) {
        None => Outcome::CompileError,
        Some(bytes) => {
            let mut session = driver::Session::new(Config::new(engine, false, true).options());
            match session.run_bytecode(&bytes, &mut out, &mut err) {
                Ok(outcome) => outcome,
                Err(error) => panic!("a freshly compiled file must load: {error}"),
            }
        }
    };
    Run {
        outcome,
        stdout: String::from_utf8(out).expect("stdout is UTF-8"),
        stderr: String::from_utf8(err).expect("stderr is UTF-8"),
    }
}

fn check_loxc(path: &Path, name: &str, engine: Engine) -> Result<(), Failed> {
    let source = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let expected = parse_expectations(&String::from_utf8_lossy(&source));
    compare(&expected, &run_loxc(&source, engine))
        .map_err(|failure| format!("{name}: {failure}").into())
}

/// What a file's annotations say it must do.
#[derive(Debug, Default)]
struct Expected {
    stdout: Vec<String>,
    compile_errors: Vec<String>,
    runtime_error: Option<(String, usize)>,
    trace: Vec<String>,
}

fn parse_expectations(source: &str) -> Expected {
    let mut expected = Expected::default();
    for (index, line) in source.lines().enumerate() {
        let line_no = index + 1;
        // The annotation is the first `//` that starts one: an earlier `//`
        // may be inside a string literal.
        let Some(comment) = line
            .match_indices("//")
            .map(|(at, _)| line[at + 2..].trim_start())
            .find(|c| is_annotation(c))
        else {
            continue;
        };
        if let Some(text) = comment.strip_prefix("expect: ") {
            expected.stdout.push(text.to_string());
        } else if comment == "expect:" {
            expected.stdout.push(String::new());
        } else if let Some(message) = comment.strip_prefix("expect runtime error: ") {
            expected.runtime_error = Some((message.to_string(), line_no));
        } else if let Some(text) = comment.strip_prefix("expect trace: ") {
            expected.trace.push(text.to_string());
        } else if comment.starts_with("Error at ") || comment.starts_with("Error: ") {
            expected.compile_errors.push(format!("[line {line_no}] {comment}"));
        } else if comment.starts_with("[line ") && comment.contains("] Error") {
            expected.compile_errors.push(comment.to_string());
        }
    }
    expected
}

fn is_annotation(comment: &str) -> bool {
    ["expect:", "expect runtime error: ", "expect trace: ", "Error at ", "Error: "]
        .iter()
        .any(|prefix| comment.starts_with(prefix))
        || (comment.starts_with("[line ") && comment.contains("] Error"))
}

fn check_file(path: &Path, name: &str, config: Config) -> Result<(), Failed> {
    let source = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let expected = parse_expectations(&String::from_utf8_lossy(&source));
    let (actual, grew) = run_checking_the_collector(&source, config);
    if let Some(first) = grew.first() {
        return Err(format!(
            "{name}: {} collections ended with a bigger heap than they started with, \
             the first: {first}",
            grew.len()
        )
        .into());
    }
    let verdict = compare(&expected, &actual);
    let engine = config.engine;
    let exception = EXCEPTIONS.iter().find(|(e, file, _)| *e == engine && *file == name);
    match (verdict, exception) {
        (Ok(()), None) => Ok(()),
        (Err(failure), None) => Err(failure.into()),
        (Err(_), Some(_)) => Ok(()),
        (Ok(()), Some((_, _, reason))) => {
            Err(format!("{name} now passes on {engine}: remove its EXCEPTIONS entry ({reason})")
                .into())
        }
    }
}

fn compare(expected: &Expected, actual: &Run) -> Result<(), String> {
    let stdout: Vec<&str> = actual.stdout.lines().collect();
    let stderr: Vec<&str> = actual.stderr.lines().collect();
    let show = || format!("\n--- stdout ---\n{}--- stderr ---\n{}", actual.stdout, actual.stderr);

    if !expected.compile_errors.is_empty() {
        if actual.outcome != Outcome::CompileError {
            return Err(format!("expected compile errors, got {:?}{}", actual.outcome, show()));
        }
        if !stdout.is_empty() {
            return Err(format!("a program with compile errors printed output{}", show()));
        }
        if stderr != expected.compile_errors {
            return Err(format!(
                "compile errors differ\nexpected:\n{}\n{}",
                expected.compile_errors.join("\n"),
                show()
            ));
        }
        return Ok(());
    }

    if stdout != expected.stdout {
        return Err(format!(
            "stdout differs\nexpected:\n{}\n{}",
            expected.stdout.join("\n"),
            show()
        ));
    }

    match &expected.runtime_error {
        Some((message, line)) => {
            if actual.outcome != Outcome::RuntimeError {
                return Err(format!(
                    "expected a runtime error, got {:?}{}",
                    actual.outcome,
                    show()
                ));
            }
            if stderr.first() != Some(&message.as_str()) {
                return Err(format!("expected runtime error '{message}'{}", show()));
            }
            let trace_start = format!("[line {line}]");
            if !stderr.get(1).is_some_and(|l| l.starts_with(&trace_start)) {
                return Err(format!("expected the trace to start with '{trace_start}'{}", show()));
            }
            if !expected.trace.is_empty() && stderr[1..] != expected.trace {
                return Err(format!(
                    "trace differs\nexpected:\n{}\n{}",
                    expected.trace.join("\n"),
                    show()
                ));
            }
        }
        None => {
            if actual.outcome != Outcome::Success || !stderr.is_empty() {
                return Err(format!("expected success, got {:?}{}", actual.outcome, show()));
            }
        }
    }
    Ok(())
}

/// Every configuration without collector stress gives the same stdout,
/// stderr and outcome as the first.
fn engines_agree(path: &Path) -> Result<(), Failed> {
    let source = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut configs = CONFIGS.iter().filter(|config| !config.stress);
    let first = *configs.next().expect("a configuration");
    let reference = run(&source, first);
    for &config in configs {
        let other = run(&source, config);
        if other != reference {
            return Err(format!(
                "{} differs from {}:\n{:#?}\nvs\n{:#?}",
                config.label(),
                first.label(),
                other,
                reference
            )
            .into());
        }
    }
    Ok(())
}
