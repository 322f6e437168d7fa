//! Lowering one bytecode function to Cranelift IR.
//!
//! Every VM stack slot of the frame is a Cranelift `Variable`; the SSA
//! builder turns them into registers and joins them at merges. Slots are
//! read from the VM stack at entry, and at every safepoint (a helper call)
//! every live slot is written back and the frame's resume point passed
//! along; after a helper that may have changed slots (a call: closures may
//! assign captured variables; a helper that writes its result into a slot),
//! they are read again. The verifier's facts give the stack depth at every
//! instruction, so the lowering always knows which slots are live.
//!
//! A slot the type plan (`types.rs`) knows to be a number lives in a second,
//! float variable instead, unboxed: arithmetic on it needs no tag check, and
//! it is boxed (a bit cast) only where it is written back or flows into a
//! block that does not know it. With feedback, the plan also speculates;
//! where a guard fails, the code writes the frame back as the VM would have
//! it and deoptimizes (the `deopt` helper): the VM runs the rest of the frame.

use std::collections::{BTreeSet, HashMap};

use bytecode::{Constant, FunctionFacts, Instruction, Op, instructions};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    self, AbiParam, Block, FuncRef, InstBuilder, MemFlagsData, UserFuncName, types,
};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_module::{FuncId, Linkage, Module};
use runtime::abi;

use runtime::abi::ErrorCode;

use crate::helpers::Helper;
use crate::lowering::{Lowering, lowering};
use crate::types::{NumberKind, Plan, PlanInput, State, Ty, transfer};

mod inline;

pub use inline::{CalleeInput, Inliner};

/// What the code generator needs to know of one function.
pub struct FunctionInput<'a> {
    pub function: &'a bytecode::Function,
    pub facts: &'a FunctionFacts,
    /// Where the code starts: `None` for the function's entry (the
    /// arguments in place); `Some(offset)` for an on-stack-replacement
    /// entry at the loop header at `offset`, entered from a frame the VM
    /// ran up to there (every slot below the verifier's depth at the
    /// header in place).
    pub entry_at: Option<usize>,
    /// The function's type feedback, one byte per byte of code
    /// (`ObjFunction::feedback`), to speculate on; `None`: no speculation
    /// (code for which no run has been watched, such as AOT code).
    pub feedback: Option<&'a [u8]>,
    /// Deopt stress mode: every guard fails the first time it runs.
    pub stress_deopt: bool,
    /// The engine's number for this compile of the function (its code
    /// generation), which each deoptimization passes back, so the engine
    /// can tell the function's current code from older code still running.
    pub generation: u32,
    /// By global slot, the function whose closure the global holds at
    /// compile time, if any (empty: nothing known, as for AOT code). A call
    /// of such a global calls that function directly behind a guard that
    /// the callee is a closure of it.
    pub global_functions: &'a [Option<KnownFunction>],
    /// By global slot, whether the global is defined at compile time (empty:
    /// none known, as for AOT code). A global once defined stays defined
    /// (nothing in Lox undefines one), so reading or assigning it needs no
    /// check that it is.
    pub defined_globals: &'a [bool],
    /// By property site (a `Method` or `SuperMethod`), the functions of the
    /// methods its inline cache found, in the order it found them (empty:
    /// none known): a method call of that site compares its callee with
    /// each, in turn, and calls the one it is directly (or inlines it),
    /// and deoptimizes when it is none of them.
    pub site_functions: &'a [Vec<KnownFunction>],
    /// By call site (the number a `Call`'s operand byte of feedback holds,
    /// minus one: `abi::FEEDBACK_CALL_SITES`), the functions whose closures
    /// the site has called, in the order it first called them, as the
    /// interpreter recorded it (empty: none known). A call there whose
    /// callee is not a global of a known function compares the callee's
    /// function with each in turn and calls the one it is directly (or
    /// inlines it), and deoptimizes when it is none of them.
    pub call_functions: &'a [Vec<KnownFunction>],
    /// By property site, the shapes its inline cache has found and the
    /// index of the field each has, in the order it found them (empty:
    /// none known, or a key found something other than a field; the
    /// engine keeps the shapes alive for as long as the code exists): a
    /// get or set of that site compares the receiver's shape with each
    /// constant in turn and reads or writes the field at the constant
    /// offset of the one it is, the cache's ways only when it is none.
    pub site_fields: &'a [Vec<KnownField>],
    /// By `Method` or `SuperMethod` site, the keys its inline cache has
    /// found (a receiver's shape; a superclass at a `super` site) and the
    /// method (a closure) each has, in the order it found them (empty: none
    /// known, or a key found something other than a method; the engine
    /// keeps the keys and closures alive for as long as the code exists):
    /// the site compares the receiver's shape (or the superclass) with each
    /// constant in turn and has the method of the one it is as a constant;
    /// a `Method` site deoptimizes when it is none, a `super` site takes
    /// the cache's ways.
    pub site_methods: &'a [Vec<KnownMethod>],
    /// The functions the function's `Closure` instructions make closures
    /// of (empty: none known; each `Closure` then calls the helper
    /// `closure`, at a safepoint).
    pub closures: &'a [KnownClosure],
    /// Where the code of a known callee is found, to inline it (`None`:
    /// nothing is inlined, as in AOT code).
    pub inliner: Option<&'a dyn Inliner>,
}

/// A field known at compile time: an instance of `shape` (an `ObjShape`'s
/// address) has it at `index`; or, if `adds` is given, a set adds it there,
/// as the last field, and moves the instance to the shape `adds` (the
/// child of `shape` with the field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownField {
    pub shape: u64,
    pub index: u32,
    pub adds: Option<u64>,
}

/// The function a `Closure` instruction makes closures of, known at
/// compile time (the engine keeps it alive as long as the code exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownClosure {
    /// The `Closure` instruction's operand.
    pub operand: u32,
    /// The `ObjFunction`'s address.
    pub function: u64,
    /// What each of its captured variables is taken from, in upvalue order.
    pub captures: Vec<bytecode::Capture>,
}

/// A method known at compile time: an instance of `shape` (an `ObjShape`'s
/// address; at a `super` site, the superclass, an `ObjClass`'s) finds
/// `closure` (an `ObjClosure`'s address) under the site's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownMethod {
    pub shape: u64,
    pub closure: u64,
}

/// A function object known at compile time (the engine keeps it alive for
/// as long as the code exists): its address and what a call of it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownFunction {
    /// The `ObjFunction`'s address.
    pub function: u64,
    pub arity: u8,
    /// The start of its bytecode (what frame records' resume points point
    /// into).
    pub code: u64,
    /// The engine's index of its code (`ObjFunction::proto`).
    pub proto: u32,
    /// The address of the one closure of it that the call is expected to
    /// find (`ObjClosure`, kept alive as long as the code exists), if any:
    /// the guard is then one comparison of the callee with it. Else the
    /// guard checks that the callee is a closure of this function.
    pub closure: Option<u64>,
    /// The address of the class (`ObjClass`, sealed, kept alive as long
    /// as the code exists) that the call is expected to find instead, if
    /// any: this function is then its initializer, `closure` the
    /// initializer's closure, and the call makes an instance to be the
    /// initializer's `this`. Such a call is only ever inlined.
    pub class: Option<u64>,
}

/// The IR's source locations are bytecode offsets, and an inlined callee's
/// carry how deep it is inlined from this bit up: `@1000004` is offset 4
/// of a callee inlined one deep (offsets stay below `MAX_FUNCTION_BYTES`).
pub const INLINED_SHIFT: u32 = 24;

/// The most bytes of bytecode a function may have to be compiled; a
/// larger one stays in the interpreter. Cranelift's time and memory grow
/// faster than a function's size (its register allocator works on the
/// whole function): a top-level script of 6,000 calls took 7.8 s and 700
/// MB to compile, where the same calls in loops or small functions take
/// milliseconds, so a huge program could exhaust the machine. Huge
/// functions are rare and are almost always straight-line set-up code
/// that runs once. HotSpot declines the same way (`HugeMethodLimit`, 8,000
/// bytes of bytecode). The largest function of the benchmarks has 505.
pub const MAX_FUNCTION_BYTES: usize = 8000;

/// Why a function was not compiled. Never an error of the program: the
/// function stays in the interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CantCompile {
    /// It has more than [`MAX_FUNCTION_BYTES`] bytes of bytecode.
    TooLarge(usize),
    /// Cranelift refused the function: an implementation limit.
    Cranelift(String),
    /// An on-stack-replacement entry was asked for at an offset that is
    /// not a loop header (an engine's bug).
    NotALoopHeader(usize),
}

impl std::fmt::Display for CantCompile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CantCompile::TooLarge(bytes) => write!(
                f,
                "{bytes} bytes of bytecode, over the limit of {MAX_FUNCTION_BYTES} for compiling"
            ),
            CantCompile::Cranelift(message) => write!(f, "Cranelift: {message}"),
            CantCompile::NotALoopHeader(offset) => write!(f, "{offset:04} is not a loop header"),
        }
    }
}

/// A function compiled into a module.
#[derive(Debug)]
pub struct Compiled {
    pub id: FuncId,
    /// The size of its machine code, in bytes.
    pub code_size: u32,
    /// Its Cranelift IR as text, if asked for.
    pub ir: Option<String>,
    /// With the IR: which bytecode instruction each range of machine code
    /// came from, as (start, end, bytecode offset), sorted by start.
    pub origins: Vec<(u32, u32, u32)>,
    /// What the code assumes.
    pub speculations: Speculations,
}

/// What a function's code assumes, for `--trace-jit`: guards that
/// deoptimize, known callees and known shapes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Speculations {
    /// `Add` sites guarded to numbers.
    pub number_adds: usize,
    /// `Equal` and `NotEqual` sites guarded to numbers.
    pub number_equalities: usize,
    /// Slots guarded to numbers on entry to a loop.
    pub loop_numbers: usize,
    /// Calls of a known function (`FunctionInput::global_functions`,
    /// `site_functions`, `call_functions`).
    pub known_calls: usize,
    /// Property sites of a known shape (`FunctionInput::site_fields`).
    pub known_fields: usize,
    /// Method sites of known shapes (`FunctionInput::site_methods`).
    pub known_methods: usize,
    /// Calls whose callee's body was inlined (a polymorphic call counts
    /// each callee inlined).
    pub inlined_calls: usize,
    /// Calls of known functions with more than one known callee (methods
    /// of several classes).
    pub polymorphic_calls: usize,
}

impl Speculations {
    /// Count `other`'s too (an inlined callee's).
    fn add(&mut self, other: &Speculations) {
        self.number_adds += other.number_adds;
        self.number_equalities += other.number_equalities;
        self.loop_numbers += other.loop_numbers;
        self.known_calls += other.known_calls;
        self.known_fields += other.known_fields;
        self.known_methods += other.known_methods;
        self.inlined_calls += other.inlined_calls;
        self.polymorphic_calls += other.polymorphic_calls;
    }
}

/// Lower `input` into `module` as a function named `name` (`None`: an
/// anonymous function), of the `runtime::abi::CompiledEntry` signature.
/// `ctx` and `builder_ctx` are reused between compilations; `ctx` is
/// cleared afterwards. With `want_ir`, the result carries the IR as text
/// (for `--trace-jit` and `disasm --jit`).
pub fn compile_function<M: Module>(
    module: &mut M,
    ctx: &mut cranelift_codegen::Context,
    builder_ctx: &mut FunctionBuilderContext,
    name: Option<(&str, Linkage)>,
    input: &FunctionInput<'_>,
    want_ir: bool,
) -> Result<Compiled, CantCompile> {
    let bytes = input.function.chunk.code.len();
    if bytes > MAX_FUNCTION_BYTES {
        return Err(CantCompile::TooLarge(bytes));
    }
    let code: Vec<Instruction> = instructions(&input.function.chunk.code)
        .collect::<Result<_, _>>()
        .map_err(|error| CantCompile::Cranelift(format!("undecodable code: {error}")))?;
    if let Some(header) = input.entry_at
        && !input.facts.loop_headers.contains(&(header as u32))
    {
        return Err(CantCompile::NotALoopHeader(header));
    }
    let pointer = module.target_config().pointer_type();
    let call_conv = module.target_config().default_call_conv;
    let mut signature = module.make_signature();
    for _ in 0..4 {
        signature.params.push(AbiParam::new(pointer));
    }
    signature.returns.push(AbiParam::new(types::I32));
    let id = match name {
        Some((name, linkage)) => module.declare_function(name, linkage, &signature),
        None => module.declare_anonymous_function(&signature),
    }
    .map_err(|error| CantCompile::Cranelift(error.to_string()))?;

    ctx.func.signature = signature;
    ctx.func.name = UserFuncName::user(0, id.as_u32());
    let mut helpers = HashMap::new();
    for &helper in Helper::ALL {
        let helper_id = module
            .declare_function(helper.symbol(), Linkage::Import, &helper.signature(call_conv))
            .map_err(|error| CantCompile::Cranelift(error.to_string()))?;
        helpers.insert(helper, module.declare_func_in_func(helper_id, &mut ctx.func));
    }

    let target = module.target_config();
    let mut builder = FunctionBuilder::new(&mut ctx.func, builder_ctx);
    let numbers = number_constants(input.function);
    let plan_input = PlanInput {
        code: &code,
        facts: input.facts,
        numbers: &numbers,
        arity: input.function.arity,
        feedback: input.feedback,
        entry_at: input.entry_at,
        entry_types: &[],
    };
    let plan = Plan::new(&plan_input);
    let mut lower = Lower::new(&mut builder, input, &plan_input, plan, &helpers);
    lower.function(&code);
    let speculations = lower.speculations;
    builder.seal_all_blocks();
    builder.finalize(target);

    let ir = want_ir.then(|| ctx.func.display().to_string());
    let defined = module.define_function(id, ctx);
    let code_size = ctx.compiled_code().map_or(0, |code| code.code_info().total_size);
    let origins = match ctx.compiled_code() {
        Some(code) if want_ir => code
            .buffer
            .get_srclocs_sorted()
            .iter()
            .filter(|origin| !origin.loc.is_default())
            .map(|origin| (origin.start, origin.end, origin.loc.bits()))
            .collect(),
        _ => Vec::new(),
    };
    module.clear_context(ctx);
    defined.map_err(|error| CantCompile::Cranelift(format!("{error:?}")))?;
    Ok(Compiled { id, code_size, ir, origins, speculations })
}

