//! The parser: tokens to a syntax tree, reporting every error it can.
//!
//! Recovery follows the book's C compiler (clox) step for step, so both
//! report the same errors: after an error the parser is in *panic mode*,
//! reports nothing more, and keeps parsing (a missing token is not consumed,
//! a missing expression becomes `nil`) until the declaration ends; then it
//! resynchronises at a statement boundary (after a `;`, or before a keyword
//! that starts a statement). A tree with errors is never run: the resolver
//! still sees it whole, and its errors merge with the parser's.
//!
//! Parsing never fails and never recurses without bound: nesting deeper than
//! [`MAX_NESTING`] is itself a diagnostic.

use std::rc::Rc;

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::interner::Interner;
use crate::scanner::Scanner;
use crate::token::{Token, TokenKind, TokenRef};

/// How deeply statements and expressions may nest in the source.
///
/// Every phase after the parser recurses over the tree; this bound keeps that
/// recursion within the stack the driver provides. It is far beyond what
/// people write (4096 nested parentheses, or an `else if` chain as long).
pub const MAX_NESTING: u32 = 4096;

/// The book's limit on parameters and arguments.
pub const MAX_ARGS: usize = 255;

/// What the parser made of a source text.
#[derive(Debug)]
pub struct Parse {
    pub program: Program,
    /// Every syntax error, in source order.
    pub diagnostics: Vec<Diagnostic>,
    /// The byte ranges the parser spent in panic mode. A one-pass compiler
    /// would report no other error there, so later passes suppress theirs.
    pub panic_windows: Vec<std::ops::Range<u32>>,
}

/// Parse `source` into a program, interning names into `interner`.
pub fn parse(source: &str, interner: &mut Interner) -> Parse {
    let mut parser = Parser::new(source, interner);
    let mut stmts = Vec::new();
    while !parser.check(TokenKind::Eof) {
        stmts.push(parser.declaration());
    }
    if parser.panic_mode {
        parser.close_panic_window();
    }
    Parse {
        program: Program { stmts, script: FnInfo::default() },
        diagnostics: parser.diagnostics,
        panic_windows: parser.panic_windows,
    }
}

struct Parser<'src, 'i> {
    source: &'src str,
    scanner: Scanner<'src>,
    interner: &'i mut Interner,
    current: Token,
    previous: Token,
    diagnostics: Vec<Diagnostic>,
    panic_mode: bool,
    panic_windows: Vec<std::ops::Range<u32>>,
    depth: u32,
    /// The closing `)` of the most recent parenthesized expression: an
    /// expression ending there is not an assignment target.
    group_end: Option<u32>,
}

impl<'src, 'i> Parser<'src, 'i> {
    fn new(source: &'src str, interner: &'i mut Interner) -> Parser<'src, 'i> {
        let placeholder =
            Token { kind: TokenKind::Eof, span: Default::default(), line: 1, error: None };
        let mut parser = Parser {
            source,
            scanner: Scanner::new(source),
            interner,
            current: placeholder,
            previous: placeholder,
            diagnostics: Vec::new(),
            panic_mode: false,
            panic_windows: Vec::new(),
            depth: 0,
            group_end: None,
        };
        parser.advance();
        parser
    }

    // ---------------------------------------------------------------- tokens

    fn advance(&mut self) {
        self.previous = self.current;
        loop {
            self.current = self.scanner.next_token();
            if self.current.kind != TokenKind::Error {
                break;
            }
            let message = self.current.error.unwrap_or("Unexpected character.");
            self.report(Diagnostic::bare(self.current.line, self.current.span, message));
        }
    }

    fn check(&self, kind: TokenKind) -> bool {
        self.current.kind == kind
    }

    fn matches(&mut self, kind: TokenKind) -> bool {
        if !self.check(kind) {
            return false;
        }
        self.advance();
        true
    }

    /// Consume a `kind` token, or report `message` and go on without it
    /// (returning the unexpected token in its place).
    fn consume(&mut self, kind: TokenKind, message: &str) -> Token {
        if self.check(kind) {
            self.advance();
            return self.previous;
        }
        self.error_at_current(message);
        self.current
    }

