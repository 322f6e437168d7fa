//! The dispatch loop.
//!
//! The loop keeps the instruction pointer, the top of the stack and the
//! frame's slot 0 in locals (registers, in practice) as raw pointers, as
//! clox does. The runtime's [`Stack`] is the truth at every safepoint
//! (DESIGN.md invariant 6): before anything that can allocate, collect,
//! call out, raise or read the stack, the loop publishes the stack height
//! (`sync!`), and after a call it reloads what the callee changed.
//!
//! Why the raw accesses are sound:
//! - the verifier accepted every function (see `decode.rs`): opcodes are
//!   valid, operands are in range, each frame's depth stays within
//!   `max_stack` and never goes below its slots;
//! - a frame is entered only if `max_stack` slots fit below the stack's
//!   capacity, which never changes, so no push writes past it;
//! - slot addresses are stable (the stack is reserved once and never moves).

use std::io::Write;

use bytecode::Op;
use runtime::{
    CacheHit, ErrorKind, FrameRecord, Frames, Gc, Heap, INTERRUPTED, InlineCache, OUT_OF_MEMORY,
    ObjBoundMethod, ObjClass, ObjClosure, ObjFunction, ObjInstance, ObjString, OutOfMemory,
    Printed, RuntimeError, Stack, TooManyFrames, TraceLine, Value,
};

use runtime::abi::{self, CompiledEntry, DeoptReason, ErrorCode};
use runtime::messages;

use crate::{Deopt, Loaded, Tier};

/// The running frame, as the loop keeps it in locals: its record in the
/// heap's frame area (`runtime::FrameRecord`) holds the same, with indices
/// for pointers, and is written back at every call and error.
#[derive(Clone, Copy)]
pub(crate) struct Frame<'a> {
    pub(crate) loaded: &'a Loaded,
    /// `None` for the script.
    pub(crate) closure: Option<Gc<ObjClosure>>,
    /// The next instruction.
    pub(crate) ip: *const u8,
    /// The frame's slot 0.
    pub(crate) base: *mut Value,
}

/// One execution of a script.
pub(crate) struct Run<'a> {
    pub(crate) heap: &'a Heap,
    pub(crate) stack: &'a Stack,
    /// Slot 0 of the stack.
    pub(crate) bottom: *mut Value,
    pub(crate) functions: &'a [Loaded],
    pub(crate) global_names: &'a [String],
    pub(crate) out: &'a mut dyn Write,
    pub(crate) frames: &'a Frames,
    /// The compiler hot functions go to, if any (the JIT).
    tier: Option<&'a mut (dyn Tier + 'static)>,
    /// Calls after which a function goes to the tier (`u32::MAX`: never).
    threshold: u32,
    /// Back-edges after which a loop goes to the tier (`u32::MAX`: never).
    loop_threshold: u32,
    /// An error a helper raised while compiled code ran, on its way out.
    pub(crate) pending: Option<Raise>,
    /// Calls from compiled code below this native stack address move to a
    /// new stack segment (`runtime::native_stack`).
    pub(crate) native_floor: usize,
    /// Counts on-stack-replacement entries, if anything does.
    osr_entries: Option<&'a std::cell::Cell<u64>>,
}

/// A runtime error, raised from inside the loop: a Lox error's message, or
/// an output failure.
pub(crate) struct Raise {
    pub(crate) kind: ErrorKind,
    pub(crate) message: String,
}

impl Raise {
    pub(crate) fn lox(message: String) -> Raise {
        Raise { kind: ErrorKind::Lox, message }
    }
}

impl From<OutOfMemory> for Raise {
    #[cold]
    fn from(_: OutOfMemory) -> Raise {
        error(OUT_OF_MEMORY)
    }
}

pub(crate) type Res<T> = Result<T, Raise>;

