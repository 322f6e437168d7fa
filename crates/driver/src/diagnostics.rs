//! Writing compile errors: the exact LOX.md line, optionally followed by a
//! source excerpt with a caret under the offending token (for terminals).

use std::io::{self, Write};

use codespan_reporting::diagnostic::{Diagnostic as Report, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor::NoColor};
use syntax::Diagnostic;

/// How compile errors are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum DiagnosticStyle {
    /// Exactly the LOX.md lines, nothing else (pipes, files, tests).
    #[default]
    Plain,
    /// Each LOX.md line followed by an excerpt of the named source.
    Excerpt { file_name: String },
}

pub(crate) fn write_diagnostics(
    err: &mut dyn Write,
    style: &DiagnosticStyle,
    source: &str,
    diagnostics: &[Diagnostic],
) -> io::Result<()> {
    // Made once: it indexes the source's line starts, which per diagnostic
    // would make N diagnostics cost N times the source's length.
    let file = match style {
        DiagnosticStyle::Excerpt { file_name } => Some(SimpleFile::new(file_name.as_str(), source)),
        DiagnosticStyle::Plain => None,
    };
    for diagnostic in diagnostics {
        writeln!(err, "{diagnostic}")?;
        if let Some(file) = &file {
            write_excerpt(err, file, source, diagnostic)?;
        }
    }
    Ok(())
}

fn write_excerpt(
    err: &mut dyn Write,
    file: &SimpleFile<&str, &str>,
    source: &str,
    diagnostic: &Diagnostic,
) -> io::Result<()> {
    let start = (diagnostic.span.start as usize).min(source.len());
    let end = (diagnostic.span.end as usize).clamp(start, source.len());
    let label = Label::primary((), start..end).with_message(&diagnostic.message);
    let report = Report::error().with_labels(vec![label]);
    let mut buffer = NoColor::new(Vec::new());
    if term::emit(&mut buffer, &term::Config::default(), file, &report).is_err() {
        return Ok(()); // An excerpt is a courtesy; the plain line was written.
    }
    let text = String::from_utf8_lossy(buffer.get_ref());
    // The first line is codespan's own header, which the plain line replaces.
    for line in text.lines().skip(1) {
        writeln!(err, "{line}")?;
    }
    Ok(())
}
