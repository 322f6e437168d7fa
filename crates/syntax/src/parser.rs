//! The parser: tokens to a syntax tree, in one pass with the semantic pass.
//!
//! It is the book's C compiler (clox) with code generation replaced by
//! building a tree: the same recursive descent for statements
//! (`stmt.rs`), the same Pratt parser and precedence table for expressions
//! (`expr.rs`), and the same calls into scopes and limits at the same points
//! (through [`Semantics`]), so that it reports exactly the errors clox
//! reports. Recovery is clox's: after an error the [`Reporter`] is in panic
//! mode and reports nothing more, while parsing goes on (a missing token is
//! not consumed, a missing expression is `nil`) to the end of the
//! declaration; then the parser resynchronises at a statement boundary
//! (after a `;`, or before a keyword that starts a statement). A tree with
//! errors is never run.
//!
//! Nesting is bounded: the syntax tree is at most [`MAX_NESTING`] levels
//! deep, links of left-associative chains included, so no phase after the
//! parser recurses deeper. Reaching the limit is a fatal error.

use crate::ast::{FnInfo, Ident, Program, Stmt};
use crate::diagnostic::Diagnostic;
use crate::interner::{Interner, Symbol};
use crate::report::Reporter;
use crate::scanner::Scanner;
use crate::semantics::{FrameKind, Semantics};
use crate::token::{Span, Token, TokenKind, TokenRef};

/// How many levels deep the syntax tree may be.
///
/// Every node is a level: each statement, each block or function or class
/// body (its statements are one level below the construct), each method,
/// and each expression node: a literal, variable or `this`, each unary
/// operator, each grouping, each link of a chain (every binary or logical
/// operator, call, property get or set; `a.m(...)` and `super.m(...)` are
/// two, the property and the call), `super.m`, each assignment. A
/// top-level statement is at level 1; call arguments and operands are one
/// level below their call or operator. Every phase after the parser
/// (resolution, compilation, the tree-walker, dropping the tree) recurses at
/// most this deep, plus a constant. Like Lua's limit of 200 "C levels", it
/// is far beyond what people write.
pub const MAX_NESTING: u32 = 256;

/// The book's limit on parameters and arguments.
pub const MAX_ARGS: usize = 255;

/// What the parser made of a source text.
#[derive(Debug)]
pub struct Parse {
    pub program: Program,
    /// Every error, syntactic and semantic, in the order found.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parse `source` into a program, interning names into `interner`, and
/// driving `sema` through it.
pub fn parse(source: &str, interner: &mut Interner, sema: &mut impl Semantics) -> Parse {
    let mut parser = Parser::new(source, interner, sema);
    parser.sema.begin_function(FrameKind::Script);
    let mut stmts = Vec::new();
    while !parser.matches(TokenKind::Eof) {
        stmts.push(parser.declaration());
    }
    let end = parser.previous.to_ref();
    let script: FnInfo = parser.sema.end_function(end, &mut parser.report);
    Parse { program: Program { stmts, script }, diagnostics: parser.report.into_diagnostics() }
}

pub(crate) struct Parser<'src, 'a, S: Semantics> {
    source: &'src str,
    scanner: Scanner<'src>,
    interner: &'a mut Interner,
    pub(crate) sema: &'a mut S,
    pub(crate) report: Reporter<'src>,
    pub(crate) current: Token,
    pub(crate) previous: Token,
    /// How many levels lie above the node being parsed.
    depth: u32,
}

impl<'src, 'a, S: Semantics> Parser<'src, 'a, S> {
    fn new(source: &'src str, interner: &'a mut Interner, sema: &'a mut S) -> Self {
        let start = Token { kind: TokenKind::Eof, span: Span::default(), line: 1, error: None };
        let mut parser = Parser {
            source,
            scanner: Scanner::new(source),
            interner,
            sema,
            report: Reporter::new(source),
            current: start,
            previous: start,
            depth: 0,
        };
        parser.advance();
        parser
    }

    // ---------------------------------------------------------------- tokens

    /// Move to the next token, reporting scanner errors on the way. Once the
    /// front end has halted, every token is the end of input.
    pub(crate) fn advance(&mut self) {
        self.previous = self.current;
        if self.report.is_halted() {
            self.current = self.end_token();
            return;
        }
        loop {
            self.current = self.scanner.next_token();
            if self.current.kind != TokenKind::Error {
                break;
            }
            self.report.scanner_error(&self.current);
        }
    }

    pub(crate) fn check(&self, kind: TokenKind) -> bool {
        self.current.kind == kind
    }

    pub(crate) fn matches(&mut self, kind: TokenKind) -> bool {
        if !self.check(kind) {
            return false;
        }
        self.advance();
        true
    }

    /// Consume a `kind` token, or report `message` at the current token and
    /// go on without consuming it. Like clox, callers then use
    /// `self.previous` as the token they wanted, whatever it is.
    pub(crate) fn consume(&mut self, kind: TokenKind, message: &str) {
        if self.check(kind) {
            self.advance();
        } else {
            self.error_at_current(message);
        }
    }

    pub(crate) fn lexeme(&self, token: &Token) -> &'src str {
        &self.source[token.span.range()]
    }

    pub(crate) fn intern(&mut self, text: &str) -> Symbol {
        self.interner.intern(text)
    }

    pub(crate) fn ident(&mut self, token: Token) -> Ident {
        let name = self.interner.intern(self.lexeme(&token));
        Ident { name, token: token.to_ref() }
    }

    /// An end-of-input token where the scanner stands.
    fn end_token(&self) -> Token {
        let end = self.previous.span.end;
        let span = Span { start: end, end };
        Token { kind: TokenKind::Eof, span, line: self.previous.line, error: None }
    }

    // ---------------------------------------------------------------- errors

    pub(crate) fn error_at_current(&mut self, message: &str) {
        self.report.error_at(self.current.to_ref(), message);
    }

    pub(crate) fn error_at_previous(&mut self, message: &str) {
        self.report.error_at(self.previous.to_ref(), message);
    }

    /// Leave panic mode and skip to a statement boundary. Panic mode ends
    /// first, so a scanner error met while skipping is reported (and
    /// starts a new panic), as in clox.
    pub(crate) fn synchronize(&mut self) {
        self.report.calm();
        while !self.check(TokenKind::Eof) {
            if self.previous.kind == TokenKind::Semicolon {
                return;
            }
            use TokenKind as T;
            if let T::Class | T::Fun | T::Var | T::For | T::If | T::While | T::Print | T::Return =
                self.current.kind
            {
                return;
            }
            self.advance();
        }
    }

    // --------------------------------------------------------------- nesting

    /// Whether a node `height` levels high fits at the current depth. If not,
    /// report `Too much nesting.` at the current token and halt: the
    /// scanner is at its end from now on, so every caller unwinds at once.
    pub(crate) fn fits(&mut self, height: u32) -> bool {
        if self.depth + height <= MAX_NESTING {
            return true;
        }
        self.report.fatal(self.current.to_ref(), "Too much nesting.");
        self.current = self.end_token();
        false
    }

    /// Parse a child of the node being parsed, one level deeper.
    pub(crate) fn nested<T>(&mut self, parse: impl FnOnce(&mut Self) -> T) -> T {
        self.depth += 1;
        let result = parse(self);
        self.depth -= 1;
        result
    }
}

/// What stands for a statement that could not be parsed.
pub(crate) fn placeholder_stmt(token: TokenRef) -> Stmt {
    Stmt::Expr(crate::expr::placeholder_expr(token))
}
