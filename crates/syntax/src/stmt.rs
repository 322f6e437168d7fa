//! Declarations and statements, parsed as clox's compiler parses them.
//!
//! Each function follows its clox counterpart line by line (tokens consumed,
//! scopes opened, instructions narrated, in the same order), because the
//! order decides which of several errors is reported. Children are parsed
//! one nesting level down ([`Parser::nested`]).

use std::rc::Rc;

use crate::ast::*;
use crate::parser::{MAX_ARGS, Parser, placeholder_stmt};
use crate::semantics::{Emit, FrameKind, Jump, Semantics};
use crate::token::{Token, TokenKind as T};

impl<S: Semantics> Parser<'_, '_, S> {
    /// A declaration, then resynchronisation if it had an error.
    pub(crate) fn declaration(&mut self) -> Stmt {
        let stmt = if !self.fits(1) {
            placeholder_stmt(self.current.to_ref())
        } else if self.matches(T::Class) {
            self.class_declaration()
        } else if self.matches(T::Fun) {
            self.fun_declaration()
        } else if self.matches(T::Var) {
            self.var_declaration()
        } else {
            self.statement()
        };
        if self.report.is_panicking() {
            self.synchronize();
        }
        stmt
    }

    fn class_declaration(&mut self) -> Stmt {
        self.consume(T::Identifier, "Expect class name.");
        let class_token = self.previous;
        let name = self.ident(class_token);
        let var = self.sema.declare(name, &mut self.report);
        self.sema.emit(Emit::Class, name.token, &mut self.report);
        self.sema.define();
        self.sema.begin_class();

        let mut superclass = None;
        let mut scope = ScopeInfo::default();
        if self.matches(T::Less) {
            self.consume(T::Identifier, "Expect superclass name.");
            let super_ident = self.ident(self.previous);
            let super_var =
                self.sema.resolve(super_ident.name, super_ident.token, &mut self.report);
            self.sema.emit(Emit::GetVar, super_ident.token, &mut self.report);
            if self.lexeme(&class_token) == self.lexeme(&self.previous) {
                self.error_at_previous("A class can't inherit from itself.");
            }
            // The superclass stays on the stack as the hidden local `super`.
            self.sema.begin_scope();
            let super_name = self.intern("super");
            let at = self.previous.to_ref();
            if let VarRef::Local(slot) =
                self.sema.add_hidden_local(super_name, at, &mut self.report)
            {
                scope.slot = Some(slot);
            }
            self.sema.define();
            self.load_class(name);
            self.sema.emit(Emit::Inherit, at, &mut self.report);
            self.sema.inherit();
            superclass = Some(VarUse { ident: super_ident, var: super_var });
        }

        self.load_class(name);
        self.consume(T::LeftBrace, "Expect '{' before class body.");
        let mut methods = Vec::new();
        while !self.check(T::RightBrace) && !self.check(T::Eof) {
            methods.push(self.nested(|p| p.method()));
        }
        self.consume(T::RightBrace, "Expect '}' after class body.");
        self.sema.emit(Emit::Pop, self.previous.to_ref(), &mut self.report);
        if superclass.is_some() {
            scope.exit = self.sema.end_scope();
        }
        self.sema.end_class();
        Stmt::Class(Box::new(Class {
            name: VarUse { ident: name, var },
            superclass,
            methods,
            scope,
        }))
    }

    /// Push the class being declared (clox's `namedVariable(className)`):
    /// an error in finding it is reported at the previous token.
    fn load_class(&mut self, name: Ident) {
        let at = self.previous.to_ref();
        self.sema.resolve(name.name, at, &mut self.report);
        self.sema.emit(Emit::GetVar, name.token, &mut self.report);
    }

    fn method(&mut self) -> Rc<Function> {
        if !self.fits(1) {
            let name = self.ident(self.current);
            let body = Vec::new();
            let (kind, info) = (FunctionKind::Method, FnInfo::default());
            return Rc::new(Function { name, kind, params: Vec::new(), body, info });
        }
        self.consume(T::Identifier, "Expect method name.");
        let name_token = self.previous;
        let kind = if self.lexeme(&name_token) == "init" {
            FunctionKind::Initializer
        } else {
            FunctionKind::Method
        };
        let function = self.function(name_token, kind);
        self.sema.emit(Emit::DefineMethod, function.name.token, &mut self.report);
        Rc::new(function)
    }

