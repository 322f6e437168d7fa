//! Expressions: clox's Pratt parser, precedence table and `canAssign`.
//!
//! [`Parser::parse_precedence`] parses one prefix expression, then every
//! infix operator that binds at least as tightly as the level asked for.
//! A token with no prefix rule is `Expect expression.`, and that level
//! returns at once (outer levels go on, as in clox). Assignment is only
//! recognised where `canAssign` allows it; an `=` left over there is
//! `Invalid assignment target.`, and its value is not parsed.
//!
//! Each expression comes back with its height in nesting levels, so that a
//! left-associative chain (`a + b + c`, `f()()`, `a.b.c`), which grows the
//! tree upwards one link at a time, is bounded like any other nesting.

use crate::ast::*;
use crate::parser::{MAX_ARGS, Parser};
use crate::semantics::{Emit, Jump, Semantics};
use crate::token::{TokenKind as T, TokenRef};

/// Binding power, weakest first (clox's `Precedence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Prec {
    None,
    Assignment,
    Or,
    And,
    Equality,
    Comparison,
    Term,
    Factor,
    Unary,
    Call,
    Primary,
}

impl Prec {
    /// The next tighter level: a binary operator's right operand binds at
    /// least this tightly, which makes the operator left-associative.
    fn next(self) -> Prec {
        match self {
            Prec::None => Prec::Assignment,
            Prec::Assignment => Prec::Or,
            Prec::Or => Prec::And,
            Prec::And => Prec::Equality,
            Prec::Equality => Prec::Comparison,
            Prec::Comparison => Prec::Term,
            Prec::Term => Prec::Factor,
            Prec::Factor => Prec::Unary,
            Prec::Unary => Prec::Call,
            Prec::Call | Prec::Primary => Prec::Primary,
        }
    }
}

/// How tightly `kind` binds as an infix operator (`None`: it is not one).
fn infix_precedence(kind: T) -> Prec {
    match kind {
        T::LeftParen | T::Dot => Prec::Call,
        T::Minus | T::Plus => Prec::Term,
        T::Slash | T::Star => Prec::Factor,
        T::BangEqual | T::EqualEqual => Prec::Equality,
        T::Greater | T::GreaterEqual | T::Less | T::LessEqual => Prec::Comparison,
        T::And => Prec::And,
        T::Or => Prec::Or,
        _ => Prec::None,
    }
}

fn binary_op(kind: T) -> Option<BinaryOp> {
    Some(match kind {
        T::Plus => BinaryOp::Add,
        T::Minus => BinaryOp::Subtract,
        T::Star => BinaryOp::Multiply,
        T::Slash => BinaryOp::Divide,
        T::EqualEqual => BinaryOp::Equal,
        T::BangEqual => BinaryOp::NotEqual,
        T::Less => BinaryOp::Less,
        T::LessEqual => BinaryOp::LessEqual,
        T::Greater => BinaryOp::Greater,
        T::GreaterEqual => BinaryOp::GreaterEqual,
        _ => return None,
    })
}

/// An expression and its height in nesting levels (a leaf is 1).
pub(crate) struct Parsed {
    pub(crate) expr: Expr,
    pub(crate) height: u32,
}

impl Parsed {
    fn leaf(expr: Expr) -> Parsed {
        Parsed { expr, height: 1 }
    }
}

/// What stands for an expression that could not be parsed.
pub(crate) fn placeholder_expr(token: TokenRef) -> Expr {
    Expr::Literal { value: Literal::Nil, token }
}

impl<S: Semantics> Parser<'_, '_, S> {
    pub(crate) fn expression(&mut self) -> Parsed {
        self.parse_precedence(Prec::Assignment)
    }

    fn parse_precedence(&mut self, prec: Prec) -> Parsed {
        if !self.fits(1) {
            return Parsed::leaf(placeholder_expr(self.current.to_ref()));
        }
        self.advance();
        let can_assign = prec <= Prec::Assignment;
        let Some(mut left) = self.prefix(can_assign) else {
            self.error_at_previous("Expect expression.");
            let at = self.previous.to_ref();
            self.sema.emit(Emit::Missing, at, &mut self.report);
            return Parsed::leaf(placeholder_expr(at));
        };
        while prec <= infix_precedence(self.current.kind) {
            // The link about to be made is the chain's new root, one level
            // above everything parsed so far.
            if !self.fits(left.height + 1) {
                return left;
            }
            self.advance();
            left = self.infix(left, can_assign);
        }
        if can_assign && self.matches(T::Equal) {
            self.error_at_previous("Invalid assignment target.");
        }
        left
    }

