//! The verifier: a valid module passes, each invariant's violation is
//! rejected with a message naming it, and no mangled code makes it panic.

use bytecode::{Capture, Chunk, Constant, Function, FunctionKind, LineRun, Module, Op, verify};

// ---------------------------------------------------------------------------
// Building modules by hand.

/// One instruction to assemble: an opcode and its operand (ignored by
/// opcodes that take none).
type Ins = (Op, u32);

fn assemble(code: &[Ins]) -> Chunk {
    let mut chunk = Chunk::default();
    for (line, &(op, operand)) in code.iter().enumerate() {
        chunk.emit_op(op, line as u32 + 1);
        match op.info().operands.first().map(|kind| kind.width()) {
            Some(1) => chunk.emit_u8(operand as u8),
            Some(_) => chunk.emit_u32(operand),
            None => {}
        }
    }
    chunk
}

fn function(name: &str, kind: FunctionKind, arity: u8, max_stack: u32, chunk: Chunk) -> Function {
    Function { name: Some(name.to_string()), kind, arity, captures: Vec::new(), max_stack, chunk }
}

fn script_function(max_stack: u32, chunk: Chunk) -> Function {
    Function {
        name: None,
        kind: FunctionKind::Script,
        arity: 0,
        captures: Vec::new(),
        max_stack,
        chunk,
    }
}

/// A module whose only function is a script running `code`.
fn script(max_stack: u32, code: &[Ins]) -> Module {
    Module {
        functions: vec![script_function(max_stack, assemble(code))],
        script: 0,
        globals: Vec::new(),
    }
}

/// A module of a script (#0, `Nil; Return`) and one function `f` (#1).
fn with_function(f: Function) -> Module {
    Module {
        functions: vec![script_function(2, assemble(&[(Op::Nil, 0), (Op::Return, 0)])), f],
        script: 0,
        globals: Vec::new(),
    }
}

/// `verify` rejects `module` with a message containing `expected`; returns
/// the message.
#[track_caller]
fn rejects(module: &Module, expected: &str) -> String {
    match verify(module) {
        Ok(()) => panic!("accepted a module that should fail with {expected:?}"),
        Err(error) => {
            let message = error.to_string();
            assert!(message.contains(expected), "expected {expected:?} in {message:?}");
            assert!(!message.contains('\n'), "not one line: {message:?}");
            message
        }
    }
}

#[track_caller]
fn accepts(module: &Module) {
    if let Err(error) = verify(module) {
        panic!("rejected a valid module: {error}");
    }
}

/// `Constant 0; Print; Nil; Return`, printing a string.
fn hello() -> Module {
    let mut module = script(2, &[(Op::Constant, 0), (Op::Print, 0), (Op::Nil, 0), (Op::Return, 0)]);
    module.functions[0].chunk.add_constant(Constant::String("hello".to_string()));
    module
}

/// A program using most of the instruction set:
///
/// ```lox
/// fun add(a, b) { return a + b; }
/// print add(1, 2);
/// fun count(n) {
///   var i = 0;
///   while (i < n) { fun show() { print i; } show(); i = i + 1; }
///   return i;
/// }
/// count(3);
/// class P { get() { return this.x; } }
/// print P().get();
/// ```
fn program() -> Module {
    // #0, the script.
    let mut script_chunk = assemble(&[
        (Op::Closure, 1),
        (Op::DefineGlobal, 0),
        (Op::GetGlobal, 0),
        (Op::Constant, 0),
        (Op::Constant, 1),
        (Op::Call, 2),
        (Op::Print, 0),
        (Op::Closure, 2),
        (Op::DefineGlobal, 1),
        (Op::GetGlobal, 1),
        (Op::Constant, 2),
        (Op::Call, 1),
        (Op::Pop, 0),
        (Op::Class, 3),
        (Op::Closure, 4),
        (Op::DefineMethod, 4),
        (Op::DefineGlobal, 2),
        (Op::GetGlobal, 2),
        (Op::Call, 0),
        (Op::Method, 0),
        (Op::CallMethod, 0),
        (Op::Print, 0),
        (Op::Nil, 0),
        (Op::Return, 0),
    ]);
    for constant in [
        Constant::Number(1.0),
        Constant::Number(2.0),
        Constant::Number(3.0),
        Constant::String("P".to_string()),
        Constant::String("get".to_string()),
    ] {
        script_chunk.add_constant(constant);
    }
    script_chunk.sites.push(4);

    // #1 add(a, b); no implicit `Nil; Return` after the explicit one, which
    // would be dead code.
    let add = function(
        "add",
        FunctionKind::Function,
        2,
        5,
        assemble(&[(Op::GetLocal, 1), (Op::GetLocal, 2), (Op::Add, 0), (Op::Return, 0)]),
    );

    // #2 count(n): slot 1 is n, slot 2 is i, slot 3 is show.
    //   0 Constant 0        depth 3
    //   5 GetLocal 2        loop start, depth 3
    //   7 GetLocal 1
    //   9 Less
    //  10 JumpIfFalse -> 48 depth 4
    //  15 Pop               3
    //  16 Closure 3         4
    //  21 GetLocal 3        5
    //  23 Call 0            5
    //  25 Pop               4
    //  26 GetLocal 2        5
    //  28 Constant 1        6
    //  33 Add               5
    //  34 SetLocal 2        5
    //  36 Pop               4
    //  37 CloseUpvalue      3
    //  38 Loop -> 5         3
    //  43 ... (exit)
    let mut count_chunk = assemble(&[
        (Op::Constant, 0),
        (Op::GetLocal, 2),
        (Op::GetLocal, 1),
        (Op::Less, 0),
        (Op::JumpIfFalse, 28),
        (Op::Pop, 0),
        (Op::Closure, 3),
        (Op::GetLocal, 3),
        (Op::Call, 0),
        (Op::Pop, 0),
        (Op::GetLocal, 2),
        (Op::Constant, 1),
        (Op::Add, 0),
        (Op::SetLocal, 2),
        (Op::Pop, 0),
        (Op::CloseUpvalue, 0),
        (Op::Loop, 38),
        (Op::Pop, 0),
        (Op::GetLocal, 2),
        (Op::Return, 0),
    ]);
    count_chunk.add_constant(Constant::Number(0.0));
    count_chunk.add_constant(Constant::Number(1.0));
    let count = function("count", FunctionKind::Function, 1, 6, count_chunk);

    // #3 show(), capturing count's i.
    let mut show = function(
        "show",
        FunctionKind::Function,
        0,
        2,
        assemble(&[(Op::GetUpvalue, 0), (Op::Print, 0), (Op::Nil, 0), (Op::Return, 0)]),
    );
    show.captures = vec![Capture { is_local: true, index: 2, by_value: false }];

    // #4 P.get().
    let mut get_chunk = assemble(&[(Op::GetLocal, 0), (Op::GetProperty, 0), (Op::Return, 0)]);
    let name = get_chunk.add_constant(Constant::String("x".into()));
    get_chunk.add_site(name);
    let get = function("get", FunctionKind::Method, 0, 2, get_chunk);

    Module {
        functions: vec![script_function(4, script_chunk), add, count, show, get],
        script: 0,
        globals: vec!["add".to_string(), "count".to_string(), "P".to_string()],
    }
}

