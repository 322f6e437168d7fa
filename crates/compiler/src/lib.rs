//! The bytecode compiler: a resolved syntax tree to a [`bytecode::Module`].
//!
//! The front end has already decided every slot, capture and error, so
//! compiling cannot fail: every resolved program has a translation. The
//! compiler tracks the operand-stack depth with the opcode table's own stack
//! effects, which gives each function's `max_stack` and lets debug builds
//! check that a local's slot is where the stack says it is.
//!
//! Lines: every instruction that can raise a runtime error carries the line
//! of the token the tree-walker reports for the same error (operator,
//! closing parenthesis, property name, variable), so both engines print the
//! same traces.

mod emit;
mod expr;
mod stmt;

use bytecode::{Capture, FunctionKind, Module};
use resolve::FrontEnd;
use syntax::ast::{self, Program};

use crate::emit::FnBuilder;

/// Compile a program that `front` resolved without errors.
///
/// The module's global table names every global slot `front` knows, so
/// modules compiled later in the same session (REPL entries) share slots.
pub fn compile(program: &Program, front: &FrontEnd) -> Module {
    let mut compiler = Compiler { front, functions: Vec::new() };
    let mut script = FnBuilder::new(None, FunctionKind::Script, 0, Vec::new());
    for stmt in &program.stmts {
        compiler.stmt(&mut script, stmt);
    }
    let end = script.line();
    script.emit_return_nil(end);
    let script_index = compiler.functions.len() as u32;
    compiler.functions.push(checked(script.finish(), &program.script));
    Module { functions: compiler.functions, script: script_index, globals: front.global_names() }
}

/// A finished function, checked against the front end's bound on its stack
/// slots, which the runtime relies on to size its value stack: code that
/// needs more is a compiler or front-end bug.
fn checked(function: bytecode::Function, info: &ast::FnInfo) -> bytecode::Function {
    assert!(
        function.max_stack <= u32::from(info.stack_slots),
        "{:?} needs {} stack slots, over the front end's bound of {}",
        function.name,
        function.max_stack,
        info.stack_slots
    );
    function
}

struct Compiler<'a> {
    front: &'a FrontEnd,
    functions: Vec<bytecode::Function>,
}

impl Compiler<'_> {
    fn name(&self, symbol: syntax::Symbol) -> &str {
        self.front.interner.resolve(symbol)
    }

    /// Compile a function declaration into its own entry; returns its index.
    fn function(&mut self, function: &ast::Function) -> u32 {
        let kind = match function.kind {
            ast::FunctionKind::Function => FunctionKind::Function,
            ast::FunctionKind::Method => FunctionKind::Method,
            ast::FunctionKind::Initializer => FunctionKind::Initializer,
        };
        let captures = function
            .info
            .upvalues
            .iter()
            .map(|c| Capture { is_local: c.is_local, index: c.index, by_value: c.by_value })
            .collect();
        let name = self.name(function.name.name).to_string();
        let mut builder = FnBuilder::new(Some(name), kind, function.params.len() as u8, captures);
        for stmt in &function.body {
            self.stmt(&mut builder, stmt);
        }
        let end = builder.line().max(function.name.line());
        builder.emit_return_nil(end);
        let index = self.functions.len() as u32;
        self.functions.push(checked(builder.finish(), &function.info));
        index
    }
}
