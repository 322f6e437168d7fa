//! The `vm` engine: runs bytecode modules on the shared runtime.
//!
//! A [`Vm`] loads modules (interning their constants and making a runtime
//! function object for each function, once) and runs their scripts. Its
//! frames live in the runtime's value stack (DESIGN.md invariant 6): slot 0
//! is the callee or `this`, then arguments, locals and temporaries, exactly
//! as the tree-walker lays them out. Call frames are records in a vector
//! reserved up front, so a call allocates nothing.
//!
//! The VM trusts its input as far as the verifier has checked it: opcodes
//! are valid, indices are in range and stack depths are consistent, so the
//! dispatch loop (`run.rs`) decodes and indexes without checks. Every module
//! the VM runs has passed `bytecode::verify`: the driver verifies files on
//! load and the compiler's output as it is compiled.
//!
//! Property sites have inline caches keyed by shape (`runtime::InlineCache`),
//! held on each function's runtime object.

mod call;
mod native;
mod run;

use std::cell::{Cell, RefCell};
use std::io::Write;

use bytecode::{Constant, Facts, FunctionFacts, Module};
use runtime::abi::CompiledEntry;
use runtime::{CacheCounts, Gc, Heap, HeapOptions, InlineCache, ObjFunction, RuntimeError, Value};

pub use native::HELPERS;

/// A function as the VM runs it: its code, what the verifier proved of it,
/// its constants as runtime values (pinned), and its runtime object
/// (pinned).
pub(crate) struct Loaded {
    pub(crate) function: bytecode::Function,
    pub(crate) facts: FunctionFacts,
    pub(crate) constants: Vec<Value>,
    /// On-stack-replacement entries asked for, by loop header (`None`:
    /// the tier declined).
    pub(crate) osr: RefCell<Vec<(u32, Option<CompiledEntry>)>>,
    pub(crate) object: Gc<ObjFunction>,
    /// Where the module this function came from starts in `Vm::functions`
    /// (its `Closure` operands are relative to that).
    pub(crate) module_base: u32,
    /// How many times its machine code was forgotten: code compiled since
    /// the last time carries this number (`FunctionCode::generation`), so a
    /// deoptimization can tell the function's current code from code
    /// already dropped that is still running.
    pub(crate) generation: Cell<u32>,
}

impl Loaded {
    /// Forget this function's machine code (its entry and every OSR entry):
    /// it starts over in the VM, counting calls and back-edges from zero.
    /// Code already running goes on; nothing new enters it.
    pub(crate) fn forget_code(&self) {
        self.generation.set(self.generation.get().wrapping_add(1));
        self.object.entry.set(None);
        self.object.calls.set(0);
        self.object.backedges.set(0);
        self.osr.borrow_mut().clear();
    }

    /// This function as a tier gets it, entered at `entry_at`, with the
    /// globals as they are now.
    pub(crate) fn code<'a>(
        &'a self,
        entry_at: Option<usize>,
        heap: &'a Heap,
        functions: &'a [Loaded],
    ) -> FunctionCode<'a> {
        FunctionCode {
            functions,
            globals: heap.globals(),
            heap,
            index: self.object.proto as usize,
            function: &self.function,
            facts: &self.facts,
            object: self.object,
            entry_at,
            generation: self.generation.get(),
        }
    }
}

/// A compiler the VM hands hot functions to: the JIT. The VM counts the
/// calls of every function; when a count reaches the tier's threshold the
/// function is offered, once, and the machine code returned (if any) runs
/// its later calls.
///
/// A VM drops its tier after its heap, so a tier may free its code on drop.
///
/// Loops get hot too: the VM also counts each function's back-edges, and
/// when a count reaches `loop_threshold` it offers the function with an
/// on-stack-replacement entry at that loop's header (`FunctionCode::
/// entry_at`), and runs the rest of the frame in that code.
pub trait Tier {
    /// Calls after which a function is offered (0 and 1: at its first call).
    fn threshold(&self) -> u32;

