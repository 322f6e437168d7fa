//! Which captures are by value ([`syntax::ast::Capture::by_value`]), written into the
//! tree once the whole program is parsed.
//!
//! A closure may hold a copy of a variable's value rather than share the
//! variable through an upvalue when no code assigns the variable once it
//! holds its value: then every read, the closure's or anyone's, sees that
//! one value. Parameters, `this`, `super` and most `var`s are such
//! variables. A local function that calls itself captures its own variable
//! before the variable holds the function, so it captures by reference.
//!
//! The resolver works in one pass, and an assignment may come after the
//! closure that captures the variable (`var n = 0; fun f() { return n; }
//! n = 1;`), so the decision waits until the end, and this pass writes it
//! into every function's captures. A scope's [`syntax::ast::ScopeExit`]
//! needs no such wait: every assignment to a local is inside its scope.

use std::rc::Rc;

use syntax::ast::{Function, Stmt};

/// Set [`syntax::ast::Capture::by_value`] in every function of `stmts`, as
/// `by_value(function id, upvalue index)` decides.
pub(crate) fn settle(stmts: &mut [Stmt], by_value: &dyn Fn(u32, usize) -> bool) {
    for stmt in stmts {
        settle_stmt(stmt, by_value);
    }
}

fn settle_stmt(stmt: &mut Stmt, by_value: &dyn Fn(u32, usize) -> bool) {
    match stmt {
        Stmt::Expr(_) | Stmt::Print(_) | Stmt::Var { .. } | Stmt::Return { .. } => {}
        Stmt::Block(block) => settle(&mut block.stmts, by_value),
        Stmt::If(branch) => {
            settle_stmt(&mut branch.then_branch, by_value);
            if let Some(otherwise) = &mut branch.else_branch {
                settle_stmt(otherwise, by_value);
            }
        }
        Stmt::While(looped) => settle_stmt(&mut looped.body, by_value),
        Stmt::For(looped) => {
            if let Some(init) = &mut looped.init {
                settle_stmt(init, by_value);
            }
            settle_stmt(&mut looped.body, by_value);
        }
        Stmt::Fun { function, .. } => settle_function(function, by_value),
        Stmt::Class(class) => {
            for method in &mut class.methods {
                settle_function(method, by_value);
            }
        }
    }
}

fn settle_function(function: &mut Rc<Function>, by_value: &dyn Fn(u32, usize) -> bool) {
    // The parser made the function and shares it with nothing yet.
    let function = Rc::get_mut(function).expect("a function just parsed has one owner");
    let id = function.info.id;
    for (index, capture) in function.info.upvalues.iter_mut().enumerate() {
        capture.by_value = by_value(id, index);
    }
    settle(&mut function.body, by_value);
}
