//! Fuzz target: a program `progen` writes from the input must behave the
//! same on every engine, normally and under GC stress, and through a
//! `.loxc` round trip; it must compile, and nothing may panic. The same
//! check as `crates/progen/tests/differential.rs`, with libFuzzer choosing
//! the bytes instead of a seeded PRNG.

#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let program = progen::generate(&mut Unstructured::new(data), &progen::Config::default());
    if let Err(report) = progen::check(&program) {
        panic!("engines disagree: {report}");
    }
});
