//! Compiled code as plain data: numbers, owned strings and indices, never
//! heap pointers (DESIGN.md invariant 4). The runtime interns constants when
//! it loads a module; the verifier, disassembler and serializer need no heap.

use crate::opcode::Op;

/// A constant a chunk's instructions refer to by index.
#[derive(Debug, Clone, PartialEq)]
pub enum Constant {
    Number(f64),
    String(String),
}

/// Which instruction starts a run of instructions on one source line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineRun {
    /// Byte offset of the run's first instruction.
    pub offset: u32,
    pub line: u32,
}

/// One function's code, constants, property sites and line table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chunk {
    pub code: Vec<u8>,
    pub constants: Vec<Constant>,
    /// Property sites, each the index of the string constant it names. One
    /// instruction uses each site, and the VM gives each its inline cache.
    pub sites: Vec<u32>,
    /// Sorted by offset; each run lasts until the next.
    pub lines: Vec<LineRun>,
}

impl Chunk {
    /// The source line of the instruction at `offset`.
    pub fn line_at(&self, offset: usize) -> u32 {
        let index = self.lines.partition_point(|run| run.offset as usize <= offset);
        index.checked_sub(1).map_or(0, |i| self.lines[i].line)
    }

    /// Append an opcode for source `line`.
    pub fn emit_op(&mut self, op: Op, line: u32) {
        if self.lines.last().is_none_or(|run| run.line != line) {
            self.lines.push(LineRun { offset: self.code.len() as u32, line });
        }
        self.code.push(op as u8);
    }

    pub fn emit_u8(&mut self, byte: u8) {
        self.code.push(byte);
    }

    pub fn emit_u32(&mut self, value: u32) {
        self.code.extend_from_slice(&value.to_le_bytes());
    }

    /// Overwrite the `u32` operand at `offset` (jump patching).
    pub fn patch_u32(&mut self, offset: usize, value: u32) {
        self.code[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
    }

    /// A new property site naming string constant `constant`.
    pub fn add_site(&mut self, constant: u32) -> u32 {
        self.sites.push(constant);
        (self.sites.len() - 1) as u32
    }

    /// Append `constant`; returns its index. Equal constants are not merged
    /// here: a compiler that wants them shared keeps its own index of them
    /// (a linear search per constant would make big chunks quadratic).
    pub fn add_constant(&mut self, constant: Constant) -> u32 {
        self.constants.push(constant);
        (self.constants.len() - 1) as u32
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    Script,
    Function,
    Method,
    Initializer,
}

/// One captured variable: a slot of the enclosing frame (`is_local`) or an
/// upvalue of the enclosing closure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capture {
    pub is_local: bool,
    pub index: u8,
    /// The closure holds the variable's value, read with `GetCaptured`,
    /// rather than the variable's upvalue, read and written with
    /// `GetUpvalue` and `SetUpvalue`: no code assigns the variable. A
    /// capture of an enclosing upvalue takes it as that one is held.
    pub by_value: bool,
}

/// A compiled function.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    /// `None` for the script.
    pub name: Option<String>,
    pub kind: FunctionKind,
    pub arity: u8,
    pub captures: Vec<Capture>,
    /// The most stack slots the frame uses (locals and temporaries, slot 0
    /// included).
    pub max_stack: u32,
    pub chunk: Chunk,
}

/// A compiled program: its functions, which one is the script, and the
/// names of the global slots its code uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    pub functions: Vec<Function>,
    pub script: u32,
    pub globals: Vec<String>,
}
