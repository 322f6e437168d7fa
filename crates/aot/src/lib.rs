//! Ahead-of-time compilation (`strata build`): a whole verified bytecode
//! module to one object file, through the same lowering as the JIT
//! (`codegen`, here over `cranelift_object::ObjectModule`), then linked by
//! the system's C compiler driver with the runtime library (`rt`,
//! `libstrata_rt.a`) into a standalone executable.
//!
//! - [`compile`]: the object file, and what became of each function.
//! - [`link`]: the executable.
//!
//! What an executable holds, and how it starts, is `docs/aot.md`.

mod link;
mod object;

pub use link::{LinkError, link, runtime_library};
pub use object::{BuildError, Built, FunctionBuilt, compile};