// ---------------------------------------------------------------------------
// Valid modules.

#[test]
fn a_valid_script_passes() {
    accepts(&hello());
}

#[test]
fn a_valid_program_with_calls_loops_closures_and_classes_passes() {
    accepts(&program());
}

#[test]
fn the_script_need_not_be_the_first_function() {
    let mut module = program();
    module.functions.swap(0, 4);
    module.script = 4;
    // The script's `Closure 4` must now name the method, which sits at #0.
    let script = &mut module.functions[4].chunk;
    let closure = bytecode::instructions(&script.code)
        .map(Result::unwrap)
        .find(|i| i.op == Op::Closure && i.operand == 4)
        .unwrap();
    script.patch_u32(closure.offset + 1, 0);
    accepts(&module);
}

#[test]
fn nan_and_any_string_are_fine_constants() {
    let mut module =
        script(2, &[(Op::Constant, 0), (Op::Print, 0), (Op::Constant, 1), (Op::Return, 0)]);
    let chunk = &mut module.functions[0].chunk;
    chunk.add_constant(Constant::Number(f64::NAN));
    chunk.add_constant(Constant::String("\0\n".to_string()));
    accepts(&module);
}

#[test]
fn dead_code_is_rejected() {
    // After the `Return`, `Pop; Pop` would underflow and `Print` would fall
    // off the end; nothing can run them, but nothing may be there at all.
    rejects(
        &script(2, &[(Op::Nil, 0), (Op::Return, 0), (Op::Pop, 0), (Op::Pop, 0), (Op::Print, 0)]),
        "at 0002: no path reaches this instruction",
    );
    // Dead code would also make the deepest reachable depth a lie.
    rejects(
        &script(3, &[(Op::Nil, 0), (Op::Return, 0), (Op::Nil, 0), (Op::Nil, 0), (Op::Return, 0)]),
        "at 0002: no path reaches this instruction",
    );
}

#[test]
fn a_loop_back_edge_with_the_same_depth_passes() {
    // 0 Nil; 1 JumpIfFalse -> 12; 6 Pop; 7 Loop -> 0; 12 Return. The loop
    // brings depth 1 back to offset 0, where the frame started with 1.
    accepts(&script(
        2,
        &[(Op::Nil, 0), (Op::JumpIfFalse, 6), (Op::Pop, 0), (Op::Loop, 12), (Op::Return, 0)],
    ));
}

// ---------------------------------------------------------------------------
// Error messages.

#[test]
fn the_message_names_function_index_and_offset() {
    let mut f = function(
        "fib",
        FunctionKind::Function,
        0,
        2,
        assemble(&[(Op::Nil, 0), (Op::Pop, 0), (Op::Nil, 0), (Op::Jump, 3), (Op::Return, 0)]),
    );
    f.chunk.code.extend([Op::Constant as u8, 0, 0, 0, 0, Op::Return as u8]);
    f.chunk.add_constant(Constant::Number(1.0));
    let error = verify(&with_function(f)).unwrap_err();
    assert_eq!(
        error.to_string(),
        "function 'fib' (#1) at 0003: jump target 0011 is not an instruction boundary"
    );
    assert_eq!(error.function, Some(1));
    assert_eq!(error.offset, Some(3));
}

#[test]
fn the_script_is_named_script_and_module_errors_say_module() {
    rejects(&script(2, &[(Op::Nil, 0), (Op::Pop, 0)]), "<script> (#0) at 0001:");
    let module = Module { functions: Vec::new(), script: 0, globals: Vec::new() };
    assert_eq!(verify(&module).unwrap_err().to_string(), "module: the module has no functions");
}

#[test]
fn a_name_with_a_newline_stays_on_one_line() {
    let f = function(
        "a\nb",
        FunctionKind::Function,
        0,
        1,
        assemble(&[(Op::Pop, 0), (Op::Pop, 0), (Op::Nil, 0), (Op::Return, 0)]),
    );
    rejects(&with_function(f), "function 'a\\nb' (#1)");
}

// ---------------------------------------------------------------------------
// 1. The module.

#[test]
fn a_module_without_functions_is_rejected() {
    let module = Module { functions: Vec::new(), script: 0, globals: Vec::new() };
    rejects(&module, "no functions");
}

#[test]
fn a_script_index_out_of_range_is_rejected() {
    let mut module = hello();
    module.script = 1;
    rejects(&module, "script index 1 is out of range (1 functions)");
    module.script = u32::MAX;
    rejects(&module, "out of range");
}

