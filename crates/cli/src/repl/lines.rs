//! Where the REPL's lines come from: a terminal, through rustyline (line
//! editing, history, prompts), or anything else (a pipe, a file), read as
//! bytes with no prompt, so that input that is not UTF-8 reaches the
//! driver and is reported like a file's, and no line can grow past
//! [`crate::input::MAX_INPUT_BYTES`].

use std::io::{self, IsTerminal, StdinLock};
use std::path::PathBuf;

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use crate::input::{self, InputError};

/// What reading a line gave.
pub(crate) enum Line {
    /// A line, with its line break if it has one.
    Text(Vec<u8>),
    /// A line the terminal could not decode as UTF-8 (its bytes are lost).
    NotUtf8,
    /// Ctrl-C at the prompt: abandon the entry being typed.
    Interrupted,
    /// The end of the input (Ctrl-D on a terminal).
    Eof,
}

pub(crate) enum Lines {
    Terminal { editor: Box<DefaultEditor>, history: Option<PathBuf> },
    Piped(StdinLock<'static>),
}

impl Lines {
    /// Lines from standard input.
    pub(crate) fn stdin() -> Result<Lines, ReadlineError> {
        let stdin = io::stdin();
        if !stdin.is_terminal() {
            return Ok(Lines::Piped(stdin.lock()));
        }
        let mut editor = DefaultEditor::new()?;
        let history = history_path();
        if let Some(path) = &history {
            let _ = editor.load_history(path); // A missing history is a fresh start.
        }
        Ok(Lines::Terminal { editor: Box::new(editor), history })
    }

    /// The next line, after showing `prompt` on a terminal.
    pub(crate) fn read(&mut self, prompt: &str) -> Result<Line, InputError> {
        match self {
            Lines::Terminal { editor, .. } => match editor.readline(prompt) {
                Ok(line) => Ok(Line::Text((line + "\n").into_bytes())),
                Err(ReadlineError::Interrupted) => Ok(Line::Interrupted),
                Err(ReadlineError::Eof) => Ok(Line::Eof),
                Err(ReadlineError::Io(error)) if error.kind() == io::ErrorKind::InvalidData => {
                    Ok(Line::NotUtf8)
                }
                Err(ReadlineError::Io(error)) => Err(InputError::Io(error)),
                Err(error) => Err(InputError::Io(io::Error::other(error))),
            },
            Lines::Piped(stdin) => {
                let mut line = Vec::new();
                if input::read_line(stdin, &mut line)? == 0 {
                    return Ok(Line::Eof);
                }
                Ok(Line::Text(line))
            }
        }
    }

    /// Remember a finished entry in the history (terminals only: piped
    /// input is a script, not something typed).
    pub(crate) fn remember(&mut self, entry: &[u8]) {
        if let Lines::Terminal { editor, .. } = self {
            let text = String::from_utf8_lossy(entry);
            let _ = editor.add_history_entry(text.trim_end());
        }
    }

    /// Save the history, if there is one.
    pub(crate) fn close(&mut self) {
        if let Lines::Terminal { editor, history: Some(path) } = self {
            let _ = editor.save_history(path); // Losing history is not an error.
        }
    }
}

/// Where entries are remembered between sessions: `$STRATA_HISTORY`, else
/// `~/.strata_history`; none if neither can be named.
fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("STRATA_HISTORY") {
        return Some(path.into());
    }
    std::env::var_os("HOME").map(|home| std::path::Path::new(&home).join(".strata_history"))
}
