//! `strata bench FILE`: the lab (`crates/lab`) on one program, shown as a
//! table on stdout, or as one JSON object (`--json`). Progress goes to
//! stderr while it runs (a bar on a terminal). Ctrl-C stops it after the
//! run under way and shows what was measured.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use lab::Strategy;

use crate::exit;
use crate::output::{Output, WriteFailure};

pub(crate) struct BenchArgs {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) strategies: Vec<Strategy>,
    pub(crate) runs: usize,
    pub(crate) iterations: Option<u32>,
    /// Where to write the plots and the page (`--report DIR`).
    pub(crate) report: Option<PathBuf>,
    /// Where to write the Markdown page over every program (`--markdown`).
    pub(crate) markdown: Option<PathBuf>,
    pub(crate) json: bool,
}

/// One name of `--engines`.
pub(crate) fn parse_strategy(name: &str) -> Result<Strategy, String> {
    Strategy::named(name.trim()).ok_or_else(|| {
        let names: Vec<String> = Strategy::all().iter().map(Strategy::name).collect();
        format!("unknown engine '{name}' (expected some of: {})", names.join(", "))
    })
}

/// An outside command as `--also` takes it: `NAME=COMMAND LINE`, the line
/// split as a POSIX shell would (quotes, backslashes), not run by one.
pub(crate) fn parse_outside(text: &str) -> Result<Strategy, String> {
    let (name, line) =
        text.split_once('=').ok_or_else(|| format!("'{text}' is not NAME=COMMAND"))?;
    let argv = shlex::split(line).filter(|argv| !argv.is_empty());
    let argv = argv.ok_or_else(|| format!("'{line}' is not a command line"))?;
    Ok(Strategy::Outside { name: name.to_string(), argv })
}

/// Measure every program in turn, printing each one's findings as they
/// come; then write the Markdown page over all of them, if asked.
pub(crate) fn bench_files(args: &BenchArgs) -> u8 {
    let strata = match std::env::current_exe() {
        Ok(path) => path,
        Err(error) => {
            complain!("cannot find the strata binary itself: {}", crate::describe(&error));
            return exit::IO_ERROR;
        }
    };
    for file in &args.files {
        if let Err(error) = std::fs::metadata(file) {
            complain!("cannot read '{}': {}", file.display(), crate::describe(&error));
            return exit::IO_ERROR;
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let on_interrupt = Arc::clone(&stop);
    // Without the handler, Ctrl-C would end the lab with the run; a failure
    // to install it only loses that.
    let _ = ctrlc::set_handler(move || on_interrupt.store(true, Ordering::Relaxed));
    let options = lab::Options {
        strata,
        runs: args.runs,
        strategies: args.strategies.clone(),
        iterations: args.iterations,
        stop,
    };
    let mut out = Output::stdout(WriteFailure::default());
    let mut reports = Vec::new();
    let mut written = true;
    let programs: Vec<&Path> = args.files.iter().map(PathBuf::as_path).collect();
    let names = lab::markdown::program_names(&programs);
    for (index, (file, name)) in args.files.iter().zip(&names).enumerate() {
        let mut progress = Bar::new(args.strategies.len());
        let report = lab::bench(file, &options, &mut progress);
        progress.bar.finish_and_clear();
        let mut text = match args.json {
            true => format!("{}\n", lab::text::json(&report)),
            false if index > 0 => format!("\n{}", lab::text::table(&report)),
            false => lab::text::table(&report),
        };
        if let Some(dir) = &args.report {
            // One program's page in DIR; several programs' each in a
            // directory of DIR named as its section of the Markdown page.
            let dir = match args.files.len() {
                1 => dir.clone(),
                _ => dir.join(name),
            };
            match lab::report::write(&report, &dir) {
                Ok(files) if !args.json => {
                    let index = files.last().map_or(dir.clone(), PathBuf::clone);
                    text.push_str(&format!("Report: {}\n", index.display()));
                }
                Ok(_) => {}
                Err(error) => {
                    complain!(
                        "cannot write the report in '{}': {}",
                        dir.display(),
                        crate::describe(&error)
                    );
                    written = false;
                }
            }
        }
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
        let stopped = report.stopped;
        reports.push(report);
        if stopped {
            break;
        }
    }
    if let Some(page) = &args.markdown {
        let context = lab::markdown::Context {
            command: command_line(),
            generator: format!("strata {}", env!("CARGO_PKG_VERSION")),
        };
        match lab::markdown::write(&reports, &context, page) {
            Ok(_) if !args.json => {
                let _ = writeln!(out, "Markdown: {}", page.display());
            }
            Ok(_) => {}
            Err(error) => {
                complain!("cannot write '{}': {}", page.display(), crate::describe(&error));
                written = false;
            }
        }
    }
    let failed = reports.iter().any(|report| {
        !report.disagree.is_empty() || report.findings.iter().any(|found| found.failure.is_some())
    });
    let code = match () {
        _ if !written => exit::IO_ERROR,
        _ if reports.iter().any(|report| report.stopped) || failed => exit::RUNTIME_ERROR,
        _ => exit::OK,
    };
    out.finish(code)
}

/// This process's command line, quoted so a shell gives back the same
/// words.
fn command_line() -> String {
    let words: Vec<String> =
        std::env::args_os().map(|w| w.to_string_lossy().into_owned()).collect();
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}

/// Progress on stderr: one bar over every step of every strategy (hidden
/// when stderr is not a terminal).
struct Bar {
    bar: ProgressBar,
    strategies: usize,
}

impl Bar {
    fn new(strategies: usize) -> Bar {
        let bar = ProgressBar::new(1000);
        let style = ProgressStyle::with_template("{prefix:>6} [{bar:40}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        Bar { bar, strategies: strategies.max(1) }
    }
}

impl lab::Progress for Bar {
    fn step(&mut self, index: usize, name: &str, step: usize, steps: usize) {
        let done = (index as f64 + step as f64 / steps.max(1) as f64) / self.strategies as f64;
        self.bar.set_prefix(name.to_string());
        self.bar.set_position((done * 1000.0) as u64);
        self.bar.set_message(format!("run {step} of {steps}"));
    }
}
