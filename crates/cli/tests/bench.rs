//! `strata bench` as users run it: every engine measured in fresh
//! processes, the outputs compared, failures and disagreements said
//! loudly, JSON for tools.

mod common;

use std::process::{Command, Output};

use common::{scratch, text, write};

use serde_json::Value;

fn strata(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_strata")).args(args).output().expect("start strata")
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
fn unknown_engines_are_usage_errors() {
    let out = strata(&["bench", "x.lox", "--engines", "vm,nope"]);
    assert_eq!(out.status.code(), Some(64));
    assert!(text(&out.stderr).contains("unknown engine 'nope'"), "{}", text(&out.stderr));
}
