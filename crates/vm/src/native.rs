//! The runtime helpers compiled code calls (`runtime::abi::helper` names
//! them, `codegen::Helper` declares their signatures and documents them;
//! the two must agree), and running compiled code from the VM.
//!
//! Compiled code runs inside a VM run: its `Context` points at the `Run`,
//! so a helper works on the same state as the dispatch loop: it publishes
//! the stack's height (`top`) and the frame's resume point (`ip`), does the
//! slow path with the VM's own code, and leaves an error in `Run::pending`
//! for the code to carry out as `STATUS_RAISED`. Helpers never unwind: a
//! panic in an `extern "C"` function aborts the process, so none may panic
//! but for a bug.

use runtime::abi::{self, CompiledEntry, Context, DeoptReason, ErrorCode};
use runtime::native_stack;
use runtime::{
    CacheEntry, ErrorKind, InlineCache, ObjClass, ObjClosure, ObjFunction, ObjRef, ObjString,
    Printed, Value,
};

use crate::run::{Raise, Res, Run, error};

/// Every helper, by symbol, with its address: what a JIT links compiled
/// code against.
pub static HELPERS: &[(&str, HelperAddress)] = &[
    (abi::helper::CALL, HelperAddress(strata_call as *const u8)),
    (abi::helper::ADD, HelperAddress(strata_add as *const u8)),
    (abi::helper::RAISE, HelperAddress(strata_raise as *const u8)),
    (abi::helper::UNDEFINED, HelperAddress(strata_undefined as *const u8)),
    (abi::helper::PRINT, HelperAddress(strata_print as *const u8)),
    (abi::helper::INTERRUPTED, HelperAddress(strata_interrupted as *const u8)),
    (abi::helper::STEP, HelperAddress(strata_step as *const u8)),
    (abi::helper::CLOSURE, HelperAddress(strata_closure as *const u8)),
    (abi::helper::CLOSE_UPVALUES, HelperAddress(strata_close_upvalues as *const u8)),
    (abi::helper::INSTANTIATE, HelperAddress(strata_instantiate as *const u8)),
    (abi::helper::DEOPT, HelperAddress(strata_deopt as *const u8)),
    (abi::helper::LOOKUP, HelperAddress(strata_lookup as *const u8)),
    (abi::helper::NEW_INSTANCE, HelperAddress(strata_new_instance as *const u8)),
    (abi::helper::CONCAT, HelperAddress(strata_concat as *const u8)),
    (abi::helper::NEW_CLOSURE, HelperAddress(strata_new_closure as *const u8)),
];

/// The address of a helper's code.
#[derive(Debug, Clone, Copy)]
pub struct HelperAddress(pub *const u8);

// SAFETY: the address of a function's code, never written through.
unsafe impl Sync for HelperAddress {}

