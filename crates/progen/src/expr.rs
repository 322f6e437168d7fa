//! Expressions of a wanted static type.
//!
//! Every expression is fully parenthesized where precedence could matter:
//! the engines share one parser, so precedence bugs are not what a
//! differential test can find, and the parentheses keep the typing simple.

use crate::generator::Gen;
use crate::scope::{CONSTANTS_HARD_LIMIT, ThisMode, Var};
use crate::ty::{ClassId, Ret, Scalar, Sig, Ty};

/// Number literals, chosen for how they print: integers, fractions that do
/// not round-trip in short form, both ends of the plain-notation range, and
/// integers past 2^53.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "7",
    "10",
    "0.5",
    "1.25",
    "100",
    "0.1",
    "0.2",
    "123.456",
    "1000000",
    "1000000000000000000000",
    "123456789012345680000",
    "0.000001",
    "0.0000001",
    "9007199254740993",
    "4294967296",
    "3.14159",
];

/// Numbers computed rather than written: NaN, the infinities, `-0`.
const SPECIAL_NUMBERS: &[&str] =
    &["(0 / 0)", "(1 / 0)", "(-1 / 0)", "-0", "(0 * -1)", "(-(0 / 0))", "(1 / (-1 / 0))"];

/// String literals: empty, short, with a space, spanning a line (which
/// moves every later line number), non-ASCII, and ones that look like
/// other values when printed.
const STRINGS: &[&str] = &[
    "\"\"",
    "\"a\"",
    "\"b\"",
    "\"ab\"",
    "\"hello\"",
    "\"x y\"",
    "\"line\nbreak\"",
    "\"\u{e9}t\u{e9}\"",
    "\"nan\"",
    "\"1\"",
    "\"-0\"",
    "\"nil\"",
];

/// Who a property is read from or a method called on.
#[derive(Debug, Clone)]
pub(crate) enum Receiver {
    Var(Var),
    This,
    /// A fresh instance: `Class(args)` through this class-valued variable.
    New(Var, ClassId),
}

/// A call the generator could write.
#[derive(Debug, Clone)]
enum Callee {
    /// A function-valued variable.
    Fn(Var, Sig),
    /// `receiver.method(args)`.
    Method(Receiver, usize),
    /// `super.method(args)`.
    Super(usize),
    /// `maker(args)(args)`: call what a closure factory returns.
    Made(Var, Sig),
}

impl Gen<'_, '_> {
    pub fn expr(&mut self, ty: Ty, depth: u32) -> String {
        match ty {
            Ty::Num => self.num(depth),
            Ty::Str => self.string(depth),
            Ty::Bool => self.boolean(depth),
            Ty::Any => self.any(depth),
            Ty::Fn(sig) => self.function(sig, depth),
            Ty::Class(class) => self.class_value(class),
            Ty::Inst(class) => self.instance(class, depth),
        }
    }

    fn leaf(&self, depth: u32) -> bool {
        depth >= self.cfg.max_expr_depth
    }

    fn literal_ok(&self) -> bool {
        self.constants_left(CONSTANTS_HARD_LIMIT)
    }

    pub fn number_literal(&mut self) -> String {
        self.count_constant();
        self.pick(NUMBERS).to_string()
    }

    fn string_literal(&mut self) -> String {
        self.count_constant();
        self.pick(STRINGS).to_string()
    }

    /// A variable of exactly this type, if one is visible.
    fn var_of(&mut self, ty: Ty) -> Option<String> {
        let vars = self.visible(|var| var.ty == ty);
        (!vars.is_empty()).then(|| self.use_var(&vars).name)
    }

    fn num(&mut self, depth: u32) -> String {
        let leaf = self.leaf(depth);
        let lit = u32::from(self.literal_ok());
        let deep = u32::from(!leaf);
        // literal, variable, special, negate, binary, call, field, assign, and/or
        let form =
            self.weighted(&[4 * lit, 4, lit, 2 * deep, 5 * deep, 3 * deep, 2 * deep, deep, deep]);
        let d = depth + 1;
        match form {
            0 => self.number_literal(),
            2 => {
                self.count_constant();
                self.count_constant();
                self.pick(SPECIAL_NUMBERS).to_string()
            }
            3 => format!("(-{})", self.num(d)),
            4 => {
                let op = self.pick(&["+", "-", "*", "/"]);
                format!("({} {op} {})", self.num(d), self.num(d))
            }
            5 => self.call(Ty::Num, d).unwrap_or_else(|| self.num(d)),
            6 => self.field_read(Ty::Num, d).unwrap_or_else(|| self.num(d)),
            7 if self.chance(1, 3) => {
                self.field_set_expr(Ty::Num, d).unwrap_or_else(|| self.num(d))
            }
            7 => self.assign_expr(Ty::Num, d).unwrap_or_else(|| self.num(d)),
            8 => self.logic(Ty::Num, d),
            // `fuel` is always a visible number.
            _ => self.var_of(Ty::Num).unwrap_or_else(|| "fuel".to_string()),
        }
    }

