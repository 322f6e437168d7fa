//! Command-line arguments.
//!
//! ```text
//! strata FILE                      run FILE with the default engine
//! strata run [OPTIONS] FILE        run FILE
//! strata build FILE [-o OUT]       a standalone executable
//! strata bench FILE                the program under every engine, measured
//! strata                           the REPL
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::sync::LazyLock;

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
    /// Compile a program ahead of time to a standalone native executable.
    Build {
        /// The Lox source file, or a bytecode file.
        file: PathBuf,
        /// Where to write the result (default: FILE's name without its
        /// extension, in the working directory; with .o for an object
        /// file, .clif for the IR).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// What to write: an executable, only the object file, or the
        /// Cranelift IR of every compiled function.
        #[arg(long, value_name = "WHAT", default_value = "exe", value_parser = ["exe", "obj", "clif"])]
        emit: String,
        /// List each function on stderr, and how it was built: machine
        /// code (its size), or bytecode for the executable's VM (why).
        #[arg(short, long)]
        verbose: bool,
    },
    /// Measure a program under every engine, each in fresh processes:
    /// start-up, time to first output, wall and CPU time, peak memory, what
    /// each engine did (--stats), and whether all printed the same.
    Bench {
        /// The Lox programs, measured one after the other.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The engines to compare, separated by commas (default: every
        /// engine, tree,vm,jit,aot).
        #[arg(long, value_name = "LIST", value_delimiter = ',',
              value_parser = crate::bench::parse_strategy)]
        engines: Option<Vec<lab::Strategy>>,
        /// Timed runs per engine (and as many of an empty program, for
        /// start-up).
        #[arg(long, value_name = "N", default_value_t = 5,
              value_parser = clap::value_parser!(u16).range(1..))]
        runs: u16,
        /// Add an outside command to the comparison, NAME=COMMAND LINE (the
        /// line is split as a shell would, not run by one): `--also
        /// "clox=clox prog.lox"`. Repeatable.
        #[arg(long, value_name = "NAME=CMD", value_parser = crate::bench::parse_outside)]
        also: Vec<lab::Strategy>,
        /// Also run the program's top level K times in one process per
        /// engine, time each iteration, and classify the warm-up curve
        /// (flat, warm-up, slowdown, no steady state) with the time each
        /// engine takes to reach its steady state.
        #[arg(long, value_name = "K",
              value_parser = clap::value_parser!(u32).range(1..=i64::from(host::MAX_ITERATIONS)))]
        iterations: Option<u32>,
        /// Also write the findings as SVG plots (warm-up curves, start-up
        /// against speed, peak RSS) and an HTML page showing them, into DIR
        /// (into a directory of DIR per program, named after it, when there
        /// are several).
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
        /// Also write every program's findings as one Markdown page, FILE,
        /// with a summary over the programs and their plots as SVG files in
        /// a directory beside it, named after it (`docs/lab.md` puts them in
        /// `docs/lab/`).
        #[arg(long, value_name = "FILE")]
        markdown: Option<PathBuf>,
        /// Print one JSON object per program (a line each) instead of a
        /// table.
        #[arg(long)]
        json: bool,
    },
    /// List the bytecode a program compiles to.
    Disasm {
        /// The Lox source file, or a bytecode file.
        file: PathBuf,
        /// List what the JIT makes of each function instead: its Cranelift
        /// IR and its machine code, both marked with the bytecode offsets
        /// they came from.
        #[arg(long)]
        jit: bool,
    },
}

/// Options shared by running a file and the REPL.
#[derive(Args, Clone, Debug)]
pub(crate) struct RunArgs {
    /// The program to run: Lox source, or a bytecode file from `strata compile`.
    pub(crate) file: Option<PathBuf>,

    /// Which engine runs the program: tree, vm or jit (bytecode files need vm or jit).
    #[arg(long, default_value = "jit", value_parser = parse_engine)]
    pub(crate) engine: Engine,

    /// With `--engine jit`: calls after which a function is compiled to
    /// machine code (0: at its first call).
    #[arg(long, value_name = "N", default_value_t = driver::JitConfig::default().threshold)]
    pub(crate) jit_threshold: u32,

    /// With `--engine jit`: report every compile decision to stderr.
    #[arg(long)]
    pub(crate) trace_jit: bool,

    /// With `--engine jit`: report every compile decision and each
    /// compiled function's Cranelift IR (its guards, and the bodies of the
    /// callees inlined into it, tagged `@1000004`: offset 4 of a callee
    /// inlined one deep) to stderr.
    #[arg(long)]
    pub(crate) trace_jit_ir: bool,

    /// With `--engine jit`: fail every guard of optimized code the first
    /// time it runs (a test of deoptimization, like HotSpot's
    /// DeoptimizeALot; the program's behaviour must not change).
    #[arg(long)]
    pub(crate) jit_stress_deopt: bool,

    /// With `--engine jit`: name compiled code in /tmp/perf-PID.map, so
    /// that `perf report` shows Lox function names.
    #[arg(long)]
    pub(crate) perf_map: bool,

