//! The REPL: one session whose globals persist across entries, entries that
//! go on over several lines while a bracket or string is open, a bare
//! expression's value printed, and Ctrl-C that stops a running entry
//! without leaving.

mod entry;
mod lines;

use std::io::{self, Write};

use driver::{Interrupt, Session};

use crate::args::RunArgs;
use crate::exit;
use crate::input::{InputError, MAX_INPUT_BYTES};
use crate::output::{Output, WriteFailure};
use entry::Entry;
use lines::{Line, Lines};

const PROMPT: &str = "> ";
const CONTINUATION: &str = "... ";

pub(crate) fn run(args: &RunArgs) -> u8 {
    let mut lines = match Lines::stdin() {
        Ok(lines) => lines,
        Err(error) => {
            complain!("cannot start the REPL: {error}");
            return exit::IO_ERROR;
        }
    };
    let failure = WriteFailure::default();
    let mut session = Session::new(crate::options(args, "<repl>", &failure));
    let interrupt = session.interrupt();
    catch_ctrl_c(&interrupt);
    let mut out = Output::stdout(failure.clone());
    let mut entry = Entry::default();
    let code = loop {
        let prompt = if entry.is_empty() { PROMPT } else { CONTINUATION };
        match lines.read(prompt) {
            Ok(Line::Text(line)) => entry.push_line(&line),
            Ok(Line::NotUtf8) => entry.push_undecodable(),
            Ok(Line::Interrupted) => {
                entry.clear();
                continue;
            }
            Ok(Line::Eof) => {
                // An unfinished last entry is compiled all the same, so its
                // errors are reported as they would be from a file.
                if !entry.is_empty() {
                    lines.remember(entry.bytes());
                    eval(&mut session, &interrupt, entry.bytes(), &mut out);
                }
                break exit::OK;
            }
            Err(error) => break read_failed(&error),
        }
        if entry.bytes().len() as u64 > MAX_INPUT_BYTES {
            break read_failed(&InputError::TooLarge);
        }
        if entry.is_complete() {
            lines.remember(entry.bytes());
            eval(&mut session, &interrupt, entry.bytes(), &mut out);
            entry.clear();
            if failure.is_set() {
                break exit::IO_ERROR; // The output is gone: there is no point going on.
            }
        }
    };
    lines.close();
    out.finish(code)
}

fn read_failed(error: &InputError) -> u8 {
    complain!("cannot read input: {error}");
    exit::IO_ERROR
}

/// Run one entry. Program output, and why it could not be written, go to
/// `out`; errors to stderr.
fn eval(session: &mut Session, interrupt: &Interrupt, entry: &[u8], out: &mut Output) {
    // A Ctrl-C pressed while no entry was running is not meant for this one.
    interrupt.take();
    // The outcome is in what was printed: a REPL goes on after any error
    // but one writing its output, which `out` records.
    let _ = session.eval_entry(entry, out, &mut io::stderr().lock());
    let _ = out.flush();
}

/// While an entry runs, the terminal sends Ctrl-C as SIGINT: make it stop
/// the entry (the session reports `Interrupted.` and goes on). At the
/// prompt, rustyline reads Ctrl-C as a key and abandons the line instead.
/// Running a file keeps SIGINT's default action: only the REPL has a
/// prompt to come back to.
fn catch_ctrl_c(interrupt: &Interrupt) {
    let interrupt = interrupt.clone();
    if let Err(error) = ctrlc::set_handler(move || interrupt.request()) {
        // Not fatal: Ctrl-C then ends the REPL, as it ends a file's run.
        complain!("cannot catch Ctrl-C: {error}");
    }
}