impl<'a> Run<'a> {
    pub(crate) fn new(
        heap: &'a Heap,
        functions: &'a [Loaded],
        global_names: &'a [String],
        out: &'a mut dyn Write,
        tier: Option<&'a mut (dyn Tier + 'static)>,
    ) -> Run<'a> {
        let stack = heap.stack();
        let threshold = tier.as_ref().map_or(u32::MAX, |tier| tier.threshold().max(1));
        let loop_threshold = tier.as_ref().map_or(u32::MAX, |tier| tier.loop_threshold().max(1));
        Run {
            heap,
            stack,
            bottom: stack.base_ptr(),
            functions,
            global_names,
            out,
            frames: heap.frames(),
            tier,
            threshold,
            loop_threshold,
            pending: None,
            native_floor: runtime::native_stack::floor(),
            osr_entries: None,
        }
    }

    /// Count on-stack-replacement entries in `counter`.
    pub(crate) fn counting_osr_in(self, counter: &'a std::cell::Cell<u64>) -> Run<'a> {
        Run { osr_entries: Some(counter), ..self }
    }

    /// Run the script `script` to completion.
    pub(crate) fn execute(mut self, script: usize) -> Result<(), RuntimeError> {
        let loaded = &self.functions[script];
        let start = self.stack.len();
        let floor = self.frames.len();
        if start + loaded.function.max_stack as usize > self.stack.capacity() {
            return Err(RuntimeError::stack_overflow());
        }
        // SAFETY: `start` is below the capacity (checked above); slot 0 is
        // written before the height is published.
        unsafe {
            self.bottom.add(start).write(Value::NIL);
            self.stack.set_len(start + 1);
        }
        // SAFETY: below the capacity (checked above).
        let base = unsafe { self.bottom.add(start) };
        let ip = loaded.function.chunk.code.as_ptr();
        let record =
            FrameRecord { closure: None, ip, base, return_to: base, function: script as u32 };
        // A script with machine code (made ahead of time: a tier compiles
        // only what is called or loops) runs it.
        let entry = loaded.object.entry.get();
        let outcome = match self.frames.push(record) {
            Ok(()) => match entry {
                Some(entry) => self.run_compiled(entry),
                None => self.dispatch(floor),
            }
            .map_err(|raise| self.trace(raise)),
            Err(TooManyFrames) => Err(RuntimeError::stack_overflow()),
        };
        // Leave the stack and the frames as they were (an error leaves its
        // frames for the trace), closing what the script captured so later
        // REPL entries see the values.
        self.frames.truncate(floor);
        self.heap.close_upvalues(start as u32);
        self.stack.truncate(start);
        outcome
    }

    /// The error with one trace line per active frame, innermost first.
    fn trace(&self, raise: Raise) -> RuntimeError {
        let mut error = RuntimeError::new(raise.message);
        error.kind = raise.kind;
        for record in self.frames.iter().rev() {
            let function = &self.functions[record.function as usize].function;
            // The record's `ip` is where the frame resumes: the instruction
            // running ends just before it.
            let offset = (record.ip as usize).saturating_sub(function.chunk.code.as_ptr() as usize);
            let line = function.chunk.line_at(offset.saturating_sub(1));
            error.trace.push(TraceLine { line, function: function.name.clone() });
        }
        error
    }

    /// The running view of the frame `record` describes.
    #[inline(always)]
    pub(crate) fn frame_of(&self, record: FrameRecord) -> Frame<'a> {
        debug_assert!((record.function as usize) < self.functions.len());
        // SAFETY: records name loaded functions: the script's index, or a
        // closure's `proto`, which the load set to its function's index.
        let loaded = unsafe { self.functions.get_unchecked(record.function as usize) };
        Frame { loaded, closure: record.closure, ip: record.ip, base: record.base }
    }

    /// The stack slot index of `slot`.
    #[inline(always)]
    pub(crate) fn index_of(&self, slot: *const Value) -> usize {
        // SAFETY: every slot pointer the VM makes points into the stack.
        unsafe { slot.offset_from(self.bottom) as usize }
    }

    /// Enter `closure` with slot 0 at `base` and `n_args` arguments above
    /// it: checks the arity and that the frame fits, then pushes it. The
    /// caller has saved its own frame's `ip`.
    #[inline(always)]
    pub(crate) fn push_frame(
        &mut self,
        closure: Gc<ObjClosure>,
        base: *mut Value,
        n_args: usize,
        return_to: *mut Value,
    ) -> Res<Frame<'a>> {
        let function = closure.function;
        runtime::check_arity(&function, n_args).map_err(Raise::lox)?;
        let loaded = &self.functions[function.proto as usize];
        let calls = function.calls.get().saturating_add(1);
        function.calls.set(calls);
        if calls == self.threshold {
            self.offer(loaded);
        }
        let room = self.stack.capacity() - self.index_of(base);
        if room < loaded.function.max_stack as usize {
            return Err(error(ErrorCode::StackOverflow.message()));
        }
        if self.heap.interrupt().is_requested() {
            return Err(interrupted(self.heap));
        }
        let ip = loaded.function.chunk.code.as_ptr();
        let closure = Some(closure);
        let record = FrameRecord { closure, ip, base, return_to, function: function.proto };
        self.frames
            .push(record)
            .map_err(|TooManyFrames| error(ErrorCode::StackOverflow.message()))?;
        Ok(Frame { loaded, closure, ip, base })
    }

    /// Offer a hot function to the tier; install its machine code, if any.
    #[cold]
    #[inline(never)]
    fn offer(&mut self, loaded: &Loaded) {
        if let Some(entry) = self.compile(loaded, None) {
            loaded.object.entry.set(Some(entry));
        }
    }

    /// The on-stack-replacement entry of `loaded` at the loop header `ip`,
    /// asking the tier for it the first time.
    #[cold]
    #[inline(never)]
    fn osr_entry(&mut self, loaded: &Loaded, ip: *const u8) -> Option<CompiledEntry> {
        let header = self.index_in_code(loaded, ip);
        let known =
            loaded.osr.borrow().iter().find(|(at, _)| *at == header).map(|&(_, entry)| entry);
        if let Some(entry) = known {
            return entry;
        }
        let entry = self.compile(loaded, Some(header as usize));
        loaded.osr.borrow_mut().push((header, entry));
        entry
    }

    fn index_in_code(&self, loaded: &Loaded, ip: *const u8) -> u32 {
        // SAFETY: `ip` points into the function's code.
        unsafe { ip.offset_from(loaded.function.chunk.code.as_ptr()) as u32 }
    }

    /// Tell the tier that optimized code of `loaded` (or inlined from it
    /// into `host`'s) deoptimized before the instruction at `offset`
    /// (`dropped`: and code was dropped).
    pub(crate) fn deoptimized(
        &mut self,
        loaded: &Loaded,
        offset: usize,
        reason: DeoptReason,
        dropped: bool,
        host: Option<&Loaded>,
    ) {
        if let Some(tier) = self.tier.as_deref_mut() {
            let line = loaded.function.chunk.line_at(offset);
            let code = loaded.code(None, self.heap, self.functions);
            let host = host.map(|host| host.code(None, self.heap, self.functions));
            let deopt = Deopt { offset, line, reason, dropped, host: host.as_ref() };
            tier.deoptimized(&code, &deopt);
        }
    }

    fn compile(&mut self, loaded: &Loaded, entry_at: Option<usize>) -> Option<CompiledEntry> {
        let tier = self.tier.as_deref_mut()?;
        tier.compile(&loaded.code(entry_at, self.heap, self.functions))
    }

    /// Run until the frame count drops back to `floor`: the innermost
    /// frame, and whatever it calls, returns (its result is then in its
    /// return slot, the stack's top).
    pub(crate) fn dispatch(&mut self, floor: usize) -> Res<()> {
        self.run_loop::<false>(floor)
    }

    /// Run the one instruction the innermost frame's record points at,
    /// with the stack at its published height, and leave the record at the
    /// next instruction: how compiled code runs an instruction it does not
    /// lower (`codegen::Helper::Step`), with the VM's own code for it. The
    /// instruction must not call or return (the lowering never steps one
    /// that does).
    pub(crate) fn step(&mut self) -> Res<()> {
        self.run_loop::<true>(self.frames.len())
    }

    /// The dispatch loop; with `STEP`, it runs one instruction and returns.
    #[allow(clippy::too_many_lines)] // One arm per opcode reads best as one match.
    #[inline(always)]
    fn run_loop<const STEP: bool>(&mut self, floor: usize) -> Res<()> {
        let heap = self.heap;
        let globals = heap.globals();
        let interrupt = heap.interrupt().flag();

        // The running frame's state, kept in locals; few enough that the
        // hot ones (`ip`, `sp`, `base`) stay in registers. Its record in
        // `self.frames` is written back at calls and errors.
        let first = self.frame_of(self.frames.top());
        let mut ip = first.ip;
        let mut base = first.base;
        let mut closure = first.closure;
        let mut loaded: &Loaded = first.loaded;
        // SAFETY: the stack's height is its published top.
        let mut sp = unsafe { self.bottom.add(self.stack.len()) };

        // Reading code.
        macro_rules! read_u8 {
            () => {{
                // SAFETY: verified code decodes to its end with every
                // operand present, so the operand byte is inside the code.
                let byte = unsafe { *ip };
                // SAFETY: as above; at most one past the operand, the end.
                ip = unsafe { ip.add(1) };
                byte as usize
            }};
        }
        macro_rules! read_u32 {
            () => {{
                // SAFETY: as in `read_u8`, for a four-byte operand (read
                // unaligned, as `[u8; 4]` has alignment 1).
                let value = u32::from_le_bytes(unsafe { ip.cast::<[u8; 4]>().read() });
                // SAFETY: as in `read_u8`.
                ip = unsafe { ip.add(4) };
                value as usize
            }};
        }
        macro_rules! constant {
            ($index:expr) => {{
                let index = $index;
                // SAFETY: the verifier checked the index.
                unsafe { *loaded.constants.get_unchecked(index) }
            }};
        }
        // The operand stack. The verifier proved that each instruction
        // finds the values it pops and stays within `max_stack`, which
        // `push_frame` checked fits in the stack.
        macro_rules! push {
            ($value:expr) => {{
                let value = $value;
                // SAFETY: within `max_stack` (above).
                unsafe {
                    sp.write(value);
                    sp = sp.add(1);
                }
            }};
        }
        macro_rules! pop {
            () => {{
                // SAFETY: the instruction pops a value it finds (above).
                sp = unsafe { sp.sub(1) };
                // SAFETY: that slot holds a value pushed before.
                unsafe { sp.read() }
            }};
        }
        macro_rules! peek {
            ($distance:expr) => {
                // SAFETY: the instruction finds that many values (above).
                unsafe { sp.sub(1 + $distance).read() }
            };
        }
        macro_rules! set_top {
            ($value:expr) => {{
                let value = $value;
                // SAFETY: the instruction finds a value on top (above).
                unsafe { sp.sub(1).write(value) }
            }};
        }
        // Publish the stack height: a safepoint.
        macro_rules! sync {
            () => {
                // SAFETY: `sp` is within the stack and everything below it
                // was written.
                unsafe { self.stack.set_len(self.index_of(sp)) }
            };
        }
        // Raise a runtime error from the running frame: leave the loop
        // (which has no loops inside it) for the one exit below it.
        macro_rules! raise {
            ($error:expr) => {{
                break $error;
            }};
        }
        macro_rules! try_raise {
            ($result:expr) => {
                match $result {
                    Ok(value) => value,
                    Err(error) => raise!(Raise::from(error)),
                }
            };
        }
        // Continue in `frame` (after a call or a return).
        macro_rules! enter {
            ($frame:expr) => {
                let frame: &Frame<'_> = $frame;
                ip = frame.ip;
                base = frame.base;
                closure = frame.closure;
                loaded = frame.loaded;
            };
        }
        // Before a call: save the caller's position and publish the stack.
        macro_rules! save {
            () => {
                sync!();
                self.frames.set_top_ip(ip);
            };
        }
        // Two operands as numbers, or the error if either is not one.
        macro_rules! numbers {
            ($a:expr, $b:expr) => {{
                let (a, b): (Value, Value) = ($a, $b);
                if !a.is_number() || !b.is_number() {
                    raise!(error(ErrorCode::OperandsNumbers.message()));
                }
                (a.as_number(), b.as_number())
            }};
        }
        // The two numbers on top, popping one: the result replaces the other.
        macro_rules! number_operands {
            () => {{
                let operands = numbers!(peek!(1), peek!(0));
                // SAFETY: the instruction pops two values (see `pop!`).
                sp = unsafe { sp.sub(1) };
                operands
            }};
        }
        // Store the top in global `g` (the operand), which must be defined.
        macro_rules! set_global {
            () => {{
                let slot = read_u32!();
                if globals.get(slot).is_undefined() {
                    raise!(self.undefined(slot));
                }
                globals.set(slot, peek!(0));
            }};
        }
        // Store the top in captured variable `u` (the operand).
        macro_rules! set_upvalue {
            () => {{
                let index = read_u8!();
                let upvalue = closure.expect("only closures capture").upvalue(index);
                heap.set_upvalue(upvalue, peek!(0));
            }};
        }
        // Set the property of the instance below the top to the top, by the
        // site operand's cache; evaluates to the value.
        macro_rules! set_property {
            () => {{
                let cache = cache!(read_u32!());
                let value = peek!(0);
                let Some(instance) = peek!(1).downcast::<ObjInstance>() else {
                    raise!(error(ErrorCode::OnlyInstancesFields.message()));
                };
                let shape = instance.shape();
                match cache.get(shape.as_obj()) {
                    Some(CacheHit::Field(index)) => heap.set_field_at(instance, index, value),
                    Some(CacheHit::AddField(next)) => {
                        sync!();
                        try_raise!(heap.add_field(instance, next, value));
                    }
                    _ => {
                        sync!();
                        let hit = try_raise!(heap.set_field(instance, cache.name, value));
                        // The old shape is the new one's parent: alive.
                        heap.cache_insert(loaded.object, cache, shape.as_obj(), hit);
                    }
                }
                value
            }};
        }
        // `a + b`: numbers add, strings concatenate.
        // `a + b` of the instruction `$size` bytes long that was just read;
        // off the numbers' path, it records that in the site's feedback.
        macro_rules! add {
            ($a:expr, $b:expr, $size:expr) => {{
                let (a, b): (Value, Value) = ($a, $b);
                if a.is_number() && b.is_number() {
                    Value::number(a.as_number() + b.as_number())
                } else {
                    // SAFETY: the instruction just read starts `$size`
                    // bytes back, inside the code.
                    let site = self.index_in_code(loaded, unsafe { ip.sub($size) });
                    loaded.object.record_feedback(site as usize, abi::FEEDBACK_NOT_NUMBER);
                    match (a.downcast::<ObjString>(), b.downcast::<ObjString>()) {
                        (Some(a), Some(b)) => {
                            sync!();
                            try_raise!(heap.concat(a, b)).to_value()
                        }
                        _ => raise!(error(ErrorCode::AddOperands.message())),
                    }
                }
            }};
        }
        // `a == b` of the one-byte instruction just read, recording in its
        // site's feedback whether it compared two numbers.
        macro_rules! equal {
            ($a:expr, $b:expr) => {{
                let (a, b): (Value, Value) = ($a, $b);
                // SAFETY: the instruction just read is one byte, inside the
                // code.
                let site = self.index_in_code(loaded, unsafe { ip.sub(1) }) as usize;
                if a.is_number() && b.is_number() {
                    loaded.object.record_feedback(site, abi::FEEDBACK_NUMBERS);
                    a.as_number() == b.as_number()
                } else {
                    loaded.object.record_feedback(site, abi::FEEDBACK_NOT_NUMBER);
                    a.lox_eq(b)
                }
            }};
        }
        // The top (a number) and constant operand `c`, for `<op>Constant`.
        macro_rules! number_and_constant {
            () => {
                numbers!(peek!(0), constant!(read_u32!()))
            };
        }
        // Pop two numbers and jump by the operand unless `a <op> b`.
        macro_rules! jump_unless {
            ($op:tt) => {{
                let distance = read_u32!();
                let (a, b) = numbers!(peek!(1), peek!(0));
                // SAFETY: the instruction pops two values (see `pop!`).
                sp = unsafe { sp.sub(2) };
                // `!(a < b)`, not `a >= b`: the two differ when either is
                // NaN, and the jump is taken exactly when Lox's `a < b` is false.
                #[allow(clippy::neg_cmp_op_on_partial_ord)]
                let taken = !(a $op b);
                if taken {
                    // SAFETY: as for `Jump`.
                    ip = unsafe { ip.add(distance) };
                }
            }};
        }
        // Leave the running frame with `result`: close what it captured
        // (every slot still on the stack), then push the result where the
        // caller wants it, and continue in the caller (or return, at the
        // floor).
        macro_rules! return_from_frame {
            ($result:expr) => {{
                let result: Value = $result;
                sync!();
                heap.close_upvalues(self.index_of(base) as u32);
                sp = self.frames.pop().return_to;
                push!(result);
                if self.frames.len() == floor {
                    sync!();
                    return Ok(());
                }
                enter!(&self.frame_of(self.frames.top()));
            }};
        }
        macro_rules! cache {
            ($site:expr) => {{
                let site = $site;
                // SAFETY: the verifier checked every site index against the
                // site table, which the load turned into this cache table.
                unsafe { loaded.object.caches.get_unchecked(site) }
            }};
        }

        let error: Raise = loop {
            // SAFETY: verified code holds only opcodes of the table, and
            // `Op` is `repr(u8)` in table order.
            let op: Op = unsafe { std::mem::transmute::<u8, Op>(*ip) };
            // SAFETY: an opcode is followed by its operands or by more code.
            ip = unsafe { ip.add(1) };
            match op {
                Op::Constant => {
                    let index = read_u32!();
                    push!(constant!(index));
                }
                Op::Nil => push!(Value::NIL),
                Op::True => push!(Value::TRUE),
                Op::False => push!(Value::FALSE),
                Op::Pop => {
                    pop!();
                }
                Op::GetLocal => {
                    let slot = read_u8!();
                    // SAFETY: the verifier checked the slot is below the depth.
                    push!(unsafe { base.add(slot).read() });
                }
                Op::SetLocal => {
                    let slot = read_u8!();
                    let value = peek!(0);
                    // SAFETY: as for `GetLocal`.
                    unsafe { base.add(slot).write(value) };
                }
                Op::GetGlobal => {
                    let slot = read_u32!();
                    let value = globals.get(slot);
                    if value.is_undefined() {
                        raise!(self.undefined(slot));
                    }
                    push!(value);
                }
                Op::DefineGlobal => {
                    let slot = read_u32!();
                    globals.set(slot, pop!());
                }
                Op::SetGlobal => set_global!(),
                Op::GetUpvalue => {
                    let index = read_u8!();
                    let upvalue = closure.expect("only closures capture").upvalue(index);
                    push!(upvalue.get());
                }
                Op::GetCaptured => {
                    let index = read_u8!();
                    push!(closure.expect("only closures capture").upvalues[index]);
                }
                Op::SetUpvalue => set_upvalue!(),
                Op::GetProperty => {
                    let cache = cache!(read_u32!());
                    let Some(instance) = peek!(0).downcast::<ObjInstance>() else {
                        raise!(error(ErrorCode::OnlyInstancesProperties.message()));
                    };
                    let hit = match cache.get(instance.shape().as_obj()) {
                        Some(hit) => hit,
                        None => try_raise!(lookup_miss(heap, loaded.object, cache, instance)),
                    };
                    match hit {
                        CacheHit::Field(index) => set_top!(instance.field_at(index)),
                        CacheHit::Method(method) => {
                            sync!();
                            // The receiver is still on the stack: rooted.
                            let bound =
                                try_raise!(heap.alloc(ObjBoundMethod::new(peek!(0), method)));
                            set_top!(bound.to_value());
                        }
                        CacheHit::AddField(_) => unreachable!("a get site caches no sets"),
                    }
                }
                Op::SetProperty => {
                    let value = set_property!();
                    pop!();
                    set_top!(value);
                }
                Op::StoreProperty => {
                    set_property!();
                    pop!();
                    pop!();
                }
                Op::GetSuper => {
                    let cache = cache!(read_u32!());
                    let method = try_raise!(super_method(heap, loaded.object, cache, peek!(0)));
                    sync!();
                    // `this` is still on the stack: rooted.
                    let bound = try_raise!(heap.alloc(ObjBoundMethod::new(peek!(1), method)));
                    pop!();
                    set_top!(bound.to_value());
                }
                Op::Method => {
                    let cache = cache!(read_u32!());
                    let receiver = peek!(0);
                    let Some(instance) = receiver.downcast::<ObjInstance>() else {
                        raise!(error(ErrorCode::OnlyInstancesMethods.message()));
                    };
                    let hit = match cache.get(instance.shape().as_obj()) {
                        Some(hit) => hit,
                        None => try_raise!(lookup_miss(heap, loaded.object, cache, instance)),
                    };
                    // [callee, slot 0]: a field is called like any value.
                    match hit {
                        CacheHit::Method(method) => {
                            set_top!(method.to_value());
                            push!(receiver);
                        }
                        CacheHit::Field(index) => {
                            let field = instance.field_at(index);
                            set_top!(field);
                            push!(field);
                        }
                        CacheHit::AddField(_) => unreachable!("a method site caches no sets"),
                    }
                }
                Op::SuperMethod => {
                    let cache = cache!(read_u32!());
                    let method = try_raise!(super_method(heap, loaded.object, cache, peek!(0)));
                    // [method, this]
                    let this = peek!(1);
                    // SAFETY: the instruction finds two values (see `pop!`).
                    unsafe { sp.sub(2).write(method.to_value()) };
                    set_top!(this);
                }
                Op::Equal => {
                    let b = pop!();
                    set_top!(Value::bool(equal!(peek!(0), b)));
                }
                Op::NotEqual => {
                    let b = pop!();
                    set_top!(Value::bool(!equal!(peek!(0), b)));
                }
                Op::Greater => {
                    let (a, b) = number_operands!();
                    set_top!(Value::bool(a > b));
                }
                Op::GreaterEqual => {
                    let (a, b) = number_operands!();
                    set_top!(Value::bool(a >= b));
                }
                Op::Less => {
                    let (a, b) = number_operands!();
                    set_top!(Value::bool(a < b));
                }
                Op::LessEqual => {
                    let (a, b) = number_operands!();
                    set_top!(Value::bool(a <= b));
                }
                Op::Add => {
                    let sum = add!(peek!(1), peek!(0), 1);
                    pop!();
                    set_top!(sum);
                }
                Op::Subtract => {
                    let (a, b) = number_operands!();
                    set_top!(Value::number(a - b));
                }
                Op::Multiply => {
                    let (a, b) = number_operands!();
                    set_top!(Value::number(a * b));
                }
                Op::Divide => {
                    let (a, b) = number_operands!();
                    set_top!(Value::number(a / b));
                }
                Op::Not => set_top!(Value::bool(peek!(0).is_falsey())),
                Op::Negate => {
                    let value = peek!(0);
                    if !value.is_number() {
                        raise!(error(ErrorCode::OperandNumber.message()));
                    }
                    set_top!(Value::number(-value.as_number()));
                }
                Op::Print => {
                    let value = pop!();
                    if let Err(failure) = writeln!(self.out, "{}", Printed(value)) {
                        raise!(output_error(&failure));
                    }
                }
                Op::Jump => {
                    let distance = read_u32!();
                    // SAFETY: the verifier checked the target.
                    ip = unsafe { ip.add(distance) };
                }
                Op::JumpIfFalse => {
                    let distance = read_u32!();
                    if peek!(0).is_falsey() {
                        // SAFETY: as for `Jump`.
                        ip = unsafe { ip.add(distance) };
                    }
                }
                Op::Loop => {
                    let distance = read_u32!();
                    // Every endless loop passes a back-edge: a stop requested
                    // from outside is taken here (and at calls).
                    if interrupt.load(std::sync::atomic::Ordering::Relaxed) {
                        raise!(interrupted(heap));
                    }
                    // SAFETY: as for `Jump`.
                    ip = unsafe { ip.sub(distance) };
                    let function = loaded.object;
                    let backedges = function.backedges.get().saturating_add(1);
                    function.backedges.set(backedges);
                    if backedges >= self.loop_threshold {
                        function.backedges.set(0);
                        save!();
                        if let Some(entry) = self.osr_entry(loaded, ip) {
                            if let Some(count) = self.osr_entries {
                                count.set(count.get() + 1);
                            }
                            // The rest of this frame runs compiled, until
                            // it returns. An error leaves as from a call.
                            self.run_compiled(entry)?;
                            if self.frames.len() == floor {
                                return Ok(());
                            }
                            enter!(&self.frame_of(self.frames.top()));
                            // SAFETY: the return published the stack's
                            // height (the result's slot is its top).
                            sp = unsafe { self.bottom.add(self.stack.len()) };
                        }
                    }
                }
                Op::Call | Op::CallMethod => {
                    let n_args = read_u8!();
                    // SAFETY: the verifier checked the callee (and, for
                    // `CallMethod`, the slot below it) is on the stack.
                    let slot_zero = unsafe { sp.sub(n_args + 1) };
                    let return_to = if op == Op::Call {
                        slot_zero
                    } else {
                        // SAFETY: as above.
                        unsafe { slot_zero.sub(1) }
                    };
                    // SAFETY: as above.
                    let callee = unsafe { return_to.read() };
                    save!();
                    let before = self.frames.len();
                    match callee.downcast::<ObjClosure>() {
                        Some(callee) => {
                            if op == Op::Call && self.threshold != u32::MAX {
                                // SAFETY: the operand just read is inside the code.
                                let operand = self.index_in_code(loaded, unsafe { ip.sub(1) });
                                loaded.object.record_callee(operand as usize, callee.function);
                            }
                            try_raise!(self.push_frame(callee, slot_zero, n_args, return_to));
                        }
                        None => {
                            try_raise!(self.call_value(callee, slot_zero, n_args, return_to));
                        }
                    }
                    if self.frames.len() > before {
                        let record = self.frames.top();
                        match record.closure.and_then(|closure| closure.function.entry.get()) {
                            // Compiled: it runs to completion, like a native.
                            Some(entry) => {
                                // An error raised inside returns as is:
                                // its frames keep their own resume points,
                                // this frame's was saved, and the stack's
                                // height stays where the innermost frame
                                // published it, above every slot captured
                                // by an upvalue still open (the unwinding
                                // closes them).
                                self.run_compiled(entry)?;
                                // SAFETY: the body's result is at
                                // `return_to`, the stack just above.
                                sp = unsafe { return_to.add(1) };
                            }
                            None => {
                                enter!(&self.frame_of(record));
                            }
                        }
                    } else {
                        // SAFETY: the call published the stack's height.
                        sp = unsafe { self.bottom.add(self.stack.len()) };
                    }
                }
                Op::Closure => {
                    let index = loaded.module_base as usize + read_u32!();
                    sync!();
                    let made = try_raise!(self.make_closure(index, base, closure));
                    push!(made.to_value());
                }
                Op::CloseUpvalue => {
                    sync!();
                    heap.close_upvalues(self.index_of(sp) as u32 - 1);
                    pop!();
                }
                Op::Return => {
                    // Not popped yet: the result's slot may be one a closure
                    // captured, and closing reads every captured slot.
                    let result = peek!(0);
                    return_from_frame!(result);
                }
                Op::ReturnThis => {
                    // SAFETY: slot 0 is below the depth of every frame.
                    let this = unsafe { base.read() };
                    return_from_frame!(this);
                }
                Op::Class => {
                    let name = self.name_at(loaded, read_u32!());
                    sync!();
                    let class = try_raise!(heap.alloc(ObjClass::new(name)));
                    push!(class.to_value());
                }
                Op::Inherit => {
                    let Some(superclass) = peek!(1).downcast::<ObjClass>() else {
                        raise!(error(ErrorCode::SuperclassNotClass.message()));
                    };
                    let class = try_raise!(class_being_declared(peek!(0)));
                    if class == superclass {
                        raise!(error("A class can't inherit from itself."));
                    }
                    sync!();
                    try_raise!(heap.inherit(class, superclass));
                    pop!();
                }
                Op::StoreLocal => {
                    let slot = read_u8!();
                    let value = pop!();
                    // SAFETY: the verifier checked the slot is below the
                    // depth after the pop.
                    unsafe { base.add(slot).write(value) };
                }
                Op::StoreGlobal => {
                    set_global!();
                    pop!();
                }
                Op::StoreUpvalue => {
                    set_upvalue!();
                    pop!();
                }
                Op::PopJumpIfFalse => {
                    let distance = read_u32!();
                    if pop!().is_falsey() {
                        // SAFETY: as for `Jump`.
                        ip = unsafe { ip.add(distance) };
                    }
                }
                Op::JumpIfNotLess => jump_unless!(<),
                Op::JumpIfNotLessEqual => jump_unless!(<=),
                Op::JumpIfNotGreater => jump_unless!(>),
                Op::JumpIfNotGreaterEqual => jump_unless!(>=),
                Op::AddConstant => {
                    let constant = constant!(read_u32!());
                    set_top!(add!(peek!(0), constant, 5));
                }
                Op::SubtractConstant => {
                    let (a, b) = number_and_constant!();
                    set_top!(Value::number(a - b));
                }
                Op::MultiplyConstant => {
                    let (a, b) = number_and_constant!();
                    set_top!(Value::number(a * b));
                }
                Op::DivideConstant => {
                    let (a, b) = number_and_constant!();
                    set_top!(Value::number(a / b));
                }
                Op::DefineMethod => {
                    let name = self.name_at(loaded, read_u32!());
                    let method = peek!(0).downcast::<ObjClosure>();
                    // The verifier: a `Closure` of a method comes right before.
                    let method = method.expect("DefineMethod follows its Closure");
                    let class = try_raise!(class_being_declared(peek!(1)));
                    sync!();
                    try_raise!(heap.define_method(class, name, method));
                    pop!();
                }
            }
            if STEP {
                sync!();
                self.frames.set_top_ip(ip);
                return Ok(());
            }
        };
        sync!();
        self.frames.set_top_ip(ip);
        Err(error)
    }

    fn name_at(&self, loaded: &Loaded, index: usize) -> Gc<ObjString> {
        let constant = loaded.constants[index];
        constant.downcast::<ObjString>().expect("verified name constants are strings")
    }

    #[cold]
    pub(crate) fn undefined(&self, slot: usize) -> Raise {
        let name = self.global_names.get(slot).map_or("?", String::as_str);
        Raise::lox(messages::undefined_variable(name))
    }
}