    fn string(&mut self, depth: u32) -> String {
        let leaf = self.leaf(depth);
        let deep = u32::from(!leaf);
        let var = self.var_of_exists(Ty::Str);
        let lit = u32::from(self.literal_ok() || !var);
        // literal, variable, concatenation, call, field, assign, and/or
        let form =
            self.weighted(&[4 * lit, 4 * u32::from(var), 4 * deep, 2 * deep, 2 * deep, deep, deep]);
        let d = depth + 1;
        match form {
            1 => self.var_of(Ty::Str).expect("checked"),
            // One side a literal: a string grows by a literal's length per
            // evaluation, never doubles (`s = s + s` in a loop would
            // exhaust memory).
            2 if self.chance(1, 2) => format!("({} + {})", self.string(d), self.string_literal()),
            2 => format!("({} + {})", self.string_literal(), self.string(d)),
            3 => self.call(Ty::Str, d).unwrap_or_else(|| self.string(d)),
            4 => self.field_read(Ty::Str, d).unwrap_or_else(|| self.string(d)),
            5 if self.chance(1, 3) => {
                self.field_set_expr(Ty::Str, d).unwrap_or_else(|| self.string(d))
            }
            5 => self.assign_expr(Ty::Str, d).unwrap_or_else(|| self.string(d)),
            6 => self.logic(Ty::Str, d),
            _ => self.string_literal(),
        }
    }

    fn var_of_exists(&self, ty: Ty) -> bool {
        !self.visible(|var| var.ty == ty).is_empty()
    }

    fn boolean(&mut self, depth: u32) -> String {
        let deep = u32::from(!self.leaf(depth));
        // literal, variable, not, comparison, equality, call, field, assign, and/or
        let form = self.weighted(&[3, 3, 2 * deep, 4 * deep, 4 * deep, deep, deep, deep, 2 * deep]);
        let d = depth + 1;
        match form {
            1 => self.var_of(Ty::Bool).unwrap_or_else(|| "false".to_string()),
            2 => {
                let ty = self.any_type();
                format!("(!{})", self.expr(ty, d))
            }
            3 => {
                let op = self.pick(&["<", "<=", ">", ">="]);
                format!("({} {op} {})", self.num(d), self.num(d))
            }
            4 => {
                let op = self.pick(&["==", "!="]);
                let left = self.any_type();
                let right = if self.chance(2, 3) { left } else { self.any_type() };
                format!("({} {op} {})", self.expr(left, d), self.expr(right, d))
            }
            5 => self.call(Ty::Bool, d).unwrap_or_else(|| self.boolean(d)),
            6 => self.field_read(Ty::Bool, d).unwrap_or_else(|| self.boolean(d)),
            7 if self.chance(1, 3) => {
                self.field_set_expr(Ty::Bool, d).unwrap_or_else(|| self.boolean(d))
            }
            7 => self.assign_expr(Ty::Bool, d).unwrap_or_else(|| self.boolean(d)),
            8 => self.logic(Ty::Bool, d),
            _ => self.pick(&["true", "false"]).to_string(),
        }
    }

    fn any(&mut self, depth: u32) -> String {
        let deep = u32::from(!self.leaf(depth));
        // nil, another type, Any variable, call, and/or, the native clock
        let form = self.weighted(&[2, 8, 3, 2 * deep, deep, 1]);
        let d = depth + 1;
        match form {
            1 => {
                let ty = self.any_type();
                if ty == Ty::Any { "nil".to_string() } else { self.expr(ty, depth) }
            }
            2 => self.var_of(Ty::Any).unwrap_or_else(|| "nil".to_string()),
            3 => self.call(Ty::Any, d).unwrap_or_else(|| "nil".to_string()),
            4 => {
                let op = self.pick(&["and", "or"]);
                let (left, right) = (self.any_type(), self.any_type());
                format!("({} {op} {})", self.expr(left, d), self.expr(right, d))
            }
            // Printing a native is fine; calling `clock` would not be
            // deterministic, so it is never called.
            5 => "clock".to_string(),
            _ => "nil".to_string(),
        }
    }