/// The state of one lowering: of the function compiled, or of a callee
/// inlined into it (`inlined`), which shares its builder.
struct Lower<'a, 'b> {
    builder: &'a mut FunctionBuilder<'b>,
    input: &'a FunctionInput<'a>,
    plan_input: &'a PlanInput<'a>,
    plan: Plan,
    helpers: &'a HashMap<Helper, FuncRef>,
    /// One variable per stack slot of the frame: its value, boxed, while
    /// its type is `Any`.
    slots: Vec<Variable>,
    /// One float variable per stack slot: its value while it is known to
    /// be a number.
    floats: Vec<Variable>,
    /// The types of the live slots here.
    state: State,
    /// Edges into a loop header that must guard slots, made for a branch
    /// and lowered right after it: (their block, the header, the state).
    pending_edges: Vec<(Block, usize, State)>,
    /// Per slot: whether the VM stack holds its value on every path here
    /// (so a write-back may skip it). All false at a block's start.
    clean: Vec<bool>,
    /// Per slot: where the value came from in this block, unchanged, if
    /// that can tell what it is.
    sources: Vec<Option<Source>>,

    /// Known callees and shapes used so far.
    speculations: Speculations,

    /// The block starting at each jump target.
    blocks: HashMap<usize, Block>,
    /// The block that returns `STATUS_RAISED`.
    raised: Block,
    ctx: ir::Value,
    base: ir::Value,
    closure: ir::Value,
    /// Whether the function makes closures, which may capture its slots.
    makes_closures: bool,
    /// The flags of loads and stores of object headers (the kind byte, and
    /// an instance's shape, field array and count), and of instance
    /// fields' values: each its own alias region (`instance_regions`).
    header_flags: MemFlagsData,
    field_flags: MemFlagsData,
    /// The header's generation bytes and the remembered set, which only
    /// the write barrier reads and writes.
    remembered_flags: MemFlagsData,
    /// The function's object (`ObjFunction`).
    function: ir::Value,
    /// The signature of every compiled body (`abi::CompiledEntry`), as
    /// the function compiled imports it for its calls, once it has.
    entry_signature: Option<ir::SigRef>,
    /// The instruction being lowered.
    current: Op,
    /// Set when this is a callee inlined into the function compiled.
    inlined: Option<Inlined>,
    /// In an inlined callee: whether every path to the instruction being
    /// lowered wrote the pending records (`Inlined`), so that they need no
    /// writing again. Nothing pops them before the callee's return, so it
    /// holds from a call that wrote them on all its paths to the next
    /// jump target, where paths meet.
    records_written: bool,
    /// Bytes of bytecode inlined so far into the function compiled, by this
    /// lowering and those it made (`inline::MAX_INLINED_BYTES` in all).
    inlined_bytes: usize,
    /// Whether every `Return` lowered so far returned a number (an inlined
    /// body's result is then a number).
    returns_numbers: bool,
}

/// A callee's body lowered in place of a call: its frame is the slots from
/// `base` up, and its returns pop its record and jump to `exit` with the
/// result, boxed.
///
/// Its record, and those of the inlined callees it is inside, are written
/// only where something needs the frames to be true: before every helper
/// call of its body (a safepoint, where the collector, a trace or a deopt
/// walks them) and before a call it enters directly, which pushes its own
/// record above them (`Lower::write_pending_records`). A path that needs
/// neither (a `fib` that returns `n`) writes none.
#[derive(Clone)]
struct Inlined {
    /// How many frames this one is above the function compiled's (1: it
    /// was inlined into that function).
    depth: u32,
    exit: Block,
    /// The frame records' owner.
    frames: ir::Value,
    /// The records of the inlined frames up to this one, outermost first.
    records: Vec<PendingRecord>,
    /// The start of the callee's bytecode, which its resume points are
    /// offsets into.
    code_start: u64,
}

impl Inlined {
    /// How many records are below this callee's (the index of its own).
    fn len(&self) -> ir::Value {
        self.records.last().expect("an inlined frame has its record").at
    }
}

/// The record of an inlined callee's frame, to be written when needed
/// (`Inlined`).
#[derive(Debug, Clone, Copy)]
struct PendingRecord {
    /// Its index among the records.
    at: ir::Value,
    closure: ir::Value,
    code_start: ir::Value,
    base: ir::Value,
    return_to: ir::Value,
    proto: ir::Value,
    /// Where the frame below resumes after the call.
    resume: ir::Value,
}

/// The values a lowering's frame starts with.
#[derive(Clone, Copy)]
struct FrameValues {
    ctx: ir::Value,
    base: ir::Value,
    closure: ir::Value,
    function: ir::Value,
    /// The block that returns `STATUS_RAISED` from the function compiled.
    raised: Block,
}

/// Where a call entered directly or inlined stands in the caller's frame.
struct Site {
    /// The call's slot 0 (the callee's, or the receiver) and the slot its
    /// result goes to.
    slot_zero: u32,
    return_to: u32,
    /// The callee's closure (an `ObjClosure`), known to be of the function.
    closure: ir::Value,
    /// The frame records' owner, and how many are pushed (the caller's is
    /// the last).
    frames: ir::Value,
    len: ir::Value,
    /// The offset the caller resumes at after the call.
    next: usize,
}

/// Where a slot's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// Read from this global.
    Global(u32),
    /// The method a `Method` or `SuperMethod` instruction of this site
    /// found.
    Method(u32),
    /// A constant that is not a number: nil, a boolean, a string or a
    /// function.
    NotNumber,
    /// The boolean made from this condition (an `i8`, nonzero for `true`)
    /// by a comparison or an equality: a branch on the slot tests the
    /// condition itself, not the boxed boolean.
    Condition(ir::Value),
}

/// Addresses fixed for a whole run: the frame records' owner (`Frames`),
/// their array, the interrupt flag's address, the native stack floor and
/// the start of this function's bytecode.
#[derive(Clone, Copy)]
struct RunConstants {
    frames: ir::Value,
    records: ir::Value,
    interrupt: ir::Value,
    native_floor: ir::Value,
    own_code: ir::Value,
}

/// Each constant's value if it is a number (the others are strings).
fn number_constants(function: &bytecode::Function) -> Vec<Option<f64>> {
    (function.chunk.constants.iter())
        .map(|constant| match constant {
            Constant::Number(number) => Some(*number),
            Constant::String(_) => None,
        })
        .collect()
}

/// The alias regions of object headers, of instance fields' values and of
/// the write barrier's data (a header's generation bytes, the remembered
/// set), so that Cranelift's alias analysis knows stores to one (a field's
/// value, a frame slot, the barrier's push) leave the others (a receiver's
/// kind and shape) as they were, and drops the repeated loads of `this.x`,
/// `this.y`: only compiled code's add-field path stores to an instance's
/// header, with these flags, and a call (where anything else may change
/// them) ends what the analysis knows of every region.
fn instance_regions(
    builder: &mut FunctionBuilder<'_>,
) -> (ir::AliasRegion, ir::AliasRegion, ir::AliasRegion) {
    let mut region = |user_id: u32, description: &'static str| {
        let data = ir::AliasRegionData { user_id, description: description.into() };
        builder.func.dfg.alias_regions.insert(data)
    };
    (region(1, "object headers"), region(2, "instance fields"), region(3, "remembered set"))
}

/// Memory the code owns outright: aligned, and never trapping.
fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Memory that does not change while the code runs (addresses fixed for
/// the run): Cranelift may merge such loads and move them out of loops.
fn fixed() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly().with_can_move()
}

impl<'a, 'b> Lower<'a, 'b> {
    /// The lowering of the function compiled: its entry block reads the
    /// frame's live slots (or, for an on-stack-replacement entry, jumps to
    /// the loop header).
    fn new(
        builder: &'a mut FunctionBuilder<'b>,
        input: &'a FunctionInput<'a>,
        plan_input: &'a PlanInput<'a>,
        plan: Plan,
        helpers: &'a HashMap<Helper, FuncRef>,
    ) -> Lower<'a, 'b> {
        let entry = builder.create_block();
        builder.append_block_params_for_function_params(entry);
        builder.switch_to_block(entry);
        let params = builder.block_params(entry).to_vec();
        let raised = builder.create_block();
        builder.set_cold_block(raised);
        let frame = FrameValues {
            ctx: params[0],
            base: params[1],
            closure: params[2],
            function: params[3],
            raised,
        };
        let mut lower = Lower::of_frame(builder, input, plan_input, plan, helpers, frame, None);
        let depth = match input.entry_at {
            None => 1 + u32::from(input.function.arity),
            Some(header) => input.facts.depth_at(header).expect("a verified offset"),
        };
        lower.state = State::unknown(depth);
        lower.reload(depth);
        lower.mark_clean(0..depth);
        if let Some(header) = input.entry_at {
            lower.current = Op::Loop;
            lower.jump_to(header);
            // The code before the header is unreachable from this
            // entry: it goes into a block of its own, which Cranelift
            // drops.
            let unreachable = lower.builder.create_block();
            lower.builder.switch_to_block(unreachable);
        }
        lower
    }

    /// A lowering of `input`'s code for a frame of `frame`'s values, with
    /// its variables and blocks, not yet entered.
    fn of_frame(
        builder: &'a mut FunctionBuilder<'b>,
        input: &'a FunctionInput<'a>,
        plan_input: &'a PlanInput<'a>,
        plan: Plan,
        helpers: &'a HashMap<Helper, FuncRef>,
        frame: FrameValues,
        inlined: Option<Inlined>,
    ) -> Lower<'a, 'b> {
        let code = plan_input.code;
        let max_stack = input.function.max_stack;
        let slots = (0..max_stack).map(|_| builder.declare_var(types::I64)).collect();
        let floats = (0..max_stack).map(|_| builder.declare_var(types::F64)).collect();
        let targets: BTreeSet<usize> = code.iter().filter_map(Instruction::jump_target).collect();
        let blocks = targets.into_iter().map(|offset| (offset, builder.create_block())).collect();
        let makes_closures = input.facts.captures_by_reference;
        let alias_regions = instance_regions(builder);
        let loop_numbers = plan.loop_numbers();
        Lower {
            builder,
            input,
            plan_input,
            plan,
            helpers,
            slots,
            floats,
            state: State::unknown(0),
            pending_edges: Vec::new(),
            clean: vec![false; max_stack as usize],
            sources: vec![None; max_stack as usize],
            // Adds and equalities are counted as they are guarded: a plan's
            // guarded site may be known numbers when lowered.
            speculations: Speculations { loop_numbers, ..Speculations::default() },
            blocks,
            raised: frame.raised,
            ctx: frame.ctx,
            base: frame.base,
            closure: frame.closure,
            makes_closures,
            header_flags: trusted().with_alias_region(Some(alias_regions.0)),
            field_flags: trusted().with_alias_region(Some(alias_regions.1)),
            remembered_flags: trusted().with_alias_region(Some(alias_regions.2)),
            function: frame.function,
            entry_signature: None,
            current: Op::Nil,
            inlined,
            records_written: false,
            inlined_bytes: 0,
            returns_numbers: true,
        }
    }

    /// How many frames this lowering's is above the function compiled's (0:
    /// it is that function's).
    fn inline_depth(&self) -> u32 {
        self.inlined.as_ref().map_or(0, |inlined| inlined.depth)
    }

    /// Lower the function's code, then its raising exit.
    fn function(&mut self, code: &[Instruction]) {
        self.body(code);
        self.builder.switch_to_block(self.raised);
        let status = self.builder.ins().iconst(types::I32, i64::from(abi::STATUS_RAISED));
        self.builder.ins().return_(&[status]);
    }

    /// Lower `code`, instruction by instruction.
    fn body(&mut self, code: &[Instruction]) {
        let mut open = true;
        for instruction in code {
            let offset = instruction.offset;
            if self.blocks.contains_key(&offset) {
                if open {
                    self.jump_to(offset);
                }
                self.builder.switch_to_block(self.block_at(offset));
                open = true;
            }
            debug_assert!(open, "code after a jump or return is a jump target");
            // The IR and machine code of each instruction carry its
            // bytecode offset (`disasm --jit` shows them side by side), and
            // in an inlined callee's, how deep it is inlined.
            let depth = self.inline_depth();
            self.builder.set_srcloc(ir::SourceLoc::new(offset as u32 | depth << INLINED_SHIFT));
            let before = self.plan.before(offset);
            // At a block's start, and at the code's (which an
            // on-stack-replacement entry does not reach), the plan says.
            if self.blocks.contains_key(&offset) || offset == 0 {
                self.state = before.clone();
                if self.blocks.contains_key(&offset) {
                    self.clean.fill(false);
                    self.records_written = false;
                }
                self.sources.fill(None);
            } else {
                // The lowering keeps the plan's types, instruction by
                // instruction, or knows more (a number an inlined body
                // returned, and what follows from it, up to the next jump
                // target): knowing less is a bug of this file.
                assert!(
                    self.state.refines(before),
                    "types at {offset:04} know less than the plan: {:?}, {before:?}",
                    self.state
                );
            }
            let depth = self.input.facts.depth_at(offset).expect("verified code");
            open = self.instruction(instruction, depth);
        }
    }

    // ------------------------------------------------------------ slots

    /// Slot `slot`'s value, boxed.
    fn get(&mut self, slot: u32) -> ir::Value {
        match self.state.ty(slot) {
            Ty::Number => {
                let float = self.builder.use_var(self.floats[slot as usize]);
                self.boxed_float(float)
            }
            Ty::Any => self.builder.use_var(self.slots[slot as usize]),
        }
    }

    /// Slot `slot`'s value as a float: it is known to be a number.
    fn float(&mut self, slot: u32) -> ir::Value {
        debug_assert_eq!(self.state.ty(slot), Ty::Number);
        self.builder.use_var(self.floats[slot as usize])
    }

    /// Give slot `slot` the boxed `value` (of any type); the caller updates
    /// the state.
    fn def_boxed(&mut self, slot: u32, value: ir::Value) {
        self.builder.def_var(self.slots[slot as usize], value);
        self.clean[slot as usize] = false;
        self.sources[slot as usize] = None;
    }

    fn def_float(&mut self, slot: u32, value: ir::Value) {
        self.builder.def_var(self.floats[slot as usize], value);
        self.clean[slot as usize] = false;
        self.sources[slot as usize] = None;
    }

    /// The VM stack holds the values of `slots` on every path here.
    fn mark_clean(&mut self, slots: std::ops::Range<u32>) {
        for slot in slots {
            self.clean[slot as usize] = true;
        }
    }

    /// Give slot `to` the value of slot `from`, as it is held (a float or
    /// boxed); returns its type, for the caller to update the state.
    fn copy_slot(&mut self, from: u32, to: u32) -> Ty {
        let ty = self.state.ty(from);
        match ty {
            Ty::Number => {
                let value = self.float(from);
                self.def_float(to, value);
            }
            Ty::Any => {
                let value = self.get(from);
                self.def_boxed(to, value);
            }
        }
        ty
    }

