//! The `.loxc` bytecode file format: a [`Module`] as bytes, and back.
//!
//! Like a `.class` or `.pyc` file, a `.loxc` file lets a program be compiled
//! once and loaded later without the front end. [`read_module`] checks the
//! container (magic, version, length, checksum) and the structure (every
//! count, flag, tag and string), but not what the code means: a module that
//! loads must still pass the verifier before it runs, exactly like one fresh
//! from the compiler. So the script index, constant and jump operands, line
//! table order and `max_stack` are taken as they are here.
//!
//! # Layout
//!
//! Every integer is little-endian. The file is a 20-byte header, then the
//! payload, then nothing: trailing bytes are an error.
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic: `89 4c 4f 58 43 0d 0a 1a` (`\x89LOXC\r\n\x1a`), [`MAGIC`] |
//! | 8 | 2 | format version, `u16`: [`FORMAT_VERSION`] |
//! | 10 | 2 | reserved, `u16`: must be 0 |
//! | 12 | 4 | payload length in bytes, `u32` |
//! | 16 | 4 | CRC-32 of the payload, `u32` (IEEE polynomial, as `crc32fast` and zlib compute it) |
//! | 20 | payload length | the payload |
//!
//! The magic is PNG's idea: its first byte is not ASCII and cannot start
//! UTF-8 text, so no Lox source file (which must be UTF-8) ever starts with
//! it, and whether a file is bytecode is decided by its first bytes alone;
//! the `\r\n` and `\x1a` show at once a file mangled by a text-mode
//! transfer. A file with the magic but another version is a bytecode file
//! this build cannot read, not source.
//!
//! In the payload, a *string* is a `u32` byte length followed by that many
//! bytes of UTF-8, and a *count* is a `u32` followed by that many elements:
//!
//! ```text
//! payload   = globals count, string ...      the global slots' names, in slot order
//!             script u32                     index of the script in the functions
//!             functions count, function ...
//!
//! function  = name flag u8                   0: no name (the script), 1: a string follows
//!             [name string]
//!             kind u8                        0 Script, 1 Function, 2 Method, 3 Initializer
//!             arity u8
//!             captures count, capture ...
//!             max_stack u32
//!             code length u32, code bytes    the chunk's instructions, as opcode.rs encodes them
//!             constants count, constant ...
//!             sites count, site u32 ...      each the index of the constant naming the property
//!             lines count, line run ...
//!
//! capture   = is_local u8 (0 or 1), index u8, by_value u8 (0 or 1)
//! constant  = tag u8 0, number u64           the f64's IEEE 754 bits, so NaN payloads and -0 survive
//!           | tag u8 1, string
//! line run  = offset u32, line u32
//! ```
//!
//! Every field has exactly one encoding (flags and tags outside their range
//! are errors), so a file that reads back re-serializes to the same bytes.
//!
//! # Versions
//!
//! A build reads exactly its own [`FORMAT_VERSION`]; there is no upgrading
//! of old files, which are recompiled from source instead. The instruction
//! encoding is part of the format: renumbering or reshaping an opcode in
//! `opcode.rs` must bump the version too, because old code would otherwise
//! still verify and silently mean something else (a test pins the opcode
//! table to the version for that reason).
//!
//! # Hostile input
//!
//! The input may be truncated, corrupted or crafted. The checksum is checked
//! before the payload is parsed, so accidental corruption gets one clear
//! error instead of whatever the flipped bit happens to break. The parser
//! never panics, and before it allocates or loops for a count it checks that
//! the bytes left could hold that many elements at their smallest encoding,
//! so memory and time stay proportional to the input's length.

use std::fmt;

use crate::chunk::{Capture, Chunk, Constant, Function, FunctionKind, LineRun, Module};

/// The first eight bytes of every `.loxc` file.
pub const MAGIC: [u8; 8] = *b"\x89LOXC\r\n\x1a";

/// The version of the layout this build writes and reads.
pub const FORMAT_VERSION: u16 = 4;

const HEADER_LEN: usize = 20;

// The smallest encoding of each repeated element, for bounding counts.
const MIN_STRING: usize = 4;
/// Name flag, kind, arity, then six `u32`s: captures count, max_stack,
/// code length, constants count, sites count, lines count.
const MIN_FUNCTION: usize = 3 + 6 * 4;
const SITE_LEN: usize = 4;
const CAPTURE_LEN: usize = 3;
/// A tag and an empty string (a number takes 9).
const MIN_CONSTANT: usize = 1 + MIN_STRING;
const LINE_RUN_LEN: usize = 8;