    /// A random type that has a value here.
    pub fn any_type(&mut self) -> Ty {
        match self.weighted(&[1, 5, 4, 3, 2, 1, 2]) {
            1 => Ty::Num,
            2 => Ty::Str,
            3 => Ty::Bool,
            4 => {
                let fns = self.visible(|var| matches!(var.ty, Ty::Fn(_)));
                match fns.get(self.below(fns.len())) {
                    Some(var) => var.ty,
                    None => Ty::Num,
                }
            }
            5 => {
                let classes = self.visible(|var| matches!(var.ty, Ty::Class(_)));
                match classes.get(self.below(classes.len())) {
                    Some(var) => var.ty,
                    None => Ty::Str,
                }
            }
            6 => {
                let instances = self.visible(|var| matches!(var.ty, Ty::Inst(_)));
                match instances.get(self.below(instances.len())) {
                    Some(var) => var.ty,
                    None if self.no_calls => Ty::Bool,
                    None => self.constructible().map_or(Ty::Bool, Ty::Inst),
                }
            }
            _ => Ty::Any,
        }
    }

    /// A class with a visible class-valued variable, if any.
    fn constructible(&mut self) -> Option<ClassId> {
        let classes = self.visible(|var| matches!(var.ty, Ty::Class(_)));
        let var = classes.get(self.below(classes.len()))?;
        match var.ty {
            Ty::Class(class) => Some(class),
            _ => None,
        }
    }

    fn function(&mut self, sig: Sig, depth: u32) -> String {
        let deep = u32::from(!self.leaf(depth));
        // default, variable, bound method, call of a factory, field,
        // assignment to a field (perhaps one shadowing a method)
        let form = self.weighted(&[1, 6, 3 * deep, 2 * deep, deep, deep]);
        let d = depth + 1;
        let found = match form {
            1 => self.var_of(Ty::Fn(sig)),
            2 => self.bound_method(sig, d),
            3 => self.call(Ty::Fn(sig), d),
            4 => self.field_read(Ty::Fn(sig), d),
            5 => self.field_set_expr(Ty::Fn(sig), d),
            _ => None,
        };
        found.unwrap_or_else(|| {
            let Ret::Scalar(ret) = sig.ret else {
                // No default returns a function; only variables do.
                return self.var_of(Ty::Fn(sig)).expect("functions returning functions are named");
            };
            self.default_fn(sig.arity, ret)
        })
    }

    fn class_value(&mut self, class: ClassId) -> String {
        let vars = self.visible(|var| matches!(var.ty, Ty::Class(c) if c == class));
        self.use_var(&vars).name
    }

    /// Whether a value of `ty` can be written here.
    pub fn available(&self, ty: Ty) -> bool {
        match ty {
            Ty::Class(class) => !self.visible(|var| var.ty == Ty::Class(class)).is_empty(),
            Ty::Inst(class) => {
                self.this_is(class)
                    || !self
                        .visible(|var| match var.ty {
                            Ty::Inst(c) => self.is_subclass(c, class),
                            Ty::Class(c) => !self.no_calls && self.is_subclass(c, class),
                            _ => false,
                        })
                        .is_empty()
            }
            Ty::Fn(sig) => {
                matches!(sig.ret, Ret::Scalar(_)) || !self.visible(|var| var.ty == ty).is_empty()
            }
            _ => true,
        }
    }

    fn this_is(&self, class: ClassId) -> bool {
        let f = self.func();
        f.this_mode == ThisMode::Full && f.this_class.is_some_and(|c| self.is_subclass(c, class))
    }

    fn instance(&mut self, class: ClassId, depth: u32) -> String {
        let vars = self.visible(|var| matches!(var.ty, Ty::Inst(c) if self.is_subclass(c, class)));
        let makers = if self.no_calls {
            Vec::new()
        } else {
            self.visible(|var| matches!(var.ty, Ty::Class(c) if self.is_subclass(c, class)))
        };
        let this = self.this_is(class);
        let deep = !self.leaf(depth) && !self.no_calls;
        let reinit = deep && !vars.is_empty() && self.init_of(class).is_some();
        // variable, construction, `this`, re-run init
        let form = self.weighted(&[
            3 * u32::from(!vars.is_empty()),
            2 * u32::from(!makers.is_empty()),
            u32::from(this),
            u32::from(reinit),
        ]);
        match form {
            1 => {
                let var = self.use_var(&makers);
                let Ty::Class(c) = var.ty else { unreachable!("filtered") };
                self.construct(&var.name, c, depth + 1)
            }
            2 => "this".to_string(),
            3 => {
                let var = self.use_var(&vars);
                let sig = self.init_of(class).expect("checked");
                format!("{}.init({})", var.name, self.args(&sig, depth + 1))
            }
            _ if !vars.is_empty() => self.use_var(&vars).name,
            _ if !makers.is_empty() => {
                let var = self.use_var(&makers);
                let Ty::Class(c) = var.ty else { unreachable!("filtered") };
                self.construct(&var.name, c, depth + 1)
            }
            _ => {
                assert!(this, "an instance was asked for where none is available");
                "this".to_string()
            }
        }
    }

