//! Running one program every way Strata can, and comparing: the check
//! shared by the differential test and the `differential` fuzz target.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use driver::{DiagnosticStyle, Engine, GcConfig, Interrupt, Options, Outcome, Session};

use crate::Program;

/// How long one run of a generated program may take before it is
/// interrupted. Generated programs finish in milliseconds, so a run this
/// long is an engine that loops where it should not.
pub const RUN_LIMIT: Duration = Duration::from_secs(20);

/// Run `body`, requesting `interrupt` if it is still running after `limit`
/// (from a watchdog thread, which is gone when this returns).
pub fn with_watchdog<T>(interrupt: &Interrupt, limit: Duration, body: impl FnOnce() -> T) -> T {
    let finished = Arc::new((Mutex::new(false), Condvar::new()));
    let watch = Arc::clone(&finished);
    let interrupt = interrupt.clone();
    let watchdog = std::thread::spawn(move || {
        let (lock, wake) = &*watch;
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let waited = wake.wait_timeout_while(guard, limit, |done| !*done);
        if waited.is_ok_and(|(_, wait)| wait.timed_out()) {
            interrupt.request();
        }
    });
    let result = body();
    *finished.0.lock().unwrap_or_else(|e| e.into_inner()) = true;
    finished.1.notify_one();
    let _ = watchdog.join();
    result
}

/// What one run produced, or the panic that ended it.
#[derive(Debug, PartialEq, Eq)]
pub enum Run {
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

fn run_engine(program: &str, engine: Engine, stress: bool, stress_deopt: bool) -> Run {
    let interrupt = Interrupt::new();
    let mut options = Options {
        engine,
        gc: GcConfig { stress, ..GcConfig::default() },
        interrupt: Some(interrupt.clone()),
        ..Options::default()
    };
    // Whole programs: every function compiled at its first call.
    options.jit.threshold = 0;
    options.jit.stress_deopt = stress_deopt;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    match catch_unwind(AssertUnwindSafe(|| {
        with_watchdog(&interrupt, RUN_LIMIT, || {
            driver::run(program.as_bytes(), options, &mut out, &mut err)
        })
    })) {
        Ok(outcome) => Run::Ended { outcome, stdout: text(out), stderr: text(err) },
        Err(payload) => Run::Panicked(panic_message(payload)),
    }
}

/// Compile to `.loxc` bytes, then load, verify and run them on `vm`.
fn run_loxc(program: &str) -> Run {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = catch_unwind(AssertUnwindSafe(|| {
        let Some(bytes) =
            driver::compile_to_bytes(program.as_bytes(), &DiagnosticStyle::Plain, &mut err)
        else {
            return Ok(Outcome::CompileError);
        };
        let interrupt = Interrupt::new();
        let options = Options {
            engine: Engine::Vm,
            interrupt: Some(interrupt.clone()),
            ..Options::default()
        };
        let mut session = driver::Session::new(options);
        with_watchdog(&interrupt, RUN_LIMIT, || session.run_bytecode(&bytes, &mut out, &mut err))
            .map_err(|e| e.to_string())
    }));
    match result {
        Ok(Ok(outcome)) => Run::Ended { outcome, stdout: text(out), stderr: text(err) },
        Ok(Err(load_error)) => {
            Run::Panicked(format!("a freshly compiled file does not load: {load_error}"))
        }
        Err(payload) => Run::Panicked(panic_message(payload)),
    }
}

/// `program` fed to one session of `engine` a top-level statement at a
/// time, as the REPL does: globals persist from entry to entry, and a
/// runtime error ends only its entry. The outcome is the first that is not
/// a success; the output is every entry's.
fn run_entries(program: &Program, engine: Engine) -> Run {
    let interrupt = Interrupt::new();
    let mut options = Options { engine, interrupt: Some(interrupt.clone()), ..Options::default() };
    // Entry by entry: functions tier up after their second call, so calls
    // go both ways between interpreted and compiled code.
    options.jit.threshold = 2;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut session = Session::new(options);
        with_watchdog(&interrupt, RUN_LIMIT, || {
            let mut first_failure = None;
            for entry in program.entry_texts() {
                let outcome = session.eval(entry.as_bytes(), &mut out, &mut err);
                if outcome != Outcome::Success {
                    first_failure.get_or_insert(outcome);
                }
            }
            first_failure.unwrap_or(Outcome::Success)
        })
    }));
    match result {
        Ok(outcome) => Run::Ended { outcome, stdout: text(out), stderr: text(err) },
        Err(payload) => Run::Panicked(panic_message(payload)),
    }
}

/// Labels of the runs that feed a program one statement at a time; they
/// are compared with each other, not with whole-program runs.
const ENTRIES: &str = "entry by entry";

