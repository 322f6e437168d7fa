//! The interpreter proper: one frame's worth of state, statements and
//! expressions.
//!
//! Frames live in the runtime's value stack exactly as the bytecode VM lays
//! them out: slot 0 holds the callee (or `this`), then the parameters, then
//! the locals in the order the resolver numbered them. Temporaries that must
//! survive an allocation (a call's callee and arguments) are pushed above
//! them; a binary operator's left operand is held in a [`Root`] only when
//! the right operand can allocate. Captured variables are upvalues, open
//! while their frame lives, as in the book's C VM.
//!
//! `exec` returns [`Value::UNDEFINED`] for "go on" and any other value for
//! "return this value", which keeps its result in two registers.

use std::io::Write;

use resolve::FrontEnd;
use runtime::abi::ErrorCode;
use runtime::{
    CacheHit, Gc, Heap, ObjBoundMethod, ObjClass, ObjClosure, ObjInstance, ObjString, OutOfMemory,
    Printed, Root, RuntimeError, Stack, Value,
};
use runtime::{messages, native_stack};
use syntax::ast::*;

use crate::engine::State;

/// An error on its way out: the message and trace so far, and the line the
/// frame being unwound was executing.
pub(crate) struct Throw {
    pub(crate) error: RuntimeError,
    pub(crate) line: u32,
}

pub(crate) type Res<T> = Result<T, Box<Throw>>;

/// `exec`'s result for "carry on with the next statement".
pub(crate) const NEXT: Value = Value::UNDEFINED;

pub(crate) struct Interp<'a> {
    pub(crate) heap: &'a Heap,
    pub(crate) stack: &'a Stack,
    pub(crate) state: &'a mut State,
    pub(crate) front: &'a FrontEnd,
    out: &'a mut dyn Write,
    /// The current frame's slot 0.
    pub(crate) base: usize,
    /// The current frame's closure; `None` in the script.
    pub(crate) closure: Option<Gc<ObjClosure>>,
    /// Live frames, the script's included.
    pub(crate) depth: usize,
    /// The lowest native stack address a call may start at.
    pub(crate) stack_floor: usize,
}

pub(crate) fn throw<T>(message: impl Into<String>, line: u32) -> Res<T> {
    Err(Box::new(Throw { error: RuntimeError::new(message), line }))
}

