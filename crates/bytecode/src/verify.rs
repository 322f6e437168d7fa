//! The load-time verifier: a module is checked once, before anything runs
//! it, so that the VM may decode and index without bounds checks and the
//! compilers may trust every operand and stack depth (`decode.rs` says the
//! same from the other side).
//!
//! The input may be a hand-crafted file, so the verifier itself never
//! panics, never loops and takes time linear in the module's size: every
//! index is checked with `get`, every sum that a hostile operand feeds is
//! checked, and the stack walk sets each instruction's depth once and only
//! compares it afterwards; an instruction is walked again only when a new
//! path brings it a captured slot it did not have, which can happen at most
//! 256 times (captured slots are below 256), so the walk is linear too.
//!
//! What it checks, in this order:
//!
//! 1. **Module.** There is at least one function; `script` indexes one; the
//!    script has kind `Script`, arity 0, no captures and no name; no other
//!    function has kind `Script`. Every global's name is a Lox identifier.
//! 2. **Function header.** Every function but the script has a name, and
//!    it is a Lox identifier (so a trace line is always `[line N] in
//!    NAME()`, never a crafted string with newlines or escapes); at most 256
//!    captures (an arity above 255 cannot be encoded); `max_stack` at most
//!    [`MAX_FRAME_SLOTS`], the front end's own limit; the code is not
//!    empty; a number constant that is a NaN is the canonical one
//!    (`0x7ff8…` or `0xfff8…`), because any other NaN's bits could carry
//!    the value representation's tags.
//! 3. **Decoding.** The code decodes, instruction after instruction, to its
//!    very end: no unknown opcode byte, no operand cut off by the end.
//! 4. **Line table.** There is at least one run, the first starts at offset
//!    0, every line is at least 1, and runs start at strictly increasing
//!    offsets, each inside the code.
//! 5. **Operands**, on every instruction:
//!    - a constant index is in the function's constant table, and the
//!      constant of a name-taking opcode (`Class`, `DefineMethod`) is a
//!      string that is a Lox identifier;
//!    - a site index is in the function's site table, and no two
//!      instructions share a site (each site's inline cache then sees one
//!      kind of lookup); every site of the table names a string constant
//!      that is a Lox identifier;
//!    - a global index is in the module's global table;
//!    - a function index is in the module and is not the script;
//!    - an upvalue index is below this function's capture count, and names
//!      a capture by value for `GetCaptured`, by reference for the others
//!      (`GetUpvalue`, `SetUpvalue`, `StoreUpvalue`): a closure holds a
//!      value or an upvalue in each place as its function's captures say;
//!    - for `Closure`, every capture of the target that takes a local slot
//!      takes one below this function's `max_stack`, and every capture that
//!      takes an upvalue takes one below this function's capture count, and
//!      one this function holds the same way (by value or by reference);
//!    - a jump lands on the first byte of an instruction: not before the
//!      start, not at or past the end, not inside an instruction.
//! 6. **Methods and initializers.** A closure over a method or an
//!    initializer is made only to be added to a class at once: its
//!    `Closure` is directly followed by a `DefineMethod` that no jump lands
//!    on, and a `DefineMethod` is directly preceded by such a `Closure`.
//!    The method is named `init` exactly when its function is an
//!    initializer. An initializer returns only with `ReturnThis`, and only
//!    an initializer has `ReturnThis`. No function assigns slot 0 (the
//!    callee, or `this`). Together these make a class call always yield its
//!    instance, and `this` always be the receiver.
//! 7. **Stack depths and captured slots**, by abstract interpretation of
//!    the code from offset 0 with depth `1 + arity` (slot 0 and the
//!    parameters). Every instruction finds at least as many values as it
//!    pops (for `Call` and `CallMethod`, plus the argument count) above
//!    slot 0 and the parameters, which no instruction pops; the depth
//!    is never above `max_stack`; every path into an instruction brings the
//!    same depth; `GetLocal` and `SetLocal` name a slot below the depth, and
//!    `StoreLocal` one below the depth after its pop; a `Closure`'s local
//!    captures by reference name slots that exist once the closure is
//!    pushed (so no upvalue points above the top of the stack), and its
//!    local captures by value slots below the depth (values that exist, to
//!    copy); and `max_stack` equals the
//!    deepest depth reached, so that a compiler that miscounts is caught
//!    rather than trusted. The walk also tracks which slots a closure may
//!    have captured by reference (an open upvalue points at them): only `CloseUpvalue`
//!    (which closes the top slot) and the returns (which close them all)
//!    may pop such a slot, so no open upvalue ever points above the top of
//!    the stack, where the collector does not look.
//! 8. **Termination of paths.** No reachable instruction other than `Jump`,
//!    `Loop`, `Return` and `ReturnThis` is the last one in the code:
//!    execution never falls off the end.
//! 9. **No dead code.** Every instruction is reachable from the entry, so
//!    every instruction has a known stack depth: whatever compiles or
//!    resumes bytecode (a JIT, deoptimization) never meets code without one.
//!    The compiler emits no dead code.
//!
//! Any string is a valid string constant.

use std::fmt;

use crate::chunk::{Capture, Constant, Function, FunctionKind, Module};
use crate::decode::{DecodeError, Instruction, decode, instructions};
use crate::opcode::{Op, OperandKind};

