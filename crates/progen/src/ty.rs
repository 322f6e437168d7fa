//! The generator's static types: what it knows a Lox expression evaluates
//! to, so that it can write programs that fail only where it means them to.
//!
//! Lox is dynamically typed; these types exist only in the generator. Every
//! variable, parameter, field name, method name and function result gets
//! one when it is created and keeps it: an assignment stores only a value of
//! the variable's type, which is what lets a later `a + b` or `f(x)` be
//! written without a runtime error.

/// Classes are numbered in the order the generator declares them.
pub(crate) type ClassId = usize;

/// The most parameters a generated function has (its faults may pass more).
pub(crate) const MAX_ARITY: usize = 4;

/// The types a parameter, or a function's plain result, can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    Num,
    Str,
    Bool,
    /// Any value at all: it may only be printed, compared with `==`, tested
    /// for truth or stored.
    Any,
}

/// What a function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ret {
    Scalar(Scalar),
    /// A function of this arity (taking anything) that returns the scalar:
    /// what a closure factory returns.
    Fn(u8, Scalar),
}

/// A function's signature: parameter types and result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sig {
    pub arity: u8,
    /// Only the first `arity` are meaningful; the rest are `Any`.
    pub params: [Scalar; MAX_ARITY],
    pub ret: Ret,
}

impl Sig {
    pub fn params(&self) -> &[Scalar] {
        &self.params[..self.arity as usize]
    }

    /// The signature of what a function returning `Ret::Fn(arity, ret)` returns.
    pub fn returned(arity: u8, ret: Scalar) -> Sig {
        Sig { arity, params: [Scalar::Any; MAX_ARITY], ret: Ret::Scalar(ret) }
    }
}

/// The static type of a variable or expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Num,
    Str,
    Bool,
    Any,
    Fn(Sig),
    Class(ClassId),
    /// An instance of this class or of one of its subclasses.
    Inst(ClassId),
}

impl From<Scalar> for Ty {
    fn from(scalar: Scalar) -> Ty {
        match scalar {
            Scalar::Num => Ty::Num,
            Scalar::Str => Ty::Str,
            Scalar::Bool => Ty::Bool,
            Scalar::Any => Ty::Any,
        }
    }
}

impl Ret {
    pub fn ty(self) -> Ty {
        match self {
            Ret::Scalar(scalar) => scalar.into(),
            Ret::Fn(arity, ret) => Ty::Fn(Sig::returned(arity, ret)),
        }
    }
}
