//! Collector policy and what it reports: configuration, per-collection
//! reports (`--gc-log`) and running totals (`--stats`).

use std::fmt;
use std::time::Duration;

/// How the collector decides when to run.
#[derive(Debug, Clone, Copy)]
pub struct GcConfig {
    /// Collect at every allocation (`--gc-stress`), to flush out rooting bugs.
    pub stress: bool,
    /// The first collection happens once this many bytes are allocated.
    pub initial_threshold: usize,
    /// After a collection, the next one comes when the heap has grown to
    /// this multiple of what survived.
    pub growth_factor: usize,
    /// The most bytes the heap may hold: an allocation that would go past
    /// it, even after a full collection, is the runtime error `Out of
    /// memory.` (`--max-heap`). The default, [`DEFAULT_MAX_HEAP`], keeps a
    /// runaway program from taking the machine down with it.
    pub max_heap: usize,
}

/// The default heap limit: 2 GiB.
pub const DEFAULT_MAX_HEAP: usize = 2 << 30;

impl Default for GcConfig {
    fn default() -> GcConfig {
        GcConfig {
            stress: false,
            initial_threshold: 1 << 20,
            growth_factor: 2,
            max_heap: DEFAULT_MAX_HEAP,
        }
    }
}

/// The heap is full: even after a collection, an allocation would go past
/// [`GcConfig::max_heap`]. A user error (the program keeps too much alive,
/// or the limit is set too low); engines raise `Out of memory.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

impl std::fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(OUT_OF_MEMORY)
    }
}

impl std::error::Error for OutOfMemory {}

/// The message of the runtime error a full heap raises.
pub const OUT_OF_MEMORY: &str = "Out of memory.";

/// One collection, as `--gc-log` prints it.
#[derive(Debug, Clone, Copy)]
pub struct GcReport {
    /// 1 for the first collection.
    pub sequence: u64,
    /// Whether it marked and swept every object (major), or only the
    /// young ones (minor; `heap/collect.rs`, "Generations").
    pub major: bool,
    pub bytes_before: usize,
    pub bytes_after: usize,
    pub objects_freed: usize,
    pub objects_live: usize,
    pub pause: Duration,
    /// The heap size that will trigger the next collection.
    pub next_gc: usize,
}

impl fmt::Display for GcReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[gc #{} {}] {} -> {} bytes, {} objects freed, {} live, pause {:.1} us, next at {} bytes",
            self.sequence,
            if self.major { "major" } else { "minor" },
            self.bytes_before,
            self.bytes_after,
            self.objects_freed,
            self.objects_live,
            self.pause.as_secs_f64() * 1e6,
            self.next_gc,
        )
    }
}

/// Called after every collection (`--gc-log`).
pub type GcLog = Box<dyn FnMut(&GcReport)>;

/// Totals over a heap's life.
#[derive(Debug, Clone, Copy, Default)]
pub struct GcStats {
    pub collections: u64,
    /// How many of the collections were major.
    pub major_collections: u64,
    pub objects_freed: u64,
    pub bytes_freed: u64,
    pub total_pause: Duration,
    pub max_pause: Duration,
    /// The largest heap seen at the start of a collection.
    pub peak_bytes: usize,
}

impl GcStats {
    pub(crate) fn record(&mut self, report: &GcReport) {
        self.collections += 1;
        self.major_collections += u64::from(report.major);
        self.objects_freed += report.objects_freed as u64;
        self.bytes_freed += report.bytes_before.saturating_sub(report.bytes_after) as u64;
        self.total_pause += report.pause;
        self.max_pause = self.max_pause.max(report.pause);
        self.peak_bytes = self.peak_bytes.max(report.bytes_before);
    }
}