/// Why bytes are not a loadable module.
///
/// Every variant is a problem with the input (a user error: a file that is
/// not bytecode, corrupt, from another build, or crafted), never a bug in
/// Strata; `UnsupportedVersion` is the one a user fixes by recompiling.
/// Offsets are byte offsets from the start of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    /// The file does not start with [`MAGIC`].
    NotBytecode,
    /// The file was written for another layout.
    UnsupportedVersion {
        found: u16,
        supported: u16,
    },
    /// The reserved header field is not 0.
    ReservedNotZero {
        value: u16,
    },
    /// The header declares a longer payload than the file holds.
    TruncatedPayload {
        declared: usize,
        present: usize,
    },
    /// The file continues after the payload the header declares.
    TrailingBytes {
        count: usize,
    },
    /// The payload is not what was written: the file is corrupt.
    ChecksumMismatch {
        stored: u32,
        computed: u32,
    },
    /// The input ends inside `what`, which starts at `offset`.
    Truncated {
        what: &'static str,
        offset: usize,
    },
    /// A count or length says more elements than the rest of the input
    /// could hold.
    CountTooLarge {
        what: &'static str,
        offset: usize,
        count: u32,
        remaining: usize,
    },
    /// A string's bytes are not UTF-8.
    InvalidUtf8 {
        what: &'static str,
        offset: usize,
    },
    /// A yes/no byte is neither 0 nor 1.
    InvalidFlag {
        what: &'static str,
        offset: usize,
        value: u8,
    },
    UnknownFunctionKind {
        offset: usize,
        value: u8,
    },
    UnknownConstantTag {
        offset: usize,
        tag: u8,
    },
    /// The payload goes on after the last function.
    UnusedPayload {
        count: usize,
    },
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::NotBytecode => {
                write!(f, "not a Strata bytecode file (it does not start with the bytecode magic)")
            }
            FileError::UnsupportedVersion { found, supported } => write!(
                f,
                "unsupported bytecode format version {found}: this build reads version \
                 {supported} (recompile the program from source)"
            ),
            FileError::ReservedNotZero { value } => {
                write!(f, "reserved header field is {value:#06x}, not 0")
            }
            FileError::TruncatedPayload { declared, present } => write!(
                f,
                "truncated file: the header declares a {declared}-byte payload but only \
                 {present} bytes follow"
            ),
            FileError::TrailingBytes { count } => {
                write!(f, "{count} trailing bytes after the payload")
            }
            FileError::ChecksumMismatch { stored, computed } => write!(
                f,
                "checksum mismatch: the header says {stored:#010x} but the payload's CRC-32 \
                 is {computed:#010x} (the file is corrupt)"
            ),
            FileError::Truncated { what, offset } => {
                write!(f, "truncated file: it ends inside {what} at byte {offset}")
            }
            FileError::CountTooLarge { what, offset, count, remaining } => write!(
                f,
                "{what} at byte {offset} is {count}, more than the {remaining} bytes left \
                 can hold"
            ),
            FileError::InvalidUtf8 { what, offset } => {
                write!(f, "{what} at byte {offset} is not valid UTF-8")
            }
            FileError::InvalidFlag { what, offset, value } => {
                write!(f, "{what} at byte {offset} is {value}, not 0 or 1")
            }
            FileError::UnknownFunctionKind { offset, value } => {
                write!(f, "unknown function kind {value} at byte {offset}")
            }
            FileError::UnknownConstantTag { offset, tag } => {
                write!(f, "unknown constant tag {tag} at byte {offset}")
            }
            FileError::UnusedPayload { count } => {
                write!(f, "{count} unused bytes at the end of the payload, after the last function")
            }
        }
    }
}

impl std::error::Error for FileError {}

/// A module too big for the format: a count, a length or the whole payload
/// exceeds `u32::MAX` (only a program of gigabytes gets there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooLarge {
    pub len: usize,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the program is too large for a .loxc file (a count or length of {} exceeds {})",
            self.len,
            u32::MAX
        )
    }
}

impl std::error::Error for TooLarge {}

