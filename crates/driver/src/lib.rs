//! The one door to Strata's engines: pick an [`Engine`], hand it source,
//! get an [`Outcome`].
//!
//! The driver owns what every engine shares around a run: decoding the
//! source, the front end, the native stack the engines recurse on, and the
//! exact text of compile and runtime errors. It writes program output to
//! `out` and diagnostics to `err`; it never touches the terminal or the file
//! system, and never picks an exit code (that is the CLI's job).

mod build;
mod diagnostics;
mod engine;
mod listing;
mod session;
mod stats;

pub use aot::{Built, FunctionBuilt, LinkError, link};
pub use build::{BuildError, BuildInput, build};
pub use diagnostics::DiagnosticStyle;
pub use engine::{Engine, UnknownEngine};
pub use jit::ListingOptions;
pub use listing::{Listing, ListingError, disassemble, disassemble_bytecode};
pub use runtime::CacheCounts;
pub use runtime::{GcConfig, GcLog, GcReport, GcStats, Interrupt};
pub use session::{
    JitConfig, LoadError, Options, Outcome, Session, compile_to_bytes, is_bytecode, run,
};
pub use stats::RunStats;
pub use vm::TierStats;
