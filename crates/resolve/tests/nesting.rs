//! The nesting bound: every kind of nesting, and every kind of chain, at
//! 257 levels and at a million, gives exactly one `Too much nesting.` (fast,
//! without a crash), and the deepest trees that compile are within
//! `MAX_NESTING` levels.

use resolve::FrontEnd;
use syntax::MAX_NESTING;
use syntax::ast::{Expr, Program, Stmt};

/// Builds a program nesting one construct `n` times.
struct Shape {
    name: &'static str,
    build: fn(usize) -> String,
}

fn repeat(text: &str, n: usize) -> String {
    text.repeat(n)
}

/// `head`, then `link` `n` times, then `tail`.
fn chain(head: &str, link: &str, tail: &str, n: usize) -> String {
    format!("{head}{}{tail}", repeat(link, n))
}

/// `open` `n` times around `inner`, then `close` `n` times.
fn wrap(open: &str, inner: &str, close: &str, n: usize) -> String {
    format!("{}{inner}{}", repeat(open, n), repeat(close, n))
}

const SHAPES: &[Shape] = &[
    Shape { name: "groupings", build: |n| format!("print {};", wrap("(", "1", ")", n)) },
    Shape { name: "negations", build: |n| format!("print {}1;", repeat("-", n)) },
    Shape { name: "nots", build: |n| format!("print {}true;", repeat("!", n)) },
    Shape { name: "additions", build: |n| chain("print 1", " + 1", ";", n) },
    Shape { name: "subtractions", build: |n| chain("print 1", "-1", ";", n) },
    Shape { name: "products", build: |n| chain("print 1", " * 1", ";", n) },
    Shape { name: "comparisons", build: |n| chain("print 1", " < 1", ";", n) },
    Shape { name: "equalities", build: |n| chain("print 1", " == 1", ";", n) },
    Shape { name: "ands", build: |n| chain("print true", " and true", ";", n) },
    Shape { name: "ors", build: |n| chain("print false", " or false", ";", n) },
    Shape { name: "calls", build: |n| chain("fun f() { return f; } print f", "()", ";", n) },
    Shape { name: "properties", build: |n| chain("var a; print a", ".b", ";", n) },
    Shape { name: "method calls", build: |n| chain("var a; print a", ".m()", ";", n) },
    Shape { name: "mixed postfix", build: |n| chain("var a; print a", ".b()(1).c", ";", n) },
    Shape {
        name: "super calls",
        build: |n| format!("class A < B {{ m() {{ return super.m{}; }} }}", repeat("()", n)),
    },
    Shape { name: "right operands", build: |n| format!("print {};", wrap("1 + (", "1", ")", n)) },
    Shape { name: "assignments", build: |n| chain("var a; ", "a = ", "1;", n) },
    Shape { name: "property sets", build: |n| chain("var a; ", "a.b = ", "1;", n) },
    Shape { name: "arguments", build: |n| format!("fun f(x) {{}} {};", wrap("f(", "1", ")", n)) },
    Shape { name: "blocks", build: |n| wrap("{", "", "}", n) },
    Shape { name: "ifs", build: |n| format!("{}print 1;", repeat("if (true) ", n)) },
    Shape { name: "else ifs", build: |n| chain("if (false) 1;", " else if (false) 1;", "", n) },
    Shape { name: "whiles", build: |n| format!("{}print 1;", repeat("while (false) ", n)) },
    Shape { name: "fors", build: |n| format!("{}print 1;", repeat("for (;false;) ", n)) },
    Shape { name: "functions", build: |n| wrap("fun f() { ", "", "}", n) },
    Shape { name: "classes", build: |n| wrap("class A { m() { ", "", "} }", n) },
];

fn diagnostics(source: &str) -> Vec<String> {
    match FrontEnd::new().compile(source) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.iter().map(|d| d.to_string()).collect(),
    }
}

fn assert_one_nesting_error(shape: &Shape, n: usize) {
    let source = (shape.build)(n);
    let start = std::time::Instant::now();
    let diagnostics = diagnostics(&source);
    let elapsed = start.elapsed();
    assert_eq!(diagnostics.len(), 1, "{} x{n}: {diagnostics:?}", shape.name);
    assert!(
        diagnostics[0].ends_with(": Too much nesting."),
        "{} x{n}: {}",
        shape.name,
        diagnostics[0]
    );
    assert!(elapsed.as_secs() < 5, "{} x{n} took {elapsed:?}", shape.name);
}

