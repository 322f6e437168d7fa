//! Fuzz target: any bytes as a source file through the front end, the
//! compiler and the verifier (what `strata disasm` does), never running
//! it. Nothing may panic, whatever the input, and deep nesting must be a
//! diagnostic rather than a native stack overflow (which would abort the
//! process, and libFuzzer reports as a crash too). A program that compiles
//! must give bytecode the verifier accepts (the driver panics otherwise).

#![no_main]

use driver::{DiagnosticStyle, Listing};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ =
        driver::disassemble(data, &DiagnosticStyle::Plain, &mut std::io::sink(), Listing::Bytecode);
});
