//! Strata's front end, part one: scanning and parsing Lox source.
//!
//! [`parse`] turns source text into an [`ast::Program`] plus every
//! [`Diagnostic`], and never fails: a broken declaration is reported and
//! parsing goes on. It parses in one pass with the semantic analysis, as the
//! book's C compiler does, so that both report the same errors: the parser
//! calls a [`Semantics`] (implemented by the `resolve` crate, which owns
//! scopes, slots and limits) at the points where that compiler resolves
//! names and emits code, and both report through one [`Reporter`].

pub mod ast;
mod diagnostic;
mod expr;
mod interner;
mod parser;
mod report;
mod scanner;
mod semantics;
mod stmt;
mod token;

pub use diagnostic::{Diagnostic, Location, decode_source};
pub use interner::{Interner, Symbol};
pub use parser::{MAX_ARGS, MAX_NESTING, Parse, parse};
pub use report::Reporter;
pub use scanner::{Scanner, is_unfinished};
pub use semantics::{Emit, FrameKind, Jump, Semantics};
pub use token::{Span, Token, TokenKind, TokenRef};