#[test]
fn a_script_with_the_wrong_kind_is_rejected() {
    let mut module = hello();
    module.functions[0].kind = FunctionKind::Function;
    rejects(&module, "the script has kind Function, not Script");
}

#[test]
fn a_script_with_parameters_or_captures_is_rejected() {
    let mut module = hello();
    module.functions[0].arity = 1;
    rejects(&module, "the script takes 1 parameters");
    let mut module = hello();
    module.functions[0].captures.push(Capture { is_local: true, index: 0, by_value: false });
    rejects(&module, "the script captures 1 variables");
}

#[test]
fn a_second_script_is_rejected() {
    let f =
        function("other", FunctionKind::Script, 0, 2, assemble(&[(Op::Nil, 0), (Op::Return, 0)]));
    rejects(&with_function(f), "(#1): has kind Script, but the script is function #0");
}

// ---------------------------------------------------------------------------
// 2. Function headers.

#[test]
fn too_many_captures_are_rejected() {
    let mut f =
        function("f", FunctionKind::Function, 0, 2, assemble(&[(Op::Nil, 0), (Op::Return, 0)]));
    f.captures = vec![Capture { is_local: false, index: 0, by_value: false }; 257];
    rejects(&with_function(f), "captures 257 variables; the limit is 256");
}

#[test]
fn a_huge_max_stack_is_rejected() {
    let mut module = hello();
    module.functions[0].max_stack = 1025;
    rejects(&module, "max_stack 1025 is above the limit of 1024");
    module.functions[0].max_stack = u32::MAX;
    rejects(&module, "above the limit");
}

#[test]
fn empty_code_is_rejected() {
    rejects(&script(1, &[]), "the code is empty");
}

// ---------------------------------------------------------------------------
// 3. Decoding.

#[test]
fn an_unknown_opcode_is_rejected() {
    let mut module = hello();
    module.functions[0].chunk.code.insert(5, 0xff);
    rejects(&module, "at 0005: unknown opcode 0xff");
}

#[test]
fn a_truncated_operand_is_rejected() {
    let mut module = script(2, &[(Op::Nil, 0), (Op::Return, 0), (Op::Constant, 0)]);
    module.functions[0].chunk.code.truncate(4);
    rejects(&module, "at 0002: Constant's operand is cut off by the end of the code");
    let mut module = script(2, &[(Op::Nil, 0), (Op::Return, 0), (Op::GetLocal, 0)]);
    module.functions[0].chunk.code.pop();
    rejects(&module, "GetLocal's operand is cut off");
}

// ---------------------------------------------------------------------------
// 4. The line table.

#[test]
fn an_unsorted_line_table_is_rejected() {
    let mut module = hello();
    module.functions[0].chunk.lines = vec![
        LineRun { offset: 0, line: 1 },
        LineRun { offset: 6, line: 2 },
        LineRun { offset: 5, line: 3 },
    ];
    rejects(&module, "line run 2 starts at 0005, not after the previous run's 0006");
    module.functions[0].chunk.lines =
        vec![LineRun { offset: 0, line: 1 }, LineRun { offset: 0, line: 2 }];
    rejects(&module, "not after");
}

#[test]
fn a_line_run_past_the_end_is_rejected() {
    let mut module = hello();
    module.functions[0].chunk.lines.push(LineRun { offset: 8, line: 9 });
    rejects(&module, "line run 4 starts at 0008, past the end of the code (8 bytes)");
}

#[test]
fn a_line_table_covers_all_the_code_with_real_lines() {
    // Without a run for offset 0, an error there would be on "line 0".
    let mut module = hello();
    module.functions[0].chunk.lines.clear();
    rejects(&module, "the line table is empty");
    module.functions[0].chunk.lines = vec![LineRun { offset: 5, line: 1 }];
    rejects(&module, "the first line run starts at 0005, not at 0000");
    module.functions[0].chunk.lines = vec![LineRun { offset: 0, line: 0 }];
    rejects(&module, "line run 0 is on line 0; lines start at 1");
}

// ---------------------------------------------------------------------------
// 2. Names and constants.

#[test]
fn every_name_is_an_identifier() {
    let mut module = hello();
    module.globals = vec!["ok".to_string(), "\u{1b}[31mred".to_string()];
    rejects(&module, "module: global 1 is named '\\u{1b}[31mred', which is not an identifier");

    let mut module = hello();
    module.functions[0].name = Some("main".to_string());
    rejects(&module, "the script is named 'main'; it must have no name");

    let mut f =
        function("f", FunctionKind::Function, 0, 2, assemble(&[(Op::Nil, 0), (Op::Return, 0)]));
    f.name = None;
    rejects(&with_function(f), "(#1): has no name");
    for bad in ["", "1a", "a-b", "a\0", "é"] {
        let f =
            function(bad, FunctionKind::Function, 0, 2, assemble(&[(Op::Nil, 0), (Op::Return, 0)]));
        rejects(&with_function(f), "its name is not an identifier");
    }

    let mut module = script(2, &[(Op::Class, 0), (Op::Return, 0)]);
    module.functions[0].chunk.add_constant(Constant::String("A\0".to_string()));
    rejects(&module, "Class takes a name, but constant 0, 'A\\0', is not an identifier");

    let mut module = script(2, &[(Op::Nil, 0), (Op::GetProperty, 0), (Op::Return, 0)]);
    let name = module.functions[0].chunk.add_constant(Constant::String("x y".into()));
    module.functions[0].chunk.add_site(name);
    rejects(&module, "site 0 names constant 0, 'x y', not an identifier");
}

