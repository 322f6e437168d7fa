//! `FnInfo::stack_slots`: the front end's bound on a frame's stack depth in
//! the bytecode VM's push model, and `Function needs too many stack slots.`

use resolve::{FrontEnd, MAX_FRAME_SLOTS};
use syntax::ast::{FnInfo, Program, Stmt};

/// The stack slots of the function named `name` declared at the top level
/// (or in a top-level class), or of the script for `""`.
fn slots(source: &str, name: &str) -> u16 {
    let mut front = FrontEnd::new();
    let program = front.compile(source).unwrap_or_else(|d| panic!("{source}: {d:?}"));
    if name.is_empty() {
        return program.script.stack_slots;
    }
    find(&front, &program, name).unwrap_or_else(|| panic!("no function {name}")).stack_slots
}

fn find<'p>(front: &FrontEnd, program: &'p Program, name: &str) -> Option<&'p FnInfo> {
    program.stmts.iter().find_map(|stmt| match stmt {
        Stmt::Fun { function, .. } if front.interner.resolve(function.name.name) == name => {
            Some(&function.info)
        }
        Stmt::Class(class) => class
            .methods
            .iter()
            .find(|m| front.interner.resolve(m.name.name) == name)
            .map(|m| &m.info),
        _ => None,
    })
}

fn check(source: &str, name: &str, expected: u16) {
    assert_eq!(slots(source, name), expected, "{name} in {source}");
}

#[test]
fn slot_zero_and_the_implicit_return() {
    check("fun f() {}", "f", 2);
    check("", "", 2);
}

#[test]
fn parameters_and_locals_are_slots() {
    check("fun f(a, b) { return a + b; }", "f", 5);
    check("fun f() { var a = 1; { var b = 2; } var c = 3; }", "f", 4);
}

#[test]
fn a_binary_operator_holds_its_left_operand() {
    check("fun f() { print 1 + (2 + (3 + 4)); }", "f", 5);
    check("fun f() { print ((1 + 2) + 3) + 4; }", "f", 3);
}

#[test]
fn logical_operators_hold_the_larger_side() {
    check("fun f() { print (1 + 2) or (3 + (4 + 5)); }", "f", 4);
    check("fun f() { print (1 + (2 + 3)) and 4; }", "f", 4);
}

#[test]
fn calls_hold_the_callee_and_the_arguments_so_far() {
    check("fun f(g) { g(1, 2, 3); }", "f", 6);
    check("fun f(g) { g(1, g(2, 3)); }", "f", 7);
}

#[test]
fn method_calls_hold_the_method_and_the_receiver() {
    check("fun f(o) { o.m(1, 2); }", "f", 6);
    // A parenthesized property is read (a bound method), then called.
    check("fun f(o) { (o.m)(1, 2); }", "f", 5);
    check("fun f(o) { o.a.b; }", "f", 3);
    check("fun f(o) { o.a = 1 + 2; }", "f", 5);
}

#[test]
fn super_holds_this_and_the_superclass() {
    let classes = "class B { m(a) {} } class A < B { ";
    check(&format!("{classes} k() {{ super.m(1); }} }}"), "k", 4);
    check(&format!("{classes} k() {{ return super.m; }} }}"), "k", 3);
}

#[test]
fn class_declarations() {
    // The class, then the superclass (the hidden local `super`) and the
    // class again for `Inherit`; then the class and one closure per method.
    check("class B {} class A < B { m() {} }", "", 4);
    check("fun f() { class B {} class A < B { m() {} } }", "f", 6);
}

#[test]
fn branches_start_from_the_depth_at_their_jump() {
    check("fun f(c) { if (c) print 1; else print 2 + 3; }", "f", 4);
    check("fun f(c) { while (c) { var a = 1; print a + 2; } }", "f", 5);
    check("fun f() { for (var i = 0; i < 1; i = i + 1) print i; }", "f", 4);
}

/// `f` needs 3 + 3 * 255 + 256 slots, plus one per extra local.
fn deep_call(extra_locals: usize) -> String {
    let params: Vec<String> = (1..=255).map(|i| format!("p{i}")).collect();
    let xs = vec!["x"; 254].join(", ");
    let locals = "var z = 3; ".repeat(extra_locals);
    format!(
        "fun g({}) {{ return p1; }}\nfun f() {{ var x = 1; var y = 2; {locals}\n\
         return g({xs}, g({xs}, g({xs}, g({xs},\nx)))); }}",
        params.join(", ")
    )
}

#[test]
fn exactly_the_limit_compiles() {
    assert_eq!(MAX_FRAME_SLOTS, 1024);
    check(&deep_call(0), "f", 1024);
}

#[test]
fn one_over_the_limit_is_an_error_at_the_value_pushed() {
    let diagnostics = FrontEnd::new().compile(&deep_call(1)).expect_err("over the limit");
    let lines: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
    assert_eq!(lines, ["[line 4] Error at 'x': Function needs too many stack slots."]);
}

#[test]
fn the_limit_is_reported_once_per_function() {
    let source = deep_call(1).replace("return g(", "g(") + "\nfun h() { var y; }";
    let source = source.replace("x)))); }", "x)))); g(x, g(x, x)); return g(x, x); }");
    let diagnostics = FrontEnd::new().compile(&source).expect_err("over the limit");
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
}
