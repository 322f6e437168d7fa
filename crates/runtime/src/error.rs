//! Runtime errors: a message and the stack trace of the frames it unwound.
//!
//! Every variant of failure here is a *user* error (the Lox program did
//! something LOX.md defines as an error, or recursed past the frame limit);
//! implementation bugs panic instead and are never reported this way.

use std::fmt;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeError {
    pub message: String,
    /// Innermost frame first.
    pub trace: Vec<TraceLine>,
}

impl RuntimeError {
    pub fn new(message: impl Into<String>) -> RuntimeError {
        RuntimeError { message: message.into(), trace: Vec::new() }
    }

    pub fn stack_overflow() -> RuntimeError {
        RuntimeError::new("Stack overflow.")
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
