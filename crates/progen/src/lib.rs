//! Random Lox programs that are valid, terminate quickly and are
//! deterministic, for differential testing of Strata's engines: whatever
//! [`generate`] writes, every engine must print the same bytes on stdout
//! and stderr and end the same way. [`check`] runs a program every way
//! (`differential.rs`); [`arbitrary_module`] builds plausible bytecode
//! modules for fuzzing the loader, the verifier and the VM (`module.rs`).
//! Only tests and fuzz targets use this crate.
//!
//! The generator's files: `generator.rs` (state, choices, output, scope
//! lookups), `scope.rs` (the model of scopes and functions), `ty.rs` (its
//! static types), `stmt.rs` (statements, loops, functions), `class.rs`,
//! `expr.rs`, `fault.rs` (deliberate runtime errors and runaway recursion),
//! `config.rs` (the knobs).
//!
//! # Design
//!
//! The input is an [`arbitrary::Unstructured`], so one generator serves a
//! seeded test (bytes from a PRNG) and a coverage-guided fuzzer (bytes from
//! libFuzzer). Every choice draws from it, and when it runs out every draw
//! is 0, which the generator always reads as "the choice that ends things
//! soonest" (stop the block, write a leaf), so any input gives a program.
//!
//! **Valid.** The generator writes text directly while keeping a model of
//! what is in scope (`scope.rs`): lexical scopes of variables, the stack of
//! enclosing functions and what `this` may do there. It declares only fresh
//! names, or shadows a name from an *enclosing* scope, so no scope declares
//! a name twice; the name being declared is hidden from its own
//! initializer; `this` appears only in methods, `super` only in methods of
//! subclasses, `return` only in functions, and an initializer returns no
//! value. LOX.md's limits are kept per function with room to spare: local
//! slots, captured variables and literals are counted and held under
//! ~180 of the 256 allowed, and sizes (statements, nesting of statements
//! and expressions, parameters) are small, so no jump comes near 65535
//! bytes and no nesting near the parser's limit.
//!
//! **Runs into errors only on purpose.** Lox is dynamically typed, but the
//! generator gives every variable, parameter, field name, method name and
//! function result a static type (`ty.rs`) and keeps it: assignments store
//! only values of that type, calls pass arguments of the parameters' types,
//! and method and field names have one type program-wide, so an override or
//! a field that shadows a method fits every caller. An initializer first
//! runs its superclass's, then sets the class's *guaranteed* fields (the
//! only ones read later), so any constructed instance has them. Inside an
//! initializer `this` may only set fields and read those already set: the
//! instance may be a subclass's whose fields come later. Runtime errors
//! come from `fault.rs`, as single statements at a rate set by
//! [`Config::faults_per_mille`]: bad operands, calling a non-function,
//! wrong arity, undefined variables and properties, properties of
//! non-instances, a superclass that is not a class. Some programs
//! ([`Config::overflow_percent`]) end in a runaway recursion of one of
//! several shapes, which must give `Stack overflow.` at the same depth.
//!
//! **Terminates.** Every loop has a fresh counter, compared with a small
//! literal bound and incremented at the end of the body (or in the `for`
//! clause); counters are *frozen* in the model, so nothing else assigns
//! them, and Lox has no `break`/`continue` that could skip the increment.
//! Calls cannot be bounded the same way (fields, bound methods, overrides
//! and closures make the call graph anything), so every generated function
//! and method starts with the prologue `if (fuel < 1) return DEFAULT; fuel
//! = fuel - 1;` on the global `fuel`, set to [`Config::fuel`] at the top of
//! the program: once it is spent every call returns at once, so total work
//! is bounded by the fuel times the (bounded) work of one body. `DEFAULT` is
//! a value of the function's result type; for a function that returns
//! functions it is one of the do-nothing `dflt...` functions declared at
//! the top. Initializers set their guaranteed fields before the prologue,
//! so an exhausted instance is still complete. The runaway recursions have
//! no prologue; they stop at the engines' frame limit.
//!
//! **Deterministic.** `clock` is printed but never called; nothing else in
//! Lox depends on the outside world.
//!
//! # What it exercises
//!
//! Classes with inheritance and overrides, `super` calls and bound `super`
//! methods, `init` explicit, inherited and re-run, fields added in
//! different orders (so inline caches see several shapes), fields shadowing
//! methods, bound methods stored and called later, closures over locals,
//! parameters, loop counters and upvalues of upvalues, closures returned
//! from their scope (closure factories), early `return` anywhere with dead
//! code after it, local functions and classes, every loop form (`for` with
//! and without each clause), `and`/`or`, string concatenation and
//! equality, NaN, infinities and `-0`, printing of every kind of value, and
//! globals and global functions redefined.

mod class;
mod config;
mod differential;
mod expr;
mod fault;
mod generator;
mod module;
mod scope;
mod stmt;
mod ty;

pub use config::Config;
pub use differential::{RUN_LIMIT, Run, check, check_aot, runs, with_watchdog};
pub use module::{ModuleOptions, WILD, arbitrary_module};

use arbitrary::Unstructured;

use crate::generator::Gen;
use crate::ty::Ty;

/// A generated program: its text, and where each top-level statement
/// starts, so that it can also be fed to a session one statement at a time
/// (as the REPL does).
#[derive(Debug, Clone)]
pub struct Program {
    pub text: String,
    /// Byte offsets into `text`, increasing, the first 0.
    pub entries: Vec<usize>,
}

impl Program {
    /// The text split at `entries`.
    pub fn entry_texts(&self) -> Vec<&str> {
        let mut ends: Vec<usize> = self.entries[1..].to_vec();
        ends.push(self.text.len());
        self.entries.iter().zip(ends).map(|(&start, end)| &self.text[start..end]).collect()
    }
}

/// A valid, terminating, deterministic Lox program drawn from `u`.
pub fn generate(u: &mut Unstructured<'_>, config: &Config) -> Program {
    let mut generator = Gen::new(u, config.clone());
    generator.declare("fuel", Ty::Num, true);
    let overflow_at =
        generator.chance(config.overflow_percent, 100).then(|| generator.below(8) as u32);
    let mut written = 0;
    let mut starts = vec![0];
    while generator.more() {
        if overflow_at == Some(written) {
            generator.overflow();
        }
        generator.statement(0);
        starts.push(generator.written());
        written += 1;
    }
    if overflow_at.is_some_and(|at| at >= written) {
        generator.overflow();
    }
    let defaults = generator.defaults.clone();
    let body = generator.finish();

    let mut prelude = format!("var fuel = {};\n", config.fuel);
    for (arity, ret) in defaults {
        let params: Vec<String> = (0..arity).map(|i| format!("a{i}")).collect();
        let (suffix, value) =
            [("num", "0"), ("str", "\"\""), ("bool", "false"), ("any", "nil")][ret as usize];
        prelude.push_str(&format!(
            "fun dflt{arity}{suffix}({}) {{ return {value}; }}\n",
            params.join(", ")
        ));
    }
    // The prelude is the first entry; the statements' offsets move past it.
    let mut entries = vec![0];
    let body_len = body.len();
    entries.extend(starts.iter().filter(|&&at| at < body_len).map(|at| at + prelude.len()));
    entries.dedup();
    Program { text: prelude + &body, entries }
}