/// `program` run every way, labelled: each engine of `Engine::ALL`
/// normally and under GC stress (`jit` compiling every function at its
/// first call), `jit` with every guard failing the first time it runs
/// (deopt stress mode), alone and under GC stress, then `vm` through a
/// `.loxc` round trip, then each engine
/// fed one top-level statement at a time (`jit` compiling functions at
/// their second call, so the tiers mix). A panic is
/// caught and becomes `Run::Panicked`.
pub fn runs(program: &Program) -> Vec<(String, Run)> {
    let text = program.text.as_str();
    let mut runs = Vec::new();
    for &engine in Engine::ALL {
        runs.push((engine.to_string(), run_engine(text, engine, false, false)));
        runs.push((format!("{engine} --gc-stress"), run_engine(text, engine, true, false)));
    }
    for stress in [false, true] {
        let label =
            if stress { "jit --jit-stress-deopt --gc-stress" } else { "jit --jit-stress-deopt" };
        runs.push((label.to_string(), run_engine(text, Engine::Jit, stress, true)));
    }
    runs.push(("vm via .loxc".to_string(), run_loxc(text)));
    for &engine in Engine::ALL {
        runs.push((format!("{engine} {ENTRIES}"), run_entries(program, engine)));
    }
    runs
}

/// Whether every run of `program` agrees (whole-program runs with each
/// other, entry-by-entry runs with each other), it compiles, and nothing
/// panics; if not, a report with the program and every run that differs.
pub fn check(program: &Program) -> Result<(), String> {
    let runs = runs(program);
    let mut problems = Vec::new();
    if let Run::Ended { outcome: Outcome::CompileError, .. } = &runs[0].1 {
        problems.push("the generated program does not compile".to_string());
    }
    let (entries, whole): (Vec<_>, Vec<_>) =
        runs.iter().partition(|(label, _)| label.ends_with(ENTRIES));
    let mut differing = Vec::new();
    for group in [&whole, &entries] {
        let (first_label, first) = group[0];
        for &(label, run) in group.iter() {
            if let Run::Ended { stderr, .. } = run
                && stderr.starts_with("Interrupted.")
            {
                problems.push(format!("{label} ran past {RUN_LIMIT:?} and was interrupted"));
            }
            if let Run::Panicked(_) = run {
                problems.push(format!("{label} panicked"));
                differing.push((label, run));
            } else if run != first {
                problems.push(format!("{label} differs from {first_label}"));
                differing.push((label, run));
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let mut report = format!("{}\n---- program ----\n{}", problems.join(", "), program.text);
    for (label, run) in [whole[0], entries[0]] {
        report.push_str(&format!("---- {label} ----\n{run}\n"));
    }
    for (label, run) in differing {
        report.push_str(&format!("---- {label} ----\n{run}\n"));
    }
    Err(report)
}

/// `program` built into an executable in `dir` (`strata build`) and run as
/// a process: it must print what `vm` prints, byte for byte, with the
/// same outcome, and the build must neither fail nor panic.
pub fn check_aot(program: &Program, dir: &std::path::Path, name: &str) -> Result<(), String> {
    let text = program.text.as_str();
    let reference = run_engine(text, Engine::Vm, false, false);
    let built = match catch_unwind(AssertUnwindSafe(|| build_and_run(text, &dir.join(name)))) {
        Ok(Ok(run)) => run,
        Ok(Err(why)) => Run::Panicked(why),
        Err(payload) => Run::Panicked(panic_message(payload)),
    };
    if built == reference {
        return Ok(());
    }
    Err(format!(
        "aot differs from vm\n---- program ----\n{}---- vm ----\n{reference}\n---- aot ----\n{built}\n",
        program.text
    ))
}

/// Build `program` into `executable`, run it (killed after [`RUN_LIMIT`])
/// and remove it.
fn build_and_run(program: &str, executable: &std::path::Path) -> Result<Run, String> {
    let mut err = Vec::new();
    let input = driver::BuildInput::Source(program.as_bytes());
    let built = match driver::build(input, &DiagnosticStyle::Plain, false, &mut err) {
        Ok(built) => built,
        Err(driver::BuildError::Compile) => {
            let (stdout, stderr) = (String::new(), text(err));
            return Ok(Run::Ended { outcome: Outcome::CompileError, stdout, stderr });
        }
        Err(error) => return Err(format!("cannot build: {error:?}")),
    };
    driver::link(&built.object, executable).map_err(|error| format!("cannot link: {error}"))?;
    // Output into files, not pipes: the run is polled, not waited on, so
    // nothing drains pipes meanwhile.
    let stdout_path = executable.with_extension("stdout");
    let stderr_path = executable.with_extension("stderr");
    let file = |path: &std::path::Path| {
        std::fs::File::create(path)
            .map_err(|error| format!("cannot create {}: {error}", path.display()))
    };
    let mut child = std::process::Command::new(executable)
        .env_remove("STRATA_GC")
        .stdout(file(&stdout_path)?)
        .stderr(file(&stderr_path)?)
        .spawn()
        .map_err(|error| format!("cannot start the executable: {error}"))?;
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > RUN_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("the executable ran past {RUN_LIMIT:?}"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(error) => return Err(format!("cannot wait for the executable: {error}")),
        }
    };
    let read = |path: &std::path::Path| text(std::fs::read(path).unwrap_or_default());
    let (stdout, stderr) = (read(&stdout_path), read(&stderr_path));
    for path in [executable, &stdout_path, &stderr_path] {
        let _ = std::fs::remove_file(path);
    }
    let outcome = match status.code() {
        Some(0) => Outcome::Success,
        Some(65) => Outcome::CompileError,
        Some(70) => Outcome::RuntimeError,
        Some(74) => Outcome::OutputError,
        _ => return Err(format!("the executable ended by {status}")),
    };
    Ok(Run::Ended { outcome, stdout, stderr })
}
