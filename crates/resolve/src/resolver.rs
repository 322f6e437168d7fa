//! The resolver: the parser's semantic pass. It decides where every
//! variable lives and enforces the language's static rules and limits.
//!
//! It implements [`Semantics`], so the parser calls it at the points where
//! the book's one-pass compiler does the same work, and it reports through
//! the parser's [`Reporter`], so its errors take part in panic mode exactly
//! as clox's do. It keeps one [`FnState`] per function being parsed (its
//! locals by scope, its captures, and what it measures: literals, code size
//! in clox's encoding for the jump limits, stack depth) and the enclosing
//! classes, for `this` and `super`.
//!
//! Limits are those of the book's C compiler: 256 slots and 256 captures
//! per function, 256 literals per function body (only number and string
//! literals count, and top-level code has none, per LOX.md), jumps measured
//! in its bytecode ([`crate::size`]); and Strata's own bound on stack slots
//! ([`crate::stack`]).

use syntax::ast::{Capture, FnInfo, Ident, ScopeExit, VarRef};
use syntax::{Emit, FrameKind, Interner, Jump, Reporter, Semantics, Symbol, TokenRef};

use crate::globals::GlobalTable;
use crate::size::CodeSize;
use crate::stack::StackDepth;

/// Slots per frame, slot 0 included.
const MAX_SLOTS: usize = 256;
/// Captured variables per function.
const MAX_UPVALUES: usize = 256;
/// Literals per function body.
const MAX_CONSTANTS: usize = 256;

struct Local {
    name: Symbol,
    /// `None` while the variable's initializer is being parsed.
    depth: Option<u32>,
    /// A closure captured it.
    captured: bool,
    /// The variable, in [`Resolver::variables`].
    variable: u32,
    /// Its slot holds its value: false from its declaration until it is
    /// defined (a local function's body, which may capture the function's
    /// own variable, is parsed in between).
    defined: bool,
}

/// What decides whether closures may capture a local by value.
#[derive(Debug, Clone, Copy, Default)]
struct Variable {
    /// Some assignment stores into it.
    assigned: bool,
    /// A closure captured it before it held its value: a copy then would
    /// be of the slot before the value arrives.
    captured_early: bool,
}

impl Variable {
    fn by_value(self) -> bool {
        !self.assigned && !self.captured_early
    }
}

/// What is known about a function while its body is parsed.
struct FnState {
    kind: FrameKind,
    locals: Vec<Local>,
    upvalues: Vec<Capture>,
    /// The variable each upvalue captures, in upvalue-index order.
    upvalue_variables: Vec<u32>,
    scope_depth: u32,
    max_slots: usize,
    constants: usize,
    code: CodeSize,
    stack: StackDepth,
}

impl FnState {
    fn new(kind: FrameKind, slot_zero: Symbol, variable: u32) -> FnState {
        FnState {
            kind,
            // Slot 0 holds the callee, or `this` in methods.
            locals: vec![Local {
                name: slot_zero,
                depth: Some(0),
                captured: false,
                variable,
                defined: true,
            }],
            upvalues: Vec::new(),
            upvalue_variables: Vec::new(),
            scope_depth: 0,
            max_slots: 1,
            constants: 0,
            code: CodeSize::default(),
            stack: StackDepth::new(),
        }
    }
}

struct ClassState {
    has_superclass: bool,
}

/// Where code was when a jump was emitted or a loop started.
#[derive(Clone, Copy)]
pub(crate) struct Mark {
    code: CodeSize,
    stack_depth: u32,
}