    fn fun_declaration(&mut self) -> Stmt {
        self.consume(T::Identifier, "Expect function name.");
        let name_token = self.previous;
        let name = self.ident(name_token);
        let var = self.sema.declare(name, &mut self.report);
        self.sema.mark_initialized();
        let function = self.function(name_token, FunctionKind::Function);
        self.sema.define();
        Stmt::Fun { name: VarUse { ident: name, var }, function: Rc::new(function) }
    }

    /// Parameters and body, after the name; then the closure is pushed.
    fn function(&mut self, name_token: Token, kind: FunctionKind) -> Function {
        let name = self.ident(name_token);
        self.sema.begin_function(match kind {
            FunctionKind::Function => FrameKind::Function,
            FunctionKind::Method => FrameKind::Method,
            FunctionKind::Initializer => FrameKind::Initializer,
        });
        self.sema.begin_scope();
        self.consume(T::LeftParen, "Expect '(' after function name.");
        let mut params = Vec::new();
        if !self.check(T::RightParen) {
            loop {
                if params.len() >= MAX_ARGS {
                    self.error_at_current("Can't have more than 255 parameters.");
                }
                self.consume(T::Identifier, "Expect parameter name.");
                let param = self.ident(self.previous);
                self.sema.parameter(param, &mut self.report);
                params.push(param);
                if !self.matches(T::Comma) {
                    break;
                }
            }
        }
        self.consume(T::RightParen, "Expect ')' after parameters.");
        self.consume(T::LeftBrace, "Expect '{' before function body.");
        // The body's statements share the parameters' scope.
        let body = self.block();
        let info = self.sema.end_function(self.previous.to_ref(), &mut self.report);
        let captures = info.upvalues.len() as u32;
        self.sema.emit(Emit::Closure { captures }, name.token, &mut self.report);
        Function { name, kind, params, body, info }
    }

    fn var_declaration(&mut self) -> Stmt {
        self.consume(T::Identifier, "Expect variable name.");
        let name = self.ident(self.previous);
        let var = self.sema.declare(name, &mut self.report);
        let init = if self.matches(T::Equal) {
            Some(self.nested(|p| p.expression()).expr)
        } else {
            self.sema.emit(Emit::Literal, name.token, &mut self.report);
            None
        };
        self.consume(T::Semicolon, "Expect ';' after variable declaration.");
        self.sema.define();
        Stmt::Var { name: VarUse { ident: name, var }, init }
    }

    fn statement(&mut self) -> Stmt {
        if !self.fits(1) {
            placeholder_stmt(self.current.to_ref())
        } else if self.matches(T::Print) {
            let value = self.nested(|p| p.expression()).expr;
            self.consume(T::Semicolon, "Expect ';' after value.");
            self.sema.emit(Emit::Print, self.previous.to_ref(), &mut self.report);
            Stmt::Print(value)
        } else if self.matches(T::For) {
            self.for_statement()
        } else if self.matches(T::If) {
            self.if_statement()
        } else if self.matches(T::Return) {
            self.return_statement()
        } else if self.matches(T::While) {
            self.while_statement()
        } else if self.matches(T::LeftBrace) {
            self.sema.begin_scope();
            let stmts = self.block();
            let exit = self.sema.end_scope();
            Stmt::Block(Block { stmts, exit })
        } else {
            self.expression_statement()
        }
    }

    fn expression_statement(&mut self) -> Stmt {
        let expr = self.nested(|p| p.expression()).expr;
        self.consume(T::Semicolon, "Expect ';' after expression.");
        self.sema.emit(Emit::Pop, self.previous.to_ref(), &mut self.report);
        Stmt::Expr(expr)
    }

    /// The declarations of a block or body, one level down, after its `{`;
    /// then its `}`.
    fn block(&mut self) -> Vec<Stmt> {
        let stmts = self.nested(|p| {
            let mut stmts = Vec::new();
            while !p.check(T::RightBrace) && !p.check(T::Eof) {
                stmts.push(p.declaration());
            }
            stmts
        });
        self.consume(T::RightBrace, "Expect '}' after block.");
        stmts
    }

