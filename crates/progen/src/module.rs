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
//! with control characters, quotes and non-ASCII text. Names (globals,
//! functions, properties, classes) are identifiers, as the verifier
//! requires, except for the wild ones.

use arbitrary::{Result, Unstructured};
use bytecode::{
    Capture, Chunk, Constant, Function, FunctionKind, LineRun, Module, OPCODES, Op, OperandKind,
};

/// One operand in `WILD` is drawn from its whole range.
pub const WILD: u32 = 256;

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

/// Names (of globals, functions, classes, properties): Lox identifiers,
/// keywords included, which the verifier requires.
const NAMES: &[&str] =
    &["x", "init", "name", "m", "clock", "_", "a_b", "A1", "this", "super", "nil"];

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
        // The last value, not 0: an exhausted input draws 0 everywhere,
        // and should then build the tamest module.
        Ok(self.u.int_in_range(0..=WILD - 1)? == WILD - 1)
    }

    /// An index below `len` (mostly), or anything.
    fn index(&mut self, len: usize) -> Result<u32> {
        if len == 0 || self.wild()? {
            return self.u.arbitrary::<u32>().map(|n| n % (len as u32 + 4));
        }
        Ok(self.u.choose_index(len)? as u32)
    }

    /// A name: usually an identifier, sometimes any string.
    fn name(&mut self) -> Result<String> {
        if self.wild()? {
            return self.string();
        }
        Ok(self.u.choose(NAMES)?.to_string())
    }

    fn string(&mut self) -> Result<String> {
        if self.u.ratio(1, 4)? {
            let s: String = self.u.arbitrary()?;
            return Ok(s.chars().take(40).collect());
        }
        Ok(self.u.choose(STRINGS)?.to_string())
    }

    fn constant(&mut self) -> Result<Constant> {
        let bits = match self.u.int_in_range(0..=3)? {
            0 => *self.u.choose(NUMBER_BITS)?,
            1 => self.u.arbitrary()?,
            2 => f64::from(self.u.int_in_range(-3i32..=300)?).to_bits(),
            _ => return Ok(Constant::String(self.string()?)),
        };
        let number = f64::from_bits(bits);
        // Only the canonical NaN verifies (any other could carry tag bits):
        // the others are wild choices.
        if number.is_nan() && !self.wild()? {
            return Ok(Constant::Number(f64::NAN));
        }
        Ok(Constant::Number(number))
    }

    fn module(&mut self) -> Result<Module> {
        let globals = (0..self.u.int_in_range(0..=5)?)
            .map(|_| self.name())
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
                            by_value: self.u.arbitrary()?,
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
        let name = self.name()?;
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
        if header.kind == FunctionKind::Initializer {
            code.op(Op::ReturnThis, &[]);
        } else {
            if code.depth == 0 {
                code.op(Op::Nil, &[]);
            }
            code.op(Op::Return, &[]);
        }
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
            _ => Some(self.name()?),
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
                        u32::from(c.index) < depth && c.index <= headers[index].arity
                    } else {
                        usize::from(c.index) < headers[index].captures.len()
                    }
                })
            })
    }

    /// A constant naming a method of this kind: `init` exactly for an
    /// initializer.
    fn method_name(&mut self, chunk: &mut Chunk, kind: FunctionKind) -> Result<u32> {
        let name = if kind == FunctionKind::Initializer {
            "init".to_string()
        } else {
            let name = self.name()?;
            if name == "init" { "m".to_string() } else { name }
        };
        chunk.constants.push(Constant::String(name));
        Ok((chunk.constants.len() - 1) as u32)
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
        // A function is called; a method or initializer goes into a class.
        let kind = headers[target].kind;
        let choice = self.u.int_in_range(0..=3)?;
        if (choice == 0) == matches!(kind, FunctionKind::Method | FunctionKind::Initializer) {
            return Ok(());
        }
        chunk.constants.push(Constant::String(self.name()?));
        let class_name = (chunk.constants.len() - 1) as u32;
        let method_name = self.method_name(chunk, kind)?;
        match choice {
            // A superclass with the method, a subclass inheriting it, an
            // instance of the subclass, and a `super` call on it.
            3 if code.depth < 240 => {
                let super_slot = code.depth as u8;
                code.op(Op::Class, &class_name.to_le_bytes());
                code.op(Op::Closure, &(target as u32).to_le_bytes());
                code.op_no_land(Op::DefineMethod, &method_name.to_le_bytes());
                let class_slot = code.depth as u8;
                code.op(Op::Class, &class_name.to_le_bytes());
                code.op(Op::GetLocal, &[super_slot]);
                code.op(Op::GetLocal, &[class_slot]);
                code.op(Op::Inherit, &[]);
                code.op(Op::Pop, &[]);
                code.op(Op::GetLocal, &[class_slot]);
                code.op(Op::Call, &[0]);
                code.op(Op::GetLocal, &[super_slot]);
                chunk.sites.push(method_name);
                let site = (chunk.sites.len() - 1) as u32;
                let (access, call) = if self.u.arbitrary()? {
                    (Op::SuperMethod, Op::CallMethod)
                } else {
                    (Op::GetSuper, Op::Call)
                };
                code.op(access, &site.to_le_bytes());
                for _ in 0..argc {
                    self.push_value(code, chunk)?;
                }
                code.op(call, &[argc]);
            }
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
                code.op(Op::Class, &class_name.to_le_bytes());
                if !Self::closure_fits(headers, index, script, target, code.depth) {
                    code.op(Op::Pop, &[]);
                    return Ok(());
                }
                code.op(Op::Closure, &(target as u32).to_le_bytes());
                code.op_no_land(Op::DefineMethod, &method_name.to_le_bytes());
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
        let pops = u32::from(effect.pops);
        // Slot 0 and the parameters are never popped.
        let floor = 1 + u32::from(headers[index].arity);
        let loose = self.u.int_in_range(0..=4 * WILD - 1)? == 4 * WILD - 1;
        if pops + floor > code.depth && !loose {
            return Ok(());
        }
        // Ending the code early leaves dead code behind, which the verifier
        // rejects: keep it rare.
        if matches!(op, Op::Return | Op::ReturnThis) && !loose {
            return Ok(());
        }
        // A `DefineMethod` comes only right after the `Closure` of a
        // method (below), as the verifier requires.
        if op == Op::DefineMethod && !loose {
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
                if live == 0 && !loose {
                    return Ok(());
                }
                let slot = self.index(live as usize)?;
                // Slot 0 (the callee or `this`) is never assigned.
                if slot == 0 && matches!(op, Op::SetLocal | Op::StoreLocal) && !loose {
                    if live <= 1 {
                        return Ok(());
                    }
                    1
                } else {
                    slot
                }
            }
            OperandKind::Upvalue => {
                let captures = &headers[index].captures;
                if loose {
                    self.index(captures.len())?
                } else {
                    // One the closure holds as the opcode reads it.
                    let by_value = op == Op::GetCaptured;
                    let fitting: Vec<u32> = (0..captures.len() as u32)
                        .filter(|&i| captures[i as usize].by_value == by_value)
                        .collect();
                    if fitting.is_empty() {
                        return Ok(());
                    }
                    *self.u.choose(&fitting)?
                }
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
                                u32::from(c.index) < code.depth && c.index <= headers[index].arity
                            } else {
                                usize::from(c.index) < headers[index].captures.len()
                            }
                        })
                });
                if !fits && !loose {
                    return Ok(());
                }
                if let Some(kind) = headers.get(target as usize).map(|h| h.kind)
                    && matches!(kind, FunctionKind::Method | FunctionKind::Initializer)
                {
                    // A method's closure is made only to be added to the
                    // class below it, under its name.
                    if code.depth == 0 && !loose {
                        return Ok(());
                    }
                    let name = self.method_name(chunk, kind)?;
                    code.op(Op::Closure, &target.to_le_bytes());
                    code.op_no_land(Op::DefineMethod, &name.to_le_bytes());
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
                // A loop's exit: a conditional jump over the `Loop`, so the
                // code after it is reachable. The condition is usually
                // `false` (no loop at all); otherwise the loop may never end,
                // and the caller's interrupt ends it.
                if self.u.ratio(31, 32)? {
                    code.op(Op::False, &[]);
                } else {
                    self.push_value(code, chunk)?;
                }
                code.op(Op::PopJumpIfFalse, &5u32.to_le_bytes());
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
    /// Instructions no jump may land on (a `DefineMethod`).
    no_land: Vec<usize>,
}

impl CodeWriter {
    fn new(depth: u32) -> CodeWriter {
        CodeWriter {
            bytes: Vec::new(),
            starts: Vec::new(),
            depth,
            deepest: depth,
            jumps: Vec::new(),
            no_land: Vec::new(),
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

    /// `op`, which no jump may land on.
    fn op_no_land(&mut self, op: Op, operand: &[u8]) {
        self.no_land.push(self.bytes.len());
        self.op(op, operand);
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
                .filter(|&&(offset, depth)| {
                    offset >= end && depth == after && !self.no_land.contains(&offset)
                })
                .map(|&(offset, _)| offset)
                .collect();
            let unconditional = self.bytes[at - 1] == Op::Jump as u8;
            let target = if targets.is_empty()
                || builder.u.ratio(1, 3)?
                || (unconditional && !builder.wild()?)
            {
                end
            } else {
                *builder.u.choose(&targets)?
            };
            self.bytes[at..end].copy_from_slice(&((target - end) as u32).to_le_bytes());
        }
        Ok(())
    }
}
