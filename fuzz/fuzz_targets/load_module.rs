//! Fuzz target: loading a `.loxc` file must never panic, whatever the bytes.
//!
//! Each input is tried twice: as a whole file, which exercises the header
//! checks, and as a payload behind a header with the right length and
//! checksum. Without the second, nearly every mutation would stop at the
//! CRC-32 and the payload parser would barely be reached.

#![no_main]

use bytecode::{FORMAT_VERSION, MAGIC, read_module, verify, write_module};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    load(data);
    if let Ok(len) = u32::try_from(data.len()) {
        let mut file = Vec::with_capacity(16 + data.len());
        file.extend_from_slice(&MAGIC);
        file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        file.extend_from_slice(&0u16.to_le_bytes());
        file.extend_from_slice(&len.to_le_bytes());
        file.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
        file.extend_from_slice(data);
        load(&file);
    }
});

fn load(bytes: &[u8]) {
    let Ok(module) = read_module(bytes) else {
        return;
    };
    // Every field has one encoding, so what loads writes back identically.
    assert_eq!(
        write_module(&module).as_deref(),
        Ok(bytes),
        "a loaded module re-serializes differently"
    );
    // The verifier must also take any module that loads without panicking.
    let _ = verify(&module);
}
