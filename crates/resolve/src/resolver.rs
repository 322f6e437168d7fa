//! The resolver: decides where every variable lives and enforces the
//! language's static rules and limits.
//!
//! It fills in the tree's [`VarRef`]s (local slot, upvalue index or global
//! slot) and each function's captures, and reports every compile error that
//! is not a syntax error. Like the parser it never stops at an error, and
//! like the book's compiler it reports at most one error per declaration
//! (the rest are what the book calls panic mode).
//!
//! Limits are measured exactly as the book's C compiler would hit them:
//! 256 slots and 256 captures per function, 256 literals per function body,
//! and jumps in its bytecode encoding (see [`crate::size`]).

use syntax::ast::*;
use syntax::{Diagnostic, Interner, Symbol, TokenRef};

use crate::globals::GlobalTable;
use crate::size::{self, Size};

/// Slots per frame, slot 0 included.
const MAX_SLOTS: usize = 256;
/// Captured variables per function.
const MAX_UPVALUES: usize = 256;
/// Literals per function body.
const MAX_CONSTANTS: usize = 256;

#[derive(Clone, Copy, PartialEq, Eq)]
enum FnKind {
    Script,
    Function,
    Method,
    Initializer,
}

struct Local {
    name: Symbol,
    /// `None` while the variable's initializer is being resolved.
    depth: Option<u32>,
    /// A closure captured it.
    captured: bool,
}

struct FnState {
    kind: FnKind,
    locals: Vec<Local>,
    upvalues: Vec<Capture>,
    scope_depth: u32,
    max_slots: usize,
    constants: usize,
}

impl FnState {
    fn new(kind: FnKind, slot_zero: Symbol) -> FnState {
        FnState {
            kind,
            // Slot 0 holds the callee, or `this` in methods.
            locals: vec![Local { name: slot_zero, depth: Some(0), captured: false }],
            upvalues: Vec::new(),
            scope_depth: 0,
            max_slots: 1,
            constants: 0,
        }
    }
}

struct ClassState {
    has_superclass: bool,
}

