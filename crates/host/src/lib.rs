//! How a Strata process meets its host, shared by the `strata` command
//! and the executables `strata build` makes (the `rt` library), so that a
//! program behaves the same under both: the exit codes, where program
//! output goes and what happens when it cannot go there, and one-line
//! complaints on stderr.
//!
//! Program output.
//!
//! Standard output is line-buffered on a terminal, so each `print` shows at
//! once, and block-buffered otherwise, so that output to a file or a pipe
//! costs one system call per 64 KiB rather than one per line.
//!
//! A write error is never ignored. A closed pipe (`strata prog.lox | head
//! -1`) ends the process by `SIGPIPE`, exactly as it ends clox, lua or
//! `cat` ([`restore_sigpipe`]). Any other error (a full disk) stops the
//! program and is reported once, as `strata: cannot write output: REASON`,
//! with exit code 74. The same holds for the `--gc-log` lines on stderr.
//! Diagnostics on stderr are the exception: when stderr itself cannot be
//! written, the exit code is all that is left to tell.

use std::cell::RefCell;
use std::io::{self, BufWriter, IsTerminal, LineWriter, Write};
use std::rc::Rc;

use runtime::{GcLog, Interrupt};

/// Exit codes, as LOX.md and sysexits.h define them.
pub mod exit {
    pub const OK: u8 = 0;
    pub const USAGE: u8 = 64;
    pub const COMPILE_ERROR: u8 = 65;
    pub const RUNTIME_ERROR: u8 = 70;
    pub const IO_ERROR: u8 = 74;
}

/// The most times `strata run --iterations` (and `STRATA_ITERATIONS` in a
/// built executable) runs a program's top level in one process.
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// Write `strata: MESSAGE` on stderr, as one line. When stderr itself
/// cannot be written there is nowhere left to say so (and `eprintln!` would
/// panic): the exit code tells.
#[macro_export]
macro_rules! complain {
    ($($arg:tt)*) => {
        $crate::complain_line(format_args!($($arg)*))
    };
}

/// What [`complain!`] writes.
pub fn complain_line(message: std::fmt::Arguments<'_>) {
    let line = format!("strata: {message}\n");
    let _ = io::stderr().write_all(line.as_bytes());
}

/// An I/O error's description without Rust's " (os error N)" suffix.
pub fn describe(error: &io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// What a Strata process does first, in place of Rust's start-up code,
/// which neither the `strata` command nor a built executable runs (their
/// `main` is a C `main`): make sure file descriptors 0, 1 and 2 are open
/// (on `/dev/null` if they were closed), so that no file the program opens
/// later takes one of their numbers and receives its output, and give
/// `SIGPIPE` its default action ([`restore_sigpipe`]).
///
/// Rust's start-up code does more that Strata does without, and what it
/// costs is what this saves: it installs a handler that reports native
/// stack overflows (Strata's engines never overflow the native stack: they
/// move to new segments, `runtime::native_stack`), and to place that
/// handler's guard it asks glibc for the main thread's stack bounds, which
/// glibc finds by reading and parsing `/proc/self/maps`. For `strata
/// hello.lox` that was 0.4 MiB of the peak RSS. Standard output is
/// flushed by its users ([`Output::finish`]), not at exit.
pub fn start() {
    keep_standard_fds_open();
    restore_sigpipe();
}

/// Open `/dev/null` on each of descriptors 0, 1 and 2 that is closed.
fn keep_standard_fds_open() {
    #[cfg(unix)]
    for fd in 0..3 {
        // SAFETY: `fcntl(F_GETFD)` only asks whether `fd` is open.
        let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1;
        if closed {
            // SAFETY: a NUL-terminated path. The lowest free descriptor is
            // `fd` itself (the lower ones are open), so it is the one
            // opened, and it is meant to stay open for the process.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

/// Give `SIGPIPE` back its default action (end the process), which Rust's
/// start-up code sets to "ignore". Call first thing in `main`.
///
/// Ignored, a closed pipe turns every later write into an error, and a
/// program printing in a loop would have to notice and stop; with the
/// default action the kernel ends Strata at the first write, silently, and
/// the shell sees the usual "killed by SIGPIPE" status (141), as for every
/// other Unix filter.
pub fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: `signal` is called before any other thread exists, and
    // `SIG_DFL` installs no handler, so no Rust code will ever run in
    // signal context because of this call.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The first error met writing any of the program's output streams
/// (stdout, the GC log); clones share it.
#[derive(Clone, Default)]
pub struct WriteFailure(Rc<RefCell<Option<io::Error>>>);

impl WriteFailure {
    /// Keep `error` unless an earlier one is kept already, and return an
    /// equivalent error for the writer's caller.
    fn record(&self, error: io::Error) -> io::Error {
        let copy = match error.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::new(error.kind(), error.to_string()),
        };
        self.0.borrow_mut().get_or_insert(error);
        copy
    }

    /// Whether a write has failed.
    pub fn is_set(&self) -> bool {
        self.0.borrow().is_some()
    }

    fn take(&self) -> Option<io::Error> {
        self.0.borrow_mut().take()
    }

    /// `code`, unless an output stream failed: then say so and return 74.
    pub fn exit_code(&self, code: u8) -> u8 {
        match self.take() {
            Some(error) => {
                complain!("cannot write output: {}", describe(&error));
                exit::IO_ERROR
            }
            None => code,
        }
    }
}

/// Standard output, buffered for where it goes, remembering its first
/// error in a [`WriteFailure`].
pub struct Output {
    inner: Box<dyn Write>,
    failure: WriteFailure,
}

impl Output {
    pub fn stdout(failure: WriteFailure) -> Output {
        let stdout = io::stdout();
        let inner: Box<dyn Write> = if stdout.is_terminal() {
            Box::new(LineWriter::new(stdout.lock()))
        } else {
            Box::new(BufWriter::with_capacity(64 * 1024, stdout.lock()))
        };
        Output { inner, failure }
    }

    /// Flush, and turn `code` into 74 if any write failed (saying why).
    pub fn finish(&mut self, code: u8) -> u8 {
        let _ = self.flush(); // A failure is recorded, and reported next.
        self.failure.exit_code(code)
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|error| self.failure.record(error))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|error| self.failure.record(error))
    }
}

/// The `--gc-log` callback: one line per collection on stderr. If a line
/// cannot be written, the failure is recorded and the program is stopped
/// through `interrupt`, as a program whose stdout fails is stopped.
pub fn gc_log(failure: WriteFailure, interrupt: Interrupt) -> GcLog {
    Box::new(move |report| {
        // One write per line, so lines from other writers cannot split it.
        let line = format!("{report}\n");
        if let Err(error) = io::stderr().write_all(line.as_bytes()) {
            failure.record(error);
            interrupt.request();
        }
    })
}
