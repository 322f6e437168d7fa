//! Running source: a [`Session`] keeps one engine's state across entries
//! (the REPL), and [`run`] is a one-entry session.

use std::io::Write;

use resolve::FrontEnd;
use runtime::{GcConfig, GcLog, GcStats};
use treewalk::TreeWalker;

use crate::diagnostics::{DiagnosticStyle, write_diagnostics};
use crate::engine::Engine;

/// The native stack engines run on. Engines recurse on it (the tree-walker
/// per Lox call, every phase per level of nesting), and it is reserved
/// lazily, so only the pages a program touches cost memory.
const ENGINE_STACK_BYTES: usize = 1 << 30;

/// How to run.
#[derive(Default)]
pub struct Options {
    pub engine: Engine,
    pub gc: GcConfig,
    /// Called after every collection (`--gc-log`).
    pub gc_log: Option<GcLog>,
    pub diagnostics: DiagnosticStyle,
}

/// How a run ended. The CLI maps these to exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// The source did not compile (or was not UTF-8); nothing ran.
    CompileError,
    /// The program raised a runtime error.
    RuntimeError,
}

enum EngineState {
    Tree(TreeWalker),
    Vm(vm::Vm),
}

/// An engine with its front end, kept across entries.
pub struct Session {
    front: FrontEnd,
    engine: EngineState,
    style: DiagnosticStyle,
}

impl Session {
    pub fn new(options: Options) -> Session {
        let mut front = FrontEnd::new();
        let engine = match options.engine {
            Engine::Tree => {
                EngineState::Tree(TreeWalker::new(options.gc, options.gc_log, &mut front))
            }
            Engine::Vm => EngineState::Vm(vm::Vm::new(options.gc, options.gc_log, |name| {
                let symbol = front.interner.intern(name);
                front.globals.slot(symbol)
            })),
        };
        Session { front, engine, style: options.diagnostics }
    }

    fn heap(&self) -> &runtime::Heap {
        match &self.engine {
            EngineState::Tree(tree) => tree.heap(),
            EngineState::Vm(vm) => vm.heap(),
        }
    }

    /// Totals of the collector so far.
    pub fn gc_stats(&self) -> GcStats {
        self.heap().stats()
    }

    /// Compile and run one source text in this session.
    ///
    /// Program output goes to `out`; compile errors and runtime errors, in
    /// LOX.md's exact format, to `err`.
    pub fn eval(&mut self, source: &[u8], out: &mut dyn Write, err: &mut dyn Write) -> Outcome {
        stacker::grow(ENGINE_STACK_BYTES, || self.eval_on_engine_stack(source, out, err))
    }

    fn eval_on_engine_stack(
        &mut self,
        source: &[u8],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Outcome {
        let text = match syntax::decode_source(source) {
            Ok(text) => text,
            Err(diagnostic) => {
                let _ = write_diagnostics(err, &DiagnosticStyle::Plain, "", &[diagnostic]);
                return Outcome::CompileError;
            }
        };
        let program = match self.front.compile(text) {
            Ok(program) => program,
            Err(diagnostics) => {
                let _ = write_diagnostics(err, &self.style, text, &diagnostics);
                return Outcome::CompileError;
            }
        };
        let result = match &mut self.engine {
            EngineState::Tree(tree) => tree.run(&program, &self.front, out),
            EngineState::Vm(vm) => vm.run(compile_verified(&program, &self.front), out),
        };
        let _ = out.flush();
        match result {
            Ok(()) => Outcome::Success,
            Err(error) => {
                let _ = write!(err, "{error}");
                let _ = err.flush();
                Outcome::RuntimeError
            }
        }
    }
}

/// Run `source` once with `options`.
pub fn run(source: &[u8], options: Options, out: &mut dyn Write, err: &mut dyn Write) -> Outcome {
    Session::new(options).eval(source, out, err)
}

/// Compile `program` and check the result with the bytecode verifier.
///
/// Every resolved program must compile to bytecode the verifier accepts;
/// anything else is a compiler bug, reported as one.
fn compile_verified(program: &syntax::ast::Program, front: &FrontEnd) -> bytecode::Module {
    let module = compiler::compile(program, front);
    if let Err(error) = bytecode::verify(&module) {
        panic!("bug: the compiler produced bytecode the verifier rejects: {error}");
    }
    module
}

/// The bytecode listing of `source` (`strata disasm`), or its compile errors
/// written to `err`.
pub fn disassemble(source: &[u8], style: &DiagnosticStyle, err: &mut dyn Write) -> Option<String> {
    let text = match syntax::decode_source(source) {
        Ok(text) => text,
        Err(diagnostic) => {
            let _ = write_diagnostics(err, &DiagnosticStyle::Plain, "", &[diagnostic]);
            return None;
        }
    };
    let mut front = FrontEnd::new();
    for native in runtime::NATIVES {
        let symbol = front.interner.intern(native.name);
        front.globals.slot(symbol);
    }
    match front.compile(text) {
        Ok(program) => Some(bytecode::disassemble(&compile_verified(&program, &front))),
        Err(diagnostics) => {
            let _ = write_diagnostics(err, style, text, &diagnostics);
            None
        }
    }
}