    /// Slot `slot` now holds the boxed `value`, of any type.
    fn assign_boxed(&mut self, slot: u32, value: ir::Value) {
        self.def_boxed(slot, value);
        self.state.assign(slot, Ty::Any);
    }

    /// Slot `slot` now holds the number `value` (a float).
    fn assign_float(&mut self, slot: u32, value: ir::Value) {
        self.def_float(slot, value);
        self.state.assign(slot, Ty::Number);
    }

    /// Push the boxed `value`, of any type.
    fn push_boxed(&mut self, value: ir::Value) {
        let slot = self.state.depth();
        self.def_boxed(slot, value);
        self.state.push(Ty::Any, None);
    }

    /// Push the number `value` (a float).
    fn push_float(&mut self, value: ir::Value) {
        let slot = self.state.depth();
        self.def_float(slot, value);
        self.state.push(Ty::Number, None);
    }

    /// Slot `slot` was proved a number: it is `value` (a float), and so are
    /// the locals it is a copy of. `State::refine` is the rule, which the
    /// type plan follows too.
    fn refine(&mut self, slot: u32, value: ir::Value) {
        if self.state.ty(slot) == Ty::Any {
            // The same value: the VM stack still holds it, as before.
            self.builder.def_var(self.floats[slot as usize], value);
        }
        for local in self.state.refine(slot) {
            self.builder.def_var(self.floats[local as usize], value);
        }
    }

    /// Read the slots below `depth` whose values are boxed from the VM
    /// stack (the numbers did not change).
    fn reload(&mut self, depth: u32) {
        for slot in 0..depth {
            if self.state.ty(slot) == Ty::Any {
                self.load_slot(slot);
            }
        }
    }

    /// Read slot `slot` from the VM stack, boxed. (Whether that makes it
    /// clean on every path here is the caller's to say.)
    fn load_slot(&mut self, slot: u32) {
        let value = self.builder.ins().load(types::I64, trusted(), self.base, (slot * 8) as i32);
        self.def_boxed(slot, value);
    }

    /// Write slots `0..depth` back to the VM stack, boxed (but those it
    /// holds already).
    fn write_back(&mut self, depth: u32) {
        for slot in 0..depth {
            if self.clean[slot as usize] {
                continue;
            }
            let value = self.get(slot);
            self.builder.ins().store(trusted(), value, self.base, (slot * 8) as i32);
        }
    }

    // ------------------------------------------------------------ edges

    /// Jump to the instruction at `target` from here.
    fn jump_to(&mut self, target: usize) {
        self.convert_for(target);
        let block = self.block_at(target);
        self.builder.ins().jump(block, &[]);
    }

    /// The block a branch to the instruction at `target` goes to from here:
    /// the target's own, when no slot must be guarded on the way (numbers the
    /// target does not know are boxed here, which is harmless on the other
    /// way of the branch); else a block of its own, lowered by
    /// `lower_pending_edges` after the branch.
    fn edge(&mut self, target: usize) -> Block {
        if self.guards_on_edge(target).is_empty() {
            self.convert_for(target);
            return self.block_at(target);
        }
        let block = self.builder.create_block();
        self.pending_edges.push((block, target, self.state.clone()));
        block
    }

    /// Lower the edges `edge` made a block for, then go on in `next`.
    fn lower_pending_edges(&mut self, next: Block) {
        let current = self.current;
        for (block, target, state) in std::mem::take(&mut self.pending_edges) {
            self.builder.switch_to_block(block);
            let saved = std::mem::replace(&mut self.state, state);
            self.current = current;
            self.jump_to(target);
            self.state = saved;
        }
        self.builder.switch_to_block(next);
    }

    /// The slots the loop header at `target` assumes are numbers that are
    /// not known to be here.
    fn guards_on_edge(&self, target: usize) -> Vec<u32> {
        let Some(guarded) = self.plan.guarded_at(target) else { return Vec::new() };
        guarded.iter().copied().filter(|&slot| self.state.ty(slot) == Ty::Any).collect()
    }

    /// Make the slots match what the instruction at `target` expects: guard
    /// what its loop header assumes (deoptimizing to the header if that
    /// fails), and box the numbers it does not know.
    fn convert_for(&mut self, target: usize) {
        let guards = self.guards_on_edge(target);
        if !guards.is_empty() {
            let values = self.unknown_values(&guards);
            self.guard_numbers(&values, target, abi::DeoptReason::LoopEntryNotNumber);
            for (&slot, &value) in guards.iter().zip(&values) {
                let float = self.as_float(value);
                self.def_float(slot, float);
                self.state.types[slot as usize] = Ty::Number;
            }
        }
        let expected = self.plan.before(target).types.clone();
        for (slot, &ty) in expected.iter().enumerate() {
            let slot = slot as u32;
            if ty == Ty::Any && self.state.ty(slot) == Ty::Number {
                let value = self.get(slot);
                self.def_boxed(slot, value);
            }
        }
    }

    /// Before returning: if this function makes closures, close every
    /// upvalue still open on its frame (which has `live` values) from the
    /// written-back slots, before the result overwrites slot 0, as the VM
    /// does. `at` is the returning instruction.
    fn close_frame(&mut self, live: u32, at: usize) {
        if self.makes_closures {
            let from = self.builder.ins().iconst(types::I32, 0);
            self.call_helper(Helper::CloseUpvalues, live, at, &[from]);
        }
    }

    fn slot_address(&mut self, slot: u32) -> ir::Value {
        self.builder.ins().iadd_imm_s(self.base, i64::from(slot) * 8)
    }

    fn constant(&mut self, bits: u64) -> ir::Value {
        self.builder.ins().iconst(types::I64, bits as i64)
    }

    // -------------------------------------------------------- safepoints

    /// Call `helper` at a safepoint: slots `0..live` are written back, the
    /// stack's height is `live` slots above the frame, and the frame resumes
    /// at offset `next` (the instruction after this one). Returns the
    /// status.
    fn call_helper(
        &mut self,
        helper: Helper,
        live: u32,
        next: usize,
        extra: &[ir::Value],
    ) -> ir::Value {
        // The opcode table says where the safepoints are: a helper may do
        // only what its instruction's row allows (`bytecode::Effects`).
        let allowed = self.current.info().effects;
        assert!(
            helper.effects().is_none_or(|effects| effects.within(allowed)),
            "the opcode table says {} does not do what helper {helper:?} may",
            self.current.name()
        );
        self.write_pending_records();
        self.write_back(live);
        let top = self.slot_address(live);
        let offset = self.builder.ins().iconst(types::I32, next as i64);
        let mut args = vec![self.ctx, top, offset];
        args.extend_from_slice(extra);
        let call = self.builder.ins().call(self.helpers[&helper], &args);
        self.builder.inst_results(call)[0]
    }

    /// Call the leaf `helper` (`Helper::is_leaf`): no safepoint, nothing
    /// written back. Returns its result.
    fn call_leaf(&mut self, helper: Helper, extra: &[ir::Value]) -> ir::Value {
        debug_assert!(helper.is_leaf() && helper.effects() == Some(bytecode::Effects::NONE));
        let mut args = vec![self.ctx];
        args.extend_from_slice(extra);
        let call = self.builder.ins().call(self.helpers[&helper], &args);
        self.builder.inst_results(call)[0]
    }

    /// Go on only if `status` says the helper returned; else return
    /// `STATUS_RAISED` from the function.
    fn check(&mut self, status: ir::Value) {
        let next = self.builder.create_block();
        self.builder.ins().brif(status, self.raised, &[], next, &[]);
        self.builder.switch_to_block(next);
    }

    /// Branch to a cold block raising `error` unless `ok`; go on when ok.
    fn raise_unless(&mut self, ok: ir::Value, error: ErrorCode, live: u32, next: usize) {
        let fail = self.builder.create_block();
        self.builder.set_cold_block(fail);
        let go_on = self.builder.create_block();
        self.builder.ins().brif(ok, go_on, &[], fail, &[]);
        self.raise_in(fail, error, live, next);
        self.builder.switch_to_block(go_on);
    }

    /// Fill `fail` (a cold block) with raising `error`, with `live` slots
    /// in the frame and the frame resuming at `next`.
    fn raise_in(&mut self, fail: Block, error: ErrorCode, live: u32, next: usize) {
        self.builder.switch_to_block(fail);
        let code = self.builder.ins().iconst(types::I32, error as i64);
        self.call_helper(Helper::Raise, live, next, &[code]);
        self.builder.ins().jump(self.raised, &[]);
    }

    // ----------------------------------------------------------- values

    fn is_number(&mut self, value: ir::Value) -> ir::Value {
        let tagged = self.builder.ins().band_imm_s(value, abi::QNAN as i64);
        self.builder.ins().icmp_imm_s(IntCC::NotEqual, tagged, abi::QNAN as i64)
    }

    /// Whether every one of `values` (boxed) is a number (`None`: there are
    /// none to check).
    fn all_numbers(&mut self, values: &[ir::Value]) -> Option<ir::Value> {
        let mut all = None;
        for &value in values {
            let number = self.is_number(value);
            all = Some(match all {
                None => number,
                Some(so_far) => self.builder.ins().band(so_far, number),
            });
        }
        all
    }

    /// The boxed values of the slots of `slots` not known to be numbers.
    fn unknown_values(&mut self, slots: &[u32]) -> Vec<ir::Value> {
        let unknown: Vec<u32> =
            slots.iter().copied().filter(|&slot| self.state.ty(slot) == Ty::Any).collect();
        unknown.into_iter().map(|slot| self.get(slot)).collect()
    }

    fn as_float(&mut self, value: ir::Value) -> ir::Value {
        self.builder.ins().bitcast(types::F64, MemFlagsData::new(), value)
    }

    fn boxed_float(&mut self, value: ir::Value) -> ir::Value {
        self.builder.ins().bitcast(types::I64, MemFlagsData::new(), value)
    }

    fn boolean(&mut self, condition: ir::Value) -> ir::Value {
        let yes = self.constant(abi::TRUE);
        let no = self.constant(abi::FALSE);
        self.builder.ins().select(condition, yes, no)
    }

    fn falsey(&mut self, value: ir::Value) -> ir::Value {
        let nil = self.builder.ins().icmp_imm_s(IntCC::Equal, value, abi::NIL as i64);
        let no = self.builder.ins().icmp_imm_s(IntCC::Equal, value, abi::FALSE as i64);
        self.builder.ins().bor(nil, no)
    }

    /// The values of `slots` as floats, each checked to be a number unless
    /// it is known to be one; if one is not, the program's runtime error
    /// `error` is raised. Each checked slot (and the local it copies) is
    /// known to be a number afterwards.
    fn numbers_or_raise(
        &mut self,
        slots: &[u32],
        error: ErrorCode,
        live: u32,
        next: usize,
    ) -> Vec<ir::Value> {
        let values = self.unknown_values(slots);
        if !values.is_empty() {
            let fail = self.builder.create_block();
            self.builder.set_cold_block(fail);
            self.numbers_or_jump(&values, fail, &[]);
            let go_on = self.builder.current_block().expect("lowering is in a block");
            self.raise_in(fail, error, live, next);
            self.builder.switch_to_block(go_on);
        }
        self.refined(slots)
    }

    /// As `numbers_or_raise`, but speculating: if one is not a number, the
    /// frame deoptimizes to the instruction at `at` (as the VM would find
    /// it there) for `reason`.
    fn numbers_or_deopt(
        &mut self,
        slots: &[u32],
        at: usize,
        reason: abi::DeoptReason,
    ) -> Vec<ir::Value> {
        let values = self.unknown_values(slots);
        self.guard_numbers(&values, at, reason);
        self.refined(slots)
    }

    /// The slots of `slots`, just checked to be numbers, as floats (and
    /// known to be numbers from here on).
    fn refined(&mut self, slots: &[u32]) -> Vec<ir::Value> {
        slots
            .iter()
            .map(|&slot| {
                let float = if self.state.ty(slot) == Ty::Any {
                    let value = self.get(slot);
                    self.as_float(value)
                } else {
                    self.float(slot)
                };
                // Even a slot known to be a number may prove the local it
                // copies, if that local was not known to be one.
                self.refine(slot, float);
                float
            })
            .collect()
    }

    /// Go on only if every one of `values` (boxed) is a number; else
    /// deoptimize to the instruction at `at`, with the frame as it is here.
    /// In deopt stress mode the guard also fails the first time it runs.
    fn guard_numbers(&mut self, values: &[ir::Value], at: usize, reason: abi::DeoptReason) {
        if values.is_empty() && !self.input.stress_deopt {
            return;
        }
        let fail = self.builder.create_block();
        self.builder.set_cold_block(fail);
        let why = self.builder.append_block_param(fail, types::I32);
        let reason = self.builder.ins().iconst(types::I32, reason as i64);
        self.numbers_or_jump(values, fail, &[reason.into()]);
        self.stress_to(at, fail);
        let go_on = self.builder.current_block().expect("lowering is in a block");
        self.builder.switch_to_block(fail);
        self.deopt(at, why);
        self.builder.switch_to_block(go_on);
    }

    /// In deopt stress mode, the first time the guards of the instruction
    /// at `at` run (`stressed`): jump to `fail`, a deoptimization that
    /// takes its reason, with `DeoptReason::Stress`.
    fn stress_to(&mut self, at: usize, fail: Block) {
        if !self.input.stress_deopt {
            return;
        }
        let stressed = self.stressed(at);
        let stress = self.builder.ins().iconst(types::I32, abi::DeoptReason::Stress as i64);
        let go_on = self.builder.create_block();
        self.builder.ins().brif(stressed, go_on, &[], fail, &[stress.into()]);
        self.builder.switch_to_block(go_on);
    }

    /// Go on only if every one of `values` (boxed) is a number; else jump
    /// to `otherwise` with `arguments`. A compare and a branch each: the
    /// `band` of the tests took a `set` and an `and` each as well.
    fn numbers_or_jump(
        &mut self,
        values: &[ir::Value],
        otherwise: Block,
        arguments: &[ir::BlockArg],
    ) {
        for &value in values {
            let number = self.is_number(value);
            let go_on = self.builder.create_block();
            self.builder.ins().brif(number, go_on, &[], otherwise, arguments);
            self.builder.switch_to_block(go_on);
        }
    }

