//! Stopping a running program from outside: Ctrl-C in the REPL, a
//! watchdog in a fuzzer, an embedder's timeout.
//!
//! An [`Interrupt`] is a shared flag. Any thread may request it; the engine
//! polls it at every loop back-edge and every call (the points where a
//! program can run on without end) and, when it finds it set, clears it and
//! raises the runtime error `Interrupted.` with the usual trace. Polling is
//! one relaxed load, so it costs the dispatch loop almost nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A handle on one heap's interrupt flag; clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Ask the running program to stop at its next back-edge or call.
    /// Safe to call from any thread, or from a signal handler's thread.
    pub fn request(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether a stop was requested and not yet taken.
    #[inline(always)]
    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Take a pending request: true at most once per request.
    pub fn take(&self) -> bool {
        self.0.swap(false, Ordering::Relaxed)
    }

    /// The flag itself, for a dispatch loop to keep in a local.
    #[inline(always)]
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }
}

/// The message of the runtime error an interrupt raises.
pub const INTERRUPTED: &str = "Interrupted.";
