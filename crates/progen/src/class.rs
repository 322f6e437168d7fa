//! Class declarations: inheritance, overrides, initializers that set every
//! guaranteed field (sometimes in different orders), and methods.

use crate::generator::{Class, Gen};
use crate::scope::{FnKind, ThisMode};
use crate::ty::{ClassId, Ret, Scalar, Ty};

impl Gen<'_, '_> {
    pub fn class_decl(&mut self, depth: u32) {
        let name = self.fresh("C");
        let supers = self.visible(|var| matches!(var.ty, Ty::Class(_)));
        let superclass = if !supers.is_empty() && self.chance(1, 2) {
            let var = self.use_var(&supers);
            let Ty::Class(parent) = var.ty else { unreachable!("filtered") };
            Some((var.name, parent))
        } else {
            None
        };
        let parent = superclass.as_ref().map(|(_, id)| *id);

        // Methods: overrides of inherited ones, names used by other classes
        // (with their signatures), or new names.
        let inherited = parent.map(|p| self.methods_of(p)).unwrap_or_default();
        let mut methods: Vec<usize> = Vec::new();
        for _ in 0..self.below(4) {
            let method = if !inherited.is_empty() && self.chance(1, 2) {
                inherited[self.below(inherited.len())]
            } else if !self.methods.is_empty() && self.chance(1, 3) {
                self.below(self.methods.len())
            } else {
                let name = self.fresh("m");
                let sig = self.sig();
                self.methods.push((name, sig));
                self.methods.len() - 1
            };
            if !methods.contains(&method) {
                methods.push(method);
            }
        }

        // The initializer keeps the signature of the one it overrides, so a
        // re-run `init` through a superclass's type still has the right arity.
        let inherited_init = parent.and_then(|p| self.init_of(p));
        let init = match inherited_init {
            Some(sig) => self.chance(1, 2).then_some(sig),
            None => self.chance(2, 3).then(|| {
                let mut sig = self.sig();
                sig.ret = Ret::Scalar(Scalar::Any);
                sig
            }),
        };
        let inherited_fields = parent.map(|p| self.classes[p].fields.clone()).unwrap_or_default();
        let mut own_fields: Vec<usize> = Vec::new();
        if init.is_some() {
            for _ in 0..self.below(4) {
                let field = self.field_name();
                if !inherited_fields.contains(&field) && !own_fields.contains(&field) {
                    own_fields.push(field);
                }
            }
        }
        let mut fields = inherited_fields.clone();
        fields.extend(&own_fields);

        let id = self.classes.len();
        self.classes.push(Class { superclass: parent, methods, init, fields });
        // Declared before the body: methods may name their own class.
        self.declare(&name, Ty::Class(id), false);
        match &superclass {
            Some((parent_name, _)) => self.open(&format!("class {name} < {parent_name} {{")),
            None => self.open(&format!("class {name} {{")),
        }
        let mut order: Vec<Option<usize>> =
            self.classes[id].methods.iter().map(|&m| Some(m)).collect();
        if init.is_some() {
            order.insert(self.below(order.len() + 1), None);
        }
        for member in order {
            match member {
                None => self.initializer(id, depth, &inherited_fields, &own_fields),
                Some(method) => self.method(id, method, depth),
            }
        }
        self.close("}");
    }

    fn method(&mut self, class: ClassId, method: usize, depth: u32) {
        let (name, sig) = self.methods[method].clone();
        let params = self.param_names(sig.arity);
        self.open(&format!("{name}({}) {{", params.join(", ")));
        self.enter_function(FnKind::Method, sig, &params, Some((class, ThisMode::Full)));
        self.prologue();
        self.function_statements(sig, depth);
        self.leave_function();
        self.close("}");
    }

    /// `init`: the superclass's initializer first, then the class's own
    /// guaranteed fields, then the `fuel` prologue and anything else.
    fn initializer(
        &mut self,
        class: ClassId,
        depth: u32,
        inherited_fields: &[usize],
        own_fields: &[usize],
    ) {
        let sig = self.classes[class].init.expect("an initializer to write");
        let params = self.param_names(sig.arity);
        self.open(&format!("init({}) {{", params.join(", ")));
        self.enter_function(FnKind::Initializer, sig, &params, Some((class, ThisMode::Init)));
        // Nothing before the prologue may call: a field's value that
        // constructed this very class would recurse without spending fuel.
        self.no_calls = true;
        let parent = self.classes[class].superclass;
        if let Some(parent_init) = parent.and_then(|p| self.init_of(p)) {
            let args = self.args(&parent_init, 0);
            self.line(&format!("super.init({args});"));
        }
        self.func_mut().ready_fields = inherited_fields.to_vec();
        if own_fields.len() >= 2 && self.chance(1, 2) {
            // The same fields in two orders: instances of one class get
            // different shapes.
            let cond = self.expr(Ty::Bool, 1);
            self.open(&format!("if ({cond}) {{"));
            self.set_fields(own_fields.iter().copied());
            self.reopen("} else {");
            self.set_fields(own_fields.iter().rev().copied());
            self.close("}");
        } else {
            self.set_fields(own_fields.iter().copied());
        }
        self.func_mut().ready_fields.extend(own_fields);
        self.no_calls = false;
        self.prologue();
        self.function_statements(sig, depth);
        self.leave_function();
        self.close("}");
    }

    fn set_fields(&mut self, fields: impl Iterator<Item = usize>) {
        for field in fields {
            let (name, ty) = self.fields[field].clone();
            let value = self.expr(ty, 1);
            self.line(&format!("this.{name} = {value};"));
        }
    }
}
