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

use std::collections::{BTreeSet, HashMap};

use bytecode::{FunctionFacts, Instruction, Op, instructions};
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

/// What the code generator needs to know of one function.
pub struct FunctionInput<'a> {
    pub function: &'a bytecode::Function,
    pub facts: &'a FunctionFacts,
    /// The runtime value (its bits) of each constant of the function, kept
    /// alive by the engine for as long as the code exists.
    pub constants: &'a [u64],
    /// Where the code starts: `None` for the function's entry (the
    /// arguments in place); `Some(offset)` for an on-stack-replacement
    /// entry at the loop header at `offset`, entered from a frame the VM
    /// ran up to there (every slot below the verifier's depth at the
    /// header in place).
    pub entry_at: Option<usize>,
}

/// Why a function was not compiled. Never an error of the program: the
/// function stays in the interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CantCompile {
    /// Cranelift refused the function: an implementation limit.
    Cranelift(String),
    /// An on-stack-replacement entry was asked for at an offset that is
    /// not a loop header (an engine's bug).
    NotALoopHeader(usize),
}

impl std::fmt::Display for CantCompile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
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
    let builder = FunctionBuilder::new(&mut ctx.func, builder_ctx);
    let mut lower = Lower::new(builder, input, &code, helpers);
    lower.function(&code);
    lower.builder.seal_all_blocks();
    lower.builder.finalize(target);

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
    Ok(Compiled { id, code_size, ir, origins })
}

/// The state of one lowering.
struct Lower<'a, 'b> {
    builder: FunctionBuilder<'b>,
    input: &'a FunctionInput<'a>,
    helpers: HashMap<Helper, FuncRef>,
    /// One variable per stack slot of the frame.
    slots: Vec<Variable>,
    /// The block starting at each jump target.
    blocks: HashMap<usize, Block>,
    /// The block that returns `STATUS_RAISED`.
    raised: Block,
    ctx: ir::Value,
    base: ir::Value,
    closure: ir::Value,
    /// The globals array (it does not move while code runs).
    globals: ir::Value,
    /// Whether the function makes closures, which may capture its slots.
    makes_closures: bool,
    /// The function's inline caches, one per site.
    caches: ir::Value,
    /// The function's object (`ObjFunction`).
    function: ir::Value,
    /// The signature of every compiled body (`abi::CompiledEntry`).
    entry_signature: ir::Signature,
    /// The instruction being lowered.
    current: Op,
}

/// Memory the code owns outright: aligned, and never trapping.
fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

impl<'a, 'b> Lower<'a, 'b> {
    fn new(
        mut builder: FunctionBuilder<'b>,
        input: &'a FunctionInput<'a>,
        code: &[Instruction],
        helpers: HashMap<Helper, FuncRef>,
    ) -> Lower<'a, 'b> {
        let slots =
            (0..input.function.max_stack).map(|_| builder.declare_var(types::I64)).collect();
        let targets: BTreeSet<usize> = code.iter().filter_map(Instruction::jump_target).collect();
        let blocks = targets.into_iter().map(|offset| (offset, builder.create_block())).collect();
        let entry = builder.create_block();
        builder.append_block_params_for_function_params(entry);
        builder.switch_to_block(entry);
        let params = builder.block_params(entry).to_vec();
        let (ctx, base, closure, function) = (params[0], params[1], params[2], params[3]);
        let caches =
            builder.ins().load(types::I64, trusted(), function, abi::FUNCTION_CACHES as i32);
        let globals_cell =
            builder.ins().load(types::I64, trusted(), ctx, abi::CONTEXT_GLOBALS as i32);
        let globals =
            builder.ins().load(types::I64, trusted(), globals_cell, abi::GLOBALS_VALUES as i32);
        let raised = builder.create_block();
        builder.set_cold_block(raised);
        let makes_closures = code.iter().any(|instruction| instruction.op == Op::Closure);
        let entry_signature = builder.func.signature.clone();
        let mut lower = Lower {
            builder,
            input,
            helpers,
            slots,
            blocks,
            raised,
            ctx,
            base,
            closure,
            globals,
            makes_closures,
            caches,
            function,
            entry_signature,
            current: Op::Nil,
        };
        match input.entry_at {
            None => lower.reload(1 + u32::from(input.function.arity)),
            Some(header) => {
                let depth = input.facts.depth_at(header).expect("a verified offset");
                lower.reload(depth);
                let block = lower.block_at(header);
                lower.builder.ins().jump(block, &[]);
                // The code before the header is unreachable from this
                // entry: it goes into a block of its own, which Cranelift
                // drops.
                let unreachable = lower.builder.create_block();
                lower.builder.switch_to_block(unreachable);
            }
        }
        lower
    }