    /// `Name(args)` for class `class`.
    pub fn construct(&mut self, name: &str, class: ClassId, depth: u32) -> String {
        match self.init_of(class) {
            Some(sig) => format!("{name}({})", self.args(&sig, depth)),
            None => format!("{name}()"),
        }
    }

    /// Arguments for a call of `sig`.
    pub fn args(&mut self, sig: &Sig, depth: u32) -> String {
        let params = sig.params().to_vec();
        let args: Vec<String> = params.into_iter().map(|p| self.expr(p.into(), depth)).collect();
        args.join(", ")
    }

    /// `(left and right)` or `(left or right)`, both of type `ty`.
    fn logic(&mut self, ty: Ty, depth: u32) -> String {
        let op = self.pick(&["and", "or"]);
        format!("({} {op} {})", self.expr(ty, depth), self.expr(ty, depth))
    }

    /// `(name = value)` for a variable of type `ty`.
    fn assign_expr(&mut self, ty: Ty, depth: u32) -> Option<String> {
        let vars = self.visible(|var| var.ty == ty && !var.frozen);
        if vars.is_empty() {
            return None;
        }
        let var = self.use_var(&vars);
        Some(format!("({} = {})", var.name, self.expr(ty, depth)))
    }

    /// `(object.field = value)` for a field of type `ty` (for a function
    /// type, possibly a field named like a method, which then shadows it).
    /// Written inside arguments, it checks that a method is looked up
    /// before its arguments run.
    fn field_set_expr(&mut self, ty: Ty, depth: u32) -> Option<String> {
        let mut names: Vec<String> =
            self.fields.iter().filter(|(_, t)| *t == ty).map(|(n, _)| n.clone()).collect();
        names.extend(self.methods.iter().filter(|(_, s)| Ty::Fn(*s) == ty).map(|(n, _)| n.clone()));
        if names.is_empty() {
            return None;
        }
        let mut receivers = self.receivers(false);
        let init_this = self.func().this_mode == ThisMode::Init;
        if receivers.is_empty() && !init_this {
            return None;
        }
        let name = names[self.below(names.len())].clone();
        let object = if init_this && (receivers.is_empty() || self.chance(1, 2)) {
            "this".to_string()
        } else {
            let (receiver, _) = receivers.swap_remove(self.below(receivers.len()));
            self.render(&receiver, depth)
        };
        let value = self.expr(ty, depth);
        Some(format!("({object}.{name} = {value})"))
    }

    /// Instances (and `this`) that properties can be read from here, with
    /// their class.
    pub fn receivers(&mut self, allow_new: bool) -> Vec<(Receiver, ClassId)> {
        let allow_new = allow_new && !self.no_calls;
        let mut found: Vec<(Receiver, ClassId)> = self
            .visible(|var| matches!(var.ty, Ty::Inst(_)))
            .into_iter()
            .map(|var| {
                let Ty::Inst(class) = var.ty else { unreachable!("filtered") };
                (Receiver::Var(var), class)
            })
            .collect();
        let f = self.func();
        if let (ThisMode::Full, Some(class)) = (f.this_mode, f.this_class) {
            found.push((Receiver::This, class));
        }
        if allow_new {
            for var in self.visible(|var| matches!(var.ty, Ty::Class(_))) {
                let Ty::Class(class) = var.ty else { unreachable!("filtered") };
                found.push((Receiver::New(var, class), class));
            }
        }
        found
    }

    pub fn render(&mut self, receiver: &Receiver, depth: u32) -> String {
        match receiver {
            Receiver::Var(var) => {
                self.touch(var);
                var.name.clone()
            }
            Receiver::This => "this".to_string(),
            Receiver::New(var, class) => {
                self.touch(var);
                self.construct(&var.name, *class, depth)
            }
        }
    }