    /// Back-edges of a function after which the loop being run is offered
    /// (0 and 1: at the first).
    fn loop_threshold(&self) -> u32;

    /// Machine code for `function`, or `None` to keep it interpreted.
    fn compile(&mut self, function: &FunctionCode<'_>) -> Option<CompiledEntry>;

    /// What the tier has done so far.
    fn stats(&self) -> TierStats;

    /// Optimized code of `function` (its own, or inlined into another's)
    /// failed a guard, as `deopt` says: the VM runs the rest of that frame.
    fn deoptimized(&mut self, function: &FunctionCode<'_>, deopt: &Deopt<'_>) {
        let _ = (function, deopt);
    }

    /// Whether the tier wants all its code dropped (its code memory has
    /// grown past its limit). Asked before each run, when no code of the
    /// tier is running.
    fn wants_reset(&self) -> bool {
        false
    }

    /// Free every piece of code made so far. The VM has emptied every
    /// entry cell first, and no code of the tier is running.
    fn reset(&mut self) {}
}

/// What a tier has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TierStats {
    /// Functions compiled at their entry.
    pub functions: u32,
    /// Loops compiled for on-stack replacement.
    pub loops: u32,
    /// Functions and loops offered but kept in the VM.
    pub declined: u32,
    /// Times optimized code failed a guard and its frame went on in the VM.
    pub deopts: u32,
    /// Bytes of machine code made, in all.
    pub code_bytes: u64,
    /// Bytes of executable memory held now (freed by a reset).
    pub code_memory: u64,
    /// Times all code was dropped to bound its memory.
    pub resets: u32,
    /// Time spent compiling (and setting the compiler up), in all.
    pub compile_time: std::time::Duration,
}

/// A deoptimization, as the VM tells its tier.
pub struct Deopt<'a> {
    /// The guarded instruction's offset, where the frame goes on in the VM,
    /// and its source line.
    pub offset: usize,
    pub line: u32,
    pub reason: runtime::abi::DeoptReason,
    /// Whether code was dropped: the guard failed there for the first time
    /// (the function's code was dropped), or in code the function was
    /// inlined into (that code was). Else the failure came from an older
    /// activation of code already dropped.
    pub dropped: bool,
    /// The function whose code the failing code was inlined into, if any.
    pub host: Option<&'a FunctionCode<'a>>,
}

/// What a tier gets to compile a function with.
pub struct FunctionCode<'a> {
    /// The function's index in the VM (stable for the VM's life).
    pub index: usize,
    pub function: &'a bytecode::Function,
    pub facts: &'a FunctionFacts,
    pub object: Gc<ObjFunction>,
    /// `None`: the function's entry. `Some(offset)`: an entry at the loop
    /// header at `offset` (on-stack replacement).
    pub entry_at: Option<usize>,
    /// The function's code generation: the number a deoptimization of the
    /// code compiled now passes back (`Helper::Deopt`).
    pub generation: u32,
    /// The globals as they are when the function is compiled (a tier may
    /// speculate that a call site keeps calling what a global holds now,
    /// behind a guard).
    pub globals: &'a runtime::Globals,
    /// The heap, to keep alive what the code names by address
    /// ([`Heap::pin_for_code`], until the tier's next reset).
    pub heap: &'a Heap,
    /// Every function the VM has loaded, by index ([`FunctionCode::other`]).
    functions: &'a [Loaded],
}

impl<'a> FunctionCode<'a> {
    /// Another function of the same VM, by its index
    /// (`ObjFunction::proto`), as a tier gets it: to inline it.
    pub fn other(&self, index: u32) -> Option<FunctionCode<'a>> {
        let loaded = self.functions.get(index as usize)?;
        Some(loaded.code(None, self.heap, self.functions))
    }

    /// The function whose closures this one's `Closure` with `operand`
    /// makes (its operands count from its module's first function).
    pub fn nested(&self, operand: u32) -> Option<FunctionCode<'a>> {
        let base = self.functions.get(self.index)?.module_base;
        self.other(base.checked_add(operand)?)
    }
}