    fn function(&mut self, code: &[Instruction]) {
        let mut open = true;
        for instruction in code {
            if let Some(&block) = self.blocks.get(&instruction.offset) {
                if open {
                    self.builder.ins().jump(block, &[]);
                }
                self.builder.switch_to_block(block);
                open = true;
            }
            debug_assert!(open, "code after a jump or return is a jump target");
            // The IR and machine code of each instruction carry its
            // bytecode offset (`disasm --jit` shows them side by side).
            self.builder.set_srcloc(ir::SourceLoc::new(instruction.offset as u32));
            let depth = self.input.facts.depth_at(instruction.offset).expect("verified code");
            open = self.instruction(instruction, depth);
        }
        self.builder.switch_to_block(self.raised);
        let status = self.builder.ins().iconst(types::I32, i64::from(abi::STATUS_RAISED));
        self.builder.ins().return_(&[status]);
    }

    // ------------------------------------------------------------ slots

    fn get(&mut self, slot: u32) -> ir::Value {
        self.builder.use_var(self.slots[slot as usize])
    }

    fn set(&mut self, slot: u32, value: ir::Value) {
        self.builder.def_var(self.slots[slot as usize], value);
    }

    /// Read slots `0..depth` from the VM stack.
    fn reload(&mut self, depth: u32) {
        for slot in 0..depth {
            let value =
                self.builder.ins().load(types::I64, trusted(), self.base, (slot * 8) as i32);
            self.set(slot, value);
        }
    }

    /// Write slots `0..depth` back to the VM stack.
    fn write_back(&mut self, depth: u32) {
        for slot in 0..depth {
            let value = self.get(slot);
            self.builder.ins().store(trusted(), value, self.base, (slot * 8) as i32);
        }
    }

