//! The start-up layout (`crates/cli/startup.ld`, see `build.rs`) still
//! describes the `strata` executable: the functions it names are found in
//! the binary, inside the `.text.startup` section the script makes.
//!
//! Symbol names carry hashes of the toolchain, the dependencies and the
//! build profile. When those change the names drift, nothing fails to
//! link, and start-up quietly goes back to touching pages all over the
//! binary. This test is what notices.
#![cfg(all(target_arch = "x86_64", target_os = "linux", target_env = "gnu"))]

use object::{Object, ObjectSection, ObjectSymbol};

/// The function names the layout script lists, in its order.
fn layout_names() -> Vec<String> {
    let script = include_str!("../startup.ld");
    script
        .lines()
        .filter_map(|line| line.trim().strip_prefix("*(.text."))
        .map(|rest| rest.split('*').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn the_layout_lists_the_functions_a_short_run_executes() {
    let names = layout_names();
    assert!(names.len() > 100, "startup.ld lists only {} functions", names.len());
    assert!(names.iter().any(|n| n.contains("strata")), "no function of the cli crate");
    assert!(names.iter().any(|n| n.contains("2vm3run")), "no function of the VM");
}

#[test]
fn the_executable_is_laid_out_by_the_script() {
    let bytes = std::fs::read(env!("CARGO_BIN_EXE_strata")).expect("the strata binary");
    let file = object::File::parse(&*bytes).expect("an ELF file");
    let startup = file
        .section_by_name(".text.startup")
        .expect("strata has a .text.startup section: build.rs passes startup.ld to the linker");
    let range = startup.address()..startup.address() + startup.size();

    // The profile is part of every symbol's hash, and the script was made
    // from a release build; in a debug build only the section is checked.
    if cfg!(debug_assertions) {
        return;
    }
    let placed: std::collections::HashSet<&str> = file
        .symbols()
        .filter(|s| range.contains(&s.address()))
        .filter_map(|s| s.name().ok())
        .map(|name| name.split(".llvm.").next().unwrap_or(name))
        .collect();
    let names = layout_names();
    let missing: Vec<&String> = names.iter().filter(|n| !placed.contains(n.as_str())).collect();
    assert!(
        missing.len() * 10 <= names.len(),
        "{} of startup.ld's {} functions are not in the executable's .text.startup; \
         symbol names have drifted (a toolchain or dependency change). Regenerate \
         the layout: cargo build --release && tools/startup-layout\nfirst missing: {:?}",
        missing.len(),
        names.len(),
        &missing[..missing.len().min(5)]
    );
}

#[test]
fn the_dispatch_loop_starts_a_page_of_its_own_address() {
    // The VM's speed depends on where its dispatch loop falls (up to 1.25x
    // between two addresses), so the script puts it first, page-aligned,
    // where no other function's size can move it.
    assert!(layout_names()[0].contains("2vm3run3Run8dispatch"), "dispatch is not listed first");
    if cfg!(debug_assertions) {
        return;
    }
    let bytes = std::fs::read(env!("CARGO_BIN_EXE_strata")).expect("the strata binary");
    let file = object::File::parse(&*bytes).expect("an ELF file");
    let dispatch = file
        .symbols()
        .find(|s| s.name().is_ok_and(|name| name.contains("2vm3run3Run8dispatch")))
        .expect("the VM's dispatch loop is a function of its own");
    assert_eq!(dispatch.address() % 4096, 0, "dispatch at {:#x}", dispatch.address());
}