impl Run<'_> {
    /// Run the machine code of the frame just pushed (whose function has
    /// `entry`), then leave it as a return does: its upvalues closed, its
    /// record popped, its result in its return slot, the stack just above.
    pub(crate) fn run_compiled(&mut self, entry: CompiledEntry) -> Res<()> {
        let record = self.frames.top();
        let mut ctx = Context {
            stack: self.stack,
            globals: self.heap.globals(),
            frames: self.frames,
            heap: self.heap,
            interrupt: self.heap.interrupt().flag(),
            native_floor: self.native_floor,
            engine: std::ptr::from_mut(self).cast(),
            megamorphic: self.heap.megamorphic().table(),
            remembered: self.heap.remembered_set(),
        };
        let closure = record.closure.map_or(std::ptr::null(), |closure| closure.as_ptr());
        let function = self.frame_of(record).loaded.object.as_ptr();
        // SAFETY: `entry` was compiled for this frame's function (pinned,
        // as is its closure by the record), whose record is pushed with its
        // slot 0 at `base` and its arguments in place; `ctx` points at this
        // run, which outlives the call, and the code reaches the run only
        // through the helpers below.
        let status = unsafe { entry(&mut ctx, record.base, closure, function) };
        if status != abi::STATUS_RETURNED {
            return Err(self.pending.take().unwrap_or_else(|| error("Compiled code failed.")));
        }
        // SAFETY: the body returned its result in its slot 0, a live slot.
        let result = unsafe { record.base.read() };
        let base = self.index_of(record.base);
        // A body that made closures closed its upvalues before writing its
        // result (`strata_close_upvalues`).
        // SAFETY: slot 0 was written (above); nothing above it is read.
        unsafe { self.stack.set_len(base + 1) };
        self.frames.pop();
        // SAFETY: the return slot is a slot of the caller's frame, below
        // slot 0 or at it.
        unsafe {
            record.return_to.write(result);
            self.stack.set_len(self.index_of(record.return_to) + 1);
        }
        Ok(())
    }

    /// The call compiled code makes: the value in `return_to` (the callee;
    /// `slot_zero` is at it or just above, for a method call) with `n_args`
    /// arguments above `slot_zero`, run to completion, compiled or
    /// interpreted, its result left in `return_to`.
    fn call_from_native(
        &mut self,
        slot_zero: *mut Value,
        n_args: usize,
        return_to: *mut Value,
    ) -> Res<()> {
        // Compiled code and the helpers nest on the native stack as Lox
        // calls do: near the end of this stack, go on on a new segment, so
        // the frame limit alone decides when a program overflows, as in the
        // VM (which does not recurse).
        if native_stack::pointer() <= self.native_floor {
            return self.on_new_segment(|run| run.call_from_native(slot_zero, n_args, return_to));
        }
        // SAFETY: compiled code passes slots of its frame, written back.
        let callee = unsafe { return_to.read() };
        let before = self.frames.len();
        match callee.downcast::<ObjClosure>() {
            Some(closure) => self.push_frame(closure, slot_zero, n_args, return_to).map(drop)?,
            None => self.call_value(callee, slot_zero, n_args, return_to)?,
        }
        if self.frames.len() == before {
            return Ok(()); // A native, or a class without an initializer.
        }
        let record = self.frames.top();
        match record.closure.and_then(|closure| closure.function.entry.get()) {
            Some(entry) => self.run_compiled(entry),
            None => self.dispatch(before),
        }
    }

    /// A guard of optimized code failed before the instruction at `offset`
    /// of the innermost frame, which now stands there, written back as the
    /// VM would have it (`codegen::Helper::Deopt`). That frame is `inlined`
    /// frames above the one whose machine code is running (the others are
    /// callees inlined into it, each with its record pushed and its slots
    /// written back), code of that function's `generation`. The first
    /// failure at a site goes into its feedback, so the next compile does
    /// not assume it again, and drops the code that assumed it
    /// (`Loaded::forget_code`): the function's own, and the code it was
    /// inlined into. The frames then run here, in the VM, until the
    /// compiled function's returns; its record is left pushed with the
    /// result in slot 0, as compiled code leaves a frame for its caller.
    fn deoptimize(&mut self, offset: usize, reason: u32, inlined: u32, generation: u32) -> Res<()> {
        let floor = self.frames.len() - 1 - inlined as usize;
        let record = self.frames.get(floor);
        let loaded = self.frame_of(self.frames.top()).loaded;
        let reason = DeoptReason::from_u32(reason).unwrap_or(DeoptReason::AddNotNumbers);
        let bit = match reason {
            DeoptReason::Stress => abi::FEEDBACK_STRESSED,
            _ => abi::FEEDBACK_DEOPTED,
        };
        // The first failure here drops the code that assumed it. A later
        // one comes from an older activation of that code, still running:
        // the code installed since then does not assume it, and stays.
        // Code a function was inlined into is another function's, which
        // need not have been dropped with it: it is dropped at its own
        // first failure, unless it was dropped already (the failing code
        // is of an older generation than the host's: an older activation,
        // such as a recursive call's, of code compiled before).
        let first = loaded.object.feedback_at(offset) & bit == 0;
        if first {
            loaded.object.record_feedback(offset, bit);
            loaded.forget_code();
        }
        let host = (inlined > 0).then(|| self.frame_of(record).loaded);
        let current = host.filter(|host| host.generation.get() == generation);
        if let Some(host) = current {
            host.forget_code();
        }
        self.deoptimized(loaded, offset, reason, first || current.is_some(), host);
        self.dispatch(floor)?;
        // SAFETY: the return wrote the result to the frame's return slot,
        // a live slot of the caller at or below the frame's slot 0.
        unsafe { record.base.write(record.return_to.read()) };
        self.frames.push(record).map_err(|_| error(ErrorCode::StackOverflow.message()))
    }

    /// Run `f` on a fresh native stack segment, with the floor moved there.
    fn on_new_segment<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        let saved = self.native_floor;
        let result = native_stack::grow(|floor| {
            self.native_floor = floor;
            f(self)
        });
        self.native_floor = saved;
        result
    }

    /// Publish what compiled code passes at a safepoint: the stack's height
    /// and the offset where its frame (the innermost) resumes.
    fn safepoint(&mut self, top: *mut Value, offset: u32) {
        // SAFETY: compiled code passes one past its frame's last live slot,
        // after writing every live slot back.
        unsafe { self.stack.set_len(self.index_of(top)) };
        let code = &self.frame_of(self.frames.top()).loaded.function.chunk.code;
        debug_assert!((offset as usize) < code.len(), "a resume point inside the code");
        // SAFETY: the code generator passes the offset of an instruction
        // of this function (one after the current instruction, which is
        // never past the last one: the last is a jump or a return).
        self.frames.set_top_ip(unsafe { code.as_ptr().add(offset as usize) });
    }

    /// The status for `result`, keeping an error for the code to carry out.
    fn status(&mut self, result: Res<()>) -> u32 {
        match result {
            Ok(()) => abi::STATUS_RETURNED,
            Err(raise) => {
                self.pending = Some(raise);
                abi::STATUS_RAISED
            }
        }
    }
}