/// The lookup of `cache`'s name on `instance` that the cache missed: a
/// field, else a method of its class. Remembered in the cache (in a free
/// way, or in place of its oldest), and in the heap's megamorphic cache,
/// which a megamorphic site (every way taken) asks before the generic
/// lookup.
#[cold]
fn lookup_miss(
    heap: &Heap,
    function: Gc<ObjFunction>,
    cache: &InlineCache,
    instance: Gc<ObjInstance>,
) -> Res<CacheHit> {
    let shape = instance.shape();
    if let Some(entry) = heap.cache_recall(function, cache, shape.as_obj()) {
        return Ok(entry.hit());
    }
    let hit = shape.resolve(cache.name).ok_or_else(|| undefined_property(cache.name))?;
    heap.cache_insert(function, cache, shape.as_obj(), hit);
    heap.megamorphic().insert(shape.as_obj(), cache.name, hit);
    Ok(hit)
}

/// The method of `cache`'s name on `superclass` (the hidden `super` local),
/// through the cache.
#[inline]
fn super_method(
    heap: &Heap,
    function: Gc<ObjFunction>,
    cache: &InlineCache,
    superclass: Value,
) -> Res<Gc<ObjClosure>> {
    // Compiled code only reads a class here (`Inherit` checked it); a
    // crafted file may hold anything.
    let Some(class) = superclass.downcast::<ObjClass>() else {
        return Err(error(ErrorCode::SuperclassNotClass.message()));
    };
    if let Some(CacheHit::Method(method)) = cache.get(class.as_obj()) {
        return Ok(method);
    }
    let method = class.method(cache.name).ok_or_else(|| undefined_property(cache.name))?;
    // Cached for good: the class's methods are final from now on.
    class.seal();
    heap.cache_insert(function, cache, class.as_obj(), CacheHit::Method(method));
    Ok(method)
}

