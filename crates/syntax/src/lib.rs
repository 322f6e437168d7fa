//! Strata's front end, part one: scanning and parsing Lox source.
//!
//! [`parse`] turns source text into an [`ast::Program`] plus every
//! [`Diagnostic`], and never fails: a broken declaration is reported and
//! left out. Resolution (scopes, slots, limits) is the `resolve` crate's job.

pub mod ast;
mod diagnostic;
mod interner;
mod parser;
mod scanner;
mod token;

pub use diagnostic::{Diagnostic, Location, decode_source};
pub use interner::{Interner, Symbol};
pub use parser::{MAX_ARGS, MAX_NESTING, Parse, parse};
pub use scanner::{Scanner, is_unfinished};
pub use token::{Span, Token, TokenKind, TokenRef};
