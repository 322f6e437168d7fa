//! Ways a running program is stopped from outside: an interrupt requested
//! from another thread (Ctrl-C in the REPL, a watchdog), and output that
//! can no longer be written (a full disk, a closed pipe). Both must stop an
//! endless program promptly, on every engine.

use std::io::{self, Write};
use std::thread;
use std::time::Duration;

use driver::{Engine, Interrupt, Options, Outcome, Session};

fn options(engine: Engine, interrupt: Option<Interrupt>) -> Options {
    Options { engine, interrupt, ..Options::default() }
}

/// Run `source` on `engine`, requesting an interrupt after `delay`.
fn run_interrupted(source: &str, engine: Engine, delay: Duration) -> (Outcome, String) {
    let interrupt = Interrupt::new();
    let mut session = Session::new(options(engine, Some(interrupt.clone())));
    let watchdog = thread::spawn(move || {
        thread::sleep(delay);
        interrupt.request();
    });
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let outcome = session.eval(source.as_bytes(), &mut out, &mut err);
    watchdog.join().unwrap();
    (outcome, String::from_utf8(err).unwrap())
}

#[test]
fn an_endless_loop_stops_at_its_back_edge() {
    let program = "var i = 0;\nwhile (true) {\n  i = i + 1;\n}\n";
    for &engine in Engine::ALL {
        let (outcome, err) = run_interrupted(program, engine, Duration::from_millis(50));
        assert_eq!(outcome, Outcome::RuntimeError, "{engine}");
        assert_eq!(err, "Interrupted.\n[line 4] in script\n", "{engine}");
    }
}

#[test]
fn an_endless_for_loop_in_a_function_stops_with_its_trace() {
    let program = "fun spin() {\n  for (;;) {}\n}\nspin();\n";
    for &engine in Engine::ALL {
        let (outcome, err) = run_interrupted(program, engine, Duration::from_millis(50));
        assert_eq!(outcome, Outcome::RuntimeError, "{engine}");
        assert_eq!(err, "Interrupted.\n[line 2] in spin()\n[line 4] in script\n", "{engine}");
    }
}

#[test]
fn a_request_is_taken_once_and_the_session_goes_on() {
    for &engine in Engine::ALL {
        let mut session = Session::new(options(engine, None));
        session.interrupt().request();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let outcome = session.eval(b"fun f() {}\nf();\n", &mut out, &mut err);
        assert_eq!(outcome, Outcome::RuntimeError, "{engine}");
        assert_eq!(String::from_utf8_lossy(&err), "Interrupted.\n[line 2] in script\n");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let outcome = session.eval(b"f(); print \"after\";\n", &mut out, &mut err);
        assert_eq!(outcome, Outcome::Success, "{engine}");
        assert_eq!(out, b"after\n");
    }
}

/// Accepts `room` bytes, then fails every write as a full disk does.
struct Full {
    room: usize,
    written: Vec<u8>,
}

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written.len() + buf.len() > self.room {
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        self.written.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn output_that_cannot_be_written_stops_an_endless_program() {
    for &engine in Engine::ALL {
        let mut out = Full { room: 10, written: Vec::new() };
        let mut err = Vec::new();
        let outcome =
            driver::run(b"while (true) print 1;", options(engine, None), &mut out, &mut err);
        assert_eq!(outcome, Outcome::OutputError, "{engine}");
        assert_eq!(out.written, b"1\n1\n1\n1\n1\n", "{engine}");
        assert!(err.is_empty(), "{engine}: nothing is reported on err: {err:?}");
    }
}
