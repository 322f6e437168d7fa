//! Inlining: a call of a known function lowered as the callee's own body,
//! in place, instead of a call of its machine code.
//!
//! The frame stays the truth (DESIGN.md invariant 6). The callee's frame is
//! the caller's slots from the call's slot 0 up, exactly where a call would
//! put it, and its frame record is the one a call pushes, written where
//! anything could look at the frames: before each helper call of the body
//! (a safepoint) and before each call it makes (whose record goes above
//! it), with those of the inlined frames it is inside (`Inlined`). A path
//! with neither, such as `fib`'s `n < 2`, writes none. The machine-code
//! call, the callee's entry (reading its arguments from memory) and its
//! return (writing the result to memory) are gone. The
//! arguments go in as the caller holds them, numbers unboxed, and the
//! callee's type plan starts from their types, so a number argument needs
//! no check in the callee either. So at every safepoint of the inlined body
//! the VM finds a frame of the callee as if it had been called: the
//! collector, runtime errors and their traces need nothing new, and a
//! guard that fails in the callee deoptimizes to a VM frame of the callee
//! above a VM frame of the caller (`Helper::Deopt` runs both to the
//! caller's return).
//!
//! A callee is inlined when the call's callee is known (a global's
//! function, one of the methods a site found, or one of the functions
//! whose closures a call site has called, behind the same guard as a
//! direct call), it is small, it makes no closures (whose upvalues a
//! return would close), and the inlining is not too deep or too large in
//! all. The JIT gives the lowering the callees' code and feedback through
//! an [`Inliner`]; AOT code inlines nothing (it has no known functions).

use bytecode::{FunctionFacts, Instruction, OperandKind, instructions};
use cranelift_codegen::ir::{self, InstBuilder, types};

use super::{
    FrameValues, FunctionInput, Inlined, KnownClosure, KnownField, KnownFunction, KnownMethod,
    Lower, Site, number_constants, trusted,
};
use crate::types::{Plan, PlanInput, Ty};

/// The most bytes of bytecode a callee may have to be inlined: small
/// functions and methods (accessors, `fib`'s body, a vector's `add`), whose
/// call costs as much as their work.
const MAX_CALLEE_BYTES: usize = 48;

/// The most property sites (gets, sets, method calls) a callee may have to
/// be inlined. Each is a shape test, the cache's ways and a lookup, much
/// machine code for little bytecode, and a call of a property-heavy callee
/// costs little next to its work: inlining `richards`' methods made its
/// code twice as large and its compiles three times as long, for nothing.
const MAX_CALLEE_SITES: usize = 2;

/// How deep inlined callees may nest (a callee inlined into an inlined
/// callee is 2 deep). A recursive function inlines itself this many times:
/// `fib` 3 deep (14 bodies, 22 KB of machine code) ran in 0.95 of the time
/// it took 2 deep (6 bodies, 9 KB), its longer compile included, `zoo` in
/// 0.89 and `closures` in 0.96.
const MAX_DEPTH: u32 = 3;

/// The most bytes of bytecode inlined into one compiled function in all,
/// so that a function calling many small ones stays small enough to
/// compile quickly: room for a callee of `MAX_CALLEE_BYTES` at every place
/// of two calls each down to `MAX_DEPTH` (14 places), which a recursive
/// function such as `fib` fills evenly. (With 300, `fib` was inlined 3
/// deep down its first calls only, and ran slower than 2 deep.)
pub(super) const MAX_INLINED_BYTES: usize = 14 * MAX_CALLEE_BYTES;

/// Where the lowering finds the code of a callee it may inline.
pub trait Inliner {
    /// What inlining `function` (a known callee) needs, or `None` if it
    /// may not be inlined.
    fn callee(&self, function: &KnownFunction) -> Option<CalleeInput<'_>>;
}

/// A callee's code and what the engine knows of it (as `FunctionInput`
/// has them for the function compiled).
pub struct CalleeInput<'a> {
    pub function: &'a bytecode::Function,
    pub facts: &'a FunctionFacts,
    pub feedback: Vec<u8>,
    pub site_functions: Vec<Vec<KnownFunction>>,
    pub call_functions: Vec<Vec<KnownFunction>>,
    pub site_fields: Vec<Vec<KnownField>>,
    pub site_methods: Vec<Vec<KnownMethod>>,
    pub closures: Vec<KnownClosure>,
}

/// Whether property site `site` of `callee` is one its cache knows for
/// certain: a get or set of one shape's field, or a set that adds one
/// field to one shape (a comparison and a constant offset on its hot path;
/// counting sites of several known shapes too changed no benchmark's
/// time), or a method site of known methods (its lookup still compares the
/// cache's ways, but the call it feeds is a comparison and a direct call or
/// an inlined body, not the general call path).
fn known_site(callee: &CalleeInput<'_>, site: u32) -> bool {
    let site = site as usize;
    callee.site_fields.get(site).is_some_and(|known| known.len() == 1)
        || callee.site_functions.get(site).is_some_and(|known| !known.is_empty())
}

/// A callee chosen for inlining, with its decoded code.
pub(super) struct Chosen<'a> {
    callee: CalleeInput<'a>,
    code: Vec<Instruction>,
}

