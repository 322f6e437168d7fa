//! The `strata` binary as users run it: exit codes, files, flags, the REPL.
//!
//! The language itself is tested by the conformance corpus through the
//! driver; these tests cover what only the binary does.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn strata(args: &[&str], stdin: &str) -> Output {
    let history = std::env::temp_dir().join(format!("strata-cli-history-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(args)
        .env("STRATA_HISTORY", history)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start strata");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().expect("wait for strata")
}

fn write_temp(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn runs_a_file_with_each_spelling() {
    let path = write_temp("hello.lox", b"print \"hi\";");
    let path = path.to_str().unwrap();
    for args in [vec![path], vec!["run", path], vec!["run", "--engine", "tree", path]] {
        let out = strata(&args, "");
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(text(&out.stdout), "hi\n");
        assert_eq!(text(&out.stderr), "");
    }
}

#[test]
fn exit_codes_follow_lox_md() {
    let compile = write_temp("compile.lox", b"print 1 +;");
    let runtime = write_temp("runtime.lox", b"print 1;\nprint -nil;");
    let not_utf8 = write_temp("bytes.lox", b"print \"\xff\";");

    let out = strata(&[compile.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(text(&out.stderr), "[line 1] Error at ';': Expect expression.\n");

    let out = strata(&[runtime.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(70));
    assert_eq!(text(&out.stdout), "1\n");
    assert_eq!(text(&out.stderr), "Operand must be a number.\n[line 2] in script\n");

    let out = strata(&[not_utf8.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(text(&out.stderr), "[line 1] Error: Source is not valid UTF-8.\n");

    let out = strata(&["/nonexistent/file.lox"], "");
    assert_eq!(out.status.code(), Some(74));
    assert!(text(&out.stderr).contains("/nonexistent/file.lox"), "names the file");

    for usage in [&["--no-such-flag"][..], &["run"], &["run", "--engine", "nope", "x.lox"]] {
        assert_eq!(strata(usage, "").status.code(), Some(64), "{usage:?}");
    }
}

#[test]
fn help_and_version_succeed() {
    let out = strata(&["--help"], "");
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("Usage"));
    let out = strata(&["--version"], "");
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).starts_with("strata "));
}

#[test]
fn gc_log_prints_one_line_per_collection() {
    let path = write_temp(
        "alloc.lox",
        b"var s = \"\"; for (var i = 0; i < 50; i = i + 1) { s = s + \"x\"; } print s == s;",
    );
    let out = strata(&["run", "--gc-stress", "--gc-log", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "true\n");
    let log = text(&out.stderr);
    let lines: Vec<&str> = log.lines().collect();
    // Stress mode collects at every allocation: at least one per concatenation.
    assert!(lines.len() >= 50, "{} collections", lines.len());
    for (n, line) in lines.iter().enumerate() {
        assert!(line.starts_with(&format!("[gc #{}] ", n + 1)), "{line}");
        for part in [" bytes, ", " objects freed, ", " live, pause ", " us, next at "] {
            assert!(line.contains(part), "{line} lacks {part:?}");
        }
    }
}

#[test]
fn repl_keeps_state_continues_blocks_and_survives_errors() {
    let input = "var a = 1;\nfun add(x) {\n  return x + a;\n}\nprint add(2);\nprint nope;\nprint 1 +;\nprint \"still here\";\n";
    let out = strata(&[], input);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "3\nstill here\n");
    let err = text(&out.stderr);
    assert!(err.contains("Undefined variable 'nope'.\n[line 1] in script"), "{err}");
    assert!(err.contains("[line 1] Error at ';': Expect expression."), "{err}");
}

#[test]
fn compile_then_run_bytecode_and_reject_tampering() {
    let source = write_temp(
        "prog.lox",
        b"fun twice(x) { return x * 2; }\nprint twice(21);\nprint clock() >= 0;",
    );
    let compiled = source.with_extension("loxc");
    let out = strata(&["compile", source.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = strata(&["run", compiled.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "42\ntrue\n");

    let bytes = std::fs::read(&compiled).unwrap();
    let truncated = write_temp("truncated.loxc", &bytes[..bytes.len() / 2]);
    let mut flipped = bytes.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x10;
    let flipped = write_temp("flipped.loxc", &flipped);
    for bad in [truncated, flipped] {
        let out = strata(&["run", bad.to_str().unwrap()], "");
        assert_eq!(out.status.code(), Some(65), "{}", bad.display());
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("strata: cannot run '"), "{err}");
    }

    let out = strata(&["run", "--engine", "tree", compiled.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn disasm_lists_functions_with_lines_and_constants() {
    let source = write_temp("dis.lox", b"fun f(a) {\n  return a + 1;\n}\nprint f(2);");
    let out = strata(&["disasm", source.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0));
    let listing = text(&out.stdout);
    assert!(listing.contains("== <script>"), "{listing}");
    assert!(listing.contains("== f (#0, function, arity 1"), "{listing}");
    let has_line = |words: &[&str]| {
        listing.lines().any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.windows(words.len()).any(|window| window == words)
        })
    };
    assert!(has_line(&["GetLocal", "1"]), "{listing}");
    assert!(has_line(&["AddConstant", "0", ";", "1.0"]), "{listing}");
}