    /// Go on only if `ok`; else deoptimize (`deopt`) to the instruction at
    /// `at`, for `reason`, in a cold block.
    fn deopt_unless(&mut self, ok: ir::Value, at: usize, reason: ir::Value) {
        let fail = self.builder.create_block();
        self.builder.set_cold_block(fail);
        let go_on = self.builder.create_block();
        self.builder.ins().brif(ok, go_on, &[], fail, &[]);
        self.builder.switch_to_block(fail);
        self.deopt(at, reason);
        self.builder.switch_to_block(go_on);
    }

    /// In deopt stress mode: whether the guards of the instruction at `at`
    /// failed on purpose already (its feedback's `FEEDBACK_STRESSED`); a
    /// guard that finds they have not fails.
    fn stressed(&mut self, at: usize) -> ir::Value {
        let ins = self.builder.ins();
        let feedback =
            ins.load(types::I64, trusted(), self.function, abi::FUNCTION_FEEDBACK as i32);
        let bits = self.builder.ins().uload8(types::I32, trusted(), feedback, at as i32);
        let stressed = self.builder.ins().band_imm_s(bits, i64::from(abi::FEEDBACK_STRESSED));
        self.builder.ins().icmp_imm_s(IntCC::NotEqual, stressed, 0)
    }

    /// Deoptimize here to the instruction at `at` (`reason`, an
    /// `abi::DeoptReason`), with the frame as it is before it, and return
    /// the frame's status. Ends the block.
    fn deopt(&mut self, at: usize, reason: ir::Value) {
        let depth = self.state.depth();
        // Frames of inlined callees above the function compiled's: the VM
        // runs them all, and that frame, to its return.
        let inlined = i64::from(self.inline_depth());
        let inlined = self.builder.ins().iconst(types::I32, inlined);
        let generation = i64::from(self.input.generation);
        let generation = self.builder.ins().iconst(types::I32, generation);
        let status = self.call_helper(Helper::Deopt, depth, at, &[reason, inlined, generation]);
        self.builder.ins().return_(&[status]);
    }

    /// Constant `index` as a float, if it is a number.
    fn float_constant(&mut self, index: u32) -> Option<ir::Value> {
        let number = self.plan_input.numbers[index as usize]?;
        Some(self.builder.ins().f64const(number))
    }

    /// Constant `index` as a value. A number is built into the code; a
    /// string is read from the function's constants (`FUNCTION_CONSTANTS`,
    /// fixed for the run), so the code holds no heap address and is the
    /// same wherever and whenever it is made (AOT code is made before the
    /// strings exist).
    fn constant_value(&mut self, index: u32) -> ir::Value {
        if let Some(number) = self.plan_input.numbers[index as usize] {
            return self.constant(number.to_bits());
        }
        let function = self.function;
        let constants =
            self.builder.ins().load(types::I64, fixed(), function, abi::FUNCTION_CONSTANTS as i32);
        self.builder.ins().load(types::I64, fixed(), constants, index as i32 * 8)
    }

    fn arithmetic(&mut self, op: Op, a: ir::Value, b: ir::Value) -> ir::Value {
        match op {
            Op::Subtract | Op::SubtractConstant => self.builder.ins().fsub(a, b),
            Op::Multiply | Op::MultiplyConstant => self.builder.ins().fmul(a, b),
            Op::Divide | Op::DivideConstant => self.builder.ins().fdiv(a, b),
            _ => self.builder.ins().fadd(a, b),
        }
    }

    /// The run's fixed addresses, loaded here (Cranelift merges the loads
    /// where one dominates another, and hoists them out of loops).
    fn run_constants(&mut self) -> RunConstants {
        let mut load = |base: ir::Value, offset: usize| {
            self.builder.ins().load(types::I64, fixed(), base, offset as i32)
        };
        let frames = load(self.ctx, abi::CONTEXT_FRAMES);
        RunConstants {
            frames,
            records: load(frames, abi::FRAMES_RECORDS),
            interrupt: load(self.ctx, abi::CONTEXT_INTERRUPT),
            native_floor: load(self.ctx, abi::CONTEXT_NATIVE_FLOOR),
            own_code: match &self.inlined {
                Some(inlined) => self.builder.ins().iconst(types::I64, inlined.code_start as i64),
                None => load(self.function, abi::FUNCTION_CODE),
            },
        }
    }

    /// The globals' values (the array does not move while code runs).
    fn globals(&mut self) -> ir::Value {
        let cell =
            self.builder.ins().load(types::I64, fixed(), self.ctx, abi::CONTEXT_GLOBALS as i32);
        self.builder.ins().load(types::I64, fixed(), cell, abi::GLOBALS_VALUES as i32)
    }

    /// The function's inline caches, one per site.
    fn caches(&mut self) -> ir::Value {
        let function = self.function;
        self.builder.ins().load(types::I64, fixed(), function, abi::FUNCTION_CACHES as i32)
    }

    fn block_at(&self, offset: usize) -> Block {
        self.blocks[&offset]
    }

    // ----------------------------------------------------- instructions

    /// Lower one instruction run with `depth` values on the stack; returns
    /// whether control falls through to the next one. The types of the
    /// slots change as `types::transfer` says.
    fn instruction(&mut self, instruction: &Instruction, depth: u32) -> bool {
        self.current = instruction.op;
        let operand = instruction.operand;
        let next = instruction.next;
        let top = depth - 1;
        match instruction.op {
            Op::GetProperty | Op::SetProperty | Op::StoreProperty | Op::Method => {
                self.property(instruction, depth);
                self.finish_generic(instruction);
                if instruction.op == Op::Method {
                    self.sources[top as usize] = Some(Source::Method(operand));
                }
                return true;
            }
            Op::SuperMethod => {
                self.super_method(instruction, depth);
                self.finish_generic(instruction);
                self.sources[depth as usize - 2] = Some(Source::Method(operand));
                return true;
            }
            Op::Closure => {
                let out = self.slot_address(depth);
                self.closure(operand, out, depth, next);
                self.load_slot(depth);
                self.mark_clean(depth..depth + 1);
                self.finish_generic(instruction);
                return true;
            }
            Op::CloseUpvalue => {
                // The top slot's upvalue, if a closure captured it, takes
                // its value (written back) before it is popped.
                let slot = self.builder.ins().iconst(types::I32, i64::from(top));
                self.call_helper(Helper::CloseUpvalues, depth, next, &[slot]);
                self.finish_generic(instruction);
                return true;
            }
            op if matches!(lowering(op), Lowering::Stepped(_)) => {
                let written = self.step(instruction, depth);
                self.mark_clean(written);
                self.finish_generic(instruction);
                return true;
            }
            _ => {}
        }
        match instruction.op {
            Op::Constant => match self.float_constant(operand) {
                Some(float) => self.push_float(float),
                None => {
                    let value = self.constant_value(operand);
                    self.push_boxed(value);
                    self.sources[depth as usize] = Some(Source::NotNumber);
                }
            },
            Op::Nil | Op::True | Op::False => {
                let bits = match instruction.op {
                    Op::Nil => abi::NIL,
                    Op::True => abi::TRUE,
                    _ => abi::FALSE,
                };
                let value = self.constant(bits);
                self.push_boxed(value);
                self.sources[depth as usize] = Some(Source::NotNumber);
            }
            Op::Pop => self.state.truncate(top),
            Op::GetLocal => {
                self.copy_slot(operand, depth);
                self.state.push_copy(operand);
            }
            Op::SetLocal | Op::StoreLocal => {
                let ty = self.copy_slot(top, operand);
                self.state.assign(operand, ty);
                if instruction.op == Op::StoreLocal {
                    self.state.truncate(top);
                }
            }
            Op::GetGlobal => {
                let value = self.global(operand, depth, next);
                self.push_boxed(value);
                self.sources[depth as usize] = Some(Source::Global(operand));
            }
            Op::DefineGlobal => {
                let value = self.get(top);
                let globals = self.globals();
                self.builder.ins().store(trusted(), value, globals, (operand * 8) as i32);
                self.state.truncate(top);
            }
            Op::SetGlobal | Op::StoreGlobal => {
                self.global(operand, depth, next);
                let value = self.get(top);
                let globals = self.globals();
                self.builder.ins().store(trusted(), value, globals, (operand * 8) as i32);
                if instruction.op == Op::StoreGlobal {
                    self.state.truncate(top);
                }
            }
            Op::GetUpvalue => {
                let location = self.upvalue_location(operand);
                let value = self.builder.ins().load(types::I64, trusted(), location, 0);
                self.push_boxed(value);
            }
            Op::GetCaptured => {
                let value = self.captured(operand);
                self.push_boxed(value);
            }
            Op::SetUpvalue | Op::StoreUpvalue => {
                let upvalue = self.upvalue(operand);
                let ins = self.builder.ins();
                let location =
                    ins.load(types::I64, trusted(), upvalue, abi::UPVALUE_LOCATION as i32);
                let value = self.get(top);
                self.builder.ins().store(trusted(), value, location, 0);
                self.write_barrier(upvalue, value, top);
                if instruction.op == Op::StoreUpvalue {
                    self.state.truncate(top);
                }
            }
            Op::Equal | Op::NotEqual => {
                let mut equal = self.equal(instruction, depth);
                if instruction.op == Op::NotEqual {
                    equal = self.builder.ins().bxor_imm_s(equal, 1);
                }
                let value = self.boolean(equal);
                self.state.truncate(top);
                self.assign_boxed(depth - 2, value);
                self.sources[depth as usize - 2] = Some(Source::Condition(equal));
            }
            Op::Greater | Op::GreaterEqual | Op::Less | Op::LessEqual => {
                let operands = [depth - 2, top];
                let floats =
                    self.numbers_or_raise(&operands, ErrorCode::OperandsNumbers, depth, next);
                let condition =
                    self.builder.ins().fcmp(float_cc(instruction.op), floats[0], floats[1]);
                let value = self.boolean(condition);
                self.state.truncate(top);
                self.assign_boxed(depth - 2, value);
                self.sources[depth as usize - 2] = Some(Source::Condition(condition));
            }
            Op::Add => self.add(instruction, depth),
            Op::AddConstant => self.add(instruction, depth),
            Op::Subtract | Op::Multiply | Op::Divide => {
                let operands = [depth - 2, top];
                let floats =
                    self.numbers_or_raise(&operands, ErrorCode::OperandsNumbers, depth, next);
                let result = self.arithmetic(instruction.op, floats[0], floats[1]);
                self.state.truncate(top);
                self.assign_float(depth - 2, result);
            }
            Op::SubtractConstant | Op::MultiplyConstant | Op::DivideConstant => {
                let a = self.numbers_or_raise(&[top], ErrorCode::OperandsNumbers, depth, next)[0];
                // `x / 2^k` is `x * 2^-k`, rounded the same (both are the one
                // exact value, rounded once), and a multiply is several times
                // quicker than a divide.
                let reciprocal = match instruction.op {
                    Op::DivideConstant => {
                        self.plan_input.numbers[operand as usize].and_then(exact_reciprocal)
                    }
                    _ => None,
                };
                let result = if let Some(reciprocal) = reciprocal {
                    let b = self.builder.ins().f64const(reciprocal);
                    self.builder.ins().fmul(a, b)
                } else if let Some(b) = self.float_constant(operand) {
                    self.arithmetic(instruction.op, a, b)
                } else {
                    // Not a number: the instruction always raises.
                    let never = self.builder.ins().iconst(types::I8, 0);
                    self.raise_unless(never, ErrorCode::OperandsNumbers, depth, next);
                    self.builder.ins().f64const(0.0)
                };
                self.assign_float(top, result);
            }
            Op::Not => {
                let value = self.get(top);
                let falsey = self.falsey(value);
                let value = self.boolean(falsey);
                self.assign_boxed(top, value);
            }
            Op::Negate => {
                let float = self.numbers_or_raise(&[top], ErrorCode::OperandNumber, depth, next)[0];
                let negated = self.builder.ins().fneg(float);
                self.assign_float(top, negated);
            }
            Op::Print => {
                let value = self.get(top);
                let status = self.call_helper(Helper::Print, depth, next, &[value]);
                self.check(status);
                self.state.truncate(top);
            }
            Op::Jump => {
                self.jump_to(instruction.jump_target().expect("a jump"));
                return false;
            }
            Op::JumpIfFalse | Op::PopJumpIfFalse => {
                // A boolean a comparison just made: its condition decides.
                let (condition, when) = match self.sources[top as usize] {
                    Some(Source::Condition(truthy)) => (truthy, true),
                    _ => {
                        let value = self.get(top);
                        (self.falsey(value), false)
                    }
                };
                if instruction.op == Op::PopJumpIfFalse {
                    self.state.truncate(top);
                }
                self.branch_unless(condition, when, instruction);
            }
            Op::JumpIfNotLess
            | Op::JumpIfNotLessEqual
            | Op::JumpIfNotGreater
            | Op::JumpIfNotGreaterEqual => {
                let operands = [depth - 2, top];
                let floats =
                    self.numbers_or_raise(&operands, ErrorCode::OperandsNumbers, depth, next);
                let condition =
                    self.builder.ins().fcmp(float_cc(instruction.op), floats[0], floats[1]);
                self.state.truncate(depth - 2);
                self.branch_unless(condition, true, instruction);
            }
            Op::Loop => {
                let flag = self.run_constants().interrupt;
                // Another thread may set the flag: a plain load each time
                // (relaxed, as the VM reads it).
                let requested = self.builder.ins().load(types::I8, MemFlagsData::new(), flag, 0);
                let stop = self.builder.create_block();
                self.builder.set_cold_block(stop);
                let target = self.edge(instruction.jump_target().expect("a jump"));
                self.builder.ins().brif(requested, stop, &[], target, &[]);
                self.lower_pending_edges(stop);
                self.call_helper(Helper::Interrupted, depth, next, &[]);
                self.builder.ins().jump(self.raised, &[]);
                return false;
            }
            Op::Call | Op::CallMethod => self.call(instruction, depth),
            Op::Return => {
                self.close_frame(depth, instruction.offset);
                self.returns_numbers &= self.state.ty(top) == Ty::Number;
                let value = self.get(top);
                self.return_(Some(value));
                return false;
            }
            Op::ReturnThis => {
                self.close_frame(depth, instruction.offset);
                self.returns_numbers = false;
                // Slot 0 holds `this`: nothing assigns it.
                self.return_(None);
                return false;
            }
            op => unreachable!("{} is stepped (above)", op.name()),
        }
        true
    }

    /// A conditional jump: to its target when `condition` is `when`, else on
    /// to the next instruction. The state is already the one after it.
    fn branch_unless(&mut self, condition: ir::Value, when: bool, instruction: &Instruction) {
        let target = self.edge(instruction.jump_target().expect("a jump"));
        let fall = self.builder.create_block();
        if when {
            self.builder.ins().brif(condition, fall, &[], target, &[]);
        } else {
            self.builder.ins().brif(condition, target, &[], fall, &[]);
        }
        self.lower_pending_edges(fall);
    }