    /// The prefix rule of the token just consumed, if it has one.
    fn prefix(&mut self, can_assign: bool) -> Option<Parsed> {
        let token = self.previous;
        let at = token.to_ref();
        let literal = |value| Expr::Literal { value, token: at };
        Some(match token.kind {
            T::LeftParen => {
                let inner = self.nested(|p| p.expression());
                self.consume(T::RightParen, "Expect ')' after expression.");
                Parsed { expr: inner.expr, height: inner.height + 1 }
            }
            T::Minus | T::Bang => {
                let op = if token.kind == T::Minus { UnaryOp::Negate } else { UnaryOp::Not };
                let operand = self.nested(|p| p.parse_precedence(Prec::Unary));
                self.sema.emit(Emit::Unary, at, &mut self.report);
                let expr = Expr::Unary { op, operand: Box::new(operand.expr), line: token.line };
                Parsed { expr, height: operand.height + 1 }
            }
            T::Number => {
                self.sema.emit(Emit::Constant, at, &mut self.report);
                // The scanner only accepts digits with an optional fraction,
                // which always parse.
                let value = self.lexeme(&token).parse::<f64>().unwrap_or(f64::NAN);
                Parsed::leaf(literal(Literal::Number(value)))
            }
            T::String => {
                self.sema.emit(Emit::Constant, at, &mut self.report);
                let text = self.lexeme(&token);
                let symbol = self.intern(&text[1..text.len() - 1]);
                Parsed::leaf(literal(Literal::Str(symbol)))
            }
            T::False | T::True | T::Nil => {
                self.sema.emit(Emit::Literal, at, &mut self.report);
                Parsed::leaf(literal(match token.kind {
                    T::False => Literal::Bool(false),
                    T::True => Literal::Bool(true),
                    _ => Literal::Nil,
                }))
            }
            T::Identifier => self.variable(can_assign),
            T::This => self.this(),
            T::Super => self.super_access(),
            _ => return None,
        })
    }

    /// The infix rule of the operator just consumed, applied to `left`.
    fn infix(&mut self, left: Parsed, can_assign: bool) -> Parsed {
        let operator = self.previous;
        match operator.kind {
            T::LeftParen => {
                // A call of any value, a parenthesized property included:
                // `(a.m)(x)` reads `a.m` first, as clox does. (`a.m(x)` is
                // parsed by `dot`, as an invoke.)
                let (args, args_height) = self.arguments();
                let n_args = args.len() as u32;
                self.sema.emit(
                    Emit::Call { args: n_args },
                    self.previous.to_ref(),
                    &mut self.report,
                );
                let line = self.previous.line;
                let height = 1 + left.height.max(args_height);
                let callee = Box::new(left.expr);
                Parsed { expr: Expr::Call { callee, args, line, invoke: false }, height }
            }
            T::Dot => self.dot(left, can_assign),
            T::And => {
                let end_jump = self.sema.jump(Jump::IfFalse);
                self.sema.emit(Emit::Pop, operator.to_ref(), &mut self.report);
                let right = self.nested(|p| p.parse_precedence(Prec::And));
                let right_end = self.previous.to_ref();
                self.sema.patch_jump(end_jump, right_end, &mut self.report);
                logical(LogicalOp::And, left, right, right_end)
            }
            T::Or => {
                let else_jump = self.sema.jump(Jump::IfFalse);
                let end_jump = self.sema.jump(Jump::Always);
                self.sema.patch_jump(else_jump, operator.to_ref(), &mut self.report);
                self.sema.emit(Emit::Pop, operator.to_ref(), &mut self.report);
                let right = self.nested(|p| p.parse_precedence(Prec::Or));
                let right_end = self.previous.to_ref();
                self.sema.patch_jump(end_jump, right_end, &mut self.report);
                logical(LogicalOp::Or, left, right, right_end)
            }
            kind => {
                let op = binary_op(kind).expect("only operators have an infix precedence");
                let prec = infix_precedence(kind).next();
                let right = self.nested(|p| p.parse_precedence(prec));
                self.sema.emit(Emit::Binary(op), operator.to_ref(), &mut self.report);
                let height = 1 + left.height.max(right.height);
                let (left, right) = (Box::new(left.expr), Box::new(right.expr));
                Parsed { expr: Expr::Binary { op, left, right, line: operator.line }, height }
            }
        }
    }

    /// A variable read, or assigned if `can_assign` and an `=` follows. The
    /// variable is resolved before its value is parsed, as in clox.
    fn variable(&mut self, can_assign: bool) -> Parsed {
        let ident = self.ident(self.previous);
        let var = self.sema.resolve(ident.name, ident.token, &mut self.report);
        let target = VarUse { ident, var };
        if can_assign && self.matches(T::Equal) {
            self.sema.assign(var);
            let value = self.nested(|p| p.expression());
            self.sema.emit(Emit::SetVar, ident.token, &mut self.report);
            let height = value.height + 1;
            Parsed { expr: Expr::Assign { target, value: Box::new(value.expr) }, height }
        } else {
            self.sema.emit(Emit::GetVar, ident.token, &mut self.report);
            Parsed::leaf(Expr::Variable(target))
        }
    }

    fn this(&mut self) -> Parsed {
        let ident = self.ident(self.previous);
        let mut this = VarUse::new(ident);
        if self.sema.this_allowed(ident.token, &mut self.report) {
            this.var = self.sema.resolve(ident.name, ident.token, &mut self.report);
            self.sema.emit(Emit::GetVar, ident.token, &mut self.report);
        } else {
            self.sema.emit(Emit::Missing, ident.token, &mut self.report);
        }
        Parsed::leaf(Expr::This(this))
    }

