//! Compiling expressions. Each leaves exactly one value on the stack and
//! returns the line of its last instruction (for the `Pop` or `Print` that
//! may follow).

use bytecode::{Constant, Op};
use syntax::ast::*;

use crate::Compiler;
use crate::emit::FnBuilder;

impl Compiler<'_> {
    pub(crate) fn expr(&mut self, f: &mut FnBuilder, expr: &Expr) -> u32 {
        match expr {
            Expr::Literal { value, token } => {
                let line = token.line;
                match *value {
                    Literal::Nil => f.op(Op::Nil, line),
                    Literal::Bool(true) => f.op(Op::True, line),
                    Literal::Bool(false) => f.op(Op::False, line),
                    Literal::Number(n) => {
                        let index = f.constant(Constant::Number(n));
                        f.emit(Op::Constant, index, line);
                    }
                    Literal::Str(symbol) => {
                        let text = self.name(symbol).to_string();
                        let index = f.constant(Constant::String(text));
                        f.emit(Op::Constant, index, line);
                    }
                }
            }
            Expr::Unary { op, operand, line } => {
                self.expr(f, operand);
                let op = match op {
                    UnaryOp::Negate => Op::Negate,
                    UnaryOp::Not => Op::Not,
                };
                f.op(op, *line);
            }
            Expr::Binary { op, left, right, line } => {
                self.expr(f, left);
                self.expr(f, right);
                f.op(binary_op(*op), *line);
            }
            Expr::Logical(logical) => {
                let line = self.expr(f, &logical.left);
                match logical.op {
                    LogicalOp::And => {
                        let end = f.jump(Op::JumpIfFalse, line);
                        f.op(Op::Pop, line);
                        self.expr(f, &logical.right);
                        f.land(end);
                    }
                    LogicalOp::Or => {
                        let to_right = f.jump(Op::JumpIfFalse, line);
                        let end = f.jump(Op::Jump, line);
                        f.land(to_right);
                        f.op(Op::Pop, line);
                        self.expr(f, &logical.right);
                        f.land(end);
                    }
                }
            }
            Expr::Variable(var) | Expr::This(var) => self.get_var(f, var),
            Expr::Assign { target, value } => {
                self.expr(f, value);
                let line = target.ident.line();
                match target.var {
                    VarRef::Local(slot) => f.emit(Op::SetLocal, slot as u32, line),
                    VarRef::Upvalue(index) => f.emit(Op::SetUpvalue, index as u32, line),
                    VarRef::Global(slot) => f.emit(Op::SetGlobal, slot, line),
                    VarRef::Unresolved => unreachable!("compiling a resolved program"),
                }
            }
            Expr::Call { callee, args, line, invoke } => self.call(f, callee, args, *line, *invoke),
            Expr::Get { object, name } => self.property(f, object, name, Op::GetProperty),
            Expr::Set { object, name, value } => {
                self.expr(f, object);
                self.expr(f, value);
                let site = f.site(self.name(name.name));
                f.emit(Op::SetProperty, site, name.line());
            }
            Expr::Super(super_ref) => self.super_access(f, super_ref, Op::GetSuper),
        }
        f.line()
    }

    /// A call. For `a.m(...)` and `super.m(...)` the method is looked up
    /// before the arguments run (`Method`/`SuperMethod`, then `CallMethod`),
    /// which is also what the tree-walker does.
    fn call(&mut self, f: &mut FnBuilder, callee: &Expr, args: &[Expr], line: u32, invoke: bool) {
        let call = match callee {
            Expr::Get { object, name } if invoke => {
                self.property(f, object, name, Op::Method);
                Op::CallMethod
            }
            Expr::Super(super_ref) if invoke => {
                self.super_access(f, super_ref, Op::SuperMethod);
                Op::CallMethod
            }
            callee => {
                self.expr(f, callee);
                Op::Call
            }
        };
        for arg in args {
            self.expr(f, arg);
        }
        f.emit(call, args.len() as u32, line);
    }

    /// `object` then `op` on its property `name` (`GetProperty`, `Method`).
    fn property(&mut self, f: &mut FnBuilder, object: &Expr, name: &Ident, op: Op) {
        self.expr(f, object);
        let site = f.site(self.name(name.name));
        f.emit(op, site, name.line());
    }

    /// `this`, the superclass, then `op` on its method (`GetSuper`,
    /// `SuperMethod`).
    fn super_access(&mut self, f: &mut FnBuilder, super_ref: &SuperRef, op: Op) {
        self.get_var(f, &super_ref.this);
        self.get_var(f, &super_ref.keyword);
        let site = f.site(self.name(super_ref.method.name));
        f.emit(op, site, super_ref.method.line());
    }

    pub(crate) fn get_var(&mut self, f: &mut FnBuilder, var: &VarUse) {
        let line = var.ident.line();
        match var.var {
            VarRef::Local(slot) => f.emit(Op::GetLocal, slot as u32, line),
            VarRef::Upvalue(index) => {
                let op = if f.holds_by_value(index) { Op::GetCaptured } else { Op::GetUpvalue };
                f.emit(op, index as u32, line)
            }
            VarRef::Global(slot) => f.emit(Op::GetGlobal, slot, line),
            VarRef::Unresolved => unreachable!("compiling a resolved program"),
        }
    }
}

fn binary_op(op: BinaryOp) -> Op {
    match op {
        BinaryOp::Add => Op::Add,
        BinaryOp::Subtract => Op::Subtract,
        BinaryOp::Multiply => Op::Multiply,
        BinaryOp::Divide => Op::Divide,
        BinaryOp::Equal => Op::Equal,
        BinaryOp::NotEqual => Op::NotEqual,
        BinaryOp::Less => Op::Less,
        BinaryOp::LessEqual => Op::LessEqual,
        BinaryOp::Greater => Op::Greater,
        BinaryOp::GreaterEqual => Op::GreaterEqual,
    }
}
