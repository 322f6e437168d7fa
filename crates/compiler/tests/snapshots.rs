//! Snapshot tests of the compiler's output, in the disassembler's text form.
//!
//! Each `snapshots/NAME.lox` compiles to the listing in `NAME.disasm`. A
//! change to code generation shows up as a diff of listings; when the new
//! listing is the intended one, re-bless every snapshot with
//!
//! ```text
//! UPDATE_EXPECT=1 cargo test --release -p compiler --test snapshots
//! ```
//!
//! and review the diff of the `.disasm` files like any other change. Every
//! listed module must also pass the verifier.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use resolve::FrontEnd;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("the snapshots directory")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "lox"))
        .collect();
    sources.sort();
    assert!(!sources.is_empty(), "no snapshot programs in {}", dir.display());
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
    let text = std::fs::read_to_string(source)?;
    let mut front = FrontEnd::new();
    let program = front.compile(&text).map_err(|errors| {
        let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        format!("does not compile:\n{}", messages.join("\n"))
    })?;
    let module = compiler::compile(&program, &front);
    bytecode::verify(&module).map_err(|error| format!("fails verification: {error}"))?;
    let listing = bytecode::disassemble(&module);
    // Panics with a diff (or, under UPDATE_EXPECT, rewrites the file).
    expect_test::expect_file![source.with_extension("disasm")].assert_eq(&listing);
    Ok(())
}
