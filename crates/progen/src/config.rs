//! The generator's knobs.

/// How big and how adventurous generated programs are.
///
/// The defaults make programs of a few dozen to a few hundred lines that run
/// in well under a millisecond on every engine, which is what a
/// differential test wants: many small programs rather than few big ones.
#[derive(Debug, Clone)]
pub struct Config {
    /// Statements in the whole program, counting nested ones and the
    /// bodies of functions and methods. Generation also stops when the
    /// input bytes run out.
    pub max_statements: u32,
    /// How deep statements nest: blocks, `if`, loops, function and class
    /// bodies each add a level.
    pub max_depth: u32,
    /// How deep expressions nest.
    pub max_expr_depth: u32,
    /// The most iterations of any loop (the counter the body cannot change).
    pub max_loop_iterations: u32,
    /// How many calls the program may make before every generated function
    /// returns at once (the `fuel` global; see the crate doc). Bounds the
    /// running time whatever the call graph.
    pub fuel: u32,
    /// Out of 1000 statements, how many are a deliberate runtime error.
    pub faults_per_mille: u32,
    /// Out of 100 programs, how many contain a runaway recursion, which
    /// must end in `Stack overflow.` on every engine.
    pub overflow_percent: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_statements: 150,
            max_depth: 5,
            max_expr_depth: 3,
            max_loop_iterations: 4,
            fuel: 400,
            faults_per_mille: 4,
            overflow_percent: 3,
        }
    }
}
