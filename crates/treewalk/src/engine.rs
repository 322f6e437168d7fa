//! The engine's session state and its entry point.

use std::io::Write;
use std::rc::Rc;

use resolve::FrontEnd;
use runtime::{Gc, Heap, HeapOptions, ObjFunction, ObjString, RuntimeError, TraceLine};
use syntax::ast::{Function, Program};

use crate::interp::{Interp, Throw};

/// A tree-walking engine: a heap plus what it has loaded, kept across runs
/// so a REPL's entries share globals.
pub struct TreeWalker {
    heap: Heap,
    state: State,
}

/// What the interpreter looks up by index while it runs.
pub(crate) struct State {
    /// The runtime string for each front-end symbol (pinned).
    pub(crate) symbols: Vec<Gc<ObjString>>,
    /// Per function id: its syntax and its runtime object (pinned).
    pub(crate) functions: Vec<Option<(Rc<Function>, Gc<ObjFunction>)>>,
}

impl TreeWalker {
    /// A fresh engine whose natives are defined in `front`'s global table.
    pub fn new(options: HeapOptions, front: &mut FrontEnd) -> TreeWalker {
        let heap = Heap::new(options);
        runtime::define_natives(&heap, |name| front.global_slot(name));
        TreeWalker { heap, state: State { symbols: Vec::new(), functions: Vec::new() } }
    }

    pub fn heap(&self) -> &Heap {
        &self.heap
    }

    /// Run a program that `front` compiled without errors.
    pub fn run(
        &mut self,
        program: &Program,
        front: &FrontEnd,
        out: &mut dyn Write,
    ) -> Result<(), RuntimeError> {
        // Intern the names and literals new since the last run, once.
        for index in self.state.symbols.len()..front.interner.len() {
            let text = front.interner.resolve(syntax::Symbol(index as u32));
            let string = self.heap.intern_code(text);
            self.heap.pin(string.to_value());
            self.state.symbols.push(string);
        }

        let heap = &self.heap;
        let base = heap.stack().len();
        // Slot 0 of the script's frame: the script itself (never read).
        heap.stack().push(runtime::Value::NIL).map_err(|_| RuntimeError::stack_overflow())?;
        let mut interp = Interp::new(heap, &mut self.state, front, out, base);
        let result = interp.run_script(&program.stmts);
        // Leave the stack as we found it, closing what the script captured so
        // later REPL entries see the values.
        heap.close_upvalues(base as u32);
        heap.stack().truncate(base);
        let _ = out.flush();
        result.map_err(|throw| {
            let Throw { mut error, line } = *throw;
            error.trace.push(TraceLine { line, function: None });
            error
        })
    }
}
