//! `strata build`: a program to a standalone native executable (or only
//! its object file, or its Cranelift IR).
//!
//! As with `strata compile`, the output never replaces the input, and is
//! written whole or not at all (`compile::replace`: a temporary file beside
//! it, then a rename; a device such as `/dev/null` is written in place). A program with compile errors gets its diagnostics and exit 65,
//! and nothing is written.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use driver::{BuildError, BuildInput, Built};

use crate::compile::is_same_file;
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
    let written = crate::compile::replace(&args.output, |file| match args.emit {
        Emit::Executable => driver::link(&built.object, file).map_err(io::Error::other),
        Emit::Object => fs::write(file, &built.object),
        Emit::Clif => fs::write(file, built.clif.as_deref().unwrap_or_default()),
    });
    match written {
        Ok(()) => exit::OK,
        Err(error) => {
            complain!("cannot build '{}': {}", args.output.display(), crate::describe(&error));
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