    /// When the program ends, print what the run did on stderr: time per
    /// phase, garbage collection, inline caches, JIT compiles. FORMAT is
    /// text (the default) or json (one object, for tools).
    #[arg(long, value_name = "FORMAT", num_args = 0..=1, require_equals = true,
          default_missing_value = "text", value_parser = ["text", "json"])]
    pub(crate) stats: Option<String>,

    /// Run the program's top level K times in this one process, keeping
    /// its globals and everything the engine learned between runs (warm
    /// code, caches), as a long-running program would; --stats reports each
    /// run's time.
    #[arg(long, value_name = "K",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(host::MAX_ITERATIONS)))]
    pub(crate) iterations: Option<u32>,

    /// Collect garbage at every allocation (finds rooting bugs; slow).
    #[arg(long)]
    pub(crate) gc_stress: bool,

    /// Print one line per garbage collection to stderr.
    #[arg(long)]
    pub(crate) gc_log: bool,

    /// The most memory the program's objects may take, in bytes or with a
    /// suffix K, M or G; past it, allocating is the runtime error 'Out of
    /// memory.'
    #[arg(long, value_name = "SIZE", value_parser = parse_size,
          default_value = DEFAULT_MAX_HEAP.as_str())]
    pub(crate) max_heap: usize,
}

fn parse_engine(name: &str) -> Result<Engine, String> {
    name.parse().map_err(|e: driver::UnknownEngine| e.to_string())
}

/// The runtime's default heap limit, as `--help` shows it.
static DEFAULT_MAX_HEAP: LazyLock<String> =
    LazyLock::new(|| format_size(driver::GcConfig::default().max_heap));

/// The binary multiples `--max-heap` accepts, largest first.
const SUFFIXES: [(char, u32); 3] = [('G', 30), ('M', 20), ('K', 10)];

/// A size in bytes: digits, optionally followed by `K`, `M` or `G` (either
/// case) for KiB, MiB or GiB.
fn parse_size(text: &str) -> Result<usize, String> {
    let invalid = || format!("'{text}' is not a size: expected bytes, or a number with K, M or G");
    let (digits, shift) = match text.char_indices().last() {
        Some((at, last)) if last.is_ascii_alphabetic() => {
            let suffix = SUFFIXES.iter().find(|(name, _)| name.eq_ignore_ascii_case(&last));
            (&text[..at], suffix.ok_or_else(invalid)?.1)
        }
        _ => (text, 0),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let too_large = || format!("'{text}' is larger than this machine can address");
    let number: usize = digits.parse().map_err(|_| too_large())?;
    number.checked_mul(1 << shift).ok_or_else(too_large)
}

/// `bytes` in the largest unit that shows it exactly, as `parse_size` reads it.
fn format_size(bytes: usize) -> String {
    for (name, shift) in SUFFIXES {
        if bytes != 0 && bytes.is_multiple_of(1 << shift) {
            return format!("{}{name}", bytes >> shift);
        }
    }
    bytes.to_string()
}

pub(crate) enum Command {
    Compile { file: PathBuf, output: PathBuf },
    Build(crate::build::BuildArgs),
    Bench(crate::bench::BenchArgs),
    Disasm { file: PathBuf, jit: bool },
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
        Some(Sub::Disasm { file, jit }) => Ok(Command::Disasm { file, jit }),
        Some(Sub::Compile { file, output }) => {
            let output = output.unwrap_or_else(|| file.with_extension("loxc"));
            Ok(Command::Compile { file, output })
        }
        Some(Sub::Build { file, output, emit, verbose }) => {
            let emit = match emit.as_str() {
                "obj" => crate::build::Emit::Object,
                "clif" => crate::build::Emit::Clif,
                _ => crate::build::Emit::Executable,
            };
            // By default in the working directory, named after the file,
            // as `cc` and `go build` name theirs.
            let output = output.unwrap_or_else(|| {
                let stem = file.file_stem().map_or_else(|| "a.out".into(), PathBuf::from);
                stem.with_extension(emit.extension())
            });
            Ok(Command::Build(crate::build::BuildArgs { file, output, emit, verbose }))
        }
        Some(Sub::Bench { files, engines, runs, also, iterations, report, markdown, json }) => {
            let mut engines = engines.unwrap_or_else(lab::Strategy::all);
            engines.extend(also);
            let runs = usize::from(runs);
            Ok(Command::Bench(crate::bench::BenchArgs {
                files,
                strategies: engines,
                runs,
                iterations,
                report,
                markdown,
                json,
            }))
        }
        Some(Sub::Run(_)) => {
            complain!("run: a FILE to run is required\n\nUsage: strata run [OPTIONS] <FILE>");
            Err(crate::exit::USAGE)
        }
        None if cli.run.file.is_some() => Ok(Command::Run(cli.run)),
        None => Ok(Command::Repl(cli.run)),
    }
}

#[cfg(test)]
mod tests {
    use super::{format_size, parse_size};

    #[test]
    fn sizes_are_bytes_or_binary_multiples() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1500"), Ok(1500));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("3M"), Ok(3 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        for bad in ["", "K", "1.5M", "-1", "1 M", "12X", "1MB", "1é", "0x10"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
        assert!(parse_size("99999999999999999999").unwrap_err().contains("larger"));
        assert!(parse_size("99999999999G").unwrap_err().contains("larger"));
    }

    #[test]
    fn sizes_print_as_they_are_read() {
        for size in [0, 1, 1000, 1 << 10, 3 << 20, 2 << 30, (1 << 30) + (1 << 20)] {
            assert_eq!(parse_size(&format_size(size)), Ok(size), "{size}");
        }
        assert_eq!(format_size(2 << 30), "2G");
        assert_eq!(format_size((1 << 30) + (1 << 20)), "1025M");
    }
}
