//! Compiling statements.

use bytecode::Op;
use syntax::ast::*;

use crate::Compiler;
use crate::emit::FnBuilder;

impl Compiler<'_> {
    pub(crate) fn stmt(&mut self, f: &mut FnBuilder, stmt: &Stmt) {
        // A statement no path reaches (after a `return`) compiles to nothing,
        // nested functions included.
        if !f.is_reachable() {
            return;
        }
        match stmt {
            Stmt::Expr(expr) => {
                let line = self.expr(f, expr);
                f.op(Op::Pop, line);
            }
            Stmt::Print(expr) => {
                let line = self.expr(f, expr);
                f.op(Op::Print, line);
            }
            Stmt::Var { name, init } => {
                match init {
                    Some(init) => {
                        self.expr(f, init);
                    }
                    None => f.op(Op::Nil, name.ident.line()),
                }
                self.define(f, name);
            }
            Stmt::Block(block) => {
                for stmt in &block.stmts {
                    self.stmt(f, stmt);
                }
                end_scope(f, &block.exit, f.line());
            }
            Stmt::If(if_stmt) => {
                let line = self.expr(f, &if_stmt.cond);
                let to_else = f.jump(Op::PopJumpIfFalse, line);
                self.stmt(f, &if_stmt.then_branch);
                match &if_stmt.else_branch {
                    Some(branch) => {
                        let to_end = f.jump(Op::Jump, if_stmt.then_end.line);
                        f.land(to_else);
                        self.stmt(f, branch);
                        f.land(to_end);
                    }
                    None => f.land(to_else),
                }
            }
            Stmt::While(while_stmt) => {
                let start = f.loop_target();
                let line = self.expr(f, &while_stmt.cond);
                let exit = f.jump(Op::PopJumpIfFalse, line);
                self.stmt(f, &while_stmt.body);
                f.loop_back(start, while_stmt.body_end.line);
                f.land(exit);
            }
            Stmt::For(for_stmt) => self.for_loop(f, for_stmt),
            Stmt::Fun { name, function } => {
                let index = self.function(function);
                f.emit(Op::Closure, index, name.ident.line());
                self.define(f, name);
            }
            Stmt::Class(class) => self.class(f, class),
            Stmt::Return { keyword, value } => match value {
                Some(value) => {
                    self.expr(f, value);
                    f.op(Op::Return, keyword.line);
                }
                None => f.emit_return_nil(keyword.line),
            },
        }
    }

    /// `init; start: cond; exit unless true; body; incr; loop to start`.
    /// The increment follows the body (not the book's jump over it), so it is
    /// reachable exactly when the body's end is, and a loop costs one jump
    /// per iteration.
    fn for_loop(&mut self, f: &mut FnBuilder, for_stmt: &For) {
        if let Some(init) = &for_stmt.init {
            self.stmt(f, init);
        }
        let start = f.loop_target();
        let exit = for_stmt.cond.as_ref().map(|cond| {
            let line = self.expr(f, cond);
            f.jump(Op::PopJumpIfFalse, line)
        });
        self.stmt(f, &for_stmt.body);
        if let Some(incr) = &for_stmt.incr {
            let incr_line = self.expr(f, incr);
            f.op(Op::Pop, incr_line);
        }
        f.loop_back(start, for_stmt.body_end.line);
        if let Some(exit) = exit {
            f.land(exit);
        }
        end_scope(f, &for_stmt.exit, for_stmt.body_end.line);
    }

    fn class(&mut self, f: &mut FnBuilder, class: &Class) {
        let line = class.name.ident.line();
        let name = f.name_constant(self.name(class.name.ident.name));
        f.emit(Op::Class, name, line);
        self.define(f, &class.name);

        if let Some(superclass) = &class.superclass {
            // The superclass becomes the hidden local `super`.
            self.get_var(f, superclass);
            debug_assert_eq!(class.scope.slot.map(|s| s as u32 + 1), Some(f.depth()));
            self.get_var(f, &class.name);
            f.op(Op::Inherit, superclass.ident.line());
        }

        self.get_var(f, &class.name);
        for method in &class.methods {
            let index = self.function(method);
            let method_line = method.name.line();
            f.emit(Op::Closure, index, method_line);
            let name = f.name_constant(self.name(method.name.name));
            f.emit(Op::DefineMethod, name, method_line);
        }
        f.op(Op::Pop, line);

        if class.superclass.is_some() {
            end_scope(f, &class.scope.exit, line);
        }
    }

    /// Give a declared variable the value on top of the stack: a global is
    /// defined from it; a local simply is that stack slot.
    fn define(&mut self, f: &mut FnBuilder, name: &VarUse) {
        match name.var {
            VarRef::Global(slot) => f.emit(Op::DefineGlobal, slot, name.ident.line()),
            VarRef::Local(slot) => debug_assert_eq!(slot as u32 + 1, f.depth(), "local slot order"),
            VarRef::Upvalue(_) | VarRef::Unresolved => {
                unreachable!("declarations are local or global")
            }
        }
    }
}

/// Drop a scope's locals, closing the captured ones (`line` is only for the
/// listing: these instructions cannot fail).
fn end_scope(f: &mut FnBuilder, exit: &ScopeExit, line: u32) {
    for &captured in &exit.captured {
        f.op(if captured { Op::CloseUpvalue } else { Op::Pop }, line);
    }
}