    /// `super.name`, or `super.name(args)`. As in clox, `this` is resolved
    /// after the name and `super` after the arguments (errors in finding
    /// them are reported at the token before).
    fn super_access(&mut self) -> Parsed {
        let keyword = self.ident(self.previous);
        self.sema.check_super(keyword.token, &mut self.report);
        self.consume(T::Dot, "Expect '.' after 'super'.");
        self.consume(T::Identifier, "Expect superclass method name.");
        let method = self.ident(self.previous);
        let this_name = self.intern("this");
        let this_var = self.sema.resolve(this_name, self.previous.to_ref(), &mut self.report);
        let this = VarUse { ident: Ident { name: this_name, token: keyword.token }, var: this_var };
        self.sema.emit(Emit::GetVar, keyword.token, &mut self.report);
        let invoke = self.check(T::LeftParen);
        if invoke && !self.fits(2) {
            let super_ref = SuperRef { keyword: VarUse::new(keyword), this, method };
            return Parsed::leaf(Expr::Super(Box::new(super_ref)));
        }
        if invoke {
            self.advance();
            // The superclass is pushed before the arguments run.
            self.sema.emit(Emit::GetVar, keyword.token, &mut self.report);
            let (args, args_height) = self.arguments();
            let at = self.previous.to_ref();
            let super_var = self.sema.resolve(keyword.name, at, &mut self.report);
            let n_args = args.len() as u32;
            self.sema.emit(Emit::SuperInvoke { args: n_args }, at, &mut self.report);
            let super_ref =
                SuperRef { keyword: VarUse { ident: keyword, var: super_var }, this, method };
            let callee = Box::new(Expr::Super(Box::new(super_ref)));
            let height = 1 + args_height.max(1);
            Parsed {
                expr: Expr::Call { callee, args, line: self.previous.line, invoke: true },
                height,
            }
        } else {
            let at = self.previous.to_ref();
            let super_var = self.sema.resolve(keyword.name, at, &mut self.report);
            self.sema.emit(Emit::GetVar, keyword.token, &mut self.report);
            self.sema.emit(Emit::GetSuper, method.token, &mut self.report);
            let super_ref =
                SuperRef { keyword: VarUse { ident: keyword, var: super_var }, this, method };
            Parsed::leaf(Expr::Super(Box::new(super_ref)))
        }
    }

    /// `.name` after `object`: a property get, a set if `can_assign` and an
    /// `=` follows, or a method call if a `(` follows.
    fn dot(&mut self, object: Parsed, can_assign: bool) -> Parsed {
        self.consume(T::Identifier, "Expect property name after '.'.");
        let name = self.ident(self.previous);
        if can_assign && self.matches(T::Equal) {
            let value = self.nested(|p| p.expression());
            self.sema.emit(Emit::SetProperty, name.token, &mut self.report);
            let height = 1 + object.height.max(value.height);
            let (object, value) = (Box::new(object.expr), Box::new(value.expr));
            return Parsed { expr: Expr::Set { object, name, value }, height };
        }
        // A method call is two links: the property, and the call of it.
        if self.check(T::LeftParen) && self.fits(object.height + 2) {
            self.advance();
            self.sema.emit(Emit::Method, name.token, &mut self.report);
            let (args, args_height) = self.arguments();
            let n_args = args.len() as u32;
            self.sema.emit(Emit::Invoke { args: n_args }, self.previous.to_ref(), &mut self.report);
            let height = 1 + (object.height + 1).max(args_height);
            let callee = Box::new(Expr::Get { object: Box::new(object.expr), name });
            let expr = Expr::Call { callee, args, line: self.previous.line, invoke: true };
            return Parsed { expr, height };
        }
        self.sema.emit(Emit::GetProperty, name.token, &mut self.report);
        Parsed {
            expr: Expr::Get { object: Box::new(object.expr), name },
            height: object.height + 1,
        }
    }

    /// The arguments of a call, one level down, after its `(`; then its `)`.
    /// Returns them and the height of the tallest.
    fn arguments(&mut self) -> (Vec<Expr>, u32) {
        let mut args = Vec::new();
        let mut height = 0;
        if !self.check(T::RightParen) {
            loop {
                let arg = self.nested(|p| p.expression());
                if args.len() == MAX_ARGS {
                    self.error_at_previous("Can't have more than 255 arguments.");
                }
                args.push(arg.expr);
                height = height.max(arg.height);
                if !self.matches(T::Comma) {
                    break;
                }
            }
        }
        self.consume(T::RightParen, "Expect ')' after arguments.");
        (args, height)
    }
}

fn logical(op: LogicalOp, left: Parsed, right: Parsed, right_end: TokenRef) -> Parsed {
    let height = 1 + left.height.max(right.height);
    let expr =
        Expr::Logical(Box::new(Logical { op, left: left.expr, right: right.expr, right_end }));
    Parsed { expr, height }
}
