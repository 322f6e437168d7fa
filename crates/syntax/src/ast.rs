//! The syntax tree the parser builds and the resolver annotates.
//!
//! The tree is shaped for the engines that walk it: grouping parentheses are
//! gone, a `for` loop keeps its own node (its bytecode size differs from a
//! `while`), and every node that can raise a runtime error carries the line
//! of the token it reports.
//!
//! Fields of type [`VarRef`], [`FnInfo`], [`ScopeExit`] and [`ScopeInfo`]
//! hold what the semantic pass (the `resolve` crate, driven by the parser
//! through [`crate::Semantics`]) decided; an engine must only run a tree
//! that compiled without diagnostics.
//!
//! The tree is at most [`crate::MAX_NESTING`] levels deep.

use std::rc::Rc;

use crate::interner::Symbol;
use crate::token::TokenRef;

/// A whole program, or one REPL entry.
#[derive(Debug, Default)]
pub struct Program {
    pub stmts: Vec<Stmt>,
    /// Filled by the resolver: the script's own frame needs this many slots.
    pub script: FnInfo,
}

/// An identifier where it occurs.
#[derive(Debug, Clone, Copy)]
pub struct Ident {
    pub name: Symbol,
    pub token: TokenRef,
}

impl Ident {
    pub fn line(&self) -> u32 {
        self.token.line
    }
}

/// Where a variable lives, as the resolver decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VarRef {
    /// Not resolved (only in a program with errors).
    #[default]
    Unresolved,
    /// A slot in the current function's frame (slot 0 is the callee or `this`).
    Local(u8),
    /// An index into the current closure's captured variables.
    Upvalue(u8),
    /// An index into the global table of the resolver's session.
    Global(u32),
}

/// A use of a variable by name (also `this` and `super`, which the resolver
/// treats as locals of methods).
#[derive(Debug, Clone, Copy)]
pub struct VarUse {
    pub ident: Ident,
    pub var: VarRef,
}

impl VarUse {
    pub fn new(ident: Ident) -> VarUse {
        VarUse { ident, var: VarRef::Unresolved }
    }
}

#[derive(Debug)]
pub enum Stmt {
    Expr(Expr),
    Print(Expr),
    /// `var name = init;` (`init` is `None` for `var name;`).
    Var {
        name: VarUse,
        init: Option<Expr>,
    },
    Block(Block),
    If(Box<If>),
    While(Box<While>),
    For(Box<For>),
    /// `fun name(...) {...}`: `name` is the variable the closure is stored in.
    Fun {
        name: VarUse,
        function: Rc<Function>,
    },
    Class(Box<Class>),
    /// `return value?;` carries the `return` keyword for diagnostics.
    Return {
        keyword: TokenRef,
        value: Option<Expr>,
    },
}

#[derive(Debug, Default)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    /// Filled by the resolver: the block's locals as they leave scope.
    pub exit: ScopeExit,
}

/// The locals a scope ends, innermost (highest slot) first: `true` where a
/// closure captured the local by reference ([`Capture::by_value`] false),
/// so its upvalue must be closed rather than the slot simply dropped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScopeExit {
    pub captured: Vec<bool>,
}

#[derive(Debug)]
pub struct If {
    pub cond: Expr,
    pub then_branch: Stmt,
    pub else_branch: Option<Stmt>,
    /// Last token of the `then` branch (for `Too much code to jump over.`).
    pub then_end: TokenRef,
    /// Last token of the `else` branch, when there is one.
    pub else_end: Option<TokenRef>,
}

#[derive(Debug)]
pub struct While {
    pub cond: Expr,
    pub body: Stmt,
    /// Last token of the body (for `Loop body too large.`).
    pub body_end: TokenRef,
}

