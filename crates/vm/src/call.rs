//! Calls of everything but plain closures (which the loop enters itself),
//! and making closures.

use runtime::{Gc, ObjBoundMethod, ObjClass, ObjClosure, ObjKind, ObjNative, ObjUpvalue, Value};

use crate::run::{Frame, Raise, Res, Run, arity_error, error};

impl Run<'_> {
    /// Call `callee` with the frame's slot 0 at `base` and `n_args`
    /// arguments above it. A method or initializer gets a new frame;
    /// anything else completes here, leaving its result at `return_to`.
    ///
    /// The caller has published the stack and saved its `ip`; this
    /// publishes the stack again before it returns.
    pub(crate) fn call_value(
        &mut self,
        callee: Value,
        base: *mut Value,
        n_args: usize,
        return_to: *mut Value,
    ) -> Res<()> {
        let Some(obj) = callee.as_object() else {
            return Err(error("Can only call functions and classes."));
        };
        match obj.kind() {
            ObjKind::Closure => {
                let closure = obj.downcast::<ObjClosure>().expect("kind checked");
                self.push_frame(closure, base, n_args, return_to).map(drop)
            }
            ObjKind::BoundMethod => {
                let bound = obj.downcast::<ObjBoundMethod>().expect("kind checked");
                // SAFETY: `base` is a live slot of the stack.
                unsafe { base.write(bound.receiver) };
                self.push_frame(bound.method, base, n_args, return_to).map(drop)
            }
            ObjKind::Class => {
                let class = obj.downcast::<ObjClass>().expect("kind checked");
                // The class stays rooted in its stack slot until replaced.
                let instance = self.heap.instantiate(class)?.to_value();
                // SAFETY: as above.
                unsafe { base.write(instance) };
                match class.initializer() {
                    Some(init) => self.push_frame(init, base, n_args, return_to).map(drop),
                    None if n_args != 0 => Err(arity_error(0, n_args)),
                    None => {
                        self.finish(return_to, instance);
                        Ok(())
                    }
                }
            }
            ObjKind::Native => {
                let native = obj.downcast::<ObjNative>().expect("kind checked");
                if n_args != native.arity as usize {
                    return Err(arity_error(native.arity, n_args));
                }
                // SAFETY: the arguments are the `n_args` published slots
                // above `base`; a native may allocate, and a collection
                // only reads the stack.
                let args = unsafe { std::slice::from_raw_parts(base.add(1), n_args) };
                let result = (native.function)(self.heap, args).map_err(Raise::lox)?;
                self.finish(return_to, result);
                Ok(())
            }
            _ => Err(error("Can only call functions and classes.")),
        }
    }

    /// A call that completed without a frame: its result replaces the callee.
    fn finish(&mut self, return_to: *mut Value, result: Value) {
        // SAFETY: `return_to` is a slot of the caller's frame, below the
        // published top; the stack shrinks to just above it.
        unsafe {
            return_to.write(result);
            self.stack.set_len(self.index_of(return_to) + 1);
        }
    }

    /// A closure over loaded function `index`, capturing from `frame`. The
    /// caller has published the stack.
    pub(crate) fn make_closure(&mut self, index: usize, frame: &Frame<'_>) -> Res<Gc<ObjClosure>> {
        let loaded = &self.functions[index];
        let mut upvalues: Vec<Gc<ObjUpvalue>> = Vec::with_capacity(loaded.function.captures.len());
        let base = self.index_of(frame.base);
        for capture in &loaded.function.captures {
            // Captures of the enclosing closure stay reachable through it
            // (see `Frame::closure`); new open upvalues are roots.
            let upvalue = if capture.is_local {
                self.heap.capture_upvalue((base + capture.index as usize) as u32)?
            } else {
                frame.closure.expect("nested functions run in a closure").upvalues
                    [capture.index as usize]
            };
            upvalues.push(upvalue);
        }
        Ok(self.heap.alloc(ObjClosure::new(loaded.object, upvalues.into_boxed_slice()))?)
    }
}
