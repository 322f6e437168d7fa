//! Statements and declarations: variables, control flow, loops whose
//! counters the body cannot touch, functions with their `fuel` prologue.

use crate::generator::Gen;
use crate::scope::{CONSTANTS_SOFT_LIMIT, FnCtx, FnKind, LOCALS_SOFT_LIMIT, ThisMode};
use crate::ty::{ClassId, Ret, Scalar, Sig, Ty};

/// The kinds of statement, in the order of their weights in `statement`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Print,
    Var,
    Expr,
    If,
    While,
    For,
    Block,
    Fun,
    Class,
    Return,
    Redefine,
    Fault,
}

const KINDS: [Kind; 12] = [
    Kind::Print,
    Kind::Var,
    Kind::Expr,
    Kind::If,
    Kind::While,
    Kind::For,
    Kind::Block,
    Kind::Fun,
    Kind::Class,
    Kind::Return,
    Kind::Redefine,
    Kind::Fault,
];

impl Gen<'_, '_> {
    /// Up to `max` statements in the current scope.
    pub fn statements(&mut self, depth: u32, max: usize) {
        let count = self.below(max + 1);
        for _ in 0..count {
            if !self.more() {
                break;
            }
            self.statement(depth);
        }
    }

    fn room_for_local(&self) -> bool {
        self.at_top_level() || self.func().locals < LOCALS_SOFT_LIMIT
    }

    pub fn statement(&mut self, depth: u32) {
        self.budget = self.budget.saturating_sub(1);
        let nest = u32::from(depth < self.cfg.max_depth);
        let f = self.func();
        let in_function = f.kind != FnKind::Script;
        let literals = u32::from(self.constants_left(CONSTANTS_SOFT_LIMIT));
        let local = u32::from(self.room_for_local());
        let loops = nest * literals * local * u32::from(f.loops < 2);
        let top = u32::from(self.at_top_level());
        let fault = self.cfg.faults_per_mille;
        let weights = [
            80 * 10,
            80 * 10 * local,
            80 * 10,
            80 * 5 * nest,
            80 * 2 * loops,
            80 * 3 * loops,
            80 * 2 * nest,
            80 * 4 * nest * local,
            80 * 3 * nest * local,
            80 * 2 * u32::from(in_function),
            80 * 3 * top,
            // `fault` in a thousand statements, out of a total near 4000.
            fault * 4,
        ];
        match KINDS[self.weighted(&weights)] {
            Kind::Print => {
                let ty = self.any_type();
                let value = self.expr(ty, 0);
                self.line(&format!("print {value};"));
            }
            Kind::Var => self.var_decl(),
            Kind::Expr => self.expr_stmt(),
            Kind::If => self.if_stmt(depth),
            Kind::While => self.while_stmt(depth),
            Kind::For => self.for_stmt(depth),
            Kind::Block => {
                self.open("{");
                self.push_scope();
                self.statements(depth + 1, 5);
                self.pop_scope();
                self.close("}");
            }
            Kind::Fun => self.fun_decl(depth, None),
            Kind::Class => self.class_decl(depth),
            Kind::Return => self.return_stmt(),
            Kind::Redefine => self.redefine(depth),
            Kind::Fault => self.fault(),
        }
    }

    /// A type for a new variable: anything that has a value here.
    fn var_type(&mut self) -> Ty {
        match self.weighted(&[4, 2, 2, 3, 2]) {
            1 => Ty::Str,
            2 => Ty::Bool,
            3 => self.any_type(),
            4 => {
                let sig = self.sig();
                if self.available(Ty::Fn(sig)) { Ty::Fn(sig) } else { Ty::Any }
            }
            _ => Ty::Num,
        }
    }

    fn var_decl(&mut self) {
        // Sometimes shadow a variable of an enclosing scope (never `fuel`
        // or a loop counter, which must stay the ones the checks read).
        let mut name = None;
        if !self.at_top_level() && self.chance(1, 5) {
            let outer = self.visible(|var| !var.frozen);
            if let Some(var) = outer.get(self.below(outer.len()))
                && !self.in_innermost_scope(&var.name)
            {
                name = Some(var.name.clone());
            }
        }
        let name = name.unwrap_or_else(|| self.fresh("v"));
        // A local's initializer may not read the local itself, nor (when
        // it shadows) the variable it shadows: hide the name before even
        // choosing the type, which looks at what is visible.
        self.hidden.push(name.clone());
        let ty = self.var_type();
        let text = if ty == Ty::Any && self.chance(1, 4) {
            format!("var {name};")
        } else {
            format!("var {name} = {};", self.expr(ty, 0))
        };
        self.hidden.pop();
        self.line(&text);
        self.declare(&name, ty, false);
    }