#[test]
fn only_the_canonical_nan_may_be_a_constant() {
    // A NaN's payload could carry the bits that tag nil, booleans or
    // object pointers in a value.
    for bits in [0x7ffc_0000_0000_0001, 0xfffc_dead_beef_0000, 0x7ff0_0000_0000_0001] {
        let mut module = script(2, &[(Op::Constant, 0), (Op::Return, 0)]);
        module.functions[0].chunk.add_constant(Constant::Number(f64::from_bits(bits)));
        rejects(&module, &format!("constant 0 is a NaN with bits {bits:#018x}"));
    }
    for bits in [0x7ff8_0000_0000_0000, 0xfff8_0000_0000_0000] {
        let mut module = script(2, &[(Op::Constant, 0), (Op::Return, 0)]);
        module.functions[0].chunk.add_constant(Constant::Number(f64::from_bits(bits)));
        accepts(&module);
    }
}

// ---------------------------------------------------------------------------
// 5. Operands.

#[test]
fn a_constant_out_of_range_is_rejected() {
    let module = script(2, &[(Op::Constant, 0), (Op::Return, 0)]);
    rejects(&module, "at 0000: Constant constant 0 is out of range (0 constants)");
    let mut module = script(2, &[(Op::Constant, u32::MAX), (Op::Return, 0)]);
    module.functions[0].chunk.add_constant(Constant::Number(1.0));
    rejects(&module, "out of range (1 constants)");
}

#[test]
fn a_name_constant_that_is_a_number_is_rejected() {
    for op in [Op::Class, Op::DefineMethod] {
        let mut module = script(3, &[(Op::Nil, 0), (op, 0), (Op::Return, 0)]);
        module.functions[0].chunk.add_constant(Constant::Number(1.0));
        rejects(&module, &format!("{} takes a name, but constant 0 is a number", op.name()));
    }
}

#[test]
fn a_site_must_name_a_string_constant() {
    let mut module = script(3, &[(Op::Nil, 0), (Op::GetProperty, 0), (Op::Return, 0)]);
    module.functions[0].chunk.add_constant(Constant::Number(1.0));
    module.functions[0].chunk.sites.push(0);
    rejects(&module, "site 0 names constant 0, a number, not a string");
    module.functions[0].chunk.sites[0] = 1;
    rejects(&module, "site 0 names constant 1, out of range (1 constants)");
}

#[test]
fn a_site_out_of_range_is_rejected() {
    for op in [Op::GetProperty, Op::Method, Op::SetProperty, Op::GetSuper, Op::SuperMethod] {
        let mut module = script(3, &[(Op::Nil, 0), (Op::Nil, 0), (op, 1), (Op::Return, 0)]);
        let name = module.functions[0].chunk.add_constant(Constant::String("x".into()));
        module.functions[0].chunk.add_site(name);
        rejects(&module, &format!("{} site 1 is out of range (1 sites)", op.name()));
    }
}

#[test]
fn two_instructions_may_not_share_a_site() {
    let mut module =
        script(3, &[(Op::Nil, 0), (Op::GetProperty, 0), (Op::GetProperty, 0), (Op::Return, 0)]);
    let name = module.functions[0].chunk.add_constant(Constant::String("x".into()));
    module.functions[0].chunk.add_site(name);
    rejects(&module, "at 0006: GetProperty uses site 0, which an earlier instruction uses");
}

#[test]
fn a_global_out_of_range_is_rejected() {
    let mut module = script(2, &[(Op::GetGlobal, 1), (Op::Return, 0)]);
    module.globals.push("a".to_string());
    rejects(&module, "at 0000: GetGlobal global 1 is out of range (1 globals)");
}

#[test]
fn a_function_out_of_range_or_the_script_is_rejected() {
    rejects(
        &script(2, &[(Op::Closure, 1), (Op::Return, 0)]),
        "Closure function 1 is out of range (1 functions)",
    );
    rejects(&script(2, &[(Op::Closure, 0), (Op::Return, 0)]), "Closure of function 0, the script");
}

#[test]
fn an_upvalue_out_of_range_is_rejected() {
    let mut f = function(
        "f",
        FunctionKind::Function,
        0,
        2,
        assemble(&[(Op::GetUpvalue, 1), (Op::Return, 0)]),
    );
    f.captures = vec![Capture { is_local: true, index: 0, by_value: false }];
    let mut module = with_function(f);
    // The script must not create it: the capture is checked against the
    // script's frame, and this test is about the operand.
    rejects(&module, "(#1) at 0000: GetUpvalue upvalue 1 is out of range (1 captured)");
    module.functions[1].chunk.code[1] = 0;
    accepts(&module);
}

#[test]
fn a_closure_capturing_beyond_the_frame_is_rejected() {
    let mut inner =
        function("inner", FunctionKind::Function, 0, 2, assemble(&[(Op::Nil, 0), (Op::Return, 0)]));
    inner.captures = vec![
        Capture { is_local: true, index: 1, by_value: false },
        Capture { is_local: true, index: 2, by_value: false },
    ];
    let mut module = with_function(inner);
    module.functions[0] = script_function(2, assemble(&[(Op::Closure, 1), (Op::Return, 0)]));
    rejects(
        &module,
        "Closure of function 1: its capture 1 takes local slot 2, not below this function's max_stack 2",
    );
}

#[test]
fn a_closure_capturing_a_slot_not_yet_pushed_is_rejected() {
    // Slot 2 is below max_stack (3) but not live when the closure is made:
    // the upvalue would point above the top of the stack.
    let mut inner =
        function("inner", FunctionKind::Function, 0, 2, assemble(&[(Op::Nil, 0), (Op::Return, 0)]));
    inner.captures = vec![Capture { is_local: true, index: 2, by_value: false }];
    let mut module = with_function(inner);
    module.functions[0] = script_function(
        3,
        assemble(&[(Op::Closure, 1), (Op::Nil, 0), (Op::Pop, 0), (Op::Return, 0)]),
    );
    rejects(&module, "its capture 0 takes local slot 2, but only 2 slots are live");
    // Capturing its own slot (a local function that calls itself) is fine.
    module.functions[1].captures[0].index = 1;
    accepts(&module);
}

