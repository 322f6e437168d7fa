//! Plausible bytecode modules from arbitrary bytes, for fuzzing the
//! loader, the verifier and, through them, the VM.
//!
//! Random bytes almost never make a module the verifier accepts, so a
//! byte-level fuzzer barely reaches the VM. This builder instead writes
//! each function's code instruction by instruction from the opcode table
//! (`bytecode::OPCODES`), tracking the stack depth as the verifier will:
//! an instruction is chosen only if the stack holds what it pops, operands
//! are drawn in range (slots below the depth, constants, sites, globals,
//! upvalues and functions that exist, forward jumps patched to an
//! instruction reached with the same depth), `max_stack` is the deepest
//! depth reached and the code ends in `Return`. About one operand in
//! [`WILD`] is drawn from the whole range instead, and some structural
//! choices are left loose, so modules just outside what verifies are
//! common too. What the builder does not keep is *types*: a `GetProperty`
//! may find a number, an `Inherit` a string; the verifier does not check
//! them, so the VM must.
//!
//! Constants include NaNs with unusual payloads and sign (the patterns a
//! NaN-boxing VM uses as tags), infinities, `-0`, subnormals, and strings
//! with control characters, quotes and non-ASCII text.

use arbitrary::{Result, Unstructured};
use bytecode::{
    Capture, Chunk, Constant, Function, FunctionKind, LineRun, Module, OPCODES, Op, OperandKind,
};

/// One operand in `WILD` is drawn from its whole range.
pub const WILD: u32 = 48;

/// Set (locally, never committed) to stop writing what triggers a known,
/// reported bug, so that a fuzzing session can look past it.
const HIDE_KNOWN_BUGS: bool = false;

/// What the builder may write.
#[derive(Debug, Clone, Default)]
pub struct ModuleOptions {
    /// Write `Loop` (backward jumps). A module with loops may run forever,
    /// so only a caller that can interrupt the VM should allow them.
    pub backward_jumps: bool,
}

/// Bit patterns of interesting numbers: NaNs with payloads, signs and the
/// high bits a NaN-boxing layout uses for tags; infinities, `-0`, extremes.
const NUMBER_BITS: &[u64] = &[
    0x7ff8_0000_0000_0000,
    0x7ff8_0000_0000_0001,
    0xfff8_0000_0000_0000,
    0x7ff0_0000_0000_0001,
    0x7ffc_0000_0000_0000,
    0x7ffc_0000_0000_0001,
    0x7ffd_0000_0000_1000,
    0x7ffe_0000_0000_0003,
    0x7fff_ffff_ffff_ffff,
    0xfffc_0000_0000_0008,
    0xfffd_5555_5555_5550,
    0xffff_ffff_ffff_ffff,
    0x7ff0_0000_0000_0000,
    0xfff0_0000_0000_0000,
    0x8000_0000_0000_0000,
    0x0000_0000_0000_0001,
    0x7fef_ffff_ffff_ffff,
    0x3ff0_0000_0000_0000,
    0x4059_0000_0000_0000,
];

const STRINGS: &[&str] = &[
    "",
    "x",
    "init",
    "name",
    "a\nb",
    "\0",
    "\u{1b}[31mred",
    "tab\there",
    "quote\"",
    "\u{e9}t\u{e9}",
    "\u{7f}\u{1}\u{2}",
    "clock",
    "this",
    "super",
];

struct Builder<'a, 'b> {
    u: &'a mut Unstructured<'b>,
    options: &'a ModuleOptions,
}

/// What is fixed about each function before any code is written, because
/// `Closure` instructions elsewhere must agree with it.
struct Header {
    kind: FunctionKind,
    arity: u8,
    captures: Vec<Capture>,
}

/// A module drawn from `u`: usually one the verifier accepts.
pub fn arbitrary_module(u: &mut Unstructured<'_>, options: &ModuleOptions) -> Result<Module> {
    Builder { u, options }.module()
}

impl Builder<'_, '_> {
    fn wild(&mut self) -> Result<bool> {
        Ok(self.u.int_in_range(0..=WILD - 1)? == 0)
    }

    /// An index below `len` (mostly), or anything.
    fn index(&mut self, len: usize) -> Result<u32> {
        if len == 0 || self.wild()? {
            return self.u.arbitrary::<u32>().map(|n| n % (len as u32 + 4));
        }
        Ok(self.u.choose_index(len)? as u32)
    }

