//! Native functions every engine defines as globals.

use std::sync::OnceLock;
use std::time::Instant;

use crate::Heap;
use crate::object::{NativeFn, ObjNative, Object};
use crate::value::Value;

/// A native function as the engines install it.
#[derive(Debug, Clone, Copy)]
pub struct NativeSpec {
    pub name: &'static str,
    pub arity: u8,
    pub function: NativeFn,
}

/// Every native, in the order their global slots are assigned.
pub const NATIVES: &[NativeSpec] = &[NativeSpec { name: "clock", arity: 0, function: clock }];

/// Allocate every native and store it in the global slot `slot_for` gives
/// its name (the front end's numbering), as every engine starts.
pub fn define_natives(heap: &Heap, mut slot_for: impl FnMut(&str) -> u32) {
    for native in NATIVES {
        let slot = slot_for(native.name);
        let native = ObjNative::new(native.name, native.arity, native.function);
        // Part of every heap's start, which no heap limit is below.
        let size = native.heap_size();
        let object = heap.alloc_unchecked(native, size);
        heap.globals().set(slot as usize, object.to_value());
    }
}

/// Seconds since the first call in this process, for timing programs.
fn clock(_: &Heap, _: &[Value]) -> Result<Value, String> {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = START.get_or_init(Instant::now);
    Ok(Value::number(start.elapsed().as_secs_f64()))
}