#[test]
fn a_closure_capturing_a_missing_upvalue_is_rejected() {
    let mut inner =
        function("inner", FunctionKind::Function, 0, 2, assemble(&[(Op::Nil, 0), (Op::Return, 0)]));
    inner.captures = vec![Capture { is_local: false, index: 0, by_value: false }];
    let mut module = with_function(inner);
    module.functions[0] = script_function(2, assemble(&[(Op::Closure, 1), (Op::Return, 0)]));
    rejects(&module, "its capture 0 takes upvalue 0, but this function captures only 0");
}

#[test]
fn upvalue_opcodes_must_read_captures_as_the_closure_holds_them() {
    let captures = vec![
        Capture { is_local: true, index: 0, by_value: false },
        Capture { is_local: true, index: 0, by_value: true },
    ];
    let with_code = |code: &[Ins]| {
        let mut f = function("f", FunctionKind::Function, 0, 2, assemble(code));
        f.captures = captures.clone();
        with_function(f)
    };
    accepts(&with_code(&[
        (Op::GetUpvalue, 0),
        (Op::Pop, 0),
        (Op::GetCaptured, 1),
        (Op::Return, 0),
    ]));
    rejects(
        &with_code(&[(Op::GetCaptured, 0), (Op::Return, 0)]),
        "(#1) at 0000: GetCaptured upvalue 0, which the closure holds by reference",
    );
    rejects(
        &with_code(&[(Op::GetUpvalue, 1), (Op::Return, 0)]),
        "(#1) at 0000: GetUpvalue upvalue 1, which the closure holds by value",
    );
    rejects(
        &with_code(&[(Op::Nil, 0), (Op::SetUpvalue, 1), (Op::Return, 0)]),
        "SetUpvalue upvalue 1, which the closure holds by value",
    );
    rejects(
        &with_code(&[(Op::Nil, 0), (Op::StoreUpvalue, 1), (Op::Nil, 0), (Op::Return, 0)]),
        "StoreUpvalue upvalue 1, which the closure holds by value",
    );
}

#[test]
fn a_closure_must_take_an_enclosing_capture_as_it_is_held() {
    // `outer` holds its capture 0 by value; `inner` takes it from there.
    let code = assemble(&[(Op::Nil, 0), (Op::Return, 0)]);
    let mut inner = function("inner", FunctionKind::Function, 0, 2, code);
    inner.captures = vec![Capture { is_local: false, index: 0, by_value: true }];
    let code = assemble(&[(Op::Closure, 1), (Op::Return, 0)]);
    let mut outer = function("outer", FunctionKind::Function, 0, 2, code);
    outer.captures = vec![Capture { is_local: true, index: 1, by_value: true }];
    let mut module = with_function(inner);
    module.functions.push(outer);
    module.functions[0] =
        script_function(3, assemble(&[(Op::Nil, 0), (Op::Closure, 2), (Op::Return, 0)]));
    accepts(&module);
    module.functions[1].captures[0].by_value = false;
    rejects(
        &module,
        "function 'outer' (#2) at 0000: Closure of function 1: its capture 0 takes upvalue 0 by \
         reference, but this function holds it by value",
    );
    module.functions[1].captures[0].by_value = true;
    module.functions[2].captures[0].by_value = false;
    rejects(
        &module,
        "its capture 0 takes upvalue 0 by value, but this function holds it by reference",
    );
}

#[test]
fn a_closure_copies_only_live_slots() {
    // A capture by value copies its slot when the closure is made, so it
    // may not name the slot the closure is about to be pushed into.
    let code = assemble(&[(Op::Nil, 0), (Op::Return, 0)]);
    let mut inner = function("inner", FunctionKind::Function, 0, 2, code);
    inner.captures = vec![Capture { is_local: true, index: 1, by_value: true }];
    let mut module = with_function(inner);
    module.functions[0] = script_function(
        3,
        assemble(&[(Op::Closure, 1), (Op::Nil, 0), (Op::Pop, 0), (Op::Return, 0)]),
    );
    rejects(&module, "its capture 0 copies local slot 1, but only 1 slots are live");
    module.functions[1].captures[0].index = 0;
    accepts(&module);
}

#[test]
fn a_slot_captured_by_value_may_be_popped() {
    // No upvalue points at it, so `Pop` may drop it where a capture by
    // reference needs `CloseUpvalue`.
    let code = assemble(&[(Op::Nil, 0), (Op::Return, 0)]);
    let mut inner = function("inner", FunctionKind::Function, 0, 2, code);
    inner.captures = vec![Capture { is_local: true, index: 1, by_value: true }];
    let mut module = with_function(inner);
    module.functions[0] = script_function(
        3,
        assemble(&[
            (Op::Nil, 0),
            (Op::Closure, 1),
            (Op::Pop, 0),
            (Op::Pop, 0),
            (Op::Nil, 0),
            (Op::Return, 0),
        ]),
    );
    accepts(&module);
    module.functions[1].captures[0].by_value = false;
    rejects(&module, "pops slot 1, which a closure may have captured");
}

#[test]
fn a_jump_into_the_middle_of_an_instruction_is_rejected() {
    // 0 Jump -> 7; 5 Constant 0; 10 Return: 7 is inside the Constant.
    let mut module = script(2, &[(Op::Jump, 2), (Op::Constant, 0), (Op::Return, 0)]);
    module.functions[0].chunk.add_constant(Constant::Number(1.0));
    rejects(&module, "at 0000: jump target 0007 is not an instruction boundary");
}

#[test]
fn a_jump_past_the_end_is_rejected() {
    rejects(
        &script(2, &[(Op::Nil, 0), (Op::JumpIfFalse, 1), (Op::Return, 0)]),
        "at 0001: jump target 0007 is past the end of the code (7 bytes)",
    );
    rejects(
        &script(2, &[(Op::Nil, 0), (Op::Jump, u32::MAX), (Op::Return, 0)]),
        "is past the end of the code",
    );
}

