//! Fuzz target: structure-aware modules for the loader, the verifier and
//! the VM. `progen::arbitrary_module` builds a plausible module (most
//! verify; see its doc), `bytecode::write_module` gives it a valid header
//! and checksum, and the file must read back to the same bytes. A module
//! that verifies is then run on `vm` through `Session::run_bytecode`, as
//! `strata run FILE.loxc` would: the README promises that a malicious file
//! is never run unsafely, so whatever verifies must run without a panic or
//! a memory error (this target is the place to run under AddressSanitizer).
//! The first input byte picks GC stress. Output is discarded.

#![no_main]

use arbitrary::Unstructured;
use driver::{GcConfig, Options, Session};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let stress = u.arbitrary::<bool>().unwrap_or(false);
    // No backward jumps until the VM can be interrupted: a verified loop
    // may never end.
    let options = progen::ModuleOptions { backward_jumps: false };
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
    let options = Options { gc: GcConfig { stress, ..GcConfig::default() }, ..Options::default() };
    let mut session = Session::new(options);
    let result = session.run_bytecode(&bytes, &mut std::io::sink(), &mut std::io::sink());
    assert!(result.is_ok(), "a verified module failed to load: {:?}", result.err());
});
