//! The `tree` engine: runs a resolved syntax tree directly.
//!
//! It stands on the shared runtime (values, heap, GC, printing, errors), and
//! lays its frames out in the runtime's value stack as the bytecode VM does,
//! with captured variables as open/closed upvalues. What makes a tree-walker
//! fast is all decided before it runs: variables are slots (locals, upvalue
//! indices, global slots), and names and literals are interned once.

mod call;
mod engine;
mod interp;

pub use engine::TreeWalker;