/// What every helper does around its own work: find the run the compiled
/// body was entered from, publish the safepoint (the stack's height `top`
/// and the frame's resume `offset`), do `work` on the run, and turn its
/// result into a status word, parking an error for the code to carry out.
///
/// # Safety
/// `ctx` is the context `Run::run_compiled` made, during that call, and
/// `top` is one past the innermost frame's last live slot, every live slot
/// written back (what compiled code passes at a safepoint).
unsafe fn at_safepoint(
    ctx: *mut Context,
    top: *mut Value,
    offset: u32,
    work: impl FnOnce(&mut Run<'_>) -> Res<()>,
) -> u32 {
    // SAFETY: the caller's promise: `engine` is the `Run` that entered the
    // code, which is not otherwise in use while the code runs (the
    // dispatch loop is suspended in `run_compiled`).
    let run = unsafe { &mut *(*ctx).engine.cast::<Run<'_>>() };
    run.safepoint(top, offset);
    let result = work(run);
    run.status(result)
}

// Every helper below is exported by its symbol (`abi::helper`), so that the
// executables `strata build` makes link against them (the `rt` library).
#[unsafe(no_mangle)]
unsafe extern "C" fn strata_call(
    ctx: *mut Context,
    top: *mut Value,
    offset: u32,
    slot_zero: *mut Value,
    n_args: u32,
    return_to: *mut Value,
) -> u32 {
    // SAFETY: called by compiled code, at a safepoint, with the context it
    // was entered with (the same holds for every helper below).
    unsafe {
        at_safepoint(ctx, top, offset, |run| {
            run.call_from_native(slot_zero, n_args as usize, return_to)
        })
    }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strata_add(
    ctx: *mut Context,
    top: *mut Value,
    offset: u32,
    out: *mut Value,
    a: u64,
    b: u64,
) -> u32 {
    // SAFETY: compiled code passes the bits of live values (operands in
    // slots of its frame, or pinned constants).
    let (a, b) = unsafe { (Value::from_bits(a), Value::from_bits(b)) };
    let work = |run: &mut Run<'_>| match (a.downcast::<ObjString>(), b.downcast::<ObjString>()) {
        (Some(a), Some(b)) => {
            let sum = run.heap.concat(a, b)?;
            // SAFETY: `out` is a slot of the frame, below `top`.
            unsafe { out.write(sum.to_value()) };
            Ok(())
        }
        _ => Err(error(ErrorCode::AddOperands.message())),
    };
    // SAFETY: as in `strata_call`.
    unsafe { at_safepoint(ctx, top, offset, work) }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strata_raise(
    ctx: *mut Context,
    top: *mut Value,
    offset: u32,
    code: u32,
) -> u32 {
    let message = ErrorCode::from_u32(code).map_or("Compiled code failed.", ErrorCode::message);
    // SAFETY: as in `strata_call`.
    unsafe { at_safepoint(ctx, top, offset, |_| Err(error(message))) }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strata_undefined(
    ctx: *mut Context,
    top: *mut Value,
    offset: u32,
    slot: u32,
) -> u32 {
    // SAFETY: as in `strata_call`.
    unsafe { at_safepoint(ctx, top, offset, |run| Err(run.undefined(slot as usize))) }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strata_print(
    ctx: *mut Context,
    top: *mut Value,
    offset: u32,
    value: u64,
) -> u32 {
    // SAFETY: as in `strata_add`.
    let value = unsafe { Value::from_bits(value) };
    let work = |run: &mut Run<'_>| {
        writeln!(run.out, "{}", Printed(value))
            .map_err(|failure| Raise { kind: ErrorKind::Output, message: failure.to_string() })
    };
    // SAFETY: as in `strata_call`.
    unsafe { at_safepoint(ctx, top, offset, work) }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strata_interrupted(ctx: *mut Context, top: *mut Value, offset: u32) -> u32 {
    let work = |run: &mut Run<'_>| {
        run.heap.interrupt().take();
        Err(error(runtime::INTERRUPTED))
    };
    // SAFETY: as in `strata_call`.
    unsafe { at_safepoint(ctx, top, offset, work) }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strata_step(ctx: *mut Context, top: *mut Value, offset: u32) -> u32 {
    // The frame "resumes" at the instruction to run, which `step` runs.
    // SAFETY: as in `strata_call`.
    unsafe { at_safepoint(ctx, top, offset, |run| run.step()) }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strata_instantiate(
    ctx: *mut Context,
    top: *mut Value,
    offset: u32,
    class: u64,
    out: *mut Value,
) -> u32 {
    // SAFETY: compiled code passes a live value (the callee, in its slot)
    // that it checked is a class.
    let class = unsafe { Value::from_bits(class) };
    let class = class.downcast::<ObjClass>().expect("compiled code checked the class");
    let work = |run: &mut Run<'_>| {
        let instance = run.heap.instantiate(class)?;
        // SAFETY: `out` is a slot of the frame, below `top`.
        unsafe { out.write(instance.to_value()) };
        Ok(())
    };
    // SAFETY: as in `strata_call`.
    unsafe { at_safepoint(ctx, top, offset, work) }
}

/// The leaf helper `new_instance` (`codegen::Helper::NewInstance`): a new
/// instance of `class`, if the heap makes it without collecting, else 0.
/// It cannot collect, raise or run Lox code, so compiled code calls it
/// without a safepoint, and `instantiate` only when it returns 0.
#[unsafe(no_mangle)]
unsafe extern "C" fn strata_new_instance(ctx: *mut Context, class: u64) -> u64 {
    // SAFETY: compiled code passes the context it was entered with, whose
    // heap outlives the call, and a live value (the callee, in its slot)
    // that it checked is a class.
    let (heap, class) = unsafe { (&*(*ctx).heap, Value::from_bits(class)) };
    let class = class.downcast::<ObjClass>().expect("compiled code checked the class");
    heap.instantiate_without_collecting(class).map_or(0, |instance| instance.to_value().to_bits())
}

/// The leaf helper `concat` (`codegen::Helper::Concat`): `a + b` if both
/// are strings and the heap makes the result without collecting, else 0.
/// It cannot collect, raise or run Lox code, so compiled code calls it
/// without a safepoint, and `add` only when it returns 0.
#[unsafe(no_mangle)]
unsafe extern "C" fn strata_concat(ctx: *mut Context, a: u64, b: u64) -> u64 {
    // SAFETY: compiled code passes the context it was entered with, whose
    // heap outlives the call, and two live values from its slots.
    let (heap, a, b) = unsafe { (&*(*ctx).heap, Value::from_bits(a), Value::from_bits(b)) };
    let (Some(a), Some(b)) = (a.downcast::<ObjString>(), b.downcast::<ObjString>()) else {
        return 0;
    };
    heap.concat_without_collecting(a, b).map_or(0, |string| string.to_value().to_bits())
}

/// The leaf helper `new_closure` (`codegen::Helper::NewClosure`): a closure
/// of `function` (an `ObjFunction` value) with every captured variable nil,
/// if the heap makes it without collecting, else 0. It cannot collect,
/// raise or run Lox code, so compiled code calls it without a safepoint,
/// sets the captured variables itself, and calls `closure` only when it
/// returns 0.
#[unsafe(no_mangle)]
unsafe extern "C" fn strata_new_closure(ctx: *mut Context, function: u64) -> u64 {
    // SAFETY: compiled code passes the context it was entered with, whose
    // heap outlives the call, and a function object the VM keeps alive
    // (every function it loads is pinned).
    let (heap, function) = unsafe { (&*(*ctx).heap, Value::from_bits(function)) };
    let function = function.downcast::<ObjFunction>().expect("compiled code names a function");
    heap.closure_without_collecting(function).map_or(0, |closure| closure.to_value().to_bits())
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strata_deopt(
    ctx: *mut Context,
    top: *mut Value,
    offset: u32,
    reason: u32,
    inlined: u32,
    generation: u32,
) -> u32 {
    // SAFETY: as in `strata_call`.
    unsafe {
        at_safepoint(ctx, top, offset, |run| {
            run.deoptimize(offset as usize, reason, inlined, generation)
        })
    }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strata_closure(
    ctx: *mut Context,
    top: *mut Value,
    offset: u32,
    function: u32,
    out: *mut Value,
) -> u32 {
    let work = |run: &mut Run<'_>| {
        let record = run.frames.top();
        // The operand is an index into the running function's module, as
        // the VM's `Closure` reads it (the verifier checked its range).
        let index = run.frame_of(record).loaded.module_base as usize + function as usize;
        let made = run.make_closure(index, record.base, record.closure)?;
        // SAFETY: `out` is the slot the closure is pushed into, inside the
        // frame's stack (its depth is verified); nothing collects after
        // the write.
        unsafe { out.write(made.to_value()) };
        Ok(())
    };
    // SAFETY: as in `strata_call`.
    unsafe { at_safepoint(ctx, top, offset, work) }
}

#[unsafe(no_mangle)]
unsafe extern "C" fn strata_close_upvalues(
    ctx: *mut Context,
    top: *mut Value,
    offset: u32,
    slot: u32,
) -> u32 {
    let work = |run: &mut Run<'_>| {
        let base = run.index_of(run.frames.top().base);
        run.heap.close_upvalues(base as u32 + slot);
        Ok(())
    };
    // SAFETY: as in `strata_call`.
    unsafe { at_safepoint(ctx, top, offset, work) }
}

/// `lookup(ctx, function, cache, shape)`: a property site's ways missed
/// on `shape` (an instance's): the heap's megamorphic cache's entry for it
/// and the site's name, taken into the site's cache, one of `function`'s,
/// as the VM takes it (`Heap::cache_recall`), or null. A leaf: it cannot
/// allocate, raise or run Lox code, so compiled code calls it without a
/// safepoint, and reads the entry at once, before anything can collect.
#[unsafe(no_mangle)]
unsafe extern "C" fn strata_lookup(
    ctx: *mut Context,
    function: usize,
    cache: *const InlineCache,
    shape: usize,
) -> *const CacheEntry {
    // SAFETY: compiled code passes the context it was entered with, whose
    // heap outlives the call; `function` is the running function (or one
    // inlined into it), kept alive by the frame or the code's pins, and
    // `cache` one of its caches; `shape` is the shape of a live instance
    // in one of its slots.
    let (heap, cache, shape) = unsafe { (&*(*ctx).heap, &*cache, ObjRef::from_addr(shape)) };
    // SAFETY: as above.
    let function = unsafe { ObjRef::from_addr(function) }.downcast::<ObjFunction>();
    let function = function.expect("compiled code passes its cache's function");
    heap.cache_recall(function, cache, shape).map_or(std::ptr::null(), std::ptr::from_ref)
}
