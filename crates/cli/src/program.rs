//! Telling a bytecode file from Lox source.
//!
//! The rule: a file is bytecode if it starts with the bytecode magic or its
//! name ends in `.loxc`; everything else is Lox source. The magic's first
//! byte cannot start UTF-8 text, so no source file is ever taken for
//! bytecode by its contents. The name covers files that should be bytecode
//! but have lost their magic (empty, truncated, mangled): they get the
//! loader's one-line error instead of being run as source, where an empty
//! file would be an empty program that silently "succeeds".

use std::fmt;
use std::path::Path;

/// A program file's bytes, classified.
pub(crate) enum Program {
    Source(Vec<u8>),
    Bytecode(Vec<u8>, Why),
}

/// Why a file is taken for bytecode.
#[derive(Clone, Copy)]
pub(crate) enum Why {
    Magic,
    Name,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Why::Magic => "it starts with the bytecode magic",
            Why::Name => "its name ends in .loxc",
        })
    }
}

impl Program {
    pub(crate) fn classify(path: &Path, bytes: Vec<u8>) -> Program {
        if driver::is_bytecode(&bytes) {
            Program::Bytecode(bytes, Why::Magic)
        } else if path.as_os_str().as_encoded_bytes().ends_with(b".loxc") {
            Program::Bytecode(bytes, Why::Name)
        } else {
            Program::Source(bytes)
        }
    }
}

/// Say why bytecode could not be loaded, in one line; when the file is
/// bytecode only by its name, say that too, since the user may have meant
/// it as source.
pub(crate) fn load_error_hint(error: &driver::LoadError, why: Why) -> &'static str {
    match (error, why) {
        (driver::LoadError::File(_), Why::Name) => {
            " (a file whose name ends in .loxc is always read as bytecode)"
        }
        _ => "",
    }
}
