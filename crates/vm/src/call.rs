//! Calls and closures.

use runtime::{
    Gc, ObjBoundMethod, ObjClass, ObjClosure, ObjKind, ObjNative, ObjUpvalue, Value,
};

use crate::run::{Frame, Raise, Res, Run};

impl Run<'_> {
    /// Call `callee` with the frame's slot 0 at stack slot `base` and
    /// `n_args` arguments above it. A bytecode callee gets a new frame;
    /// anything else completes here, leaving its result at `return_to`.
    pub(crate) fn call_value(
        &mut self,
        callee: Value,
        base: usize,
        n_args: usize,
        return_to: usize,
    ) -> Res<()> {
        let Some(obj) = callee.as_object() else {
            return Err(Raise("Can only call functions and classes.".into()));
        };
        match obj.kind() {
            ObjKind::Closure => {
                let closure = obj.downcast::<ObjClosure>().expect("kind checked");
                self.call_closure(closure, base, n_args, return_to)
            }
            ObjKind::BoundMethod => {
                let bound = obj.downcast::<ObjBoundMethod>().expect("kind checked");
                self.stack.set(base, bound.receiver);
                self.call_closure(bound.method, base, n_args, return_to)
            }
            ObjKind::Class => {
                let class = obj.downcast::<ObjClass>().expect("kind checked");
                // The class stays rooted in its stack slot until replaced.
                let instance = self.heap.instantiate(class).to_value();
                self.stack.set(base, instance);
                match class.initializer() {
                    Some(init) => self.call_closure(init, base, n_args, return_to),
                    None if n_args != 0 => {
                        Err(Raise(format!("Expected 0 arguments but got {n_args}.")))
                    }
                    None => self.finish(return_to, instance),
                }
            }
            ObjKind::Native => {
                let native = obj.downcast::<ObjNative>().expect("kind checked");
                self.call_native(native, base, n_args, return_to)
            }
            _ => Err(Raise("Can only call functions and classes.".into())),
        }
    }

    fn call_native(
        &mut self,
        native: Gc<ObjNative>,
        base: usize,
        n_args: usize,
        return_to: usize,
    ) -> Res<()> {
        if n_args != native.arity as usize {
            return Err(Raise(format!("Expected {} arguments but got {n_args}.", native.arity)));
        }
        let args = self.stack.slice_to_vec(base + 1..base + 1 + n_args);
        let result = (native.function)(self.heap, &args).map_err(Raise)?;
        self.finish(return_to, result)
    }

    /// A call that completed without a frame: its result replaces the callee.
    fn finish(&mut self, return_to: usize, result: Value) -> Res<()> {
        self.stack.truncate(return_to);
        self.push(result)
    }

    fn call_closure(
        &mut self,
        closure: Gc<ObjClosure>,
        base: usize,
        n_args: usize,
        return_to: usize,
    ) -> Res<()> {
        let function = closure.function;
        if n_args != function.arity as usize {
            return Err(Raise(format!("Expected {} arguments but got {n_args}.", function.arity)));
        }
        if self.frames.len() >= runtime::MAX_FRAMES {
            return Err(Raise("Stack overflow.".into()));
        }
        let func = function.proto as usize;
        let frame = Frame { closure: Some(closure), func, ip: 0, base, return_to };
        self.frames.push(frame);
        Ok(())
    }

    /// A closure over loaded function `index`, capturing from `frame`.
    pub(crate) fn make_closure(&mut self, index: usize, frame: Frame) -> Res<Gc<ObjClosure>> {
        let loaded = &self.functions[index];
        let mut upvalues: Vec<Gc<ObjUpvalue>> = Vec::with_capacity(loaded.function.captures.len());
        for capture in &loaded.function.captures {
            // Captures of the enclosing closure stay reachable through it
            // (it is in the caller's frame); new open upvalues are roots.
            let upvalue = if capture.is_local {
                self.heap.capture_upvalue((frame.base + capture.index as usize) as u32)
            } else {
                frame.closure.expect("nested functions run in a closure").upvalues
                    [capture.index as usize]
            };
            upvalues.push(upvalue);
        }
        Ok(self.heap.alloc(ObjClosure::new(loaded.object, upvalues.into_boxed_slice())))
    }
}
