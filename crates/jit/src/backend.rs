//! Cranelift, set up for this machine: one `JITModule` that every compiled
//! function goes into, with the runtime helpers linked by symbol.

use std::mem::ManuallyDrop;

use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::FunctionBuilderContext;
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::Module;
use runtime::abi::CompiledEntry;
use vm::FunctionCode;

use codegen::{
    CalleeInput, CantCompile, Compiled, FunctionInput, Inliner, KnownClosure, KnownField,
    KnownFunction, KnownMethod,
};
use runtime::{CacheHit, Gc, ObjClass, ObjClosure, ObjFunction};

/// The code generator's state, kept across compiles.
pub(crate) struct Backend {
    /// Freed by hand on drop (a `JITModule` never frees its code itself).
    module: ManuallyDrop<JITModule>,
    ctx: cranelift_codegen::Context,
    builder_ctx: FunctionBuilderContext,
}

impl Backend {
    /// Set Cranelift up for the host, or say why it cannot be.
    pub(crate) fn new() -> Result<Backend, String> {
        let mut flags = settings::builder();
        for (name, value) in [
            // The JIT links by absolute address; machine code goes anywhere
            // in the address space.
            ("use_colocated_libcalls", "false"),
            ("is_pic", "false"),
            ("opt_level", "speed"),
            // Profilers (`perf`) walk compiled frames by frame pointer.
            ("preserve_frame_pointers", "true"),
            // Cranelift's IR verifier checks the lowering's output: in
            // debug builds (and so in the fuzz targets), not in releases.
            ("enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" }),
        ] {
            flags.set(name, value).map_err(|error| format!("{name}: {error}"))?;
        }
        let isa = cranelift_native::builder()
            .map_err(|why| why.to_string())?
            .finish(settings::Flags::new(flags))
            .map_err(|error| error.to_string())?;
        let mut builder = JITBuilder::with_isa(isa, cranelift_module::default_libcall_names());
        for (symbol, address) in vm::HELPERS {
            builder.symbol(*symbol, address.0);
        }
        let module = JITModule::new(builder);
        Ok(Backend {
            ctx: module.make_context(),
            module: ManuallyDrop::new(module),
            builder_ctx: FunctionBuilderContext::new(),
        })
    }

    /// The instruction set code is made for.
    pub(crate) fn isa_name(&self) -> &'static str {
        self.module.isa().name()
    }

    /// Compile `function`, speculating on its type feedback as it stands,
    /// and make its code executable.
    pub(crate) fn compile(
        &mut self,
        function: &FunctionCode<'_>,
        want_ir: bool,
        stress_deopt: bool,
    ) -> Result<(CompiledEntry, Compiled), CantCompile> {
        let feedback = feedback(function);
        let global_functions = known_global_functions(function);
        let defined_globals = defined_globals(function);
        let site_functions = known_site_functions(function);
        let call_functions = known_call_functions(function);
        let site_fields = known_fields(function);
        let site_methods = known_methods(function);
        let closures = known_closures(function);
        let inliner = Callees { of: function };
        let input = FunctionInput {
            function: function.function,
            facts: function.facts,
            entry_at: function.entry_at,
            feedback: Some(&feedback),
            stress_deopt,
            generation: function.generation,
            global_functions: &global_functions,
            defined_globals: &defined_globals,
            site_functions: &site_functions,
            call_functions: &call_functions,
            site_fields: &site_fields,
            site_methods: &site_methods,
            closures: &closures,
            inliner: Some(&inliner),
        };
        let compiled = codegen::compile_function(
            &mut *self.module,
            &mut self.ctx,
            &mut self.builder_ctx,
            None,
            &input,
            want_ir,
        )?;
        self.module
            .finalize_definitions()
            .map_err(|error| CantCompile::Cranelift(error.to_string()))?;
        let code = self.module.get_finalized_function(compiled.id);
        // SAFETY: `compile_function` made this function with the signature
        // of `CompiledEntry` (`codegen::lower`), in the platform's C calling
        // convention, and it stays executable while the module lives (the
        // VM drops its tier after its heap, so no entry cell outlives it).
        let entry = unsafe { std::mem::transmute::<*const u8, CompiledEntry>(code) };
        Ok((entry, compiled))
    }
}

/// The callees the lowering may inline: any function of the VM, with its
/// feedback and its sites' knowledge as they stand.
struct Callees<'a> {
    of: &'a FunctionCode<'a>,
}

