//! The `.loxc` file format: round trips, the exact bytes, and that damaged
//! or hostile files are refused with the right error and never a panic.

use bytecode::{
    Capture, Chunk, Constant, FORMAT_VERSION, FileError, Function, FunctionKind, LineRun, MAGIC,
    Module, OPCODES, Op, read_module, write_module,
};

/// The header's size, from the layout in `file.rs`'s docs.
const HEADER_LEN: usize = 20;

// ---------------------------------------------------------------------------
// Modules to write.

fn script(chunk: Chunk) -> Function {
    Function {
        name: None,
        kind: FunctionKind::Script,
        arity: 0,
        captures: Vec::new(),
        max_stack: 1,
        chunk,
    }
}

/// `print 1 + -0;` with nothing else.
fn tiny_module() -> Module {
    let mut chunk = Chunk::default();
    let one = chunk.add_constant(Constant::Number(1.0));
    let zero = chunk.add_constant(Constant::Number(-0.0));
    chunk.emit_op(Op::Constant, 1);
    chunk.emit_u32(one);
    chunk.emit_op(Op::Constant, 1);
    chunk.emit_u32(zero);
    chunk.emit_op(Op::Negate, 1);
    chunk.emit_op(Op::Add, 1);
    chunk.emit_op(Op::Print, 1);
    chunk.emit_op(Op::Nil, 2);
    chunk.emit_op(Op::Return, 2);
    Module { functions: vec![script(chunk)], script: 0, globals: Vec::new() }
}

/// A script, a closure capturing a local and an upvalue, a class with a
/// method and an initializer, non-ASCII names and strings, odd numbers.
fn rich_module() -> Module {
    let mut main = Chunk::default();
    let greeting = main.add_constant(Constant::String("héllo, wörld — 你好 🦀".into()));
    let nan = main.add_constant(Constant::Number(f64::NAN));
    let odd_nan = main.add_constant(Constant::Number(f64::from_bits(0x7ff8_dead_beef_0001)));
    let neg_zero = main.add_constant(Constant::Number(-0.0));
    let zero = main.add_constant(Constant::Number(0.0));
    let inf = main.add_constant(Constant::Number(f64::NEG_INFINITY));
    let tiny = main.add_constant(Constant::Number(f64::MIN_POSITIVE / 2.0));
    let empty = main.add_constant(Constant::String(String::new()));
    let class_name = main.add_constant(Constant::String("Çlass".into()));
    for (line, constant) in
        [greeting, nan, odd_nan, neg_zero, zero, inf, tiny, empty].into_iter().enumerate()
    {
        main.emit_op(Op::Constant, line as u32 + 1);
        main.emit_u32(constant);
        main.emit_op(Op::Print, line as u32 + 1);
    }
    main.emit_op(Op::Closure, 10);
    main.emit_u32(1);
    main.emit_op(Op::DefineGlobal, 10);
    main.emit_u32(0);
    main.emit_op(Op::Class, 11);
    main.emit_u32(class_name);
    main.emit_op(Op::Closure, 12);
    main.emit_u32(2);
    main.emit_op(Op::DefineMethod, 12);
    main.emit_u32(class_name);
    main.emit_op(Op::Jump, 13);
    main.emit_u32(0);
    main.emit_op(Op::Loop, 13);
    main.emit_u32(5);
    main.emit_op(Op::Nil, 14);
    main.emit_op(Op::Return, 14);

    let mut closure = Chunk::default();
    closure.emit_op(Op::GetUpvalue, 20);
    closure.emit_u8(0);
    closure.emit_op(Op::GetUpvalue, 20);
    closure.emit_u8(1);
    closure.emit_op(Op::Add, 20);
    closure.emit_op(Op::Return, 21);

    let mut init = Chunk::default();
    let name = init.add_constant(Constant::String("ñame".into()));
    let field = init.add_site(name);
    init.emit_op(Op::GetLocal, 30);
    init.emit_u8(0);
    init.emit_op(Op::GetLocal, 30);
    init.emit_u8(1);
    init.emit_op(Op::SetProperty, 30);
    init.emit_u32(field);
    init.emit_op(Op::Pop, 30);
    init.emit_op(Op::GetLocal, 31);
    init.emit_u8(0);
    init.emit_op(Op::Return, 31);

    let mut method = Chunk::default();
    method.emit_op(Op::GetLocal, 40);
    method.emit_u8(0);
    method.emit_op(Op::Method, 40);
    method.emit_u32(0);
    method.emit_op(Op::CallMethod, 40);
    method.emit_u8(0);
    method.emit_op(Op::Return, 40);
    method.add_constant(Constant::String("init".into()));

    Module {
        functions: vec![
            Function { max_stack: 3, ..script(main) },
            Function {
                name: Some("ädd".into()),
                kind: FunctionKind::Function,
                arity: 0,
                captures: vec![
                    Capture { is_local: true, index: 1, by_value: false },
                    Capture { is_local: false, index: 255, by_value: true },
                ],
                max_stack: 3,
                chunk: closure,
            },
            Function {
                name: Some("init".into()),
                kind: FunctionKind::Initializer,
                arity: 1,
                captures: Vec::new(),
                max_stack: 4,
                chunk: init,
            },
            Function {
                name: Some(String::new()),
                kind: FunctionKind::Method,
                arity: 255,
                captures: Vec::new(),
                max_stack: u32::MAX,
                chunk: method,
            },
        ],
        script: 0,
        globals: vec!["ädd".into(), "x".into(), String::new(), "日本".into()],
    }
}

