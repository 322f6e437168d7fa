//! `strata compile`: Lox source to a `.loxc` file.
//!
//! The output never replaces the input (whatever the paths say: the same
//! file reached by another name, a link, or `-o` naming it), and is written
//! atomically: a temporary file beside it, then a rename, so that a failure
//! at any point leaves the old file, or none, never half of a new one.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::exit;
use crate::program::Program;

pub(crate) fn compile_file(path: &Path, output: &Path) -> u8 {
    let Some(program) = crate::read_program(path) else { return exit::IO_ERROR };
    let source = match program {
        Program::Source(source) => source,
        Program::Bytecode(_, why) => {
            complain!(
                "cannot compile '{}': it is already a bytecode file ({why}); run it with \
                 `strata run`, list it with `strata disasm`",
                path.display()
            );
            return exit::USAGE;
        }
    };
    if is_same_file(path, output) {
        complain!(
            "cannot compile '{}': the output would overwrite it (name another with -o)",
            path.display()
        );
        return exit::USAGE;
    }
    let style = crate::diagnostic_style(path);
    let Some(bytes) = driver::compile_to_bytes(&source, &style, &mut io::stderr().lock()) else {
        return exit::COMPILE_ERROR;
    };
    match write_atomically(output, &bytes) {
        Ok(()) => exit::OK,
        Err(error) => {
            complain!("cannot write '{}': {}", output.display(), crate::describe(&error));
            exit::IO_ERROR
        }
    }
}

/// Whether `a` and `b` name one existing file: the same canonical path, or
/// (on Unix) the same device and inode, which also catches hard links.
pub(crate) fn is_same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(a), Ok(b)) = (fs::metadata(a), fs::metadata(b))
            && (a.dev(), a.ino()) == (b.dev(), b.ino())
        {
            return true;
        }
    }
    matches!((fs::canonicalize(a), fs::canonicalize(b)), (Ok(a), Ok(b)) if a == b)
}

/// Write `bytes` to `path` so that it holds either its old contents or all
/// of `bytes`, never part of them ([`replace`]).
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, |file| fs::write(file, bytes))
}

/// Make `path` anew with `write`, which writes the file it is given, so
/// that `path` holds either its old contents or all of the new, never part
/// of them: `write` writes a temporary file beside it, which is synced,
/// then renamed over it.
///
/// A symbolic link is followed, so the file it points to is replaced, not
/// the link. Something that is not a regular file (a device such as
/// `/dev/null`, a FIFO) cannot be replaced by renaming, which would put a
/// regular file in its place, so `write` writes it in place.
pub(crate) fn replace(path: &Path, write: impl FnOnce(&Path) -> io::Result<()>) -> io::Result<()> {
    let target = match fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() && !metadata.is_dir() => return write(path),
        Ok(_) => fs::canonicalize(path)?,
        Err(_) => path.to_path_buf(),
    };
    let (temporary, file) = create_temporary(&target)?;
    drop(file);
    let written = write(&temporary).and_then(|()| File::open(&temporary)?.sync_all());
    let renamed = written.and_then(|()| fs::rename(&temporary, &target));
    if renamed.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    renamed
}

/// A new, empty file in `target`'s directory, named after it.
fn create_temporary(target: &Path) -> io::Result<(PathBuf, File)> {
    let directory = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the output names no file"))?;
    for attempt in 0..100 {
        let mut temporary = OsString::from(".");
        temporary.push(name);
        temporary.push(format!(".{}-{attempt}.tmp", std::process::id()));
        let temporary = directory.join(temporary);
        match OpenOptions::new().write(true).create_new(true).open(&temporary) {
            Ok(file) => return Ok((temporary, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
    Err(io::Error::new(io::ErrorKind::AlreadyExists, "no free name for a temporary file"))
}
