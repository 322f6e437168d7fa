//! Bytecode files that the compiler never writes but a hand or a fuzzer
//! can: each one passes the verifier, so it runs, and each breaks an
//! assumption the VM may not take for granted. Every one must end in a
//! clean runtime error, never a panic or a crash.

use bytecode::{Chunk, Constant, Function, FunctionKind, Module, Op};
use driver::{Engine, JitConfig, Options, Outcome, Session};

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
    let (outcome, _, err) = run_module(&module);
    (outcome, err)
}

/// Run `module` on every engine of `engines`, which must agree; returns
/// the outcome, stdout and stderr.
fn run_module(module: &Module) -> (Outcome, String, String) {
    bytecode::verify(module).expect("the crafted module verifies");
    let bytes = bytecode::write_module(module).unwrap();
    let mut runs = engines().map(|options| {
        let mut session = Session::new(options);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let outcome = session.run_bytecode(&bytes, &mut out, &mut err).expect("loads");
        (outcome, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
    });
    let first = runs.next().expect("an engine");
    for (engine, run) in runs.enumerate() {
        assert_eq!(run, first, "engine #{} disagrees with the vm", engine + 1);
    }
    first
}

/// The engines a bytecode file runs on: the VM, the JIT compiling every
/// function at its first call, and the JIT failing every guard once.
fn engines() -> impl Iterator<Item = Options> {
    let vm = Options { engine: Engine::Vm, ..Options::default() };
    let jit = |stress_deopt| Options {
        engine: Engine::Jit,
        jit: JitConfig { threshold: 0, stress_deopt, ..JitConfig::default() },
        ..Options::default()
    };
    [vm, jit(false), jit(true)].into_iter()
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
        captures: vec![bytecode::Capture { is_local: true, index: 1, by_value: false }],
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

#[test]
fn a_copy_of_a_copy_proved_a_number() {
    // f(x): slot 2 copies x, slot 3 copies slot 2, slot 4 copies slot 3.
    // `slot 4 < 0` proves slot 3 a number; then `slot 3 < 0`, with slot 3
    // known, must still prove slot 2 and x (the JIT's type plan and its
    // lowering once disagreed here, and the lowering panicked). The
    // compiler never copies a temporary; a fuzzer's file did.
    let f = Function {
        arity: 1,
        ..function(
            Some("f"),
            FunctionKind::Function,
            6,
            assemble(&[
                (Op::GetLocal, 1),
                (Op::GetLocal, 2),
                (Op::GetLocal, 3),
                (Op::Constant, 0),
                (Op::Less, 0),
                (Op::Pop, 0),
                (Op::Constant, 0),
                (Op::Less, 0),
                (Op::Pop, 0),
                (Op::GetLocal, 1),
                (Op::GetLocal, 2),
                (Op::Add, 0),
                (Op::Return, 0),
            ]),
        )
    };
    let mut chunk = f.chunk;
    chunk.add_constant(Constant::Number(0.0));
    let f = Function { chunk, ..f };
    let script = [
        (Op::Closure, 1),
        (Op::Constant, 0),
        (Op::Call, 1),
        (Op::Print, 0),
        (Op::Closure, 1),
        (Op::Constant, 1),
        (Op::Call, 1),
        (Op::Print, 0),
        (Op::Nil, 0),
        (Op::Return, 0),
    ];
    let mut chunk = assemble(&script);
    chunk.add_constant(Constant::Number(21.0));
    chunk.add_constant(name("x"));
    let module = Module {
        functions: vec![function(None, FunctionKind::Script, 3, chunk), f],
        script: 0,
        globals: Vec::new(),
    };
    let (outcome, out, err) = run_module(&module);
    assert_eq!(outcome, Outcome::RuntimeError);
    assert_eq!(out, "42\n");
    assert_eq!(err, "Operands must be numbers.\n[line 1] in f()\n[line 1] in script\n");
}
