//! Link options for the `strata` executable that keep a short run small in
//! memory (issue 8's budget: `strata hello.lox` in at most 3 MiB resident).
//!
//! - `startup.ld` gathers the functions a short run executes at the start
//!   of the code (see `tools/startup-layout`). Without it they are spread
//!   over 6 MB of code, and the kernel's 64 KiB fault-around makes them
//!   cost 1.6 MiB; gathered, 0.4 MiB.
//! - `-z pack-relative-relocs` stores the position-independent
//!   executable's 11,000 relative relocations as a 3 KB bitmap (DT_RELR)
//!   instead of a 266 KB table that the loader reads whole at start.
//!   glibc 2.36 is the first to load it, and a binary that needs it says so
//!   (`GLIBC_ABI_DT_RELR`), so it is used only when the build machine's
//!   glibc has it and the build is for that machine.
//!
//! Both are for GNU/Linux on x86-64, where Rust links with its own LLD;
//! elsewhere the executable is linked as usual.

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=startup.ld");
    let target = env::var("TARGET").unwrap_or_default();
    if target != "x86_64-unknown-linux-gnu" {
        return;
    }
    let dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-arg-bin=strata=-Wl,-T,{dir}/startup.ld");
    if env::var("HOST").as_deref() == Ok(target.as_str()) && glibc_has_relr() {
        println!("cargo:rustc-link-arg-bin=strata=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this machine's glibc is 2.36 or later (`getconf` prints
/// `glibc 2.36`).
fn glibc_has_relr() -> bool {
    let Ok(out) = Command::new("getconf").arg("GNU_LIBC_VERSION").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.trim().strip_prefix("glibc ") else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 36)
}
