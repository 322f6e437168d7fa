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
}

/// What is known about a function while its body is parsed.
struct FnState {
    kind: FrameKind,
    locals: Vec<Local>,
    upvalues: Vec<Capture>,
    scope_depth: u32,
    max_slots: usize,
    constants: usize,
    code: CodeSize,
    stack: StackDepth,
}

impl FnState {
    fn new(kind: FrameKind, slot_zero: Symbol) -> FnState {
        FnState {
            kind,
            // Slot 0 holds the callee, or `this` in methods.
            locals: vec![Local { name: slot_zero, depth: Some(0), captured: false }],
            upvalues: Vec::new(),
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
        Resolver {
            globals,
            next_function_id,
            functions: Vec::new(),
            classes: Vec::new(),
            this_name: interner.intern("this"),
            empty_name: interner.intern(""),
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
        let state = self.current();
        state.locals.push(Local { name, depth: None, captured: false });
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
            self.functions[function - 1].locals[slot as usize].captured = true;
            let capture = Capture { is_local: true, index: slot };
            return Some(self.add_upvalue(function, capture, at, report));
        }
        let index = self.find_upvalue(function - 1, name, at, report)?;
        Some(self.add_upvalue(function, Capture { is_local: false, index }, at, report))
    }

    fn add_upvalue(
        &mut self,
        function: usize,
        capture: Capture,
        at: TokenRef,
        report: &mut Reporter<'_>,
    ) -> u8 {
        let upvalues = &mut self.functions[function].upvalues;
        if let Some(existing) = upvalues.iter().position(|&u| u == capture) {
            return existing as u8;
        }
        if upvalues.len() == MAX_UPVALUES {
            report.error_at(at, "Too many closure variables in function.");
            return 0;
        }
        upvalues.push(capture);
        (upvalues.len() - 1) as u8
    }
}

impl Semantics for Resolver<'_> {
    type Mark = Mark;

    fn begin_function(&mut self, kind: FrameKind) {
        // As in clox, slot 0 is named `this` everywhere but in functions
        // (the script's is never found: `this` outside a class is an error
        // before it is looked up, except in `super` misuse).
        let slot_zero = if kind == FrameKind::Function { self.empty_name } else { self.this_name };
        self.functions.push(FnState::new(kind, slot_zero));
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
        let state = self.current();
        state.scope_depth -= 1;
        let depth = state.scope_depth;
        let mut captured = Vec::new();
        while state.locals.len() > 1
            && state.locals.last().is_some_and(|l| l.depth.is_none_or(|d| d > depth))
        {
            captured.push(state.locals.pop().expect("checked above").captured);
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
