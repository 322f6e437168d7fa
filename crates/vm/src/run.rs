//! The dispatch loop.

use std::io::Write;

use bytecode::Op;
use runtime::{
    Gc, Heap, ObjBoundMethod, ObjClass, ObjClosure, ObjInstance, ObjString, Printed, RuntimeError,
    Stack, TraceLine, Value,
};

use crate::Loaded;

/// One active call.
#[derive(Clone, Copy)]
pub(crate) struct Frame {
    /// `None` for the script.
    pub(crate) closure: Option<Gc<ObjClosure>>,
    /// Index into the loaded functions.
    pub(crate) func: usize,
    /// Offset of the next instruction (saved while a callee runs).
    pub(crate) ip: usize,
    /// Stack slot of the frame's slot 0.
    pub(crate) base: usize,
    /// Stack height to cut back to when the frame returns (below the
    /// callee for `CallMethod`, which has one more value under slot 0).
    pub(crate) return_to: usize,
}

/// One execution of a script.
pub(crate) struct Run<'a> {
    pub(crate) heap: &'a Heap,
    pub(crate) stack: &'a Stack,
    pub(crate) functions: &'a [Loaded],
    global_names: &'a [String],
    out: &'a mut dyn Write,
    pub(crate) frames: Vec<Frame>,
    /// Offset of the instruction being executed in the innermost frame.
    op_start: usize,
}

/// A runtime error, raised from inside the loop.
pub(crate) struct Raise(pub(crate) String);

pub(crate) type Res<T> = Result<T, Raise>;

fn raise<T>(message: impl Into<String>) -> Res<T> {
    Err(Raise(message.into()))
}

