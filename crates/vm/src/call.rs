//! Calls of everything but plain closures (which the loop enters itself),
//! and making closures.

use runtime::{Call, CaptureFrom, Gc, ObjClosure, Value};

use crate::run::{Raise, Res, Run};

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
        // SAFETY: the arguments are the `n_args` published slots above
        // `base`; a call may allocate, and a collection only reads the stack.
        let args = unsafe { std::slice::from_raw_parts(base.add(1), n_args) };
        match runtime::prepare_call(self.heap, callee, args).map_err(Raise::lox)? {
            Call::Closure { closure, slot_zero } => {
                if let Some(value) = slot_zero {
                    // SAFETY: `base` is a live slot of the stack.
                    unsafe { base.write(value) };
                }
                self.push_frame(closure, base, n_args, return_to).map(drop)
            }
            Call::Done(result) => {
                self.finish(return_to, result);
                Ok(())
            }
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
    pub(crate) fn make_closure(
        &mut self,
        index: usize,
        base: *mut Value,
        enclosing: Option<Gc<ObjClosure>>,
    ) -> Res<Gc<ObjClosure>> {
        let loaded = &self.functions[index];
        let captures = loaded.function.captures.iter().map(|c| CaptureFrom {
            is_local: c.is_local,
            index: c.index,
            by_value: c.by_value,
        });
        let base = self.index_of(base) as u32;
        Ok(self.heap.make_closure(loaded.object, captures, base, enclosing)?)
    }
}
