//! Representation sizes that machine code and the ABI depend on.

use runtime::{ObjRef, Value};

#[test]
fn object_kinds_are_numbered_as_documented() {
    use runtime::abi::*;
    let kinds = [
        KIND_STRING,
        KIND_FUNCTION,
        KIND_NATIVE,
        KIND_CLOSURE,
        KIND_UPVALUE,
        KIND_CLASS,
        KIND_INSTANCE,
        KIND_BOUND_METHOD,
        KIND_SHAPE,
    ];
    assert_eq!(kinds, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!((HIT_FIELD, HIT_METHOD, HIT_ADD_FIELD), (0, 1, 2));
    assert_eq!(OBJECT_TAG, 0xfffc_0000_0000_0000);
    assert_eq!(UNDEFINED, 0x7ffc_0000_0000_0004);
}

#[test]
fn value_is_one_word() {
    assert_eq!(size_of::<Value>(), 8);
    assert_eq!(size_of::<Option<ObjRef>>(), 8);
}

#[test]
fn tags_are_as_documented_in_abi_md() {
    assert_eq!(Value::NIL.to_bits(), 0x7ffc_0000_0000_0001);
    assert_eq!(Value::FALSE.to_bits(), 0x7ffc_0000_0000_0002);
    assert_eq!(Value::TRUE.to_bits(), 0x7ffc_0000_0000_0003);
    assert_eq!(Value::number(1.5).to_bits(), 1.5f64.to_bits());
    // Computed NaNs and infinities stay numbers.
    let nan = Value::number(f64::NAN);
    assert!(nan.is_number() && !nan.is_object());
    let zero = std::hint::black_box(0.0f64);
    let computed = Value::number(zero / zero);
    assert!(computed.is_number() && !computed.is_object());
    assert!(Value::number(-0.0).is_number());
}

/// Every offset compiled code uses, at the value `docs/abi.md` documents.
/// A failure here means a layout changed: update `docs/abi.md` and every
/// code generator that relies on it, then this table.
#[test]
fn object_layouts_are_as_documented_in_abi_md() {
    use runtime::abi::*;
    let layout = [
        ("HEADER_KIND", HEADER_KIND),
        ("HEADER_GENERATION", HEADER_GENERATION),
        ("HEADER_REMEMBERED", HEADER_REMEMBERED),
        ("CLOSURE_FUNCTION", CLOSURE_FUNCTION),
        ("CLOSURE_UPVALUES", CLOSURE_UPVALUES),
        ("FUNCTION_ARITY", FUNCTION_ARITY),
        ("FUNCTION_CACHES", FUNCTION_CACHES),
        ("UPVALUE_LOCATION", UPVALUE_LOCATION),
        ("INSTANCE_SHAPE", INSTANCE_SHAPE),
        ("INSTANCE_FIELDS", INSTANCE_FIELDS),
        ("INSTANCE_FIELD_COUNT", INSTANCE_FIELD_COUNT),
        ("INSTANCE_FIELD_CAPACITY", INSTANCE_FIELD_CAPACITY),
        ("CLASS_INITIALIZER", CLASS_INITIALIZER),
        ("BOUND_RECEIVER", BOUND_RECEIVER),
        ("BOUND_METHOD", BOUND_METHOD),
        ("CACHE_SIZE", CACHE_SIZE),
        ("CACHE_WAYS_OFFSET", CACHE_WAYS_OFFSET),
        ("CACHE_ENTRY_SIZE", CACHE_ENTRY_SIZE),
        ("ENTRY_KEY", ENTRY_KEY),
        ("ENTRY_KIND", ENTRY_KIND),
        ("ENTRY_INDEX", ENTRY_INDEX),
        ("ENTRY_TARGET", ENTRY_TARGET),
        ("STACK_BASE", STACK_BASE),
        ("STACK_LEN", STACK_LEN),
        ("GLOBALS_VALUES", GLOBALS_VALUES),
        ("GLOBALS_COUNT", GLOBALS_COUNT),
        ("FUNCTION_ENTRY", FUNCTION_ENTRY),
        ("FUNCTION_FEEDBACK", FUNCTION_FEEDBACK),
        ("FUNCTION_CONSTANTS", FUNCTION_CONSTANTS),
        ("FRAMES_RECORDS", FRAMES_RECORDS),
        ("FRAMES_LEN", FRAMES_LEN),
        ("FRAME_RECORD_SIZE", FRAME_RECORD_SIZE),
        ("FRAME_IP", FRAME_IP),
        ("CONTEXT_STACK", CONTEXT_STACK),
        ("CONTEXT_GLOBALS", CONTEXT_GLOBALS),
        ("CONTEXT_FRAMES", CONTEXT_FRAMES),
        ("CONTEXT_INTERRUPT", CONTEXT_INTERRUPT),
        ("CONTEXT_REMEMBERED", CONTEXT_REMEMBERED),
    ];
    let documented = [
        ("HEADER_KIND", 0),
        ("HEADER_GENERATION", 1),
        ("HEADER_REMEMBERED", 2),
        ("CLOSURE_FUNCTION", 8),
        ("CLOSURE_UPVALUES", 16),
        ("FUNCTION_ARITY", 16),
        ("FUNCTION_CACHES", 24),
        ("UPVALUE_LOCATION", 8),
        ("INSTANCE_SHAPE", 8),
        ("INSTANCE_FIELDS", 16),
        ("INSTANCE_FIELD_COUNT", 24),
        ("INSTANCE_FIELD_CAPACITY", 28),
        ("CLASS_INITIALIZER", 48),
        ("BOUND_RECEIVER", 8),
        ("BOUND_METHOD", 16),
        ("CACHE_SIZE", 208),
        ("CACHE_WAYS_OFFSET", 0),
        ("CACHE_ENTRY_SIZE", 24),
        ("ENTRY_KEY", 0),
        ("ENTRY_KIND", 8),
        ("ENTRY_INDEX", 12),
        ("ENTRY_TARGET", 16),
        ("STACK_BASE", 0),
        ("STACK_LEN", 8),
        ("GLOBALS_VALUES", 0),
        ("GLOBALS_COUNT", 8),
        ("FUNCTION_ENTRY", 40),
        ("FUNCTION_FEEDBACK", 72),
        ("FUNCTION_CONSTANTS", 88),
        ("FRAMES_RECORDS", 0),
        ("FRAMES_LEN", 8),
        ("FRAME_RECORD_SIZE", 40),
        ("FRAME_IP", 8),
        ("CONTEXT_STACK", 0),
        ("CONTEXT_GLOBALS", 8),
        ("CONTEXT_FRAMES", 16),
        ("CONTEXT_INTERRUPT", 32),
        ("CONTEXT_REMEMBERED", 64),
    ];
    assert_eq!(layout, documented);
}

/// The status words compiled code and its helpers return.
#[test]
fn statuses_are_as_documented_in_abi_md() {
    use runtime::abi::*;
    assert_eq!((STATUS_RETURNED, STATUS_RAISED), (0, 1));
    for code in 0..11 {
        let error = ErrorCode::from_u32(code).expect("a documented error code");
        assert_eq!(error as u32, code);
    }
    assert_eq!(ErrorCode::from_u32(11), None);
}

/// The type-feedback bits and the deoptimization reasons.
#[test]
fn feedback_and_deopt_reasons_are_as_documented_in_abi_md() {
    use runtime::abi::*;
    assert_eq!(
        (FEEDBACK_NOT_NUMBER, FEEDBACK_DEOPTED, FEEDBACK_STRESSED, FEEDBACK_NUMBERS),
        (1, 2, 4, 8)
    );
    let reasons = [
        DeoptReason::AddNotNumbers,
        DeoptReason::LoopEntryNotNumber,
        DeoptReason::Stress,
        DeoptReason::UnknownShape,
        DeoptReason::EqualityNotNumbers,
        DeoptReason::FieldsFull,
        DeoptReason::UnknownCallee,
        DeoptReason::FramesFull,
    ];
    for (code, reason) in reasons.into_iter().enumerate() {
        assert_eq!(DeoptReason::from_u32(code as u32), Some(reason));
        assert_eq!(reason as u32, code as u32);
    }
    assert_eq!(DeoptReason::from_u32(8), None);
}
