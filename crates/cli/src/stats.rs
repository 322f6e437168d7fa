//! `strata run --stats`: the driver's `RunStats` as a few lines of text or
//! as one JSON object, on stderr after the program ends.

use std::fmt::Write;
use std::time::Duration;

use driver::RunStats;
use serde_json::{Value, json};

/// The figures as text, one line per subject, each engine's own.
pub(crate) fn text(stats: &RunStats) -> String {
    let mut out = format!("strata stats (engine {})\n", stats.engine);
    let jit_time = stats.tier.map(|tier| tier.compile_time);
    let _ = write!(
        out,
        "  time     front end {}, compile {}, run {}",
        millis(stats.front_end),
        millis(stats.compile),
        millis(stats.run)
    );
    match jit_time {
        Some(time) => {
            let _ = writeln!(out, " (JIT compile {} of it)", millis(time));
        }
        None => out.push('\n'),
    }
    let gc = &stats.gc;
    let _ = writeln!(
        out,
        "  gc       {} collection{} ({} major), {} allocated, peak heap {}, pauses {} in all, {} \
         longest",
        gc.collections,
        plural(gc.collections),
        gc.major_collections,
        bytes(stats.allocated),
        bytes(stats.peak_heap),
        millis(gc.total_pause),
        millis(gc.max_pause)
    );
    if let Some(caches) = stats.caches {
        let _ = writeln!(
            out,
            "  caches   {} site{}: {} monomorphic, {} polymorphic, {} megamorphic, {} never hit",
            caches.sites(),
            plural(u64::from(caches.sites())),
            caches.monomorphic,
            caches.polymorphic,
            caches.megamorphic,
            caches.empty
        );
    }
    if let Some(tier) = stats.tier {
        let _ = writeln!(
            out,
            "  jit      {} function{} and {} loop{} compiled, {} kept in the VM, {} OSR entr{}, \
             {} deoptimization{}, {} of machine code",
            tier.functions,
            plural(u64::from(tier.functions)),
            tier.loops,
            plural(u64::from(tier.loops)),
            tier.declined,
            stats.osr_entries.unwrap_or(0),
            if stats.osr_entries == Some(1) { "y" } else { "ies" },
            tier.deopts,
            plural(u64::from(tier.deopts)),
            bytes(tier.code_bytes)
        );
    }
    if let Some(first) = stats.iterations.first() {
        let fastest = stats.iterations.iter().min().unwrap_or(first);
        let last = stats.iterations.last().unwrap_or(first);
        let _ = writeln!(
            out,
            "  repeat   {} run{} of the top level: first {}, last {}, fastest {}",
            stats.iterations.len(),
            plural(stats.iterations.len() as u64),
            millis(*first),
            millis(*last),
            millis(*fastest)
        );
    }
    out
}

/// The figures as one JSON object (times in milliseconds, sizes in bytes);
/// what does not apply to the engine is `null`.
pub(crate) fn json(stats: &RunStats) -> String {
    let ms = |time: Duration| time.as_secs_f64() * 1000.0;
    let caches = stats.caches.map_or(Value::Null, |caches| {
        json!({
            "sites": caches.sites(),
            "empty": caches.empty,
            "monomorphic": caches.monomorphic,
            "polymorphic": caches.polymorphic,
            "megamorphic": caches.megamorphic,
        })
    });
    let jit = stats.tier.map_or(Value::Null, |tier| {
        json!({
            "functions": tier.functions,
            "loops": tier.loops,
            "declined": tier.declined,
            "osr_entries": stats.osr_entries.unwrap_or(0),
            "deopts": tier.deopts,
            "code_bytes": tier.code_bytes,
            "code_memory": tier.code_memory,
            "resets": tier.resets,
        })
    });
    let value = json!({
        "engine": stats.engine.name(),
        "time_ms": {
            "front_end": ms(stats.front_end),
            "compile": ms(stats.compile),
            "run": ms(stats.run),
            "jit_compile": stats.tier.map(|tier| ms(tier.compile_time)),
        },
        "gc": {
            "collections": stats.gc.collections,
            "major_collections": stats.gc.major_collections,
            "allocated_bytes": stats.allocated,
            "freed_bytes": stats.gc.bytes_freed,
            "peak_heap_bytes": stats.peak_heap,
            "total_pause_ms": ms(stats.gc.total_pause),
            "longest_pause_ms": ms(stats.gc.max_pause),
        },
        "caches": caches,
        "jit": jit,
        "iterations_ms": match stats.iterations.as_slice() {
            [] => Value::Null,
            times => times.iter().map(|&time| ms(time)).collect(),
        },
    });
    format!("{value}\n")
}

fn millis(time: Duration) -> String {
    format!("{:.2} ms", time.as_secs_f64() * 1000.0)
}

/// A size in the largest binary unit that keeps it at least 1.
fn bytes(n: u64) -> String {
    const UNITS: [(&str, u32); 3] = [("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (name, shift) in UNITS {
        if n >= 1 << shift {
            return format!("{:.1} {name}", n as f64 / f64::from(1u32 << shift));
        }
    }
    format!("{n} B")
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}
