//! `strata bench` as users run it: every engine measured in fresh
//! processes, the outputs compared, failures and disagreements said
//! loudly, JSON for tools.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{listing, scratch, text, write};

use serde_json::Value;

fn strata(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata")).args(args).output().expect("start strata")
}

/// `strata bench PROGRAM --engines ENGINES --runs 1 MORE...`.
fn bench_once(program: &Path, engines: &str, more: &[&str]) -> Output {
    let program = program.to_str().unwrap();
    let mut args = vec!["bench", program, "--engines", engines, "--runs", "1"];
    args.extend(more);
    strata(&args)
}

const PROGRAM: &str =
    "var s = \"\";\nfor (var i = 0; i < 300; i = i + 1) s = s + \"x\";\nprint s == s;\n";

#[test]
fn every_engine_is_measured_and_agrees() {
    let dir = scratch();
    let program = write(dir.path(), "program.lox", PROGRAM);
    let out = strata(&["bench", program.to_str().unwrap(), "--runs", "2", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["outputs_agree"], true);
    assert_eq!(report["runs"], 2);
    let engines = report["engines"].as_array().unwrap();
    let names: Vec<&str> = engines.iter().map(|e| e["engine"].as_str().unwrap()).collect();
    assert_eq!(names, ["tree", "vm", "jit", "aot"]);
    for engine in engines {
        let name = &engine["engine"];
        for measure in ["startup", "first_output", "wall", "cpu"] {
            let median = engine[measure]["median_ms"].as_f64();
            assert!(median.is_some_and(|ms| ms > 0.0), "{name} {measure}: {engine}");
            assert_eq!(engine[measure]["samples"], 2, "{name} {measure}");
        }
        let rss = engine["peak_rss_bytes"].as_u64().unwrap();
        assert!((500_000..200_000_000).contains(&rss), "{name}: peak RSS {rss}");
        assert_eq!(engine["exit_code"], 0);
        assert!(engine["failure"].is_null(), "{name}: {}", engine["failure"]);
    }
    // Each engine's own figures (`--stats`): what it allocated.
    for engine in &engines[..3] {
        assert!(engine["stats"]["gc"]["allocated_bytes"].as_u64().unwrap() > 0, "{engine}");
    }
    assert!(engines[3]["stats"].is_null(), "an executable has no --stats");
    assert!(engines[3]["build"]["executable_bytes"].as_u64().unwrap() > 100_000);
}

#[test]
fn a_table_for_people_and_a_loud_difference() {
    let dir = scratch();
    let program = write(dir.path(), "program.lox", "print 1 + 2;\n");
    let out = strata(&[
        "bench",
        program.to_str().unwrap(),
        "--engines",
        "vm,aot",
        "--runs",
        "1",
        "--also",
        "liar=echo 4",
    ]);
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(70), "a difference fails the run:\n{table}");
    for row in ["vm ", "aot ", "liar "] {
        assert!(table.lines().any(|line| line.starts_with(row)), "a row {row:?}:\n{table}");
    }
    assert!(table.contains("OUTPUT DIFFERS: liar printed something else than vm."), "{table}");
}

