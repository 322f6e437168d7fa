//! Compile-time diagnostics, in the exact format of LOX.md.
//!
//! Every compile error is a user error: the front end reports it and goes on.

use std::fmt;

use crate::token::{Span, TokenRef};

/// Where on its line a diagnostic points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `Error at 'LEXEME'`.
    Token(String),
    /// `Error at end`.
    End,
    /// `Error` alone (scanner errors, undecodable source).
    Bare,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: u32,
    /// The offending bytes, for excerpts; empty at the end of input.
    pub span: Span,
    pub location: Location,
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at a token, whose lexeme is read from `source`.
    pub fn at(source: &str, token: TokenRef, message: impl Into<String>) -> Diagnostic {
        let location = if token.at_end {
            Location::End
        } else {
            Location::Token(source.get(token.span.range()).unwrap_or("").to_string())
        };
        Diagnostic { line: token.line, span: token.span, location, message: message.into() }
    }

    /// A diagnostic with no lexeme (`[line N] Error: MESSAGE`).
    pub fn bare(line: u32, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { line, span, location: Location::Bare, message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[line {}] Error", self.line)?;
        match &self.location {
            Location::Token(lexeme) => write!(f, " at '{lexeme}'")?,
            Location::End => write!(f, " at end")?,
            Location::Bare => {}
        }
        write!(f, ": {}", self.message)
    }
}

/// Decode a source file, or explain why it is not UTF-8.
///
/// The error names the line of the first undecodable byte.
pub fn decode_source(bytes: &[u8]) -> Result<&str, Diagnostic> {
    std::str::from_utf8(bytes).map_err(|err| {
        let valid = err.valid_up_to();
        let line = 1 + bytes[..valid].iter().filter(|&&b| b == b'\n').count() as u32;
        let span = Span { start: valid as u32, end: valid as u32 + 1 };
        Diagnostic::bare(line, span, "Source is not valid UTF-8.")
    })
}
