//! What the parser tells the semantic pass, and when.
//!
//! The book's C compiler (clox) parses, resolves and emits code in one pass,
//! and which errors it reports depends on that interleaving: a semantic
//! error (a redeclared local, `this` outside a class, a jump too long)
//! enters the same panic mode as a syntax error, so it silences what follows
//! and decides where the parser resynchronises. To report exactly what clox
//! reports, the parser calls a [`Semantics`] at exactly the points where
//! clox does the same work, the way Clang's parser calls its `Sema`
//! actions: the parser knows the grammar and nothing else; the
//! implementation (the `resolve` crate) knows scopes, slots and limits.
//!
//! Code size and stack depth are limits too (jumps over more than 65535
//! bytes of clox's bytecode; a frame's stack slots), measured as the code is
//! recognised. So the parser also narrates the instructions a one-pass
//! compiler emits at each point ([`Emit`], jumps and loops), without knowing
//! what they cost: the implementation measures them.
//!
//! Every method that can find an error takes the [`Reporter`], and reports
//! at the token it is given, which is the token clox reports at.

use crate::ast::{BinaryOp, FnInfo, Ident, ScopeExit, VarRef};
use crate::interner::Symbol;
use crate::report::Reporter;
use crate::token::TokenRef;

/// The kind of a frame the parser opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// The top-level code of a program or REPL entry.
    Script,
    Function,
    Method,
    Initializer,
}

/// An instruction a one-pass compiler emits at this point, in the order it
/// emits them. Jumps and loops have their own methods, as they are patched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    /// Push `nil`, `true` or `false`.
    Literal,
    /// Push a number or string literal, a constant of the function.
    Constant,
    /// Push a variable's value (also `this`, the superclass, a class).
    GetVar,
    /// Store the value on top into a variable; it stays on the stack.
    SetVar,
    /// Push nothing real: stands for an operand that is missing or was
    /// rejected (`Expect expression.`, `this` outside a class), so that the
    /// stack stays balanced. A one-pass compiler emits nothing here.
    Missing,
    /// Replace the value on top by `-value` or `!value`.
    Unary,
    /// Replace the two values on top by the operator's result.
    Binary(BinaryOp),
    /// Drop the value on top (an expression statement, a local leaving scope).
    Pop,
    Print,
    /// Return the value on top.
    Return,
    /// Return `nil` (`this` in an initializer): a bare `return;`, or the end
    /// of a body.
    ReturnNil,
    /// Call the callee below `args` arguments.
    Call {
        args: u32,
    },
    /// Look a method up on the object on top before its arguments run,
    /// leaving the method and the receiver (`a.m(...)`; a parenthesized
    /// property, `(a.m)(...)`, is a `GetProperty` then a `Call`, as in clox).
    Method,
    /// Call the method looked up below `args` arguments (`a.m(...)`).
    Invoke {
        args: u32,
    },
    GetProperty,
    /// Set a property of the object below the value on top to it.
    SetProperty,
    /// Look `super.m` up, from `this` and the superclass on top.
    GetSuper,
    /// Call `super.m` below `args` arguments (the arguments follow `this` and
    /// the superclass).
    SuperInvoke {
        args: u32,
    },
    /// Push a new closure with `captures` captured variables.
    Closure {
        captures: u32,
    },
    /// Push a new class.
    Class,
    /// Copy the superclass's methods into the class on top, and pop it.
    Inherit,
    /// Add the closure on top to the class below it, and pop it.
    DefineMethod,
}

/// Whether a forward jump is conditional.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jump {
    /// Jump if the value on top is falsey (it stays on the stack).
    IfFalse,
    Always,
}

/// The semantic pass the parser drives. See the module documentation.
pub trait Semantics {
    /// A position in the code being emitted: where a jump was emitted or a
    /// loop starts.
    type Mark: Copy;

    /// A new frame begins: the script before its first token, a function or
    /// method after its name. Its slot 0 holds the callee, or `this`.
    fn begin_function(&mut self, kind: FrameKind);
    /// The frame's code ends at `end` (a body's `}`, or the end of input).
    fn end_function(&mut self, end: TokenRef, report: &mut Reporter<'_>) -> FnInfo;

    fn begin_scope(&mut self);
    /// The scope's locals leave, innermost first.
    fn end_scope(&mut self) -> ScopeExit;

    /// Declare a variable (`var`, `fun`, `class` or parameter) named by
    /// `name`, where it is reported at. A global at the script's top level,
    /// else a new local not yet initialized.
    fn declare(&mut self, name: Ident, report: &mut Reporter<'_>) -> VarRef;
    /// Declare a parameter named by `name`: a local, initialized, whose
    /// value the caller has already put in its slot.
    fn parameter(&mut self, name: Ident, report: &mut Reporter<'_>) -> VarRef;
    /// Add a local that no source declares (a class's `super`), reporting a
    /// limit at `at`.
    fn add_hidden_local(&mut self, name: Symbol, at: TokenRef, report: &mut Reporter<'_>)
    -> VarRef;
    /// The variable declared last may now be read (a local), or defines the
    /// global from the value on top.
    fn define(&mut self);
    /// The local declared last may now be read (a function may recurse).
    fn mark_initialized(&mut self);
    /// Where the variable `name` used at `at` lives.
    fn resolve(&mut self, name: Symbol, at: TokenRef, report: &mut Reporter<'_>) -> VarRef;
    /// An assignment stores into `var` (what [`resolve`](Self::resolve)
    /// returned for its target).
    fn assign(&mut self, var: VarRef);

    /// A class body begins (after the class's name is defined).
    fn begin_class(&mut self);
    /// The class being declared has a superclass.
    fn inherit(&mut self);
    fn end_class(&mut self);
    /// `this` at `at`: whether it is inside a class.
    fn this_allowed(&mut self, at: TokenRef, report: &mut Reporter<'_>) -> bool;
    /// `super` at `at`.
    fn check_super(&mut self, at: TokenRef, report: &mut Reporter<'_>);
    /// `return` at `at`.
    fn check_return(&mut self, at: TokenRef, report: &mut Reporter<'_>);
    /// `return` at `at`, with a value.
    fn check_return_value(&mut self, at: TokenRef, report: &mut Reporter<'_>);

    /// Emit `op`; `at` is the token it stands for (a pushed value's token).
    fn emit(&mut self, op: Emit, at: TokenRef, report: &mut Reporter<'_>);
    /// Emit a forward jump, to patch later.
    fn jump(&mut self, kind: Jump) -> Self::Mark;
    /// Make `jump` land here; `at` is the last token of what it jumps over.
    fn patch_jump(&mut self, jump: Self::Mark, at: TokenRef, report: &mut Reporter<'_>);
    /// Where a loop starts.
    fn loop_start(&mut self) -> Self::Mark;
    /// Emit the backward jump to `start` at `at`, the loop's last token.
    fn loop_back(&mut self, start: Self::Mark, at: TokenRef, report: &mut Reporter<'_>);
}
