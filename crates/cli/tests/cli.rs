//! The `strata` binary as users run it: exit codes, files, flags, the REPL.
//!
//! The language itself is tested by the conformance corpus through the
//! driver; these tests cover what only the binary does.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{listing, text};

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

/// Run `program` (written to the file `name`) with `--trace-jit`: it must
/// succeed and print `stdout`. Returns its trace (what it wrote to stderr).
fn jit_trace(name: &str, program: &[u8], stdout: &str) -> String {
    let source = write_temp(name, program);
    let out = strata(&["run", "--trace-jit", source.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), stdout);
    text(&out.stderr)
}

/// The first line of `trace` that contains `what` (empty if none).
fn trace_line<'a>(trace: &'a str, what: &str) -> &'a str {
    trace.lines().find(|line| line.contains(what)).unwrap_or_default()
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
        // Stress mode makes one collection in eight major, the rest minor.
        let kind = if (n + 1) % 8 == 0 { "major" } else { "minor" };
        assert!(line.starts_with(&format!("[gc #{} {kind}] ", n + 1)), "{line}");
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

// ---------------------------------------------------------------------------
// Helpers for tests that need more than pipes: a deadline, signals, a
// terminal.

/// Long enough for a loaded two-core machine; only a hang waits this long.
const DEADLINE: Duration = Duration::from_secs(20);

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
    let history = std::env::temp_dir().join(format!("strata-cli-history-{}", std::process::id()));
    command.args(args).env("STRATA_HISTORY", history);
    command
}

/// Wait for `child` to end, killing it (and failing) past the deadline.
fn wait(child: &mut Child) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("strata did not end within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A fresh directory of this test process, for tests that look at what a
/// directory holds.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("strata-cli-{}", std::process::id())).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn full_disk() -> Stdio {
    Stdio::from(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap())
}

/// Run strata with stdout on `/dev/full`: its status and stderr.
fn to_full_disk(args: &[&str], stdin: &str) -> (Option<i32>, String) {
    let mut child = command(args)
        .stdin(Stdio::piped())
        .stdout(full_disk())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (wait(&mut child).code(), err)
}

fn signal(pid: u32, signal: i32) {
    // SAFETY: `kill` has no memory-safety preconditions; `pid` is our child's.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, signal) }, 0);
}

// ---------------------------------------------------------------------------
// Output

#[test]
fn a_closed_pipe_ends_an_endless_program_as_it_ends_clox() {
    let path = write_temp("forever.lox", b"while (true) print \"y\";");
    for engine in ["tree", "vm"] {
        let mut child = command(&["run", "--engine", engine, path.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert_eq!(first, "y\n"); // The pipe closes here, as `| head -1` closes it.
        let status = wait(&mut child);
        assert_eq!(status.signal(), Some(libc::SIGPIPE), "{engine}: {status:?}");
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert_eq!(err, "", "{engine}");
    }
}

#[test]
fn a_full_disk_is_reported_once_with_exit_code_74() {
    let forever = write_temp("full-forever.lox", b"while (true) print 1;");
    let once = write_temp("full-once.lox", b"print 1;");
    let listing = write_temp("full-disasm.lox", b"print 1;");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![forever.to_str().unwrap()], ""),
        (vec!["run", "--engine", "tree", forever.to_str().unwrap()], ""),
        (vec![once.to_str().unwrap()], ""),
        (vec!["disasm", listing.to_str().unwrap()], ""),
        (vec!["--help"], ""),
        (vec![], "print 1;\nprint 2;\n"),
    ];
    for (args, stdin) in cases {
        let (code, err) = to_full_disk(&args, stdin);
        assert_eq!(code, Some(74), "{args:?}");
        assert_eq!(err, "strata: cannot write output: No space left on device\n", "{args:?}");
    }
}