    /// The state after an instruction that pops its operands and pushes
    /// boxed values (already given to their slots): `types::transfer`'s
    /// general case. A call may have changed captured slots that were
    /// numbers: they are read back.
    fn finish_generic(&mut self, instruction: &Instruction) {
        let before = self.state.clone();
        transfer(&self.plan, self.plan_input, instruction, &mut self.state);
        for slot in 0..self.state.depth().min(before.depth()) {
            if before.ty(slot) == Ty::Number && self.state.ty(slot) == Ty::Any {
                self.load_slot(slot);
            }
        }
    }

    /// Run `instruction` with the VM's code (the `step` helper), then read
    /// back the slots it wrote (a stepped instruction calls no Lox code, so
    /// it changes no slot below its operands); returns those slots.
    fn step(&mut self, instruction: &Instruction, depth: u32) -> std::ops::Range<u32> {
        debug_assert!(!instruction.op.info().effects.calls, "a stepped instruction calls");
        let status = self.call_helper(Helper::Step, depth, instruction.offset, &[]);
        self.check(status);
        let after = self.input.facts.depth_at(instruction.next).expect("verified code");
        let kept = depth - u32::from(instruction.op.info().effect.pops);
        for slot in kept..after {
            self.load_slot(slot);
        }
        kept..after
    }

    /// A property instruction: the receiver's shape against the site's
    /// inline-cache ways in machine code (fields read and written in
    /// place, methods looked up for an invoke); anything else, the VM's
    /// code through `step`, which also fills the cache.
    fn property(&mut self, instruction: &Instruction, depth: u32) {
        let op = instruction.op;
        let receiver_slot = match op {
            Op::SetProperty | Op::StoreProperty => depth - 2,
            _ => depth - 1,
        };
        let receiver = self.get(receiver_slot);
        let join = self.builder.create_block();

        // A receiver that is no instance: the VM's code raises (only
        // instances have properties, fields and methods). That path does
        // not come back, so every path past the site went through its kind
        // check and shape load, and the next site on the same receiver
        // finds them loaded already (`instance_regions`).
        let not_instance = self.builder.create_block();
        self.builder.set_cold_block(not_instance);
        let object = self.object_of_kind(receiver, abi::KIND_INSTANCE, not_instance);
        // The rest goes on in a block of its own, laid out after the cold
        // one (going back to the kind check's block instead made `nbody`
        // 5% slower).
        let go_on = self.builder.create_block();
        self.builder.ins().jump(go_on, &[]);
        self.builder.switch_to_block(not_instance);
        self.call_helper(Helper::Step, depth, instruction.offset, &[]);
        self.builder.ins().jump(self.raised, &[]);
        self.builder.switch_to_block(go_on);
        let shape = self.builder.ins().load(
            types::I64,
            self.header_flags,
            object,
            abi::INSTANCE_SHAPE as i32,
        );
        // Known shapes are a speculation: a shape the code does not know
        // deoptimizes, and the site is compiled again with the shapes its
        // cache then holds, or with its ways once a shape failed it.
        let speculate = self.input.feedback.is_some_and(|feedback| {
            feedback.get(instruction.offset).is_none_or(|bits| bits & abi::FEEDBACK_DEOPTED == 0)
        });
        // What the site's cache knows: the fields of a get or set, the
        // methods of a method lookup (at most one of them is not empty).
        let site = instruction.operand as usize;
        let (known, methods) = match op {
            _ if !speculate => (Vec::new(), Vec::new()),
            Op::GetProperty | Op::SetProperty | Op::StoreProperty => {
                (self.input.site_fields.get(site).cloned().unwrap_or_default(), Vec::new())
            }
            Op::Method => {
                (Vec::new(), self.input.site_methods.get(site).cloned().unwrap_or_default())
            }
            _ => (Vec::new(), Vec::new()),
        };
        if (!known.is_empty() || !methods.is_empty()) && self.input.stress_deopt {
            let stressed = self.stressed(instruction.offset);
            let reason = self.builder.ins().iconst(types::I32, abi::DeoptReason::Stress as i64);
            self.deopt_unless(stressed, instruction.offset, reason);
        }
        let mut known_any = false;
        for (index, field) in known.iter().enumerate() {
            let last = index + 1 == known.len();
            let at = instruction.offset;
            known_any |= self.known_field(op, at, object, shape, *field, depth, join, last);
        }
        for (index, method) in methods.iter().enumerate() {
            let last = index + 1 == methods.len();
            self.known_method(receiver, shape, *method, depth, join, last);
        }
        if known_any || !methods.is_empty() {
            // None of them: the code is wrong about this site.
            match known_any {
                true => self.speculations.known_fields += 1,
                false => self.speculations.known_methods += 1,
            }
            let reason = abi::DeoptReason::UnknownShape as i64;
            let reason = self.builder.ins().iconst(types::I32, reason);
            self.deopt(instruction.offset, reason);
            self.builder.switch_to_block(join);
            return;
        }
        // A get or a method finds what a lookup finds: past the site's ways,
        // the heap's megamorphic cache holds it too. A set's miss may add a
        // field, which only the VM's code does (`slow`, which comes back).
        let slow = self.builder.create_block();
        self.builder.set_cold_block(slow);
        let lookup = matches!(op, Op::GetProperty | Op::Method);
        let (entry, kind) = self.find_way(instruction.operand, shape, lookup, slow);

        let is_field = self.builder.ins().icmp_imm_s(IntCC::Equal, kind, i64::from(abi::HIT_FIELD));
        let field_block = self.builder.create_block();
        let other_block = if op == Op::GetProperty { slow } else { self.builder.create_block() };
        self.builder.ins().brif(is_field, field_block, &[], other_block, &[]);

        // A field: read or write it in place.
        self.builder.switch_to_block(field_block);
        let index = self.builder.ins().load(types::I32, trusted(), entry, abi::ENTRY_INDEX as i32);
        let index = self.builder.ins().uextend(types::I64, index);
        let offset = self.builder.ins().ishl_imm_u(index, 3);
        let fields = self.fields_of(object);
        let address = self.builder.ins().iadd(fields, offset);
        match op {
            Op::GetProperty => {
                let value = self.builder.ins().load(types::I64, self.field_flags, address, 0);
                self.def_boxed(depth - 1, value);
            }
            Op::Method => {
                // [callee, slot 0]: a field is called like any value.
                let value = self.builder.ins().load(types::I64, self.field_flags, address, 0);
                self.def_boxed(depth - 1, value);
                self.def_boxed(depth, value);
            }
            _ => {
                let value = self.get(depth - 1);
                self.builder.ins().store(self.field_flags, value, address, 0);
                self.write_barrier(object, value, depth - 1);
                if op == Op::SetProperty {
                    self.def_boxed(depth - 2, value);
                }
            }
        }
        self.builder.ins().jump(join, &[]);

        if op == Op::Method {
            // A method: [method, receiver].
            self.builder.switch_to_block(other_block);
            let method = self.method_hit(entry, kind, slow);
            self.def_boxed(depth - 1, method);
            self.def_boxed(depth, receiver);
            self.builder.ins().jump(join, &[]);
        } else if op != Op::GetProperty {
            self.builder.switch_to_block(other_block);
            let value = self.get(depth - 1);
            self.add_field_hit(object, entry, kind, value, slow);
            self.write_barrier(object, value, depth - 1);
            if op == Op::SetProperty {
                self.def_boxed(depth - 2, value);
            }
            self.builder.ins().jump(join, &[]);
        }

        self.builder.switch_to_block(slow);
        self.step(instruction, depth);
        self.builder.ins().jump(join, &[]);
        self.builder.switch_to_block(join);
    }

    /// A get or set of a field of a shape the site's cache has found: if
    /// the instance `object` has shape `known.shape`, the field is read or
    /// written at a constant offset and the code goes on at `join`; else it
    /// goes on here, to the next known shape or (the `last`) to the cache's
    /// ways. Emits nothing and returns false when the offset is too large
    /// for an instruction's 32-bit displacement.
    #[allow(clippy::too_many_arguments)] // The property's state, as `property` has it.
    fn known_field(
        &mut self,
        op: Op,
        at: usize,
        object: ir::Value,
        shape: ir::Value,
        known: KnownField,
        depth: u32,
        join: Block,
        last: bool,
    ) -> bool {
        let Ok(offset) = i32::try_from(u64::from(known.index) * 8) else { return false };
        let ways = self.when_key_is(shape, known.shape, last);
        if let Some(adds) = known.adds {
            // The shape says the instance has `index` fields; the new one
            // goes in place if their array has room for it. Growing it
            // allocates, which the VM does: an instance made before its
            // class's instances had this many fields deoptimizes.
            let ins = self.builder.ins();
            let capacity = ins.load(
                types::I32,
                self.header_flags,
                object,
                abi::INSTANCE_FIELD_CAPACITY as i32,
            );
            let ins = self.builder.ins();
            let fits = ins.icmp_imm_s(IntCC::UnsignedGreaterThan, capacity, i64::from(known.index));
            let reason = abi::DeoptReason::FieldsFull as i64;
            let reason = self.builder.ins().iconst(types::I32, reason);
            self.deopt_unless(fits, at, reason);
            let count = self.builder.ins().iconst(types::I32, i64::from(known.index) + 1);
            let adds = self.builder.ins().iconst(types::I64, adds as i64);
            self.move_to_shape(object, count, adds);
        }
        let fields = self.fields_of(object);
        if op == Op::GetProperty {
            let value = self.builder.ins().load(types::I64, self.field_flags, fields, offset);
            self.def_boxed(depth - 1, value);
        } else {
            let value = self.get(depth - 1);
            self.builder.ins().store(self.field_flags, value, fields, offset);
            self.write_barrier(object, value, depth - 1);
            if op == Op::SetProperty {
                self.def_boxed(depth - 2, value);
            }
        }
        self.builder.ins().jump(join, &[]);
        self.builder.switch_to_block(ways);
        true
    }

    /// A method site's test for one known key: if `key` (the receiver's
    /// shape) is `known.shape`, the site's result is [its method (a
    /// constant), `receiver`] in the slots below `depth`; go on to `join`.
    /// Else go on in the block left current (cold if this is the `last`
    /// known key).
    fn known_method(
        &mut self,
        receiver: ir::Value,
        key: ir::Value,
        known: KnownMethod,
        depth: u32,
        join: Block,
        last: bool,
    ) {
        let other = self.when_key_is(key, known.shape, last);
        let method = self.constant(known.closure | abi::OBJECT_TAG);
        self.def_boxed(depth - 1, method);
        self.def_boxed(depth, receiver);
        self.builder.ins().jump(join, &[]);
        self.builder.switch_to_block(other);
    }

    /// A known site's test of `key` (a shape, or a superclass) against the
    /// constant `known`: the code goes on here, in a new block, if they are
    /// the same; the block returned is where it goes otherwise (cold if
    /// this is the `last` known key, after which the site gives up).
    fn when_key_is(&mut self, key: ir::Value, known: u64, last: bool) -> Block {
        let is_known = self.builder.ins().icmp_imm_s(IntCC::Equal, key, known as i64);
        let hit = self.builder.create_block();
        let other = self.builder.create_block();
        if last {
            self.builder.set_cold_block(other);
        }
        self.builder.ins().brif(is_known, hit, &[], other, &[]);
        self.builder.switch_to_block(hit);
        other
    }

    /// `object` has one field more, the last one stored already or about
    /// to be: `count` of them, and `shape` (the child of its old shape
    /// that adds that field).
    fn move_to_shape(&mut self, object: ir::Value, count: ir::Value, shape: ir::Value) {
        let flags = self.header_flags;
        let ins = self.builder.ins();
        ins.store(flags, count, object, abi::INSTANCE_FIELD_COUNT as i32);
        self.builder.ins().store(flags, shape, object, abi::INSTANCE_SHAPE as i32);
    }

    /// A set's add-field hit: the instance moves to the hit's shape, which
    /// has one more field, the value stored last. Done here only while the
    /// field array has room (growing it allocates); else, or for any other
    /// hit, jump to `slow`. The shape's transition guarantees the new
    /// field's index is the current count.
    fn add_field_hit(
        &mut self,
        object: ir::Value,
        entry: ir::Value,
        kind: ir::Value,
        value: ir::Value,
        slow: Block,
    ) {
        let is_add =
            self.builder.ins().icmp_imm_s(IntCC::Equal, kind, i64::from(abi::HIT_ADD_FIELD));
        let add_block = self.builder.create_block();
        self.builder.ins().brif(is_add, add_block, &[], slow, &[]);
        self.builder.switch_to_block(add_block);
        let ins = self.builder.ins();
        let count =
            ins.load(types::I32, self.header_flags, object, abi::INSTANCE_FIELD_COUNT as i32);
        let ins = self.builder.ins();
        let capacity =
            ins.load(types::I32, self.header_flags, object, abi::INSTANCE_FIELD_CAPACITY as i32);
        let fits = self.builder.ins().icmp(IntCC::UnsignedLessThan, count, capacity);
        let store_block = self.builder.create_block();
        self.builder.ins().brif(fits, store_block, &[], slow, &[]);
        self.builder.switch_to_block(store_block);
        let fields = self.fields_of(object);
        let index = self.builder.ins().uextend(types::I64, count);
        let offset = self.builder.ins().ishl_imm_u(index, 3);
        let address = self.builder.ins().iadd(fields, offset);
        self.builder.ins().store(self.field_flags, value, address, 0);
        let count = self.builder.ins().iadd_imm_s(count, 1);
        let shape = self.builder.ins().load(types::I64, trusted(), entry, abi::ENTRY_TARGET as i32);
        self.move_to_shape(object, count, shape);
    }