pub(crate) struct Resolver<'a> {
    globals: &'a mut GlobalTable,
    next_function_id: &'a mut u32,
    functions: Vec<FnState>,
    /// Every local variable declared so far, indexed by `Local::variable`.
    variables: Vec<Variable>,
    /// The first function id of this compilation.
    first_function_id: u32,
    /// By function id (from `first_function_id`), the variables its
    /// upvalues capture: what [`Resolver::by_value`] decides from once
    /// every assignment has been seen.
    captured_variables: Vec<Vec<u32>>,
    classes: Vec<ClassState>,
    this_name: Symbol,
    empty_name: Symbol,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(
        interner: &mut Interner,
        globals: &'a mut GlobalTable,
        next_function_id: &'a mut u32,
    ) -> Resolver<'a> {
        let first_function_id = *next_function_id;
        Resolver {
            globals,
            next_function_id,
            functions: Vec::new(),
            variables: Vec::new(),
            first_function_id,
            captured_variables: Vec::new(),
            classes: Vec::new(),
            this_name: interner.intern("this"),
            empty_name: interner.intern(""),
        }
    }

    /// Whether upvalue `index` of function `id` (of this compilation)
    /// captures a variable that no code assigns once it holds its value:
    /// final once the whole program has been parsed.
    pub(crate) fn by_value(&self, id: u32, index: usize) -> bool {
        let captured = &self.captured_variables[(id - self.first_function_id) as usize];
        self.variables[captured[index] as usize].by_value()
    }

    fn new_variable(&mut self) -> u32 {
        self.variables.push(Variable::default());
        (self.variables.len() - 1) as u32
    }

    /// The local declared last holds its value now.
    fn mark_defined(&mut self) {
        if let Some(local) = self.current().locals.last_mut() {
            local.defined = true;
        }
    }

    fn current(&mut self) -> &mut FnState {
        self.functions.last_mut().expect("inside a function")
    }

    fn is_global_scope(&self) -> bool {
        let state = self.functions.last().expect("inside a function");
        state.kind == FrameKind::Script && state.scope_depth == 0
    }

    fn add_local(&mut self, name: Symbol, at: TokenRef, report: &mut Reporter<'_>) -> VarRef {
        if self.current().locals.len() == MAX_SLOTS {
            report.error_at(at, "Too many local variables in function.");
            return VarRef::Local(0);
        }
        let variable = self.new_variable();
        let state = self.current();
        state.locals.push(Local { name, depth: None, captured: false, variable, defined: false });
        state.max_slots = state.max_slots.max(state.locals.len());
        VarRef::Local((state.locals.len() - 1) as u8)
    }

    fn find_local(
        &mut self,
        function: usize,
        name: Symbol,
        at: TokenRef,
        report: &mut Reporter<'_>,
    ) -> Option<u8> {
        let locals = &self.functions[function].locals;
        let (slot, local) = locals.iter().enumerate().rev().find(|(_, l)| l.name == name)?;
        if local.depth.is_none() {
            report.error_at(at, "Can't read local variable in its own initializer.");
        }
        Some(slot as u8)
    }

    fn find_upvalue(
        &mut self,
        function: usize,
        name: Symbol,
        at: TokenRef,
        report: &mut Reporter<'_>,
    ) -> Option<u8> {
        if function == 0 {
            return None;
        }
        if let Some(slot) = self.find_local(function - 1, name, at, report) {
            let local = &mut self.functions[function - 1].locals[slot as usize];
            local.captured = true;
            let variable = local.variable;
            if !local.defined {
                self.variables[variable as usize].captured_early = true;
            }
            let capture = Capture { is_local: true, index: slot, by_value: false };
            return Some(self.add_upvalue(function, capture, variable, at, report));
        }
        let index = self.find_upvalue(function - 1, name, at, report)?;
        let variable = self.functions[function - 1].upvalue_variables[index as usize];
        let capture = Capture { is_local: false, index, by_value: false };
        Some(self.add_upvalue(function, capture, variable, at, report))
    }

    /// Add `capture` of `variable` to `function`'s upvalues, unless it has
    /// it already. Whether it is by value is decided once the program is
    /// parsed ([`by_value`](Self::by_value)).
    fn add_upvalue(
        &mut self,
        function: usize,
        capture: Capture,
        variable: u32,
        at: TokenRef,
        report: &mut Reporter<'_>,
    ) -> u8 {
        let state = &mut self.functions[function];
        if let Some(existing) = state.upvalues.iter().position(|&u| u == capture) {
            return existing as u8;
        }
        if state.upvalues.len() == MAX_UPVALUES {
            report.error_at(at, "Too many closure variables in function.");
            return 0;
        }
        state.upvalues.push(capture);
        state.upvalue_variables.push(variable);
        (state.upvalues.len() - 1) as u8
    }
}