    /// Before returning: if this function makes closures, close every
    /// upvalue still open on its frame (which has `live` values) from the
    /// written-back slots, before the result overwrites slot 0, as the VM
    /// does. `at` is the returning instruction.
    fn close_frame(&mut self, live: u32, at: usize) {
        if self.makes_closures {
            self.call_helper(Helper::CloseFrame, live, at, &[]);
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
        self.write_back(live);
        let top = self.slot_address(live);
        let offset = self.builder.ins().iconst(types::I32, next as i64);
        let mut args = vec![self.ctx, top, offset];
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
        self.builder.switch_to_block(fail);
        let code = self.builder.ins().iconst(types::I32, error as i64);
        self.call_helper(Helper::Raise, live, next, &[code]);
        self.builder.ins().jump(self.raised, &[]);
        self.builder.switch_to_block(go_on);
    }

    // ----------------------------------------------------------- values

    fn is_number(&mut self, value: ir::Value) -> ir::Value {
        let tagged = self.builder.ins().band_imm_s(value, abi::QNAN as i64);
        self.builder.ins().icmp_imm_s(IntCC::NotEqual, tagged, abi::QNAN as i64)
    }

    fn both_numbers(&mut self, a: ir::Value, b: ir::Value) -> ir::Value {
        let a = self.is_number(a);
        let b = self.is_number(b);
        self.builder.ins().band(a, b)
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

    /// The two numbers `a` and `b` as floats, raising `Operands must be
    /// numbers.` unless both are.
    fn float_operands(
        &mut self,
        a: ir::Value,
        b: ir::Value,
        live: u32,
        next: usize,
    ) -> (ir::Value, ir::Value) {
        let both = self.both_numbers(a, b);
        self.raise_unless(both, ErrorCode::OperandsNumbers, live, next);
        (self.as_float(a), self.as_float(b))
    }

    fn arithmetic(&mut self, op: Op, a: ir::Value, b: ir::Value) -> ir::Value {
        let result = match op {
            Op::Subtract | Op::SubtractConstant => self.builder.ins().fsub(a, b),
            Op::Multiply | Op::MultiplyConstant => self.builder.ins().fmul(a, b),
            Op::Divide | Op::DivideConstant => self.builder.ins().fdiv(a, b),
            _ => self.builder.ins().fadd(a, b),
        };
        self.boxed_float(result)
    }

    fn block_at(&self, offset: usize) -> Block {
        self.blocks[&offset]
    }

    // ----------------------------------------------------- instructions

    /// Lower one instruction run with `depth` values on the stack; returns
    /// whether control falls through to the next one.
    fn instruction(&mut self, instruction: &Instruction, depth: u32) -> bool {
        self.current = instruction.op;
        let operand = instruction.operand;
        let next = instruction.next;
        let top = depth - 1;
        match instruction.op {
            Op::GetProperty | Op::SetProperty | Op::StoreProperty | Op::Method => {
                self.property(instruction, depth);
                return true;
            }
            Op::SuperMethod => {
                self.super_method(instruction, depth);
                return true;
            }
            op if matches!(lowering(op), Lowering::Stepped(_)) => {
                self.step(instruction, depth);
                return true;
            }
            _ => {}
        }
        match instruction.op {
            Op::Constant => {
                let bits = self.input.constants[operand as usize];
                let value = self.constant(bits);
                self.set(depth, value);
            }
            Op::Nil => {
                let value = self.constant(abi::NIL);
                self.set(depth, value);
            }
            Op::True => {
                let value = self.constant(abi::TRUE);
                self.set(depth, value);
            }
            Op::False => {
                let value = self.constant(abi::FALSE);
                self.set(depth, value);
            }
            Op::Pop => {}
            Op::GetLocal => {
                let value = self.get(operand);
                self.set(depth, value);
            }
            Op::SetLocal => {
                let value = self.get(top);
                self.set(operand, value);
            }
            Op::StoreLocal => {
                let value = self.get(top);
                self.set(operand, value);
            }
            Op::GetGlobal => {
                let value = self.global(operand, depth, next);
                self.set(depth, value);
            }
            Op::DefineGlobal => {
                let value = self.get(top);
                self.builder.ins().store(trusted(), value, self.globals, (operand * 8) as i32);
            }
            Op::SetGlobal | Op::StoreGlobal => {
                self.global(operand, depth, next);
                let value = self.get(top);
                self.builder.ins().store(trusted(), value, self.globals, (operand * 8) as i32);
            }
            Op::GetUpvalue => {
                let location = self.upvalue_location(operand);
                let value = self.builder.ins().load(types::I64, trusted(), location, 0);
                self.set(depth, value);
            }
            Op::SetUpvalue | Op::StoreUpvalue => {
                let location = self.upvalue_location(operand);
                let value = self.get(top);
                self.builder.ins().store(trusted(), value, location, 0);
            }
            Op::Equal | Op::NotEqual => {
                let (a, b) = (self.get(depth - 2), self.get(top));
                let both = self.both_numbers(a, b);
                let (fa, fb) = (self.as_float(a), self.as_float(b));
                let float_equal = self.builder.ins().fcmp(FloatCC::Equal, fa, fb);
                let same = self.builder.ins().icmp(IntCC::Equal, a, b);
                let mut equal = self.builder.ins().select(both, float_equal, same);
                if instruction.op == Op::NotEqual {
                    equal = self.builder.ins().bxor_imm_s(equal, 1);
                }
                let value = self.boolean(equal);
                self.set(depth - 2, value);
            }
            Op::Greater | Op::GreaterEqual | Op::Less | Op::LessEqual => {
                let (a, b) = (self.get(depth - 2), self.get(top));
                let (fa, fb) = self.float_operands(a, b, depth, next);
                let condition = self.builder.ins().fcmp(float_cc(instruction.op), fa, fb);
                let value = self.boolean(condition);
                self.set(depth - 2, value);
            }
            Op::Add => {
                let (a, b) = (self.get(depth - 2), self.get(top));
                self.add(a, b, depth - 2, depth, next);
            }
            Op::AddConstant => {
                let a = self.get(top);
                let b = self.constant(self.input.constants[operand as usize]);
                self.add(a, b, top, depth, next);
            }
            Op::Subtract | Op::Multiply | Op::Divide => {
                let (a, b) = (self.get(depth - 2), self.get(top));
                let (fa, fb) = self.float_operands(a, b, depth, next);
                let value = self.arithmetic(instruction.op, fa, fb);
                self.set(depth - 2, value);
            }
            Op::SubtractConstant | Op::MultiplyConstant | Op::DivideConstant => {
                let a = self.get(top);
                let b = self.constant(self.input.constants[operand as usize]);
                let (fa, fb) = self.float_operands(a, b, depth, next);
                let value = self.arithmetic(instruction.op, fa, fb);
                self.set(top, value);
            }
            Op::Not => {
                let value = self.get(top);
                let falsey = self.falsey(value);
                let value = self.boolean(falsey);
                self.set(top, value);
            }
            Op::Negate => {
                let value = self.get(top);
                let number = self.is_number(value);
                self.raise_unless(number, ErrorCode::OperandNumber, depth, next);
                let float = self.as_float(value);
                let negated = self.builder.ins().fneg(float);
                let value = self.boxed_float(negated);
                self.set(top, value);
            }
            Op::Print => {
                let value = self.get(top);
                let status = self.call_helper(Helper::Print, depth, next, &[value]);
                self.check(status);
            }
            Op::Jump => {
                let target = self.block_at(instruction.jump_target().expect("a jump"));
                self.builder.ins().jump(target, &[]);
                return false;
            }
            Op::JumpIfFalse | Op::PopJumpIfFalse => {
                let value = self.get(top);
                let falsey = self.falsey(value);
                let target = self.block_at(instruction.jump_target().expect("a jump"));
                let fall = self.builder.create_block();
                self.builder.ins().brif(falsey, target, &[], fall, &[]);
                self.builder.switch_to_block(fall);
            }
            Op::JumpIfNotLess
            | Op::JumpIfNotLessEqual
            | Op::JumpIfNotGreater
            | Op::JumpIfNotGreaterEqual => {
                let (a, b) = (self.get(depth - 2), self.get(top));
                let (fa, fb) = self.float_operands(a, b, depth, next);
                let condition = self.builder.ins().fcmp(float_cc(instruction.op), fa, fb);
                let target = self.block_at(instruction.jump_target().expect("a jump"));
                let fall = self.builder.create_block();
                self.builder.ins().brif(condition, fall, &[], target, &[]);
                self.builder.switch_to_block(fall);
            }
            Op::Loop => {
                let flag = self.builder.ins().load(
                    types::I64,
                    trusted(),
                    self.ctx,
                    abi::CONTEXT_INTERRUPT as i32,
                );
                // Another thread may set the flag: a plain load each time
                // (relaxed, as the VM reads it).
                let requested = self.builder.ins().load(types::I8, MemFlagsData::new(), flag, 0);
                let stop = self.builder.create_block();
                self.builder.set_cold_block(stop);
                let target = self.block_at(instruction.jump_target().expect("a jump"));
                self.builder.ins().brif(requested, stop, &[], target, &[]);
                self.builder.switch_to_block(stop);
                self.call_helper(Helper::Interrupted, depth, next, &[]);
                self.builder.ins().jump(self.raised, &[]);
                return false;
            }
            Op::Call | Op::CallMethod => self.call(instruction, depth),
            Op::Return => {
                self.close_frame(depth, instruction.offset);
                let value = self.get(top);
                self.builder.ins().store(trusted(), value, self.base, 0);
                self.return_();
                return false;
            }
            Op::ReturnThis => {
                self.close_frame(depth, instruction.offset);
                // Slot 0 holds `this` in memory: nothing assigns it.
                self.return_();
                return false;
            }
            op => unreachable!("{} is stepped (above)", op.name()),
        }
        true
    }

    /// Run `instruction` with the VM's code (the `step` helper), then read
    /// the slots back.
    fn step(&mut self, instruction: &Instruction, depth: u32) {
        let status = self.call_helper(Helper::Step, depth, instruction.offset, &[]);
        self.check(status);
        let after = self.input.facts.depth_at(instruction.next).expect("verified code");
        self.reload(after);
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
        let slow = self.builder.create_block();
        self.builder.set_cold_block(slow);
        let join = self.builder.create_block();

        let object = self.object_of_kind(receiver, abi::KIND_INSTANCE, slow);
        let shape =
            self.builder.ins().load(types::I64, trusted(), object, abi::INSTANCE_SHAPE as i32);
        let (entry, kind) = self.find_way(instruction.operand, shape, slow);

        let is_field = self.builder.ins().icmp_imm_s(IntCC::Equal, kind, i64::from(abi::HIT_FIELD));
        let field_block = self.builder.create_block();
        let other_block = if op == Op::GetProperty { slow } else { self.builder.create_block() };
        self.builder.ins().brif(is_field, field_block, &[], other_block, &[]);

        // A field: read or write it in place.
        self.builder.switch_to_block(field_block);
        let index = self.builder.ins().load(types::I32, trusted(), entry, abi::ENTRY_INDEX as i32);
        let index = self.builder.ins().uextend(types::I64, index);
        let offset = self.builder.ins().ishl_imm_u(index, 3);
        let fields =
            self.builder.ins().load(types::I64, trusted(), object, abi::INSTANCE_FIELDS as i32);
        let address = self.builder.ins().iadd(fields, offset);
        match op {
            Op::GetProperty => {
                let value = self.builder.ins().load(types::I64, trusted(), address, 0);
                self.set(depth - 1, value);
            }
            Op::Method => {
                // [callee, slot 0]: a field is called like any value.
                let value = self.builder.ins().load(types::I64, trusted(), address, 0);
                self.set(depth - 1, value);
                self.set(depth, value);
            }
            _ => {
                let value = self.get(depth - 1);
                self.builder.ins().store(trusted(), value, address, 0);
                if op == Op::SetProperty {
                    self.set(depth - 2, value);
                }
            }
        }
        self.builder.ins().jump(join, &[]);

        if op == Op::Method {
            // A method: [method, receiver].
            self.builder.switch_to_block(other_block);
            let method = self.method_hit(entry, kind, slow);
            self.set(depth - 1, method);
            self.set(depth, receiver);
            self.builder.ins().jump(join, &[]);
        } else if op != Op::GetProperty {
            self.builder.switch_to_block(other_block);
            let value = self.get(depth - 1);
            self.add_field_hit(object, entry, kind, value, slow);
            if op == Op::SetProperty {
                self.set(depth - 2, value);
            }
            self.builder.ins().jump(join, &[]);
        }

        self.builder.switch_to_block(slow);
        self.step(instruction, depth);
        self.builder.ins().jump(join, &[]);
        self.builder.switch_to_block(join);
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
        let count = ins.load(types::I32, trusted(), object, abi::INSTANCE_FIELD_COUNT as i32);
        let ins = self.builder.ins();
        let capacity = ins.load(types::I32, trusted(), object, abi::INSTANCE_FIELD_CAPACITY as i32);
        let fits = self.builder.ins().icmp(IntCC::UnsignedLessThan, count, capacity);
        let store_block = self.builder.create_block();
        self.builder.ins().brif(fits, store_block, &[], slow, &[]);
        self.builder.switch_to_block(store_block);
        let fields =
            self.builder.ins().load(types::I64, trusted(), object, abi::INSTANCE_FIELDS as i32);
        let index = self.builder.ins().uextend(types::I64, count);
        let offset = self.builder.ins().ishl_imm_u(index, 3);
        let address = self.builder.ins().iadd(fields, offset);
        self.builder.ins().store(trusted(), value, address, 0);
        let count = self.builder.ins().iadd_imm_s(count, 1);
        self.builder.ins().store(trusted(), count, object, abi::INSTANCE_FIELD_COUNT as i32);
        let shape = self.builder.ins().load(types::I64, trusted(), entry, abi::ENTRY_TARGET as i32);
        self.builder.ins().store(trusted(), shape, object, abi::INSTANCE_SHAPE as i32);
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
        let found =
            self.builder.ins().uload8(types::I32, trusted(), object, abi::HEADER_KIND as i32);
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
    /// and every error).
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
        // Where a closure is entered: its closure, function and entry.
        let enter = self.builder.create_block();
        for _ in 0..3 {
            self.builder.append_block_param(enter, types::I64);
        }

        // Written back once for every path: the callee reads its arguments
        // from memory, and the collector may run inside it.
        self.write_back(depth);
        let ins = self.builder.ins();
        let frames = ins.load(types::I64, trusted(), self.ctx, abi::CONTEXT_FRAMES as i32);
        let len = self.builder.ins().load(types::I64, trusted(), frames, abi::FRAMES_LEN as i32);

        // A closure.
        let not_closure = self.builder.create_block();
        let closure = self.object_of_kind(callee, abi::KIND_CLOSURE, not_closure);
        let (function, entry, ok) = self.can_enter(closure, n_args, len);
        self.builder.ins().brif(
            ok,
            enter,
            &[closure.into(), function.into(), entry.into()],
            slow,
            &[],
        );

        // A class whose initializer can be entered: make the instance.
        self.builder.switch_to_block(not_closure);
        let class = self.object_of_kind(callee, abi::KIND_CLASS, slow);
        let ins = self.builder.ins();
        let init = ins.load(types::I64, trusted(), class, abi::CLASS_INITIALIZER as i32);
        let has_init = self.builder.ins().icmp_imm_s(IntCC::NotEqual, init, 0);
        let init_block = self.builder.create_block();
        self.builder.ins().brif(has_init, init_block, &[], slow, &[]);
        self.builder.switch_to_block(init_block);
        let (init_function, init_entry, ok) = self.can_enter(init, n_args, len);
        let instantiate = self.builder.create_block();
        self.builder.ins().brif(ok, instantiate, &[], slow, &[]);
        self.builder.switch_to_block(instantiate);
        let status = self.call_helper(
            Helper::Instantiate,
            depth,
            instruction.next,
            &[callee, slot_zero_address],
        );
        self.check(status);
        let arguments = [init.into(), init_function.into(), init_entry.into()];
        self.builder.ins().jump(enter, &arguments);

        // Enter: this frame resumes after the call (its record is the last
        // one pushed); push the callee's record, run it, pop it.
        self.builder.switch_to_block(enter);
        let params = self.builder.block_params(enter).to_vec();
        let (closure, function, entry) = (params[0], params[1], params[2]);
        let ins = self.builder.ins();
        let records = ins.load(types::I64, trusted(), frames, abi::FRAMES_RECORDS as i32);
        let at = self.builder.ins().imul_imm_s(len, abi::FRAME_RECORD_SIZE as i64);
        let record = self.builder.ins().iadd(records, at);
        let ins = self.builder.ins();
        let code = ins.load(types::I64, trusted(), self.function, abi::FUNCTION_CODE as i32);
        let resume = self.builder.ins().iadd_imm_s(code, instruction.next as i64);
        let own_ip = abi::FRAME_IP as i32 - abi::FRAME_RECORD_SIZE as i32;
        self.builder.ins().store(trusted(), resume, record, own_ip);
        let ins = self.builder.ins();
        let callee_code = ins.load(types::I64, trusted(), function, abi::FUNCTION_CODE as i32);
        let ins = self.builder.ins();
        let proto = ins.load(types::I32, trusted(), function, abi::FUNCTION_PROTO as i32);
        let fields = [
            (closure, abi::FRAME_CLOSURE),
            (callee_code, abi::FRAME_IP),
            (slot_zero_address, abi::FRAME_BASE),
            (return_to_address, abi::FRAME_RETURN_TO),
            (proto, abi::FRAME_FUNCTION),
        ];
        for (value, offset) in fields {
            self.builder.ins().store(trusted(), value, record, offset as i32);
        }
        let pushed = self.builder.ins().iadd_imm_s(len, 1);
        self.builder.ins().store(trusted(), pushed, frames, abi::FRAMES_LEN as i32);
        let signature = self.builder.import_signature(self.entry_signature.clone());
        let arguments = [self.ctx, slot_zero_address, closure, function];
        let call = self.builder.ins().call_indirect(signature, entry, &arguments);
        let status = self.builder.inst_results(call)[0];
        // Raised: the callee's records stay pushed, for the trace.
        self.check(status);
        self.builder.ins().store(trusted(), len, frames, abi::FRAMES_LEN as i32);
        let result = self.builder.ins().load(types::I64, trusted(), slot_zero_address, 0);
        self.builder.ins().store(trusted(), result, return_to_address, 0);
        self.builder.ins().jump(join, &[]);

        self.builder.switch_to_block(slow);
        let n_args = self.builder.ins().iconst(types::I32, i64::from(n_args));
        let status = self.call_helper(
            Helper::Call,
            depth,
            instruction.next,
            &[slot_zero_address, n_args, return_to_address],
        );
        self.check(status);
        self.builder.ins().jump(join, &[]);

        // The result is in its slot, and the callee may have assigned
        // captured slots of this frame.
        self.builder.switch_to_block(join);
        self.reload(return_to + 1);
    }

    /// Whether `closure` (an `ObjClosure`) can be entered directly with
    /// `n_args` arguments when `len` frames are pushed: it has machine
    /// code, takes `n_args`, a frame record fits, no interrupt is pending
    /// and the native stack has room. Returns its function, its entry and
    /// that condition.
    fn can_enter(
        &mut self,
        closure: ir::Value,
        n_args: u32,
        len: ir::Value,
    ) -> (ir::Value, ir::Value, ir::Value) {
        let ins = self.builder.ins();
        let function = ins.load(types::I64, trusted(), closure, abi::CLOSURE_FUNCTION as i32);
        let ins = self.builder.ins();
        let entry = ins.load(types::I64, trusted(), function, abi::FUNCTION_ENTRY as i32);
        let ins = self.builder.ins();
        let arity = ins.uload8(types::I32, trusted(), function, abi::FUNCTION_ARITY as i32);
        let ins = self.builder.ins();
        let flag = ins.load(types::I64, trusted(), self.ctx, abi::CONTEXT_INTERRUPT as i32);
        let requested = self.builder.ins().load(types::I8, MemFlagsData::new(), flag, 0);
        let ins = self.builder.ins();
        let floor = ins.load(types::I64, trusted(), self.ctx, abi::CONTEXT_NATIVE_FLOOR as i32);
        let sp = self.builder.ins().get_stack_pointer(types::I64);

        let ins = self.builder.ins();
        let compiled = ins.icmp_imm_s(IntCC::NotEqual, entry, 0);
        let arity_ok = self.builder.ins().icmp_imm_s(IntCC::Equal, arity, i64::from(n_args));
        let max_frames = abi::MAX_FRAMES as i64;
        let room = self.builder.ins().icmp_imm_u(IntCC::UnsignedLessThan, len, max_frames);
        let quiet = self.builder.ins().icmp_imm_s(IntCC::Equal, requested, 0);
        let stack_ok = self.builder.ins().icmp(IntCC::UnsignedGreaterThan, sp, floor);
        let ok = self.builder.ins().band(compiled, arity_ok);
        let ok = self.builder.ins().band(ok, room);
        let ok = self.builder.ins().band(ok, quiet);
        let ok = self.builder.ins().band(ok, stack_ok);
        (function, entry, ok)
    }

    /// The way of inline cache `site` whose key is `key`, and its hit
    /// kind; else jump to `otherwise`. Every way is compared, in order,
    /// up to the first empty one (ways fill in order).
    fn find_way(&mut self, site: u32, key: ir::Value, otherwise: Block) -> (ir::Value, ir::Value) {
        let found = self.builder.create_block();
        self.builder.append_block_param(found, types::I64);
        let first = (site as usize * abi::CACHE_SIZE + abi::CACHE_WAYS_OFFSET) as i64;
        for way in 0..abi::CACHE_WAYS {
            let offset = first + (way * abi::CACHE_ENTRY_SIZE) as i64;
            let entry = self.builder.ins().iadd_imm_s(self.caches, offset);
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
                self.builder.ins().brif(empty, otherwise, &[], next, &[]);
                next
            } else {
                self.builder.ins().brif(hit, found, &[entry.into()], otherwise, &[]);
                break;
            };
            self.builder.switch_to_block(next);
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
        let class = self.object_of_kind(superclass, abi::KIND_CLASS, slow);
        let (entry, kind) = self.find_way(instruction.operand, class, slow);
        let method = self.method_hit(entry, kind, slow);
        let this = self.get(depth - 2);
        self.set(depth - 2, method);
        self.set(depth - 1, this);
        self.builder.ins().jump(join, &[]);

        self.builder.switch_to_block(slow);
        self.step(instruction, depth);
        self.builder.ins().jump(join, &[]);
        self.builder.switch_to_block(join);
    }

    fn return_(&mut self) {
        let status = self.builder.ins().iconst(types::I32, i64::from(abi::STATUS_RETURNED));
        self.builder.ins().return_(&[status]);
    }

    /// Global `slot`'s value, raising `Undefined variable` if it was never
    /// defined.
    fn global(&mut self, slot: u32, live: u32, next: usize) -> ir::Value {
        let value = self.builder.ins().load(types::I64, trusted(), self.globals, (slot * 8) as i32);
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

    /// The address of the value of captured variable `index`.
    fn upvalue_location(&mut self, index: u32) -> ir::Value {
        let upvalues = self.builder.ins().load(
            types::I64,
            trusted(),
            self.closure,
            abi::CLOSURE_UPVALUES as i32,
        );
        let upvalue = self.builder.ins().load(types::I64, trusted(), upvalues, (index * 8) as i32);
        self.builder.ins().load(types::I64, trusted(), upvalue, abi::UPVALUE_LOCATION as i32)
    }

    /// `a + b` into slot `out`: numbers inline, anything else through the
    /// helper (which concatenates strings or raises).
    fn add(&mut self, a: ir::Value, b: ir::Value, out: u32, live: u32, next: usize) {
        let both = self.both_numbers(a, b);
        let fast = self.builder.create_block();
        let slow = self.builder.create_block();
        self.builder.set_cold_block(slow);
        let join = self.builder.create_block();
        self.builder.ins().brif(both, fast, &[], slow, &[]);

        self.builder.switch_to_block(fast);
        let (fa, fb) = (self.as_float(a), self.as_float(b));
        let sum = self.arithmetic(Op::Add, fa, fb);
        self.set(out, sum);
        self.builder.ins().jump(join, &[]);

        self.builder.switch_to_block(slow);
        let out_address = self.slot_address(out);
        let status = self.call_helper(Helper::Add, live, next, &[out_address, a, b]);
        self.check(status);
        self.reload(out + 1);
        self.builder.ins().jump(join, &[]);

        self.builder.switch_to_block(join);
    }
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