/// `module` as the bytes of a `.loxc` file, or [`TooLarge`] if a count, a
/// length or the whole payload exceeds what the format can represent.
pub fn write_module(module: &Module) -> Result<Vec<u8>, TooLarge> {
    let mut out = Vec::new();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    // Length and checksum are patched in once the payload is written.
    out.extend_from_slice(&[0; 8]);

    put_len(&mut out, module.globals.len())?;
    for name in &module.globals {
        put_str(&mut out, name)?;
    }
    put_u32(&mut out, module.script);
    put_len(&mut out, module.functions.len())?;
    for function in &module.functions {
        put_function(&mut out, function)?;
    }

    let (header, payload) = out.split_at_mut(HEADER_LEN);
    header[12..16].copy_from_slice(&len_u32(payload.len())?.to_le_bytes());
    header[16..20].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
    Ok(out)
}

fn put_function(out: &mut Vec<u8>, function: &Function) -> Result<(), TooLarge> {
    match &function.name {
        None => out.push(0),
        Some(name) => {
            out.push(1);
            put_str(out, name)?;
        }
    }
    out.push(match function.kind {
        FunctionKind::Script => 0,
        FunctionKind::Function => 1,
        FunctionKind::Method => 2,
        FunctionKind::Initializer => 3,
    });
    out.push(function.arity);
    put_len(out, function.captures.len())?;
    for capture in &function.captures {
        out.push(u8::from(capture.is_local));
        out.push(capture.index);
        out.push(u8::from(capture.by_value));
    }
    put_u32(out, function.max_stack);

    let chunk = &function.chunk;
    put_len(out, chunk.code.len())?;
    out.extend_from_slice(&chunk.code);
    put_len(out, chunk.constants.len())?;
    for constant in &chunk.constants {
        match constant {
            Constant::Number(value) => {
                out.push(0);
                out.extend_from_slice(&value.to_bits().to_le_bytes());
            }
            Constant::String(text) => {
                out.push(1);
                put_str(out, text)?;
            }
        }
    }
    put_len(out, chunk.sites.len())?;
    for &site in &chunk.sites {
        put_u32(out, site);
    }
    put_len(out, chunk.lines.len())?;
    for run in &chunk.lines {
        put_u32(out, run.offset);
        put_u32(out, run.line);
    }
    Ok(())
}

fn put_u32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put_len(out: &mut Vec<u8>, len: usize) -> Result<(), TooLarge> {
    put_u32(out, len_u32(len)?);
    Ok(())
}

