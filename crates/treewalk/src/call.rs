//! Calls: closures, bound methods, classes and natives; and making closures.

use std::rc::Rc;

use runtime::{
    CacheHit, Call, CaptureFrom, Gc, ObjClosure, ObjFunction, ObjInstance, OutOfMemory, TraceLine,
    Value,
};
use syntax::ast::{Expr, Function, FunctionKind};

use crate::interp::{Interp, NEXT, Res, on_new_segment, throw};
use runtime::abi::ErrorCode;

impl Interp<'_> {
    /// `callee(args)`, with method invocations done without allocating a
    /// bound method.
    ///
    /// The callee is evaluated (for `a.m(...)` and `super.m(...)`: looked
    /// up) before the arguments, so a missing method is reported before any
    /// argument runs.
    pub(crate) fn call_expr(
        &mut self,
        callee: &Expr,
        args: &[Expr],
        line: u32,
        invoke: bool,
    ) -> Res<Value> {
        let base = self.stack.len();
        match callee {
            Expr::Get { object, name } if invoke => {
                let receiver = self.eval(object)?;
                let Some(instance) = receiver.downcast::<ObjInstance>() else {
                    return throw(ErrorCode::OnlyInstancesMethods.message(), name.line());
                };
                match instance.shape().resolve(self.symbol(name.name)) {
                    Some(CacheHit::Field(index)) => {
                        self.push(instance.field_at(index), line)?;
                        self.push_args(args, line)?;
                        self.call_value(base, args.len(), line)
                    }
                    Some(CacheHit::Method(method)) => {
                        self.push(receiver, line)?;
                        self.push_args(args, line)?;
                        self.call_closure(method, base, args.len(), line)
                    }
                    Some(CacheHit::AddField(_)) | None => self.undefined_property(name),
                }
            }
            Expr::Super(super_ref) if invoke => {
                let method = self.super_method(super_ref)?;
                let this = self.read(&super_ref.this)?;
                self.push(this, line)?;
                self.push_args(args, line)?;
                self.call_closure(method, base, args.len(), line)
            }
            _ => {
                let callee = self.eval(callee)?;
                self.push(callee, line)?;
                self.push_args(args, line)?;
                self.call_value(base, args.len(), line)
            }
        }
    }

    fn push_args(&mut self, args: &[Expr], line: u32) -> Res<()> {
        for arg in args {
            let value = self.eval(arg)?;
            self.push(value, line)?;
        }
        Ok(())
    }

    /// Call the value in stack slot `base` with the `n_args` above it.
    pub(crate) fn call_value(&mut self, base: usize, n_args: usize, line: u32) -> Res<Value> {
        let callee = self.stack.get(base);
        let args = self.stack.slice_to_vec(base + 1..base + 1 + n_args);
        let call = runtime::prepare_call(self.heap, callee, &args);
        match call.or_else(|message| throw(message, line))? {
            Call::Closure { closure, slot_zero } => {
                if let Some(value) = slot_zero {
                    self.stack.set(base, value);
                }
                self.call_closure(closure, base, n_args, line)
            }
            Call::Done(result) => {
                self.stack.truncate(base);
                Ok(result)
            }
        }
    }

    /// Run `closure` in a new frame whose slot 0 is stack slot `base`.
    pub(crate) fn call_closure(
        &mut self,
        closure: Gc<ObjClosure>,
        base: usize,
        n_args: usize,
        line: u32,
    ) -> Res<Value> {
        let function = closure.function;
        runtime::check_arity(&function, n_args).or_else(|message| throw(message, line))?;
        if self.depth >= runtime::MAX_FRAMES {
            return throw(ErrorCode::StackOverflow.message(), line);
        }
        self.poll_interrupt(line)?;
        if runtime::native_stack::pointer() < self.stack_floor {
            return on_new_segment(self, |interp| interp.enter_closure(closure, base, line));
        }
        self.enter_closure(closure, base, line)
    }

    /// Run `closure`'s body in a new frame at `base` (arity and depth
    /// checked), leaving its result or adding its trace line.
    fn enter_closure(&mut self, closure: Gc<ObjClosure>, base: usize, line: u32) -> Res<Value> {
        let function = closure.function;
        let syntax = self.function_syntax(function);

        let saved = (self.base, self.closure);
        self.base = base;
        self.closure = Some(closure);
        self.depth += 1;
        let result = self.run_body(&syntax);
        self.depth -= 1;
        (self.base, self.closure) = saved;

        match result {
            Ok(value) => {
                let value = if syntax.kind == FunctionKind::Initializer {
                    self.stack.get(base)
                } else if value == NEXT {
                    Value::NIL
                } else {
                    value
                };
                self.end_scope(base);
                Ok(value)
            }
            Err(mut throw) => {
                let name = function.name_str().map(str::to_string);
                throw.error.trace.push(TraceLine { line: throw.line, function: name });
                throw.line = line;
                Err(throw)
            }
        }
    }

    fn run_body(&mut self, function: &Function) -> Res<Value> {
        for stmt in &function.body {
            let flow = self.exec(stmt)?;
            if flow != NEXT {
                return Ok(flow);
            }
        }
        Ok(NEXT)
    }

    fn function_syntax(&self, function: Gc<ObjFunction>) -> Rc<Function> {
        match self.state.functions.get(function.proto as usize) {
            Some(Some((syntax, _))) => Rc::clone(syntax),
            _ => unreachable!("a function object exists only for loaded syntax"),
        }
    }

    /// The runtime object for a function declaration, made on first use.
    /// (Code: outside the heap limit, as `Heap::alloc_code` says.)
    fn function_object(&mut self, function: &Rc<Function>) -> Gc<ObjFunction> {
        let id = function.info.id as usize;
        if let Some(Some((_, object))) = self.state.functions.get(id) {
            return *object;
        }
        let name = self.symbol(function.name.name);
        let object = self.heap.alloc_code(ObjFunction::new(
            Some(name),
            function.params.len() as u8,
            function.info.upvalues.len() as u16,
            id as u32,
        ));
        self.heap.pin(object.to_value());
        if self.state.functions.len() <= id {
            self.state.functions.resize(id + 1, None);
        }
        self.state.functions[id] = Some((Rc::clone(function), object));
        object
    }

    /// A closure over `function`, capturing from the current frame (the
    /// declaration is on `line`).
    pub(crate) fn make_closure(
        &mut self,
        function: &Rc<Function>,
        line: u32,
    ) -> Res<Gc<ObjClosure>> {
        let made = self.closure_over(function);
        self.fit(made, line)
    }

    fn closure_over(&mut self, function: &Rc<Function>) -> Result<Gc<ObjClosure>, OutOfMemory> {
        let object = self.function_object(function);
        let captures = function.info.upvalues.iter().map(|c| CaptureFrom {
            is_local: c.is_local,
            index: c.index,
            by_value: c.by_value,
        });
        self.heap.make_closure(object, captures, self.base as u32, self.closure)
    }
}
