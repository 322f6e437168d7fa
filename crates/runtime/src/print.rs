//! How values print: the exact text of LOX.md's "Printing" section.

use std::fmt;

use crate::class::{ObjBoundMethod, ObjClass, ObjInstance};
use crate::object::{ObjClosure, ObjFunction, ObjKind, ObjString};
use crate::value::Value;

/// Format a number as LOX.md says: the shortest digits that read back to the
/// same double, laid out like JavaScript's `Number.prototype.toString`,
/// except that `-0` keeps its sign and NaN and the infinities print as
/// `nan`, `inf` and `-inf`.
pub fn format_number(n: f64, out: &mut impl fmt::Write) -> fmt::Result {
    if n.is_nan() {
        out.write_str("nan")
    } else if n.is_infinite() {
        out.write_str(if n > 0.0 { "inf" } else { "-inf" })
    } else if n == 0.0 {
        out.write_str(if n.is_sign_negative() { "-0" } else { "0" })
    } else {
        out.write_str(ryu_js::Buffer::new().format_finite(n))
    }
}

/// A value as `print` writes it.
pub struct Printed(pub Value);

impl fmt::Display for Printed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0;
        if value.is_number() {
            return format_number(value.as_number(), f);
        }
        let Some(obj) = value.as_object() else {
            return f.write_str(match value {
                Value::NIL => "nil",
                Value::TRUE => "true",
                Value::FALSE => "false",
                _ => "undefined",
            });
        };
        match obj.kind() {
            ObjKind::String => f.write_str(obj.downcast::<ObjString>().unwrap().as_str()),
            ObjKind::Function => write_function(&obj.downcast::<ObjFunction>().unwrap(), f),
            ObjKind::Closure => write_function(&obj.downcast::<ObjClosure>().unwrap().function, f),
            ObjKind::BoundMethod => {
                write_function(&obj.downcast::<ObjBoundMethod>().unwrap().method.function, f)
            }
            ObjKind::Native => f.write_str("<native fn>"),
            ObjKind::Class => f.write_str(obj.downcast::<ObjClass>().unwrap().name.as_str()),
            ObjKind::Instance => {
                let instance = obj.downcast::<ObjInstance>().unwrap();
                write!(f, "{} instance", instance.class().name.as_str())
            }
            ObjKind::Upvalue => f.write_str("upvalue"),
            ObjKind::Shape => f.write_str("shape"),
        }
    }
}

fn write_function(function: &ObjFunction, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match function.name_str() {
        Some(name) => write!(f, "<fn {name}>"),
        None => f.write_str("<script>"),
    }
}

#[cfg(test)]
mod tests {
    use super::format_number;

    fn show(n: f64) -> String {
        let mut s = String::new();
        format_number(n, &mut s).unwrap();
        s
    }

    #[test]
    fn numbers_print_like_lox_md() {
        let cases: &[(f64, &str)] = &[
            (3.0, "3"),
            (-0.0, "-0"),
            (0.0, "0"),
            (123.456, "123.456"),
            (-0.001, "-0.001"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5e-7, "1.5e-7"),
            (1e-6, "0.000001"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (9227465.0, "9227465"),
        ];
        for &(n, text) in cases {
            assert_eq!(show(n), text, "formatting {n:?}");
        }
    }
}
