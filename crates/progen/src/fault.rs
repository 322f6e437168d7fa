//! Deliberate runtime errors, one statement each, and runaway recursion.
//! Engines must agree on the message and on every line of the trace.

use crate::generator::Gen;
use crate::ty::Ty;

impl Gen<'_, '_> {
    /// A statement that raises a runtime error when it runs.
    pub fn fault(&mut self) {
        let text = match self.weighted(&[4, 3, 3, 2, 2, 2, 1, 1]) {
            1 => self.call_non_callable(),
            2 => self.wrong_arity(),
            3 => {
                let name = self.fresh("undefined");
                if self.chance(1, 2) {
                    format!("print {name};")
                } else {
                    let value = self.expr(Ty::Num, 1);
                    format!("{name} = {value};")
                }
            }
            4 => self.missing_property(),
            5 => self.not_an_instance(),
            6 => self.bad_superclass(),
            7 => {
                // Comparing strings is an error too.
                let (a, b) = (self.expr(Ty::Str, 1), self.expr(Ty::Str, 1));
                format!("print {a} < {b};")
            }
            _ => self.bad_operands(),
        };
        self.line(&text);
    }

    /// A value of a type `op` rejects, and one it may accept.
    fn bad_operands(&mut self) -> String {
        let bad = self.pick(&[Ty::Str, Ty::Bool, Ty::Any]);
        let wrong = match bad {
            Ty::Any => "nil".to_string(),
            ty => self.expr(ty, 1),
        };
        match self.below(5) {
            0 => format!("print -{wrong};"),
            1 => {
                let number = self.expr(Ty::Num, 1);
                format!("print ({number} + {wrong});")
            }
            2 => {
                let op = self.pick(&["-", "*", "/", "<", ">=", "<=", ">"]);
                let number = self.expr(Ty::Num, 1);
                format!("print ({wrong} {op} {number});")
            }
            3 => {
                let instance = self.some_value_of_kind();
                format!("print ({instance} + {wrong});")
            }
            _ => format!("print ({wrong} + {wrong});"),
        }
    }

    /// An instance, function or class if there is one, else `nil`.
    fn some_value_of_kind(&mut self) -> String {
        let vars = self.visible(|var| matches!(var.ty, Ty::Inst(_) | Ty::Fn(_) | Ty::Class(_)));
        if vars.is_empty() { "nil".to_string() } else { self.use_var(&vars).name }
    }

    fn call_non_callable(&mut self) -> String {
        let instances = self.visible(|var| matches!(var.ty, Ty::Inst(_)));
        let callee = if !instances.is_empty() && self.chance(1, 3) {
            self.use_var(&instances).name
        } else {
            let ty = self.pick(&[Ty::Num, Ty::Str, Ty::Bool]);
            format!("({})", self.expr(ty, 1))
        };
        let args = if self.chance(1, 2) { self.expr(Ty::Num, 1) } else { String::new() };
        format!("{callee}({args});")
    }

    /// A function, class or method called with one argument too many or
    /// too few.
    fn wrong_arity(&mut self) -> String {
        let fns = self.visible(|var| matches!(var.ty, Ty::Fn(_) | Ty::Class(_)));
        if fns.is_empty() {
            return self.call_non_callable();
        }
        let var = self.use_var(&fns);
        let arity = match var.ty {
            Ty::Fn(sig) => sig.arity as usize,
            Ty::Class(class) => self.init_of(class).map_or(0, |sig| sig.arity as usize),
            _ => 0,
        };
        let count = if arity > 0 && self.chance(1, 2) { arity - 1 } else { arity + 1 };
        let args: Vec<String> = (0..count).map(|_| self.expr(Ty::Num, 2)).collect();
        format!("{}({});", var.name, args.join(", "))
    }

    /// A property no instance ever gets, read, called or (for a class's
    /// methods) looked up on `super`.
    fn missing_property(&mut self) -> String {
        let receivers = self.receivers(true);
        let name = self.fresh("missing");
        if receivers.is_empty() {
            return format!("print {};", self.fresh("undefined"));
        }
        let (receiver, _) = receivers[self.below(receivers.len())].clone();
        let object = self.render(&receiver, 1);
        if self.chance(1, 2) {
            format!("print {object}.{name};")
        } else {
            format!("{object}.{name}();")
        }
    }

    /// A property get, set or method call on something that is not an
    /// instance (a class included).
    fn not_an_instance(&mut self) -> String {
        let classes = self.visible(|var| matches!(var.ty, Ty::Class(_)));
        let object = if !classes.is_empty() && self.chance(1, 3) {
            self.use_var(&classes).name
        } else {
            let ty = self.pick(&[Ty::Num, Ty::Str, Ty::Bool, Ty::Any]);
            match ty {
                Ty::Any => "nil".to_string(),
                ty => format!("({})", self.expr(ty, 1)),
            }
        };
        let name = self.fresh("x");
        match self.below(3) {
            0 => format!("print {object}.{name};"),
            1 => {
                let value = self.expr(Ty::Num, 1);
                format!("{object}.{name} = {value};")
            }
            _ => format!("{object}.{name}();"),
        }
    }

    /// `class X < notAClass {}`.
    fn bad_superclass(&mut self) -> String {
        let vars = self.visible(|var| !matches!(var.ty, Ty::Class(_)));
        if vars.is_empty() {
            return self.bad_operands();
        }
        let var = self.use_var(&vars);
        let name = self.fresh("C");
        // The class is never declared in the generator's scope: the
        // statement never completes.
        format!("class {name} < {} {{}}", var.name)
    }

    /// Runaway recursion of one of several shapes, at top level: the
    /// program ends in `Stack overflow.` with a trace of every frame.
    pub fn overflow(&mut self) {
        let a = self.fresh("so");
        let b = self.fresh("so");
        let text = match self.below(6) {
            // A big frame: locals, then temporaries pending around the call.
            5 => format!(
                "fun {a}(n) {{\n  var a = n; var b = a; var c = b; var d = c;\n  return (a + (b + (c + (d + {a}(n + 1)))));\n}}\nprint {a}(0);"
            ),
            0 => format!("fun {a}(n) {{ return {a}(n + 1); }}\nprint {a}(0);"),
            1 => format!(
                "fun {a}(n) {{\n  var x = n + 1;\n  var y = \"s\" + \"t\";\n  return {a}(x) + 1;\n}}\nprint {a}(0);"
            ),
            2 => format!("class {a} {{\n  m(n) {{ return this.m(n + 1); }}\n}}\nprint {a}().m(0);"),
            3 => format!(
                "fun {a}() {{\n  fun r(n) {{ return r(n + 1); }}\n  return r;\n}}\nprint {a}()(0);"
            ),
            _ => format!(
                "fun {a}(n) {{ return {b}(n); }}\nfun {b}(n) {{ return {a}(n + 1); }}\nprint {a}(0);"
            ),
        };
        for line in text.lines() {
            self.line(line);
        }
        // A class whose initializer recurses is one more shape, written
        // separately because its trace names `init`.
        if self.chance(1, 3) {
            let c = self.fresh("So");
            self.line(&format!("class {c} {{ init(n) {{ {c}(n + 1); }} }}"));
            self.line(&format!("{c}(0);"));
        }
    }
}
