//! A whole module to one object file.
//!
//! The object file holds:
//! - one machine function per bytecode function that `codegen` lowered
//!   (local symbols `lox:INDEX:NAME`), made with no type feedback and no
//!   known functions: nothing is speculated, so nothing deoptimizes;
//! - `strata_program`: the module as a bytecode file (`.loxc` bytes), which
//!   the runtime verifies and loads at start;
//! - `strata_code`: one pointer per function of the module, to its machine
//!   code, or null where the function was not lowered (the VM runs it);
//! - `main`, which hands those to `strata_rt_main` (`rt`).
//!
//! Code is made for the host's architecture at its baseline (no features
//! detected on the building machine), so an executable runs on any machine
//! of that architecture, and the same module always gives the same bytes.

use bytecode::{Facts, Module as Bytecode};
use codegen::FunctionInput;
use cranelift_codegen::ir::{AbiParam, InstBuilder, UserFuncName, types};
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_module::{DataDescription, FuncId, Linkage, Module};
use cranelift_object::{ObjectBuilder, ObjectModule};

/// What [`compile`] made.
#[derive(Debug)]
pub struct Built {
    /// The object file's bytes.
    pub object: Vec<u8>,
    /// Each function of the module, in module order.
    pub functions: Vec<FunctionBuilt>,
    /// Every lowered function's Cranelift IR, if asked for.
    pub clif: Option<String>,
}

/// What became of one function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionBuilt {
    /// Its name as traces show it (`<script>` for the top level).
    pub name: String,
    /// Bytes of bytecode.
    pub bytecode_bytes: usize,
    /// Bytes of machine code, or why it was not lowered (it runs in the
    /// VM linked into the executable).
    pub machine_code: Result<u32, String>,
}