impl<'a> Interp<'a> {
    pub(crate) fn new(
        heap: &'a Heap,
        state: &'a mut State,
        front: &'a FrontEnd,
        out: &'a mut dyn Write,
        base: usize,
    ) -> Interp<'a> {
        let stack_floor = native_stack::floor();
        Interp {
            heap,
            stack: heap.stack(),
            state,
            front,
            out,
            base,
            closure: None,
            depth: 1,
            stack_floor,
        }
    }

    pub(crate) fn run_script(&mut self, stmts: &[Stmt]) -> Res<()> {
        for stmt in stmts {
            self.exec(stmt)?;
        }
        Ok(())
    }

    #[inline(always)]
    pub(crate) fn symbol(&self, symbol: syntax::Symbol) -> Gc<ObjString> {
        self.state.symbols[symbol.index()]
    }

    pub(crate) fn name(&self, symbol: syntax::Symbol) -> &str {
        self.front.interner.resolve(symbol)
    }

    /// What an allocation made, or `Out of memory.` raised on `line`.
    #[inline(always)]
    pub(crate) fn fit<T>(&self, made: Result<T, OutOfMemory>, line: u32) -> Res<T> {
        made.or_else(|_| throw(runtime::OUT_OF_MEMORY, line))
    }

    #[inline(always)]
    pub(crate) fn push(&self, value: Value, line: u32) -> Res<()> {
        self.stack.push(value).or_else(|_| throw(ErrorCode::StackOverflow.message(), line))
    }

    // ------------------------------------------------------------ statements

    pub(crate) fn exec(&mut self, stmt: &Stmt) -> Res<Value> {
        match stmt {
            Stmt::Expr(expr) => {
                self.eval(expr)?;
                Ok(NEXT)
            }
            Stmt::Print(expr) => {
                let value = self.eval(expr)?;
                match writeln!(self.out, "{}", Printed(value)) {
                    Ok(()) => Ok(NEXT),
                    // The output is gone: the run stops.
                    Err(failure) => {
                        Err(Box::new(Throw { error: RuntimeError::output(&failure), line: 0 }))
                    }
                }
            }
            Stmt::Var { name, init } => {
                let value = match init {
                    Some(init) => self.eval(init)?,
                    None => Value::NIL,
                };
                self.define(name, value)?;
                Ok(NEXT)
            }
            Stmt::Block(block) => self.block(&block.stmts),
            Stmt::If(if_stmt) => {
                if !self.eval(&if_stmt.cond)?.is_falsey() {
                    self.exec(&if_stmt.then_branch)
                } else if let Some(branch) = &if_stmt.else_branch {
                    self.exec(branch)
                } else {
                    Ok(NEXT)
                }
            }
            Stmt::While(while_stmt) => {
                while !self.eval(&while_stmt.cond)?.is_falsey() {
                    let flow = self.exec(&while_stmt.body)?;
                    if flow != NEXT {
                        return Ok(flow);
                    }
                    self.poll_interrupt(while_stmt.body_end.line)?;
                }
                Ok(NEXT)
            }
            Stmt::For(for_stmt) => self.for_loop(for_stmt),
            Stmt::Fun { name, function } => {
                let closure = self.make_closure(function, name.ident.line())?;
                self.define(name, closure.to_value())?;
                Ok(NEXT)
            }
            Stmt::Class(class) => {
                self.class(class)?;
                Ok(NEXT)
            }
            Stmt::Return { value, .. } => match value {
                Some(value) => self.eval(value),
                None => Ok(Value::NIL),
            },
        }
    }

    fn block(&mut self, stmts: &[Stmt]) -> Res<Value> {
        let top = self.stack.len();
        let mut flow = NEXT;
        for stmt in stmts {
            flow = self.exec(stmt)?;
            if flow != NEXT {
                break;
            }
        }
        self.end_scope(top);
        Ok(flow)
    }

    /// Leave a scope whose locals start at stack slot `top`.
    #[inline(always)]
    pub(crate) fn end_scope(&mut self, top: usize) {
        self.heap.close_upvalues(top as u32);
        self.stack.truncate(top);
    }

    fn for_loop(&mut self, for_stmt: &For) -> Res<Value> {
        let top = self.stack.len();
        if let Some(init) = &for_stmt.init {
            self.exec(init)?;
        }
        let mut flow = NEXT;
        loop {
            if let Some(cond) = &for_stmt.cond
                && self.eval(cond)?.is_falsey()
            {
                break;
            }
            flow = self.exec(&for_stmt.body)?;
            if flow != NEXT {
                break;
            }
            if let Some(incr) = &for_stmt.incr {
                self.eval(incr)?;
            }
            self.poll_interrupt(for_stmt.body_end.line)?;
        }
        self.end_scope(top);
        Ok(flow)
    }

    /// At a loop's back-edge or a call (where the VM polls too): stop with
    /// `Interrupted.` if that was requested from outside.
    #[inline(always)]
    pub(crate) fn poll_interrupt(&self, line: u32) -> Res<()> {
        if self.heap.interrupt().is_requested() {
            self.heap.interrupt().take();
            return throw(runtime::INTERRUPTED, line);
        }
        Ok(())
    }

    /// Give a declared variable its first value.
    pub(crate) fn define(&mut self, name: &VarUse, value: Value) -> Res<()> {
        match name.var {
            VarRef::Local(slot) => {
                debug_assert_eq!(self.stack.len(), self.base + slot as usize, "local slot order");
                self.push(value, name.ident.line())
            }
            VarRef::Global(slot) => {
                self.heap.globals().set(slot as usize, value);
                Ok(())
            }
            VarRef::Upvalue(_) | VarRef::Unresolved => {
                unreachable!("declarations are local or global")
            }
        }
    }

    // ----------------------------------------------------------- variables

    #[inline(always)]
    pub(crate) fn read(&self, var: &VarUse) -> Res<Value> {
        match var.var {
            VarRef::Local(slot) => Ok(self.stack.get(self.base + slot as usize)),
            VarRef::Upvalue(index) => Ok(self.closure().captured(index as usize)),
            VarRef::Global(slot) => {
                let value = self.heap.globals().get(slot as usize);
                if value.is_undefined() {
                    return self.undefined(var);
                }
                Ok(value)
            }
            VarRef::Unresolved => unreachable!("engines run resolved programs only"),
        }
    }

    #[inline(always)]
    fn write(&self, var: &VarUse, value: Value) -> Res<()> {
        match var.var {
            VarRef::Local(slot) => self.stack.set(self.base + slot as usize, value),
            VarRef::Upvalue(index) => self.heap.set_upvalue(self.upvalue(index), value),
            VarRef::Global(slot) => {
                let globals = self.heap.globals();
                if globals.get(slot as usize).is_undefined() {
                    return self.undefined(var);
                }
                globals.set(slot as usize, value);
            }
            VarRef::Unresolved => unreachable!("engines run resolved programs only"),
        }
        Ok(())
    }

    fn undefined<T>(&self, var: &VarUse) -> Res<T> {
        let name = self.name(var.ident.name);
        throw(messages::undefined_variable(name), var.ident.line())
    }

    /// The running closure, in code that reads a captured variable.
    #[inline(always)]
    fn closure(&self) -> Gc<ObjClosure> {
        self.closure.expect("only functions have upvalues")
    }

    /// The upvalue of captured variable `index`, which an assignment
    /// stores into: a variable that is assigned is captured by reference.
    #[inline(always)]
    fn upvalue(&self, index: u8) -> Gc<runtime::ObjUpvalue> {
        self.closure().upvalue(index as usize)
    }

    // ----------------------------------------------------------- expressions

    pub(crate) fn eval(&mut self, expr: &Expr) -> Res<Value> {
        match expr {
            Expr::Literal { value, .. } => Ok(match *value {
                Literal::Nil => Value::NIL,
                Literal::Bool(b) => Value::bool(b),
                Literal::Number(n) => Value::number(n),
                Literal::Str(symbol) => self.symbol(symbol).to_value(),
            }),
            Expr::Variable(var) => self.read(var),
            Expr::Assign { target, value } => {
                let value = self.eval(value)?;
                self.write(target, value)?;
                Ok(value)
            }
            Expr::Unary { op, operand, line } => {
                let value = self.eval(operand)?;
                match op {
                    UnaryOp::Not => Ok(Value::bool(value.is_falsey())),
                    UnaryOp::Negate if value.is_number() => Ok(Value::number(-value.as_number())),
                    UnaryOp::Negate => throw(ErrorCode::OperandNumber.message(), *line),
                }
            }
            Expr::Binary { op, left, right, line } => {
                let left = self.eval(left)?;
                let right = if left.is_object() && !right.is_simple() {
                    let _root = Root::new(self.heap, left);
                    self.eval(right)?
                } else {
                    self.eval(right)?
                };
                self.binary(*op, left, right, *line)
            }
            Expr::Logical(logical) => {
                let left = self.eval(&logical.left)?;
                let short_circuit = match logical.op {
                    LogicalOp::And => left.is_falsey(),
                    LogicalOp::Or => !left.is_falsey(),
                };
                if short_circuit { Ok(left) } else { self.eval(&logical.right) }
            }
            Expr::Call { callee, args, line, invoke } => {
                self.call_expr(callee, args, *line, *invoke)
            }
            Expr::Get { object, name } => {
                let object = self.eval(object)?;
                self.get_property(object, name)
            }
            Expr::Set { object, name, value } => {
                let object = self.eval(object)?;
                let value = self.eval_holding(object, value)?;
                let Some(instance) = object.downcast::<ObjInstance>() else {
                    return throw(ErrorCode::OnlyInstancesFields.message(), name.line());
                };
                let set = self.heap.set_field(instance, self.symbol(name.name), value);
                self.fit(set, name.line())?;
                Ok(value)
            }
            Expr::This(var) => self.read(var),
            Expr::Super(super_ref) => {
                let method = self.super_method(super_ref)?;
                let this = self.read(&super_ref.this)?;
                let bound = self.heap.alloc(ObjBoundMethod::new(this, method));
                Ok(self.fit(bound, super_ref.method.line())?.to_value())
            }
        }
    }

    /// Evaluate `expr` while `held` must stay alive: it is rooted if it is
    /// an object and `expr` can allocate.
    #[inline(always)]
    fn eval_holding(&mut self, held: Value, expr: &Expr) -> Res<Value> {
        if held.is_object() && !expr.is_simple() {
            let _root = Root::new(self.heap, held);
            self.eval(expr)
        } else {
            self.eval(expr)
        }
    }

    #[inline(always)]
    fn binary(&mut self, op: BinaryOp, left: Value, right: Value, line: u32) -> Res<Value> {
        if left.is_number() && right.is_number() {
            let (a, b) = (left.as_number(), right.as_number());
            return Ok(match op {
                BinaryOp::Add => Value::number(a + b),
                BinaryOp::Subtract => Value::number(a - b),
                BinaryOp::Multiply => Value::number(a * b),
                BinaryOp::Divide => Value::number(a / b),
                BinaryOp::Less => Value::bool(a < b),
                BinaryOp::LessEqual => Value::bool(a <= b),
                BinaryOp::Greater => Value::bool(a > b),
                BinaryOp::GreaterEqual => Value::bool(a >= b),
                BinaryOp::Equal => Value::bool(a == b),
                BinaryOp::NotEqual => Value::bool(a != b),
            });
        }
        match op {
            BinaryOp::Equal => Ok(Value::bool(left.lox_eq(right))),
            BinaryOp::NotEqual => Ok(Value::bool(!left.lox_eq(right))),
            BinaryOp::Add => match (left.downcast::<ObjString>(), right.downcast::<ObjString>()) {
                (Some(a), Some(b)) => Ok(self.fit(self.heap.concat(a, b), line)?.to_value()),
                _ => throw(ErrorCode::AddOperands.message(), line),
            },
            _ => throw(ErrorCode::OperandsNumbers.message(), line),
        }
    }

    // ------------------------------------------------------------ properties

    pub(crate) fn get_property(&mut self, object: Value, name: &Ident) -> Res<Value> {
        let Some(instance) = object.downcast::<ObjInstance>() else {
            return throw(ErrorCode::OnlyInstancesProperties.message(), name.line());
        };
        match instance.shape().resolve(self.symbol(name.name)) {
            Some(CacheHit::Field(index)) => Ok(instance.field_at(index)),
            Some(CacheHit::Method(method)) => {
                let bound = self.heap.alloc(ObjBoundMethod::new(object, method));
                Ok(self.fit(bound, name.line())?.to_value())
            }
            Some(CacheHit::AddField(_)) | None => self.undefined_property(name),
        }
    }

    pub(crate) fn undefined_property<T>(&self, name: &Ident) -> Res<T> {
        let text = self.name(name.name);
        throw(messages::undefined_property(text), name.line())
    }

    /// The superclass method `super.name` refers to.
    pub(crate) fn super_method(&mut self, super_ref: &SuperRef) -> Res<Gc<ObjClosure>> {
        let superclass = self.read(&super_ref.keyword)?;
        let superclass = superclass.downcast::<ObjClass>().expect("`super` always holds a class");
        match superclass.method(self.symbol(super_ref.method.name)) {
            Some(method) => Ok(method),
            None => self.undefined_property(&super_ref.method),
        }
    }

    // --------------------------------------------------------------- classes

    fn class(&mut self, class: &Class) -> Res<()> {
        let name = self.symbol(class.name.ident.name);
        let object = self.fit(self.heap.alloc(ObjClass::new(name)), class.name.ident.line())?;
        self.define(&class.name, object.to_value())?;

        let scope_top = self.stack.len();
        if let Some(superclass) = &class.superclass {
            let value = self.read(superclass)?;
            let Some(parent) = value.downcast::<ObjClass>() else {
                return throw(ErrorCode::SuperclassNotClass.message(), superclass.ident.line());
            };
            // The hidden `super` local, captured by methods that use it.
            debug_assert_eq!(Some((scope_top - self.base) as u8), class.scope.slot);
            self.push(value, superclass.ident.line())?;
            self.fit(self.heap.inherit(object, parent), superclass.ident.line())?;
        }
        for method in &class.methods {
            let line = method.name.line();
            let closure = self.make_closure(method, line)?;
            let defined = self.heap.define_method(object, self.symbol(method.name.name), closure);
            self.fit(defined, line)?;
        }
        if class.superclass.is_some() {
            self.end_scope(scope_top);
        }
        Ok(())
    }
}

/// Run `f` on a fresh native stack segment, with the floor moved there.
pub(crate) fn on_new_segment<T>(
    interp: &mut Interp<'_>,
    f: impl FnOnce(&mut Interp<'_>) -> T,
) -> T {
    let saved = interp.stack_floor;
    let result = native_stack::grow(|floor| {
        interp.stack_floor = floor;
        f(interp)
    });
    interp.stack_floor = saved;
    result
}
