//! Runtime errors: a message and the stack trace of the frames it unwound.
//!
//! A [`RuntimeError`] of kind [`ErrorKind::Lox`] is a *user* error: the Lox
//! program did something LOX.md defines as an error, recursed past the
//! frame limit, ran out of heap, or was interrupted. One of kind
//! [`ErrorKind::Output`] means the program's output could not be written
//! (a full disk, a closed pipe): the program is stopped, and the embedder
//! reports it as an I/O failure, not as a Lox error. Implementation bugs
//! panic instead and are never reported this way.

use std::fmt;

use crate::abi::ErrorCode;

/// The runtime errors whose message names something, written once for
/// every engine (the fixed ones are `abi::ErrorCode`'s).
pub mod messages {
    /// Reading or assigning a global that was never defined.
    pub fn undefined_variable(name: &str) -> String {
        format!("Undefined variable '{name}'.")
    }

    /// A property an instance (or a superclass, for `super`) does not have.
    pub fn undefined_property(name: &str) -> String {
        format!("Undefined property '{name}'.")
    }

    /// A call with the wrong number of arguments.
    #[cold]
    pub fn arity(arity: u8, n_args: usize) -> String {
        format!("Expected {arity} arguments but got {n_args}.")
    }
}

/// One line of a stack trace: `[line N] in NAME()` or `[line N] in script`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLine {
    pub line: u32,
    /// The function's name; `None` for the top-level script.
    pub function: Option<String>,
}

impl fmt::Display for TraceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.function {
            Some(name) => write!(f, "[line {}] in {}()", self.line, name),
            None => write!(f, "[line {}] in script", self.line),
        }
    }
}

/// Why a program stopped with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorKind {
    /// A Lox runtime error, printed with its trace (exit code 70).
    #[default]
    Lox,
    /// Writing the program's output failed; the message is the I/O error's.
    Output,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeError {
    pub kind: ErrorKind,
    pub message: String,
    /// Innermost frame first.
    pub trace: Vec<TraceLine>,
}

impl RuntimeError {
    pub fn new(message: impl Into<String>) -> RuntimeError {
        RuntimeError { kind: ErrorKind::Lox, message: message.into(), trace: Vec::new() }
    }

    pub fn stack_overflow() -> RuntimeError {
        RuntimeError::new(ErrorCode::StackOverflow.message())
    }

    /// Writing output failed with `error`.
    pub fn output(error: &std::io::Error) -> RuntimeError {
        RuntimeError { kind: ErrorKind::Output, message: error.to_string(), trace: Vec::new() }
    }
}

/// The message, then one trace line per frame, each on its own line.
impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.message)?;
        for line in &self.trace {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RuntimeError {}