    /// The write barrier (the runtime's `heap/collect.rs`), after a store
    /// of `value`, from slot `slot`, into `object` (an object's address):
    /// if the value is an object, and `object` is old and not in the
    /// remembered set, push it onto the set (`heap/remembered.rs`, whose
    /// array has room). Nothing for a value known not to be an object (a
    /// number, a condition's boolean); else a 16-bit load of the header's
    /// generation bytes and two compares on the path that goes on.
    ///
    /// The push is inline, not a call of the runtime's, and touches only
    /// the remembered set's alias region: after a call the code would
    /// have to reload whatever it read of the heap, shapes and fields.
    fn write_barrier(&mut self, object: ir::Value, value: ir::Value, slot: u32) {
        let condition = matches!(self.sources[slot as usize], Some(Source::Condition(_)));
        if self.state.ty(slot) == Ty::Number || condition {
            return;
        }
        let flags = self.remembered_flags;
        let ins = self.builder.ins();
        let generation = ins.load(types::I16, flags, object, abi::HEADER_GENERATION as i32);
        let unremembered = i64::from(abi::GENERATION_OLD_UNREMEMBERED);
        let old = self.builder.ins().icmp_imm_s(IntCC::Equal, generation, unremembered);
        let tag = abi::OBJECT_TAG as i64;
        let tagged = self.builder.ins().band_imm_s(value, tag);
        let is_object = self.builder.ins().icmp_imm_s(IntCC::Equal, tagged, tag);
        let remember = self.builder.ins().band(old, is_object);
        let push = self.builder.create_block();
        self.builder.set_cold_block(push);
        let next = self.builder.create_block();
        self.builder.ins().brif(remember, push, &[], next, &[]);

        self.builder.switch_to_block(push);
        let one = self.builder.ins().iconst(types::I8, 1);
        self.builder.ins().store(flags, one, object, abi::HEADER_REMEMBERED as i32);
        let ins = self.builder.ins();
        let set = ins.load(types::I64, fixed(), self.ctx, abi::CONTEXT_REMEMBERED as i32);
        let data = self.builder.ins().load(types::I64, flags, set, abi::REMEMBERED_DATA as i32);
        let len = self.builder.ins().load(types::I64, flags, set, abi::REMEMBERED_LEN as i32);
        let offset = self.builder.ins().ishl_imm_u(len, 3);
        let at = self.builder.ins().iadd(data, offset);
        self.builder.ins().store(flags, object, at, 0);
        let len = self.builder.ins().iadd_imm_s(len, 1);
        self.builder.ins().store(flags, len, set, abi::REMEMBERED_LEN as i32);
        self.builder.ins().jump(next, &[]);
        self.builder.switch_to_block(next);
    }

    /// Where the values of `object`'s fields are (an instance's; reloaded
    /// after anything that can add a field, which may move them).
    fn fields_of(&mut self, object: ir::Value) -> ir::Value {
        let offset = abi::INSTANCE_FIELDS as i32;
        self.builder.ins().load(types::I64, self.header_flags, object, offset)
    }

    /// The object `value` points to, if it is an object of `kind`; else
    /// jump to `otherwise`.
    fn object_of_kind(&mut self, value: ir::Value, kind: u8, otherwise: Block) -> ir::Value {
        let tag = self.builder.ins().band_imm_s(value, abi::OBJECT_TAG as i64);
        let is_object = self.builder.ins().icmp_imm_s(IntCC::Equal, tag, abi::OBJECT_TAG as i64);
        let object_block = self.builder.create_block();
        self.builder.ins().brif(is_object, object_block, &[], otherwise, &[]);
        self.builder.switch_to_block(object_block);
        let object = self.builder.ins().band_imm_s(value, abi::ADDRESS_MASK as i64);
        let found = self.builder.ins().uload8(
            types::I32,
            self.header_flags,
            object,
            abi::HEADER_KIND as i32,
        );
        let matches = self.builder.ins().icmp_imm_s(IntCC::Equal, found, i64::from(kind));
        let kind_block = self.builder.create_block();
        self.builder.ins().brif(matches, kind_block, &[], otherwise, &[]);
        self.builder.switch_to_block(kind_block);
        object
    }

    /// `Call` and `CallMethod`. A closure with machine code, called with
    /// its arity, while there is room for a frame and no interrupt is
    /// pending, is called directly: its frame record is pushed here, as
    /// the VM would, and popped on its return. So is a class whose
    /// initializer is such a closure, after the `instantiate` helper has
    /// made the instance its slot 0. Anything else goes through the `call`
    /// helper (natives, other classes, bound methods, interpreted callees,
    /// and every error). Where the callee is known (a global's closure, a
    /// method a site's cache found, the functions a site has called), each
    /// known function is guarded and called directly or inlined, and any
    /// other callee deoptimizes (`DeoptReason::UnknownCallee`): the site's
    /// next compile knows no callee there and has the general path.
    fn call(&mut self, instruction: &Instruction, depth: u32) {
        let n_args = instruction.operand;
        let slot_zero = depth - n_args - 1;
        let return_to = if instruction.op == Op::Call { slot_zero } else { slot_zero - 1 };
        let callee = self.get(return_to);
        let slot_zero_address = self.slot_address(slot_zero);
        let return_to_address = self.slot_address(return_to);
        let slow = self.builder.create_block();
        self.builder.set_cold_block(slow);
        let join = self.builder.create_block();
        // Where a closure is entered: its closure, function, entry, the
        // start of its bytecode and its function's index.
        let enter = self.builder.create_block();
        for ty in [types::I64, types::I64, types::I64, types::I64, types::I32] {
            self.builder.append_block_param(enter, ty);
        }
        // A call of a global that held a closure of a known function when
        // this was compiled, or of a method a site's cache found: the
        // functions it is expected to be, those that take these arguments.
        // A call deoptimizes where its callee is none of the known ones,
        // until it has once: then it is compiled with the functions the
        // site has called, compared by function, before the general call
        // (a global redefined by running its declaration again, as a REPL
        // line or `--iterations` does, has a closure of the same function).
        let watched = self.input.feedback.is_some();
        let speculate = self.input.feedback.is_some_and(|feedback| {
            feedback.get(instruction.offset).is_none_or(|bits| bits & abi::FEEDBACK_DEOPTED == 0)
        });
        let mut targets: Vec<KnownFunction> =
            match (instruction.op, self.sources[return_to as usize]) {
                _ if !speculate => Vec::new(),
                (Op::Call, Some(Source::Global(global))) => self
                    .input
                    .global_functions
                    .get(global as usize)
                    .copied()
                    .flatten()
                    .into_iter()
                    .collect(),
                (Op::CallMethod, Some(Source::Method(site))) => {
                    self.input.site_functions.get(site as usize).cloned().unwrap_or_default()
                }
                _ => Vec::new(),
            };
        if watched && targets.is_empty() && instruction.op == Op::Call {
            targets = self.call_site_functions(instruction.offset);
        }
        targets.retain(|known| u32::from(known.arity) == n_args);
        // A known class is only worth its guard where its initializer is
        // inlined; elsewhere the general path enters the initializer. (A
        // class comes alone, from a global, and nothing the choice reads
        // changes before the loop below, which makes the same choice.)
        targets.retain(|known| known.class.is_none() || self.inline_choice(known).is_some());
        let join_result = self.builder.append_block_param(join, types::I64);

        // Written back once for every path: the callee reads its arguments
        // from memory, and the collector may run inside it.
        self.write_back(depth);
        self.mark_clean(0..depth);
        // How many records there are, this frame's the last (in an inlined
        // callee, counting those not written yet).
        let RunConstants { frames, .. } = self.run_constants();
        let len = match &self.inlined {
            None => self.builder.ins().load(types::I64, trusted(), frames, abi::FRAMES_LEN as i32),
            Some(inlined) => self.builder.ins().iadd_imm_s(inlined.len(), 1),
        };

        // Each known function in turn: a guard that the callee is a closure
        // of it, and everything else about it is a constant. Past the last
        // guard, a deoptimization where the site speculates, else the
        // general call. The guards of the call share one deoptimization
        // (the frame is the same for all), which is given the reason.
        let generic = self.builder.create_block();
        let deopt = self.builder.create_block();
        self.builder.set_cold_block(deopt);
        let reason = self.builder.append_block_param(deopt, types::I32);
        let because = |lower: &mut Self, why: abi::DeoptReason| -> ir::BlockArg {
            lower.builder.ins().iconst(types::I32, why as i64).into()
        };
        if targets.is_empty() {
            self.builder.ins().jump(generic, &[]);
        } else {
            self.speculations.known_calls += 1;
            if targets.len() > 1 {
                self.speculations.polymorphic_calls += 1;
            }
            self.builder.set_cold_block(generic);
            if speculate {
                self.stress_to(instruction.offset, deopt);
            }
        }
        let mut any_inlined = false;
        // Whether the general call follows the guards.
        let general = targets.is_empty() || !speculate;
        // Whether any path enters a callee's machine code, and whether any
        // calls the `call` helper.
        let mut enters = general;
        let mut calls_helper = general;
        // Whether every path to the join is an inlined body that returns a
        // number.
        let mut numbers = !general;
        for (index, known) in targets.iter().enumerate() {
            let other = match index + 1 == targets.len() {
                true => generic,
                false => self.builder.create_block(),
            };
            let known_block = self.builder.create_block();
            let (closure, function) = self.known_callee(callee, known, known_block, other);
            if let Some(chosen) = self.inline_choice(known) {
                any_inlined = true;
                // Its body, here: a frame record, but no native frame. With
                // no room for the record, the VM makes the call (and raises
                // `Stack overflow.`, as it does).
                let ready = self.frame_fits(len);
                let go_on = self.builder.create_block();
                if speculate {
                    let full = because(self, abi::DeoptReason::FramesFull);
                    self.builder.ins().brif(ready, go_on, &[], deopt, &[full]);
                } else {
                    calls_helper = true;
                    self.builder.ins().brif(ready, go_on, &[], slow, &[]);
                }
                self.builder.switch_to_block(go_on);
                if known.class.is_some() {
                    // The instance, the initializer's slot 0, in place of
                    // the class (as the VM's class call does).
                    self.instantiate(callee, slot_zero_address, depth, instruction.next);
                    let ins = self.builder.ins();
                    let instance = ins.load(types::I64, trusted(), slot_zero_address, 0);
                    self.def_boxed(slot_zero, instance);
                    self.mark_clean(slot_zero..slot_zero + 1);
                }
                let site =
                    Site { slot_zero, return_to, closure, frames, len, next: instruction.next };
                let (result, number) = self.inline(&chosen, known, &site);
                numbers &= number;
                self.builder.ins().jump(join, &[result.into()]);
            } else {
                enters = true;
                calls_helper = true;
                numbers = false;
                let entry = self.compiled_entry(function, slow);
                self.require_frame(len, slow);
                let code = self.builder.ins().iconst(types::I64, known.code as i64);
                let proto = self.builder.ins().iconst(types::I32, i64::from(known.proto));
                let arguments =
                    [closure.into(), function.into(), entry.into(), code.into(), proto.into()];
                self.builder.ins().jump(enter, &arguments);
            }
            if other != generic {
                self.builder.switch_to_block(other);
            }
        }

        self.builder.switch_to_block(generic);
        if general {
            self.general_call(callee, len, depth, instruction, enter, slow);
        } else {
            let unknown = because(self, abi::DeoptReason::UnknownCallee);
            self.builder.ins().jump(deopt, &[unknown]);
            self.builder.switch_to_block(deopt);
            self.deopt(instruction.offset, reason);
        }

        if enters {
            // Enter: this frame resumes after the call (its record is the
            // last one pushed); push the callee's record, run it, pop it.
            self.builder.switch_to_block(enter);
            let params = self.builder.block_params(enter).to_vec();
            let (closure, function, entry, callee_code, proto) =
                (params[0], params[1], params[2], params[3], params[4]);
            let site = Site { slot_zero, return_to, closure, frames, len, next: instruction.next };
            self.write_pending_records();
            self.push_record(&site, callee_code, proto);
            let signature = match self.entry_signature {
                Some(signature) => signature,
                None => {
                    let signature = self.builder.func.signature.clone();
                    *self.entry_signature.insert(self.builder.import_signature(signature))
                }
            };
            let arguments = [self.ctx, slot_zero_address, closure, function];
            let call = self.builder.ins().call_indirect(signature, entry, &arguments);
            let status = self.builder.inst_results(call)[0];
            // Raised: the callee's records stay pushed, for the trace.
            self.check(status);
            self.builder.ins().store(trusted(), len, frames, abi::FRAMES_LEN as i32);
            let result = self.builder.ins().load(types::I64, trusted(), slot_zero_address, 0);
            self.builder.ins().store(trusted(), result, return_to_address, 0);
            self.builder.ins().jump(join, &[result.into()]);
        }

        if calls_helper {
            self.builder.switch_to_block(slow);
            let n_args = self.builder.ins().iconst(types::I32, i64::from(n_args));
            let status = self.call_helper(
                Helper::Call,
                depth,
                instruction.next,
                &[slot_zero_address, n_args, return_to_address],
            );
            self.check(status);
            let result = self.builder.ins().load(types::I64, trusted(), return_to_address, 0);
            self.builder.ins().jump(join, &[result.into()]);
        }

        // The result is in its slot, and the callee may have assigned
        // captured slots of this frame.
        self.builder.switch_to_block(join);
        self.finish_generic(instruction);
        for slot in 0..return_to {
            if self.input.facts.may_be_captured(instruction.offset, slot) {
                self.load_slot(slot);
                self.mark_clean(slot..slot + 1);
            }
        }
        // Every path left the result in its slot in memory, too. Inlined
        // bodies that all return numbers make a number (its bits are the
        // boxed value's), which needs no check where it is used.
        if numbers {
            let float = self.as_float(join_result);
            self.assign_float(return_to, float);
        } else {
            self.def_boxed(return_to, join_result);
        }
        self.mark_clean(return_to..return_to + 1);
        // Every path but an inlined body's wrote the pending records.
        self.records_written |= !any_inlined;
    }

    /// `instruction` (a call, of `callee`, with `len` frames pushed and
    /// `depth` slots) where nothing is known of the callee, from the
    /// current block: a closure whose machine code can be entered goes to
    /// `enter` (with its closure, function, entry, code start and index),
    /// as does a class whose initializer's can, once the instance is made
    /// in slot 0; anything else goes to `slow`, the `call` helper.
    fn general_call(
        &mut self,
        callee: ir::Value,
        len: ir::Value,
        depth: u32,
        instruction: &Instruction,
        enter: Block,
        slow: Block,
    ) {
        let n_args = instruction.operand;
        let slot_zero_address = self.slot_address(depth - n_args - 1);
        // A closure.
        let not_closure = self.builder.create_block();
        self.builder.set_cold_block(not_closure);
        let closure = self.object_of_kind(callee, abi::KIND_CLOSURE, not_closure);
        let (function, entry) = self.enterable(closure, n_args, len, slow);
        let ins = self.builder.ins();
        let code = ins.load(types::I64, trusted(), function, abi::FUNCTION_CODE as i32);
        let ins = self.builder.ins();
        let proto = ins.load(types::I32, trusted(), function, abi::FUNCTION_PROTO as i32);
        let arguments = [closure.into(), function.into(), entry.into(), code.into(), proto.into()];
        self.builder.ins().jump(enter, &arguments);

        // A class whose initializer can be entered: make the instance.
        self.builder.switch_to_block(not_closure);
        let class = self.object_of_kind(callee, abi::KIND_CLASS, slow);
        let ins = self.builder.ins();
        let init = ins.load(types::I64, trusted(), class, abi::CLASS_INITIALIZER as i32);
        let has_init = self.builder.ins().icmp_imm_s(IntCC::NotEqual, init, 0);
        self.continue_if(has_init, slow);
        let (init_function, init_entry) = self.enterable(init, n_args, len, slow);
        self.instantiate(callee, slot_zero_address, depth, instruction.next);
        let ins = self.builder.ins();
        let init_code = ins.load(types::I64, trusted(), init_function, abi::FUNCTION_CODE as i32);
        let ins = self.builder.ins();
        let init_proto = ins.load(types::I32, trusted(), init_function, abi::FUNCTION_PROTO as i32);
        let arguments = [
            init.into(),
            init_function.into(),
            init_entry.into(),
            init_code.into(),
            init_proto.into(),
        ];
        self.builder.ins().jump(enter, &arguments);
    }

