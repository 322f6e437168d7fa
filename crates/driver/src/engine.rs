//! The engines the driver knows.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// Walks the resolved syntax tree.
    Tree,
    /// Compiles to bytecode and runs it in a virtual machine.
    Vm,
    /// Runs bytecode in the VM and compiles hot functions to machine code.
    /// The default: faster than `vm` on every benchmark program, and as
    /// quick to start (Cranelift is set up only when code gets hot).
    #[default]
    Jit,
}

impl Engine {
    /// Every engine, in the order tests and tools run them.
    pub const ALL: &'static [Engine] = &[Engine::Tree, Engine::Vm, Engine::Jit];

    pub fn name(self) -> &'static str {
        match self {
            Engine::Tree => "tree",
            Engine::Vm => "vm",
            Engine::Jit => "jit",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not an engine's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEngine(pub String);

impl fmt::Display for UnknownEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<_> = Engine::ALL.iter().map(|e| e.name()).collect();
        write!(f, "unknown engine '{}' (expected one of: {})", self.0, names.join(", "))
    }
}

impl std::error::Error for UnknownEngine {}

impl FromStr for Engine {
    type Err = UnknownEngine;

    fn from_str(name: &str) -> Result<Engine, UnknownEngine> {
        Engine::ALL
            .iter()
            .copied()
            .find(|e| e.name() == name)
            .ok_or_else(|| UnknownEngine(name.to_string()))
    }
}