/// The deepest frame a function may declare: the front end's limit on the
/// stack slots a function needs (`resolve::MAX_FRAME_SLOTS`, pinned equal
/// by a test), which lets the runtime reserve room for every frame up to
/// its frame limit whatever functions they run.
pub const MAX_FRAME_SLOTS: u32 = 1024;

/// The canonical NaNs: the one Rust's `f64::NAN` has, and the one x86's
/// arithmetic produces. Neither has the bits that tag non-numbers.
const CANONICAL_NANS: [u64; 2] = [0x7ff8_0000_0000_0000, 0xfff8_0000_0000_0000];

/// The most variables a closure may capture (one `u8` upvalue operand's
/// worth), the front end's limit too.
const MAX_CAPTURES: usize = 256;

/// Why a module was rejected, and where.
///
/// Every error means the module is malformed: a corrupt or hostile file, or
/// a compiler bug. The two limits (`max_stack` at most [`MAX_FRAME_SLOTS`],
/// 256 captures) are limits of the front end too, so no program it accepts
/// goes past them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    /// Index of the function at fault; `None` when the module as a whole is
    /// malformed.
    pub function: Option<usize>,
    /// That function's name; `None` for the script (or a nameless function).
    pub function_name: Option<String>,
    /// Byte offset of the instruction at fault, when there is one.
    pub offset: Option<usize>,
    /// What is wrong, as a phrase: `jump target 0099 is past the end of the code`.
    pub problem: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.function, &self.function_name) {
            (None, _) => f.write_str("module")?,
            // Escaped, because a hostile name could hold a newline and the
            // message promises to be one line.
            (Some(index), Some(name)) => {
                write!(f, "function '{}' (#{index})", name.escape_debug())?
            }
            (Some(index), None) => write!(f, "<script> (#{index})")?,
        }
        if let Some(offset) = self.offset {
            write!(f, " at {offset:04}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl std::error::Error for VerifyError {}

/// Check every invariant in this file's doc; `Ok` means the VM can run the
/// module without checking bounds or stack depths.
pub fn verify(module: &Module) -> Result<(), VerifyError> {
    analyze(module).map(drop)
}

/// What the verifier proved about each function of a module, for whatever
/// compiles or resumes its code (a JIT's on-stack replacement enters at a
/// loop header with the depth there; deoptimization resumes at an offset
/// with the depth there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// One per function, in the module's order.
    pub functions: Vec<FunctionFacts>,
}

/// What the verifier proved about one function's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionFacts {
    /// Per byte of code: the stack depth before the instruction starting
    /// there (slot 0 included), or `u32::MAX` inside an instruction.
    depths: Vec<u32>,
    /// Per byte of code: which `sets` entry holds the slots a closure may
    /// have captured before the instruction starting there.
    captured: Vec<u32>,
    sets: Vec<SlotSet>,
    /// The targets of `Loop` instructions, ascending: where on-stack
    /// replacement may enter.
    pub loop_headers: Vec<u32>,
    /// The offsets of the `Call` instructions, ascending: the sites an
    /// engine may record callees at.
    pub call_sites: Vec<u32>,
    /// Some `Closure` of the function captures one of its slots by
    /// reference: an upvalue may be open on its frame when it returns.
    pub captures_by_reference: bool,
}

impl FunctionFacts {
    /// The stack depth before the instruction at `offset`; `None` if no
    /// instruction starts there.
    pub fn depth_at(&self, offset: usize) -> Option<u32> {
        self.depths.get(offset).copied().filter(|&depth| depth != u32::MAX)
    }

    /// Whether a closure may have captured `slot` before the instruction at
    /// `offset` (an open upvalue may point at it, so a call may change it).
    pub fn may_be_captured(&self, offset: usize, slot: u32) -> bool {
        let Some(&id) = self.captured.get(offset) else { return false };
        let Ok(slot) = u8::try_from(slot) else { return false };
        self.sets.get(id as usize).is_some_and(|set| set.contains(slot))
    }
}

/// [`verify`], returning what it proved.
pub fn analyze(module: &Module) -> Result<Facts, VerifyError> {
    let script = check_module(module)?;
    // Summarised up front so that checking a `Closure` costs the same however
    // many captures its target lists: no quadratic blow-up from many
    // closures over one function.
    let reaches: Vec<CaptureReach> =
        module.functions.iter().map(|function| CaptureReach::of(&function.captures)).collect();
    let mut functions = Vec::with_capacity(module.functions.len());
    for (index, function) in module.functions.iter().enumerate() {
        let by_value = held_by_value(&function.captures);
        let checker =
            FunctionChecker { module, script, reaches: &reaches, index, function, by_value };
        functions.push(checker.check()?);
    }
    Ok(Facts { functions })
}

/// Whether `name` is a Lox identifier: `[A-Za-z_][A-Za-z0-9_]*`.
fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|first| first.is_ascii_alphabetic() || first == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `name` for a message: escaped, so that the message stays one line.
fn quoted(name: &str) -> String {
    format!("'{}'", name.escape_debug())
}

