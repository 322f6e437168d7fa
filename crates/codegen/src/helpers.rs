//! The runtime helpers compiled code calls: their names and signatures,
//! defined once here for every code generator, and implemented by the
//! engine that runs the code (the VM's `native` module).
//!
//! Every helper is `extern "C"`, takes the run's `Context` first and returns
//! a status word (`abi::STATUS_RETURNED`, or `abi::STATUS_RAISED` after
//! recording a runtime error), but for a *leaf* (`Helper::is_leaf`), which
//! can do none of what needs a safepoint and returns a pointer. None
//! unwinds. A helper that can allocate,
//! collect, raise or run Lox code also takes `top` (one past the frame's
//! last live slot, which it publishes as the stack's height before anything
//! else, so the collector sees every value compiled code wrote back) and
//! `offset` (the bytecode offset where the frame resumes, which it writes
//! into the frame's record, so a trace names the right line): a
//! *safepoint*. Beyond the constants' values (`FunctionInput::constants`)
//! and, for JIT code, the addresses of known functions the engine pins
//! (`FunctionInput::global_functions`, `site_functions`, `call_functions`), no address of the
//! engine's is built into the code: it reaches everything through `ctx`
//! and its frame.

use bytecode::Effects;
use cranelift_codegen::ir::{AbiParam, Signature, types};
use cranelift_codegen::isa::CallConv;

/// A helper compiled code may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Helper {
    /// `call(ctx, top, offset, slot_zero, n_args, return_to)`: call the value
    /// before the `n_args` arguments from `slot_zero` (as `Call` and
    /// `CallMethod` do: a closure's frame runs compiled or interpreted) and
    /// write its result to `return_to`.
    Call,
    /// `add(ctx, top, offset, out, a, b)`: `a + b` when they are not two
    /// numbers: strings concatenate (the result goes to `out`), anything
    /// else raises. Both operands are in slots or constants: rooted.
    Add,
    /// `raise(ctx, top, offset, error)`: raise the fixed error `error` (an
    /// `ErrorCode`); always `STATUS_RAISED`.
    Raise,
    /// `undefined(ctx, top, offset, slot)`: raise `Undefined variable` for
    /// global `slot`.
    Undefined,
    /// `print(ctx, top, offset, value)`: print a value and a newline.
    Print,
    /// `interrupted(ctx, top, offset)`: an interrupt was requested at a
    /// back-edge: raise `Interrupted.` (taking the request).
    Interrupted,
    /// `step(ctx, top, offset)`: run the instruction at `offset` with the
    /// VM's own code for it, on the frame as written back (the stack's
    /// height is `top`); the code reads the slots back afterwards. For the
    /// instructions lowered as [`crate::Lowering::Stepped`].
    Step,
    /// `instantiate(ctx, top, offset, class, out)`: a new instance of
    /// `class` (a class value), written to `out` (the new frame's slot 0);
    /// the code then runs the class's initializer.
    Instantiate,
    /// `closure(ctx, top, offset, function, out)`: a closure of function
    /// `function` of the running function's module (a `Closure` operand),
    /// capturing from the frame (every live slot written back), written
    /// to `out` (the slot it is pushed into).
    Closure,
    /// `close_upvalues(ctx, top, offset, slot)`: close every upvalue open
    /// on the frame's slots from `slot` up (all written back), as a return
    /// (`slot` 0) or `CloseUpvalue` does. Never raises.
    CloseUpvalues,
    /// `deopt(ctx, top, offset, reason, inlined, generation)`: a guard of
    /// optimized code failed (`reason`, an `abi::DeoptReason`) in the
    /// innermost frame, which is `inlined` frames above the compiled
    /// function's own (0: it is that frame; else the innermost of the
    /// callees inlined into it), code of the compiled function's
    /// `generation` (`FunctionInput::generation`).
    /// Every live slot is written back, boxed, as the VM would have it
    /// before the instruction at `offset`, and every inlined callee's frame
    /// has its record; the frames go on in the VM from there until the
    /// compiled function's returns, and the status is that frame's:
    /// `STATUS_RETURNED` with its result in slot 0, which the code returns
    /// at once. The feedback at `offset` records the failure, and the
    /// optimized code that assumed it is dropped, so the next compile does
    /// not assume it again.
    Deopt,
    /// `lookup(ctx, function, cache, shape) -> entry`: a property site's
    /// ways missed on `shape` (an instance's): the entry the heap's
    /// megamorphic cache holds for it and the site's name (laid out as a
    /// way, so the code goes on as at a hit), or null. The entry goes into
    /// `cache` too, an inline cache of `function` (an `ObjFunction`, not
    /// boxed), which that write passes the write barrier for. A *leaf*: it
    /// cannot allocate, raise or run Lox code, so it takes no `top` or
    /// `offset`, nothing is written back before it, and it returns the
    /// entry, not a status.
    Lookup,
    /// `new_instance(ctx, class) -> instance`: a new instance of `class`
    /// (an `ObjClass` value), boxed, if the heap makes it without
    /// collecting (`Heap::instantiate_without_collecting`); else 0, and
    /// the code calls `instantiate`. A *leaf*, as `lookup`: it allocates
    /// but never collects, so nothing can see the frame.
    NewInstance,
    /// `concat(ctx, a, b) -> string`: `a + b` (boxed) if both are strings
    /// and the heap makes the result without collecting
    /// (`Heap::concat_without_collecting`); else 0, and the code calls
    /// `add`. A *leaf*, as `new_instance`.
    Concat,
    /// `new_closure(ctx, function) -> closure`: a closure of `function`
    /// (an `ObjFunction` value), boxed, with every captured variable nil,
    /// if the heap makes it without collecting
    /// (`Heap::closure_without_collecting`); else 0, and the code calls
    /// `closure`. The code then stores what each capture takes into the
    /// closure, before anything can read it. A *leaf*, as `new_instance`.
    NewClosure,
}