    fn for_statement(&mut self) -> Stmt {
        self.sema.begin_scope();
        self.consume(T::LeftParen, "Expect '(' after 'for'.");
        let init = if self.matches(T::Semicolon) {
            None
        } else {
            let var = self.matches(T::Var);
            Some(self.nested(|p| match (p.fits(1), var) {
                (false, _) => placeholder_stmt(p.current.to_ref()),
                (true, true) => p.var_declaration(),
                (true, false) => p.expression_statement(),
            }))
        };

        let mut loop_start = self.sema.loop_start();
        let mut cond = None;
        let mut exit_jump = None;
        if !self.matches(T::Semicolon) {
            cond = Some(self.nested(|p| p.expression()).expr);
            self.consume(T::Semicolon, "Expect ';' after loop condition.");
            exit_jump = Some(self.sema.jump(Jump::IfFalse));
            self.sema.emit(Emit::Pop, self.previous.to_ref(), &mut self.report);
        }

        let mut incr = None;
        if !self.matches(T::RightParen) {
            let body_jump = self.sema.jump(Jump::Always);
            let incr_start = self.sema.loop_start();
            incr = Some(self.nested(|p| p.expression()).expr);
            self.sema.emit(Emit::Pop, self.previous.to_ref(), &mut self.report);
            self.consume(T::RightParen, "Expect ')' after for clauses.");
            let at = self.previous.to_ref();
            self.sema.loop_back(loop_start, at, &mut self.report);
            loop_start = incr_start;
            self.sema.patch_jump(body_jump, at, &mut self.report);
        }
        let clauses_end = self.previous.to_ref();

        let body = self.nested(|p| p.statement());
        let body_end = self.previous.to_ref();
        self.sema.loop_back(loop_start, body_end, &mut self.report);
        if let Some(exit_jump) = exit_jump {
            self.sema.patch_jump(exit_jump, body_end, &mut self.report);
            self.sema.emit(Emit::Pop, body_end, &mut self.report);
        }
        let exit = self.sema.end_scope();
        Stmt::For(Box::new(For { init, cond, incr, body, clauses_end, body_end, exit }))
    }

    fn if_statement(&mut self) -> Stmt {
        self.consume(T::LeftParen, "Expect '(' after 'if'.");
        let cond = self.nested(|p| p.expression()).expr;
        self.consume(T::RightParen, "Expect ')' after condition.");
        let then_jump = self.sema.jump(Jump::IfFalse);
        self.sema.emit(Emit::Pop, self.previous.to_ref(), &mut self.report);
        let then_branch = self.nested(|p| p.statement());
        let then_end = self.previous.to_ref();
        let else_jump = self.sema.jump(Jump::Always);
        self.sema.patch_jump(then_jump, then_end, &mut self.report);
        self.sema.emit(Emit::Pop, then_end, &mut self.report);
        let (else_branch, else_end) = if self.matches(T::Else) {
            let branch = self.nested(|p| p.statement());
            (Some(branch), Some(self.previous.to_ref()))
        } else {
            (None, None)
        };
        self.sema.patch_jump(else_jump, self.previous.to_ref(), &mut self.report);
        Stmt::If(Box::new(If { cond, then_branch, else_branch, then_end, else_end }))
    }

    fn return_statement(&mut self) -> Stmt {
        let keyword = self.previous.to_ref();
        self.sema.check_return(keyword, &mut self.report);
        let value = if self.matches(T::Semicolon) {
            self.sema.emit(Emit::ReturnNil, keyword, &mut self.report);
            None
        } else {
            self.sema.check_return_value(keyword, &mut self.report);
            let value = self.nested(|p| p.expression()).expr;
            self.consume(T::Semicolon, "Expect ';' after return value.");
            self.sema.emit(Emit::Return, self.previous.to_ref(), &mut self.report);
            Some(value)
        };
        Stmt::Return { keyword, value }
    }

    fn while_statement(&mut self) -> Stmt {
        let loop_start = self.sema.loop_start();
        self.consume(T::LeftParen, "Expect '(' after 'while'.");
        let cond = self.nested(|p| p.expression()).expr;
        self.consume(T::RightParen, "Expect ')' after condition.");
        let exit_jump = self.sema.jump(Jump::IfFalse);
        self.sema.emit(Emit::Pop, self.previous.to_ref(), &mut self.report);
        let body = self.nested(|p| p.statement());
        let body_end = self.previous.to_ref();
        self.sema.loop_back(loop_start, body_end, &mut self.report);
        self.sema.patch_jump(exit_jump, body_end, &mut self.report);
        self.sema.emit(Emit::Pop, body_end, &mut self.report);
        Stmt::While(Box::new(While { cond, body, body_end }))
    }
}