#[derive(Debug)]
pub struct For {
    /// A `Var` or `Expr` statement, in its own scope around the loop.
    pub init: Option<Stmt>,
    pub cond: Option<Expr>,
    pub incr: Option<Expr>,
    pub body: Stmt,
    /// The `)` closing the clauses, where an oversized increment is reported.
    pub clauses_end: TokenRef,
    /// Last token of the body.
    pub body_end: TokenRef,
    /// Filled by the resolver: the scope around the loop (the initializer's
    /// variable) as it ends.
    pub exit: ScopeExit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionKind {
    Function,
    Method,
    Initializer,
}

/// A function or method declaration.
#[derive(Debug)]
pub struct Function {
    pub name: Ident,
    pub kind: FunctionKind,
    pub params: Vec<Ident>,
    pub body: Vec<Stmt>,
    /// Filled by the resolver.
    pub info: FnInfo,
}

/// What the resolver learned about a function body (or the script).
#[derive(Debug, Default, Clone)]
pub struct FnInfo {
    /// Unique among the functions of one front-end session; engines index
    /// their per-function data by it.
    pub id: u32,
    /// The variables the closure captures, in upvalue-index order.
    pub upvalues: Vec<Capture>,
    /// The most frame slots live at once, slot 0 included.
    pub max_slots: u16,
    /// An upper bound on the values the frame holds at once on the bytecode
    /// VM's operand stack: slot 0, parameters, locals and temporaries (at
    /// most `resolve::MAX_FRAME_SLOTS`; saturating at `u16::MAX` in a
    /// program with errors).
    pub stack_slots: u16,
}

/// One captured variable: a slot of the enclosing function's frame
/// (`is_local`) or one of the enclosing closure's own captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capture {
    pub is_local: bool,
    pub index: u8,
    /// No code assigns the variable once it holds its value, so the
    /// closure may hold a copy of that value rather than share the
    /// variable through an upvalue (as Java's lambdas capture effectively
    /// final locals). Decided by the resolver once the whole program is
    /// parsed: later code may assign a variable captured earlier.
    pub by_value: bool,
}

#[derive(Debug)]
pub struct Class {
    pub name: VarUse,
    /// `< Super`: a use of the superclass variable.
    pub superclass: Option<VarUse>,
    pub methods: Vec<Rc<Function>>,
    /// Filled by the resolver when there is a superclass: the hidden local
    /// `super` that methods capture, in the scope around the methods.
    pub scope: ScopeInfo,
}

/// A hidden scope the resolver opened (today only `super`'s).
#[derive(Debug, Default, Clone)]
pub struct ScopeInfo {
    /// The slot of the hidden local, if the scope is a local one.
    pub slot: Option<u8>,
    /// The scope's locals as it ends.
    pub exit: ScopeExit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Negate,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    Equal,
    NotEqual,
    Less,
    LessEqual,
    Greater,
    GreaterEqual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogicalOp {
    And,
    Or,
}

#[derive(Debug, Clone, Copy)]
pub enum Literal {
    Nil,
    Bool(bool),
    Number(f64),
    /// The string's contents (without quotes), interned.
    Str(Symbol),
}

#[derive(Debug)]
pub enum Expr {
    /// A literal; `token` is where it stands (constants are counted per function).
    Literal {
        value: Literal,
        token: TokenRef,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
        line: u32,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
        line: u32,
    },
    Logical(Box<Logical>),
    Variable(VarUse),
    Assign {
        target: VarUse,
        value: Box<Expr>,
    },
    /// `callee(args)`: `line` is the closing parenthesis's.
    Call {
        callee: Box<Expr>,
        args: Vec<Expr>,
        line: u32,
        /// Written `object.name(...)` or `super.name(...)`: engines look the
        /// method up before the arguments run and call it without making a
        /// bound method (the book's `OP_INVOKE`), and a receiver that is not
        /// an instance is `Only instances have methods.`. A parenthesized
        /// property, `(object.name)(...)`, is read first and then called,
        /// like any value: `invoke` is false.
        invoke: bool,
    },
    /// `object.name`
    Get {
        object: Box<Expr>,
        name: Ident,
    },
    /// `object.name = value`
    Set {
        object: Box<Expr>,
        name: Ident,
        value: Box<Expr>,
    },
    This(VarUse),
    /// `super.method`: `this` and `super` are resolved like variables.
    Super(Box<SuperRef>),
}

#[derive(Debug)]
pub struct Logical {
    pub op: LogicalOp,
    pub left: Expr,
    pub right: Expr,
    /// Last token of the right operand (for `Too much code to jump over.`).
    pub right_end: TokenRef,
}

#[derive(Debug)]
pub struct SuperRef {
    /// The `super` keyword, resolved to the hidden `super` variable.
    pub keyword: VarUse,
    /// The receiver, resolved like `this`.
    pub this: VarUse,
    pub method: Ident,
}

impl Expr {
    /// Whether evaluating this expression can run Lox code or allocate.
    ///
    /// Engines use it to skip rooting a value that is held while such an
    /// expression is evaluated: nothing can collect in between.
    pub fn is_simple(&self) -> bool {
        matches!(self, Expr::Literal { .. } | Expr::Variable(_) | Expr::This(_))
    }
}
