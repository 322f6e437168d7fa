//! The lab's findings as text: the table `strata bench` prints for people
//! (also quoted by the Markdown report), and one JSON object for tools.

use std::time::Duration;

use serde_json::{Value, json};

use crate::{Curve, Findings, Report, Summary};

/// A time as people read it: `4.2 µs`, `1.23 ms`, `456 ms`, `7.89 s`.
pub fn millis(time: Duration) -> String {
    let ms = time.as_secs_f64() * 1000.0;
    if ms < 0.1 {
        format!("{:.1} µs", ms * 1000.0)
    } else if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}
fn spread(summary: &Option<Summary>) -> String {
    match summary {
        Some(s) if s.samples > 1 => {
            format!("{} ({}–{})", millis(s.median), millis(s.min), millis(s.max))
        }
        Some(s) => millis(s.median),
        None => "-".to_string(),
    }
}

pub fn mib(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1048576 => format!("{:.0} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0)),
    }
}

/// The report as a table, then each engine's own figures, then whether
/// every strategy printed the same.
pub fn table(report: &Report) -> String {
    let mut rows = vec![[
        "engine".to_string(),
        "start-up".to_string(),
        "first output".to_string(),
        "wall (median, min–max)".to_string(),
        "cpu".to_string(),
        "peak RSS".to_string(),
        "build".to_string(),
    ]];
    for found in &report.findings {
        rows.push([
            found.name.clone(),
            found.startup.map_or("-".to_string(), |s| millis(s.median)),
            found.first_output.map_or("-".to_string(), |s| millis(s.median)),
            spread(&found.wall),
            found.cpu.map_or("-".to_string(), |s| millis(s.median)),
            found.peak_rss.map_or("-".to_string(), mib),
            found.build.map_or("-".to_string(), |(time, size)| {
                format!("{}, {} KB", millis(time), size / 1000)
            }),
        ]);
    }
    let mut out = format!("{} ({} runs each)\n\n", report.program.display(), report.runs);
    out.push_str(&columns(&rows));
    let figures: Vec<String> = report.findings.iter().filter_map(engine_figures).collect();
    if !figures.is_empty() {
        out.push('\n');
        out.push_str(&figures.join(""));
    }
    out.push_str(&warmup_table(report));
    out.push('\n');
    for found in &report.findings {
        if let Some(failure) = &found.failure {
            out.push_str(&format!("FAILED on {}: {failure}\n", found.name));
        }
    }
    match report.disagree.as_slice() {
        [] if report.findings.iter().filter(|found| found.output.is_some()).count() > 1 => {
            out.push_str("Every engine printed the same output.\n");
        }
        [] => {}
        names => {
            let first = report.findings.iter().find(|found| found.output.is_some());
            let first = first.map_or("the first", |found| found.name.as_str());
            out.push_str(&format!(
                "OUTPUT DIFFERS: {} printed something else than {first}.\n",
                names.join(", ")
            ));
        }
    }
    if report.stopped {
        out.push_str("Stopped early (Ctrl-C): the figures above are what was measured.\n");
    }
    out
}

/// The warm-up curves, a row per engine that has one: its class, when it
/// reached its steady state and at what speed.
fn warmup_table(report: &Report) -> String {
    let curves: Vec<(&str, &Curve)> = report
        .findings
        .iter()
        .filter_map(|found| Some((found.name.as_str(), found.warmup.as_ref()?)))
        .collect();
    let Some((_, first)) = curves.first() else { return String::new() };
    let mut rows = vec![
        ["engine", "curve", "first iteration", "steady from", "time to steady", "steady iteration"]
            .map(String::from),
    ];
    for (name, curve) in &curves {
        let steady_from = match (curve.class, curve.steady_from) {
            (None, _) => "too few to tell".to_string(),
            (_, Some(index)) => format!("iteration {}", index + 1),
            (_, None) => "-".to_string(),
        };
        rows.push([
            name.to_string(),
            curve.class.map_or("-", crate::Class::name).to_string(),
            curve.times.first().map_or("-".to_string(), |&time| millis(time)),
            steady_from,
            curve.time_to_steady.map_or("-".to_string(), millis),
            curve.steady.map_or("-".to_string(), millis),
        ]);
    }
    let mut out =
        format!("\nWarm-up: {} iterations of the top level in one process\n\n", first.times.len());
    out.push_str(&columns(&rows));
    out
}

