//! Snapshot tests of the JIT's lowering: each `jit_listings/NAME.lox` lists
//! as the Cranelift IR in `NAME.clif` (`strata disasm --jit`, IR only: the
//! machine code holds the helpers' addresses, which differ between runs).
//! The IR names objects by address too (the function a `fun` declaration
//! makes a closure of, a string constant), as a boxed value: each is
//! written `<object>` here.
//!
//! A change to the lowering shows up as a diff of IR; when the new IR is
//! the intended one, re-bless every snapshot with
//!
//! ```text
//! UPDATE_EXPECT=1 cargo test --release -p driver --test jit_listings
//! ```
//!
//! and review the diff of the `.clif` files like any other change.

use std::path::{Path, PathBuf};

use driver::{DiagnosticStyle, Listing, ListingOptions};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/jit_listings");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the listings directory")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "lox"))
        .collect();
    sources.sort();
    assert!(!sources.is_empty(), "no programs in {}", dir.display());
    let trials = sources
        .into_iter()
        .map(|source| {
            let name = source.file_stem().unwrap().to_string_lossy().into_owned();
            Trial::test(name, move || check(&source))
        })
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

fn check(source: &Path) -> Result<(), Failed> {
    let text = std::fs::read(source)?;
    let mut err = Vec::new();
    let options = ListingOptions { ir: true, machine_code: false };
    let listing =
        driver::disassemble(&text, &DiagnosticStyle::Plain, &mut err, Listing::Jit(options))
            .map_err(|error| format!("no listing: {error:?}: {}", String::from_utf8_lossy(&err)))?;
    if listing.contains("stays in the VM") {
        return Err(format!("a function was not compiled:\n{listing}").into());
    }
    // Panics with a diff (or, under UPDATE_EXPECT, rewrites the file).
    expect_test::expect_file![source.with_extension("clif")].assert_eq(&without_objects(&listing));
    Ok(())
}

/// `listing` with every boxed object (a value with the object tag, which
/// the IR prints as a negative decimal) written `<object>`.
fn without_objects(listing: &str) -> String {
    const OBJECT_TAG: i64 = runtime::abi::OBJECT_TAG as i64;
    const ADDRESS_MASK: i64 = runtime::abi::ADDRESS_MASK as i64;
    let is_object = |number: i64| number & !ADDRESS_MASK == OBJECT_TAG && number != OBJECT_TAG;
    let mut out = String::with_capacity(listing.len());
    let mut rest = listing;
    while let Some(start) = rest.find('-') {
        out.push_str(&rest[..start]);
        let digits =
            rest[start + 1..].find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len() - start - 1);
        let token = &rest[start..start + 1 + digits];
        match token.parse::<i64>() {
            Ok(number) if is_object(number) => out.push_str("<object>"),
            _ => out.push_str(token),
        }
        rest = &rest[start + 1 + digits..];
    }
    out.push_str(rest);
    out
}
