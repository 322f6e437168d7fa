//! `strata build`: a program to a standalone native executable (or only
//! its object file, or its Cranelift IR).
//!
//! As with `strata compile`, the output never replaces the input, and is
//! written whole or not at all: into a temporary file beside it, then
//! renamed. A program with compile errors gets its diagnostics and exit 65,
//! and nothing is written.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use driver::{BuildError, BuildInput, Built};

use crate::compile::{create_temporary, is_same_file};
use crate::exit;
use crate::program::Program;

/// What to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Emit {
    Executable,
    Object,
    Clif,
}

impl Emit {
    /// The output's extension, after the input's stem, by default.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Emit::Executable => "",
            Emit::Object => "o",
            Emit::Clif => "clif",
        }
    }
}

pub(crate) struct BuildArgs {
    pub(crate) file: PathBuf,
    pub(crate) output: PathBuf,
    pub(crate) emit: Emit,
    pub(crate) verbose: bool,
}

pub(crate) fn build_file(args: &BuildArgs) -> u8 {
    let path = &args.file;
    let Some(program) = crate::read_program(path) else { return exit::IO_ERROR };
    if is_same_file(path, &args.output) {
        complain!(
            "cannot build '{}': the output would overwrite it (name another with -o)",
            path.display()
        );
        return exit::USAGE;
    }
    let input = match &program {
        Program::Source(source) => BuildInput::Source(source),
        Program::Bytecode(bytes, _) => BuildInput::Bytecode(bytes),
    };
    let style = crate::diagnostic_style(path);
    let mut err = io::stderr().lock();
    let built = match driver::build(input, &style, args.emit == Emit::Clif, &mut err) {
        Ok(built) => built,
        Err(BuildError::Compile) => return exit::COMPILE_ERROR,
        Err(BuildError::Load(error)) => {
            let Program::Bytecode(_, why) = program else { unreachable!("only files load") };
            let hint = crate::program::load_error_hint(&error, why);
            complain!("cannot build '{}': {error}{hint}", path.display());
            return exit::COMPILE_ERROR;
        }
        Err(BuildError::Object(error)) => {
            complain!("cannot build '{}': {error}", path.display());
            return exit::RUNTIME_ERROR;
        }
    };
    if args.verbose {
        let _ = err.write_all(report(&built).as_bytes());
    }
    let written = match args.emit {
        Emit::Executable => write_through(&args.output, |temporary| {
            driver::link(&built.object, temporary).map_err(|error| error.to_string())
        }),
        Emit::Object => write_through(&args.output, |temporary| {
            fs::write(temporary, &built.object).map_err(|error| crate::describe(&error))
        }),
        Emit::Clif => write_through(&args.output, |temporary| {
            let clif = built.clif.as_deref().unwrap_or_default();
            fs::write(temporary, clif).map_err(|error| crate::describe(&error))
        }),
    };
    match written {
        Ok(()) => exit::OK,
        Err(why) => {
            complain!("cannot build '{}': {why}", args.output.display());
            exit::IO_ERROR
        }
    }
}

/// Each function and how it was built, one line each.
fn report(built: &Built) -> String {
    let width = built.functions.iter().map(|f| f.name.len()).max().unwrap_or(0);
    let mut text = String::new();
    for function in &built.functions {
        let how = match &function.machine_code {
            Ok(bytes) => format!("machine code, {bytes} bytes"),
            Err(why) => format!("bytecode for the VM ({why})"),
        };
        text.push_str(&format!(
            "strata build: {:width$}  {:>6} bytes of bytecode -> {how}\n",
            function.name, function.bytecode_bytes
        ));
    }
    let compiled = built.functions.iter().filter(|f| f.machine_code.is_ok()).count();
    text.push_str(&format!(
        "strata build: {compiled} of {} functions compiled, object file {} bytes\n",
        built.functions.len(),
        built.object.len()
    ));
    text
}

/// Make `output` by having `write` make a temporary file beside it, then
/// renaming that over it: `output` ends up whole, or as it was.
fn write_through(
    output: &Path,
    write: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), String> {
    let (temporary, file) = create_temporary(output).map_err(|error| crate::describe(&error))?;
    drop(file);
    let result = write(&temporary)
        .and_then(|()| fs::rename(&temporary, output).map_err(|error| crate::describe(&error)));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}