    fn expr_stmt(&mut self) {
        match self.weighted(&[3, 4, 3, 1, 1]) {
            1 => {
                let vars = self.visible(|var| !var.frozen);
                if vars.is_empty() {
                    return self.expr_stmt_call();
                }
                let var = self.use_var(&vars);
                let value = self.expr(var.ty, 0);
                self.line(&format!("{} = {value};", var.name));
            }
            2 => self.field_set(),
            3 => self.shadow_method(),
            4 => self.reinit(),
            _ => self.expr_stmt_call(),
        }
    }

    fn expr_stmt_call(&mut self) {
        match self.call(Ty::Any, 0) {
            Some(call) => self.line(&format!("{call};")),
            None => {
                let value = self.expr(Ty::Num, 0);
                self.line(&format!("{value};"));
            }
        }
    }

    /// `object.field = value;`, adding the field if the instance lacks it,
    /// so instances of one class get their fields in different orders.
    fn field_set(&mut self) {
        let mut receivers = self.receivers(false);
        let f = self.func();
        let init_this = f.this_mode == ThisMode::Init;
        if receivers.is_empty() && !init_this {
            return self.expr_stmt_call();
        }
        let field = self.field_name();
        let (name, ty) = self.fields[field].clone();
        let object = if init_this && (receivers.is_empty() || self.chance(1, 2)) {
            "this".to_string()
        } else {
            let (receiver, _) = receivers.swap_remove(self.below(receivers.len()));
            self.render(&receiver, 0)
        };
        let value = self.expr(ty, 0);
        self.line(&format!("{object}.{name} = {value};"));
    }

    /// A field name: an existing one, or a new one with a new type.
    pub fn field_name(&mut self) -> usize {
        if !self.fields.is_empty() && self.chance(3, 4) {
            return self.below(self.fields.len());
        }
        let name = self.fresh("x");
        let ty = match self.weighted(&[3, 2, 1, 2, 1]) {
            1 => Ty::Str,
            2 => Ty::Bool,
            3 => Ty::Any,
            4 => {
                let arity = self.below(3) as u8;
                let ret = self.scalar();
                Ty::Fn(Sig::returned(arity, ret))
            }
            _ => Ty::Num,
        };
        self.fields.push((name, ty));
        self.fields.len() - 1
    }

    /// `object.method = function;`: a field that shadows a method, holding
    /// a function of the method's signature so that calls still type.
    fn shadow_method(&mut self) {
        let mut options = Vec::new();
        for (receiver, class) in self.receivers(false) {
            for method in self.methods_of(class) {
                if self.available(Ty::Fn(self.methods[method].1)) {
                    options.push((receiver.clone(), method));
                }
            }
        }
        if options.is_empty() {
            return self.field_set();
        }
        let (receiver, method) = options.swap_remove(self.below(options.len()));
        let object = self.render(&receiver, 0);
        let (name, sig) = self.methods[method].clone();
        let value = self.expr(Ty::Fn(sig), 0);
        self.line(&format!("{object}.{name} = {value};"));
    }

    /// `object.init(args);`: running an initializer again.
    fn reinit(&mut self) {
        let mut options = Vec::new();
        for (receiver, class) in self.receivers(false) {
            if let Some(sig) = self.init_of(class) {
                options.push((receiver, sig));
            }
        }
        if options.is_empty() {
            return self.expr_stmt_call();
        }
        let (receiver, sig) = options.swap_remove(self.below(options.len()));
        let object = self.render(&receiver, 0);
        let args = self.args(&sig, 0);
        if self.chance(1, 2) {
            self.line(&format!("{object}.init({args});"));
        } else {
            self.line(&format!("print {object}.init({args});"));
        }
    }

    fn if_stmt(&mut self, depth: u32) {
        let cond = self.condition();
        if self.chance(1, 4) {
            // A one-statement branch that leaves the function early.
            let single = if self.func().kind == FnKind::Script {
                let ty = self.any_type();
                format!("print {};", self.expr(ty, 1))
            } else {
                self.return_text()
            };
            self.line(&format!("if ({cond}) {single}"));
            return;
        }
        self.open(&format!("if ({cond}) {{"));
        self.push_scope();
        self.statements(depth + 1, 5);
        self.pop_scope();
        if self.chance(1, 2) {
            self.reopen("} else {");
            self.push_scope();
            self.statements(depth + 1, 5);
            self.pop_scope();
        }
        self.close("}");
    }