fn put_str(out: &mut Vec<u8>, text: &str) -> Result<(), TooLarge> {
    put_len(out, text.len())?;
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

fn len_u32(len: usize) -> Result<u32, TooLarge> {
    u32::try_from(len).map_err(|_| TooLarge { len })
}

/// The module in `bytes`, a whole `.loxc` file.
///
/// Checks the container and the structure; the module still needs the
/// verifier before it runs.
pub fn read_module(bytes: &[u8]) -> Result<Module, FileError> {
    // Compare what there is of the magic first, so that a short file that is
    // not bytecode at all is reported as such, not as truncated.
    if !bytes.iter().zip(MAGIC).all(|(byte, expected)| *byte == expected) {
        return Err(FileError::NotBytecode);
    }
    let mut cursor = Cursor { rest: bytes, offset: 0 };
    cursor.take(MAGIC.len(), "the magic number")?;
    // The version comes before everything else it might change, including
    // what the reserved field means.
    let version = cursor.u16("the format version")?;
    if version != FORMAT_VERSION {
        return Err(FileError::UnsupportedVersion { found: version, supported: FORMAT_VERSION });
    }
    let reserved = cursor.u16("the reserved header field")?;
    if reserved != 0 {
        return Err(FileError::ReservedNotZero { value: reserved });
    }
    let declared = to_usize(cursor.u32("the payload length")?);
    let stored = cursor.u32("the payload checksum")?;
    let present = cursor.rest.len();
    if present < declared {
        return Err(FileError::TruncatedPayload { declared, present });
    }
    if present > declared {
        return Err(FileError::TrailingBytes { count: present - declared });
    }
    let computed = crc32fast::hash(cursor.rest);
    if computed != stored {
        return Err(FileError::ChecksumMismatch { stored, computed });
    }

    let module = read_payload(&mut cursor)?;
    if !cursor.rest.is_empty() {
        return Err(FileError::UnusedPayload { count: cursor.rest.len() });
    }
    Ok(module)
}

fn read_payload(cursor: &mut Cursor<'_>) -> Result<Module, FileError> {
    let globals = cursor.list("the globals count", MIN_STRING, |c| {
        c.string("a global's name", "the length of a global's name")
    })?;
    let script = cursor.u32("the script index")?;
    let functions = cursor.list("the function count", MIN_FUNCTION, read_function)?;
    Ok(Module { functions, script, globals })
}

fn read_function(cursor: &mut Cursor<'_>) -> Result<Function, FileError> {
    let name = if cursor.flag("a function's name flag")? {
        Some(cursor.string("a function's name", "the length of a function's name")?)
    } else {
        None
    };

    let offset = cursor.offset;
    let kind = match cursor.u8("a function's kind")? {
        0 => FunctionKind::Script,
        1 => FunctionKind::Function,
        2 => FunctionKind::Method,
        3 => FunctionKind::Initializer,
        value => return Err(FileError::UnknownFunctionKind { offset, value }),
    };
    let arity = cursor.u8("a function's arity")?;

    let captures = cursor.list("a function's captures count", CAPTURE_LEN, |c| {
        Ok(Capture {
            is_local: c.flag("a capture's is_local flag")?,
            index: c.u8("a capture's index")?,
            by_value: c.flag("a capture's by_value flag")?,
        })
    })?;
    let max_stack = cursor.u32("a function's max_stack")?;

    let code_len = cursor.count("a function's code length", 1)?;
    let code = cursor.take(code_len, "a function's code")?.to_vec();

    let constants = cursor.list("a function's constants count", MIN_CONSTANT, |c| {
        let offset = c.offset;
        match c.u8("a constant's tag")? {
            0 => Ok(Constant::Number(f64::from_bits(u64::from_le_bytes(
                c.array("a number constant")?,
            )))),
            1 => Ok(Constant::String(
                c.string("a string constant", "the length of a string constant")?,
            )),
            tag => Err(FileError::UnknownConstantTag { offset, tag }),
        }
    })?;

    let sites =
        cursor.list("a function's sites count", SITE_LEN, |c| c.u32("a site's constant"))?;

    let lines = cursor.list("a function's line table count", LINE_RUN_LEN, |c| {
        Ok(LineRun { offset: c.u32("a line run's offset")?, line: c.u32("a line run's line")? })
    })?;

    Ok(Function {
        name,
        kind,
        arity,
        captures,
        max_stack,
        chunk: Chunk { code, constants, sites, lines },
    })
}

/// The unread rest of the input. Every read is checked and reports the
/// field it was reading, so a short or lying file becomes an error naming
/// what broke, never an out-of-bounds index.
struct Cursor<'a> {
    rest: &'a [u8],
    /// Offset of `rest`'s first byte in the file, for error messages.
    offset: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], FileError> {
        let (head, tail) = self
            .rest
            .split_at_checked(len)
            .ok_or(FileError::Truncated { what, offset: self.offset })?;
        self.rest = tail;
        self.offset += len;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], FileError> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(FileError::Truncated { what, offset: self.offset })?;
        self.rest = tail;
        self.offset += N;
        Ok(*head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, FileError> {
        let [byte] = self.array(what)?;
        Ok(byte)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, FileError> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, FileError> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn flag(&mut self, what: &'static str) -> Result<bool, FileError> {
        let offset = self.offset;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            value => Err(FileError::InvalidFlag { what, offset, value }),
        }
    }

    /// A `u32` count of elements at least `min_size` bytes each, checked
    /// against the bytes left so that a lying count can neither allocate
    /// nor loop beyond what the input could describe.
    fn count(&mut self, what: &'static str, min_size: usize) -> Result<usize, FileError> {
        let offset = self.offset;
        let count = self.u32(what)?;
        let remaining = self.rest.len();
        match to_usize(count).checked_mul(min_size) {
            Some(needed) if needed <= remaining => Ok(to_usize(count)),
            _ => Err(FileError::CountTooLarge { what, offset, count, remaining }),
        }
    }

    /// A count (checked as by [`count`](Self::count)), then that many
    /// elements, each read by `read`.
    fn list<T>(
        &mut self,
        what: &'static str,
        min_size: usize,
        mut read: impl FnMut(&mut Self) -> Result<T, FileError>,
    ) -> Result<Vec<T>, FileError> {
        let count = self.count(what, min_size)?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(read(self)?);
        }
        Ok(items)
    }

    fn string(&mut self, what: &'static str, len_what: &'static str) -> Result<String, FileError> {
        let len = self.count(len_what, 1)?;
        let offset = self.offset;
        let bytes = self.take(len, what)?;
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(_) => Err(FileError::InvalidUtf8 { what, offset }),
        }
    }
}

/// A `u32` from the file as a `usize`. Where `usize` is narrower, an
/// oversized value becomes `usize::MAX`, which every bounds check rejects.
fn to_usize(value: u32) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}