#[test]
fn nesting_257_deep_is_one_error() {
    for shape in SHAPES {
        assert_one_nesting_error(shape, 257);
    }
}

#[test]
fn nesting_a_million_deep_is_one_error() {
    for shape in SHAPES {
        assert_one_nesting_error(shape, 1_000_000);
    }
}

/// The deepest version of each shape that compiles has a tree within the
/// bound, and one more level does not compile.
#[test]
fn deepest_trees_that_compile_are_within_the_bound() {
    for shape in SHAPES {
        let deepest = (1..300).take_while(|&n| diagnostics(&(shape.build)(n)).is_empty()).last();
        let deepest = deepest.unwrap_or_else(|| panic!("{}: even one level fails", shape.name));
        assert!(deepest < 257, "{}: {deepest} levels compile", shape.name);
        let program = FrontEnd::new().compile(&(shape.build)(deepest)).expect("compiles");
        let depth = program_depth(&program);
        assert!(depth <= MAX_NESTING as usize, "{}: tree {depth} deep", shape.name);
    }
}

/// The front end's own recursion at the bound fits in a modest native stack.
#[test]
fn maximum_nesting_fits_in_a_megabyte_of_stack() {
    let thread = std::thread::Builder::new().stack_size(1024 * 1024).spawn(|| {
        for shape in SHAPES {
            for n in [250, 257] {
                diagnostics(&(shape.build)(n));
            }
        }
    });
    thread.expect("spawn").join().expect("no stack overflow");
}

/// How many levels deep the tree is: one per statement and expression node
/// (a call of a property, `a.m()`, is two), one per function body.
fn program_depth(program: &Program) -> usize {
    program.stmts.iter().map(stmt_depth).max().unwrap_or(0)
}

fn stmts_depth(stmts: &[Stmt]) -> usize {
    stmts.iter().map(stmt_depth).max().unwrap_or(0)
}

fn stmt_depth(stmt: &Stmt) -> usize {
    1 + match stmt {
        Stmt::Expr(expr) | Stmt::Print(expr) => expr_depth(expr),
        Stmt::Var { init, .. } => init.as_ref().map_or(0, expr_depth),
        Stmt::Block(block) => stmts_depth(&block.stmts),
        Stmt::If(if_stmt) => expr_depth(&if_stmt.cond)
            .max(stmt_depth(&if_stmt.then_branch))
            .max(if_stmt.else_branch.as_ref().map_or(0, stmt_depth)),
        Stmt::While(while_stmt) => expr_depth(&while_stmt.cond).max(stmt_depth(&while_stmt.body)),
        Stmt::For(for_stmt) => for_stmt
            .init
            .as_ref()
            .map_or(0, stmt_depth)
            .max(for_stmt.cond.as_ref().map_or(0, expr_depth))
            .max(for_stmt.incr.as_ref().map_or(0, expr_depth))
            .max(stmt_depth(&for_stmt.body)),
        Stmt::Fun { function, .. } => stmts_depth(&function.body),
        Stmt::Class(class) => {
            class.methods.iter().map(|m| 1 + stmts_depth(&m.body)).max().unwrap_or(0)
        }
        Stmt::Return { value, .. } => value.as_ref().map_or(0, expr_depth),
    }
}

fn expr_depth(expr: &Expr) -> usize {
    1 + match expr {
        Expr::Literal { .. } | Expr::Variable(_) | Expr::This(_) | Expr::Super(_) => 0,
        Expr::Unary { operand, .. } => expr_depth(operand),
        Expr::Binary { left, right, .. } => expr_depth(left).max(expr_depth(right)),
        Expr::Logical(logical) => expr_depth(&logical.left).max(expr_depth(&logical.right)),
        Expr::Assign { value, .. } => expr_depth(value),
        Expr::Call { callee, args, .. } => {
            args.iter().map(expr_depth).max().unwrap_or(0).max(expr_depth(callee))
        }
        Expr::Get { object, .. } => expr_depth(object),
        Expr::Set { object, value, .. } => expr_depth(object).max(expr_depth(value)),
    }
}
