//! The driver's API as embedders use it, one module per subject. They are
//! one test binary rather than four because each binary links the whole
//! runtime and Cranelift (with LTO), which costs CI a minute apiece.

mod crafted;
mod entries;
mod limits;
mod stopping;