#[test]
fn a_failing_engine_is_reported_and_the_rest_goes_on() {
    let dir = scratch();
    let program = write(dir.path(), "program.lox", "print 1;\n");
    let out = strata(&[
        "bench",
        program.to_str().unwrap(),
        "--engines",
        "vm",
        "--runs",
        "1",
        "--also",
        "missing=/nonexistent/command",
        "--also",
        "same=echo 1",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(70));
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let engines = report["engines"].as_array().unwrap();
    assert!(engines[1]["failure"].as_str().unwrap().contains("cannot start"), "{}", engines[1]);
    assert!(engines[2]["failure"].is_null());
    assert_eq!(report["outputs_agree"], true, "echo 1 prints what print 1 prints");
}

#[test]
fn warm_up_curves_for_every_engine() {
    let dir = scratch();
    let program = write(dir.path(), "program.lox", PROGRAM);
    let out = bench_once(&program, "tree,vm,jit,aot", &["--iterations", "12", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(report["iterations"], 12);
    for engine in report["engines"].as_array().unwrap() {
        let warmup = &engine["warmup"];
        let times = warmup["iterations_ms"].as_array().expect("iteration times");
        assert_eq!(times.len(), 12, "{warmup}");
        assert!(times.iter().all(|ms| ms.as_f64().unwrap() > 0.0), "{warmup}");
        let class = warmup["class"].as_str().unwrap();
        assert!(["flat", "warm-up", "slowdown", "no steady state"].contains(&class), "{warmup}");
    }

    // The table has a row per engine.
    let out = bench_once(&program, "vm,jit", &["--iterations", "3"]);
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}{}", text(&out.stderr));
    assert!(table.contains("Warm-up: 3 iterations of the top level in one process"), "{table}");
    let warmup = table.split("Warm-up:").nth(1).expect("a warm-up section");
    for engine in ["vm ", "jit "] {
        let row = warmup.lines().find(|line| line.starts_with(engine));
        let row = row.unwrap_or_else(|| panic!("a row for {engine}:\n{table}"));
        assert!(row.contains("too few to tell"), "shown, not classified:\n{table}");
    }
}

#[test]
fn a_report_of_plots_and_a_page() {
    let dir = scratch();
    let program = write(dir.path(), "program.lox", PROGRAM);
    let report = dir.path().join("report");
    let out = bench_once(
        &program,
        "vm,jit",
        &["--iterations", "10", "--report", report.to_str().unwrap()],
    );
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}{}", text(&out.stderr));
    assert!(table.ends_with(&format!("Report: {}\n", report.join("index.html").display())));
    assert_eq!(listing(&report), ["index.html", "rss.svg", "startup-speed.svg", "warmup.svg"]);
    let page = std::fs::read_to_string(report.join("index.html")).unwrap();
    for engine in ["<td>vm</td>", "<td>jit</td>"] {
        assert!(page.contains(engine), "{page}");
    }

    // A report that cannot be written (its directory is a file): exit 74,
    // after the table.
    let out = bench_once(&program, "vm", &["--report", program.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(74), "{}", text(&out.stderr));
    assert!(text(&out.stderr).starts_with("strata: cannot write the report in "));
    assert!(text(&out.stdout).contains("(1 runs each)"), "{}", text(&out.stdout));
}

#[test]
fn several_programs_make_one_page() {
    // docs/lab.md is made this way: every program measured in turn, a JSON
    // line (or table) each, then one Markdown page with a summary over all
    // of them and each one's plots beside it.
    let dir = scratch();
    let first = write(dir.path(), "first.lox", PROGRAM);
    let second = write(dir.path(), "second.lox", "print 1 + 2;\n");
    let page = dir.path().join("docs").join("lab.md");
    let out = strata(&[
        "bench",
        first.to_str().unwrap(),
        second.to_str().unwrap(),
        "--engines",
        "vm,jit",
        "--runs",
        "1",
        "--iterations",
        "10",
        "--markdown",
        page.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
        .collect();
    let programs: Vec<&str> = lines.iter().map(|r| r["program"].as_str().unwrap()).collect();
    assert_eq!(programs, [first.to_str().unwrap(), second.to_str().unwrap()]);
    let markdown = std::fs::read_to_string(&page).unwrap();
    assert!(markdown.contains("--markdown"), "states the command that made it:\n{markdown}");
    for section in ["## first\n", "## second\n", "| vm |", "| jit |", "| [second](#second) |"] {
        assert!(markdown.contains(section), "{section:?} in:\n{markdown}");
    }
    let plots = listing(&dir.path().join("docs").join("lab"));
    assert_eq!(plots.len(), 6, "three plots per program: {plots:?}");
    for plot in &plots {
        assert!(markdown.contains(&format!("](lab/{plot})")), "{plot} is shown:\n{markdown}");
    }
}

#[test]
fn several_programs_get_a_report_directory_each() {
    // Named as the Markdown page names their sections: two programs of the
    // same file name do not overwrite each other's page.
    let dir = scratch();
    std::fs::create_dir_all(dir.path().join("a")).unwrap();
    std::fs::create_dir_all(dir.path().join("b")).unwrap();
    let first = write(&dir.path().join("a"), "p.lox", "print 1;\n");
    let second = write(&dir.path().join("b"), "p.lox", "print 2;\n");
    let report = dir.path().join("report");
    let out = strata(&[
        "bench",
        first.to_str().unwrap(),
        second.to_str().unwrap(),
        "--engines",
        "vm",
        "--runs",
        "1",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(listing(&report), ["p", "p-2"]);
    let second_page = std::fs::read_to_string(report.join("p-2").join("index.html")).unwrap();
    assert!(second_page.contains("b/p.lox"), "{second_page}");
}

#[test]
fn a_repeated_run_that_fails_is_a_failure() {
    // A deterministic program that completes once completes every time (a
    // global it reads before defining would have failed the first run), so
    // this one fails in its first iteration, after printing.
    let dir = scratch();
    let failing = write(dir.path(), "failing.lox", "print 1;\nprint later;\nvar later = 1;\n");
    let out = bench_once(&failing, "vm,aot", &["--iterations", "2", "--json"]);
    assert_eq!(out.status.code(), Some(70));
    let report: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for engine in report["engines"].as_array().unwrap() {
        let failure = engine["failure"].as_str().unwrap_or_default();
        assert_eq!(failure, "the repeated run failed (exit code 70)", "{engine}");
        assert!(engine["warmup"].is_null(), "{engine}");
    }
}

#[test]
fn unknown_engines_are_usage_errors() {
    let out = strata(&["bench", "x.lox", "--engines", "vm,nope"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("unknown engine 'nope'"), "{}", text(&out.stderr));
}