#[test]
fn a_gc_log_that_cannot_be_written_stops_the_program() {
    let path = write_temp("full-gc.lox", b"var s = \"\"; while (true) { s = s + \"x\"; }");
    let mut child = command(&["run", "--gc-stress", "--gc-log", path.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(full_disk())
        .spawn()
        .unwrap();
    assert_eq!(wait(&mut child).code(), Some(74));
}

// ---------------------------------------------------------------------------
// Input

#[test]
fn input_past_the_limit_is_refused_in_one_line() {
    let out = strata(&["/dev/zero"], "");
    assert_eq!(out.status.code(), Some(74));
    assert_eq!(
        text(&out.stderr),
        "strata: cannot read '/dev/zero': larger than the input limit of 64 MiB\n"
    );

    // A regular file is refused by its size, before it is read.
    let dir = temp_dir("large");
    let large = dir.join("large.lox");
    std::fs::File::create(&large).unwrap().set_len((64 << 20) + 1).unwrap();
    let out = strata(&[large.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(74));
    assert!(text(&out.stderr).ends_with("larger than the input limit of 64 MiB\n"));
    let exact = dir.join("exact.lox");
    std::fs::File::create(&exact).unwrap().set_len(64 << 20).unwrap();
    let out = strata(&["disasm", exact.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(65), "64 MiB of NUL bytes is read, and is not Lox");

    // The REPL reading endless input.
    let mut child = command(&[])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(wait(&mut child).code(), Some(74));
    assert_eq!(err, "strata: cannot read input: larger than the input limit of 64 MiB\n");

    let out = strata(&["/tmp"], "");
    assert_eq!(out.status.code(), Some(74));
    assert_eq!(text(&out.stderr), "strata: cannot read '/tmp': Is a directory\n");
}

// ---------------------------------------------------------------------------
// Bytecode files and `strata compile`

fn compiled(name: &str, source: &[u8]) -> Vec<u8> {
    let path = write_temp(name, source);
    let out = strata(&["compile", path.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    std::fs::read(path.with_extension("loxc")).unwrap()
}

#[test]
fn a_file_is_bytecode_by_its_magic_or_its_name() {
    let bytes = compiled("magic.lox", b"print \"from bytecode\";");

    // The magic makes any file bytecode, whatever its name.
    let renamed = write_temp("magic.bin", &bytes);
    let out = strata(&[renamed.to_str().unwrap()], "");
    assert_eq!(text(&out.stdout), "from bytecode\n");
    assert_eq!(out.status.code(), Some(0));

    // The name makes any file bytecode, which must then load.
    let empty = write_temp("empty.loxc", b"");
    let source = write_temp("source.loxc", b"print 1;");
    for path in [&empty, &source] {
        let out = strata(&[path.to_str().unwrap()], "");
        assert_eq!(out.status.code(), Some(65), "{}", path.display());
        assert_eq!(text(&out.stdout), "");
        let err = text(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(&format!("strata: cannot run '{}': ", path.display())), "{err}");
        assert!(err.ends_with("(a file whose name ends in .loxc is always read as bytecode)\n"));
    }

    // Another format version says so and asks for recompiling.
    let mut old = bytes.clone();
    old[8..10].copy_from_slice(&2u16.to_le_bytes());
    let old = write_temp("old.bin", &old);
    let out = strata(&[old.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(65));
    let err = text(&out.stderr);
    assert!(err.contains("version 2") && err.contains("recompile"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // The tree engine runs no bytecode: a usage error, before loading.
    let out = strata(&["run", "--engine", "tree", empty.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("--engine vm"));
}

#[test]
fn disasm_lists_bytecode_files() {
    let source = write_temp("listed.lox", b"fun f(a) {\n  return a + 1;\n}\nprint f(2);");
    let from_source = strata(&["disasm", source.to_str().unwrap()], "");
    let bytes = compiled("listed.lox", b"fun f(a) {\n  return a + 1;\n}\nprint f(2);");
    let loxc = write_temp("listed.loxc", &bytes);
    let out = strata(&["disasm", loxc.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), text(&from_source.stdout));

    let mut corrupt = bytes.clone();
    *corrupt.last_mut().unwrap() ^= 1;
    let corrupt = write_temp("corrupt.loxc", &corrupt);
    let out = strata(&["disasm", corrupt.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(65));
    let err = text(&out.stderr);
    assert!(err.starts_with("strata: cannot disassemble '") && err.contains("checksum"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(text(&out.stdout), "");
}

#[test]
fn disasm_jit_lists_ir_and_machine_code_marked_with_bytecode_offsets() {
    let program = b"fun f(a) {\n  return a + 1;\n}\nprint f(2);";
    let source = write_temp("jit-listed.lox", program);
    let out = strata(&["disasm", "--jit", source.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    // The script first, then `f`, each with its sizes.
    let script = listing.find("== <script> (#1: ").expect("the script's header");
    let f = listing.find("== f (#0: 8 bytes of bytecode, ").expect("f's header");
    assert!(script < f, "{listing}");
    let f_listing = &listing[f..];
    // The IR, with bytecode offsets; then the machine code, annotated with
    // the instructions it was made for, calling helpers by name (no
    // feedback says `a + 1` met anything but numbers: it is guarded, and
    // deoptimizes if the guard fails).
    assert!(f_listing.contains("function u0:"), "{f_listing}");
    assert!(f_listing.contains("@0002 "), "{f_listing}");
    assert!(f_listing.contains("; 0002 AddConstant"), "{f_listing}");
    assert!(f_listing.contains("strata_deopt"), "{f_listing}");
    assert!(!f_listing.contains("strata_add"), "{f_listing}");
    assert!(f_listing.lines().any(|line| line.trim_end().ends_with(" ret")), "{f_listing}");

    // The same program from a bytecode file lists the same, but for the
    // helpers' addresses and the objects' (the function `f`, whose closure
    // the script makes), which differ between processes.
    let loxc = write_temp("jit-listed.loxc", &compiled("jit-listed.lox", program));
    let from_file = strata(&["disasm", "--jit", loxc.to_str().unwrap()], "");
    assert_eq!(from_file.status.code(), Some(0), "{}", text(&from_file.stderr));
    let same_anywhere = |listing: &str| -> Vec<String> {
        let anywhere = |line: &&str| !line.contains("strata_") && !names_an_object(line);
        listing.lines().filter(anywhere).map(str::to_string).collect()
    };
    assert_eq!(same_anywhere(&text(&from_file.stdout)), same_anywhere(&listing));

    // A program that does not compile lists nothing.
    let broken = write_temp("jit-broken.lox", b"fun f( {");
    let out = strata(&["disasm", "--jit", broken.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(text(&out.stdout), "");
}

/// Whether a line of a JIT listing has a boxed object in it: an address
/// with the object tag, as the IR writes it (a negative decimal) or as the
/// machine code does (hex, `0FFFC...h`).
fn names_an_object(line: &str) -> bool {
    // `abi::OBJECT_TAG`: the sign bit and the quiet NaN (docs/abi.md).
    let tag = 0xfffc_0000_0000_0000_u64;
    let is_object = |bits: u64| bits & tag == tag && bits != tag;
    line.split(|c: char| !c.is_ascii_alphanumeric() && c != '-').any(|token| {
        let decimal = token.parse::<i64>().ok().map(|n| n as u64);
        let hex = token.strip_suffix('h').and_then(|hex| u64::from_str_radix(hex, 16).ok());
        decimal.or(hex).is_some_and(is_object)
    })
}

#[test]
fn perf_map_names_every_compiled_function() {
    let source = write_temp(
        "perf-mapped.lox",
        b"fun add(a, b) { return a + b; }\nvar t = 0;\nfor (var i = 0; i < 3; i = i + 1) t = add(t, i);\nprint t;",
    );
    let child = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["run", "--engine", "jit", "--jit-threshold", "0", "--perf-map"])
        .arg(&source)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start strata");
    let map_path = PathBuf::from(format!("/tmp/perf-{}.map", child.id()));
    let out = child.wait_with_output().expect("wait for strata");
    assert_eq!(text(&out.stdout), "3\n", "{}", text(&out.stderr));
    let map = std::fs::read_to_string(&map_path).expect("the perf map");
    std::fs::remove_file(&map_path).unwrap();
    // `START SIZE NAME`, in hex, one line per compiled function or loop.
    let mut names = Vec::new();
    for line in map.lines() {
        let fields: Vec<&str> = line.splitn(3, ' ').collect();
        assert_eq!(fields.len(), 3, "{map}");
        let start = u64::from_str_radix(fields[0], 16).expect("a hex address");
        let size = u64::from_str_radix(fields[1], 16).expect("a hex size");
        assert!(start != 0 && size != 0, "{map}");
        names.push(fields[2]);
    }
    // The script runs once: only its loop is compiled, on the stack.
    assert!(names.iter().any(|name| name.starts_with("lox:<script>:loop@")), "{map}");
    assert!(names.contains(&"lox:add"), "{map}");
}

#[test]
fn trace_jit_reports_speculations_deoptimizations_and_recompiles() {
    // `add` is hot on numbers, then meets strings in its compiled code.
    let source = write_temp(
        "deopt.lox",
        b"fun add(a, b) {\n  return a + b;\n}\nvar t = 0;\n\
          for (var i = 0; i < 300; i = i + 1) t = add(t, i);\nprint t;\nprint add(\"a\", \"b\");\n\
          for (var i = 0; i < 300; i = i + 1) t = add(t, 1);\nprint t;",
    );
    let source = source.to_str().unwrap();
    let out = strata(&["run", "--trace-jit", "--stats=json", source], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "44850\nab\n45150\n");
    let err = text(&out.stderr);
    let trace: Vec<&str> = err.lines().filter(|line| line.starts_with("[jit ")).collect();
    // Each line is stamped with the milliseconds since start.
    assert!(trace.iter().all(|line| line.contains(" ms] ")), "{err}");
    let compiled = trace.iter().position(|line| {
        line.contains("] compiled 'add' after 100 calls")
            && line
                .ends_with("speculating: 1 + site on numbers, 0 variables numbers through a loop")
    });
    let deopt = trace.iter().position(|line| {
        line.ends_with(
            "] deoptimized 'add' at 0004 (line 2): an operand of + was not a number; its code \
             is dropped, to be compiled again without that assumption",
        )
    });
    let recompiled = trace.iter().position(|line| {
        line.contains("] recompiled 'add' after 100 calls") && !line.contains("speculating")
    });
    assert!(compiled < deopt && deopt < recompiled, "{err}");
    assert!(compiled.is_some(), "{err}");
    let json_start = err.find('{').expect("the stats");
    let stats: serde_json::Value = serde_json::from_str(&err[json_start..]).expect("JSON");
    assert_eq!(stats["jit"]["deopts"], 1, "{stats}");

    // Deopt stress mode fails the guard once more, on purpose, and the
    // output stays the same.
    let out = strata(&["run", "--trace-jit", "--jit-stress-deopt", source], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "44850\nab\n45150\n");
    assert!(text(&out.stderr).contains(": deopt stress mode; its code is dropped"));
}

#[test]
fn equality_sites_speculate_on_numbers_only_once_they_compared_numbers() {
    // `same` compares numbers 300 times, then strings in its compiled
    // code; `text` compares only strings, so nothing is assumed there.
    let err = jit_trace(
        "equality.lox",
        b"fun same(a, b) {\n  return a == b;\n}\nfun text(a, b) {\n  return a == b;\n}\n\
          var t = 0;\nfor (var i = 0; i < 300; i = i + 1) if (same(i, i) and text(\"a\", \"b\")) t = t + 1;\n\
          for (var i = 0; i < 300; i = i + 1) if (same(i, i) and text(\"a\", \"a\")) t = t + 1;\n\
          print t;\nprint same(\"a\", \"a\");\n\
          for (var i = 0; i < 300; i = i + 1) if (same(i, i)) t = t + 1;\nprint t;",
        "300\ntrue\n600\n",
    );
    let trace: Vec<&str> = err.lines().filter(|line| line.starts_with("[jit ")).collect();
    let compiled = trace.iter().position(|line| {
        line.contains("] compiled 'same' after 100 calls")
            && line.ends_with("speculating: 1 == site on numbers")
    });
    let deopt = trace.iter().position(|line| {
        line.ends_with(
            "] deoptimized 'same' at 0004 (line 2): an operand of == or != was not a number; its \
             code is dropped, to be compiled again without that assumption",
        )
    });
    let recompiled = trace.iter().position(|line| {
        line.contains("] recompiled 'same' after 100 calls") && !line.contains("speculating")
    });
    assert!(compiled.is_some(), "{err}");
    assert!(compiled < deopt && deopt < recompiled, "{err}");
    let text_compiled = trace.iter().find(|line| line.contains("] compiled 'text' after"));
    assert!(text_compiled.is_some_and(|line| !line.contains("speculating")), "{err}");
}

#[test]
fn trace_jit_reports_known_shapes_and_callees() {
    // `run`'s loop calls the global `get`, whose one site has only seen
    // one shape: both become constants behind checks.
    let err = jit_trace(
        "known.lox",
        b"class P { init(x) { this.x = x; } }\nfun get(o) { return o.x; }\n\
          fun run(p) { var t = 0; for (var i = 0; i < 300; i = i + 1) t = t + get(p); return t; }\n\
          for (var i = 0; i < 200; i = i + 1) run(P(i));\nprint run(P(1));",
        "300\n",
    );
    let line = |name: &str| trace_line(&err, name);
    assert!(line("compiled 'get'").ends_with("1 field site of known shapes"), "{err}");
    assert!(line("compiled 'run'").contains("1 call of known functions (1 inlined)"), "{err}");
}

#[test]
fn trace_jit_reports_method_sites_of_known_shapes() {
    // `measure`'s one method site has found the methods of two classes: it
    // compares the receiver's shape with both, and calls (here inlines)
    // the method of the one it is.
    let err = jit_trace(
        "methods.lox",
        b"class S { init(s) { this.s = s; } area() { return this.s * this.s; } }\n\
          class R { init(w) { this.w = w; } area() { return this.w * 2; } }\n\
          fun measure(shape) { return shape.area(); }\nvar t = 0; var s = S(3); var r = R(4);\n\
          for (var i = 0; i < 300; i = i + 1) t = t + measure(s) + measure(r);\nprint t;",
        "5100\n",
    );
    let line = trace_line(&err, "compiled 'measure'");
    assert!(line.contains("(1 polymorphic, 2 inlined)"), "{err}");
    assert!(line.ends_with(", 1 method site of known shapes"), "{err}");
}

#[test]
fn an_unknown_shape_deoptimizes_once() {
    // `get` is compiled knowing `P`'s shape. A class made by each call of
    // `make` (a new shape every time) then reaches it: the first one
    // deoptimizes and drops the code, and `get` is compiled again with its
    // cache's ways, so no later class deoptimizes it.
    let err = jit_trace(
        "unknown_shape.lox",
        b"class P { init(x) { this.x = x; } }\nfun get(o) { return o.x; }\n\
          var p = P(1); var t = 0;\nfor (var i = 0; i < 300; i = i + 1) t = t + get(p);\n\
          fun make(n) { class Q { init() { this.y = 0; this.x = n; } } return Q(); }\n\
          for (var i = 0; i < 300; i = i + 1) t = t + get(make(i));\nprint t;",
        "45150\n",
    );
    let deopts = |name: &str| -> Vec<&str> {
        let deopt = format!("deoptimized '{name}'");
        err.lines().filter(|line| line.contains(&deopt)).collect()
    };
    assert_eq!(deopts("get").len(), 1, "{err}");
    assert!(
        deopts("get")[0].contains(
            "deoptimized 'get' at 0002 (line 2): a receiver had a shape the code did not know"
        ),
        "{err}"
    );
    let compiles = err.lines().filter(|line| line.contains("compiled 'get'")).count();
    assert_eq!(compiles, 2, "{err}");
    // `Q`'s initializer, shared by every `Q`, was compiled knowing the
    // shapes of one: each of its two sets deoptimizes once too.
    let init: Vec<&str> = deopts("init");
    assert_eq!(init.len(), 2, "{err}");
    assert!(init[0].contains("at 0007 (line 5)") && init[1].contains("at 0016 (line 5)"), "{err}");
}

#[test]
fn a_set_that_adds_a_field_without_room_deoptimizes_once() {
    // `fill`'s set has only added `b` to instances of `G` with `a`: it is
    // compiled to add it in place. `old` was made while `G`'s instances
    // had one field (after the first, made with none), so its fields have
    // no room for `b`: it deoptimizes, and `fill` is compiled again with
    // its cache's ways.
    let err = jit_trace(
        "fields_full.lox",
        b"class G { init(a) { this.a = a; } }\nfun fill(g) { g.b = 2; return g.a + g.b; }\n\
          G(0); var old = G(1); var t = 0;\nfor (var i = 0; i < 300; i = i + 1) t = t + fill(G(i));\n\
          t = t + fill(old);\nfor (var i = 0; i < 300; i = i + 1) t = t + fill(G(i));\nprint t;",
        "90903\n",
    );
    let line = |name: &str| trace_line(&err, name);
    assert!(line("compiled 'fill'").ends_with("3 field sites of known shapes"), "{err}");
    let deopts: Vec<&str> = err.lines().filter(|line| line.contains("deoptimized")).collect();
    assert_eq!(deopts.len(), 1, "{err}");
    assert!(
        deopts[0].contains(
            "deoptimized 'fill' at 0007 (line 2): an instance had no room for the field the code adds"
        ),
        "{err}"
    );
    assert!(line("recompiled 'fill'").ends_with("2 field sites of known shapes"), "{err}");
}

#[test]
fn trace_jit_reports_polymorphic_calls() {
    // `run`'s one method site found `A`'s and `B`'s `f`: it compares its
    // callee with each, and inlines both.
    let err = jit_trace(
        "polymorphic.lox",
        b"class A { f() { return 1; } }\nclass B { f() { return 2; } }\n\
          fun run(o, n) { var t = 0; for (var i = 0; i < n; i = i + 1) t = t + o.f(); return t; }\n\
          for (var i = 0; i < 200; i = i + 1) { run(A(), 2); run(B(), 2); }\n\
          print run(A(), 3) + run(B(), 3);",
        "9\n",
    );
    let line = |name: &str| trace_line(&err, name);
    let expected = "1 call of known functions (1 polymorphic, 2 inlined)";
    assert!(line("compiled 'run'").contains(expected), "{err}");
}

#[test]
fn trace_jit_ir_shows_the_code_with_inlined_callees_tagged() {
    // `twice` is inlined into `run`: its instructions carry its offsets
    // with the inlining depth above them (`@1000000` on).
    let source = write_temp(
        "inlined.lox",
        b"fun twice(x) { return x + x; }
          fun run(n) { var t = 0; for (var i = 0; i < n; i = i + 1) t = twice(t) - t + 1; return t; }
          for (var i = 0; i < 200; i = i + 1) run(3);
print run(5);",
    );
    let out = strata(&["run", "--trace-jit-ir", source.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "5\n");
    let err = text(&out.stderr);
    let ir_of_run = err.split("compiled 'run'").nth(1).expect("'run' is compiled");
    assert!(ir_of_run.contains("(1 inlined)"), "{err}");
    assert!(ir_of_run.contains("function u0:"), "{err}");
    let inlined = ir_of_run.lines().filter(|line| line.starts_with("@100000")).count();
    assert!(inlined > 0, "no instruction of the inlined callee: {err}");
}

#[test]
fn stats_report_what_each_engine_did() {
    let source = write_temp(
        "stats.lox",
        b"class P { init(x) { this.x = x; } }\nfun f(p) { return p.x; }\nvar t = 0;\n\
          for (var i = 0; i < 50; i = i + 1) t = t + f(P(i));\nprint t;",
    );
    let source = source.to_str().unwrap();
    for engine in ["tree", "vm", "jit"] {
        let out =
            strata(&["run", "--engine", engine, "--jit-threshold", "0", "--stats", source], "");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "1225\n", "{engine}: stats never go to stdout");
        let err = text(&out.stderr);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines[0], format!("strata stats (engine {engine})"), "{err}");
        assert!(lines[1].starts_with("  time     front end "), "{err}");
        assert!(lines[2].starts_with("  gc       "), "{err}");
        // Caches are the bytecode engines'; compiles are the JIT's.
        let caches = err.contains("\n  caches   2 sites: 2 monomorphic,");
        assert_eq!(caches, engine != "tree", "{err}");
        let jit = err.contains(
            "\n  jit      2 functions and 1 loop compiled, 0 kept in the VM, 1 OSR entry,",
        );
        assert_eq!(jit, engine == "jit", "{err}");
    }

    // One JSON object, with `null` for what does not apply.
    let out = strata(
        &["run", "--engine", "jit", "--jit-threshold", "0", "--gc-stress", "--stats=json", source],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stats: serde_json::Value = serde_json::from_slice(&out.stderr).expect("one JSON object");
    assert_eq!(stats["engine"], "jit");
    assert_eq!(stats["jit"]["functions"], 2, "{stats}");
    assert_eq!(stats["jit"]["loops"], 1, "{stats}");
    assert_eq!(stats["caches"]["monomorphic"], 2, "{stats}");
    assert!(stats["gc"]["collections"].as_u64().unwrap() > 50, "{stats}");
    assert!(stats["gc"]["allocated_bytes"].as_u64().unwrap() > 0, "{stats}");
    assert!(stats["time_ms"]["jit_compile"].as_f64().unwrap() > 0.0, "{stats}");
    let out = strata(&["run", "--engine", "tree", "--stats=json", source], "");
    let stats: serde_json::Value = serde_json::from_slice(&out.stderr).expect("one JSON object");
    assert!(stats["caches"].is_null() && stats["jit"].is_null(), "{stats}");
    assert!(stats["time_ms"]["jit_compile"].is_null(), "{stats}");

    // A runtime error still gets its stats, after the trace.
    let failing = write_temp("stats-fail.lox", b"print 1;\nprint -nil;");
    let out = strata(&["run", "--stats", failing.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(70));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(
            "Operand must be a number.\n[line 2] in script\nstrata stats (engine jit)\n"
        ),
        "{err}"
    );

    let out = strata(&["run", "--stats=xml", source], "");
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
}

#[test]
fn iterations_repeat_the_top_level_with_the_engine_warm() {
    let source = write_temp(
        "iterations.lox",
        b"fun f(n) { return n * 2; }\nvar t = 0;\n\
          for (var i = 0; i < 10; i = i + 1) t = t + f(i);\nprint t;",
    );
    let source = source.to_str().unwrap();
    let compiled = write_temp("iterations.loxc", b"");
    let out = strata(&["compile", source, "-o", compiled.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for engine in ["tree", "vm", "jit"] {
        for file in [source, compiled.to_str().unwrap()] {
            if engine == "tree" && file.ends_with(".loxc") {
                continue; // the tree-walker runs no bytecode (a usage error)
            }
            let out = strata(
                &[
                    "run",
                    "--engine",
                    engine,
                    "--jit-threshold",
                    "0",
                    "--iterations",
                    "4",
                    "--stats=json",
                    file,
                ],
                "",
            );
            assert_eq!(out.status.code(), Some(0), "{engine} {file}: {}", text(&out.stderr));
            assert_eq!(text(&out.stdout), "90\n90\n90\n90\n", "{engine} {file}");
            let stats: serde_json::Value =
                serde_json::from_slice(&out.stderr).expect("one JSON object");
            let times = stats["iterations_ms"].as_array().expect("iteration times");
            assert_eq!(times.len(), 4, "{stats}");
            if engine == "jit" {
                // Compiled in the first iteration. The second runs `fun f`
                // again: the loop's call of the global `f` (a closure
                // compared as a constant) meets a new closure and
                // deoptimizes, once; the loop is compiled again comparing
                // the callee's function, which every later closure of `f`
                // passes. Nothing is compiled after that.
                assert_eq!(stats["jit"]["functions"], 1, "{stats}");
                assert_eq!(stats["jit"]["loops"], 2, "{stats}");
                assert_eq!(stats["jit"]["deopts"], 1, "{stats}");
            }
        }
    }
    // Without the flag there are no iteration times; in text, one line.
    let out = strata(&["run", "--stats=json", source], "");
    let stats: serde_json::Value = serde_json::from_slice(&out.stderr).expect("one JSON object");
    assert!(stats["iterations_ms"].is_null(), "{stats}");
    let out = strata(&["run", "--iterations=2", "--stats", source], "");
    let err = text(&out.stderr);
    assert!(err.contains("\n  repeat   2 runs of the top level: first "), "{err}");
    // A run that fails stops the repetition.
    let failing = write_temp("iterations-fail.lox", b"print 1;\nprint -nil;");
    let out = strata(&["run", "--iterations", "3", failing.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(70));
    assert_eq!(text(&out.stdout), "1\n");
    for bad in ["0", "-1", "x", "1000001"] {
        let out = strata(&["run", "--iterations", bad, source], "");
        assert_eq!(out.status.code(), Some(64), "--iterations {bad}");
    }
}

#[test]
fn compile_refuses_bytecode_and_never_writes_over_its_input() {
    let dir = temp_dir("compile-input");
    let source_text = b"print 1;\n";

    // A source file named .loxc is bytecode by its name: compiling it is
    // refused, and it is left as it was (it used to be overwritten).
    let named = dir.join("prog.loxc");
    std::fs::write(&named, source_text).unwrap();
    let out = strata(&["compile", named.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("already a bytecode file (its name ends in .loxc)"));
    assert_eq!(std::fs::read(&named).unwrap(), source_text);

    let bytes = compiled("compile-again.lox", source_text);
    let magic = write_temp("compile-again.bin", &bytes);
    let out = strata(&["compile", magic.to_str().unwrap(), "-o", "/nonexistent/x"], "");
    assert_eq!(out.status.code(), Some(64));
    assert!(
        text(&out.stderr).contains("already a bytecode file (it starts with the bytecode magic)")
    );

    // `-o` naming the input, by any path.
    let input = dir.join("input.lox");
    std::fs::write(&input, source_text).unwrap();
    let hard = dir.join("hard.lox");
    std::fs::hard_link(&input, &hard).unwrap();
    let soft = dir.join("soft.lox");
    std::os::unix::fs::symlink(&input, &soft).unwrap();
    let dotted = dir.join(".").join("input.lox");
    for output in [&input, &hard, &soft, &dotted] {
        let out = strata(&["compile", input.to_str().unwrap(), "-o", output.to_str().unwrap()], "");
        assert_eq!(out.status.code(), Some(64), "{}", output.display());
        assert!(text(&out.stderr).contains("the output would overwrite it"));
        assert_eq!(std::fs::read(&input).unwrap(), source_text);
    }
}

/// The names in `dir`, sorted.
#[test]
fn compile_writes_its_output_whole_or_not_at_all() {
    let dir = temp_dir("compile-output");
    let input = dir.join("prog.lox");
    std::fs::write(&input, b"print 1;\n").unwrap();
    let input = input.to_str().unwrap();

    // Replacing an old output leaves only the new one.
    let output = dir.join("prog.loxc");
    std::fs::write(&output, b"old").unwrap();
    let out = strata(&["compile", input], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::read(&output).unwrap().starts_with(b"\x89LOXC"));
    assert_eq!(listing(&dir), ["prog.lox", "prog.loxc"]);

    // A link is followed: its target is replaced, the link stays.
    let target = dir.join("target.loxc");
    std::fs::write(&target, b"old").unwrap();
    let link = dir.join("link.loxc");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = strata(&["compile", input, "-o", link.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert!(std::fs::read(&target).unwrap().starts_with(b"\x89LOXC"));

    // Failures leave nothing behind.
    let a_dir = dir.join("a-directory");
    std::fs::create_dir(&a_dir).unwrap();
    let before = listing(&dir);
    for bad in [a_dir.clone(), dir.join("missing").join("x.loxc")] {
        let out = strata(&["compile", input, "-o", bad.to_str().unwrap()], "");
        assert_eq!(out.status.code(), Some(74), "{}", bad.display());
        let err = text(&out.stderr);
        assert!(err.starts_with(&format!("strata: cannot write '{}': ", bad.display())), "{err}");
        assert_eq!(listing(&dir), before);
    }

    // What is not a regular file is written in place, not replaced.
    let fifo = dir.join("fifo");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let out = strata(&["compile", input, "-o", fifo.to_str().unwrap()], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(reader.join().unwrap().starts_with(b"\x89LOXC"));
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
}

// ---------------------------------------------------------------------------
// The REPL with piped input

#[test]
fn repl_reports_an_unfinished_last_entry() {
    let out = strata(&[], "print 1;\n{\n  print 2;\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "1\n");
    assert_eq!(text(&out.stderr), "[line 3] Error at end: Expect '}' after block.\n");

    let out = strata(&[], "print \"open");
    assert_eq!(text(&out.stderr), "[line 1] Error: Unterminated string.\n");
}

#[test]
fn repl_reports_a_line_that_is_not_utf8_and_goes_on() {
    let mut child = command(&[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"print 1;\nprint \"\xff\";\n{\n\xfe\nprint 2;\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "1\n2\n");
    assert_eq!(
        text(&out.stderr),
        "[line 1] Error: Source is not valid UTF-8.\n[line 2] Error: Source is not valid UTF-8.\n"
    );
}

#[test]
fn repl_prints_the_value_of_a_bare_expression() {
    let out = strata(&[], "1 + 2\nvar a = \"x\";\na + a\n\"s\" + 1\nprint 4\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "3\nxx\n");
    assert_eq!(
        text(&out.stderr),
        "Operands must be two numbers or two strings.\n[line 1] in script\n\
         [line 2] Error at end: Expect ';' after value.\n"
    );
}

/// Collects what a child writes to `source` on a thread, so a test can wait
/// for some text to appear without blocking on a read.
#[derive(Clone)]
struct Collected {
    bytes: Arc<Mutex<Vec<u8>>>,
    /// Where the last awaited text ended: the next wait looks after it.
    seen: Arc<Mutex<usize>>,
}

impl Collected {
    fn start(mut source: impl Read + Send + 'static) -> Collected {
        let collected = Collected { bytes: Arc::default(), seen: Arc::default() };
        let sink = collected.bytes.clone();
        std::thread::spawn(move || {
            let mut buffer = [0; 4096];
            // A terminal's master side ends with EIO once the child is gone.
            while let Ok(n @ 1..) = source.read(&mut buffer) {
                sink.lock().unwrap().extend_from_slice(&buffer[..n]);
            }
        });
        collected
    }

    fn text(&self) -> String {
        text(&self.bytes.lock().unwrap())
    }

    /// Wait until `needle` is written after the text last waited for;
    /// between checks, call `poke` (to repeat a signal that may have come
    /// too early).
    fn wait_for(&self, needle: &str, mut poke: impl FnMut()) {
        let start = Instant::now();
        let mut seen = self.seen.lock().unwrap();
        loop {
            let text = self.text();
            if let Some(at) = text.get(*seen..).and_then(|rest| rest.find(needle)) {
                *seen += at + needle.len();
                return;
            }
            assert!(start.elapsed() < DEADLINE, "no {needle:?} in {text:?}");
            poke();
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn sigint_stops_a_running_repl_entry_and_the_session_goes_on() {
    let mut child = command(&[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let stdout = Collected::start(child.stdout.take().unwrap());
    let stderr = Collected::start(child.stderr.take().unwrap());
    // Once an entry has run, the REPL has its SIGINT handler.
    stdin.write_all(b"var n = 0;\nprint \"ready\";\n").unwrap();
    stdout.wait_for("ready\n", || {});
    stdin.write_all(b"while (true) { n = n + 1; }\n").unwrap();
    // A SIGINT that lands before the entry starts is dropped (it was not
    // meant for it), so repeat it until the entry reports it.
    let pid = child.id();
    stderr.wait_for("Interrupted.", || signal(pid, libc::SIGINT));
    stdin.write_all(b"print n >= 0;\n").unwrap();
    drop(stdin);
    assert_eq!(wait(&mut child).code(), Some(0));
    stdout.wait_for("true\n", || {});
    assert_eq!(stdout.text(), "ready\ntrue\n");
    assert_eq!(stderr.text(), "Interrupted.\n[line 1] in script\n");
}

#[test]
fn sigint_ends_a_file_run_as_it_ends_any_program() {
    // The GC log shows on stderr, unbuffered, that the program is running.
    let path = write_temp("spin.lox", b"var s = \"a\" + \"b\";\nwhile (true) {}\n");
    let mut command = command(&["run", "--gc-stress", "--gc-log", path.to_str().unwrap()]);
    // SAFETY: `signal` is async-signal-safe, as code between fork and exec
    // must be. It undoes an "ignore" this test process may have inherited
    // (from a shell's background job), so the test sees Strata's own choice.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    // Kept open to the end, so that writing the log cannot end strata.
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    log.read_line(&mut line).unwrap();
    assert!(line.starts_with("[gc #1 minor]"), "{line}");
    signal(child.id(), libc::SIGINT);
    assert_eq!(wait(&mut child).signal(), Some(libc::SIGINT));
}

// ---------------------------------------------------------------------------
// The REPL on a terminal

/// Start strata on a new pseudo-terminal, as a terminal's session leader
/// (so that Ctrl-C there is SIGINT to it): the child and the terminal's
/// master side.
fn on_terminal(args: &[&str], history: &Path) -> (Child, std::fs::File) {
    let (mut master, mut slave) = (0, 0);
    let size = libc::winsize { ws_row: 24, ws_col: 80, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: the out-pointers are valid for writes; a null name and
    // termios ask for defaults; `size` outlives the call.
    let opened = unsafe {
        libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size)
    };
    assert_eq!(opened, 0, "openpty: {}", std::io::Error::last_os_error());
    use std::os::fd::FromRawFd;
    // SAFETY: `openpty` just opened both descriptors, and each is owned
    // by exactly one `File` from here on.
    let (master, slave) =
        unsafe { (std::fs::File::from_raw_fd(master), std::fs::File::from_raw_fd(slave)) };
    let mut command = command(args);
    command
        .env("STRATA_HISTORY", history)
        .env("TERM", "xterm")
        .stdin(slave.try_clone().unwrap())
        .stdout(slave.try_clone().unwrap())
        .stderr(slave);
    // SAFETY: only async-signal-safe calls between fork and exec: a new
    // session whose controlling terminal is the pty (stdin by now), and
    // SIGINT's default action, as a shell would leave it.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            Ok(())
        });
    }
    let child = command.spawn().unwrap();
    drop(command); // Close our copies of the slave side.
    (child, master)
}

#[test]
fn repl_on_a_terminal_edits_interrupts_and_keeps_history() {
    let history = temp_dir("terminal").join("history");
    let (mut child, mut terminal) = on_terminal(&[], &history);
    let screen = Collected::start(terminal.try_clone().unwrap());
    let mut type_keys = |keys: &str| terminal.write_all(keys.as_bytes()).unwrap();

    screen.wait_for("> ", || {});
    type_keys("1 + 2\r");
    screen.wait_for("3\r\n", || {});

    // Output shows while the entry runs (line-buffered on a terminal), and
    // Ctrl-C stops it with a message and a new prompt.
    type_keys("print \"started\"; var i = 0; while (true) { i = i + 1; }\r");
    screen.wait_for("started\r\n", || {});
    type_keys("\x03");
    screen.wait_for("Interrupted.\r\n[line 1] in script\r\n", || {});
    type_keys("print i > 0;\r");
    screen.wait_for("true\r\n", || {});

    // Ctrl-C at a continuation prompt abandons the entry.
    type_keys("fun f() {\r");
    screen.wait_for("... ", || {});
    type_keys("\x03");
    screen.wait_for("> ", || {}); // Typed ahead, keys would be dropped.
    type_keys("f\r");
    screen.wait_for("Undefined variable 'f'.", || {});

    type_keys("\x04");
    assert_eq!(wait(&mut child).code(), Some(0), "{}", screen.text());
    let saved = std::fs::read_to_string(&history).unwrap();
    for entry in ["1 + 2", "print i > 0;", "f"] {
        assert!(saved.lines().any(|line| line == entry), "{entry:?} in {saved:?}");
    }
}

// ---------------------------------------------------------------------------
// The heap limit

#[test]
fn max_heap_limits_the_program_in_every_spelling() {
    let program = "class Node { init(next) { this.next = next; } }\nprint \"start\";\n\
                   fun fill() { var list = nil; while (true) { list = Node(list); } }\nfill();\n";
    let path = write_temp("heap.lox", program.as_bytes());
    let path = path.to_str().unwrap();
    for args in [
        vec!["--max-heap", "4M", path],
        vec!["run", "--max-heap", "4096k", path],
        vec!["run", "--engine", "tree", "--max-heap", "4194304", path],
    ] {
        let out = strata(&args, "");
        assert_eq!(out.status.code(), Some(70), "{args:?}");
        assert_eq!(text(&out.stdout), "start\n", "{args:?}");
        assert!(text(&out.stderr).starts_with("Out of memory.\n[line "), "{args:?}");
    }

    // Strings, concatenated in compiled code (by a leaf helper until the
    // heap is due a collection), are held to the limit too.
    let strings = "class Node { init(next, s) { this.next = next; this.s = s; } }\n\
                   fun fill() { var list = nil; var s = \"x\";\n\
                   while (true) { s = s + \"y\"; list = Node(list, s); } }\nfill();\n";
    let strings_path = write_temp("strings-heap.lox", strings.as_bytes());
    let strings_path = strings_path.to_str().unwrap();
    for engine in ["tree", "vm", "jit"] {
        let out = strata(&["run", "--engine", engine, "--max-heap", "4M", strings_path], "");
        assert_eq!(out.status.code(), Some(70), "{engine}");
        assert_eq!(text(&out.stderr), "Out of memory.\n[line 3] in fill()\n[line 4] in script\n");
    }

    // In the REPL the session survives it, and the memory comes back.
    let out = strata(&["--max-heap", "4M"], &format!("{program}print \"after\";\n"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "start\nafter\n");
    assert!(text(&out.stderr).starts_with("Out of memory.\n[line "));

    for bad in ["", "4X", "1.5G", "-1", "99999999999G"] {
        let out = strata(&["run", &format!("--max-heap={bad}"), path], "");
        assert_eq!(out.status.code(), Some(64), "{bad:?}");
        assert!(text(&out.stderr).contains("--max-heap"), "{bad:?}");
    }
    assert!(text(&strata(&["--help"], "").stdout).contains("--max-heap <SIZE>"));
}
