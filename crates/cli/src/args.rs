//! Command-line arguments.
//!
//! ```text
//! strata FILE                      run FILE with the default engine
//! strata run [OPTIONS] FILE        run FILE
//! strata                           the REPL
//! ```

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use driver::Engine;

#[derive(Parser)]
#[command(
    name = "strata",
    version,
    about = "Strata: a Lox runtime with several engines.",
    long_about = "Strata runs Lox programs (the language of Crafting Interpreters).\n\n\
                  With a FILE it runs it; with no argument it starts a REPL.",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Sub>,

    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Sub {
    /// Run a Lox program.
    Run(RunArgs),
    /// Compile a program to a bytecode file (.loxc), run later with `strata run`.
    Compile {
        /// The Lox source file.
        file: PathBuf,
        /// Where to write the bytecode (default: FILE with extension .loxc).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// List the bytecode a program compiles to.
    Disasm {
        /// The Lox source file.
        file: PathBuf,
    },
}

/// Options shared by running a file and the REPL.
#[derive(Args, Clone, Debug)]
pub(crate) struct RunArgs {
    /// The program to run: Lox source, or a bytecode file from `strata compile`.
    pub(crate) file: Option<PathBuf>,

    /// Which engine runs the program (bytecode files need `vm`).
    #[arg(long, default_value = "vm", value_parser = parse_engine)]
    pub(crate) engine: Engine,

    /// Collect garbage at every allocation (finds rooting bugs; slow).
    #[arg(long)]
    pub(crate) gc_stress: bool,

    /// Print one line per garbage collection to stderr.
    #[arg(long)]
    pub(crate) gc_log: bool,
}

fn parse_engine(name: &str) -> Result<Engine, String> {
    name.parse().map_err(|e: driver::UnknownEngine| e.to_string())
}

pub(crate) enum Command {
    Compile { file: PathBuf, output: PathBuf },
    Disasm(PathBuf),
    Run(RunArgs),
    Repl(RunArgs),
}

/// Parse the process's arguments; on `--help`/`--version` or a usage error,
/// print and return the exit code.
pub(crate) fn parse() -> Result<Command, u8> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A usage error, or `--help`/`--version`, whose text goes to stdout
        // and must be written like any other output.
        Err(error) if error.use_stderr() => {
            let _ = error.print();
            return Err(crate::exit::USAGE);
        }
        Err(error) => {
            return Err(match error.print().and_then(|()| std::io::stdout().flush()) {
                Ok(()) => crate::exit::OK,
                Err(failure) => {
                    complain!("cannot write output: {}", crate::describe(&failure));
                    crate::exit::IO_ERROR
                }
            });
        }
    };
    match cli.command {
        Some(Sub::Run(run)) if run.file.is_some() => Ok(Command::Run(run)),
        Some(Sub::Disasm { file }) => Ok(Command::Disasm(file)),
        Some(Sub::Compile { file, output }) => {
            let output = output.unwrap_or_else(|| file.with_extension("loxc"));
            Ok(Command::Compile { file, output })
        }
        Some(Sub::Run(_)) => {
            complain!("run: a FILE to run is required\n\nUsage: strata run [OPTIONS] <FILE>");
            Err(crate::exit::USAGE)
        }
        None if cli.run.file.is_some() => Ok(Command::Run(cli.run)),
        None => Ok(Command::Repl(cli.run)),
    }
}