#[test]
fn a_loop_before_the_start_is_rejected() {
    rejects(
        &script(2, &[(Op::Nil, 0), (Op::Loop, 7), (Op::Return, 0)]),
        "at 0001: Loop of 7 bytes lands before the start of the code",
    );
    rejects(&script(2, &[(Op::Nil, 0), (Op::Loop, u32::MAX), (Op::Return, 0)]), "before the start");
}

#[test]
fn operands_of_unreachable_code_are_checked_too() {
    rejects(
        &script(2, &[(Op::Nil, 0), (Op::Return, 0), (Op::GetGlobal, 0)]),
        "at 0002: GetGlobal global 0 is out of range",
    );
    rejects(&script(2, &[(Op::Nil, 0), (Op::Return, 0), (Op::Jump, 100)]), "at 0002: jump target");
}

// ---------------------------------------------------------------------------
// Methods, initializers and returns.

/// A script declaring `class C` with one method of `kind` named `name`:
/// `Class; Closure 1; DefineMethod; Return`.
fn class_with_method(kind: FunctionKind, name: &str, body: &[Ins], max_stack: u32) -> Module {
    let mut script_chunk =
        assemble(&[(Op::Class, 0), (Op::Closure, 1), (Op::DefineMethod, 1), (Op::Return, 0)]);
    script_chunk.add_constant(Constant::String("C".into()));
    script_chunk.add_constant(Constant::String(name.into()));
    let method = function(name, kind, 0, max_stack, assemble(body));
    Module { functions: vec![script_function(3, script_chunk), method], script: 0, globals: vec![] }
}

#[test]
fn a_class_with_a_method_and_an_initializer_passes() {
    accepts(&class_with_method(FunctionKind::Method, "m", &[(Op::Nil, 0), (Op::Return, 0)], 2));
    accepts(&class_with_method(FunctionKind::Initializer, "init", &[(Op::ReturnThis, 0)], 1));
}

#[test]
fn init_is_exactly_the_initializer() {
    // A method named `init` that returns a number would make `C()` yield
    // the number instead of the instance.
    rejects(
        &class_with_method(FunctionKind::Method, "init", &[(Op::Nil, 0), (Op::Return, 0)], 2),
        "a method is named `init` exactly when it is an initializer, but function 1 of kind Method",
    );
    rejects(
        &class_with_method(FunctionKind::Initializer, "make", &[(Op::ReturnThis, 0)], 1),
        "function 1 of kind Initializer",
    );
}

#[test]
fn an_initializer_returns_only_this() {
    rejects(
        &class_with_method(FunctionKind::Initializer, "init", &[(Op::Nil, 0), (Op::Return, 0)], 2),
        "(#1) at 0001: an initializer returns with ReturnThis, never Return",
    );
    rejects(&script(1, &[(Op::ReturnThis, 0)]), "at 0000: ReturnThis outside an initializer");
}

#[test]
fn slot_zero_is_never_assigned() {
    rejects(
        &script(2, &[(Op::Nil, 0), (Op::SetLocal, 0), (Op::Return, 0)]),
        "at 0001: SetLocal assigns slot 0",
    );
    rejects(
        &class_with_method(
            FunctionKind::Initializer,
            "init",
            &[(Op::Nil, 0), (Op::StoreLocal, 0), (Op::ReturnThis, 0)],
            2,
        ),
        "StoreLocal assigns slot 0",
    );
}

#[test]
fn a_method_closure_goes_straight_into_its_class() {
    // Called as a plain function, a method would see itself as `this`.
    let mut module =
        class_with_method(FunctionKind::Method, "m", &[(Op::Nil, 0), (Op::Return, 0)], 2);
    module.functions[0].chunk =
        assemble(&[(Op::Class, 0), (Op::Closure, 1), (Op::Return, 0), (Op::Return, 0)]);
    module.functions[0].chunk.add_constant(Constant::String("C".into()));
    module.functions[0].max_stack = 3;
    rejects(&module, "at 0005: Closure of method function 1 is not followed by DefineMethod");

    // DefineMethod with anything but a method's closure before it.
    let mut module =
        script(3, &[(Op::Class, 0), (Op::Nil, 0), (Op::DefineMethod, 0), (Op::Return, 0)]);
    module.functions[0].chunk.add_constant(Constant::String("C".into()));
    rejects(&module, "at 0006: DefineMethod does not directly follow the Closure of a method");
}

#[test]
fn no_jump_may_land_between_a_method_closure_and_its_define() {
    //  0 Class C; 5 Nil; 6 JumpIfFalse -> 17; 11 Pop; 12 Closure 1;
    // 17 DefineMethod m: the jump from 6 reaches DefineMethod without the
    // closure (and with a different depth, but this is caught first).
    let mut module =
        class_with_method(FunctionKind::Method, "m", &[(Op::Nil, 0), (Op::Return, 0)], 2);
    module.functions[0].chunk = assemble(&[
        (Op::Class, 0),
        (Op::Nil, 0),
        (Op::JumpIfFalse, 6),
        (Op::Pop, 0),
        (Op::Closure, 1),
        (Op::DefineMethod, 1),
        (Op::Return, 0),
    ]);
    for name in ["C", "m"] {
        module.functions[0].chunk.add_constant(Constant::String(name.into()));
    }
    rejects(&module, "at 0017: DefineMethod does not directly follow the Closure of a method");
}

// ---------------------------------------------------------------------------
// Captured slots.

