//! The generator's state and its plumbing: drawing choices from the input,
//! writing lines, declaring and finding variables.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use arbitrary::Unstructured;

use crate::config::Config;
use crate::scope::{CAPTURES_SOFT_LIMIT, FnCtx, FnKind, Scope, Var};
use crate::ty::{ClassId, MAX_ARITY, Ret, Scalar, Sig, Ty};

/// A class the program declares.
#[derive(Debug, Clone)]
pub(crate) struct Class {
    pub superclass: Option<ClassId>,
    /// Its own methods (indices into `Gen::methods`), `init` excluded.
    pub methods: Vec<usize>,
    /// Its own `init`'s signature, if it declares one.
    pub init: Option<Sig>,
    /// Fields every instance has once constructed (indices into
    /// `Gen::fields`), inherited ones included.
    pub fields: Vec<usize>,
}

/// The whole generator state.
pub(crate) struct Gen<'a, 'b> {
    u: &'a mut Unstructured<'b>,
    pub cfg: Config,
    out: String,
    indent: usize,
    /// Statements still to write.
    pub budget: u32,
    pub scopes: Vec<Scope>,
    pub fns: Vec<FnCtx>,
    pub classes: Vec<Class>,
    /// Program-wide field names and their types (`x0`, `x1`, ...).
    pub fields: Vec<(String, Ty)>,
    /// Program-wide method names and their signatures (`m0`, `m1`, ...).
    /// An override keeps its name's signature.
    pub methods: Vec<(String, Sig)>,
    /// Names that must not be read right now (a local being initialized).
    pub hidden: Vec<String>,
    /// The do-nothing functions `fuel` exhaustion returns, by (arity, result).
    pub defaults: BTreeSet<(u8, ScalarKey)>,
    /// Write no calls (nor constructions): set while writing what an
    /// initializer runs before its `fuel` prologue, which must not recurse.
    pub no_calls: bool,
    next_id: u32,
    next_name: u32,
}

/// `Scalar` as an ordered key (for the set of defaults).
pub(crate) type ScalarKey = u8;

pub(crate) fn scalar_key(scalar: Scalar) -> ScalarKey {
    match scalar {
        Scalar::Num => 0,
        Scalar::Str => 1,
        Scalar::Bool => 2,
        Scalar::Any => 3,
    }
}

impl<'a, 'b> Gen<'a, 'b> {
    pub fn new(u: &'a mut Unstructured<'b>, cfg: Config) -> Gen<'a, 'b> {
        let budget = cfg.max_statements;
        Gen {
            u,
            cfg,
            out: String::new(),
            indent: 0,
            budget,
            scopes: vec![Scope { vars: Vec::new(), global: true }],
            fns: vec![FnCtx::new(FnKind::Script, None)],
            classes: Vec::new(),
            fields: Vec::new(),
            methods: Vec::new(),
            hidden: Vec::new(),
            defaults: BTreeSet::new(),
            no_calls: false,
            next_id: 0,
            next_name: 0,
        }
    }

    pub fn finish(self) -> String {
        self.out
    }

    /// How much text has been written: where the next statement starts.
    pub fn written(&self) -> usize {
        self.out.len()
    }

    // ---- Choices. When the input runs out every draw gives 0, so option 0
    // of each choice is always the one that ends things soonest.

