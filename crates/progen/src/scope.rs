//! What is in scope where the generator is writing: variables by lexical
//! scope, the enclosing functions, and the per-function counts that keep a
//! program inside LOX.md's limits.

use std::collections::HashSet;

use crate::ty::{ClassId, Ret, Ty};

/// A variable the program has declared.
#[derive(Debug, Clone)]
pub(crate) struct Var {
    /// Unique in the program, so that captures can be counted.
    pub id: u32,
    pub name: String,
    pub ty: Ty,
    /// The function (index into `Gen::fns`) whose frame holds it.
    pub fn_level: usize,
    pub global: bool,
    /// Never assigned: loop counters and `fuel`, which keep programs finite.
    pub frozen: bool,
}

/// One lexical scope.
#[derive(Debug, Default)]
pub(crate) struct Scope {
    pub vars: Vec<Var>,
    /// Whether this is the global scope (only the outermost one is).
    pub global: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FnKind {
    Script,
    Function,
    Method,
    Initializer,
}

/// What `this` may do where the generator is writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThisMode {
    /// Not in a method: `this` is a compile error.
    None,
    /// In an initializer (or a function nested in one): only `this.f = v`
    /// and reads of fields already set. The instance may belong to a
    /// subclass whose own fields are not set yet, so calling a method on
    /// `this`, or letting `this` escape, could read a missing field.
    Init,
    /// In any other method: anything.
    Full,
}

/// A function being written (the script is the outermost).
#[derive(Debug)]
pub(crate) struct FnCtx {
    pub kind: FnKind,
    /// What `return` must give; `None` in the script and initializers.
    pub ret: Option<Ret>,
    /// The class `this` is an instance of (lexically), and what it may do.
    pub this_class: Option<ClassId>,
    pub this_mode: ThisMode,
    /// Fields of `this` already set (in initializers).
    pub ready_fields: Vec<usize>,
    /// Local slots in use, slot 0 included (LOX.md allows 256).
    pub locals: usize,
    /// Number and string literals written in this function (256 allowed,
    /// except in the script).
    pub constants: usize,
    /// Variables of enclosing functions this one captures (256 allowed).
    pub captures: HashSet<u32>,
    /// Loops open in this function.
    pub loops: u32,
}

impl FnCtx {
    pub fn new(kind: FnKind, ret: Option<Ret>) -> FnCtx {
        FnCtx {
            kind,
            ret,
            this_class: None,
            this_mode: ThisMode::None,
            ready_fields: Vec::new(),
            locals: 1,
            constants: 0,
            captures: HashSet::new(),
            loops: 0,
        }
    }
}

/// Where the per-function limits are held, well below LOX.md's 256 so that
/// the statement being written can always be finished.
pub(crate) const LOCALS_SOFT_LIMIT: usize = 180;
pub(crate) const CONSTANTS_SOFT_LIMIT: usize = 180;
/// Past this, literals are written only where nothing else will do.
pub(crate) const CONSTANTS_HARD_LIMIT: usize = 230;
pub(crate) const CAPTURES_SOFT_LIMIT: usize = 180;
