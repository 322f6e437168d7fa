//! The compile-error sink, with the book's panic mode.
//!
//! Every compile error, syntactic or semantic, goes through one
//! [`Reporter`], as every error of the book's C compiler goes through its
//! one `errorAt`: the first error of a declaration is reported and puts the
//! front end in *panic mode*, which silences every later error until the
//! parser resynchronises. A *fatal* error (nesting too deep) is always
//! reported and stops the front end: nothing after it is reported.

use crate::diagnostic::Diagnostic;
use crate::token::{Token, TokenRef};

pub struct Reporter<'src> {
    source: &'src str,
    diagnostics: Vec<Diagnostic>,
    panic_mode: bool,
    halted: bool,
}

impl<'src> Reporter<'src> {
    pub(crate) fn new(source: &'src str) -> Reporter<'src> {
        Reporter { source, diagnostics: Vec::new(), panic_mode: false, halted: false }
    }

    /// Report `message` at `token` (`Error at 'LEXEME'` or `Error at end`),
    /// unless an earlier error of the same declaration already was.
    pub fn error_at(&mut self, token: TokenRef, message: &str) {
        let diagnostic = Diagnostic::at(self.source, token, message);
        self.push(diagnostic);
    }

    /// Report a scanner error token (`Error: MESSAGE`, no lexeme).
    pub(crate) fn scanner_error(&mut self, token: &Token) {
        let message = token.error.unwrap_or("Unexpected character.");
        self.push(Diagnostic::bare(token.line, token.span, message));
    }

    fn push(&mut self, diagnostic: Diagnostic) {
        if self.panic_mode || self.halted {
            return;
        }
        self.panic_mode = true;
        self.diagnostics.push(diagnostic);
    }

    /// Report an error that stops the front end, even in panic mode; every
    /// later report is dropped.
    pub(crate) fn fatal(&mut self, token: TokenRef, message: &str) {
        if self.halted {
            return;
        }
        self.diagnostics.push(Diagnostic::at(self.source, token, message));
        self.halted = true;
    }

    pub(crate) fn is_panicking(&self) -> bool {
        self.panic_mode
    }

    /// Leave panic mode (the parser is about to resynchronise).
    pub(crate) fn calm(&mut self) {
        self.panic_mode = false;
    }

    pub(crate) fn is_halted(&self) -> bool {
        self.halted
    }

    pub(crate) fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics
    }
}
