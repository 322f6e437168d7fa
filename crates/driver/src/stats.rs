//! What a session did, for `strata run --stats`: where the time went, what
//! the collector did, how the inline caches ended up and what the JIT
//! compiled. Each engine reports what applies to it.

use std::time::Duration;

use runtime::{CacheCounts, GcStats};
use vm::TierStats;

use crate::engine::Engine;

/// A session's figures so far.
#[derive(Debug, Clone)]
pub struct RunStats {
    pub engine: Engine,
    /// Decoding, scanning, parsing and resolving the source.
    pub front_end: Duration,
    /// Compiling to bytecode and verifying it (or loading and verifying a
    /// bytecode file); zero for `tree`.
    pub compile: Duration,
    /// Running the program, compiling to machine code included.
    pub run: Duration,
    /// Each run of the top level, when it was run repeatedly
    /// ([`Session::eval_repeatedly`](crate::Session::eval_repeatedly));
    /// empty otherwise.
    pub iterations: Vec<Duration>,
    pub gc: GcStats,
    /// Bytes of objects allocated in all (freed ones included).
    pub allocated: u64,
    /// The most bytes of objects alive at once, as far as the collector
    /// saw (at the start of each collection, and now).
    pub peak_heap: u64,
    /// The bytecode engines' inline caches (`None` for `tree`).
    pub caches: Option<CacheCounts>,
    /// Times a running frame went on in machine code at a loop header
    /// (`None` but for `jit`).
    pub osr_entries: Option<u64>,
    /// What the JIT compiled (`None` but for `jit`).
    pub tier: Option<TierStats>,
}

/// Time spent in each phase, added up over a session's entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct Timings {
    pub(crate) front_end: Duration,
    pub(crate) compile: Duration,
    pub(crate) run: Duration,
    /// Each timed run of a top level.
    pub(crate) iterations: Vec<Duration>,
}