impl Inliner for Callees<'_> {
    fn callee(&self, known: &KnownFunction) -> Option<CalleeInput<'_>> {
        let callee = self.of.other(known.proto)?;
        if callee.object.as_ptr() as u64 != known.function {
            return None;
        }
        Some(CalleeInput {
            feedback: feedback(&callee),
            site_functions: known_site_functions(&callee),
            call_functions: known_call_functions(&callee),
            site_fields: known_fields(&callee),
            site_methods: known_methods(&callee),
            closures: known_closures(&callee),
            function: callee.function,
            facts: callee.facts,
        })
    }
}

/// The function's type feedback as it stands.
fn feedback(function: &FunctionCode<'_>) -> Vec<u8> {
    function.object.feedback.iter().map(std::cell::Cell::get).collect()
}

/// By property site, the functions of the methods its cache has found, in
/// the order it found them: none unless every key it saw found a method
/// (and it is not megamorphic). A closure two classes share (an inherited
/// method) is one callee.
fn known_site_functions(function: &FunctionCode<'_>) -> Vec<Vec<KnownFunction>> {
    let known_methods = |cache: &runtime::InlineCache| {
        let mut closures: Vec<Gc<ObjClosure>> = Vec::new();
        for hit in cache.hits() {
            let CacheHit::Method(closure) = hit else { return Vec::new() };
            if !closures.contains(&closure) {
                closures.push(closure);
            }
        }
        closures.into_iter().filter_map(|closure| known(function.heap, closure)).collect()
    };
    function.object.caches.iter().map(known_methods).collect()
}

/// By call site (`ObjFunction::callees`), the functions whose closures the
/// site has called, in the order it first called them: none if it called
/// more than `ObjFunction::CALL_WAYS`. Any closure of them may come: the
/// code compares the callee's function, not the closure.
fn known_call_functions(function: &FunctionCode<'_>) -> Vec<Vec<KnownFunction>> {
    let of_address = |address: usize| {
        // SAFETY: a callee cell holds the address of a function object the
        // VM loaded, which it pins for its life.
        let callee = unsafe { runtime::ObjRef::from_addr(address) }.downcast::<ObjFunction>()?;
        known_function(callee, None)
    };
    let object = function.object;
    let site = |site| object.site_callees(site).into_iter().filter_map(of_address).collect();
    (0..object.call_sites()).map(site).collect()
}

/// By global slot, the function of the closure each global holds now, or
/// the initializer of the class it holds, if the class has been used (so
/// its methods are final: `ObjClass::seal`). The VM pins every function
/// object it loads, so the code may name one by its address for as long as
/// it exists; the class is kept alive as the closures are (`known`).
fn known_global_functions(function: &FunctionCode<'_>) -> Vec<Option<KnownFunction>> {
    let globals = function.globals;
    let known_global = |slot| {
        let value = globals.get(slot);
        if let Some(closure) = value.downcast::<ObjClosure>() {
            return known(function.heap, closure);
        }
        let class = value.downcast::<ObjClass>().filter(|class| class.is_sealed())?;
        let init = known(function.heap, class.initializer()?)?;
        function.heap.pin_for_code(value);
        Some(KnownFunction { class: Some(class.as_ptr() as u64), ..init })
    };
    (0..globals.len()).map(known_global).collect()
}

/// By global slot, whether the global is defined now (and so for as long
/// as the code runs: nothing undefines a global).
fn defined_globals(function: &FunctionCode<'_>) -> Vec<bool> {
    let globals = function.globals;
    (0..globals.len()).map(|slot| !globals.get(slot).is_undefined()).collect()
}

/// By property site, the keys its cache has found (shapes; a `super`
/// site's superclass) with what `select` takes from each one's hit, made
/// into what the code is given by `make`, in the order the cache found
/// them: none unless `select` takes every hit (and the cache is not
/// megamorphic). Each such key is kept alive until the tier's code is
/// dropped (`Heap::pin_for_code`; the VM lets go at the reset), so no
/// other object can take its address while the code compares with it.
fn known_keys<H, T>(
    function: &FunctionCode<'_>,
    select: impl Fn(CacheHit) -> Option<H>,
    make: impl Fn(runtime::ObjRef, H) -> T,
) -> Vec<Vec<T>> {
    let known = |cache: &runtime::InlineCache| {
        let hits: Option<Vec<(runtime::ObjRef, H)>> =
            cache.keyed_hits().map(|(key, hit)| Some((key, select(hit)?))).collect();
        let pin = |(key, hit): (runtime::ObjRef, H)| {
            function.heap.pin_for_code(runtime::Value::object(key));
            make(key, hit)
        };
        hits.unwrap_or_default().into_iter().map(pin).collect()
    };
    function.object.caches.iter().map(known).collect()
}