    /// A number in `0..n` (0 if `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 1 { 0 } else { self.u.int_in_range(0..=n - 1).unwrap_or(0) }
    }

    /// True `num` times in `den`; false once the input is exhausted.
    pub fn chance(&mut self, num: u32, den: u32) -> bool {
        if num == 0 || den == 0 {
            return false;
        }
        let draw: u32 = self.u.int_in_range(0..=den - 1).unwrap_or(0);
        draw >= den - num.min(den)
    }

    /// An index drawn with the given weights (zero weights never win);
    /// the first non-zero weight when the input is exhausted.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        if total == 0 {
            return 0;
        }
        let mut draw = self.u.int_in_range(0..=total - 1).unwrap_or(0);
        for (index, &weight) in weights.iter().enumerate() {
            if draw < weight {
                return index;
            }
            draw -= weight;
        }
        0
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    pub fn exhausted(&self) -> bool {
        self.u.is_empty()
    }

    /// Whether another statement may be written here.
    pub fn more(&mut self) -> bool {
        self.budget > 0 && !self.exhausted()
    }

    // ---- Output.

    pub fn line(&mut self, text: &str) {
        for _ in 0..self.indent {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    pub fn open(&mut self, text: &str) {
        self.line(text);
        self.indent += 1;
    }

    /// A line between two indented parts, like `} else {`.
    pub fn reopen(&mut self, text: &str) {
        self.indent -= 1;
        self.line(text);
        self.indent += 1;
    }

    pub fn close(&mut self, text: &str) {
        self.indent -= 1;
        self.line(text);
    }

    /// A fresh name with this prefix.
    pub fn fresh(&mut self, prefix: &str) -> String {
        self.next_name += 1;
        let mut name = String::from(prefix);
        let _ = write!(name, "{}", self.next_name);
        name
    }

    // ---- Functions and scopes.

    pub fn func(&self) -> &FnCtx {
        self.fns.last().expect("the script is always there")
    }

    pub fn func_mut(&mut self) -> &mut FnCtx {
        self.fns.last_mut().expect("the script is always there")
    }

    pub fn level(&self) -> usize {
        self.fns.len() - 1
    }

    pub fn at_top_level(&self) -> bool {
        self.scopes.len() == 1
    }

    pub fn push_scope(&mut self) {
        self.scopes.push(Scope::default());
    }

    pub fn pop_scope(&mut self) {
        let scope = self.scopes.pop().expect("a scope to pop");
        self.func_mut().locals -= scope.vars.len();
    }

    /// Declare a variable in the innermost scope (global at top level).
    pub fn declare(&mut self, name: &str, ty: Ty, frozen: bool) {
        self.next_id += 1;
        let id = self.next_id;
        let fn_level = self.level();
        let scope = self.scopes.last_mut().expect("a scope");
        let global = scope.global;
        if global {
            // Redeclaring a global replaces the old entry.
            scope.vars.retain(|var| var.name != name);
        }
        scope.vars.push(Var { id, name: name.to_string(), ty, fn_level, global, frozen });
        if !global {
            self.func_mut().locals += 1;
        }
    }

    /// Whether `name` is declared in the innermost scope.
    pub fn in_innermost_scope(&self, name: &str) -> bool {
        self.scopes.last().is_some_and(|scope| scope.vars.iter().any(|var| var.name == name))
    }

    /// The variables visible here (the innermost of each name) for which
    /// `keep` holds and that this function may capture without passing
    /// the capture limit.
    pub fn visible(&self, keep: impl Fn(&Var) -> bool) -> Vec<Var> {
        let mut seen: Vec<&str> = Vec::new();
        let mut found = Vec::new();
        for scope in self.scopes.iter().rev() {
            for var in scope.vars.iter().rev() {
                if seen.contains(&var.name.as_str()) {
                    continue;
                }
                seen.push(&var.name);
                if self.hidden.contains(&var.name) || !keep(var) || !self.capturable(var) {
                    continue;
                }
                found.push(var.clone());
            }
        }
        found
    }

    fn capturable(&self, var: &Var) -> bool {
        if var.global || var.fn_level == self.level() {
            return true;
        }
        self.fns[var.fn_level + 1..]
            .iter()
            .all(|f| f.captures.contains(&var.id) || f.captures.len() < CAPTURES_SOFT_LIMIT)
    }

    /// Note that the code being written reads or writes `var`.
    pub fn touch(&mut self, var: &Var) {
        if var.global {
            return;
        }
        for f in &mut self.fns[var.fn_level + 1..] {
            f.captures.insert(var.id);
        }
    }

    /// Pick one of `vars`, note its use, and return its name.
    pub fn use_var(&mut self, vars: &[Var]) -> Var {
        let var = vars[self.below(vars.len())].clone();
        self.touch(&var);
        var
    }

    // ---- Literals count against the function's constant limit.

    pub fn count_constant(&mut self) {
        self.func_mut().constants += 1;
    }

    /// Whether literals are still cheap in this function.
    pub fn constants_left(&self, limit: usize) -> bool {
        let f = self.func();
        f.kind == FnKind::Script || f.constants < limit
    }

    // ---- Classes.

    pub fn is_subclass(&self, mut class: ClassId, of: ClassId) -> bool {
        loop {
            if class == of {
                return true;
            }
            match self.classes[class].superclass {
                Some(parent) => class = parent,
                None => return false,
            }
        }
    }

    /// The `init` an instance of `class` runs: its own or the nearest
    /// ancestor's.
    pub fn init_of(&self, mut class: ClassId) -> Option<Sig> {
        loop {
            if let Some(sig) = self.classes[class].init {
                return Some(sig);
            }
            class = self.classes[class].superclass?;
        }
    }

    /// Every method an instance of `class` has, by index into `methods`.
    pub fn methods_of(&self, class: ClassId) -> Vec<usize> {
        let mut all: Vec<usize> = Vec::new();
        let mut at = Some(class);
        while let Some(c) = at {
            for &m in &self.classes[c].methods {
                if !all.contains(&m) {
                    all.push(m);
                }
            }
            at = self.classes[c].superclass;
        }
        all
    }

    // ---- Signatures.

    pub fn scalar(&mut self) -> Scalar {
        self.pick(&[Scalar::Num, Scalar::Any, Scalar::Str, Scalar::Bool])
    }

    pub fn ret(&mut self) -> Ret {
        if self.chance(1, 6) {
            let arity = self.below(3) as u8;
            Ret::Fn(arity, self.scalar())
        } else {
            Ret::Scalar(self.scalar())
        }
    }

    pub fn sig(&mut self) -> Sig {
        let arity = self.weighted(&[3, 4, 3, 2, 1]) as u8;
        let mut params = [Scalar::Any; MAX_ARITY];
        for param in params.iter_mut().take(arity as usize) {
            *param = self.scalar();
        }
        Sig { arity, params, ret: self.ret() }
    }

    /// The name of the do-nothing function `fuel` exhaustion returns for a
    /// function that returns functions of this shape.
    pub fn default_fn(&mut self, arity: u8, ret: Scalar) -> String {
        self.defaults.insert((arity, scalar_key(ret)));
        format!("dflt{arity}{}", ["num", "str", "bool", "any"][scalar_key(ret) as usize])
    }
}
