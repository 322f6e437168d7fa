//! `strata`: the command line. The only crate that reads user files, talks
//! to the terminal on its own account, and turns outcomes into exit codes
//! (DESIGN.md invariant 9).

mod args;
mod repl;

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use driver::{DiagnosticStyle, GcConfig, Options, Outcome};

use crate::args::{Command, RunArgs};

/// Exit codes, as LOX.md and sysexits.h define them.
mod exit {
    pub const OK: u8 = 0;
    pub const USAGE: u8 = 64;
    pub const COMPILE_ERROR: u8 = 65;
    pub const RUNTIME_ERROR: u8 = 70;
    pub const IO_ERROR: u8 = 74;
}

fn main() -> ExitCode {
    let command = match args::parse() {
        Ok(command) => command,
        Err(code) => return ExitCode::from(code),
    };
    ExitCode::from(match command {
        Command::Run(run) => run_file(&run),
        Command::Disasm(path) => disasm_file(&path),
        Command::Repl(run) => repl::run(&run),
    })
}

/// The driver options a `run` asks for.
pub(crate) fn options(run: &RunArgs, file_name: &str) -> Options {
    let diagnostics = if io::stderr().is_terminal() {
        DiagnosticStyle::Excerpt { file_name: file_name.to_string() }
    } else {
        DiagnosticStyle::Plain
    };
    let gc_log: Option<driver::GcLog> =
        if run.gc_log { Some(Box::new(|report| eprintln!("{report}"))) } else { None };
    Options {
        engine: run.engine,
        gc: GcConfig { stress: run.gc_stress, ..GcConfig::default() },
        gc_log,
        diagnostics,
    }
}

pub(crate) fn exit_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Success => exit::OK,
        Outcome::CompileError => exit::COMPILE_ERROR,
        Outcome::RuntimeError => exit::RUNTIME_ERROR,
    }
}

fn run_file(run: &RunArgs) -> u8 {
    let path = run.file.as_deref().expect("`run` always has a file");
    let source = match std::fs::read(path) {
        Ok(source) => source,
        Err(error) => {
            eprintln!("strata: cannot read '{}': {}", path.display(), describe(&error));
            return exit::IO_ERROR;
        }
    };
    let options = options(run, &display_name(path));
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut err = io::stderr().lock();
    let outcome = driver::run(&source, options, &mut out, &mut err);
    let _ = out.flush();
    exit_code(outcome)
}

fn disasm_file(path: &Path) -> u8 {
    let source = match std::fs::read(path) {
        Ok(source) => source,
        Err(error) => {
            eprintln!("strata: cannot read '{}': {}", path.display(), describe(&error));
            return exit::IO_ERROR;
        }
    };
    let style = if io::stderr().is_terminal() {
        DiagnosticStyle::Excerpt { file_name: display_name(path) }
    } else {
        DiagnosticStyle::Plain
    };
    match driver::disassemble(&source, &style, &mut io::stderr().lock()) {
        Some(listing) => {
            print!("{listing}");
            exit::OK
        }
        None => exit::COMPILE_ERROR,
    }
}

fn display_name(path: &Path) -> String {
    path.display().to_string()
}

/// An I/O error's description without Rust's " (os error N)" suffix.
fn describe(error: &io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}
