//! `docs/bytecode.md` is the opcode table, rendered.

#[test]
fn bytecode_reference_matches_the_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/bytecode.md");
    let generated = bytecode::opcode_reference();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/bytecode.md");
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "docs/bytecode.md is stale: run UPDATE_DOCS=1 cargo test --release -p bytecode"
    );
}

#[test]
fn every_opcode_has_at_most_one_operand() {
    // `Instruction` carries one operand; a wider opcode needs it extended.
    for info in bytecode::OPCODES {
        assert!(info.operands.len() <= 1, "{}", info.name);
    }
}