/// The class an `Inherit` or `DefineMethod` adds methods to: compiled code
/// only ever has the class it is declaring there, which is not in use yet;
/// a crafted bytecode file may have anything.
fn class_being_declared(value: Value) -> Res<Gc<ObjClass>> {
    match value.downcast::<ObjClass>() {
        Some(class) if !class.is_sealed() => Ok(class),
        Some(_) => Err(error(ErrorCode::ClassInUse.message())),
        None => Err(error(ErrorCode::OnlyClassesMethods.message())),
    }
}

/// A runtime error with a fixed message (out of line: errors are rare).
#[cold]
#[inline(never)]
pub(crate) fn error(message: &str) -> Raise {
    Raise::lox(message.to_string())
}

/// `Interrupted.`, taking the request.
#[cold]
#[inline(never)]
fn interrupted(heap: &Heap) -> Raise {
    heap.interrupt().take();
    error(INTERRUPTED)
}

/// Writing the program's output failed: the run stops.
#[cold]
#[inline(never)]
fn output_error(failure: &std::io::Error) -> Raise {
    Raise { kind: ErrorKind::Output, message: failure.to_string() }
}

#[cold]
fn undefined_property(name: Gc<ObjString>) -> Raise {
    Raise::lox(messages::undefined_property(name.as_str()))
}