/// A bytecode engine: a heap plus every function it has loaded, kept across
/// runs so a REPL's entries share globals.
/// A loaded module's script (its top level), to run with
/// [`Vm::run_script`], once or again. It names a function of the VM that
/// loaded it and means nothing to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Script(usize);

pub struct Vm {
    heap: Heap,
    functions: Vec<Loaded>,
    /// Names of global slots, for `Undefined variable` errors.
    global_names: Vec<String>,
    /// Times a running frame went on in machine code at a loop header.
    osr_entries: Cell<u64>,
    /// Declared after `heap`, so dropped after it: machine code a tier
    /// made is freed with the tier, and by then no function's entry cell
    /// points at it.
    tier: Option<Box<dyn Tier>>,
}

impl Vm {
    /// A fresh VM. `global_slot` gives each native its global slot (the
    /// front end's table, shared with the compiler).
    pub fn new(options: HeapOptions, global_slot: impl FnMut(&str) -> u32) -> Vm {
        let heap = Heap::new(options);
        runtime::define_natives(&heap, global_slot);
        Vm {
            heap,
            functions: Vec::new(),
            global_names: Vec::new(),
            osr_entries: Cell::new(0),
            tier: None,
        }
    }

    /// A VM that offers hot functions to `tier`.
    pub fn with_tier(
        options: HeapOptions,
        global_slot: impl FnMut(&str) -> u32,
        tier: Box<dyn Tier>,
    ) -> Vm {
        Vm { tier: Some(tier), ..Vm::new(options, global_slot) }
    }

    pub fn heap(&self) -> &Heap {
        &self.heap
    }

    /// The state of every inline cache of every loaded function.
    pub fn cache_counts(&self) -> CacheCounts {
        let mut counts = CacheCounts::default();
        for loaded in &self.functions {
            for cache in loaded.object.caches.iter() {
                counts.add(cache);
            }
        }
        counts
    }

    /// Times a running frame went on in machine code at a loop header
    /// (on-stack replacement).
    pub fn osr_entries(&self) -> u64 {
        self.osr_entries.get()
    }

    /// What the tier has done, if there is one.
    pub fn tier_stats(&self) -> Option<TierStats> {
        self.tier.as_ref().map(|tier| tier.stats())
    }

    /// Load `module`, which passed the verifier with `facts`, and run its
    /// script, writing program output to `out`.
    pub fn run(
        &mut self,
        module: Module,
        facts: Facts,
        out: &mut dyn Write,
    ) -> Result<(), RuntimeError> {
        let script = self.load_script(module, facts);
        self.run_script(script, out)
    }

    /// Load `module`, which passed the verifier with `facts`, without
    /// running it yet: its script, to run with [`Vm::run_script`].
    pub fn load_script(&mut self, module: Module, facts: Facts) -> Script {
        let script = self.load(module, facts);
        if self.tier.as_ref().is_some_and(|tier| tier.wants_reset()) {
            self.drop_code();
        }
        Script(script)
    }

    /// Run a loaded script's top level, writing program output to `out`.
    /// It may run again: globals keep what the last run left in them, and
    /// the functions keep their inline caches, feedback and machine code,
    /// as a long-running program's would (`strata run --iterations`).
    pub fn run_script(&mut self, script: Script, out: &mut dyn Write) -> Result<(), RuntimeError> {
        self.execute(script.0, out)
    }

    /// Load `module`, which passed the verifier with `facts`, and give its
    /// functions the machine code made for them ahead of time (`code[i]`
    /// for the module's function `i`; `None`, or an index past the end:
    /// interpreted). [`Vm::run_script`] then runs the script, in that code
    /// if it has some.
    ///
    /// # Safety
    ///
    /// Each entry must have been compiled from this module's function of
    /// its index (as `codegen` lowers it, with no speculation: the VM here
    /// counts nothing and offers nothing to a tier), against this
    /// runtime's ABI (`runtime::abi`), and stay executable for the VM's
    /// life.
    pub unsafe fn load_precompiled(
        &mut self,
        module: Module,
        facts: Facts,
        code: &[Option<CompiledEntry>],
    ) -> Script {
        let base = self.functions.len();
        let script = self.load(module, facts);
        for (loaded, entry) in self.functions[base..].iter().zip(code) {
            loaded.object.entry.set(*entry);
        }
        Script(script)
    }