/// The module-wide checks; returns the script's index.
fn check_module(module: &Module) -> Result<usize, VerifyError> {
    let module_error = |problem: String| VerifyError {
        function: None,
        function_name: None,
        offset: None,
        problem,
    };
    if module.functions.is_empty() {
        return Err(module_error("the module has no functions".to_string()));
    }
    let script = module.script as usize;
    if script >= module.functions.len() {
        return Err(module_error(format!(
            "the script index {script} is out of range ({} functions)",
            module.functions.len()
        )));
    }
    if let Some((slot, name)) = module.globals.iter().enumerate().find(|(_, n)| !is_identifier(n)) {
        return Err(module_error(format!(
            "global {slot} is named {}, which is not an identifier",
            quoted(name)
        )));
    }
    Ok(script)
}

/// The farthest-reaching captures of one function, each as (position in
/// the capture list, index captured).
#[derive(Debug, Clone, Copy, Default)]
struct CaptureReach {
    /// The capture of the highest local slot.
    local: Option<(usize, u8)>,
    /// The capture by value of the highest local slot.
    local_value: Option<(usize, u8)>,
    /// The capture of the highest upvalue of the enclosing closure.
    upvalue: Option<(usize, u8)>,
    /// Every local slot it captures by reference (an upvalue points at it).
    locals: SlotSet,
    /// The upvalues of the enclosing closure it captures by value, and by
    /// reference: the enclosing function must hold them the same way.
    upvalues_by_value: SlotSet,
    upvalues_by_reference: SlotSet,
}

impl CaptureReach {
    fn of(captures: &[Capture]) -> CaptureReach {
        let mut reach = CaptureReach::default();
        for (position, capture) in captures.iter().enumerate() {
            let farther = |best: &mut Option<(usize, u8)>| {
                if best.is_none_or(|(_, index)| capture.index > index) {
                    *best = Some((position, capture.index));
                }
            };
            if capture.is_local {
                farther(&mut reach.local);
                if capture.by_value {
                    farther(&mut reach.local_value);
                } else {
                    reach.locals.insert(capture.index);
                }
            } else {
                farther(&mut reach.upvalue);
                let held = if capture.by_value {
                    &mut reach.upvalues_by_value
                } else {
                    &mut reach.upvalues_by_reference
                };
                held.insert(capture.index);
            }
        }
        reach
    }
}

/// The upvalue indices a closure of a function with `captures` holds by
/// value.
fn held_by_value(captures: &[Capture]) -> SlotSet {
    let mut set = SlotSet::default();
    for (index, capture) in captures.iter().enumerate() {
        // Past 256 captures the header check rejects the function anyway.
        if let (true, Ok(index)) = (capture.by_value, u8::try_from(index)) {
            set.insert(index);
        }
    }
    set
}

/// A set of frame slots below 256 (the slots a capture can name).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct SlotSet([u64; 4]);

impl SlotSet {
    fn contains(&self, slot: u8) -> bool {
        self.0[usize::from(slot / 64)] & (1 << (slot % 64)) != 0
    }

    fn insert(&mut self, slot: u8) {
        self.0[usize::from(slot / 64)] |= 1 << (slot % 64);
    }

    fn remove(&mut self, slot: u32) {
        if let Ok(slot) = u8::try_from(slot) {
            self.0[usize::from(slot / 64)] &= !(1 << (slot % 64));
        }
    }

    /// The lowest slot of the set at or above `from`.
    fn first_from(&self, from: u32) -> Option<u32> {
        (from..256).find(|&slot| self.0[slot as usize / 64] & (1 << (slot % 64)) != 0)
    }

    fn is_empty(&self) -> bool {
        self.0 == [0; 4]
    }

    /// The lowest slot in `self` and not in `other`.
    fn first_not_in(&self, other: &SlotSet) -> Option<u8> {
        (0..=255u8).find(|&slot| self.contains(slot) && !other.contains(slot))
    }

    /// The lowest slot in both.
    fn first_in(&self, other: &SlotSet) -> Option<u8> {
        (0..=255u8).find(|&slot| self.contains(slot) && other.contains(slot))
    }

    /// Add `other`'s slots; whether that added any.
    fn union_with(&mut self, other: &SlotSet) -> bool {
        let before = self.0;
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            *mine |= theirs;
        }
        self.0 != before
    }
}

/// What the verifier knows about one byte of a function's code. One entry
/// per byte makes "does an instruction start here?" and "with what state is
/// it reached?" constant-time questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Byte {
    /// An operand byte, inside an instruction.
    Operand,
    /// The first byte of an instruction that no path has reached yet.
    Unreached,
    /// The first byte of an instruction, reached with this stack depth and
    /// the captured slots `Sets` holds under this id.
    Reached { depth: u32, captured: u32 },
}

/// The distinct sets of captured slots met in one function, each stored
/// once: few differ, so a state per instruction stays small.
#[derive(Default)]
struct Sets {
    sets: Vec<SlotSet>,
    ids: std::collections::HashMap<SlotSet, u32>,
}

impl Sets {
    fn id(&mut self, set: SlotSet) -> u32 {
        *self.ids.entry(set).or_insert_with(|| {
            self.sets.push(set);
            (self.sets.len() - 1) as u32
        })
    }

    fn get(&self, id: u32) -> SlotSet {
        self.sets[id as usize]
    }
}

/// Everything needed to check one function.
struct FunctionChecker<'a> {
    module: &'a Module,
    script: usize,
    reaches: &'a [CaptureReach],
    index: usize,
    function: &'a Function,
    /// The upvalues its closures hold by value ([`held_by_value`]).
    by_value: SlotSet,
}

