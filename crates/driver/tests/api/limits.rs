//! Resource limits and costs that must stay linear: the heap limit
//! (`Out of memory.` as a runtime error, with output kept), and programs
//! whose cost was once quadratic (many distinct literals, an instance with
//! thousands of fields, thousands of diagnostics rendered with excerpts).
//!
//! The quadratic cases are caught with wide margins, not fine timings: each
//! input is sized so that the linear code takes well under a second and the
//! quadratic code minutes (or gigabytes, which the heap limit turns into a
//! failure).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use driver::{DiagnosticStyle, Engine, GcConfig, Options, Outcome};

struct Run {
    outcome: Outcome,
    stdout: String,
    stderr: String,
}

fn run_with(source: &str, engine: Engine, gc: GcConfig, diagnostics: DiagnosticStyle) -> Run {
    let options = Options { engine, gc, diagnostics, ..Options::default() };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome = driver::run(source.as_bytes(), options, &mut out, &mut err);
    Run {
        outcome,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

fn limited(max_heap: usize) -> GcConfig {
    GcConfig { max_heap, ..GcConfig::default() }
}

#[test]
fn a_full_heap_is_a_runtime_error_that_keeps_the_output() {
    let program = "\
class Node { init(next) { this.next = next; } }
print \"start\";
var list = nil;
while (true) {
  list = Node(list);
}
";
    for &engine in Engine::ALL {
        let run = run_with(program, engine, limited(4 << 20), DiagnosticStyle::Plain);
        assert_eq!(run.outcome, Outcome::RuntimeError, "{engine}");
        assert_eq!(run.stdout, "start\n", "{engine}");
        assert!(run.stderr.starts_with("Out of memory.\n["), "{engine}: {}", run.stderr);
    }
}

#[test]
fn a_string_past_the_limit_is_never_built() {
    // Doubling a string: the last concatenation would need more than the
    // limit, and is refused before its text is built.
    let program = "var s = \"x\";\nwhile (true) {\n  s = s + s;\n}\n";
    for &engine in Engine::ALL {
        let run = run_with(program, engine, limited(64 << 20), DiagnosticStyle::Plain);
        assert_eq!(run.outcome, Outcome::RuntimeError, "{engine}");
        assert_eq!(run.stderr, "Out of memory.\n[line 3] in script\n", "{engine}");
    }
}

#[test]
fn memory_freed_by_the_collector_is_not_held_against_the_limit() {
    // Far more is allocated than the limit, but little is alive at once.
    let program = "\
var total = 0;
for (var i = 0; i < 200000; i = i + 1) {
  var s = \"item \" + \"number\";
  total = total + 1;
}
print total;
";
    for &engine in Engine::ALL {
        let run = run_with(program, engine, limited(2 << 20), DiagnosticStyle::Plain);
        assert_eq!((run.outcome, run.stdout.as_str()), (Outcome::Success, "200000\n"), "{engine}");
    }
}

#[test]
fn an_instance_with_many_fields_takes_linear_memory() {
    // Each shape of a long chain once built its own index of every field:
    // 20,000 fields took gigabytes. Now they fit in a few megabytes.
    let mut program = String::from("class C {}\nvar c = C();\n");
    for i in 0..20_000 {
        writeln!(program, "c.f{i} = {i};").unwrap();
    }
    program.push_str("print c.f0 + c.f19999;\n");
    for &engine in Engine::ALL {
        let run = run_with(&program, engine, limited(32 << 20), DiagnosticStyle::Plain);
        assert_eq!(run.stderr, "", "{engine}");
        assert_eq!(run.stdout, "19999\n", "{engine}");
    }
}

#[test]
fn many_distinct_literals_compile_in_linear_time() {
    // Constants were once deduplicated by a linear search: 160,000 distinct
    // literals took 12-17 s to compile, against a tenth of a second now.
    let mut program = String::new();
    for i in 0..200_000 {
        writeln!(program, "{i};").unwrap();
    }
    program.push_str("print \"done\";\n");
    let start = Instant::now();
    let run = run_with(&program, Engine::Vm, GcConfig::default(), DiagnosticStyle::Plain);
    assert_eq!(run.stdout, "done\n");
    assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
}

#[test]
fn many_diagnostics_render_in_linear_time() {
    // Each excerpt once re-indexed the whole source: N errors cost N times
    // the source's length.
    let program = "1 +;\n".repeat(100_000);
    let style = DiagnosticStyle::Excerpt { file_name: "many.lox".to_string() };
    let start = Instant::now();
    let run = run_with(&program, Engine::Vm, GcConfig::default(), style);
    assert_eq!(run.outcome, Outcome::CompileError);
    assert!(run.stderr.starts_with("[line 1] Error at ';': Expect expression.\n"));
    assert!(run.stderr.contains("[line 100000] Error at ';': Expect expression.\n"));
    assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
}

#[test]
fn a_session_recovers_once_the_program_lets_go_of_its_data() {
    // Loading the next entry's code is not held against the limit, so code
    // that frees the heap can still run after `Out of memory.`.
    for &engine in Engine::ALL {
        let options = Options { engine, gc: limited(2 << 20), ..Options::default() };
        let mut session = driver::Session::new(options);
        let mut entry = |source: &str| {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let outcome = session.eval(source.as_bytes(), &mut out, &mut err);
            (outcome, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
        };
        let filled = entry(
            "class N { init(n) { this.n = n; } }\nvar list = nil;\nwhile (true) list = N(list);\n",
        );
        assert_eq!(filled.0, Outcome::RuntimeError, "{engine}");
        assert!(filled.2.starts_with("Out of memory.\n"), "{engine}: {}", filled.2);
        let freed = entry(
            "list = nil;\nvar again = nil;\nfor (var i = 0; i < 1000; i = i + 1) again = N(again);\nprint \"ok\";\n",
        );
        assert_eq!(
            (freed.0, freed.1.as_str(), freed.2.as_str()),
            (Outcome::Success, "ok\n", ""),
            "{engine}"
        );
    }
}

#[test]
fn an_embedder_thread_with_a_small_stack_is_enough() {
    // The driver and the tree-walker find the native stack they need
    // themselves, so neither deep nesting nor deep recursion depends on the
    // calling thread's stack.
    let nested = format!("{}1{}", "-(".repeat(120), ")".repeat(120));
    let program =
        format!("fun f(n) {{ if (n == 0) return {nested}; return f(n - 1); }}\nprint f(10000);\n");
    for &engine in Engine::ALL {
        let program = program.clone();
        let run = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || run_with(&program, engine, GcConfig::default(), DiagnosticStyle::Plain))
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(
            (run.outcome, run.stdout.as_str()),
            (Outcome::Success, "1\n"),
            "{engine}: {}",
            run.stderr
        );
    }
}
