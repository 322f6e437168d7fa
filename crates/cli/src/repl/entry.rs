//! An entry being typed: its bytes so far, and whether it is complete.
//!
//! An entry with an open `(` or `{`, or an unterminated string, goes on at
//! the next line (as `syntax::is_unfinished` decides). Asking that of the
//! whole entry at every line would cost time quadratic in its length, which
//! a long block piped in (`strata < big.lox`) would feel, so the entry keeps
//! the scanner's state at its last line break instead and scans each line
//! once. At a line break the only state a scan can be in is the nesting
//! depth and whether a string is open, since strings are the only tokens
//! that span lines.

use syntax::{Scanner, TokenKind};

#[derive(Default)]
pub(crate) struct Entry {
    bytes: Vec<u8>,
    /// Open `(` and `{` less closing ones, over the lines so far.
    depth: i64,
    /// A string literal is open at the end of the last line.
    in_string: bool,
    /// A line is not UTF-8: the entry ends there, as a compile error.
    undecodable: bool,
}

impl Entry {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        *self = Entry::default();
    }

    /// Whether the entry is ready to run: no bracket or string is left open
    /// (or it cannot be decoded, which is an error to report now).
    pub(crate) fn is_complete(&self) -> bool {
        self.undecodable || (self.depth <= 0 && !self.in_string)
    }

    /// Add one line, with its line break if it has one (the last line of
    /// piped input may not, and then the entry has none either, exactly as
    /// a file ending there would not).
    pub(crate) fn push_line(&mut self, line: &[u8]) {
        self.bytes.extend_from_slice(line);
        match std::str::from_utf8(line) {
            Ok(text) => self.scan(text),
            Err(_) => self.undecodable = true,
        }
    }

    /// Add bytes that could not be decoded (the terminal rejected them), so
    /// that the entry is reported as not UTF-8 at this line.
    pub(crate) fn push_undecodable(&mut self) {
        self.bytes.push(0xFF);
        self.undecodable = true;
    }

    fn scan(&mut self, line: &str) {
        let mut rest = line;
        if self.in_string {
            // A string runs to the next `"`: Lox strings have no escapes.
            match rest.find('"') {
                Some(at) => {
                    self.in_string = false;
                    rest = &rest[at + 1..];
                }
                None => return,
            }
        }
        let mut scanner = Scanner::new(rest);
        loop {
            let token = scanner.next_token();
            match token.kind {
                TokenKind::LeftParen | TokenKind::LeftBrace => self.depth += 1,
                TokenKind::RightParen | TokenKind::RightBrace => self.depth -= 1,
                TokenKind::Error if token.error == Some("Unterminated string.") => {
                    self.in_string = true;
                    return;
                }
                TokenKind::Eof => return,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Entry;

    /// Whether each prefix of `lines` is complete, by the entry and by
    /// `syntax::is_unfinished` over the whole text: they must agree.
    fn agree(lines: &[&str]) {
        let mut entry = Entry::default();
        let mut text = String::new();
        for line in lines {
            let line = format!("{line}\n");
            entry.push_line(line.as_bytes());
            text.push_str(&line);
            assert_eq!(entry.is_complete(), !syntax::is_unfinished(&text), "{text:?}");
        }
    }

    #[test]
    fn agrees_with_the_scanner_on_the_whole_entry() {
        agree(&["fun f(a,", "b) {", "  return a;", "}"]);
        agree(&["print \"one", "two { (", "three\";"]);
        agree(&["print \"a\" + \"b\"; {", "// } ) \" in a comment", "\"}\" }"]);
        agree(&["} {", "(", ")"]);
        agree(&["var s = \"", "\"; var t = \"x", "y\"; {", "}"]);
        agree(&["print 1; // {", "print (", "\"(\" )"]);
    }

    #[test]
    fn a_line_that_is_not_utf8_completes_the_entry() {
        let mut entry = Entry::default();
        entry.push_line(b"{\n");
        assert!(!entry.is_complete());
        entry.push_line(b"print \"\xff\";\n");
        assert!(entry.is_complete());
        assert_eq!(entry.bytes(), b"{\nprint \"\xff\";\n");
    }
}