impl FunctionChecker<'_> {
    fn check(&self) -> Result<FunctionFacts, VerifyError> {
        self.check_header()?;
        self.check_sites()?;
        let mut bytes = self.decode()?;
        self.check_lines()?;
        let mut site_used = vec![false; self.function.chunk.sites.len()];
        // Decoding succeeded, so this yields every instruction.
        let code: Vec<Instruction> = instructions(&self.function.chunk.code).flatten().collect();
        let mut jumped_to = vec![false; self.function.chunk.code.len()];
        for instruction in &code {
            self.check_operand(instruction, &bytes, &mut site_used)?;
            if let Some(target) = instruction.jump_target() {
                // In range: `check_operand` checked every jump.
                jumped_to[target] = true;
            }
        }
        self.check_methods_and_returns(&code, &jumped_to)?;
        self.check_stack(&mut bytes)
    }

    fn error(&self, offset: Option<usize>, problem: String) -> VerifyError {
        VerifyError {
            function: Some(self.index),
            function_name: self.function.name.clone(),
            offset,
            problem,
        }
    }

    fn error_at(&self, instruction: &Instruction, problem: String) -> VerifyError {
        self.error(Some(instruction.offset), problem)
    }

    fn check_header(&self) -> Result<(), VerifyError> {
        let function = self.function;
        if self.index == self.script {
            if function.kind != FunctionKind::Script {
                return Err(self
                    .error(None, format!("the script has kind {:?}, not Script", function.kind)));
            }
            if function.arity != 0 {
                return Err(self.error(
                    None,
                    format!("the script takes {} parameters; it must take none", function.arity),
                ));
            }
            if !function.captures.is_empty() {
                return Err(self.error(
                    None,
                    format!(
                        "the script captures {} variables; it must capture none",
                        function.captures.len()
                    ),
                ));
            }
            if let Some(name) = &function.name {
                return Err(self.error(
                    None,
                    format!("the script is named {}; it must have no name", quoted(name)),
                ));
            }
        } else if function.kind == FunctionKind::Script {
            return Err(self.error(
                None,
                format!("has kind Script, but the script is function #{}", self.script),
            ));
        } else {
            match &function.name {
                None => return Err(self.error(None, "has no name".to_string())),
                Some(name) if !is_identifier(name) => {
                    return Err(self.error(None, "its name is not an identifier".to_string()));
                }
                Some(_) => {}
            }
        }
        // `arity` is a `u8`, so its limit of 255 needs no check.
        if function.captures.len() > MAX_CAPTURES {
            return Err(self.error(
                None,
                format!(
                    "captures {} variables; the limit is {MAX_CAPTURES}",
                    function.captures.len()
                ),
            ));
        }
        if function.max_stack > MAX_FRAME_SLOTS {
            return Err(self.error(
                None,
                format!("max_stack {} is above the limit of {MAX_FRAME_SLOTS}", function.max_stack),
            ));
        }
        if function.chunk.code.is_empty() {
            return Err(self.error(None, "the code is empty".to_string()));
        }
        for (index, constant) in function.chunk.constants.iter().enumerate() {
            if let Constant::Number(n) = constant
                && n.is_nan()
                && !CANONICAL_NANS.contains(&n.to_bits())
            {
                return Err(self.error(
                    None,
                    format!(
                        "constant {index} is a NaN with bits {:#018x}; only the canonical NaN \
                         may be a constant",
                        n.to_bits()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Decode the whole code, marking where each instruction starts.
    fn decode(&self) -> Result<Vec<Byte>, VerifyError> {
        let code = &self.function.chunk.code;
        let mut bytes = vec![Byte::Operand; code.len()];
        for result in instructions(code) {
            let instruction = result.map_err(|error| self.decode_error(error))?;
            // `instructions` only yields offsets inside the code.
            if let Some(byte) = bytes.get_mut(instruction.offset) {
                *byte = Byte::Unreached;
            }
        }
        Ok(bytes)
    }

    fn decode_error(&self, error: DecodeError) -> VerifyError {
        match error {
            DecodeError::OutOfRange { offset } => {
                self.error(Some(offset), "no instruction: past the end of the code".to_string())
            }
            DecodeError::UnknownOpcode { offset, byte } => {
                self.error(Some(offset), format!("unknown opcode {byte:#04x}"))
            }
            DecodeError::Truncated { offset, op } => self.error(
                Some(offset),
                format!("{}'s operand is cut off by the end of the code", op.name()),
            ),
        }
    }

    fn check_lines(&self) -> Result<(), VerifyError> {
        let chunk = &self.function.chunk;
        match chunk.lines.first() {
            None => return Err(self.error(None, "the line table is empty".to_string())),
            Some(first) if first.offset != 0 => {
                return Err(self.error(
                    None,
                    format!("the first line run starts at {:04}, not at 0000", first.offset),
                ));
            }
            Some(_) => {}
        }
        let mut previous: Option<u32> = None;
        for (position, run) in chunk.lines.iter().enumerate() {
            if run.line == 0 {
                return Err(
                    self.error(None, format!("line run {position} is on line 0; lines start at 1"))
                );
            }
            if run.offset as usize >= chunk.code.len() {
                return Err(self.error(
                    None,
                    format!(
                        "line run {position} starts at {:04}, past the end of the code ({} bytes)",
                        run.offset,
                        chunk.code.len()
                    ),
                ));
            }
            if let Some(previous) = previous
                && run.offset <= previous
            {
                return Err(self.error(
                    None,
                    format!(
                        "line run {position} starts at {:04}, not after the previous run's {previous:04}",
                        run.offset
                    ),
                ));
            }
            previous = Some(run.offset);
        }
        Ok(())
    }

    /// Every site names a string constant.
    fn check_sites(&self) -> Result<(), VerifyError> {
        let chunk = &self.function.chunk;
        for (site, &constant) in chunk.sites.iter().enumerate() {
            match chunk.constants.get(constant as usize) {
                Some(Constant::String(name)) if is_identifier(name) => {}
                Some(Constant::String(name)) => {
                    return Err(self.error(
                        None,
                        format!(
                            "site {site} names constant {constant}, {}, not an identifier",
                            quoted(name)
                        ),
                    ));
                }
                Some(Constant::Number(_)) => {
                    return Err(self.error(
                        None,
                        format!("site {site} names constant {constant}, a number, not a string"),
                    ));
                }
                None => {
                    return Err(self.error(
                        None,
                        format!(
                            "site {site} names constant {constant}, out of range ({} constants)",
                            chunk.constants.len()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_operand(
        &self,
        instruction: &Instruction,
        bytes: &[Byte],
        site_used: &mut [bool],
    ) -> Result<(), VerifyError> {
        let Some(&kind) = instruction.op.info().operands.first() else {
            return Ok(());
        };
        let op = instruction.op;
        let operand = instruction.operand as usize;
        match kind {
            OperandKind::Const => {
                let constants = &self.function.chunk.constants;
                let Some(constant) = constants.get(operand) else {
                    return Err(self.error_at(
                        instruction,
                        format!(
                            "{} constant {operand} is out of range ({} constants)",
                            op.name(),
                            constants.len()
                        ),
                    ));
                };
                if constant_is_name(op) {
                    match constant {
                        Constant::String(name) if is_identifier(name) => {}
                        Constant::String(name) => {
                            return Err(self.error_at(
                                instruction,
                                format!(
                                    "{} takes a name, but constant {operand}, {}, is not an \
                                     identifier",
                                    op.name(),
                                    quoted(name)
                                ),
                            ));
                        }
                        Constant::Number(_) => {
                            return Err(self.error_at(
                                instruction,
                                format!(
                                    "{} takes a name, but constant {operand} is a number, not a \
                                     string",
                                    op.name()
                                ),
                            ));
                        }
                    }
                }
            }
            OperandKind::Site => {
                let count = site_used.len();
                let Some(used) = site_used.get_mut(operand) else {
                    return Err(self.error_at(
                        instruction,
                        format!("{} site {operand} is out of range ({count} sites)", op.name()),
                    ));
                };
                if std::mem::replace(used, true) {
                    return Err(self.error_at(
                        instruction,
                        format!(
                            "{} uses site {operand}, which an earlier instruction uses",
                            op.name()
                        ),
                    ));
                }
            }
            OperandKind::Global => {
                let count = self.module.globals.len();
                if operand >= count {
                    return Err(self.error_at(
                        instruction,
                        format!("{} global {operand} is out of range ({count} globals)", op.name()),
                    ));
                }
            }
            OperandKind::Function => self.check_closure(instruction, operand)?,
            OperandKind::Upvalue => {
                let count = self.function.captures.len();
                if operand >= count {
                    return Err(self.error_at(
                        instruction,
                        format!(
                            "{} upvalue {operand} is out of range ({count} captured)",
                            op.name()
                        ),
                    ));
                }
                let by_value = self.function.captures[operand].by_value;
                if by_value != (op == Op::GetCaptured) {
                    let held = if by_value { "by value" } else { "by reference" };
                    return Err(self.error_at(
                        instruction,
                        format!("{} upvalue {operand}, which the closure holds {held}", op.name()),
                    ));
                }
            }
            OperandKind::JumpForward | OperandKind::JumpBack => {
                self.check_jump(instruction, bytes)?;
            }
            // Slots and argument counts depend on the stack depth, which the
            // stack walk checks.
            OperandKind::Slot | OperandKind::Argc => {}
        }
        Ok(())
    }

    /// The function operand of `Closure` (the only opcode that takes one).
    fn check_closure(&self, instruction: &Instruction, target: usize) -> Result<(), VerifyError> {
        let count = self.module.functions.len();
        let op = instruction.op.name();
        if target >= count {
            return Err(self.error_at(
                instruction,
                format!("{op} function {target} is out of range ({count} functions)"),
            ));
        }
        if target == self.script {
            return Err(
                self.error_at(instruction, format!("{op} of function {target}, the script"))
            );
        }
        let reach = self.reaches.get(target).copied().unwrap_or_default();
        if let Some((position, slot)) = reach.local
            && u32::from(slot) >= self.function.max_stack
        {
            return Err(self.error_at(
                instruction,
                format!(
                    "{op} of function {target}: its capture {position} takes local slot {slot}, \
                     not below this function's max_stack {}",
                    self.function.max_stack
                ),
            ));
        }
        let captured_here = self.function.captures.len();
        if let Some((position, upvalue)) = reach.upvalue
            && usize::from(upvalue) >= captured_here
        {
            return Err(self.error_at(
                instruction,
                format!(
                    "{op} of function {target}: its capture {position} takes upvalue {upvalue}, \
                     but this function captures only {captured_here}"
                ),
            ));
        }
        // Only on the way to an error is the capture list searched, so
        // that a `Closure` costs the same however many captures it makes.
        let mismatch = reach
            .upvalues_by_value
            .first_not_in(&self.by_value)
            .map(|upvalue| (upvalue, "by value", "by reference"))
            .or_else(|| {
                let upvalue = reach.upvalues_by_reference.first_in(&self.by_value)?;
                Some((upvalue, "by reference", "by value"))
            });
        if let Some((upvalue, theirs, ours)) = mismatch {
            let target_function = &self.module.functions[target];
            let position = target_function
                .captures
                .iter()
                .position(|c| !c.is_local && c.index == upvalue)
                .unwrap_or_default();
            return Err(self.error_at(
                instruction,
                format!(
                    "{op} of function {target}: its capture {position} takes upvalue {upvalue} \
                     {theirs}, but this function holds it {ours}"
                ),
            ));
        }
        Ok(())
    }

    /// Invariant 6 of this file's doc: method closures go straight into a
    /// class, `init` is exactly the initializer, initializers return `this`,
    /// and slot 0 is never assigned.
    fn check_methods_and_returns(
        &self,
        code: &[Instruction],
        jumped_to: &[bool],
    ) -> Result<(), VerifyError> {
        let kind = self.function.kind;
        for (position, instruction) in code.iter().enumerate() {
            let op = instruction.op;
            match op {
                Op::SetLocal | Op::StoreLocal if instruction.operand == 0 => {
                    return Err(self.error_at(
                        instruction,
                        format!("{} assigns slot 0 (the callee or `this`)", op.name()),
                    ));
                }
                Op::Return if kind == FunctionKind::Initializer => {
                    return Err(self.error_at(
                        instruction,
                        "an initializer returns with ReturnThis, never Return".to_string(),
                    ));
                }
                Op::ReturnThis if kind != FunctionKind::Initializer => {
                    return Err(
                        self.error_at(instruction, "ReturnThis outside an initializer".to_string())
                    );
                }
                Op::Closure if self.is_method(instruction.operand) => {
                    let next = code.get(position + 1);
                    if next.is_none_or(|next| next.op != Op::DefineMethod) {
                        return Err(self.error_at(
                            instruction,
                            format!(
                                "Closure of method function {} is not followed by DefineMethod",
                                instruction.operand
                            ),
                        ));
                    }
                }
                Op::DefineMethod => {
                    let previous = position.checked_sub(1).and_then(|p| code.get(p));
                    let Some(closure) = previous
                        .filter(|p| p.op == Op::Closure && self.is_method(p.operand))
                        .filter(|_| !jumped_to[instruction.offset])
                    else {
                        return Err(self.error_at(
                            instruction,
                            "DefineMethod does not directly follow the Closure of a method"
                                .to_string(),
                        ));
                    };
                    let target = &self.module.functions[closure.operand as usize];
                    let named_init = matches!(
                        self.function.chunk.constants.get(instruction.operand as usize),
                        Some(Constant::String(name)) if name == "init"
                    );
                    if named_init != (target.kind == FunctionKind::Initializer) {
                        return Err(self.error_at(
                            instruction,
                            format!(
                                "a method is named `init` exactly when it is an initializer, \
                                 but function {} of kind {:?} is defined here",
                                closure.operand, target.kind
                            ),
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether function `index` (a checked `Closure` operand) is a method or
    /// an initializer.
    fn is_method(&self, index: u32) -> bool {
        self.module.functions.get(index as usize).is_some_and(|target| {
            matches!(target.kind, FunctionKind::Method | FunctionKind::Initializer)
        })
    }

    fn check_jump(&self, instruction: &Instruction, bytes: &[Byte]) -> Result<(), VerifyError> {
        let code_len = self.function.chunk.code.len();
        match instruction.jump_target() {
            None => Err(self.error_at(
                instruction,
                format!(
                    "{} of {} bytes lands before the start of the code",
                    instruction.op.name(),
                    instruction.operand
                ),
            )),
            Some(target) if target >= code_len => Err(self.error_at(
                instruction,
                format!("jump target {target:04} is past the end of the code ({code_len} bytes)"),
            )),
            // Before the stack walk every instruction start is `Unreached`.
            Some(target) if bytes.get(target) != Some(&Byte::Unreached) => Err(self.error_at(
                instruction,
                format!("jump target {target:04} is not an instruction boundary"),
            )),
            Some(_) => Ok(()),
        }
    }

    /// The abstract interpretation of stack depths and captured slots
    /// (invariants 7, 8 and 9 of this file's doc).
    fn check_stack(&self, bytes: &mut [Byte]) -> Result<FunctionFacts, VerifyError> {
        let max_stack = self.function.max_stack;
        let entry = 1 + u32::from(self.function.arity);
        if entry > max_stack {
            return Err(self.error(
                None,
                format!(
                    "the frame starts with {entry} values (slot 0 and the parameters), \
                     above max_stack {max_stack}"
                ),
            ));
        }
        // An instruction's depth is set the first time a path reaches it and
        // only compared afterwards. Its captured slots only grow (a path that
        // may have captured a slot makes it captured there), and it is walked
        // again only when they do: at most 256 times.
        let code = &self.function.chunk.code;
        let mut sets = Sets::default();
        let none = sets.id(SlotSet::default());
        let mut worklist: Vec<usize> = Vec::new();
        if let Some(first) = bytes.first_mut() {
            *first = Byte::Reached { depth: entry, captured: none };
            worklist.push(0);
        }
        let mut deepest = entry;

        while let Some(offset) = worklist.pop() {
            // Only reached instruction starts are pushed, and `bytes` is as
            // long as the code, so `decode` gets an offset inside it.
            let Some(&Byte::Reached { depth, captured }) = bytes.get(offset) else {
                continue;
            };
            let instruction = decode(code, offset).map_err(|error| self.decode_error(error))?;
            let after = self.step(&instruction, depth)?;
            deepest = deepest.max(after);
            let captured = self.captures_after(&instruction, depth, sets.get(captured))?;
            let captured_id = sets.id(captured);

            let fall_through = if instruction.op.ends_flow() {
                None
            } else {
                if instruction.next >= code.len() {
                    return Err(self.error_at(
                        &instruction,
                        format!(
                            "{} falls off the end of the code; every path must end in a return",
                            instruction.op.name()
                        ),
                    ));
                }
                Some(instruction.next)
            };
            for successor in [fall_through, instruction.jump_target()].into_iter().flatten() {
                match bytes.get_mut(successor) {
                    Some(byte @ Byte::Unreached) => {
                        *byte = Byte::Reached { depth: after, captured: captured_id };
                        worklist.push(successor);
                    }
                    Some(Byte::Reached { depth: there, .. }) if *there != after => {
                        return Err(self.error_at(
                            &instruction,
                            format!(
                                "stack depth {after} on the way to {successor:04} differs from \
                                 depth {there} there on another path"
                            ),
                        ));
                    }
                    Some(Byte::Reached { captured: there, .. }) => {
                        let mut merged = sets.get(*there);
                        if merged.union_with(&captured) {
                            *there = sets.id(merged);
                            worklist.push(successor);
                        }
                    }
                    // Jump targets were checked, and decoding is contiguous,
                    // so this is only a guard.
                    Some(Byte::Operand) | None => {
                        return Err(self.error_at(
                            &instruction,
                            format!("successor {successor:04} is not an instruction boundary"),
                        ));
                    }
                }
            }
        }

        if let Some(dead) = bytes.iter().position(|byte| *byte == Byte::Unreached) {
            return Err(self.error(
                Some(dead),
                "no path reaches this instruction (dead code is not allowed)".to_string(),
            ));
        }
        if deepest != max_stack {
            return Err(self.error(
                None,
                format!("max_stack is {max_stack}, but the deepest the stack gets is {deepest}"),
            ));
        }
        Ok(self.facts(bytes, sets))
    }

    /// The facts of a function whose walk succeeded: every instruction was
    /// reached.
    fn facts(&self, bytes: &[Byte], sets: Sets) -> FunctionFacts {
        let mut depths = Vec::with_capacity(bytes.len());
        let mut captured = Vec::with_capacity(bytes.len());
        for byte in bytes {
            let (depth, set) = match *byte {
                Byte::Reached { depth, captured } => (depth, captured),
                Byte::Operand | Byte::Unreached => (u32::MAX, 0),
            };
            depths.push(depth);
            captured.push(set);
        }
        let (mut loop_headers, mut call_sites) = (Vec::new(), Vec::new());
        let mut captures_by_reference = false;
        for instruction in instructions(&self.function.chunk.code).flatten() {
            match instruction.op {
                Op::Loop => loop_headers.extend(instruction.jump_target().map(|t| t as u32)),
                Op::Call => call_sites.push(instruction.offset as u32),
                Op::Closure => {
                    let reach = self.reaches.get(instruction.operand as usize);
                    captures_by_reference |= reach.is_some_and(|reach| !reach.locals.is_empty());
                }
                _ => {}
            }
        }
        loop_headers.sort_unstable();
        loop_headers.dedup();
        FunctionFacts {
            depths,
            captured,
            sets: sets.sets,
            loop_headers,
            call_sites,
            captures_by_reference,
        }
    }

    /// The slots a closure may have captured after `instruction`, which
    /// runs with `depth` values of which `captured` may be captured: only
    /// `CloseUpvalue` and the returns may pop a captured slot (the step
    /// already checked the pops are there to pop).
    fn captures_after(
        &self,
        instruction: &Instruction,
        depth: u32,
        mut captured: SlotSet,
    ) -> Result<SlotSet, VerifyError> {
        let op = instruction.op;
        let effect = op.info().effect;
        let pops = u32::from(effect.pops) + if effect.pops_args { instruction.operand } else { 0 };
        match op {
            Op::Return | Op::ReturnThis => {}
            Op::CloseUpvalue => captured.remove(depth - 1),
            _ if !captured.is_empty() => {
                if let Some(slot) = captured.first_from(depth - pops).filter(|&slot| slot < depth) {
                    return Err(self.error_at(
                        instruction,
                        format!(
                            "{} pops slot {slot}, which a closure may have captured, without \
                             closing its upvalue (only CloseUpvalue may)",
                            op.name()
                        ),
                    ));
                }
            }
            _ => {}
        }
        if op == Op::Closure {
            let target = instruction.operand as usize;
            captured.union_with(&self.reaches.get(target).copied().unwrap_or_default().locals);
        }
        Ok(captured)
    }

    /// The depth after `instruction`, which runs with `depth` values on the
    /// stack, or why it cannot run there.
    fn step(&self, instruction: &Instruction, depth: u32) -> Result<u32, VerifyError> {
        let op = instruction.op;
        let effect = op.info().effect;
        let pops = u32::from(effect.pops) + if effect.pops_args { instruction.operand } else { 0 };
        // Slot 0 and the parameters are the frame's own: no instruction
        // pops them (a `Return` pops its result, above them), so `this` in
        // a method stays the receiver and nothing reads below the frame.
        let floor = 1 + u32::from(self.function.arity);
        let below = match depth.checked_sub(pops) {
            Some(below) if below >= floor => below,
            _ => {
                return Err(self.error_at(
                    instruction,
                    format!(
                        "stack underflow: {} pops {pops} values, but the stack holds {} above \
                         slot 0 and the parameters",
                        op.name(),
                        depth.saturating_sub(floor)
                    ),
                ));
            }
        };
        // `below <= depth <= max_stack <= MAX_FRAME_SLOTS`, far from overflow.
        let after = below + u32::from(effect.pushes);
        if after > self.function.max_stack {
            return Err(self.error_at(
                instruction,
                format!(
                    "stack depth {after} after {} is above max_stack {}",
                    op.name(),
                    self.function.max_stack
                ),
            ));
        }
        match op {
            Op::GetLocal | Op::SetLocal if instruction.operand >= depth => {
                return Err(self.error_at(
                    instruction,
                    format!(
                        "{} slot {} is not below the stack depth {depth}",
                        op.name(),
                        instruction.operand
                    ),
                ));
            }
            Op::StoreLocal if instruction.operand >= after => {
                return Err(self.error_at(
                    instruction,
                    format!(
                        "StoreLocal slot {} is not below the stack depth {after} after the pop",
                        instruction.operand
                    ),
                ));
            }
            Op::Closure => {
                // The closure captures once it is pushed, so a capture may
                // name its own slot (a local function that calls itself)
                // but nothing above it.
                let reach =
                    self.reaches.get(instruction.operand as usize).copied().unwrap_or_default();
                if let Some((position, slot)) = reach.local
                    && u32::from(slot) >= after
                {
                    return Err(self.error_at(
                        instruction,
                        format!(
                            "Closure of function {}: its capture {position} takes local slot \
                             {slot}, but only {after} slots are live once the closure is pushed",
                            instruction.operand
                        ),
                    ));
                }
                // A capture by value copies the slot, which must hold a
                // value before the closure is pushed.
                if let Some((position, slot)) = reach.local_value
                    && u32::from(slot) >= depth
                {
                    return Err(self.error_at(
                        instruction,
                        format!(
                            "Closure of function {}: its capture {position} copies local slot \
                             {slot}, but only {depth} slots are live",
                            instruction.operand
                        ),
                    ));
                }
            }
            _ => {}
        }
        Ok(after)
    }
}

/// Whether `op`'s constant operand names a property, method or class, and
/// so must be a string. The match lists every opcode so that adding one to
/// the table forces a decision here.
fn constant_is_name(op: Op) -> bool {
    match op {
        Op::Class | Op::DefineMethod => true,
        Op::GetProperty
        | Op::SetProperty
        | Op::StoreLocal
        | Op::StoreGlobal
        | Op::StoreUpvalue
        | Op::StoreProperty
        | Op::PopJumpIfFalse
        | Op::JumpIfNotLess
        | Op::JumpIfNotLessEqual
        | Op::JumpIfNotGreater
        | Op::JumpIfNotGreaterEqual
        | Op::AddConstant
        | Op::SubtractConstant
        | Op::MultiplyConstant
        | Op::DivideConstant
        | Op::GetSuper
        | Op::Method
        | Op::SuperMethod
        | Op::Constant
        | Op::Nil
        | Op::True
        | Op::False
        | Op::Pop
        | Op::GetLocal
        | Op::SetLocal
        | Op::GetGlobal
        | Op::DefineGlobal
        | Op::SetGlobal
        | Op::GetUpvalue
        | Op::SetUpvalue
        | Op::GetCaptured
        | Op::Equal
        | Op::NotEqual
        | Op::Greater
        | Op::GreaterEqual
        | Op::Less
        | Op::LessEqual
        | Op::Add
        | Op::Subtract
        | Op::Multiply
        | Op::Divide
        | Op::Not
        | Op::Negate
        | Op::Print
        | Op::Jump
        | Op::JumpIfFalse
        | Op::Loop
        | Op::Call
        | Op::CallMethod
        | Op::Closure
        | Op::CloseUpvalue
        | Op::Return
        | Op::ReturnThis
        | Op::Inherit => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::opcode::OPCODES;

    #[test]
    fn exactly_the_name_opcodes_take_string_constants() {
        for info in OPCODES {
            if constant_is_name(info.op) {
                assert_eq!(info.operands, &[OperandKind::Const], "{}", info.name);
            }
        }
    }
}