    fn string(&mut self) -> Result<String> {
        if self.u.ratio(1, 4)? {
            let s: String = self.u.arbitrary()?;
            return Ok(s.chars().take(40).collect());
        }
        Ok(self.u.choose(STRINGS)?.to_string())
    }

    fn constant(&mut self) -> Result<Constant> {
        Ok(match self.u.int_in_range(0..=3)? {
            0 => Constant::Number(f64::from_bits(*self.u.choose(NUMBER_BITS)?)),
            1 => Constant::Number(f64::from_bits(self.u.arbitrary()?)),
            2 => Constant::Number(f64::from(self.u.int_in_range(-3i32..=300)?)),
            _ => Constant::String(self.string()?),
        })
    }

    fn module(&mut self) -> Result<Module> {
        let globals = (0..self.u.int_in_range(0..=5)?)
            .map(|_| self.string())
            .collect::<Result<Vec<String>>>()?;
        let count = self.u.int_in_range(1..=6)?;
        let script = if self.wild()? { self.u.int_in_range(0..=count)? } else { 0 };
        let mut headers = Vec::new();
        for index in 0..count {
            let header = if index == script {
                Header { kind: FunctionKind::Script, arity: 0, captures: Vec::new() }
            } else {
                let kind = *self.u.choose(&[
                    FunctionKind::Function,
                    FunctionKind::Method,
                    FunctionKind::Initializer,
                ])?;
                let arity = self.u.int_in_range(0..=3)?;
                let captures = (0..self.u.int_in_range(0..=3)?)
                    .map(|_| {
                        Ok(Capture {
                            is_local: self.u.arbitrary()?,
                            index: self.u.int_in_range(0..=4)?,
                        })
                    })
                    .collect::<Result<Vec<Capture>>>()?;
                Header { kind, arity, captures }
            };
            headers.push(header);
        }
        let mut functions = Vec::new();
        for index in 0..headers.len() {
            functions.push(self.function(index, &headers, globals.len(), script as usize)?);
        }
        Ok(Module { functions, script, globals })
    }

    fn function(
        &mut self,
        index: usize,
        headers: &[Header],
        n_globals: usize,
        script: usize,
    ) -> Result<Function> {
        let header = &headers[index];
        let mut chunk = Chunk::default();
        for _ in 0..self.u.int_in_range(0..=6)? {
            let constant = self.constant()?;
            chunk.constants.push(constant);
        }
        // Names (sites, classes, methods) need a string constant.
        let name = self.string()?;
        chunk.constants.push(Constant::String(name));

        let mut code = CodeWriter::new(1 + u32::from(header.arity));
        let length = self.u.int_in_range(0..=48)?;
        for _ in 0..length {
            if self.u.is_empty() {
                break;
            }
            if self.u.ratio(1, 8)? {
                self.idiom(&mut code, &mut chunk, headers, index, script)?;
            } else {
                self.instruction(&mut code, &mut chunk, headers, index, n_globals, script)?;
            }
        }
        if code.depth == 0 {
            code.op(Op::Nil, &[]);
        }
        code.op(Op::Return, &[]);
        code.patch_jumps(self)?;

        chunk.code = code.bytes;
        // Line runs at some instruction starts, in order.
        let mut line = self.u.int_in_range(1..=3)?;
        for &(offset, _) in &code.starts {
            if offset == 0 || self.u.ratio(1, 3)? {
                chunk.lines.push(LineRun { offset: offset as u32, line });
                line += self.u.int_in_range(0..=4)?;
            }
        }
        let mut max_stack = code.deepest;
        if self.wild()? {
            max_stack = self.u.int_in_range(0..=max_stack + 2)?;
        }
        let name = match header.kind {
            FunctionKind::Script => None,
            _ => Some(self.string()?),
        };
        Ok(Function {
            name,
            kind: header.kind,
            arity: header.arity,
            captures: header.captures.clone(),
            max_stack,
            chunk,
        })
    }

    /// Whether `Closure target`, written where the stack holds `depth`
    /// values, captures only what exists.
    fn closure_fits(
        headers: &[Header],
        index: usize,
        script: usize,
        target: usize,
        depth: u32,
    ) -> bool {
        target != script
            && headers.get(target).is_some_and(|h| {
                h.captures.iter().all(|c| {
                    if c.is_local {
                        u32::from(c.index) <= depth
                            && !(HIDE_KNOWN_BUGS && index == script && c.index == 0)
                    } else {
                        usize::from(c.index) < headers[index].captures.len()
                    }
                })
            })
    }