    /// A condition: usually a boolean, sometimes any value's truthiness.
    fn condition(&mut self) -> String {
        let ty = if self.chance(3, 4) { Ty::Bool } else { self.any_type() };
        self.expr(ty, 1)
    }

    /// The number of iterations, as a literal.
    fn bound(&mut self) -> u32 {
        self.count_constant();
        self.below(self.cfg.max_loop_iterations as usize + 1) as u32
    }

    /// `var i = 0; while (i < N) { ...; i = i + 1; }`: the counter is
    /// frozen, so no statement in the body assigns it.
    fn while_stmt(&mut self, depth: u32) {
        let counter = self.fresh("i");
        self.count_constant();
        self.line(&format!("var {counter} = 0;"));
        self.declare(&counter, Ty::Num, true);
        let bound = self.bound();
        self.open(&format!("while ({counter} < {bound}) {{"));
        self.loop_body(depth, &counter);
        self.close("}");
    }

    /// The body of a loop, ending with the counter's increment.
    fn loop_body(&mut self, depth: u32, counter: &str) {
        self.func_mut().loops += 1;
        self.push_scope();
        self.statements(depth + 1, 5);
        self.pop_scope();
        self.func_mut().loops -= 1;
        self.count_constant();
        self.line(&format!("{counter} = {counter} + 1;"));
    }

    fn for_stmt(&mut self, depth: u32) {
        let counter = self.fresh("i");
        let bound = self.bound();
        let in_function = self.func().kind != FnKind::Script;
        self.count_constant();
        self.count_constant();
        match self.weighted(&[4, 2, 2, 2, u32::from(in_function) * 2]) {
            // for (;;) with the exit inside, as a return.
            4 => {
                self.line(&format!("var {counter} = 0;"));
                self.declare(&counter, Ty::Num, true);
                self.open("for (;;) {");
                let exit = self.return_text();
                self.line(&format!("if ({counter} >= {bound}) {exit}"));
                self.loop_body(depth, &counter);
                self.close("}");
            }
            // The counter declared before; no initializer clause.
            1 => {
                self.line(&format!("var {counter} = 0;"));
                self.declare(&counter, Ty::Num, true);
                self.open(&format!("for (; {counter} < {bound}; {counter} = {counter} + 1) {{"));
                self.loop_inner(depth);
                self.close("}");
            }
            // No increment clause: the body increments.
            2 => {
                self.push_scope();
                self.declare(&counter, Ty::Num, true);
                self.open(&format!("for (var {counter} = 0; {counter} < {bound};) {{"));
                self.loop_body(depth, &counter);
                self.close("}");
                self.pop_scope();
            }
            // An expression statement as the initializer clause.
            3 => {
                self.line(&format!("var {counter};"));
                self.declare(&counter, Ty::Num, true);
                self.open(&format!(
                    "for ({counter} = 0; {counter} < {bound}; {counter} = {counter} + 1) {{"
                ));
                self.loop_inner(depth);
                self.close("}");
            }
            _ => {
                self.push_scope();
                self.declare(&counter, Ty::Num, true);
                let head = format!(
                    "for (var {counter} = 0; {counter} < {bound}; {counter} = {counter} + 1)"
                );
                if self.chance(1, 4) {
                    // A body that is a single statement.
                    let ty = self.any_type();
                    let value = self.expr(ty, 1);
                    self.line(&format!("{head} print {value};"));
                } else {
                    self.open(&format!("{head} {{"));
                    self.loop_inner(depth);
                    self.close("}");
                }
                self.pop_scope();
            }
        }
    }

    /// A loop body whose increment is in the loop's clause.
    fn loop_inner(&mut self, depth: u32) {
        self.func_mut().loops += 1;
        self.push_scope();
        self.statements(depth + 1, 5);
        self.pop_scope();
        self.func_mut().loops -= 1;
    }

    /// The text of a `return` fitting the current function.
    pub fn return_text(&mut self) -> String {
        match self.func().ret {
            None => "return;".to_string(),
            Some(ret) => {
                if ret == Ret::Scalar(Scalar::Any) && self.chance(1, 4) {
                    return "return;".to_string();
                }
                format!("return {};", self.expr(ret.ty(), 0))
            }
        }
    }

    fn return_stmt(&mut self) {
        let text = self.return_text();
        self.line(&text);
    }

    /// `fun name(params) { prologue; body; return; }`. With `redefine`,
    /// the function replaces the global of that name and signature.
    pub fn fun_decl(&mut self, depth: u32, redefine: Option<(String, Sig)>) {
        let (name, sig) = match redefine {
            Some(existing) => existing,
            None => (self.fresh("f"), self.sig()),
        };
        // Declared before the body, so that the body can call itself.
        self.declare(&name, Ty::Fn(sig), false);
        let params = self.param_names(sig.arity);
        self.open(&format!("fun {name}({}) {{", params.join(", ")));
        self.function_body(FnKind::Function, sig, &params, depth);
        self.close("}");
    }