/// Rows as aligned columns, the first left-aligned and the rest right.
fn columns<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|column| rows.iter().map(|row| row[column].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, &width))| match column {
                0 => format!("{cell:<width$}"),
                _ => format!("{cell:>width$}"),
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// One engine's `--stats` figures in a line or two.
fn engine_figures(found: &Findings) -> Option<String> {
    let stats = found.stats.as_ref()?;
    let number = |value: &Value| value.as_f64().unwrap_or(0.0);
    let gc = &stats["gc"];
    let mut text = format!(
        "{}: {} collections, {} allocated, peak heap {}, longest pause {:.2} ms",
        found.name,
        number(&gc["collections"]),
        mib(number(&gc["allocated_bytes"]) as u64),
        mib(number(&gc["peak_heap_bytes"]) as u64),
        number(&gc["longest_pause_ms"]),
    );
    let caches = &stats["caches"];
    if !caches.is_null() {
        text.push_str(&format!(
            "; caches {} mono, {} poly, {} mega",
            number(&caches["monomorphic"]),
            number(&caches["polymorphic"]),
            number(&caches["megamorphic"])
        ));
    }
    let jit = &stats["jit"];
    if !jit.is_null() {
        text.push_str(&format!(
            "; JIT {} functions, {} loops, {} OSR entries, {} deopts, {:.1} KB of code in {:.1} ms",
            number(&jit["functions"]),
            number(&jit["loops"]),
            number(&jit["osr_entries"]),
            number(&jit["deopts"]),
            number(&jit["code_bytes"]) / 1000.0,
            number(&stats["time_ms"]["jit_compile"])
        ));
    }
    text.push('\n');
    Some(text)
}

fn summary_json(summary: &Option<Summary>) -> Value {
    let ms = |time: Duration| time.as_secs_f64() * 1000.0;
    summary.map_or(Value::Null, |s| {
        json!({ "median_ms": ms(s.median), "min_ms": ms(s.min), "max_ms": ms(s.max), "samples": s.samples })
    })
}

fn warmup_json(curve: &Curve) -> Value {
    let ms = |time: Duration| time.as_secs_f64() * 1000.0;
    json!({
        "iterations_ms": curve.times.iter().map(|&time| ms(time)).collect::<Vec<f64>>(),
        "class": curve.class.map(crate::Class::name),
        "segment_starts": curve.segments,
        "steady_from": curve.steady_from,
        "time_to_steady_ms": curve.time_to_steady.map(ms),
        "steady_iteration_ms": curve.steady.map(ms),
    })
}

pub fn json(report: &Report) -> Value {
    let engines: Vec<Value> = report
        .findings
        .iter()
        .map(|found| {
            json!({
                "engine": found.name,
                "startup": summary_json(&found.startup),
                "first_output": summary_json(&found.first_output),
                "wall": summary_json(&found.wall),
                "cpu": summary_json(&found.cpu),
                "peak_rss_bytes": found.peak_rss,
                "build": found.build.map(|(time, size)| json!({
                    "time_ms": time.as_secs_f64() * 1000.0,
                    "executable_bytes": size,
                })),
                "stats": found.stats,
                "warmup": found.warmup.as_ref().map(warmup_json),
                "exit_code": found.output.as_ref().and_then(|output| output.code),
                "failure": found.failure,
            })
        })
        .collect();
    json!({
        "program": report.program.display().to_string(),
        "runs": report.runs,
        "iterations": report.iterations,
        "engines": engines,
        "outputs_agree": report.disagree.is_empty(),
        "disagree": report.disagree,
        "stopped": report.stopped,
    })
}