    /// A value of a simple kind.
    fn push_value(&mut self, code: &mut CodeWriter, chunk: &Chunk) -> Result<()> {
        match self.u.int_in_range(0..=3)? {
            0 => code.op(Op::Nil, &[]),
            1 => code.op(Op::True, &[]),
            _ => {
                let constant = self.u.choose_index(chunk.constants.len())? as u32;
                code.op(Op::Constant, &constant.to_le_bytes());
            }
        }
        Ok(())
    }

    /// A short sequence that does something meaningful with the right
    /// kinds of values (a call of a closure, a class with a method, an
    /// instance and a method call on it), so runs get past the first
    /// instruction's type error and into calls, classes and caches.
    fn idiom(
        &mut self,
        code: &mut CodeWriter,
        chunk: &mut Chunk,
        headers: &[Header],
        index: usize,
        script: usize,
    ) -> Result<()> {
        let target = self.u.choose_index(headers.len())?;
        if !Self::closure_fits(headers, index, script, target, code.depth) {
            return Ok(());
        }
        let arity = headers[target].arity;
        let argc = if self.wild()? { arity.saturating_add(1) } else { arity };
        // Names: the class's and the method's (a site must name a string).
        chunk.constants.push(Constant::String(self.string()?));
        let method_name = (chunk.constants.len() - 1) as u32;
        match self.u.int_in_range(0..=2)? {
            // Call a closure.
            0 => {
                code.op(Op::Closure, &(target as u32).to_le_bytes());
                for _ in 0..argc {
                    self.push_value(code, chunk)?;
                }
                code.op(Op::Call, &[argc]);
            }
            // A class with one method, an instance, a method call on it.
            _ => {
                code.op(Op::Class, &method_name.to_le_bytes());
                if !Self::closure_fits(headers, index, script, target, code.depth) {
                    code.op(Op::Pop, &[]);
                    return Ok(());
                }
                code.op(Op::Closure, &(target as u32).to_le_bytes());
                code.op(Op::DefineMethod, &method_name.to_le_bytes());
                code.op(Op::Call, &[0]);
                chunk.sites.push(method_name);
                let site = (chunk.sites.len() - 1) as u32;
                code.op(Op::Method, &site.to_le_bytes());
                for _ in 0..argc {
                    self.push_value(code, chunk)?;
                }
                code.op(Op::CallMethod, &[argc]);
            }
        }
        Ok(())
    }