/// A script whose slot 1 (`Nil`) is captured by the closure over `f`
/// (#1), then left by `leave`, then returns.
fn captured_then(leave: &[Ins], max_stack: u32) -> Module {
    let mut code = vec![(Op::Nil, 0), (Op::Closure, 1), (Op::Pop, 0)];
    code.extend_from_slice(leave);
    code.extend_from_slice(&[(Op::Nil, 0), (Op::Return, 0)]);
    let mut f = function(
        "f",
        FunctionKind::Function,
        0,
        2,
        assemble(&[(Op::GetUpvalue, 0), (Op::Return, 0)]),
    );
    f.captures = vec![Capture { is_local: true, index: 1, by_value: false }];
    Module {
        functions: vec![script_function(max_stack, assemble(&code)), f],
        script: 0,
        globals: Vec::new(),
    }
}

#[test]
fn a_captured_slot_leaves_the_stack_only_through_close_upvalue() {
    accepts(&captured_then(&[(Op::CloseUpvalue, 0)], 3));
    // A plain `Pop` would leave the upvalue open above the top of the
    // stack, pointing at whatever is pushed there next.
    rejects(
        &captured_then(&[(Op::Pop, 0)], 3),
        "at 0007: Pop pops slot 1, which a closure may have captured, without closing its upvalue",
    );
    // So would any instruction that consumes it.
    rejects(&captured_then(&[(Op::Print, 0)], 3), "Print pops slot 1");
    rejects(&captured_then(&[(Op::Nil, 0), (Op::Add, 0), (Op::Pop, 0)], 3), "Add pops slot 1");
    // Returning closes every upvalue of the frame.
    let mut module = captured_then(&[], 3);
    module.functions[0].chunk = assemble(&[(Op::Nil, 0), (Op::Closure, 1), (Op::Return, 0)]);
    accepts(&module);
}

#[test]
fn a_slot_captured_on_one_path_is_captured_after_the_merge() {
    //  0 Nil                 slot 1
    //  1 Nil                 the condition
    //  2 JumpIfFalse -> 13
    //  7 Closure 1           captures slot 1 on this path only
    // 12 Pop
    // 13 Pop                 the condition (both paths)
    // 14 Pop                 slot 1: captured on one path, so rejected
    let mut module = captured_then(&[], 4);
    module.functions[0].chunk = assemble(&[
        (Op::Nil, 0),
        (Op::Nil, 0),
        (Op::JumpIfFalse, 6),
        (Op::Closure, 1),
        (Op::Pop, 0),
        (Op::Pop, 0),
        (Op::Pop, 0),
        (Op::Nil, 0),
        (Op::Return, 0),
    ]);
    rejects(&module, "at 0014: Pop pops slot 1, which a closure may have captured");
}

// ---------------------------------------------------------------------------
// 6. Stack depths.

#[test]
fn a_stack_underflow_is_rejected() {
    // Only slot 0 is on the stack, and it is the frame's own: no value to pop.
    rejects(
        &script(1, &[(Op::Pop, 0), (Op::Nil, 0), (Op::Return, 0)]),
        "at 0000: stack underflow: Pop pops 1 values, but the stack holds 0 above slot 0 and \
         the parameters",
    );
}

#[test]
fn slot_zero_and_the_parameters_are_never_popped() {
    // Popping slot 0 and pushing again would replace `this` (an
    // initializer's `ReturnThis` would return the new value); popping it
    // and reading the top would read below the frame.
    rejects(
        &script(2, &[(Op::Print, 0), (Op::JumpIfFalse, 0), (Op::Nil, 0), (Op::Return, 0)]),
        "at 0000: stack underflow: Print pops 1 values, but the stack holds 0",
    );
    // The script returning slot 0 itself, while a closure captured it.
    rejects(&script(1, &[(Op::Return, 0)]), "at 0000: stack underflow: Return pops 1 values");
    let f = function(
        "f",
        FunctionKind::Function,
        2,
        3,
        assemble(&[(Op::Pop, 0), (Op::Nil, 0), (Op::Return, 0)]),
    );
    rejects(
        &with_function(f),
        "(#1) at 0000: stack underflow: Pop pops 1 values, but the stack holds 0",
    );
}

#[test]
fn jump_if_false_needs_a_value_it_does_not_pop() {
    rejects(
        &script(2, &[(Op::JumpIfFalse, 0), (Op::Nil, 0), (Op::Return, 0)]),
        "at 0000: stack underflow: JumpIfFalse pops 1 values",
    );
}

#[test]
fn a_call_counts_its_arguments_in_what_it_pops() {
    rejects(
        &script(3, &[(Op::Nil, 0), (Op::Nil, 0), (Op::Call, 3), (Op::Return, 0)]),
        "at 0002: stack underflow: Call pops 4 values, but the stack holds 2",
    );
    // Call 255 on a small stack: an underflow, whatever the count.
    rejects(
        &script(3, &[(Op::Nil, 0), (Op::Nil, 0), (Op::CallMethod, 255), (Op::Return, 0)]),
        "CallMethod pops 257 values",
    );
}

#[test]
fn return_needs_a_value() {
    rejects(
        &script(2, &[(Op::Nil, 0), (Op::Pop, 0), (Op::Return, 0)]),
        "at 0002: stack underflow: Return pops 1 values, but the stack holds 0",
    );
}

#[test]
fn inconsistent_depths_at_a_merge_are_rejected() {
    // 0 True; 1 JumpIfFalse -> 7; 6 Nil; 7 Return. The jump reaches 7 with
    // depth 2, the fall-through with depth 3.
    rejects(
        &script(3, &[(Op::True, 0), (Op::JumpIfFalse, 1), (Op::Nil, 0), (Op::Return, 0)]),
        "differs from depth",
    );
}

#[test]
fn a_loop_that_grows_the_stack_is_rejected() {
    // Each trip around pushes one more value.
    let message = rejects(
        &script(3, &[(Op::Nil, 0), (Op::Loop, 6), (Op::Return, 0)]),
        "stack depth 2 on the way to 0000 differs from depth 1 there on another path",
    );
    assert!(message.contains("at 0001"), "{message}");
}

