//! Bytecode to machine code, through Cranelift, for every engine that makes
//! machine code: the JIT (with `cranelift_jit::JITModule`) and the AOT
//! compiler (with `cranelift_object::ObjectModule`). It is generic over
//! `cranelift_module::Module` and knows nothing of tiering, code caches or
//! files.
//!
//! The code keeps the VM's frame (DESIGN.md invariant 6, `docs/jit.md`):
//! every stack slot is a Cranelift variable between safepoints, and before
//! any helper that can allocate, raise or run Lox code, every live slot is
//! written back to the VM stack and the frame's resume point is recorded.
//! So the collector needs no stack maps, and traces are the VM's.
//!
//! - [`compile_function`]: one bytecode function to one machine function of
//!   the `abi::CompiledEntry` signature, or [`CantCompile`] (the function
//!   stays in the interpreter; never an error of the program).
//! - [`Helper`]: the runtime helpers the code calls, by symbol.
//! - [`lowering`]: which opcodes are lowered, and why the others are not.

mod helpers;
mod lower;
mod lowering;
mod types;

pub use helpers::Helper;
pub use lower::{
    CalleeInput, CantCompile, Compiled, FunctionInput, INLINED_SHIFT, Inliner, KnownClosure,
    KnownField, KnownFunction, KnownMethod, MAX_FUNCTION_BYTES, Speculations, compile_function,
};
pub use lowering::{Lowering, lowering};