fn round_trip_cases() -> Vec<(&'static str, Module)> {
    vec![
        ("empty", Module { functions: Vec::new(), script: 0, globals: Vec::new() }),
        (
            "script with an empty chunk",
            Module { functions: vec![script(Chunk::default())], script: 0, globals: Vec::new() },
        ),
        ("tiny", tiny_module()),
        ("rich", rich_module()),
        // These two are nonsense to the verifier, but reading leaves meaning
        // to it: the format only has to carry them faithfully.
        ("out-of-range script index", Module { script: 7, ..tiny_module() }),
        (
            "unsorted line table past the end of the code",
            Module {
                functions: vec![script(Chunk {
                    code: vec![0xff, 0xfe],
                    constants: Vec::new(),
                    sites: vec![3, u32::MAX],
                    lines: vec![
                        LineRun { offset: 9, line: 2 },
                        LineRun { offset: 0, line: u32::MAX },
                    ],
                })],
                script: 0,
                globals: Vec::new(),
            },
        ),
    ]
}

/// `Module`'s `==` says NaN != NaN; the format promises the exact bits, so
/// compare numbers by bits and everything else as usual.
fn assert_same(actual: &Module, expected: &Module, case: &str) {
    let bits = |module: &Module| -> Vec<Vec<Option<u64>>> {
        module
            .functions
            .iter()
            .map(|function| {
                function
                    .chunk
                    .constants
                    .iter()
                    .map(|constant| match constant {
                        Constant::Number(value) => Some(value.to_bits()),
                        Constant::String(_) => None,
                    })
                    .collect()
            })
            .collect()
    };
    // With every number replaced by 0, `==` compares the rest exactly.
    let without_numbers = |module: &Module| {
        let mut module = module.clone();
        for function in &mut module.functions {
            for constant in &mut function.chunk.constants {
                if let Constant::Number(value) = constant {
                    *value = 0.0;
                }
            }
        }
        module
    };
    assert_eq!(bits(actual), bits(expected), "{case}: number bits");
    assert_eq!(without_numbers(actual), without_numbers(expected), "{case}: structure");
}

// ---------------------------------------------------------------------------
// Writing files by hand.

/// `payload` behind a header with the right version, length and checksum.
fn seal(payload: &[u8]) -> Vec<u8> {
    let mut file = Vec::with_capacity(HEADER_LEN + payload.len());
    file.extend_from_slice(&MAGIC);
    file.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    file.extend_from_slice(&0u16.to_le_bytes());
    file.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    file.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    file.extend_from_slice(payload);
    file
}

/// A payload under construction, for hand-crafted files.
#[derive(Default)]
struct Payload(Vec<u8>);

