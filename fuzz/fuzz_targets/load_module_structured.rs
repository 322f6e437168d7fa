//! Fuzz target: structure-aware modules for the loader, the verifier and
//! the VM. `progen::arbitrary_module` builds a plausible module (most
//! verify; see its doc), `bytecode::write_module` gives it a valid header
//! and checksum, and the file must read back to the same bytes. A module
//! that verifies is then run through `Session::run_bytecode`, as `strata
//! run FILE.loxc` would, on `vm` or on `jit` with every function and loop
//! compiled at first use (so the code generator meets every crafted
//! module that verifies): the README promises that a malicious file is
//! never run unsafely, so whatever verifies must run without a panic or a
//! memory error (this target is the place to run under AddressSanitizer).
//!
//! A verified module may loop forever, so each run has a watchdog thread
//! that requests the session's interrupt after `RUN_LIMIT`; the program
//! then ends with `Interrupted.` at its next back-edge or call. The heap is
//! capped at `MAX_HEAP` (past it, `Out of memory.`) so that a module
//! cannot exhaust the fuzzer's memory either. The first input byte picks
//! GC stress, the second the engine, the third (on `jit`) deopt stress mode
//! (every guard of optimized code fails the first time it runs, so the
//! deoptimizer meets crafted frames too). Output is discarded.

#![no_main]

use std::time::Duration;

use arbitrary::Unstructured;
use driver::{Engine, GcConfig, Interrupt, JitConfig, Options, Session};
use libfuzzer_sys::fuzz_target;

const RUN_LIMIT: Duration = Duration::from_millis(100);
const MAX_HEAP: usize = 64 << 20;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let stress = u.arbitrary::<bool>().unwrap_or(false);
    let engine = if u.arbitrary::<bool>().unwrap_or(false) { Engine::Jit } else { Engine::Vm };
    let stress_deopt = engine == Engine::Jit && u.arbitrary::<bool>().unwrap_or(false);
    let options = progen::ModuleOptions { backward_jumps: true };
    let Ok(module) = progen::arbitrary_module(&mut u, &options) else {
        return;
    };
    let Ok(bytes) = bytecode::write_module(&module) else {
        return;
    };
    let loaded = bytecode::read_module(&bytes).expect("a written module reads back");
    assert_eq!(
        bytecode::write_module(&loaded).as_deref(),
        Ok(&bytes[..]),
        "a module re-serializes differently"
    );
    if bytecode::verify(&loaded).is_err() {
        return;
    }
    let interrupt = Interrupt::new();
    let options = Options {
        engine,
        gc: GcConfig { stress, max_heap: MAX_HEAP, ..GcConfig::default() },
        interrupt: Some(interrupt.clone()),
        jit: JitConfig { threshold: 0, stress_deopt, ..JitConfig::default() },
        ..Options::default()
    };
    let mut session = Session::new(options);
    let result = progen::with_watchdog(&interrupt, RUN_LIMIT, || {
        session.run_bytecode(&bytes, &mut std::io::sink(), &mut std::io::sink())
    });
    assert!(result.is_ok(), "a verified module failed to load: {:?}", result.err());
});
