//! `strata build` as users run it: the executables it writes behave as
//! `strata run` does, it refuses what it cannot build with one clear line
//! and writes nothing, and the same program always gives the same bytes.
//!
//! That every corpus file and benchmark runs the same as an executable is
//! the conformance suite's job (`crates/driver/tests/conformance.rs`).

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{listing, scratch, text, write};

/// `strata ARGS`, run in `dir` (where a build writes by default).
fn strata(dir: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_strata"));
    command.args(args).current_dir(dir).output().expect("start strata")
}

fn run(executable: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(executable);
    command.env_remove("STRATA_GC").env_remove("STRATA_ITERATIONS");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run the executable")
}

const PROGRAM: &str = "\
fun fib(n) { if (n < 2) return n; return fib(n - 1) + fib(n - 2); }
class Point { init(x) { this.x = x; } twice() { return this.x * 2; } }
print fib(15);
print Point(21).twice();
print \"str\" + \"ing\";
";
const PROGRAM_OUTPUT: &str = "610\n42\nstring\n";

#[test]
fn an_executable_prints_what_strata_run_prints() {
    let dir = scratch();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    let source = write(dir.path(), "src/program.lox", PROGRAM);
    // By default, named after the file in the working directory.
    let executable = dir.path().join("program");
    let out = strata(dir.path(), &["build", source.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!dir.path().join("src/program").exists(), "not beside the source");
    assert_eq!(text(&out.stdout), "");
    assert_eq!(text(&out.stderr), "", "a build says nothing unless asked");
    let built = run(&executable, &[]);
    let interpreted = strata(dir.path(), &["run", "--engine", "vm", source.to_str().unwrap()]);
    assert_eq!(text(&built.stdout), PROGRAM_OUTPUT);
    assert_eq!(built.stdout, interpreted.stdout);
    assert_eq!(built.stderr, interpreted.stderr);
    assert_eq!(built.status.code(), Some(0));
}

#[test]
fn a_runtime_error_in_an_executable_is_traced_as_in_strata_run() {
    let dir = scratch();
    let source = write(
        dir.path(),
        "fails.lox",
        "fun inner(n) {\n  if (n == 0) return -\"x\";\n  return inner(n - 1);\n}\nprint 1;\ninner(2);\n",
    );
    let executable = dir.path().join("fails");
    let out = strata(
        dir.path(),
        &["build", source.to_str().unwrap(), "-o", executable.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let built = run(&executable, &[]);
    assert_eq!(built.status.code(), Some(70));
    assert_eq!(text(&built.stdout), "1\n");
    assert_eq!(
        text(&built.stderr),
        "Operand must be a number.\n[line 2] in inner()\n[line 3] in inner()\n\
         [line 3] in inner()\n[line 6] in script\n"
    );
    let interpreted = strata(dir.path(), &["run", "--engine", "vm", source.to_str().unwrap()]);
    assert_eq!(built.stderr, interpreted.stderr);
}

#[test]
fn a_program_with_compile_errors_gets_its_diagnostics_and_no_executable() {
    let dir = scratch();
    let source = write(dir.path(), "broken.lox", "print 1 +;\n");
    let out = strata(dir.path(), &["build", source.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65));
    assert_eq!(text(&out.stderr), "[line 1] Error at ';': Expect expression.\n");
    assert_eq!(listing(dir.path()), ["broken.lox"], "nothing is written");
}

#[test]
fn the_same_program_builds_to_the_same_bytes() {
    let dir = scratch();
    let source = write(dir.path(), "program.lox", PROGRAM);
    let first = dir.path().join("first");
    let other_dir = scratch();
    let second = other_dir.path().join("second");
    for output in [&first, &second] {
        // From different working directories, to different names.
        let out = Command::new(env!("CARGO_BIN_EXE_strata"))
            .args(["build", source.to_str().unwrap(), "-o", output.to_str().unwrap()])
            .current_dir(output.parent().unwrap())
            .output()
            .expect("start strata");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let (first, second) = (std::fs::read(first).unwrap(), std::fs::read(second).unwrap());
    assert!(first == second, "two builds of one program differ");
}

#[test]
fn emit_writes_the_object_file_or_the_ir_instead() {
    let dir = scratch();
    let source = write(dir.path(), "program.lox", PROGRAM);
    let out = strata(dir.path(), &["build", "--emit", "obj", source.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let object = std::fs::read(dir.path().join("program.o")).unwrap();
    assert_eq!(&object[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([object[16], object[17]]), 1, "a relocatable object");

    let out = strata(dir.path(), &["build", "--emit", "clif", source.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let clif = std::fs::read_to_string(dir.path().join("program.clif")).unwrap();
    for function in ["; lox:0:fib", "; lox:1:init", "; lox:2:twice", "; lox:3:<script>"] {
        assert!(clif.contains(function), "the IR of {function}:\n{clif}");
    }
    assert!(clif.contains("call fn"), "calls into the runtime:\n{clif}");
    assert_eq!(listing(dir.path()), ["program.clif", "program.lox", "program.o"]);
}

#[test]
fn verbose_says_how_each_function_was_built() {
    let dir = scratch();
    let source = write(dir.path(), "program.lox", PROGRAM);
    let out = strata(dir.path(), &["build", "-v", source.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let report = text(&out.stderr);
    for function in ["fib", "init", "twice", "<script>"] {
        let line = report.lines().find(|line| line.contains(&format!(" {function} ")));
        let line = line.unwrap_or_else(|| panic!("no line for {function}:\n{report}"));
        assert!(line.contains("-> machine code, "), "{line}");
    }
    assert!(report.contains("4 of 4 functions compiled"), "{report}");
}

#[test]
fn bytecode_files_build_too_after_the_verifier() {
    let dir = scratch();
    let source = write(dir.path(), "program.lox", PROGRAM);
    let loxc = dir.path().join("program.loxc");
    assert_eq!(strata(dir.path(), &["compile", source.to_str().unwrap()]).status.code(), Some(0));
    let executable = dir.path().join("from-bytecode");
    let out =
        strata(dir.path(), &["build", loxc.to_str().unwrap(), "-o", executable.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&run(&executable, &[]).stdout), PROGRAM_OUTPUT);

    let mut tampered = std::fs::read(&loxc).unwrap();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    let tampered = write(dir.path(), "tampered.loxc", &tampered);
    let out = strata(dir.path(), &["build", tampered.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(65));
    assert!(text(&out.stderr).starts_with("strata: cannot build '"), "{}", text(&out.stderr));
    assert!(!dir.path().join("tampered").exists());
}

#[test]
fn without_a_linker_or_the_runtime_library_the_build_says_so_in_one_line() {
    let dir = scratch();
    let source = write(dir.path(), "program.lox", PROGRAM);
    let no_cc = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["build", source.to_str().unwrap()])
        .current_dir(dir.path())
        .env("CC", "/nonexistent/cc")
        .output()
        .unwrap();
    assert_eq!(no_cc.status.code(), Some(74));
    let message = text(&no_cc.stderr);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("no C compiler driver '/nonexistent/cc'"), "{message}");

    let no_library = Command::new(env!("CARGO_BIN_EXE_strata"))
        .args(["build", source.to_str().unwrap()])
        .current_dir(dir.path())
        .env("STRATA_RT_LIB", "/nonexistent/libstrata_rt.a")
        .output()
        .unwrap();
    assert_eq!(no_library.status.code(), Some(74));
    let message = text(&no_library.stderr);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("runtime library libstrata_rt.a"), "{message}");
    assert_eq!(listing(dir.path()), ["program.lox"], "nothing is left behind");
}

#[test]
fn a_build_never_writes_over_its_input() {
    let dir = scratch();
    let source = write(dir.path(), "program", PROGRAM);
    let out = strata(dir.path(), &["build", source.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("would overwrite it"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&source).unwrap(), PROGRAM);
}

#[test]
fn strata_gc_watches_an_executables_collector() {
    let dir = scratch();
    let source = write(
        dir.path(),
        "garbage.lox",
        "var s = \"\";\nfor (var i = 0; i < 100; i = i + 1) s = s + \"x\";\nprint s == s;\n",
    );
    let executable = dir.path().join("garbage");
    assert_eq!(strata(dir.path(), &["build", source.to_str().unwrap()]).status.code(), Some(0));
    let quiet = run(&executable, &[]);
    assert_eq!(text(&quiet.stdout), "true\n");
    assert_eq!(text(&quiet.stderr), "");
    let logged = run(&executable, &[("STRATA_GC", "stress,log")]);
    assert_eq!(text(&logged.stdout), "true\n");
    let lines: Vec<String> = text(&logged.stderr).lines().map(str::to_string).collect();
    assert!(lines.len() > 100, "a collection at every allocation, each logged");
    let interpreted =
        strata(dir.path(), &["run", "--gc-stress", "--gc-log", source.to_str().unwrap()]);
    let first_word = |line: &str| line.split_whitespace().next().map(str::to_string);
    assert_eq!(
        lines.first().and_then(|line| first_word(line)),
        text(&interpreted.stderr).lines().next().and_then(first_word),
        "the same log format as --gc-log"
    );
}

#[test]
fn strata_iterations_repeats_an_executables_top_level() {
    let dir = scratch();
    let source = write(dir.path(), "program.lox", PROGRAM);
    let executable = dir.path().join("program");
    assert_eq!(strata(dir.path(), &["build", source.to_str().unwrap()]).status.code(), Some(0));
    let out = run(&executable, &[("STRATA_ITERATIONS", "3")]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), PROGRAM_OUTPUT.repeat(3));
    // The last line on stderr: each iteration's time, as `--stats=json`
    // names them.
    let err = text(&out.stderr);
    let report: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
    let times = report["iterations_ms"].as_array().expect("iteration times");
    assert_eq!(times.len(), 3, "{err}");
    assert!(times.iter().all(|ms| ms.as_f64().unwrap() > 0.0), "{err}");
    for bad in ["0", "three", ""] {
        let out = run(&executable, &[("STRATA_ITERATIONS", bad)]);
        assert_eq!(out.status.code(), Some(64), "STRATA_ITERATIONS={bad:?}");
        assert_eq!(text(&out.stdout), "");
        assert!(text(&out.stderr).starts_with("strata: STRATA_ITERATIONS must be"), "{bad:?}");
    }
}

#[test]
fn a_huge_function_stays_bytecode_and_runs_in_the_executables_vm() {
    // Over the code generator's limit (`codegen::MAX_FUNCTION_BYTES`):
    // each `s = f(s);` is about 9 bytes of bytecode.
    let mut program = String::from("fun f(x) { return x + 1; }\nvar s = 0;\n");
    for _ in 0..2000 {
        program.push_str("s = f(s);\n");
    }
    program.push_str("print s;\n");
    let dir = scratch();
    let source = write(dir.path(), "huge.lox", &program);
    let out = strata(dir.path(), &["build", "-v", source.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = text(&out.stderr);
    let script = report.lines().find(|line| line.contains("<script>")).unwrap_or_default();
    assert!(
        script.contains("bytecode for the VM") && script.contains("over the limit"),
        "{report}"
    );
    let f = report.lines().find(|line| line.contains(" f ")).unwrap_or_default();
    assert!(f.contains("machine code"), "{report}");
    assert_eq!(text(&run(&dir.path().join("huge"), &[]).stdout), "2000\n");
}

#[test]
fn a_link_or_a_device_as_output_is_written_through_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let dir = scratch();
    let source = write(dir.path(), "program.lox", PROGRAM);
    let target = write(dir.path(), "target", "old");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out =
        strata(dir.path(), &["build", source.to_str().unwrap(), "-o", link.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "still a link");
    assert_eq!(text(&run(&target, &[]).stdout), PROGRAM_OUTPUT);
    for emit in ["exe", "obj"] {
        let args = ["build", "--emit", emit, source.to_str().unwrap(), "-o", "/dev/null"];
        let out = strata(dir.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{emit}: {}", text(&out.stderr));
        let kind = std::fs::metadata("/dev/null").unwrap().file_type();
        assert!(kind.is_char_device(), "/dev/null is still the device");
    }
}
