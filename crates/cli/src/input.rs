//! Reading a program's bytes, never more than [`MAX_INPUT_BYTES`].
//!
//! Without a cap, `strata /dev/zero` or an endless pipe would read until
//! memory runs out. A Lox program of this size is already far beyond any
//! real one (the largest benchmark is a few kilobytes), and the front end
//! needs several times the source's size in memory, so the cap keeps a
//! mistaken input from taking the machine down with it.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::Path;

/// The largest program file, or REPL entry, Strata reads: 64 MiB.
pub(crate) const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Why input could not be read.
#[derive(Debug)]
pub(crate) enum InputError {
    Io(io::Error),
    /// The input goes on past [`MAX_INPUT_BYTES`].
    TooLarge,
}

impl From<io::Error> for InputError {
    fn from(error: io::Error) -> InputError {
        InputError::Io(error)
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io(error) => f.write_str(&crate::describe(error)),
            InputError::TooLarge => {
                write!(f, "larger than the input limit of {} MiB", MAX_INPUT_BYTES >> 20)
            }
        }
    }
}

/// The bytes of the file at `path`.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, InputError> {
    let file = File::open(path)?;
    // A regular file says its size: refuse a large one before reading it.
    // Devices and pipes do not, so the read itself is capped too.
    if let Ok(metadata) = file.metadata()
        && metadata.is_file()
        && metadata.len() > MAX_INPUT_BYTES
    {
        return Err(InputError::TooLarge);
    }
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge);
    }
    Ok(bytes)
}

/// Append the next line of `reader` (with its `\n`, if it has one) to
/// `buffer`, as long as `buffer` stays within [`MAX_INPUT_BYTES`]. Returns
/// the number of bytes read: 0 at the end of the input.
pub(crate) fn read_line(
    reader: &mut impl BufRead,
    buffer: &mut Vec<u8>,
) -> Result<usize, InputError> {
    let room = MAX_INPUT_BYTES.saturating_sub(buffer.len() as u64);
    let read = (&mut *reader).take(room + 1).read_until(b'\n', buffer)?;
    if buffer.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError::TooLarge);
    }
    Ok(read)
}