impl Helper {
    /// Every helper, for registering their addresses with a JIT.
    pub const ALL: &'static [Helper] = &[
        Helper::Call,
        Helper::Add,
        Helper::Raise,
        Helper::Undefined,
        Helper::Print,
        Helper::Interrupted,
        Helper::Step,
        Helper::Instantiate,
        Helper::Closure,
        Helper::CloseUpvalues,
        Helper::Deopt,
        Helper::Lookup,
        Helper::NewInstance,
        Helper::Concat,
        Helper::NewClosure,
    ];

    /// The symbol the helper is linked by.
    pub fn symbol(self) -> &'static str {
        use runtime::abi::helper;
        match self {
            Helper::Call => helper::CALL,
            Helper::Add => helper::ADD,
            Helper::Raise => helper::RAISE,
            Helper::Undefined => helper::UNDEFINED,
            Helper::Print => helper::PRINT,
            Helper::Interrupted => helper::INTERRUPTED,
            Helper::Step => helper::STEP,
            Helper::Instantiate => helper::INSTANTIATE,
            Helper::Closure => helper::CLOSURE,
            Helper::CloseUpvalues => helper::CLOSE_UPVALUES,
            Helper::Deopt => helper::DEOPT,
            Helper::Lookup => helper::LOOKUP,
            Helper::NewInstance => helper::NEW_INSTANCE,
            Helper::Concat => helper::CONCAT,
            Helper::NewClosure => helper::NEW_CLOSURE,
        }
    }

    /// What the helper may do, or `None` for `step`, which does what the
    /// instruction it runs may do, and `deopt`, which runs the rest of the
    /// frame (every live slot is written back before it). Compiled code calls a helper only for an
    /// instruction whose row in the opcode table allows it, so the table
    /// alone tells where a function's safepoints are.
    pub fn effects(self) -> Option<Effects> {
        let raises = Effects { raises: true, ..Effects::NONE };
        Some(match self {
            Helper::Call => Effects { allocates: true, raises: true, calls: true },
            Helper::Add | Helper::Instantiate => {
                Effects { allocates: true, raises: true, calls: false }
            }
            Helper::Raise | Helper::Undefined | Helper::Print | Helper::Interrupted => raises,
            // Only running out of memory, which any allocation may.
            Helper::Closure => Effects { allocates: true, ..Effects::NONE },
            // `new_instance`, `concat` and `new_closure` allocate, but never
            // collect: they have no effect another instruction could see.
            Helper::CloseUpvalues
            | Helper::Lookup
            | Helper::NewInstance
            | Helper::Concat
            | Helper::NewClosure => Effects::NONE,
            Helper::Step | Helper::Deopt => return None,
        })
    }

    /// Whether the helper is a leaf: no safepoint, so no `top` or
    /// `offset`, and a pointer-sized result instead of a status.
    pub fn is_leaf(self) -> bool {
        matches!(self, Helper::Lookup | Helper::NewInstance | Helper::Concat | Helper::NewClosure)
    }

    /// The parameters after `ctx` (and, but for a leaf, `top, offset`),
    /// each a pointer-sized integer (`I64`) or a `u32` (`I32`).
    fn extra_params(self) -> &'static [cranelift_codegen::ir::Type] {
        use types::{I32, I64};
        match self {
            Helper::Lookup => &[I64, I64, I64],
            Helper::NewInstance | Helper::NewClosure => &[I64],
            Helper::Concat => &[I64, I64],
            Helper::Call => &[I64, I32, I64],
            Helper::Add => &[I64, I64, I64],
            Helper::Instantiate => &[I64, I64],
            Helper::Raise | Helper::Undefined | Helper::CloseUpvalues => &[I32],
            Helper::Closure => &[I32, I64],
            Helper::Deopt => &[I32, I32, I32],
            Helper::Print => &[I64],
            Helper::Interrupted | Helper::Step => &[],
        }
    }

    /// The Cranelift signature of the helper, in the platform's C calling
    /// convention.
    pub fn signature(self, call_conv: CallConv) -> Signature {
        let mut signature = Signature::new(call_conv);
        signature.params.push(AbiParam::new(types::I64)); // ctx
        if !self.is_leaf() {
            signature.params.push(AbiParam::new(types::I64)); // top
            signature.params.push(AbiParam::new(types::I32)); // offset
        }
        for &ty in self.extra_params() {
            signature.params.push(AbiParam::new(ty));
        }
        let result = if self.is_leaf() { types::I64 } else { types::I32 };
        signature.returns.push(AbiParam::new(result));
        signature
    }
}
