//! The REPL: line editing and history (rustyline), multi-line entries for
//! unfinished blocks, one session whose globals persist across entries,
//! and history kept between sessions.

use std::io::{self, Write};

use driver::Session;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use crate::args::RunArgs;

const PROMPT: &str = "> ";
const CONTINUATION: &str = "... ";

pub(crate) fn run(args: &RunArgs) -> u8 {
    let mut editor = match DefaultEditor::new() {
        Ok(editor) => editor,
        Err(error) => {
            eprintln!("strata: cannot start the REPL: {error}");
            return crate::exit::IO_ERROR;
        }
    };
    let history = history_path();
    if let Some(path) = &history {
        let _ = editor.load_history(path); // A missing history is a fresh start.
    }
    let mut session = Session::new(crate::options(args, "<repl>"));
    let mut entry = String::new();
    loop {
        let prompt = if entry.is_empty() { PROMPT } else { CONTINUATION };
        match editor.readline(prompt) {
            Ok(line) => {
                entry.push_str(&line);
                entry.push('\n');
                if syntax::is_unfinished(&entry) {
                    continue;
                }
                let _ = editor.add_history_entry(entry.trim_end());
                let mut out = io::stdout().lock();
                let mut err = io::stderr().lock();
                session.eval(entry.as_bytes(), &mut out, &mut err);
                let _ = out.flush();
                entry.clear();
            }
            // Ctrl-C abandons the entry being typed.
            Err(ReadlineError::Interrupted) => entry.clear(),
            Err(ReadlineError::Eof) => {
                if let Some(path) = &history {
                    let _ = editor.save_history(path); // Losing history is not an error.
                }
                return crate::exit::OK;
            }
            Err(error) => {
                eprintln!("strata: {error}");
                return crate::exit::IO_ERROR;
            }
        }
    }
}

/// Where entries are remembered between sessions: `$STRATA_HISTORY`, else
/// `~/.strata_history`; none if neither can be named.
fn history_path() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("STRATA_HISTORY") {
        return Some(path.into());
    }
    std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".strata_history"))
}