pub(crate) struct Resolver<'a> {
    source: &'a str,
    globals: &'a mut GlobalTable,
    next_function_id: &'a mut u32,
    diagnostics: Vec<Diagnostic>,
    /// Panic mode: an error was reported in the current declaration.
    panic_mode: bool,
    functions: Vec<FnState>,
    classes: Vec<ClassState>,
    this_name: Symbol,
    super_name: Symbol,
    empty_name: Symbol,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(
        source: &'a str,
        interner: &mut Interner,
        globals: &'a mut GlobalTable,
        next_function_id: &'a mut u32,
    ) -> Resolver<'a> {
        Resolver {
            source,
            globals,
            next_function_id,
            diagnostics: Vec::new(),
            panic_mode: false,
            functions: Vec::new(),
            classes: Vec::new(),
            this_name: interner.intern("this"),
            super_name: interner.intern("super"),
            empty_name: interner.intern(""),
        }
    }

    pub(crate) fn resolve_program(mut self, program: &mut Program) -> Vec<Diagnostic> {
        self.functions.push(FnState::new(FnKind::Script, self.empty_name));
        self.declarations(&mut program.stmts);
        let script = self.functions.pop().expect("script state");
        program.script =
            FnInfo { id: u32::MAX, upvalues: Vec::new(), max_slots: script.max_slots as u16 };
        self.diagnostics
    }

    // ---------------------------------------------------------------- errors

    fn error(&mut self, token: TokenRef, message: &str) {
        if self.panic_mode {
            return;
        }
        self.panic_mode = true;
        self.diagnostics.push(Diagnostic::at(self.source, token, message));
    }

    fn current(&mut self) -> &mut FnState {
        self.functions.last_mut().expect("inside a function")
    }

    // ---------------------------------------------------------------- scopes

    fn begin_scope(&mut self) {
        self.current().scope_depth += 1;
    }

    /// Ends a scope; returns its locals as they leave (one pop each).
    fn end_scope(&mut self) -> ScopeExit {
        let state = self.current();
        state.scope_depth -= 1;
        let depth = state.scope_depth;
        let mut captured = Vec::new();
        while state.locals.len() > 1
            && state.locals.last().is_some_and(|l| l.depth.is_none_or(|d| d > depth))
        {
            captured.push(state.locals.pop().expect("checked above").captured);
        }
        ScopeExit { captured }
    }

    fn is_global_scope(&self) -> bool {
        let state = self.functions.last().expect("inside a function");
        state.kind == FnKind::Script && state.scope_depth == 0
    }

    /// Declare `ident` in the current scope; returns where it lives.
    fn declare(&mut self, ident: Ident) -> VarRef {
        if self.is_global_scope() {
            return VarRef::Global(self.globals.slot(ident.name));
        }
        let state = self.functions.last().expect("inside a function");
        let depth = state.scope_depth;
        let duplicate = state
            .locals
            .iter()
            .rev()
            .take_while(|l| l.depth.is_none_or(|d| d >= depth))
            .any(|l| l.name == ident.name);
        if duplicate {
            self.error(ident.token, "Already a variable with this name in this scope.");
        }
        self.add_local(ident.name, ident.token)
    }

    fn add_local(&mut self, name: Symbol, token: TokenRef) -> VarRef {
        if self.current().locals.len() == MAX_SLOTS {
            self.error(token, "Too many local variables in function.");
            return VarRef::Local(0);
        }
        let state = self.current();
        state.locals.push(Local { name, depth: None, captured: false });
        state.max_slots = state.max_slots.max(state.locals.len());
        VarRef::Local((state.locals.len() - 1) as u8)
    }

    fn mark_initialized(&mut self) {
        let state = self.current();
        let depth = state.scope_depth;
        if let (true, Some(local)) = (depth > 0, state.locals.last_mut()) {
            local.depth = Some(depth);
        }
    }

    fn resolve_use(&mut self, var: &mut VarUse) {
        var.var = self.lookup(var.ident);
    }

    fn lookup(&mut self, ident: Ident) -> VarRef {
        let top = self.functions.len() - 1;
        if let Some(slot) = self.find_local(top, ident) {
            return VarRef::Local(slot);
        }
        if let Some(index) = self.find_upvalue(top, ident) {
            return VarRef::Upvalue(index);
        }
        VarRef::Global(self.globals.slot(ident.name))
    }

    fn find_local(&mut self, function: usize, ident: Ident) -> Option<u8> {
        let locals = &self.functions[function].locals;
        let (slot, local) = locals.iter().enumerate().rev().find(|(_, l)| l.name == ident.name)?;
        if local.depth.is_none() {
            self.error(ident.token, "Can't read local variable in its own initializer.");
        }
        Some(slot as u8)
    }

    fn find_upvalue(&mut self, function: usize, ident: Ident) -> Option<u8> {
        if function == 0 {
            return None;
        }
        if let Some(slot) = self.find_local(function - 1, ident) {
            self.functions[function - 1].locals[slot as usize].captured = true;
            return Some(self.add_upvalue(
                function,
                Capture { is_local: true, index: slot },
                ident,
            ));
        }
        let index = self.find_upvalue(function - 1, ident)?;
        Some(self.add_upvalue(function, Capture { is_local: false, index }, ident))
    }

    fn add_upvalue(&mut self, function: usize, capture: Capture, ident: Ident) -> u8 {
        let upvalues = &self.functions[function].upvalues;
        if let Some(existing) = upvalues.iter().position(|&u| u == capture) {
            return existing as u8;
        }
        if upvalues.len() == MAX_UPVALUES {
            self.error(ident.token, "Too many closure variables in function.");
            return 0;
        }
        let upvalues = &mut self.functions[function].upvalues;
        upvalues.push(capture);
        (upvalues.len() - 1) as u8
    }

    fn count_constant(&mut self, token: TokenRef) {
        let state = self.current();
        state.constants += 1;
        if state.kind != FnKind::Script && state.constants > MAX_CONSTANTS {
            self.error(token, "Too many constants in one chunk.");
        }
    }

    // ------------------------------------------------------------ statements

    /// A list of declarations (a block, a body, the program). Each one ends
    /// panic mode, as the book's compiler resynchronises after each.
    fn declarations(&mut self, stmts: &mut [Stmt]) -> Size {
        let mut total = Size::ZERO;
        for stmt in stmts {
            total += self.stmt(stmt);
            self.panic_mode = false;
        }
        total
    }

    fn stmt(&mut self, stmt: &mut Stmt) -> Size {
        match stmt {
            Stmt::Expr(expr) | Stmt::Print(expr) => self.expr(expr) + 1,
            Stmt::Var { name, init } => {
                let var = self.declare(name.ident);
                let init_size = match init {
                    Some(init) => self.expr(init),
                    None => Size(1),
                };
                self.mark_initialized();
                name.var = var;
                init_size + size::define(var)
            }
            Stmt::Block(block) => self.block(block),
            Stmt::If(if_stmt) => self.if_stmt(if_stmt),
            Stmt::While(while_stmt) => {
                let cond = self.expr(&mut while_stmt.cond);
                let body = self.stmt(&mut while_stmt.body);
                let end = while_stmt.body_end;
                self.check_loop(size::loop_offset(cond + 4, body), end);
                self.check_jump(body + 4, end);
                cond + 4 + body + 4
            }
            Stmt::For(for_stmt) => self.for_stmt(for_stmt),
            Stmt::Fun { name, function } => {
                let var = self.declare(name.ident);
                self.mark_initialized();
                name.var = var;
                let function = std::rc::Rc::get_mut(function).expect("the resolver owns the tree");
                let closure = self.function(function, FnKind::Function);
                closure + size::define(var)
            }
            Stmt::Class(class) => self.class(class),
            Stmt::Return { keyword, value } => {
                let kind = self.current().kind;
                if kind == FnKind::Script {
                    self.error(*keyword, "Can't return from top-level code.");
                }
                match value {
                    Some(value) => {
                        if kind == FnKind::Initializer {
                            self.error(*keyword, "Can't return a value from an initializer.");
                        }
                        self.expr(value) + 1
                    }
                    None if kind == FnKind::Initializer => Size(3),
                    None => Size(2),
                }
            }
        }
    }

    fn block(&mut self, block: &mut Block) -> Size {
        self.begin_scope();
        let body = self.declarations(&mut block.stmts);
        block.exit = self.end_scope();
        body + block.exit.captured.len() as u64
    }

    fn if_stmt(&mut self, if_stmt: &mut If) -> Size {
        let cond = self.expr(&mut if_stmt.cond);
        let then = self.stmt(&mut if_stmt.then_branch);
        self.check_jump(then + 4, if_stmt.then_end);
        let other = match &mut if_stmt.else_branch {
            Some(branch) => {
                let other = self.stmt(branch);
                if let Some(end) = if_stmt.else_end {
                    self.check_jump(other + 1, end);
                }
                other
            }
            None => Size::ZERO,
        };
        cond + 4 + then + 4 + other
    }

    fn for_stmt(&mut self, for_stmt: &mut For) -> Size {
        self.begin_scope();
        let init = match &mut for_stmt.init {
            Some(init) => self.stmt(init),
            None => Size::ZERO,
        };
        let cond = match &mut for_stmt.cond {
            Some(cond) => self.expr(cond) + 4,
            None => Size::ZERO,
        };
        let incr = for_stmt.incr.as_mut().map(|incr| self.expr(incr));
        let body = self.stmt(&mut for_stmt.body);
        let (clauses_end, body_end) = (for_stmt.clauses_end, for_stmt.body_end);
        let incr_part = match incr {
            Some(incr) => {
                self.check_loop(size::loop_offset(cond, incr + 1 + 3), clauses_end);
                self.check_jump(incr + 4, clauses_end);
                self.check_loop(incr + body + 7, body_end);
                incr + 7
            }
            None => {
                self.check_loop(size::loop_offset(cond, body), body_end);
                Size::ZERO
            }
        };
        if for_stmt.cond.is_some() {
            self.check_jump(incr_part + body + 4, body_end);
        }
        let exit_pop = if for_stmt.cond.is_some() { 1 } else { 0 };
        for_stmt.exit = self.end_scope();
        let pops = for_stmt.exit.captured.len() as u64;
        init + cond + incr_part + body + 3 + exit_pop + pops
    }

    fn check_jump(&mut self, distance: Size, at: TokenRef) {
        if distance.0 > size::MAX_JUMP {
            self.error(at, "Too much code to jump over.");
        }
    }

    fn check_loop(&mut self, offset: Size, at: TokenRef) {
        if offset.0 > size::MAX_JUMP {
            self.error(at, "Loop body too large.");
        }
    }

    /// Resolve a function body in its own state; returns the size of the
    /// closure instruction that creates it in the enclosing code.
    fn function(&mut self, function: &mut Function, kind: FnKind) -> Size {
        let slot_zero = if kind == FnKind::Function { self.empty_name } else { self.this_name };
        self.functions.push(FnState::new(kind, slot_zero));
        self.begin_scope();
        for param in &function.params {
            self.declare(*param);
            self.mark_initialized();
        }
        // Parameters and the body's top-level locals share one scope.
        self.declarations(&mut function.body);
        let state = self.functions.pop().expect("pushed above");
        let captures = state.upvalues.len();
        let id = *self.next_function_id;
        *self.next_function_id += 1;
        function.info = FnInfo { id, upvalues: state.upvalues, max_slots: state.max_slots as u16 };
        Size(2) + Size(2 * captures as u64)
    }

    fn class(&mut self, class: &mut Class) -> Size {
        let var = self.declare(class.name.ident);
        self.mark_initialized();
        class.name.var = var;
        let mut total = Size(2) + size::define(var);

        if let Some(superclass) = &mut class.superclass {
            if superclass.ident.name == class.name.ident.name {
                self.error(superclass.ident.token, "A class can't inherit from itself.");
            }
            self.resolve_use(superclass);
            self.begin_scope();
            let super_var = self.add_local(self.super_name, superclass.ident.token);
            self.mark_initialized();
            if let VarRef::Local(slot) = super_var {
                class.scope.slot = Some(slot);
            }
            // Load superclass, load class, inherit.
            total += 2 + 2 + 1;
        }
        self.classes.push(ClassState { has_superclass: class.superclass.is_some() });

        total += 2; // Load the class to add methods to it.
        for method in &mut class.methods {
            let method = std::rc::Rc::get_mut(method).expect("the resolver owns the tree");
            let kind = match method.kind {
                FunctionKind::Initializer => FnKind::Initializer,
                _ => FnKind::Method,
            };
            total += self.function(method, kind) + 2;
        }
        total += 1; // Pop the class.

        self.classes.pop();
        if class.superclass.is_some() {
            class.scope.exit = self.end_scope();
            total += class.scope.exit.captured.len() as u64;
        }
        total
    }

    // ----------------------------------------------------------- expressions

    fn expr(&mut self, expr: &mut Expr) -> Size {
        match expr {
            Expr::Literal { value, token } => match value {
                Literal::Number(_) | Literal::Str(_) => {
                    self.count_constant(*token);
                    Size(2)
                }
                Literal::Nil | Literal::Bool(_) => Size(1),
            },
            Expr::Unary { operand, .. } => self.expr(operand) + 1,
            Expr::Binary { op, left, right, .. } => {
                let both = self.expr(left) + self.expr(right);
                match op {
                    BinaryOp::NotEqual | BinaryOp::LessEqual | BinaryOp::GreaterEqual => both + 2,
                    _ => both + 1,
                }
            }
            Expr::Logical(logical) => {
                let left = self.expr(&mut logical.left);
                let right = self.expr(&mut logical.right);
                self.check_jump(right + 1, logical.right_end);
                match logical.op {
                    LogicalOp::And => left + 4 + right,
                    LogicalOp::Or => left + 7 + right,
                }
            }
            Expr::Variable(var) => {
                self.resolve_use(var);
                Size(2)
            }
            Expr::Assign { target, value } => {
                let value = self.expr(value);
                self.resolve_use(target);
                value + 2
            }
            Expr::Call { callee, args, .. } => {
                let callee_size = match callee.as_mut() {
                    // `object.name(...)` is one invoke instruction.
                    Expr::Get { object, .. } => self.expr(object) + 1,
                    // `super.name(...)` too.
                    Expr::Super(super_ref) => self.super_ref(super_ref) - 1,
                    callee => self.expr(callee),
                };
                let mut total = callee_size + 2;
                for arg in args {
                    total += self.expr(arg);
                }
                total
            }
            Expr::Get { object, .. } => self.expr(object) + 2,
            Expr::Set { object, value, .. } => self.expr(object) + self.expr(value) + 2,
            Expr::This(var) => {
                if self.classes.is_empty() {
                    self.error(var.ident.token, "Can't use 'this' outside of a class.");
                } else {
                    self.resolve_use(var);
                }
                Size(2)
            }
            Expr::Super(super_ref) => self.super_ref(super_ref),
        }
    }

    /// `super.name`: load `this`, load the superclass, get the method.
    fn super_ref(&mut self, super_ref: &mut SuperRef) -> Size {
        let token = super_ref.keyword.ident.token;
        match self.classes.last() {
            None => self.error(token, "Can't use 'super' outside of a class."),
            Some(class) if !class.has_superclass => {
                self.error(token, "Can't use 'super' in a class with no superclass.")
            }
            Some(_) => {
                self.resolve_use(&mut super_ref.this);
                self.resolve_use(&mut super_ref.keyword);
            }
        }
        Size(6)
    }
}