/// Why no object file could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// No code generator for this machine.
    Host(String),
    /// The module does not fit the bytecode file format.
    TooLarge(String),
    /// Cranelift could not write the object file.
    Object(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Host(why) => write!(f, "no machine code for this host: {why}"),
            BuildError::TooLarge(why) => write!(f, "{why}"),
            BuildError::Object(why) => write!(f, "cannot write the object file: {why}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Compile `module`, which passed the verifier with `facts` and numbers
/// its globals as every session does (the natives first), to an object
/// file. A function the code generator declines stays bytecode, run by the
/// executable's VM: a program never fails to build for want of a lowering.
/// With `want_clif`, the result carries every lowered function's IR.
pub fn compile(module: &Bytecode, facts: &Facts, want_clif: bool) -> Result<Built, BuildError> {
    let program = bytecode::write_module(module)
        .map_err(|too_large| BuildError::TooLarge(too_large.to_string()))?;
    let mut object = ObjectModule::new(
        ObjectBuilder::new(isa()?, "strata-program", cranelift_module::default_libcall_names())
            .map_err(|error| BuildError::Host(error.to_string()))?,
    );
    let mut ctx = object.make_context();
    let mut builder_ctx = FunctionBuilderContext::new();
    let mut functions = Vec::with_capacity(module.functions.len());
    let mut ids = Vec::with_capacity(module.functions.len());
    let mut clif = want_clif.then(String::new);
    for (index, (function, facts)) in module.functions.iter().zip(&facts.functions).enumerate() {
        let name = function.name.clone().unwrap_or_else(|| "<script>".to_string());
        let input = FunctionInput {
            function,
            facts,
            entry_at: None,
            feedback: None,
            stress_deopt: false,
            generation: 0,
            global_functions: &[],
            defined_globals: &[],
            site_functions: &[],
            call_functions: &[],
            site_fields: &[],
            site_methods: &[],
            closures: &[],
            inliner: None,
        };
        let symbol = format!("lox:{index}:{name}");
        let compiled = codegen::compile_function(
            &mut object,
            &mut ctx,
            &mut builder_ctx,
            Some((&symbol, Linkage::Local)),
            &input,
            want_clif,
        );
        let machine_code = match compiled {
            Ok(compiled) => {
                if let (Some(out), Some(ir)) = (&mut clif, &compiled.ir) {
                    out.push_str(&format!("; {symbol}\n{ir}\n"));
                }
                ids.push(Some(compiled.id));
                Ok(compiled.code_size)
            }
            Err(why) => {
                ids.push(None);
                Err(why.to_string())
            }
        };
        let bytecode_bytes = function.chunk.code.len();
        functions.push(FunctionBuilt { name, bytecode_bytes, machine_code });
    }
    define_start(&mut object, &mut ctx, &mut builder_ctx, &program, &ids)
        .map_err(|error| BuildError::Object(error.to_string()))?;
    let object = object.finish().emit().map_err(|error| BuildError::Object(error.to_string()))?;
    Ok(Built { object, functions, clif })
}

/// The host's instruction set at its baseline, for position-independent
/// code (executables are PIE), keeping frame pointers (for `perf`).
fn isa() -> Result<cranelift_codegen::isa::OwnedTargetIsa, BuildError> {
    let mut flags = settings::builder();
    for (name, value) in [
        ("is_pic", "true"),
        ("opt_level", "speed"),
        ("preserve_frame_pointers", "true"),
        ("enable_verifier", if cfg!(debug_assertions) { "true" } else { "false" }),
    ] {
        flags.set(name, value).map_err(|error| BuildError::Host(format!("{name}: {error}")))?;
    }
    cranelift_native::builder_with_options(false)
        .map_err(|why| BuildError::Host(why.to_string()))?
        .finish(settings::Flags::new(flags))
        .map_err(|error| BuildError::Host(error.to_string()))
}

/// The program's data (`strata_program`, `strata_code`) and `main`, which
/// calls `strata_rt_main(program, program_len, code, code_len)` and
/// returns its exit code.
fn define_start(
    object: &mut ObjectModule,
    ctx: &mut cranelift_codegen::Context,
    builder_ctx: &mut FunctionBuilderContext,
    program: &[u8],
    ids: &[Option<FuncId>],
) -> Result<(), Box<cranelift_module::ModuleError>> {
    let program_id = object.declare_data("strata_program", Linkage::Local, false, false)?;
    let mut data = DataDescription::new();
    data.define(program.into());
    data.set_align(8);
    object.define_data(program_id, &data)?;

    let code_id = object.declare_data("strata_code", Linkage::Local, false, false)?;
    let mut data = DataDescription::new();
    data.define(vec![0; ids.len() * 8].into_boxed_slice());
    data.set_align(8);
    for (index, id) in ids.iter().enumerate() {
        if let Some(id) = id {
            let function = object.declare_func_in_data(*id, &mut data);
            data.write_function_addr(index as u32 * 8, function);
        }
    }
    object.define_data(code_id, &data)?;

    let pointer = object.target_config().pointer_type();
    let mut rt_main = object.make_signature();
    rt_main.params.extend([pointer, pointer, pointer, pointer].map(AbiParam::new));
    rt_main.returns.push(AbiParam::new(types::I32));
    let rt_main = object.declare_function(strata_rt::MAIN_SYMBOL, Linkage::Import, &rt_main)?;
    let mut main = object.make_signature();
    main.params.extend([types::I32, pointer].map(AbiParam::new));
    main.returns.push(AbiParam::new(types::I32));
    let main_id = object.declare_function("main", Linkage::Export, &main)?;

    ctx.func.signature = main;
    ctx.func.name = UserFuncName::user(0, main_id.as_u32());
    let rt_main = object.declare_func_in_func(rt_main, &mut ctx.func);
    let program_value = object.declare_data_in_func(program_id, &mut ctx.func);
    let code_value = object.declare_data_in_func(code_id, &mut ctx.func);
    let mut builder = FunctionBuilder::new(&mut ctx.func, builder_ctx);
    let block = builder.create_block();
    builder.switch_to_block(block);
    builder.append_block_params_for_function_params(block);
    let program_address = builder.ins().symbol_value(pointer, program_value);
    let program_len = builder.ins().iconst(pointer, program.len() as i64);
    let code_address = builder.ins().symbol_value(pointer, code_value);
    let code_len = builder.ins().iconst(pointer, ids.len() as i64);
    let call = builder.ins().call(rt_main, &[program_address, program_len, code_address, code_len]);
    let status = builder.inst_results(call)[0];
    builder.ins().return_(&[status]);
    builder.seal_all_blocks();
    builder.finalize(object.target_config());
    object.define_function(main_id, ctx)?;
    object.clear_context(ctx);
    Ok(())
}
