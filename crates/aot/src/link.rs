//! Linking an object file with the runtime library into an executable,
//! by the system's C compiler driver (`cc`, or `$CC`).

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The runtime library's file name.
const LIBRARY: &str = "libstrata_rt.a";

/// The environment variable that names the runtime library, overriding the
/// search beside the running program.
pub const LIBRARY_VARIABLE: &str = "STRATA_RT_LIB";

/// What the runtime library needs from the system, as `cargo rustc -p rt
/// --crate-type staticlib -- --print native-static-libs` lists it, but for
/// its `-lgcc_s` (the unwinder): that is linked in statically instead
/// (`-static-libgcc`), which spares every start-up loading one more shared
/// library (about 100 KiB of memory).
const NATIVE_LIBRARIES: &[&str] = &["-lutil", "-lrt", "-lpthread", "-lm", "-ldl", "-lc"];

/// Why an executable could not be linked.
#[derive(Debug)]
pub enum LinkError {
    /// No runtime library: where it was looked for.
    NoRuntimeLibrary(Vec<PathBuf>),
    /// The C compiler driver could not be started.
    NoLinker { command: OsString, error: io::Error },
    /// It ran and failed: its exit status and what it printed.
    Failed { status: String, output: String },
    /// The object file could not be written for it.
    Scratch(io::Error),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::NoRuntimeLibrary(looked) => {
                let looked: Vec<String> =
                    looked.iter().map(|path| path.display().to_string()).collect();
                write!(
                    f,
                    "the runtime library {LIBRARY} is not where it belongs (looked for {}); \
                     build it with `cargo build --release`, or name it in {LIBRARY_VARIABLE}",
                    looked.join(", ")
                )
            }
            LinkError::NoLinker { command, error } if error.kind() == io::ErrorKind::NotFound => {
                write!(
                    f,
                    "no C compiler driver '{}' to link with (install gcc or clang, or name one in CC)",
                    command.to_string_lossy()
                )
            }
            LinkError::NoLinker { command, error } => {
                write!(f, "cannot run the linker '{}': {error}", command.to_string_lossy())
            }
            LinkError::Failed { status, output } => {
                write!(f, "the linker failed ({status})")?;
                if !output.trim().is_empty() {
                    write!(f, ":\n{}", output.trim_end())?;
                }
                Ok(())
            }
            LinkError::Scratch(error) => write!(f, "cannot write the object file to link: {error}"),
        }
    }
}

impl std::error::Error for LinkError {}

/// Where the runtime library is: `$STRATA_RT_LIB` if set, else beside the
/// running program (`cargo build` and `cargo run` put `strata` and the
/// library side by side in `target/release/`), or one directory up (test
/// programs run from `target/release/deps/`). Failing those, the newest
/// `deps/libstrata_rt-HASH.a` of either directory: `cargo test` builds the
/// library there without copying it up.
pub fn runtime_library() -> Result<PathBuf, LinkError> {
    if let Some(path) = std::env::var_os(LIBRARY_VARIABLE) {
        let path = PathBuf::from(path);
        return match path.is_file() {
            true => Ok(path),
            false => Err(LinkError::NoRuntimeLibrary(vec![path])),
        };
    }
    let Ok(program) = std::env::current_exe() else {
        return Err(LinkError::NoRuntimeLibrary(Vec::new()));
    };
    let dirs: Vec<&Path> = program.ancestors().skip(1).take(2).collect();
    let mut looked = Vec::new();
    for dir in &dirs {
        let candidate = dir.join(LIBRARY);
        if candidate.is_file() {
            return Ok(candidate);
        }
        looked.push(candidate);
    }
    let built = dirs.iter().filter_map(|dir| std::fs::read_dir(dir.join("deps")).ok()).flatten();
    let newest = built
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name();
            let name = name.to_str()?;
            let is_library = name.starts_with("libstrata_rt-") && name.ends_with(".a");
            let modified = entry.metadata().ok()?.modified().ok()?;
            is_library.then(|| (modified, entry.path()))
        })
        .max();
    match newest {
        Some((_, path)) => Ok(path),
        None => Err(LinkError::NoRuntimeLibrary(looked)),
    }
}

/// Link `object` (from [`crate::compile`]) with the runtime library into
/// the executable `output`. Unused code is dropped (`--gc-sections`) and
/// debug information stripped; symbols stay, so `perf` names the Lox
/// functions (`lox:INDEX:NAME`).
pub fn link(object: &[u8], output: &Path) -> Result<(), LinkError> {
    let library = runtime_library()?;
    // A fresh private directory (removed when dropped): the linker reads
    // the object file by name.
    let scratch = tempfile::Builder::new().prefix("strata-build-").tempdir();
    let scratch = scratch.map_err(LinkError::Scratch)?;
    let object_path = scratch.path().join("program.o");
    std::fs::write(&object_path, object).map_err(LinkError::Scratch)?;
    let command = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let result = Command::new(&command)
        .arg("-o")
        .arg(output)
        .arg(&object_path)
        .arg(&library)
        .args(["-static-libgcc", "-Wl,--gc-sections", "-Wl,--strip-debug"])
        .args(NATIVE_LIBRARIES)
        .output();
    let result = result.map_err(|error| LinkError::NoLinker { command, error })?;
    if !result.status.success() {
        let mut output = String::from_utf8_lossy(&result.stderr).into_owned();
        output.push_str(&String::from_utf8_lossy(&result.stdout));
        return Err(LinkError::Failed { status: result.status.to_string(), output });
    }
    Ok(())
}