impl Semantics for Resolver<'_> {
    type Mark = Mark;

    fn begin_function(&mut self, kind: FrameKind) {
        // As in clox, slot 0 is named `this` everywhere but in functions
        // (the script's is never found: `this` outside a class is an error
        // before it is looked up, except in `super` misuse).
        let slot_zero = if kind == FrameKind::Function { self.empty_name } else { self.this_name };
        let variable = self.new_variable();
        self.functions.push(FnState::new(kind, slot_zero, variable));
    }

    fn end_function(&mut self, end: TokenRef, report: &mut Reporter<'_>) -> FnInfo {
        // The implicit `return` at the end of the body.
        self.emit(Emit::ReturnNil, end, report);
        let state = self.functions.pop().expect("a function was begun");
        let id = if state.kind == FrameKind::Script {
            u32::MAX
        } else {
            let id = *self.next_function_id;
            *self.next_function_id += 1;
            debug_assert_eq!(id - self.first_function_id, self.captured_variables.len() as u32);
            self.captured_variables.push(state.upvalue_variables);
            id
        };
        FnInfo {
            id,
            upvalues: state.upvalues,
            max_slots: state.max_slots as u16,
            stack_slots: state.stack.max(),
        }
    }

    fn begin_scope(&mut self) {
        self.current().scope_depth += 1;
    }

    fn end_scope(&mut self) -> ScopeExit {
        let state = self.functions.last_mut().expect("inside a function");
        state.scope_depth -= 1;
        let depth = state.scope_depth;
        let mut captured = Vec::new();
        while state.locals.len() > 1
            && state.locals.last().is_some_and(|l| l.depth.is_none_or(|d| d > depth))
        {
            let local = state.locals.pop().expect("checked above");
            // Every assignment to the local is inside its scope, which ends
            // here: whether closures hold it by value is settled.
            let by_value = self.variables[local.variable as usize].by_value();
            captured.push(local.captured && !by_value);
        }
        // One `POP` or `CLOSE_UPVALUE` each.
        state.code.add(captured.len() as u64);
        state.stack.pop(captured.len() as u32);
        ScopeExit { captured }
    }

    fn declare(&mut self, name: Ident, report: &mut Reporter<'_>) -> VarRef {
        if self.is_global_scope() {
            return VarRef::Global(self.globals.slot(name.name));
        }
        let state = self.functions.last().expect("inside a function");
        let depth = state.scope_depth;
        let duplicate = state
            .locals
            .iter()
            .rev()
            .take_while(|l| l.depth.is_none_or(|d| d >= depth))
            .any(|l| l.name == name.name);
        if duplicate {
            report.error_at(name.token, "Already a variable with this name in this scope.");
        }
        self.add_local(name.name, name.token, report)
    }

    fn parameter(&mut self, name: Ident, report: &mut Reporter<'_>) -> VarRef {
        let var = self.declare(name, report);
        self.mark_initialized();
        self.mark_defined();
        self.current().stack.push(name.token, report);
        var
    }

    fn add_hidden_local(
        &mut self,
        name: Symbol,
        at: TokenRef,
        report: &mut Reporter<'_>,
    ) -> VarRef {
        self.add_local(name, at, report)
    }

    fn define(&mut self) {
        if self.is_global_scope() {
            // `DEFINE_GLOBAL name` takes the value off the stack.
            let state = self.current();
            state.code.add(2);
            state.stack.pop(1);
        } else {
            self.mark_initialized();
            self.mark_defined();
        }
    }

    fn mark_initialized(&mut self) {
        let state = self.current();
        let depth = state.scope_depth;
        if let (true, Some(local)) = (depth > 0, state.locals.last_mut()) {
            local.depth = Some(depth);
        }
    }

    fn resolve(&mut self, name: Symbol, at: TokenRef, report: &mut Reporter<'_>) -> VarRef {
        let top = self.functions.len() - 1;
        if let Some(slot) = self.find_local(top, name, at, report) {
            return VarRef::Local(slot);
        }
        if let Some(index) = self.find_upvalue(top, name, at, report) {
            return VarRef::Upvalue(index);
        }
        VarRef::Global(self.globals.slot(name))
    }

    fn assign(&mut self, var: VarRef) {
        let state = self.functions.last().expect("inside a function");
        let variable = match var {
            VarRef::Local(slot) => state.locals.get(slot as usize).map(|l| l.variable),
            VarRef::Upvalue(index) => state.upvalue_variables.get(index as usize).copied(),
            VarRef::Global(_) | VarRef::Unresolved => None,
        };
        if let Some(variable) = variable {
            self.variables[variable as usize].assigned = true;
        }
    }

    fn begin_class(&mut self) {
        self.classes.push(ClassState { has_superclass: false });
    }

    fn inherit(&mut self) {
        if let Some(class) = self.classes.last_mut() {
            class.has_superclass = true;
        }
    }

    fn end_class(&mut self) {
        self.classes.pop();
    }

    fn this_allowed(&mut self, at: TokenRef, report: &mut Reporter<'_>) -> bool {
        if self.classes.is_empty() {
            report.error_at(at, "Can't use 'this' outside of a class.");
            return false;
        }
        true
    }

    fn check_super(&mut self, at: TokenRef, report: &mut Reporter<'_>) {
        match self.classes.last() {
            None => report.error_at(at, "Can't use 'super' outside of a class."),
            Some(class) if !class.has_superclass => {
                report.error_at(at, "Can't use 'super' in a class with no superclass.")
            }
            Some(_) => {}
        }
    }

    fn check_return(&mut self, at: TokenRef, report: &mut Reporter<'_>) {
        if self.current().kind == FrameKind::Script {
            report.error_at(at, "Can't return from top-level code.");
        }
    }

    fn check_return_value(&mut self, at: TokenRef, report: &mut Reporter<'_>) {
        if self.current().kind == FrameKind::Initializer {
            report.error_at(at, "Can't return a value from an initializer.");
        }
    }

    fn emit(&mut self, op: Emit, at: TokenRef, report: &mut Reporter<'_>) {
        let state = self.current();
        if op == Emit::Constant {
            state.constants += 1;
            if state.kind != FrameKind::Script && state.constants > MAX_CONSTANTS {
                report.error_at(at, "Too many constants in one chunk.");
            }
        }
        state.code.emit(op, state.kind);
        state.stack.emit(op, at, report);
    }

    fn jump(&mut self, _kind: Jump) -> Mark {
        // Either kind is 3 bytes and leaves the stack as it is.
        let state = self.current();
        Mark { code: state.code.jump(), stack_depth: state.stack.depth() }
    }

    fn patch_jump(&mut self, jump: Mark, at: TokenRef, report: &mut Reporter<'_>) {
        let state = self.current();
        state.code.patch_jump(jump.code, at, report);
        // Code after an unconditional jump is reached only by landings.
        state.stack.set_depth(jump.stack_depth);
    }

    fn loop_start(&mut self) -> Mark {
        let state = self.current();
        Mark { code: state.code, stack_depth: state.stack.depth() }
    }

    fn loop_back(&mut self, start: Mark, at: TokenRef, report: &mut Reporter<'_>) {
        self.current().code.loop_back(start.code, at, report);
    }
}