    /// The functions whose closures the `Call` at `offset` has called, as
    /// its feedback says (`FunctionInput::call_functions`).
    fn call_site_functions(&self, offset: usize) -> Vec<KnownFunction> {
        let site = self.input.feedback.and_then(|feedback| feedback.get(offset + 1));
        let index = site.and_then(|&site| usize::from(site).checked_sub(1));
        index.and_then(|index| self.input.call_functions.get(index)).cloned().unwrap_or_default()
    }

    /// Make a new instance of `class` (an `ObjClass` value) into the slot
    /// at `out` (by the `new_instance` helper, or by `instantiate` when
    /// the heap is due a collection), with `live` slots in
    /// the frame; `next` is where the calling instruction resumes.
    fn instantiate(&mut self, class: ir::Value, out: ir::Value, live: u32, next: usize) {
        // Most instances are made without a collection: by the leaf
        // `new_instance`, with nothing written back; by `instantiate`, at a
        // safepoint, when the heap is due one.
        let made = self.call_leaf(Helper::NewInstance, &[class]);
        let fast = self.builder.create_block();
        let slow = self.builder.create_block();
        self.builder.set_cold_block(slow);
        let done = self.builder.create_block();
        self.builder.ins().brif(made, fast, &[], slow, &[]);
        self.builder.switch_to_block(fast);
        self.builder.ins().store(trusted(), made, out, 0);
        self.builder.ins().jump(done, &[]);
        self.builder.switch_to_block(slow);
        let status = self.call_helper(Helper::Instantiate, live, next, &[class, out]);
        self.check(status);
        self.builder.ins().jump(done, &[]);
        self.builder.switch_to_block(done);
    }

    /// `Closure` with `operand`: a closure, into `out` (the slot it is
    /// pushed into, `live` the slots below it). One that captures nothing
    /// by reference is made without a safepoint when the heap needs no
    /// collection for it: the leaf `new_closure` makes it, and the code
    /// stores the values its captures take, which it has in hand. Else,
    /// or when the heap is due a collection, the helper `closure` makes it
    /// at a safepoint, from the frame written back.
    fn closure(&mut self, operand: u32, out: ir::Value, live: u32, next: usize) {
        let known = self.input.closures.iter().find(|known| known.operand == operand);
        let in_hand = |known: &&KnownClosure| {
            known.captures.iter().all(|capture| !capture.is_local || capture.by_value)
        };
        let done = self.builder.create_block();
        if let Some(known) = known.filter(in_hand).cloned() {
            let function = self.constant(known.function | abi::OBJECT_TAG);
            let made = self.call_leaf(Helper::NewClosure, &[function]);
            let fast = self.builder.create_block();
            let slow = self.builder.create_block();
            self.builder.set_cold_block(slow);
            self.builder.ins().brif(made, fast, &[], slow, &[]);
            self.builder.switch_to_block(fast);
            let closure = self.builder.ins().band_imm_s(made, abi::ADDRESS_MASK as i64);
            let ins = self.builder.ins();
            let upvalues = ins.load(types::I64, trusted(), closure, abi::CLOSURE_UPVALUES as i32);
            for (at, capture) in (0..).zip(&known.captures) {
                let index = u32::from(capture.index);
                // A local's value, or what this closure holds for its own
                // captured variable (a value or an upvalue), as it holds it.
                let held = match capture.is_local {
                    true => self.get(index),
                    false => self.captured(index),
                };
                self.builder.ins().store(trusted(), held, upvalues, at * 8);
            }
            self.builder.ins().store(trusted(), made, out, 0);
            self.builder.ins().jump(done, &[]);
            self.builder.switch_to_block(slow);
        }
        // Made by the VM's code, into the slot it is pushed into.
        let function = self.builder.ins().iconst(types::I32, i64::from(operand));
        let status = self.call_helper(Helper::Closure, live, next, &[function, out]);
        self.check(status);
        self.builder.ins().jump(done, &[]);
        self.builder.switch_to_block(done);
    }

    /// Guard that `callee` is a closure of `known` (or, for a known class,
    /// that class): go on in `then` if it is, returning the closure and
    /// function to call (the class's initializer's) as `then` has them,
    /// else jump to `otherwise`.
    fn known_callee(
        &mut self,
        callee: ir::Value,
        known: &KnownFunction,
        then: Block,
        otherwise: Block,
    ) -> (ir::Value, ir::Value) {
        if let Some(class) = known.class {
            let bits = (abi::OBJECT_TAG | class) as i64;
            let is_known = self.builder.ins().icmp_imm_s(IntCC::Equal, callee, bits);
            self.builder.ins().brif(is_known, then, &[], otherwise, &[]);
            self.builder.switch_to_block(then);
            let init = known.closure.expect("a known class's initializer is a known closure");
            let closure = self.builder.ins().iconst(types::I64, init as i64);
            let function = self.builder.ins().iconst(types::I64, known.function as i64);
            return (closure, function);
        }
        match known.closure {
            Some(address) => {
                let bits = (abi::OBJECT_TAG | address) as i64;
                let is_known = self.builder.ins().icmp_imm_s(IntCC::Equal, callee, bits);
                self.builder.ins().brif(is_known, then, &[], otherwise, &[]);
                self.builder.switch_to_block(then);
                let closure = self.builder.ins().iconst(types::I64, address as i64);
                let function = self.builder.ins().iconst(types::I64, known.function as i64);
                (closure, function)
            }
            None => {
                let closure = self.object_of_kind(callee, abi::KIND_CLOSURE, otherwise);
                let ins = self.builder.ins();
                let function =
                    ins.load(types::I64, trusted(), closure, abi::CLOSURE_FUNCTION as i32);
                let ins = self.builder.ins();
                let is_known = ins.icmp_imm_s(IntCC::Equal, function, known.function as i64);
                self.builder.ins().brif(is_known, then, &[], otherwise, &[]);
                self.builder.switch_to_block(then);
                (closure, function)
            }
        }
    }

    /// Go on only if `closure` (an `ObjClosure`) can be entered directly
    /// with `n_args` arguments when `len` frames are pushed: it has machine
    /// code, takes `n_args`, and a frame can be pushed (`require_frame`);
    /// else jump to `otherwise`. Returns its function and its entry.
    fn enterable(
        &mut self,
        closure: ir::Value,
        n_args: u32,
        len: ir::Value,
        otherwise: Block,
    ) -> (ir::Value, ir::Value) {
        let ins = self.builder.ins();
        let function = ins.load(types::I64, trusted(), closure, abi::CLOSURE_FUNCTION as i32);
        let entry = self.compiled_entry(function, otherwise);
        let ins = self.builder.ins();
        let arity = ins.uload8(types::I32, trusted(), function, abi::FUNCTION_ARITY as i32);
        let arity_ok = self.builder.ins().icmp_imm_s(IntCC::Equal, arity, i64::from(n_args));
        self.continue_if(arity_ok, otherwise);
        self.require_frame(len, otherwise);
        (function, entry)
    }

    /// The machine code of `function` (an `ObjFunction`), going on only
    /// if it has some; else jump to `otherwise`.
    fn compiled_entry(&mut self, function: ir::Value, otherwise: Block) -> ir::Value {
        let ins = self.builder.ins();
        let entry = ins.load(types::I64, trusted(), function, abi::FUNCTION_ENTRY as i32);
        let compiled = self.builder.ins().icmp_imm_s(IntCC::NotEqual, entry, 0);
        self.continue_if(compiled, otherwise);
        entry
    }

    /// Go on in a new block if `condition`, else jump to `otherwise`. (A
    /// chain of these is a compare and a branch each, where the `band` of
    /// the conditions was a `set` and an `and` each as well.)
    fn continue_if(&mut self, condition: ir::Value, otherwise: Block) {
        let then = self.builder.create_block();
        self.builder.ins().brif(condition, then, &[], otherwise, &[]);
        self.builder.switch_to_block(then);
    }

    /// The frame record of a callee entered at `site` (its closure, the
    /// start of its bytecode `code_start`, its slot 0 and result slot, its
    /// function's index `proto`), with where the caller resumes.
    fn record_of(&mut self, site: &Site, code_start: ir::Value, proto: ir::Value) -> PendingRecord {
        let own_code = self.run_constants().own_code;
        PendingRecord {
            at: site.len,
            closure: site.closure,
            code_start,
            base: self.slot_address(site.slot_zero),
            return_to: self.slot_address(site.return_to),
            proto,
            resume: self.builder.ins().iadd_imm_s(own_code, site.next as i64),
        }
    }

    /// Write `record` (and the resume point of the frame below it), not
    /// changing how many records there are.
    fn write_record(&mut self, record: &PendingRecord) {
        let records = self.run_constants().records;
        let at = self.builder.ins().imul_imm_s(record.at, abi::FRAME_RECORD_SIZE as i64);
        let address = self.builder.ins().iadd(records, at);
        let own_ip = abi::FRAME_IP as i32 - abi::FRAME_RECORD_SIZE as i32;
        self.builder.ins().store(trusted(), record.resume, address, own_ip);
        let fields = [
            (record.closure, abi::FRAME_CLOSURE),
            (record.code_start, abi::FRAME_IP),
            (record.base, abi::FRAME_BASE),
            (record.return_to, abi::FRAME_RETURN_TO),
            (record.proto, abi::FRAME_FUNCTION),
        ];
        for (value, offset) in fields {
            self.builder.ins().store(trusted(), value, address, offset as i32);
        }
    }

    /// Push the frame record of a callee entered directly at `site`.
    fn push_record(&mut self, site: &Site, code_start: ir::Value, proto: ir::Value) {
        let record = self.record_of(site, code_start, proto);
        self.write_record(&record);
        let pushed = self.builder.ins().iadd_imm_s(site.len, 1);
        self.builder.ins().store(trusted(), pushed, site.frames, abi::FRAMES_LEN as i32);
    }

    /// In an inlined callee's body: write the records of its frame and of
    /// the inlined frames it is inside (`Inlined`), so that the frames in
    /// memory are the VM's from here on.
    fn write_pending_records(&mut self) {
        if self.records_written {
            return;
        }
        let Some(inlined) = self.inlined.clone() else { return };
        for record in &inlined.records {
            self.write_record(record);
        }
        let pushed = self.builder.ins().iadd_imm_s(inlined.len(), 1);
        let frames = inlined.frames;
        self.builder.ins().store(trusted(), pushed, frames, abi::FRAMES_LEN as i32);
    }

    /// Go on only if compiled code may push a frame and call compiled code
    /// directly when `len` frames are pushed: a frame record fits, no
    /// interrupt is pending and the native stack has room; else jump to
    /// `otherwise`. (An inlined callee needs only the record: it takes no
    /// native stack, and a stop is still taken at the next call or
    /// back-edge, its own included.)
    fn require_frame(&mut self, len: ir::Value, otherwise: Block) {
        let RunConstants { interrupt, native_floor, .. } = self.run_constants();
        let room = self.frame_fits(len);
        self.continue_if(room, otherwise);
        let requested = self.builder.ins().load(types::I8, MemFlagsData::new(), interrupt, 0);
        let quiet = self.builder.ins().icmp_imm_s(IntCC::Equal, requested, 0);
        self.continue_if(quiet, otherwise);
        let sp = self.builder.ins().get_stack_pointer(types::I64);
        let stack_ok = self.builder.ins().icmp(IntCC::UnsignedGreaterThan, sp, native_floor);
        self.continue_if(stack_ok, otherwise);
    }

    /// Whether one more frame record fits when `len` are pushed.
    fn frame_fits(&mut self, len: ir::Value) -> ir::Value {
        let max_frames = abi::MAX_FRAMES as i64;
        self.builder.ins().icmp_imm_u(IntCC::UnsignedLessThan, len, max_frames)
    }

