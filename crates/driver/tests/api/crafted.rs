//! Bytecode files that the compiler never writes but a hand or a fuzzer
//! can: each one passes the verifier, so it runs, and each breaks an
//! assumption the VM may not take for granted. Every one must end in a
//! clean runtime error, never a panic or a crash.

use bytecode::{Chunk, Constant, Function, FunctionKind, Module, Op};
use driver::{Options, Outcome, Session};

/// Assemble `code` (opcode, operand) into a chunk on line 1.
fn assemble(code: &[(Op, u32)]) -> Chunk {
    let mut chunk = Chunk::default();
    for &(op, operand) in code {
        chunk.emit_op(op, 1);
        match op.info().operands.first().map(|kind| kind.width()) {
            Some(1) => chunk.emit_u8(operand as u8),
            Some(_) => chunk.emit_u32(operand),
            None => {}
        }
    }
    chunk
}

fn function(name: Option<&str>, kind: FunctionKind, max_stack: u32, chunk: Chunk) -> Function {
    Function {
        name: name.map(str::to_string),
        kind,
        arity: 0,
        captures: Vec::new(),
        max_stack,
        chunk,
    }
}

/// Run a module of a script (#0) running `script`, with `constants` and
/// `sites` (constant indices) in its chunk, and `others`; returns the
/// outcome and stderr.
fn run_with_sites(
    script: &[(Op, u32)],
    max_stack: u32,
    constants: &[Constant],
    sites: &[u32],
    others: Vec<Function>,
) -> (Outcome, String) {
    let mut chunk = assemble(script);
    for constant in constants {
        chunk.add_constant(constant.clone());
    }
    for &site in sites {
        chunk.add_site(site);
    }
    let mut functions = vec![function(None, FunctionKind::Script, max_stack, chunk)];
    functions.extend(others);
    let module = Module { functions, script: 0, globals: Vec::new() };
    bytecode::verify(&module).expect("the crafted module verifies");
    let bytes = bytecode::write_module(&module).unwrap();
    let mut session = Session::new(Options::default());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome = session.run_bytecode(&bytes, &mut out, &mut err).expect("loads");
    (outcome, String::from_utf8(err).unwrap())
}

fn run(
    script: &[(Op, u32)],
    max_stack: u32,
    constants: &[Constant],
    others: Vec<Function>,
) -> (Outcome, String) {
    run_with_sites(script, max_stack, constants, &[], others)
}

fn name(text: &str) -> Constant {
    Constant::String(text.to_string())
}

/// A method `m` (#1) returning nil.
fn method_m() -> Function {
    function(Some("m"), FunctionKind::Method, 2, assemble(&[(Op::Nil, 0), (Op::Return, 0)]))
}

#[test]
fn inherit_into_something_that_is_not_a_class() {
    // [A, 1] Inherit: the superclass is a class, the "subclass" a number.
    let (outcome, err) = run(
        &[(Op::Class, 0), (Op::Constant, 1), (Op::Inherit, 0), (Op::Return, 0)],
        3,
        &[name("A"), Constant::Number(1.0)],
        vec![],
    );
    assert_eq!(
        (outcome, err.as_str()),
        (Outcome::RuntimeError, "Only classes have methods.\n[line 1] in script\n")
    );
}

#[test]
fn a_class_inheriting_from_itself() {
    // [A, A] Inherit would alias A's method table with itself.
    let (outcome, err) = run(
        &[(Op::Class, 0), (Op::GetLocal, 1), (Op::Inherit, 0), (Op::Return, 0)],
        3,
        &[name("A")],
        vec![],
    );
    assert_eq!(
        (outcome, err.as_str()),
        (Outcome::RuntimeError, "A class can't inherit from itself.\n[line 1] in script\n")
    );
}

#[test]
fn methods_added_to_a_class_in_use() {
    // Class A, make an instance (A is now in use), then define a method on
    // A: caches may already remember A's methods, so they must not change.
    let (outcome, err) = run(
        &[
            (Op::Class, 0),
            (Op::GetLocal, 1),
            (Op::Call, 0),
            (Op::Pop, 0),
            (Op::GetLocal, 1),
            (Op::Closure, 1),
            (Op::DefineMethod, 1),
            (Op::Return, 0),
        ],
        4,
        &[name("A"), name("m")],
        vec![method_m()],
    );
    assert_eq!(
        (outcome, err.as_str()),
        (Outcome::RuntimeError, "Methods can't be added to a class in use.\n[line 1] in script\n")
    );
}

#[test]
fn a_method_defined_on_something_that_is_not_a_class() {
    let (outcome, err) = run(
        &[(Op::Nil, 0), (Op::Closure, 1), (Op::DefineMethod, 0), (Op::Return, 0)],
        3,
        &[name("m")],
        vec![method_m()],
    );
    assert_eq!(
        (outcome, err.as_str()),
        (Outcome::RuntimeError, "Only classes have methods.\n[line 1] in script\n")
    );
}

#[test]
fn super_through_something_that_is_not_a_class() {
    // [this, 1] then GetSuper or SuperMethod: the "superclass" is a number.
    let constants = [name("m"), Constant::Number(1.0)];
    let get = [(Op::Nil, 0), (Op::Constant, 1), (Op::GetSuper, 0), (Op::Return, 0)];
    let call =
        [(Op::Nil, 0), (Op::Constant, 1), (Op::SuperMethod, 0), (Op::Pop, 0), (Op::Return, 0)];
    for code in [&get[..], &call[..]] {
        let (outcome, err) = run_with_sites(code, 3, &constants, &[0], vec![]);
        assert_eq!(
            (outcome, err.as_str()),
            (Outcome::RuntimeError, "Superclass must be a class.\n[line 1] in script\n")
        );
    }
}

#[test]
fn the_frame_slot_limit_is_the_same_everywhere() {
    // The front end, the verifier and the runtime each enforce it; the
    // runtime sizes the value stack by it.
    assert_eq!(bytecode::MAX_FRAME_SLOTS as usize, runtime::MAX_FRAME_SLOTS);
    assert_eq!(resolve::MAX_FRAME_SLOTS as usize, runtime::MAX_FRAME_SLOTS);
}

#[test]
fn a_function_returning_a_closure_over_its_own_result_slot() {
    // g: `Closure f` lands in slot 1, which f captures (a closure that
    // names itself), and `Return` returns it straight from that slot: the
    // upvalue must be closed while the slot still holds the closure. The
    // script then calls the result, which returns its own upvalue.
    let g = Function {
        ..function(
            Some("g"),
            FunctionKind::Function,
            2,
            assemble(&[(Op::Closure, 2), (Op::Return, 0)]),
        )
    };
    // #2: the closure g makes, capturing g's slot 1 (itself, once pushed).
    let own = Function {
        captures: vec![bytecode::Capture { is_local: true, index: 1 }],
        ..function(
            Some("own"),
            FunctionKind::Function,
            2,
            assemble(&[(Op::GetUpvalue, 0), (Op::Return, 0)]),
        )
    };
    let (outcome, err) = run(
        &[
            (Op::Closure, 1),
            (Op::Call, 0),
            (Op::Call, 0),
            (Op::Print, 0),
            (Op::Nil, 0),
            (Op::Return, 0),
        ],
        2,
        &[],
        vec![g, own],
    );
    assert_eq!((outcome, err.as_str()), (Outcome::Success, ""));
}
