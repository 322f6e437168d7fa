//! Representation sizes that machine code and the ABI depend on.

use runtime::{ObjRef, Value};

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