    /// Append one instruction the stack can take (usually).
    fn instruction(
        &mut self,
        code: &mut CodeWriter,
        chunk: &mut Chunk,
        headers: &[Header],
        index: usize,
        n_globals: usize,
        script: usize,
    ) -> Result<()> {
        let info = self.u.choose(OPCODES)?;
        let op = info.op;
        let effect = info.effect;
        // `JumpIfFalse` tests the top without popping it: its row pops
        // nothing, but it needs a value.
        let needs = if op == Op::JumpIfFalse { 1 } else { u32::from(effect.pops) };
        let pops = u32::from(effect.pops);
        let loose = self.wild()?;
        if needs > code.depth && (!loose || HIDE_KNOWN_BUGS) {
            return Ok(());
        }
        // Ending the code early leaves dead code behind, which the verifier
        // rejects: keep it rare.
        if op == Op::Return && !loose {
            return Ok(());
        }
        let Some(&kind) = info.operands.first() else {
            code.op(op, &[]);
            return Ok(());
        };
        let operand: u32 = match kind {
            OperandKind::Const => {
                if matches!(op, Op::Class | Op::DefineMethod) && !loose {
                    (chunk.constants.len() - 1) as u32
                } else {
                    self.index(chunk.constants.len())?
                }
            }
            OperandKind::Slot => {
                let live =
                    if op == Op::StoreLocal { code.depth.saturating_sub(1) } else { code.depth };
                self.index(live as usize)?
            }
            OperandKind::Upvalue => {
                let captured = headers[index].captures.len();
                if captured == 0 && !loose {
                    return Ok(());
                }
                self.index(captured)?
            }
            OperandKind::Argc => {
                let spare = code.depth.saturating_sub(pops);
                if loose {
                    self.u.int_in_range(0..=255)?
                } else {
                    self.u.int_in_range(0..=spare)?
                }
            }
            OperandKind::Site => {
                let names = chunk.constants.len() - 1;
                chunk.sites.push(if loose {
                    self.index(chunk.constants.len())?
                } else {
                    names as u32
                });
                if loose { self.index(chunk.sites.len())? } else { (chunk.sites.len() - 1) as u32 }
            }
            OperandKind::Global => {
                if n_globals == 0 && !loose {
                    return Ok(());
                }
                self.index(n_globals)?
            }
            OperandKind::Function => {
                let target = self.index(headers.len())?;
                let fits = headers.get(target as usize).is_some_and(|h| {
                    target as usize != script
                        && h.captures.iter().all(|c| {
                            if c.is_local {
                                u32::from(c.index) <= code.depth
                                    && !(HIDE_KNOWN_BUGS && index == script && c.index == 0)
                            } else {
                                usize::from(c.index) < headers[index].captures.len()
                            }
                        })
                });
                if !fits && (!loose || HIDE_KNOWN_BUGS) {
                    return Ok(());
                }
                target
            }
            OperandKind::JumpForward => {
                code.op(op, &[0, 0, 0, 0]);
                code.jumps.push(code.bytes.len() - 4);
                return Ok(());
            }
            OperandKind::JumpBack => {
                if !self.options.backward_jumps {
                    return Ok(());
                }
                // Back to an instruction reached with this same depth.
                let targets: Vec<usize> = code
                    .starts
                    .iter()
                    .filter(|&&(_, depth)| depth == code.depth)
                    .map(|&(offset, _)| offset)
                    .collect();
                if targets.is_empty() {
                    return Ok(());
                }
                let target = *self.u.choose(&targets)?;
                let end = code.bytes.len() + 5;
                code.op(op, &((end - target) as u32).to_le_bytes());
                return Ok(());
            }
        };
        let bytes = operand.to_le_bytes();
        code.op(op, &bytes[..kind.width()]);
        Ok(())
    }
}

/// Code being written, with the stack depth before each instruction.
struct CodeWriter {
    bytes: Vec<u8>,
    /// Each instruction's offset and the depth it starts with.
    starts: Vec<(usize, u32)>,
    depth: u32,
    deepest: u32,
    /// Offsets of forward-jump operands still to patch.
    jumps: Vec<usize>,
}

impl CodeWriter {
    fn new(depth: u32) -> CodeWriter {
        CodeWriter {
            bytes: Vec::new(),
            starts: Vec::new(),
            depth,
            deepest: depth,
            jumps: Vec::new(),
        }
    }

    /// Append `op` with its operand bytes, tracking the depth as the
    /// verifier will (saturating where a loose choice underflows).
    fn op(&mut self, op: Op, operand: &[u8]) {
        self.starts.push((self.bytes.len(), self.depth));
        self.bytes.push(op as u8);
        self.bytes.extend_from_slice(operand);
        let effect = op.info().effect;
        let args =
            if effect.pops_args { u32::from(operand.first().copied().unwrap_or(0)) } else { 0 };
        self.depth =
            self.depth.saturating_sub(u32::from(effect.pops) + args) + u32::from(effect.pushes);
        self.deepest = self.deepest.max(self.depth);
    }

    /// Point every forward jump at a later instruction reached with the
    /// depth the jump leaves (the next instruction always is one).
    fn patch_jumps(&mut self, builder: &mut Builder<'_, '_>) -> Result<()> {
        for &at in &self.jumps.clone() {
            let end = at + 4;
            let after = self
                .starts
                .iter()
                .find(|&&(offset, _)| offset == end)
                .map(|&(_, depth)| depth)
                .unwrap_or(0);
            let targets: Vec<usize> = self
                .starts
                .iter()
                .filter(|&&(offset, depth)| offset >= end && depth == after)
                .map(|&(offset, _)| offset)
                .collect();
            let target = if targets.is_empty() || builder.u.ratio(1, 3)? {
                end
            } else {
                *builder.u.choose(&targets)?
            };
            self.bytes[at..end].copy_from_slice(&((target - end) as u32).to_le_bytes());
        }
        Ok(())
    }
}