impl<'a, 'b> Lower<'a, 'b> {
    /// The callee to inline for a call of `known`, if it is to be.
    pub(super) fn inline_choice(&self, known: &KnownFunction) -> Option<Chosen<'a>> {
        if self.inline_depth() >= MAX_DEPTH {
            return None;
        }
        let callee = self.input.inliner?.callee(known)?;
        let bytes = callee.function.chunk.code.len();
        if bytes > MAX_CALLEE_BYTES || self.inlined_bytes + bytes > MAX_INLINED_BYTES {
            return None;
        }
        let code: Vec<Instruction> =
            instructions(&callee.function.chunk.code).collect::<Result<_, _>>().ok()?;
        if callee.facts.captures_by_reference {
            // A closure it makes captures one of its slots by reference:
            // an upvalue may be open on its frame when it returns, and only
            // the VM's return closes them. (Closures that capture by value,
            // or what the callee itself captured, are made as anywhere.)
            return None;
        }
        let sites = code.iter().filter(|instruction| {
            instruction.op.info().operands.first() == Some(&OperandKind::Site)
                && !known_site(&callee, instruction.operand)
        });
        if sites.count() > MAX_CALLEE_SITES {
            return None;
        }
        Some(Chosen { callee, code })
    }

    /// Lower `chosen`'s body here, for the call at `site`, whose frame
    /// record this pushes (the caller checked there is room). Every slot
    /// of the caller is written back. Returns the result, boxed, with the
    /// record popped (the result is also in its slot in memory), and
    /// whether it is a number on every path.
    pub(super) fn inline(
        &mut self,
        chosen: &Chosen<'_>,
        known: &KnownFunction,
        site: &Site,
    ) -> (ir::Value, bool) {
        let Chosen { callee, code } = chosen;
        let arity = u32::from(callee.function.arity);
        let arguments: Vec<(Ty, ir::Value)> = (0..=arity)
            .map(|slot| {
                let slot = site.slot_zero + slot;
                match self.state.ty(slot) {
                    Ty::Number => (Ty::Number, self.float(slot)),
                    Ty::Any => (Ty::Any, self.get(slot)),
                }
            })
            .collect();
        let entry_types: Vec<Ty> = arguments.iter().map(|&(ty, _)| ty).collect();

        let code_start = self.builder.ins().iconst(types::I64, known.code as i64);
        let proto = self.builder.ins().iconst(types::I32, i64::from(known.proto));
        let record = self.record_of(site, code_start, proto);
        let base = self.slot_address(site.slot_zero);
        let return_to = self.slot_address(site.return_to);

        let numbers = number_constants(callee.function);
        let input = FunctionInput {
            function: callee.function,
            facts: callee.facts,
            entry_at: None,
            feedback: Some(&callee.feedback),
            stress_deopt: self.input.stress_deopt,
            // Its deoptimizations are of the function compiled's code.
            generation: self.input.generation,
            global_functions: self.input.global_functions,
            defined_globals: self.input.defined_globals,
            site_functions: &callee.site_functions,
            call_functions: &callee.call_functions,
            site_fields: &callee.site_fields,
            site_methods: &callee.site_methods,
            closures: &callee.closures,
            inliner: self.input.inliner,
        };
        let plan_input = PlanInput {
            code,
            facts: callee.facts,
            numbers: &numbers,
            arity: callee.function.arity,
            feedback: input.feedback,
            entry_at: None,
            entry_types: &entry_types,
        };
        let plan = Plan::new(&plan_input);
        let exit = self.builder.create_block();
        let result = self.builder.append_block_param(exit, types::I64);
        let frame = FrameValues {
            ctx: self.ctx,
            base,
            closure: site.closure,
            function: self.builder.ins().iconst(types::I64, known.function as i64),
            raised: self.raised,
        };
        let mut records =
            self.inlined.as_ref().map(|outer| outer.records.clone()).unwrap_or_default();
        records.push(record);
        let depth = self.inline_depth() + 1;
        let code_start = known.code;
        let inlined = Inlined { depth, exit, frames: site.frames, records, code_start };
        let builder = &mut *self.builder;
        let helpers = self.helpers;
        let mut inner =
            Lower::of_frame(builder, &input, &plan_input, plan, helpers, frame, Some(inlined));
        inner.inlined_bytes = self.inlined_bytes + callee.function.chunk.code.len();
        inner.entry_signature = self.entry_signature;
        for (slot, (ty, value)) in (0..).zip(arguments) {
            match ty {
                Ty::Number => inner.def_float(slot, value),
                Ty::Any => inner.def_boxed(slot, value),
            }
        }
        // The caller wrote its slots back before the call.
        inner.mark_clean(0..arity + 1);
        inner.body(code);
        let (speculations, inlined_bytes) = (inner.speculations, inner.inlined_bytes);
        let number = inner.returns_numbers;
        self.entry_signature = inner.entry_signature;
        self.speculations.add(&speculations);
        self.speculations.inlined_calls += 1;
        self.inlined_bytes = inlined_bytes;

        self.builder.switch_to_block(exit);
        self.builder.ins().store(trusted(), result, return_to, 0);
        (result, number)
    }
}