    /// Run the loaded script at `script` in `functions`.
    fn execute(&mut self, script: usize, out: &mut dyn Write) -> Result<(), RuntimeError> {
        let tier = self.tier.as_deref_mut();
        let result = run::Run::new(&self.heap, &self.functions, &self.global_names, out, tier)
            .counting_osr_in(&self.osr_entries)
            .execute(script);
        let _ = out.flush();
        result
    }

    /// Load `module`, which passed the verifier with `facts`, without
    /// running it: its functions as a tier would get them, in module order
    /// (for listing their machine code, `strata disasm --jit`).
    pub fn load_module(&mut self, module: Module, facts: Facts) -> Vec<FunctionCode<'_>> {
        let base = self.functions.len();
        self.load(module, facts);
        let (heap, functions) = (&self.heap, &self.functions[..]);
        functions[base..].iter().map(|loaded| loaded.code(None, heap, functions)).collect()
    }

    /// Forget every function's machine code, so that the tier can free it
    /// (a long REPL session's code stays bounded): each function starts
    /// over in the VM, counting calls and back-edges from zero. Only
    /// between runs, when no compiled code is running.
    fn drop_code(&mut self) {
        for loaded in &self.functions {
            loaded.forget_code();
        }
        if let Some(tier) = &mut self.tier {
            tier.reset();
        }
        self.heap.unpin_code();
    }

    /// Intern a module's constants and make its function objects (code,
    /// outside the heap limit: see `Heap::alloc_code`); returns the script's
    /// index in `functions`.
    fn load(&mut self, module: Module, facts: Facts) -> usize {
        let base = self.functions.len() as u32;
        // Every global the module names has its slot before it runs, so the
        // globals array does not move while code runs (`runtime::Globals`).
        self.heap.globals().reserve(module.globals.len());
        if module.globals.len() > self.global_names.len() {
            self.global_names = module.globals;
        }
        let functions = module.functions.into_iter().zip(facts.functions);
        for (index, (function, facts)) in functions.enumerate() {
            let mut constants: Vec<Value> = Vec::with_capacity(function.chunk.constants.len());
            for constant in &function.chunk.constants {
                let value = match constant {
                    Constant::Number(n) => Value::number(*n),
                    Constant::String(s) => self.heap.intern_code(s).to_value(),
                };
                self.heap.pin(value);
                constants.push(value);
            }
            let name = function.name.as_deref().map(|name| {
                let name = self.heap.intern_code(name);
                self.heap.pin(name.to_value());
                name
            });
            // One cache per site; its name is a constant, pinned above.
            let caches = function
                .chunk
                .sites
                .iter()
                .map(|&constant| {
                    let name = constants[constant as usize];
                    InlineCache::new(name.downcast().expect("verified sites name strings"))
                })
                .collect();
            let object = self.heap.alloc_code(ObjFunction::with_caches(
                name,
                function.arity,
                function.captures.len() as u16,
                base + index as u32,
                caches,
                function.chunk.code.len(),
                &facts.call_sites,
            ));
            self.heap.pin(object.to_value());
            // The code's and the constants' buffers do not move when
            // `Loaded` does.
            object.code.set(function.chunk.code.as_ptr());
            object.constants.set(constants.as_ptr());
            self.functions.push(Loaded {
                function,
                facts,
                constants,
                osr: RefCell::new(Vec::new()),
                object,
                module_base: base,
                generation: Cell::new(0),
            });
        }
        (base + module.script) as usize
    }
}