    fn lexeme(&self, token: &Token) -> &'src str {
        &self.source[token.span.range()]
    }

    fn ident(&mut self, token: Token) -> Ident {
        let name = self.interner.intern(self.lexeme(&token));
        Ident { name, token: token.to_ref() }
    }

    // ---------------------------------------------------------------- errors

    fn report(&mut self, diagnostic: Diagnostic) {
        if self.panic_mode {
            return;
        }
        self.panic_mode = true;
        self.panic_windows.push(diagnostic.span.start..u32::MAX);
        self.diagnostics.push(diagnostic);
    }

    fn close_panic_window(&mut self) {
        if let Some(window) = self.panic_windows.last_mut() {
            window.end = self.current.span.start;
        }
    }

    fn error_at(&mut self, token: TokenRef, message: &str) {
        let diagnostic = Diagnostic::at(self.source, token, message);
        self.report(diagnostic);
    }

    fn error_at_current(&mut self, message: &str) {
        self.error_at(self.current.to_ref(), message)
    }

    fn error_at_previous(&mut self, message: &str) {
        self.error_at(self.previous.to_ref(), message)
    }

    fn synchronize(&mut self) {
        while !self.check(TokenKind::Eof) {
            if self.previous.kind == TokenKind::Semicolon {
                break;
            }
            use TokenKind as T;
            if let T::Class | T::Fun | T::Var | T::For | T::If | T::While | T::Print | T::Return =
                self.current.kind
            {
                break;
            }
            self.advance();
        }
        self.close_panic_window();
        self.panic_mode = false;
    }

    /// Run `parse` one nesting level deeper, or report that it is too deep
    /// and return `placeholder` without parsing.
    fn nested<T>(
        &mut self,
        placeholder: fn(TokenRef) -> T,
        parse: impl FnOnce(&mut Self) -> T,
    ) -> T {
        if self.depth >= MAX_NESTING {
            self.error_at_current("Too much nesting.");
            return placeholder(self.current.to_ref());
        }
        self.depth += 1;
        let result = parse(self);
        self.depth -= 1;
        result
    }

    // ------------------------------------------------------------ statements

    fn declaration(&mut self) -> Stmt {
        let start = self.current.span.start;
        let stmt = self.nested(placeholder_stmt, |p| {
            if p.matches(TokenKind::Class) {
                p.class_declaration()
            } else if p.matches(TokenKind::Fun) {
                p.fun_declaration()
            } else if p.matches(TokenKind::Var) {
                p.var_declaration()
            } else {
                p.statement()
            }
        });
        if self.panic_mode {
            self.synchronize();
            // Every declaration must consume something, or one that cannot
            // even start (too deeply nested) would be retried forever.
            if self.current.span.start == start && !self.check(TokenKind::Eof) {
                self.advance();
            }
        }
        stmt
    }

    fn class_declaration(&mut self) -> Stmt {
        let name_token = self.consume(TokenKind::Identifier, "Expect class name.");
        let name = VarUse::new(self.ident(name_token));
        let superclass = if self.matches(TokenKind::Less) {
            let token = self.consume(TokenKind::Identifier, "Expect superclass name.");
            Some(VarUse::new(self.ident(token)))
        } else {
            None
        };
        self.consume(TokenKind::LeftBrace, "Expect '{' before class body.");
        let mut methods = Vec::new();
        while !self.check(TokenKind::RightBrace) && !self.check(TokenKind::Eof) {
            let token = self.consume(TokenKind::Identifier, "Expect method name.");
            let kind = if token.kind == TokenKind::Identifier && self.lexeme(&token) == "init" {
                FunctionKind::Initializer
            } else {
                FunctionKind::Method
            };
            methods.push(Rc::new(self.function(token, kind)));
        }
        self.consume(TokenKind::RightBrace, "Expect '}' after class body.");
        Stmt::Class(Box::new(Class { name, superclass, methods, scope: ScopeInfo::default() }))
    }

    fn fun_declaration(&mut self) -> Stmt {
        let token = self.consume(TokenKind::Identifier, "Expect function name.");
        let function = self.function(token, FunctionKind::Function);
        Stmt::Fun { name: VarUse::new(function.name), function: Rc::new(function) }
    }

    /// Parameters and body, after the name.
    fn function(&mut self, name_token: Token, kind: FunctionKind) -> Function {
        let name = self.ident(name_token);
        self.consume(TokenKind::LeftParen, "Expect '(' after function name.");
        let mut params = Vec::new();
        if !self.check(TokenKind::RightParen) {
            loop {
                if params.len() == MAX_ARGS {
                    self.error_at_current("Can't have more than 255 parameters.");
                }
                let token = self.consume(TokenKind::Identifier, "Expect parameter name.");
                params.push(self.ident(token));
                if !self.matches(TokenKind::Comma) {
                    break;
                }
            }
        }
        self.consume(TokenKind::RightParen, "Expect ')' after parameters.");
        self.consume(TokenKind::LeftBrace, "Expect '{' before function body.");
        let body = self.block().stmts;
        Function { name, kind, params, body, info: FnInfo::default() }
    }

    fn var_declaration(&mut self) -> Stmt {
        let token = self.consume(TokenKind::Identifier, "Expect variable name.");
        let name = VarUse::new(self.ident(token));
        let init = if self.matches(TokenKind::Equal) { Some(self.expression()) } else { None };
        self.consume(TokenKind::Semicolon, "Expect ';' after variable declaration.");
        Stmt::Var { name, init }
    }

    fn statement(&mut self) -> Stmt {
        self.nested(placeholder_stmt, |p| {
            use TokenKind as T;
            if p.matches(T::Print) {
                let value = p.expression();
                p.consume(T::Semicolon, "Expect ';' after value.");
                Stmt::Print(value)
            } else if p.matches(T::For) {
                p.for_statement()
            } else if p.matches(T::If) {
                p.if_statement()
            } else if p.matches(T::Return) {
                p.return_statement()
            } else if p.matches(T::While) {
                p.while_statement()
            } else if p.matches(T::LeftBrace) {
                Stmt::Block(p.block())
            } else {
                let expr = p.expression();
                p.consume(T::Semicolon, "Expect ';' after expression.");
                Stmt::Expr(expr)
            }
        })
    }

    /// The declarations of a block, after its `{`.
    fn block(&mut self) -> Block {
        let mut stmts = Vec::new();
        while !self.check(TokenKind::RightBrace) && !self.check(TokenKind::Eof) {
            stmts.push(self.declaration());
        }
        self.consume(TokenKind::RightBrace, "Expect '}' after block.");
        Block { stmts, exit: ScopeExit::default() }
    }

    fn if_statement(&mut self) -> Stmt {
        self.consume(TokenKind::LeftParen, "Expect '(' after 'if'.");
        let cond = self.expression();
        self.consume(TokenKind::RightParen, "Expect ')' after condition.");
        let then_branch = self.statement();
        let then_end = self.previous.to_ref();
        let (else_branch, else_end) = if self.matches(TokenKind::Else) {
            let branch = self.statement();
            (Some(branch), Some(self.previous.to_ref()))
        } else {
            (None, None)
        };
        Stmt::If(Box::new(If { cond, then_branch, else_branch, then_end, else_end }))
    }

    fn return_statement(&mut self) -> Stmt {
        let keyword = self.previous.to_ref();
        let value = if self.matches(TokenKind::Semicolon) {
            None
        } else {
            let value = self.expression();
            self.consume(TokenKind::Semicolon, "Expect ';' after return value.");
            Some(value)
        };
        Stmt::Return { keyword, value }
    }

    fn while_statement(&mut self) -> Stmt {
        self.consume(TokenKind::LeftParen, "Expect '(' after 'while'.");
        let cond = self.expression();
        self.consume(TokenKind::RightParen, "Expect ')' after condition.");
        let body = self.statement();
        let body_end = self.previous.to_ref();
        Stmt::While(Box::new(While { cond, body, body_end }))
    }

    fn for_statement(&mut self) -> Stmt {
        self.consume(TokenKind::LeftParen, "Expect '(' after 'for'.");
        let init = if self.matches(TokenKind::Semicolon) {
            None
        } else if self.matches(TokenKind::Var) {
            Some(self.var_declaration())
        } else {
            let expr = self.expression();
            self.consume(TokenKind::Semicolon, "Expect ';' after expression.");
            Some(Stmt::Expr(expr))
        };
        let cond = if self.matches(TokenKind::Semicolon) {
            None
        } else {
            let cond = self.expression();
            self.consume(TokenKind::Semicolon, "Expect ';' after loop condition.");
            Some(cond)
        };
        let incr = if self.matches(TokenKind::RightParen) {
            None
        } else {
            let incr = self.expression();
            self.consume(TokenKind::RightParen, "Expect ')' after for clauses.");
            Some(incr)
        };
        let clauses_end = self.previous.to_ref();
        let body = self.statement();
        let body_end = self.previous.to_ref();
        Stmt::For(Box::new(For {
            init,
            cond,
            incr,
            body,
            clauses_end,
            body_end,
            exit: ScopeExit::default(),
        }))
    }

    // ----------------------------------------------------------- expressions

    fn expression(&mut self) -> Expr {
        self.nested(placeholder_expr, |p| p.assignment())
    }

    fn assignment(&mut self) -> Expr {
        let target = self.or();
        if !self.check(TokenKind::Equal) {
            return target;
        }
        // The target is parenthesized if its last token was a group's `)`.
        let parenthesized = self.group_end == Some(self.previous.span.end);
        match target {
            Expr::Variable(var) if !parenthesized => {
                self.advance();
                let value = self.expression();
                Expr::Assign { target: var, value: Box::new(value) }
            }
            Expr::Get { object, name } if !parenthesized => {
                self.advance();
                let value = self.expression();
                Expr::Set { object, name, value: Box::new(value) }
            }
            target => {
                // Like the book: report at the `=` and leave the value unparsed.
                self.advance();
                self.error_at_previous("Invalid assignment target.");
                target
            }
        }
    }

    fn or(&mut self) -> Expr {
        self.logical_level(TokenKind::Or, LogicalOp::Or, Self::and)
    }

    fn and(&mut self) -> Expr {
        self.logical_level(TokenKind::And, LogicalOp::And, Self::equality)
    }

    fn logical_level(
        &mut self,
        keyword: TokenKind,
        op: LogicalOp,
        operand: fn(&mut Self) -> Expr,
    ) -> Expr {
        let mut left = operand(self);
        while self.matches(keyword) {
            let right = operand(self);
            let right_end = self.previous.to_ref();
            left = Expr::Logical(Box::new(Logical { op, left, right, right_end }));
        }
        left
    }

    fn binary_level(
        &mut self,
        operand: fn(&mut Self) -> Expr,
        op_for: fn(TokenKind) -> Option<BinaryOp>,
    ) -> Expr {
        let mut left = operand(self);
        while let Some(op) = op_for(self.current.kind) {
            self.advance();
            let line = self.previous.line;
            let right = operand(self);
            left = Expr::Binary { op, left: Box::new(left), right: Box::new(right), line };
        }
        left
    }

    fn equality(&mut self) -> Expr {
        self.binary_level(Self::comparison, |kind| match kind {
            TokenKind::EqualEqual => Some(BinaryOp::Equal),
            TokenKind::BangEqual => Some(BinaryOp::NotEqual),
            _ => None,
        })
    }

    fn comparison(&mut self) -> Expr {
        self.binary_level(Self::term, |kind| match kind {
            TokenKind::Less => Some(BinaryOp::Less),
            TokenKind::LessEqual => Some(BinaryOp::LessEqual),
            TokenKind::Greater => Some(BinaryOp::Greater),
            TokenKind::GreaterEqual => Some(BinaryOp::GreaterEqual),
            _ => None,
        })
    }

    fn term(&mut self) -> Expr {
        self.binary_level(Self::factor, |kind| match kind {
            TokenKind::Plus => Some(BinaryOp::Add),
            TokenKind::Minus => Some(BinaryOp::Subtract),
            _ => None,
        })
    }

    fn factor(&mut self) -> Expr {
        self.binary_level(Self::unary, |kind| match kind {
            TokenKind::Star => Some(BinaryOp::Multiply),
            TokenKind::Slash => Some(BinaryOp::Divide),
            _ => None,
        })
    }

    fn unary(&mut self) -> Expr {
        let op = match self.current.kind {
            TokenKind::Bang => UnaryOp::Not,
            TokenKind::Minus => UnaryOp::Negate,
            _ => return self.call(),
        };
        self.advance();
        let line = self.previous.line;
        let operand = self.nested(placeholder_expr, |p| p.unary());
        Expr::Unary { op, operand: Box::new(operand), line }
    }

    fn call(&mut self) -> Expr {
        let mut expr = self.primary();
        loop {
            if self.matches(TokenKind::LeftParen) {
                let args = self.arguments();
                let paren = self.consume(TokenKind::RightParen, "Expect ')' after arguments.");
                expr = Expr::Call { callee: Box::new(expr), args, line: paren.line };
            } else if self.matches(TokenKind::Dot) {
                let token = self.consume(TokenKind::Identifier, "Expect property name after '.'.");
                let name = self.ident(token);
                expr = Expr::Get { object: Box::new(expr), name };
            } else {
                return expr;
            }
        }
    }

    fn arguments(&mut self) -> Vec<Expr> {
        let mut args = Vec::new();
        if self.check(TokenKind::RightParen) {
            return args;
        }
        loop {
            args.push(self.expression());
            if args.len() == MAX_ARGS + 1 {
                self.error_at_previous("Can't have more than 255 arguments.");
            }
            if !self.matches(TokenKind::Comma) {
                return args;
            }
        }
    }

    fn primary(&mut self) -> Expr {
        use TokenKind as T;
        self.advance();
        let token = self.previous;
        let literal = |value| Expr::Literal { value, token: token.to_ref() };
        match token.kind {
            T::False => literal(Literal::Bool(false)),
            T::True => literal(Literal::Bool(true)),
            T::Nil => literal(Literal::Nil),
            T::Number => {
                // The scanner only accepts digits with an optional fraction,
                // which always parse.
                let value = self.lexeme(&token).parse::<f64>().unwrap_or(f64::NAN);
                literal(Literal::Number(value))
            }
            T::String => {
                let text = self.lexeme(&token);
                let symbol = self.interner.intern(&text[1..text.len() - 1]);
                literal(Literal::Str(symbol))
            }
            T::Identifier => Expr::Variable(VarUse::new(self.ident(token))),
            T::This => Expr::This(VarUse::new(self.ident(token))),
            T::Super => {
                let keyword = self.ident(token);
                self.consume(T::Dot, "Expect '.' after 'super'.");
                let method_token = self.consume(T::Identifier, "Expect superclass method name.");
                let method = self.ident(method_token);
                let this_name = self.interner.intern("this");
                let this = VarUse::new(Ident { name: this_name, token: keyword.token });
                Expr::Super(Box::new(SuperRef { keyword: VarUse::new(keyword), this, method }))
            }
            T::LeftParen => {
                let expr = self.expression();
                let paren = self.consume(T::RightParen, "Expect ')' after expression.");
                self.group_end = Some(paren.span.end);
                expr
            }
            _ => {
                self.error_at_previous("Expect expression.");
                placeholder_expr(token.to_ref())
            }
        }
    }
}

/// What stands in for an expression that could not be parsed.
fn placeholder_expr(token: TokenRef) -> Expr {
    Expr::Literal { value: Literal::Nil, token }
}

/// What stands in for a statement that could not be parsed.
fn placeholder_stmt(token: TokenRef) -> Stmt {
    Stmt::Expr(placeholder_expr(token))
}