#[test]
fn a_max_stack_too_big_is_rejected() {
    let mut module = hello();
    module.functions[0].max_stack = 3;
    rejects(&module, "<script> (#0): max_stack is 3, but the deepest the stack gets is 2");
}

#[test]
fn a_max_stack_too_small_is_rejected() {
    let mut module = hello();
    module.functions[0].max_stack = 1;
    rejects(&module, "at 0000: stack depth 2 after Constant is above max_stack 1");
    module.functions[0].max_stack = 0;
    rejects(&module, "the frame starts with 1 values");
}

#[test]
fn parameters_count_in_the_entry_depth() {
    // Slot 0 and three parameters: four values before the first instruction.
    let f = function(
        "f",
        FunctionKind::Function,
        3,
        4,
        assemble(&[(Op::GetLocal, 3), (Op::Return, 0)]),
    );
    rejects(&with_function(f), "stack depth 5 after GetLocal is above max_stack 4");
    let f = function(
        "f",
        FunctionKind::Function,
        3,
        5,
        assemble(&[(Op::GetLocal, 3), (Op::Return, 0)]),
    );
    accepts(&with_function(f));
}

#[test]
fn a_local_slot_above_the_stack_is_rejected() {
    rejects(
        &script(2, &[(Op::GetLocal, 1), (Op::Return, 0)]),
        "at 0000: GetLocal slot 1 is not below the stack depth 1",
    );
    rejects(
        &script(2, &[(Op::Nil, 0), (Op::SetLocal, 2), (Op::Return, 0)]),
        "SetLocal slot 2 is not below the stack depth 2",
    );
}

// ---------------------------------------------------------------------------
// 7. Every path ends in Return.

#[test]
fn falling_off_the_end_is_rejected() {
    rejects(
        &script(2, &[(Op::Nil, 0), (Op::Print, 0)]),
        "at 0001: Print falls off the end of the code",
    );
}

#[test]
fn one_branch_falling_off_the_end_is_rejected() {
    // 0 Nil; 1 JumpIfFalse -> 7; 6 Return; 7 Pop: the taken branch runs
    // off the end.
    rejects(
        &script(2, &[(Op::Nil, 0), (Op::JumpIfFalse, 1), (Op::Return, 0), (Op::Pop, 0)]),
        "at 0007: Pop falls off the end",
    );
}

#[test]
fn a_function_ending_in_a_loop_is_fine() {
    // `Loop` never falls through, so it may be last.
    // 0 Nil; 1 JumpIfFalse -> 7; 6 Return; 7 Loop -> 1.
    accepts(&script(2, &[(Op::Nil, 0), (Op::JumpIfFalse, 1), (Op::Return, 0), (Op::Loop, 11)]));
}

// ---------------------------------------------------------------------------
// Robustness.

/// Every function's code of `module`, with every bit of every byte flipped
/// in turn, then cut at every length: `verify` answers each without a
/// panic (a panic fails the test).
#[test]
fn mangled_code_never_panics() {
    for module in [hello(), program()] {
        accepts(&module);
        let mut rejected = 0;
        let mut total = 0;
        for function in 0..module.functions.len() {
            let len = module.functions[function].chunk.code.len();
            for at in 0..len {
                for bit in 0..8 {
                    let mut mangled = module.clone();
                    mangled.functions[function].chunk.code[at] ^= 1 << bit;
                    total += 1;
                    if verify(&mangled).is_err() {
                        rejected += 1;
                    }
                }
            }
            for cut in 0..len {
                let mut mangled = module.clone();
                mangled.functions[function].chunk.code.truncate(cut);
                assert!(verify(&mangled).is_err(), "cut at {cut} was accepted");
            }
        }
        // Most flips break something; this guards against a verifier that
        // accepts everything.
        assert!(rejected * 2 > total, "only {rejected} of {total} flips rejected");
    }
}

/// The header fields a hostile file controls, set to extremes.
#[test]
fn extreme_header_values_never_panic() {
    let base = program();
    for index in 0..base.functions.len() {
        for max_stack in [0, 1, 65535, 65536, 65537, u32::MAX] {
            for arity in [0, 1, 254, 255] {
                let mut module = base.clone();
                module.functions[index].max_stack = max_stack;
                module.functions[index].arity = arity;
                let _ = verify(&module);
            }
        }
        let mut module = base.clone();
        module.functions[index].captures =
            vec![Capture { is_local: true, index: 255, by_value: false }; 256];
        let _ = verify(&module);
        module.functions[index].chunk.lines = vec![LineRun { offset: u32::MAX, line: u32::MAX }; 2];
        let _ = verify(&module);
    }
}

// ---------------------------------------------------------------------------
// What the verifier proves, for compilers.

#[test]
fn analysis_gives_depths_loop_headers_and_captured_slots() {
    let facts = bytecode::analyze(&program()).expect("valid");
    // #2 count(n): the loop starts at 5 with n and i (and slot 0) live.
    let count = &facts.functions[2];
    assert_eq!(count.loop_headers, vec![5]);
    assert_eq!(count.depth_at(0), Some(2));
    assert_eq!(count.depth_at(5), Some(3));
    assert_eq!(count.depth_at(6), None, "an operand byte");
    assert_eq!(count.depth_at(9999), None);
    // The closure made at 16 captures i (slot 2), which stays captured until
    // the function returns: the back edge brings the capture to the loop
    // header, so from the header on, a call may change i.
    assert!(!count.may_be_captured(0, 2));
    assert!(count.may_be_captured(5, 2), "the back edge brings the capture");
    assert!(count.may_be_captured(21, 2));
    assert!(!count.may_be_captured(21, 1), "n is never captured");
    // The script has no loop.
    assert!(facts.functions[0].loop_headers.is_empty());
}