/// By property site, the shapes its cache has found and the index of the
/// field each has, or adds (with the shape a set then moves the instance
/// to, kept alive as the keys are): none unless every key it saw found a
/// field or added one.
fn known_fields(function: &FunctionCode<'_>) -> Vec<Vec<KnownField>> {
    let field = |hit| match hit {
        CacheHit::Field(index) => Some((index, None)),
        CacheHit::AddField(adds) => Some((adds.len() - 1, Some(adds))),
        _ => None,
    };
    known_keys(function, field, |shape, (index, adds): (u32, Option<Gc<runtime::ObjShape>>)| {
        if let Some(adds) = adds {
            function.heap.pin_for_code(runtime::Value::object(adds.as_obj()));
        }
        let adds = adds.map(|adds| adds.as_ptr() as u64);
        KnownField { shape: shape.addr() as u64, index, adds }
    })
}

/// By property site, the keys its cache has found and the method each
/// finds: none unless every key it saw found a method. The methods are
/// kept alive as the keys are.
fn known_methods(function: &FunctionCode<'_>) -> Vec<Vec<KnownMethod>> {
    let method = |hit| match hit {
        CacheHit::Method(closure) => Some(closure),
        _ => None,
    };
    known_keys(function, method, |key, closure: Gc<ObjClosure>| {
        function.heap.pin_for_code(closure.to_value());
        KnownMethod { shape: key.addr() as u64, closure: closure.as_ptr() as u64 }
    })
}

/// The functions `function`'s `Closure` instructions make closures of (the
/// VM keeps every function it loads alive).
fn known_closures(function: &FunctionCode<'_>) -> Vec<KnownClosure> {
    let operands = bytecode::instructions(&function.function.chunk.code)
        .filter_map(Result::ok)
        .filter(|instruction| instruction.op == bytecode::Op::Closure)
        .map(|instruction| instruction.operand);
    let known = |operand| {
        let nested = function.nested(operand)?;
        let captures = nested.function.captures.clone();
        // The code stores one value per capture into a closure that
        // `new_closure` sizes by the function object's count: the two
        // agree (the VM makes the count from the list, which the verifier
        // bounds), and a closure is known only if they do.
        if captures.len() != usize::from(nested.object.upvalue_count) {
            return None;
        }
        Some(KnownClosure { operand, function: nested.object.as_ptr() as u64, captures })
    };
    operands.filter_map(known).collect()
}

/// `closure` and its function, as the code generator may name them. The
/// closure is kept alive until the tier's code is dropped
/// (`Heap::pin_for_code`), so no other closure can take its address while
/// code compares callees with it; the function is pinned for the VM's life.
fn known(heap: &runtime::Heap, closure: Gc<ObjClosure>) -> Option<KnownFunction> {
    let known = known_function(closure.function, Some(closure.as_ptr() as u64))?;
    heap.pin_for_code(closure.to_value());
    Some(known)
}

/// `function` as the code generator may name it (the VM pins every
/// function it loads), expected as `closure` if that is given; `None` if
/// it has no bytecode in the VM.
fn known_function(function: Gc<ObjFunction>, closure: Option<u64>) -> Option<KnownFunction> {
    let code = function.code.get();
    (!code.is_null()).then(|| KnownFunction {
        function: function.as_ptr() as u64,
        arity: function.arity,
        code: code as u64,
        proto: function.proto,
        closure,
        class: None,
    })
}

impl Drop for Backend {
    fn drop(&mut self) {
        // Nothing else frees a JITModule's code. Nothing can call it after
        // this: the VM owning this tier dropped its heap, and with it every
        // function's entry cell, first.
        // SAFETY: `module` is not used after this (we are in its owner's
        // drop), and, as above, no pointer into its code is used again.
        unsafe { ManuallyDrop::take(&mut self.module).free_memory() };
    }
}