impl<'a> Run<'a> {
    pub(crate) fn new(
        heap: &'a Heap,
        functions: &'a [Loaded],
        global_names: &'a [String],
        out: &'a mut dyn Write,
    ) -> Run<'a> {
        Run {
            heap,
            stack: heap.stack(),
            functions,
            global_names,
            out,
            frames: Vec::with_capacity(runtime::MAX_FRAMES),
            op_start: 0,
        }
    }

    /// Run the script `script` to completion.
    pub(crate) fn execute(mut self, script: usize) -> Result<(), RuntimeError> {
        let base = self.stack.len();
        let started = self.stack.push(Value::NIL);
        if started.is_err() {
            return Err(RuntimeError::stack_overflow());
        }
        self.frames.push(Frame { closure: None, func: script, ip: 0, base, return_to: base });
        let result = self.dispatch();
        let outcome = result.map_err(|Raise(message)| self.trace(message));
        // Leave the stack as it was, closing what the script captured so
        // later REPL entries see the values.
        self.heap.close_upvalues(base as u32);
        self.stack.truncate(base);
        outcome
    }

    /// The error with one trace line per active frame, innermost first.
    fn trace(&self, message: String) -> RuntimeError {
        let mut error = RuntimeError::new(message);
        for (depth, frame) in self.frames.iter().enumerate().rev() {
            let loaded = &self.functions[frame.func];
            let innermost = depth + 1 == self.frames.len();
            let offset = if innermost { self.op_start } else { frame.ip.saturating_sub(1) };
            let line = loaded.function.chunk.line_at(offset);
            error.trace.push(TraceLine { line, function: loaded.function.name.clone() });
        }
        error
    }

    #[inline(always)]
    pub(crate) fn push(&self, value: Value) -> Res<()> {
        self.stack.push(value).or_else(|_| raise("Stack overflow."))
    }

    #[inline(always)]
    fn pop(&self) -> Value {
        self.stack.pop()
    }

    #[inline(always)]
    fn peek(&self, distance: usize) -> Value {
        self.stack.get(self.stack.len() - 1 - distance)
    }

    fn dispatch(&mut self) -> Res<()> {
        let mut frame = *self.frames.last().expect("the script's frame");
        let mut loaded = &self.functions[frame.func];
        let mut code: &[u8] = &loaded.function.chunk.code;
        let mut ip = frame.ip;

        macro_rules! read_u8 {
            () => {{
                let byte = code[ip];
                ip += 1;
                byte as usize
            }};
        }
        macro_rules! read_u32 {
            () => {{
                let bytes = [code[ip], code[ip + 1], code[ip + 2], code[ip + 3]];
                ip += 4;
                u32::from_le_bytes(bytes) as usize
            }};
        }
        // Save the running frame's position before anything that can call,
        // return, or raise (which reads it for the trace).
        macro_rules! save {
            () => {
                self.frames.last_mut().expect("a running frame").ip = ip;
            };
        }
        // After a call or return: continue in whatever frame is on top.
        macro_rules! reload {
            () => {
                frame = *self.frames.last().expect("a running frame");
                loaded = &self.functions[frame.func];
                code = &loaded.function.chunk.code;
                ip = frame.ip;
            };
        }
        macro_rules! number_operands {
            () => {{
                let (b, a) = (self.pop(), self.pop());
                if !a.is_number() || !b.is_number() {
                    return raise("Operands must be numbers.");
                }
                (a.as_number(), b.as_number())
            }};
        }

        loop {
            self.op_start = ip;
            let op = Op::from_byte(code[ip]).expect("verified code has only known opcodes");
            ip += 1;
            match op {
                Op::Constant => {
                    let index = read_u32!();
                    self.push(loaded.constants[index])?;
                }
                Op::Nil => self.push(Value::NIL)?,
                Op::True => self.push(Value::TRUE)?,
                Op::False => self.push(Value::FALSE)?,
                Op::Pop => {
                    self.pop();
                }
                Op::GetLocal => {
                    let slot = read_u8!();
                    self.push(self.stack.get(frame.base + slot))?;
                }
                Op::SetLocal => {
                    let slot = read_u8!();
                    self.stack.set(frame.base + slot, self.peek(0));
                }
                Op::GetGlobal => {
                    let slot = read_u32!();
                    let value = self.heap.globals().get(slot);
                    if value.is_undefined() {
                        return self.undefined(slot);
                    }
                    self.push(value)?;
                }
                Op::DefineGlobal => {
                    let slot = read_u32!();
                    let value = self.pop();
                    self.heap.globals().set(slot, value);
                }
                Op::SetGlobal => {
                    let slot = read_u32!();
                    if self.heap.globals().get(slot).is_undefined() {
                        return self.undefined(slot);
                    }
                    self.heap.globals().set(slot, self.peek(0));
                }
                Op::GetUpvalue => {
                    let index = read_u8!();
                    let upvalue = frame.closure.expect("only closures capture").upvalues[index];
                    let value = match upvalue.open_slot() {
                        Some(slot) => self.stack.get(slot as usize),
                        None => upvalue.closed_value(),
                    };
                    self.push(value)?;
                }
                Op::SetUpvalue => {
                    let index = read_u8!();
                    let upvalue = frame.closure.expect("only closures capture").upvalues[index];
                    let value = self.peek(0);
                    match upvalue.open_slot() {
                        Some(slot) => self.stack.set(slot as usize, value),
                        None => upvalue.set_closed_value(value),
                    }
                }
                Op::GetProperty => {
                    let name = self.name_at(loaded, read_u32!());
                    let object = self.peek(0);
                    let Some(instance) = object.downcast::<ObjInstance>() else {
                        return raise("Only instances have properties.");
                    };
                    let value = match instance.field(name) {
                        Some(value) => value,
                        None => match instance.class().method(name) {
                            Some(method) => {
                                // The receiver is still on the stack: rooted.
                                self.heap.alloc(ObjBoundMethod::new(object, method)).to_value()
                            }
                            None => return undefined_property(name),
                        },
                    };
                    self.pop();
                    self.push(value)?;
                }
                Op::SetProperty => {
                    let name = self.name_at(loaded, read_u32!());
                    let value = self.peek(0);
                    let Some(instance) = self.peek(1).downcast::<ObjInstance>() else {
                        return raise("Only instances have fields.");
                    };
                    self.heap.set_field(instance, name, value);
                    self.pop();
                    self.pop();
                    self.push(value)?;
                }
                Op::GetSuper => {
                    let method = self.super_method(self.name_at(loaded, read_u32!()))?;
                    let this = self.peek(1);
                    let bound = self.heap.alloc(ObjBoundMethod::new(this, method)).to_value();
                    self.pop();
                    self.pop();
                    self.push(bound)?;
                }
                Op::Method => {
                    let name = self.name_at(loaded, read_u32!());
                    let receiver = self.peek(0);
                    let Some(instance) = receiver.downcast::<ObjInstance>() else {
                        return raise("Only instances have properties.");
                    };
                    // [callee, slot 0]: a field is called like any value.
                    let (callee, slot_zero) = match instance.field(name) {
                        Some(field) => (field, field),
                        None => match instance.class().method(name) {
                            Some(method) => (method.to_value(), receiver),
                            None => return undefined_property(name),
                        },
                    };
                    self.stack.set(self.stack.len() - 1, callee);
                    self.push(slot_zero)?;
                }
                Op::SuperMethod => {
                    let method = self.super_method(self.name_at(loaded, read_u32!()))?;
                    let this = self.peek(1);
                    let top = self.stack.len();
                    self.stack.set(top - 2, method.to_value());
                    self.stack.set(top - 1, this);
                }
                Op::Equal => {
                    let (b, a) = (self.pop(), self.pop());
                    self.push(Value::bool(a.lox_eq(b)))?;
                }
                Op::NotEqual => {
                    let (b, a) = (self.pop(), self.pop());
                    self.push(Value::bool(!a.lox_eq(b)))?;
                }
                Op::Greater => {
                    let (a, b) = number_operands!();
                    self.push(Value::bool(a > b))?;
                }
                Op::GreaterEqual => {
                    let (a, b) = number_operands!();
                    self.push(Value::bool(a >= b))?;
                }
                Op::Less => {
                    let (a, b) = number_operands!();
                    self.push(Value::bool(a < b))?;
                }
                Op::LessEqual => {
                    let (a, b) = number_operands!();
                    self.push(Value::bool(a <= b))?;
                }
                Op::Add => {
                    let (b, a) = (self.peek(0), self.peek(1));
                    let sum = if a.is_number() && b.is_number() {
                        Value::number(a.as_number() + b.as_number())
                    } else {
                        match (a.downcast::<ObjString>(), b.downcast::<ObjString>()) {
                            (Some(a), Some(b)) => self.heap.concat(a, b).to_value(),
                            _ => return raise("Operands must be two numbers or two strings."),
                        }
                    };
                    self.pop();
                    self.pop();
                    self.push(sum)?;
                }
                Op::Subtract => {
                    let (a, b) = number_operands!();
                    self.push(Value::number(a - b))?;
                }
                Op::Multiply => {
                    let (a, b) = number_operands!();
                    self.push(Value::number(a * b))?;
                }
                Op::Divide => {
                    let (a, b) = number_operands!();
                    self.push(Value::number(a / b))?;
                }
                Op::Not => {
                    let value = self.pop();
                    self.push(Value::bool(value.is_falsey()))?;
                }
                Op::Negate => {
                    let value = self.peek(0);
                    if !value.is_number() {
                        return raise("Operand must be a number.");
                    }
                    self.pop();
                    self.push(Value::number(-value.as_number()))?;
                }
                Op::Print => {
                    let value = self.pop();
                    // Like clox, printing does not fail on a closed stdout.
                    let _ = writeln!(self.out, "{}", Printed(value));
                }
                Op::Jump => {
                    let distance = read_u32!();
                    ip += distance;
                }
                Op::JumpIfFalse => {
                    let distance = read_u32!();
                    if self.peek(0).is_falsey() {
                        ip += distance;
                    }
                }
                Op::Loop => {
                    let distance = read_u32!();
                    ip -= distance;
                }
                Op::Call | Op::CallMethod => {
                    let n_args = read_u8!();
                    let top = self.stack.len();
                    let base = top - n_args - 1;
                    let (callee, return_to) =
                        if op == Op::Call { (base, base) } else { (base - 1, base - 1) };
                    save!();
                    self.call_value(self.stack.get(callee), base, n_args, return_to)?;
                    reload!();
                }
                Op::Closure => {
                    let index = loaded.module_base as usize + read_u32!();
                    let closure = self.make_closure(index, frame)?;
                    self.push(closure.to_value())?;
                }
                Op::CloseUpvalue => {
                    self.heap.close_upvalues((self.stack.len() - 1) as u32);
                    self.pop();
                }
                Op::Return => {
                    let result = self.pop();
                    self.heap.close_upvalues(frame.base as u32);
                    self.frames.pop();
                    self.stack.truncate(frame.return_to);
                    if self.frames.is_empty() {
                        return Ok(());
                    }
                    self.push(result)?;
                    reload!();
                }
                Op::Class => {
                    let name = self.name_at(loaded, read_u32!());
                    let class = self.heap.alloc(ObjClass::new(name));
                    self.push(class.to_value())?;
                }
                Op::Inherit => {
                    let class = as_class(self.peek(0));
                    let Some(superclass) = self.peek(1).downcast() else {
                        return raise("Superclass must be a class.");
                    };
                    self.heap.inherit(class, superclass);
                    self.pop();
                }
                Op::DefineMethod => {
                    let name = self.name_at(loaded, read_u32!());
                    let method = self.peek(0).downcast::<ObjClosure>();
                    let method = method.expect("the compiler defines closures as methods");
                    as_class(self.peek(1)).set_method(name, method, self.heap.init_string());
                    self.pop();
                }
            }
        }
    }

    /// The method `name` of the superclass on top of the stack (the hidden
    /// `super` local, above `this`).
    fn super_method(&self, name: Gc<ObjString>) -> Res<Gc<ObjClosure>> {
        match as_class(self.peek(0)).method(name) {
            Some(method) => Ok(method),
            None => undefined_property(name),
        }
    }

    fn name_at(&self, loaded: &Loaded, index: usize) -> Gc<ObjString> {
        loaded.constants[index]
            .downcast::<ObjString>()
            .expect("verified name constants are strings")
    }

    fn undefined<T>(&self, slot: usize) -> Res<T> {
        let name = self.global_names.get(slot).map_or("?", String::as_str);
        raise(format!("Undefined variable '{name}'."))
    }
}

fn undefined_property<T>(name: Gc<ObjString>) -> Res<T> {
    raise(format!("Undefined property '{}'.", name.as_str()))
}

/// A value the compiler guarantees is a class (a class being built, or the
/// hidden `super` local, which `Inherit` checked).
fn as_class(value: Value) -> Gc<ObjClass> {
    value.downcast::<ObjClass>().expect("compiled code: a class")
}