    /// `receiver.field` of type `ty`: a field every instance of the class has.
    fn field_read(&mut self, ty: Ty, depth: u32) -> Option<String> {
        let mut options: Vec<(Option<Receiver>, usize)> = Vec::new();
        for (receiver, class) in self.receivers(true) {
            for &field in &self.classes[class].fields {
                if self.fields[field].1 == ty {
                    options.push((Some(receiver.clone()), field));
                }
            }
        }
        // In an initializer, the fields already set.
        let f = self.func();
        if f.this_mode == ThisMode::Init {
            for &field in &f.ready_fields {
                if self.fields[field].1 == ty {
                    options.push((None, field));
                }
            }
        }
        if options.is_empty() {
            return None;
        }
        let (receiver, field) = options[self.below(options.len())].clone();
        let object = match receiver {
            Some(receiver) => self.render(&receiver, depth),
            None => "this".to_string(),
        };
        Some(format!("{object}.{}", self.fields[field].0))
    }

    /// `receiver.method` (a bound method) or `super.method` of this signature.
    fn bound_method(&mut self, sig: Sig, depth: u32) -> Option<String> {
        let mut options: Vec<(Option<Receiver>, usize)> = Vec::new();
        for (receiver, class) in self.receivers(true) {
            for method in self.methods_of(class) {
                if self.methods[method].1 == sig {
                    options.push((Some(receiver.clone()), method));
                }
            }
        }
        for method in self.super_methods() {
            if self.methods[method].1 == sig {
                options.push((None, method));
            }
        }
        if options.is_empty() {
            return None;
        }
        let (receiver, method) = options[self.below(options.len())].clone();
        let object = match receiver {
            Some(receiver) => self.render(&receiver, depth),
            None => "super".to_string(),
        };
        Some(format!("{object}.{}", self.methods[method].0))
    }

    /// Methods `super.m` may name here: in a method (not an initializer)
    /// of a class with a superclass.
    pub fn super_methods(&self) -> Vec<usize> {
        let f = self.func();
        match (f.this_mode, f.this_class) {
            (ThisMode::Full, Some(class)) => match self.classes[class].superclass {
                Some(parent) => self.methods_of(parent),
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// A call whose result has type `want` (any result if `want` is `Any`).
    pub fn call(&mut self, want: Ty, depth: u32) -> Option<String> {
        if self.no_calls {
            return None;
        }
        let fits = |ret: Ret| want == Ty::Any || ret.ty() == want;
        let mut options: Vec<Callee> = Vec::new();
        for var in self.visible(|var| matches!(var.ty, Ty::Fn(_))) {
            let Ty::Fn(sig) = var.ty else { unreachable!("filtered") };
            if fits(sig.ret) {
                options.push(Callee::Fn(var.clone(), sig));
            }
            if let Ret::Fn(_, inner) = sig.ret
                && fits(Ret::Scalar(inner))
            {
                options.push(Callee::Made(var, sig));
            }
        }
        for (receiver, class) in self.receivers(true) {
            for method in self.methods_of(class) {
                if fits(self.methods[method].1.ret) {
                    options.push(Callee::Method(receiver.clone(), method));
                }
            }
        }
        for method in self.super_methods() {
            if fits(self.methods[method].1.ret) {
                options.push(Callee::Super(method));
            }
        }
        if options.is_empty() {
            return None;
        }
        let callee = options[self.below(options.len())].clone();
        Some(match callee {
            Callee::Fn(var, sig) => {
                self.touch(&var);
                format!("{}({})", var.name, self.args(&sig, depth))
            }
            Callee::Made(var, sig) => {
                self.touch(&var);
                let Ret::Fn(arity, ret) = sig.ret else { unreachable!("filtered") };
                let made = Sig::returned(arity, ret);
                format!("{}({})({})", var.name, self.args(&sig, depth), self.args(&made, depth))
            }
            Callee::Method(receiver, method) => {
                let sig = self.methods[method].1;
                let object = self.render(&receiver, depth);
                let name = self.methods[method].0.clone();
                format!("{object}.{name}({})", self.args(&sig, depth))
            }
            Callee::Super(method) => {
                let sig = self.methods[method].1;
                let name = self.methods[method].0.clone();
                format!("super.{name}({})", self.args(&sig, depth))
            }
        })
    }

    /// A value of this scalar type for `return` when `fuel` runs out.
    pub fn default_value(&mut self, ret: Ret) -> String {
        match ret {
            Ret::Scalar(Scalar::Num) => {
                self.count_constant();
                "0".to_string()
            }
            Ret::Scalar(Scalar::Str) => {
                self.count_constant();
                "\"\"".to_string()
            }
            Ret::Scalar(Scalar::Bool) => "false".to_string(),
            Ret::Scalar(Scalar::Any) => "nil".to_string(),
            Ret::Fn(arity, ret) => self.default_fn(arity, ret),
        }
    }
}
