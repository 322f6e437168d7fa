//! What calling a value means, decided once for every engine: which
//! closure runs and with what in slot 0, or the call's result when no frame
//! is needed (a native, a class without an initializer), or the runtime
//! error. Engines differ only in how they run a closure's frame.

use crate::abi::ErrorCode;
use crate::class::{ObjBoundMethod, ObjClass};
use crate::error::messages;
use crate::gc::OUT_OF_MEMORY;
use crate::heap::Heap;
use crate::object::{Gc, ObjClosure, ObjFunction, ObjKind, ObjNative};
use crate::value::Value;

/// Whether `function` takes `n_args` arguments, else the error message.
#[inline(always)]
pub fn check_arity(function: &ObjFunction, n_args: usize) -> Result<(), String> {
    if n_args == function.arity as usize {
        Ok(())
    } else {
        Err(messages::arity(function.arity, n_args))
    }
}

/// What a call does.
#[derive(Debug, Clone, Copy)]
pub enum Call {
    /// Run `closure` in a new frame whose slot 0 is the callee's slot,
    /// after writing `slot_zero` there if it is `Some` (a bound method's
    /// receiver, a new instance). The engine checks the arity.
    Closure { closure: Gc<ObjClosure>, slot_zero: Option<Value> },
    /// The call is complete: its result replaces the callee.
    Done(Value),
}

/// What calling `callee` with `args` does. May allocate (an instance, a
/// native's result): the callee and the arguments are in the caller's
/// stack, which is a root.
pub fn prepare_call(heap: &Heap, callee: Value, args: &[Value]) -> Result<Call, String> {
    let Some(obj) = callee.as_object() else {
        return Err(ErrorCode::NotCallable.message().to_string());
    };
    match obj.kind() {
        ObjKind::Closure => {
            let closure = obj.downcast::<ObjClosure>().expect("kind checked");
            Ok(Call::Closure { closure, slot_zero: None })
        }
        ObjKind::BoundMethod => {
            let bound = obj.downcast::<ObjBoundMethod>().expect("kind checked");
            Ok(Call::Closure { closure: bound.method, slot_zero: Some(bound.receiver) })
        }
        ObjKind::Class => {
            let class = obj.downcast::<ObjClass>().expect("kind checked");
            let instance = heap.instantiate(class).map_err(|_| OUT_OF_MEMORY.to_string())?;
            match class.initializer() {
                Some(init) => {
                    Ok(Call::Closure { closure: init, slot_zero: Some(instance.to_value()) })
                }
                None if !args.is_empty() => Err(messages::arity(0, args.len())),
                None => Ok(Call::Done(instance.to_value())),
            }
        }
        ObjKind::Native => {
            let native = obj.downcast::<ObjNative>().expect("kind checked");
            call_native(heap, native, args).map(Call::Done)
        }
        _ => Err(ErrorCode::NotCallable.message().to_string()),
    }
}

/// Run a native function, checking its arity.
pub fn call_native(heap: &Heap, native: Gc<ObjNative>, args: &[Value]) -> Result<Value, String> {
    if args.len() != native.arity as usize {
        return Err(messages::arity(native.arity, args.len()));
    }
    (native.function)(heap, args)
}