impl Payload {
    fn u8(mut self, value: u8) -> Self {
        self.0.push(value);
        self
    }
    fn u32(mut self, value: u32) -> Self {
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }
    fn bytes(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    fn str(self, text: &[u8]) -> Self {
        self.u32(text.len() as u32).bytes(text)
    }
    /// No globals, script 0, and `n` functions to follow.
    fn functions(n: u32) -> Self {
        Payload::default().u32(0).u32(0).u32(n)
    }
    /// An unnamed script's fields up to and including `max_stack`.
    fn script_head(self) -> Self {
        self.u8(0).u8(0).u8(0).u32(0).u32(1)
    }
    fn file(&self) -> Vec<u8> {
        seal(&self.0)
    }
}

fn read_payload(payload: Payload) -> Result<Module, FileError> {
    read_module(&payload.file())
}

// ---------------------------------------------------------------------------
// Round trips and the exact bytes.

#[test]
fn modules_round_trip() {
    for (case, module) in round_trip_cases() {
        let bytes = write_module(&module).unwrap();
        let read = read_module(&bytes).unwrap_or_else(|err| panic!("{case}: {err}"));
        assert_same(&read, &module, case);
        // Every field has one encoding, so writing again gives the same bytes.
        assert_eq!(write_module(&read).unwrap(), bytes, "{case}: rewritten bytes");
    }
}

#[test]
fn modules_without_nan_round_trip_by_plain_equality() {
    assert_eq!(read_module(&write_module(&tiny_module()).unwrap()), Ok(tiny_module()));
}

#[test]
fn the_header_is_laid_out_as_documented() {
    let bytes = write_module(&tiny_module()).unwrap();
    let payload = &bytes[HEADER_LEN..];
    assert_eq!(&bytes[0..8], &[0x89, b'L', b'O', b'X', b'C', b'\r', b'\n', 0x1a]);
    assert_eq!(MAGIC, *b"\x89LOXC\r\n\x1a");
    assert_eq!(&bytes[8..10], &[4, 0], "version 4, little-endian");
    assert_eq!(FORMAT_VERSION, 4);
    assert_eq!(&bytes[10..12], &[0, 0], "reserved");
    assert_eq!(&bytes[12..16], &(payload.len() as u32).to_le_bytes());
    assert_eq!(&bytes[16..20], &crc32fast::hash(payload).to_le_bytes());
}

#[test]
fn a_small_module_has_these_exact_bytes() {
    // Pins the encoding: if this changes, old files mean something else, so
    // FORMAT_VERSION must change with it.
    let mut chunk = Chunk::default();
    let pi = chunk.add_constant(Constant::Number(1.5));
    let s = chunk.add_constant(Constant::String("é".into()));
    chunk.emit_op(Op::Constant, 3);
    chunk.emit_u32(pi);
    chunk.emit_op(Op::Return, 4);
    chunk.sites.push(s);
    let module = Module {
        functions: vec![Function {
            name: Some("f".into()),
            kind: FunctionKind::Method,
            arity: 2,
            captures: vec![Capture { is_local: true, index: 9, by_value: true }],
            max_stack: 5,
            chunk,
        }],
        script: 0,
        globals: vec!["g".into()],
    };
    assert_eq!(s, 1);
    #[rustfmt::skip]
    let payload: &[u8] = &[
        1, 0, 0, 0, 1, 0, 0, 0, b'g', // globals: ["g"]
        0, 0, 0, 0, // script 0
        1, 0, 0, 0, // one function
        1, 1, 0, 0, 0, b'f', // name Some("f")
        2, 2, // kind Method, arity 2
        1, 0, 0, 0, 1, 9, 1, // captures: [local 9 by value]
        5, 0, 0, 0, // max_stack 5
        6, 0, 0, 0, 0, 0, 0, 0, 0, Op::Return as u8, // code: Constant 0, Return
        2, 0, 0, 0, // two constants
        0, 0, 0, 0, 0, 0, 0, 0xf8, 0x3f, // 1.5
        1, 2, 0, 0, 0, 0xc3, 0xa9, // "é"
        1, 0, 0, 0, 1, 0, 0, 0, // sites: [constant 1]
        2, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 5, 0, 0, 0, 4, 0, 0, 0, // lines
    ];
    assert_eq!(write_module(&module).unwrap(), seal(payload));
}

#[test]
fn the_opcode_table_is_pinned_to_the_format_version() {
    // Code is stored as opcode bytes, so renumbering or reshaping an opcode
    // changes what every old file means. When this fails, bump
    // FORMAT_VERSION in file.rs, then update both numbers here.
    let mut table = String::new();
    for info in OPCODES {
        table.push_str(&format!("{}{:?};", info.name, info.operands));
    }
    assert_eq!(
        (FORMAT_VERSION, crc32fast::hash(table.as_bytes())),
        (4, 0x2bd3_851c),
        "the opcode table changed: bump FORMAT_VERSION"
    );
}

// ---------------------------------------------------------------------------
// The container.

#[test]
fn other_files_are_not_bytecode() {
    for bytes in
        [&b"\x7fELF\x02\x01\x01\0"[..], b"print 1;\n", b"LOXD", b"LOX\0", b"x", b"loxc\x01\0\0\0"]
    {
        assert_eq!(read_module(bytes), Err(FileError::NotBytecode), "{bytes:?}");
    }
    let mut bytes = write_module(&tiny_module()).unwrap();
    bytes[0] = b'l';
    assert_eq!(read_module(&bytes), Err(FileError::NotBytecode));
}

#[test]
fn another_version_is_refused_with_both_versions() {
    let mut bytes = write_module(&tiny_module()).unwrap();
    bytes[8..10].copy_from_slice(&1u16.to_le_bytes());
    let err = read_module(&bytes).unwrap_err();
    assert_eq!(err, FileError::UnsupportedVersion { found: 1, supported: FORMAT_VERSION });
    let message = err.to_string();
    assert!(
        message.contains("version 1")
            && message.contains(&format!("reads version {FORMAT_VERSION}")),
        "{message}"
    );
    // The version is checked before everything after it, even a bad payload.
    bytes.truncate(10);
    assert!(matches!(read_module(&bytes), Err(FileError::UnsupportedVersion { found: 1, .. })));
}

#[test]
fn the_reserved_field_must_be_zero() {
    let mut bytes = write_module(&tiny_module()).unwrap();
    bytes[11] = 0x80;
    assert_eq!(read_module(&bytes), Err(FileError::ReservedNotZero { value: 0x8000 }));
}

#[test]
fn a_trailing_byte_is_refused() {
    let mut bytes = write_module(&tiny_module()).unwrap();
    bytes.push(0);
    assert_eq!(read_module(&bytes), Err(FileError::TrailingBytes { count: 1 }));
}

#[test]
fn a_corrupt_payload_fails_the_checksum() {
    let mut bytes = write_module(&tiny_module()).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    assert!(matches!(read_module(&bytes), Err(FileError::ChecksumMismatch { .. })));
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = write_module(&rich_module()).unwrap();
    for len in 0..bytes.len() {
        let err = read_module(&bytes[..len]).expect_err("a prefix must not load");
        let expected = if len < HEADER_LEN {
            matches!(err, FileError::Truncated { .. })
        } else {
            matches!(err, FileError::TruncatedPayload { .. })
        };
        assert!(expected, "cut at {len}: {err}");
    }
}

#[test]
fn every_single_bit_flip_is_an_error() {
    // Each header field refuses any change to it, and CRC-32 catches every
    // single-bit error in the payload.
    let bytes = write_module(&tiny_module()).unwrap();
    let mut flipped = bytes.clone();
    for index in 0..bytes.len() {
        for bit in 0..8 {
            flipped[index] ^= 1 << bit;
            let err = read_module(&flipped).expect_err("a flipped bit must not load");
            let expected = match index {
                0..8 => matches!(err, FileError::NotBytecode),
                8..10 => matches!(err, FileError::UnsupportedVersion { .. }),
                10..12 => matches!(err, FileError::ReservedNotZero { .. }),
                12..16 => matches!(
                    err,
                    FileError::TruncatedPayload { .. } | FileError::TrailingBytes { .. }
                ),
                _ => matches!(err, FileError::ChecksumMismatch { .. }),
            };
            assert!(expected, "byte {index} bit {bit}: {err}");
            flipped[index] ^= 1 << bit;
        }
    }
}

// ---------------------------------------------------------------------------
// The structure, behind a correct checksum.

#[test]
fn huge_counts_are_refused_before_allocating() {
    let cases = [
        ("the globals count", Payload::default().u32(u32::MAX)),
        ("the length of a global's name", Payload::default().u32(1).u32(u32::MAX)),
        ("the function count", Payload::functions(u32::MAX)),
        (
            // 1000 functions need at least 23,000 bytes; 100 are there.
            "the function count",
            Payload::functions(1000).bytes(&[0; 100]),
        ),
        ("the length of a function's name", Payload::functions(1).u8(1).u32(0xFFFF_FFF0)),
        ("a function's captures count", Payload::functions(1).u8(0).u8(0).u8(0).u32(u32::MAX)),
        ("a function's code length", Payload::functions(1).script_head().u32(u32::MAX)),
        ("a function's constants count", Payload::functions(1).script_head().u32(0).u32(u32::MAX)),
        (
            "the length of a string constant",
            Payload::functions(1).script_head().u32(0).u32(1).u8(1).u32(u32::MAX),
        ),
        (
            "a function's sites count",
            Payload::functions(1).script_head().u32(0).u32(0).u32(u32::MAX),
        ),
        (
            "a function's line table count",
            Payload::functions(1).script_head().u32(0).u32(0).u32(0).u32(u32::MAX),
        ),
    ];
    for (what, payload) in cases {
        // Padding shows the count is refused for being too large, not for
        // running into the end of the payload.
        match read_payload(payload.bytes(&[0; 24])) {
            Err(FileError::CountTooLarge { what: got, .. }) => assert_eq!(got, what),
            other => panic!("{what}: {other:?}"),
        }
    }
}

#[test]
fn a_huge_count_is_refused_quickly() {
    // Four billion functions behind a valid checksum: refused at the count,
    // not after trying to allocate or loop over them.
    let file = Payload::functions(0xFFFF_FFFF).file();
    let start = std::time::Instant::now();
    let err = read_module(&file).unwrap_err();
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(
        err.to_string(),
        "the function count at byte 28 is 4294967295, more than the 0 bytes left can hold"
    );
}

#[test]
fn structural_errors_name_what_broke() {
    let cases: Vec<(Payload, FileError)> = vec![
        (Payload::default(), FileError::Truncated { what: "the globals count", offset: 20 }),
        (
            Payload::default().u32(1).str(b"ok\xff"),
            FileError::InvalidUtf8 { what: "a global's name", offset: 28 },
        ),
        (
            Payload::functions(1).u8(2).bytes(&[0; 26]),
            FileError::InvalidFlag { what: "a function's name flag", offset: 32, value: 2 },
        ),
        (
            Payload::functions(1).u8(1).str(b"\xc3").bytes(&[0; 26]),
            FileError::InvalidUtf8 { what: "a function's name", offset: 37 },
        ),
        (
            Payload::functions(1).u8(0).u8(4).bytes(&[0; 25]),
            FileError::UnknownFunctionKind { offset: 33, value: 4 },
        ),
        (
            Payload::functions(1).u8(0).u8(1).u8(0).u32(1).u8(2).u8(0).bytes(&[0; 20]),
            FileError::InvalidFlag { what: "a capture's is_local flag", offset: 39, value: 2 },
        ),
        (
            Payload::functions(1).u8(0).u8(1).u8(0).u32(1).u8(1).u8(0).u8(3).bytes(&[0; 20]),
            FileError::InvalidFlag { what: "a capture's by_value flag", offset: 41, value: 3 },
        ),
        (
            Payload::functions(1).script_head().u32(0).u32(1).u8(2).bytes(&[0; 8]),
            FileError::UnknownConstantTag { offset: 51, tag: 2 },
        ),
        (
            Payload::functions(1).script_head().u32(0).u32(1).u8(0).bytes(&[0; 7]),
            FileError::Truncated { what: "a number constant", offset: 52 },
        ),
        (
            Payload::functions(1).script_head().u32(0).u32(0).u32(0).u32(0).u8(0),
            FileError::UnusedPayload { count: 1 },
        ),
        (
            Payload::functions(1).script_head().u32(0).u32(0).u32(0).u32(1).u32(0),
            FileError::CountTooLarge {
                what: "a function's line table count",
                offset: 55,
                count: 1,
                remaining: 4,
            },
        ),
    ];
    for (payload, expected) in cases {
        assert_eq!(read_payload(payload), Err(expected));
    }
}

#[test]
fn every_error_message_is_one_line() {
    let errors = [
        FileError::NotBytecode,
        FileError::UnsupportedVersion { found: 9, supported: 1 },
        FileError::ReservedNotZero { value: 1 },
        FileError::TruncatedPayload { declared: 10, present: 3 },
        FileError::TrailingBytes { count: 2 },
        FileError::ChecksumMismatch { stored: 1, computed: 2 },
        FileError::Truncated { what: "the script index", offset: 20 },
        FileError::CountTooLarge { what: "the function count", offset: 24, count: 7, remaining: 0 },
        FileError::InvalidUtf8 { what: "a global's name", offset: 20 },
        FileError::InvalidFlag { what: "a function's name flag", offset: 28, value: 2 },
        FileError::UnknownFunctionKind { offset: 29, value: 9 },
        FileError::UnknownConstantTag { offset: 40, tag: 7 },
        FileError::UnusedPayload { count: 3 },
    ];
    for err in errors {
        let message = err.to_string();
        assert!(!message.is_empty() && !message.contains('\n'), "{message:?}");
    }
    assert_eq!(
        FileError::NotBytecode.to_string(),
        "not a Strata bytecode file (it does not start with the bytecode magic)"
    );
}

// ---------------------------------------------------------------------------
// Random damage behind a correct checksum, so the parser itself is hit.

/// xorshift64*: deterministic, no dependency, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn mutate(payload: &mut Vec<u8>, rng: &mut Rng) {
    const INTERESTING: [u32; 8] = [0, 1, 2, 0x7f, 0xff, 0xffff, 0x7fff_ffff, u32::MAX];
    let at = rng.below(payload.len().max(1));
    match rng.below(7) {
        0 => {
            if let Some(byte) = payload.get_mut(at) {
                *byte ^= 1 << rng.below(8);
            }
        }
        1 => {
            if let Some(byte) = payload.get_mut(at) {
                *byte = rng.next() as u8;
            }
        }
        2 => payload.insert(at.min(payload.len()), rng.next() as u8),
        3 => {
            if at < payload.len() {
                payload.remove(at);
            }
        }
        4 => {
            if at + 4 <= payload.len() {
                let value = INTERESTING[rng.below(INTERESTING.len())];
                payload[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
        }
        5 => {
            if at + 4 <= payload.len() {
                let value = rng.below(64) as u32;
                payload[at..at + 4].copy_from_slice(&value.to_le_bytes());
            }
        }
        _ => payload.truncate(at),
    }
}

#[test]
fn random_mutations_behind_a_valid_checksum_never_panic() {
    let original = write_module(&rich_module()).unwrap();
    let payload = &original[HEADER_LEN..];
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut loaded = 0;
    for _ in 0..20_000 {
        let mut mutated = payload.to_vec();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut mutated, &mut rng);
        }
        let file = seal(&mutated);
        match read_module(&file) {
            // The encoding is canonical: what loads writes back identically.
            Ok(module) => {
                loaded += 1;
                assert_eq!(write_module(&module).unwrap(), file, "non-canonical load");
            }
            Err(err) => assert!(
                !matches!(
                    err,
                    FileError::NotBytecode
                        | FileError::UnsupportedVersion { .. }
                        | FileError::ReservedNotZero { .. }
                        | FileError::TruncatedPayload { .. }
                        | FileError::TrailingBytes { .. }
                        | FileError::ChecksumMismatch { .. }
                ),
                "the header was sealed, yet: {err}"
            ),
        }
    }
    // Some mutations (inside code or a string) leave a loadable module;
    // if none did, the mutator is broken.
    assert!(loaded > 100, "only {loaded} mutants loaded");
}