    /// Parameter names: fresh, or sometimes shadowing an outer variable.
    pub fn param_names(&mut self, arity: u8) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for _ in 0..arity {
            let outer = self.visible(|var| !var.frozen && !var.global);
            let name = match outer.get(self.below(outer.len() * 4)) {
                Some(var) if !names.contains(&var.name) => var.name.clone(),
                _ => self.fresh("p"),
            };
            names.push(name);
        }
        names
    }

    /// The body of a plain function, after its header line: the `fuel`
    /// prologue, statements, and a final `return` of the right type.
    pub fn function_body(&mut self, kind: FnKind, sig: Sig, params: &[String], depth: u32) {
        self.enter_function(kind, sig, params, None);
        self.prologue();
        self.function_statements(sig, depth);
        self.leave_function();
    }

    /// Start writing a function: its context (with `this` as given, or as
    /// the enclosing function has it), its scope and its parameters.
    pub fn enter_function(
        &mut self,
        kind: FnKind,
        sig: Sig,
        params: &[String],
        this: Option<(ClassId, ThisMode)>,
    ) {
        let parent = self.func();
        let (this_class, this_mode) = match this {
            Some((class, mode)) => (Some(class), mode),
            None => (parent.this_class, parent.this_mode),
        };
        let ready = if this.is_some() { Vec::new() } else { parent.ready_fields.clone() };
        let ret = (kind != FnKind::Initializer).then_some(sig.ret);
        let mut ctx = FnCtx::new(kind, ret);
        ctx.this_class = this_class;
        ctx.this_mode = this_mode;
        ctx.ready_fields = ready;
        self.fns.push(ctx);
        self.push_scope();
        for (name, ty) in params.iter().zip(sig.params()) {
            self.declare(name, (*ty).into(), false);
        }
    }

    pub fn leave_function(&mut self) {
        self.pop_scope();
        self.fns.pop();
    }

    /// Statements of a function body and its closing `return`.
    pub fn function_statements(&mut self, sig: Sig, depth: u32) {
        // A closure factory usually declares the closure it returns.
        if let Ret::Fn(arity, ret) = sig.ret
            && self.chance(3, 4)
            && depth < self.cfg.max_depth
        {
            self.fun_decl_of(depth + 1, Sig::returned(arity, ret));
        }
        self.statements(depth + 1, 8);
        if self.func().kind == FnKind::Initializer {
            if self.chance(1, 3) {
                self.line("return;");
            }
        } else if sig.ret != Ret::Scalar(Scalar::Any) || self.chance(1, 2) {
            let text = self.return_text();
            self.line(&text);
        }
    }

    /// A local function of a given signature (what a factory returns).
    fn fun_decl_of(&mut self, depth: u32, sig: Sig) {
        let name = self.fresh("f");
        self.declare(&name, Ty::Fn(sig), false);
        let params = self.param_names(sig.arity);
        self.open(&format!("fun {name}({}) {{", params.join(", ")));
        self.function_body(FnKind::Function, sig, &params, depth);
        self.close("}");
    }

    /// `if (fuel < 1) return DEFAULT; fuel = fuel - 1;`: every generated
    /// function spends one unit of the program's fuel, and once it is gone
    /// every function returns at once, which bounds the program's running
    /// time whatever calls what.
    pub fn prologue(&mut self) {
        let value = match self.func().ret {
            Some(ret) => format!(" {}", self.default_value(ret)),
            None => String::new(),
        };
        self.count_constant();
        self.count_constant();
        self.line(&format!("if (fuel < 1) return{value};"));
        self.line("fuel = fuel - 1;");
    }

    /// Top level only: redeclare a global with a value of its type, or a
    /// global function with a new body of its signature.
    fn redefine(&mut self, depth: u32) {
        let globals = self.visible(|var| var.global && !var.frozen);
        if globals.is_empty() {
            return self.var_decl();
        }
        let var = self.use_var(&globals);
        match var.ty {
            Ty::Fn(sig) if depth < self.cfg.max_depth && self.chance(1, 2) => {
                self.fun_decl(depth, Some((var.name, sig)));
            }
            Ty::Class(_) => self.var_decl(),
            ty => {
                let value = self.expr(ty, 0);
                self.line(&format!("var {} = {value};", var.name));
            }
        }
    }
}
