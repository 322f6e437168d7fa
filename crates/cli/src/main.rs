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
        Command::Compile { file, output } => compile_file(&file, &output),
        Command::Repl(run) => repl::run(&run),
    })
}

/// The driver options a `run` asks for.
pub(crate) fn options(run: &RunArgs, file_name: &str) -> Options {
    let diagnostics = diagnostic_style(Path::new(file_name));
    let gc_log: Option<driver::GcLog> =
        if run.gc_log { Some(Box::new(|report| eprintln!("{report}"))) } else { None };
    Options {
        engine: run.engine,
        gc: GcConfig { stress: run.gc_stress, ..GcConfig::default() },
        gc_log,
        interrupt: None,
        diagnostics,
    }
}

pub(crate) fn exit_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Success => exit::OK,
        Outcome::CompileError => exit::COMPILE_ERROR,
        Outcome::RuntimeError => exit::RUNTIME_ERROR,
        Outcome::OutputError => exit::IO_ERROR,
    }
}

fn run_file(run: &RunArgs) -> u8 {
    let path = run.file.as_deref().expect("`run` always has a file");
    let Some(bytes) = read_file(path) else { return exit::IO_ERROR };
    let options = options(run, &display_name(path));
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut err = io::stderr().lock();
    let outcome = if driver::is_bytecode(&bytes) {
        let mut session = driver::Session::new(options);
        match session.run_bytecode(&bytes, &mut out, &mut err) {
            Ok(outcome) => outcome,
            Err(error) => {
                let _ = writeln!(err, "strata: cannot run '{}': {error}", path.display());
                return match error {
                    driver::LoadError::WrongEngine(_) => exit::USAGE,
                    _ => exit::COMPILE_ERROR,
                };
            }
        }
    } else {
        driver::run(&bytes, options, &mut out, &mut err)
    };
    let _ = out.flush();
    exit_code(outcome)
}

/// The file's bytes, or `None` after saying why they cannot be read.
fn read_file(path: &Path) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(error) => {
            eprintln!("strata: cannot read '{}': {}", path.display(), describe(&error));
            None
        }
    }
}

fn diagnostic_style(path: &Path) -> DiagnosticStyle {
    if io::stderr().is_terminal() {
        DiagnosticStyle::Excerpt { file_name: display_name(path) }
    } else {
        DiagnosticStyle::Plain
    }
}

fn compile_file(path: &Path, output: &Path) -> u8 {
    let Some(source) = read_file(path) else { return exit::IO_ERROR };
    let style = diagnostic_style(path);
    let Some(bytes) = driver::compile_to_bytes(&source, &style, &mut io::stderr().lock()) else {
        return exit::COMPILE_ERROR;
    };
    match std::fs::write(output, bytes) {
        Ok(()) => exit::OK,
        Err(error) => {
            eprintln!("strata: cannot write '{}': {}", output.display(), describe(&error));
            exit::IO_ERROR
        }
    }
}

fn disasm_file(path: &Path) -> u8 {
    let Some(source) = read_file(path) else { return exit::IO_ERROR };
    let style = diagnostic_style(path);
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