    /// The way of inline cache `site` whose key is `key`, and its hit
    /// kind; else, at a `lookup` site (a get or a method, whose key is a
    /// shape), the entry the heap's megamorphic cache holds for the key
    /// (`Helper::Lookup`, laid out as a way); else jump to `otherwise`.
    /// Every way is compared, in order, up to the first empty one (ways
    /// fill in order).
    fn find_way(
        &mut self,
        site: u32,
        key: ir::Value,
        lookup: bool,
        otherwise: Block,
    ) -> (ir::Value, ir::Value) {
        let found = self.builder.create_block();
        self.builder.append_block_param(found, types::I64);
        let lookup_block = lookup.then(|| {
            let block = self.builder.create_block();
            self.builder.set_cold_block(block);
            block
        });
        // Where the ways' misses go: the lookup, else `otherwise`.
        let missed = lookup_block.unwrap_or(otherwise);
        let first = (site as usize * abi::CACHE_SIZE + abi::CACHE_WAYS_OFFSET) as i64;
        for way in 0..abi::CACHE_WAYS {
            let offset = first + (way * abi::CACHE_ENTRY_SIZE) as i64;
            let caches = self.caches();
            let entry = self.builder.ins().iadd_imm_s(caches, offset);
            let ins = self.builder.ins();
            let cached = ins.load(types::I64, trusted(), entry, abi::ENTRY_KEY as i32);
            let hit = self.builder.ins().icmp(IntCC::Equal, cached, key);
            let next = if way + 1 < abi::CACHE_WAYS {
                let next = self.builder.create_block();
                let more = self.builder.create_block();
                self.builder.ins().brif(hit, found, &[entry.into()], more, &[]);
                self.builder.switch_to_block(more);
                // An empty way: no later way is filled.
                let empty = self.builder.ins().icmp_imm_s(IntCC::Equal, cached, 0);
                self.builder.ins().brif(empty, missed, &[], next, &[]);
                next
            } else {
                self.builder.ins().brif(hit, found, &[entry.into()], missed, &[]);
                break;
            };
            self.builder.switch_to_block(next);
        }
        if let Some(block) = lookup_block {
            self.builder.switch_to_block(block);
            let caches = self.caches();
            let at = (site as usize * abi::CACHE_SIZE) as i64;
            let cache = self.builder.ins().iadd_imm_s(caches, at);
            // The heap's megamorphic cache, probed here as
            // `MegamorphicCache::index` does; the helper on a miss.
            let ctx = self.ctx;
            let b = &mut self.builder;
            let name = b.ins().load(types::I64, trusted(), cache, abi::CACHE_NAME as i32);
            let table = b.ins().load(types::I64, fixed(), ctx, abi::CONTEXT_MEGAMORPHIC as i32);
            let spread = b.ins().ushr_imm_u(name, 3);
            let spread = b.ins().imul_imm_u(spread, abi::MEGAMORPHIC_MULTIPLIER as i64);
            let shape = b.ins().ushr_imm_u(key, 3);
            let index = b.ins().bxor(shape, spread);
            let index = b.ins().band_imm_u(index, (abi::MEGAMORPHIC_ENTRIES - 1) as i64);
            let offset = b.ins().imul_imm_u(index, abi::MEGAMORPHIC_ENTRY_SIZE as i64);
            let slot = b.ins().iadd(table, offset);
            let there = b.ins().load(types::I64, trusted(), slot, abi::MEGAMORPHIC_NAME as i32);
            let way = b.ins().iadd_imm_u(slot, abi::MEGAMORPHIC_WAY as i64);
            let keyed = b.ins().load(types::I64, trusted(), way, abi::ENTRY_KEY as i32);
            let same_name = b.ins().icmp(IntCC::Equal, there, name);
            let same_key = b.ins().icmp(IntCC::Equal, keyed, key);
            let remembered = b.ins().band(same_name, same_key);
            let ask = self.builder.create_block();
            self.builder.set_cold_block(ask);
            self.builder.ins().brif(remembered, found, &[way.into()], ask, &[]);
            self.builder.switch_to_block(ask);
            let function = self.function;
            let entry = self.call_leaf(Helper::Lookup, &[function, cache, key]);
            let remembered = self.builder.ins().icmp_imm_s(IntCC::NotEqual, entry, 0);
            self.builder.ins().brif(remembered, found, &[entry.into()], otherwise, &[]);
        }
        self.builder.switch_to_block(found);
        let entry = self.builder.block_params(found)[0];
        let kind = self.builder.ins().load(types::I32, trusted(), entry, abi::ENTRY_KIND as i32);
        (entry, kind)
    }

    /// The method (a closure value) of cache way `entry`, if its hit `kind`
    /// is a method; else jump to `otherwise`.
    fn method_hit(&mut self, entry: ir::Value, kind: ir::Value, otherwise: Block) -> ir::Value {
        let is_method =
            self.builder.ins().icmp_imm_s(IntCC::Equal, kind, i64::from(abi::HIT_METHOD));
        let method_block = self.builder.create_block();
        self.builder.ins().brif(is_method, method_block, &[], otherwise, &[]);
        self.builder.switch_to_block(method_block);
        let method =
            self.builder.ins().load(types::I64, trusted(), entry, abi::ENTRY_TARGET as i32);
        self.builder.ins().bor_imm_s(method, abi::OBJECT_TAG as i64)
    }

    /// `SuperMethod`: [superclass, this] becomes [method, this] when the
    /// site's cache holds the superclass's method; else the VM's code.
    fn super_method(&mut self, instruction: &Instruction, depth: u32) {
        let slow = self.builder.create_block();
        self.builder.set_cold_block(slow);
        let join = self.builder.create_block();
        let superclass = self.get(depth - 1);
        // The superclasses the site's cache has found (a method's is always
        // the same one), each compared as a constant, with its method a
        // constant; another takes the ways below.
        let known = match self.input.feedback {
            Some(_) => self
                .input
                .site_methods
                .get(instruction.operand as usize)
                .cloned()
                .unwrap_or_default(),
            None => Vec::new(),
        };
        if !known.is_empty() {
            self.speculations.known_methods += 1;
        }
        let this = self.get(depth - 2);
        for (index, method) in known.iter().enumerate() {
            // The superclass is compared as the value it is, boxed; the
            // result is [method, this] one slot lower than a `Method`'s.
            let boxed = KnownMethod { shape: method.shape | abi::OBJECT_TAG, ..*method };
            let last = index + 1 == known.len();
            self.known_method(this, superclass, boxed, depth - 1, join, last);
        }
        let class = self.object_of_kind(superclass, abi::KIND_CLASS, slow);
        let (entry, kind) = self.find_way(instruction.operand, class, false, slow);
        let method = self.method_hit(entry, kind, slow);
        self.def_boxed(depth - 2, method);
        self.def_boxed(depth - 1, this);
        self.builder.ins().jump(join, &[]);

        self.builder.switch_to_block(slow);
        self.step(instruction, depth);
        self.builder.ins().jump(join, &[]);
        self.builder.switch_to_block(join);
    }

    /// Return `result` (`None`: slot 0's value, `this`). The function
    /// compiled returns it in slot 0; an inlined callee pops its record and
    /// gives it to the code after the call.
    fn return_(&mut self, result: Option<ir::Value>) {
        match &self.inlined {
            None => {
                if let Some(value) = result {
                    self.builder.ins().store(trusted(), value, self.base, 0);
                }
                let ins = self.builder.ins();
                let status = ins.iconst(types::I32, i64::from(abi::STATUS_RETURNED));
                self.builder.ins().return_(&[status]);
            }
            Some(inlined) => {
                let (exit, frames, len) = (inlined.exit, inlined.frames, inlined.len());
                // A path that wrote its record pops it; one that did not
                // leaves the count as it was.
                let value = result.unwrap_or_else(|| self.get(0));
                self.builder.ins().store(trusted(), len, frames, abi::FRAMES_LEN as i32);
                self.builder.ins().jump(exit, &[value.into()]);
            }
        }
    }

    /// Global `slot`'s value, raising `Undefined variable` if it was never
    /// defined.
    fn global(&mut self, slot: u32, live: u32, next: usize) -> ir::Value {
        let globals = self.globals();
        let value = self.builder.ins().load(types::I64, trusted(), globals, (slot * 8) as i32);
        if self.input.defined_globals.get(slot as usize) == Some(&true) {
            return value;
        }
        let defined = self.builder.ins().icmp_imm_s(IntCC::NotEqual, value, abi::UNDEFINED as i64);
        let fail = self.builder.create_block();
        self.builder.set_cold_block(fail);
        let go_on = self.builder.create_block();
        self.builder.ins().brif(defined, go_on, &[], fail, &[]);
        self.builder.switch_to_block(fail);
        let slot = self.builder.ins().iconst(types::I32, i64::from(slot));
        self.call_helper(Helper::Undefined, live, next, &[slot]);
        self.builder.ins().jump(self.raised, &[]);
        self.builder.switch_to_block(go_on);
        value
    }

    /// What the closure holds for captured variable `index`: its value,
    /// if by value; else its upvalue, as an object value.
    fn captured(&mut self, index: u32) -> ir::Value {
        let upvalues = self.builder.ins().load(
            types::I64,
            trusted(),
            self.closure,
            abi::CLOSURE_UPVALUES as i32,
        );
        self.builder.ins().load(types::I64, trusted(), upvalues, (index * 8) as i32)
    }

    /// The address of the value of captured variable `index`, which the
    /// closure holds by reference.
    fn upvalue_location(&mut self, index: u32) -> ir::Value {
        let upvalue = self.upvalue(index);
        self.builder.ins().load(types::I64, trusted(), upvalue, abi::UPVALUE_LOCATION as i32)
    }

    /// The upvalue (its address) the closure holds for its captured
    /// variable `index`, one it captured by reference.
    fn upvalue(&mut self, index: u32) -> ir::Value {
        let held = self.captured(index);
        self.builder.ins().band_imm_s(held, abi::ADDRESS_MASK as i64)
    }

    /// Whether the two values on top of the stack (`depth` high) are equal,
    /// as Lox says, for the `Equal` or `NotEqual` `instruction`.
    fn equal(&mut self, instruction: &Instruction, depth: u32) -> ir::Value {
        let slots = [depth - 2, depth - 1];
        let floats = match self.plan.number_kind(instruction, &self.state, self.plan_input.numbers)
        {
            NumberKind::Numbers => slots.map(|slot| self.float(slot)).to_vec(),
            NumberKind::Guarded => {
                self.speculations.number_equalities += 1;
                self.numbers_or_deopt(
                    &slots,
                    instruction.offset,
                    abi::DeoptReason::EqualityNotNumbers,
                )
            }
            NumberKind::Generic => {
                let [a, b] = slots.map(|slot| self.get(slot));
                // A number never has the bits of nil, a boolean or an
                // object, so with one of those the bits decide.
                if slots.iter().any(|&slot| self.sources[slot as usize] == Some(Source::NotNumber))
                {
                    return self.builder.ins().icmp(IntCC::Equal, a, b);
                }
                let both = self.all_numbers(&[a, b]).expect("two values");
                let (fa, fb) = (self.as_float(a), self.as_float(b));
                let float_equal = self.builder.ins().fcmp(FloatCC::Equal, fa, fb);
                let same = self.builder.ins().icmp(IntCC::Equal, a, b);
                return self.builder.ins().select(both, float_equal, same);
            }
        };
        self.builder.ins().fcmp(FloatCC::Equal, floats[0], floats[1])
    }

    /// `Add` and `AddConstant`: on floats, when the operands are known or
    /// guarded to be numbers (`types::NumberKind`); else numbers inline and
    /// anything else through the helper (which concatenates strings or
    /// raises).
    fn add(&mut self, instruction: &Instruction, depth: u32) {
        let top = depth - 1;
        let with_constant = instruction.op == Op::AddConstant;
        let out = if with_constant { top } else { depth - 2 };
        let operands: &[u32] = if with_constant { &[top] } else { &[depth - 2, top] };
        let kind = self.plan.number_kind(instruction, &self.state, self.plan_input.numbers);
        if kind != NumberKind::Generic {
            let floats = match kind {
                NumberKind::Guarded => {
                    self.speculations.number_adds += 1;
                    self.numbers_or_deopt(
                        operands,
                        instruction.offset,
                        abi::DeoptReason::AddNotNumbers,
                    )
                }
                _ => operands.iter().map(|&slot| self.float(slot)).collect(),
            };
            let b = match with_constant {
                true => self.float_constant(instruction.operand).expect("a number (number_kind)"),
                false => floats[1],
            };
            let sum = self.builder.ins().fadd(floats[0], b);
            self.state.truncate(out + 1);
            self.assign_float(out, sum);
            return;
        }
        let a = self.get(out);
        let b = match with_constant {
            true => self.constant_value(instruction.operand),
            false => self.get(top),
        };
        let both = self.all_numbers(&[a, b]).expect("two values");
        let fast = self.builder.create_block();
        let slow = self.builder.create_block();
        self.builder.set_cold_block(slow);
        let join = self.builder.create_block();
        self.builder.ins().brif(both, fast, &[], slow, &[]);

        self.builder.switch_to_block(fast);
        let (fa, fb) = (self.as_float(a), self.as_float(b));
        let sum = self.builder.ins().fadd(fa, fb);
        let sum = self.boxed_float(sum);
        self.def_boxed(out, sum);
        self.builder.ins().jump(join, &[]);

        // Two strings are concatenated by the leaf `concat` while the heap
        // needs no collection; anything else, by the `add` helper at a
        // safepoint (which collects, or raises the type error).
        self.builder.switch_to_block(slow);
        let joined = self.call_leaf(Helper::Concat, &[a, b]);
        let concatenated = self.builder.create_block();
        let general = self.builder.create_block();
        self.builder.set_cold_block(general);
        self.builder.ins().brif(joined, concatenated, &[], general, &[]);
        self.builder.switch_to_block(concatenated);
        self.def_boxed(out, joined);
        self.builder.ins().jump(join, &[]);

        self.builder.switch_to_block(general);
        let out_address = self.slot_address(out);
        let status = self.call_helper(Helper::Add, depth, instruction.next, &[out_address, a, b]);
        self.check(status);
        self.load_slot(out);
        self.builder.ins().jump(join, &[]);

        self.builder.switch_to_block(join);
        self.state.truncate(out + 1);
        self.state.assign(out, Ty::Any);
    }
}

/// `1 / c` when it is exact: `c` is a power of two (of either sign) whose
/// reciprocal is a normal number.
fn exact_reciprocal(c: f64) -> Option<f64> {
    let bits = c.to_bits();
    let mantissa = bits & ((1 << 52) - 1);
    let exponent = ((bits >> 52) & 0x7ff) as i64 - 1023;
    (c.is_normal() && mantissa == 0 && (-1022..=1022).contains(&exponent)).then(|| 1.0 / c)
}

/// The float comparison a comparison opcode makes (for the fused
/// jump-unless forms, the comparison whose falseness jumps).
fn float_cc(op: Op) -> FloatCC {
    match op {
        Op::Greater | Op::JumpIfNotGreater => FloatCC::GreaterThan,
        Op::GreaterEqual | Op::JumpIfNotGreaterEqual => FloatCC::GreaterThanOrEqual,
        Op::Less | Op::JumpIfNotLess => FloatCC::LessThan,
        _ => FloatCC::LessThanOrEqual,
    }
}

#[cfg(test)]
mod tests {
    use super::exact_reciprocal;

    #[test]
    fn only_powers_of_two_with_normal_reciprocals_have_exact_ones() {
        assert_eq!(exact_reciprocal(2.0), Some(0.5));
        assert_eq!(exact_reciprocal(-0.25), Some(-4.0));
        assert_eq!(exact_reciprocal(1.0), Some(1.0));
        assert_eq!(exact_reciprocal(2f64.powi(1022)), Some(2f64.powi(-1022)));
        for c in [3.0, 0.1, 0.0, -0.0, f64::INFINITY, f64::NAN, 2f64.powi(1023), 2f64.powi(-1023)] {
            assert_eq!(exact_reciprocal(c), None, "{c}");
        }
        // The multiply rounds as the divide does, subnormal results too.
        for x in [1.0, 3.0, 1e-308, 5e-324, -7.5, 1e308, f64::MAX] {
            for c in [2.0, 0.5, 1024.0, 2f64.powi(-1000), 2f64.powi(1000)] {
                let r = exact_reciprocal(c).unwrap();
                assert_eq!((x / c).to_bits(), (x * r).to_bits(), "{x} / {c}");
            }
        }
    }
}
