//! REPL entries (`Session::eval_entry`): a bare expression prints its value;
//! anything else behaves exactly as `Session::eval`.

use driver::{
    DiagnosticStyle, Engine, Listing, ListingError, ListingOptions, LoadError, Options, Outcome,
    Session,
};

/// Evaluate `entries` in one session on `engine`: the outcome of each, and
/// everything written to stdout and stderr.
fn repl(engine: Engine, entries: &[&str]) -> (Vec<Outcome>, String, String) {
    let mut session = Session::new(Options { engine, ..Options::default() });
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcomes = entries
        .iter()
        .map(|entry| session.eval_entry(entry.as_bytes(), &mut out, &mut err))
        .collect();
    (outcomes, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

#[test]
fn a_bare_expression_prints_its_value() {
    for &engine in Engine::ALL {
        let (outcomes, out, err) = repl(
            engine,
            &["1 + 2\n", "var s = \"x\";\n", "s + s\n", "s = \"y\"\n", "nil\n", "2 * 3 // six\n"],
        );
        assert_eq!(outcomes, [Outcome::Success; 6], "{engine}: {err}");
        assert_eq!(out, "3\nxx\ny\nnil\n6\n", "{engine}");
    }
}

#[test]
fn a_bare_expression_keeps_its_lines_in_runtime_errors() {
    for &engine in Engine::ALL {
        let (outcomes, out, err) = repl(engine, &["\n\n-nil\n"]);
        assert_eq!(outcomes, [Outcome::RuntimeError], "{engine}");
        assert_eq!(out, "");
        assert_eq!(err, "Operand must be a number.\n[line 3] in script\n", "{engine}");
    }
}

#[test]
fn other_compile_errors_are_reported_as_they_are() {
    let cases = [
        // Not an expression statement: its own message.
        ("print 1\n", "[line 2] Error at end: Expect ';' after value.\n"),
        // The missing `;` is not the only error.
        ("1 +\n", "[line 2] Error at end: Expect expression.\n"),
        (
            "1 + ;\n2\n",
            "[line 1] Error at ';': Expect expression.\n\
             [line 3] Error at end: Expect ';' after expression.\n",
        ),
        // `print ENTRY;` does not compile either: the entry's error stands.
        ("var x = 1; x\n", "[line 2] Error at end: Expect ';' after expression.\n"),
        ("fun f() {} f()\n", "[line 2] Error at end: Expect ';' after expression.\n"),
    ];
    for &engine in Engine::ALL {
        for (entry, expected) in cases {
            let (outcomes, out, err) = repl(engine, &[entry]);
            assert_eq!(outcomes, [Outcome::CompileError], "{engine}: {entry:?}");
            assert_eq!(out, "", "{engine}: {entry:?}");
            assert_eq!(err, expected, "{engine}: {entry:?}");
        }
    }
}

#[test]
fn statements_run_as_eval_runs_them() {
    for &engine in Engine::ALL {
        let (outcomes, out, err) =
            repl(engine, &["print 1;\n", "fun f() { return 2; }\n", "f()\n"]);
        assert_eq!(outcomes, [Outcome::Success; 3], "{engine}: {err}");
        assert_eq!(out, "1\n2\n");
    }
}

#[test]
fn bytecode_lists_after_loading_and_verifying() {
    let source = b"fun f(a) { return a + 1; }\nprint f(2);\n";
    let mut err = Vec::new();
    let bytes = driver::compile_to_bytes(source, &DiagnosticStyle::Plain, &mut err).unwrap();
    let from_source =
        driver::disassemble(source, &DiagnosticStyle::Plain, &mut err, Listing::Bytecode).unwrap();
    assert_eq!(driver::disassemble_bytecode(&bytes, Listing::Bytecode).unwrap(), from_source);

    let not_loaded = |bytes: &[u8]| {
        for listing in
            [Listing::Bytecode, Listing::Jit(ListingOptions { ir: true, machine_code: true })]
        {
            let result = driver::disassemble_bytecode(bytes, listing);
            assert!(matches!(result, Err(ListingError::Load(LoadError::File(_)))), "{result:?}");
        }
    };
    not_loaded(b"");
    not_loaded(source);
    let mut corrupt = bytes.clone();
    *corrupt.last_mut().unwrap() ^= 1;
    not_loaded(&corrupt);
}

#[test]
fn the_tree_engine_refuses_bytecode_before_reading_it() {
    let mut session = Session::new(Options { engine: Engine::Tree, ..Options::default() });
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = session.run_bytecode(b"not even bytecode", &mut out, &mut err);
    assert!(matches!(result, Err(LoadError::WrongEngine(Engine::Tree))), "{result:?}");
}

#[test]
fn a_long_session_s_machine_code_is_dropped_past_its_limit_and_made_again() {
    // Any code at all is past a one-byte limit: before each entry that
    // follows one that compiled something, all code is dropped, and
    // functions defined in earlier entries are compiled again when called.
    // (A script is compiled only for its loops.)
    let jit = driver::JitConfig { threshold: 0, code_limit: 1, ..driver::JitConfig::default() };
    let mut session = Session::new(Options { engine: Engine::Jit, jit, ..Options::default() });
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let entries = [
        "fun add(a, b) { return a + b; }",
        "var t = 0; for (var i = 0; i < 100; i = i + 1) t = add(t, i); print t;",
        "fun twice(x) { return add(x, x); }",
        "print twice(21);",
        "print add(1, 2) + twice(3);",
    ];
    for entry in entries {
        let outcome = session.eval_entry(entry.as_bytes(), &mut out, &mut err);
        assert_eq!(outcome, Outcome::Success, "{entry}: {}", String::from_utf8_lossy(&err));
    }
    assert_eq!(String::from_utf8(out).unwrap(), "4950\n42\n9\n");
    let stats = session.tier_stats().expect("the jit engine has a tier");
    // Dropped before entries 3 (after `add` and the loop) and 5 (after
    // `twice` and `add` again).
    assert_eq!(stats.resets, 2, "{stats:?}");
    // `add` in entries 2 and 5 (in entry 4 it is inlined into `twice`),
    // `twice` in entries 4 and 5; one loop.
    assert_eq!((stats.functions, stats.loops), (4, 1), "{stats:?}");
    // What entry 5 compiled: a page each for `add` and `twice`.
    assert_eq!(stats.code_memory, 2 * 4096, "{stats:?}");

    // With the default limit, nothing is dropped.
    let jit = driver::JitConfig { threshold: 0, ..driver::JitConfig::default() };
    let mut session = Session::new(Options { engine: Engine::Jit, jit, ..Options::default() });
    for entry in entries {
        session.eval_entry(entry.as_bytes(), &mut Vec::new(), &mut Vec::new());
    }
    assert_eq!(session.tier_stats().unwrap().resets, 0);
}
