//! The scanner: source text to tokens.
//!
//! Scanning never fails: a bad character or an unterminated string becomes a
//! [`TokenKind::Error`] token carrying its message, and scanning goes on. The
//! parser reports those tokens, so scanner and parser errors come out in
//! source order.

use crate::token::{Span, Token, TokenKind, keyword};

pub struct Scanner<'src> {
    source: &'src str,
    bytes: &'src [u8],
    start: usize,
    current: usize,
    line: u32,
}

impl<'src> Scanner<'src> {
    /// The caller guarantees `source.len() <= u32::MAX` (spans are 32-bit).
    pub fn new(source: &'src str) -> Scanner<'src> {
        debug_assert!(u32::try_from(source.len()).is_ok());
        Scanner { source, bytes: source.as_bytes(), start: 0, current: 0, line: 1 }
    }

    /// All tokens, ending with exactly one `Eof`.
    pub fn scan_all(mut self) -> Vec<Token> {
        let mut tokens = Vec::with_capacity(self.source.len() / 4 + 1);
        loop {
            let token = self.next_token();
            tokens.push(token);
            if token.kind == TokenKind::Eof {
                return tokens;
            }
        }
    }

    pub fn next_token(&mut self) -> Token {
        self.skip_trivia();
        self.start = self.current;
        let Some(c) = self.advance() else {
            return self.make(TokenKind::Eof);
        };
        use TokenKind as T;
        match c {
            b'(' => self.make(T::LeftParen),
            b')' => self.make(T::RightParen),
            b'{' => self.make(T::LeftBrace),
            b'}' => self.make(T::RightBrace),
            b';' => self.make(T::Semicolon),
            b',' => self.make(T::Comma),
            b'.' => self.make(T::Dot),
            b'-' => self.make(T::Minus),
            b'+' => self.make(T::Plus),
            b'/' => self.make(T::Slash),
            b'*' => self.make(T::Star),
            b'!' => self.make_if_equal(T::BangEqual, T::Bang),
            b'=' => self.make_if_equal(T::EqualEqual, T::Equal),
            b'<' => self.make_if_equal(T::LessEqual, T::Less),
            b'>' => self.make_if_equal(T::GreaterEqual, T::Greater),
            b'"' => self.string(),
            b'0'..=b'9' => self.number(),
            c if is_alpha(c) => self.identifier(),
            _ => {
                // Consume the whole character, so one non-ASCII character is
                // one error, not one per byte.
                while self.current < self.bytes.len() && !self.source.is_char_boundary(self.current)
                {
                    self.current += 1;
                }
                self.error("Unexpected character.")
            }
        }
    }

    fn advance(&mut self) -> Option<u8> {
        let c = *self.bytes.get(self.current)?;
        self.current += 1;
        Some(c)
    }

    fn peek(&self) -> u8 {
        self.bytes.get(self.current).copied().unwrap_or(0)
    }

    fn peek_next(&self) -> u8 {
        self.bytes.get(self.current + 1).copied().unwrap_or(0)
    }

    fn skip_trivia(&mut self) {
        loop {
            match self.peek() {
                b' ' | b'\r' | b'\t' => self.current += 1,
                b'\n' => {
                    self.line += 1;
                    self.current += 1;
                }
                b'/' if self.peek_next() == b'/' => {
                    while self.current < self.bytes.len() && self.peek() != b'\n' {
                        self.current += 1;
                    }
                }
                _ => return,
            }
        }
    }

    fn span(&self) -> Span {
        Span { start: self.start as u32, end: self.current as u32 }
    }

    fn make(&self, kind: TokenKind) -> Token {
        Token { kind, span: self.span(), line: self.line, error: None }
    }

    fn make_if_equal(&mut self, with_equal: TokenKind, without: TokenKind) -> Token {
        if self.peek() == b'=' {
            self.current += 1;
            self.make(with_equal)
        } else {
            self.make(without)
        }
    }

    fn error(&self, message: &'static str) -> Token {
        Token { kind: TokenKind::Error, span: self.span(), line: self.line, error: Some(message) }
    }

    fn string(&mut self) -> Token {
        while self.current < self.bytes.len() && self.peek() != b'"' {
            if self.peek() == b'\n' {
                self.line += 1;
            }
            self.current += 1;
        }
        if self.current >= self.bytes.len() {
            return self.error("Unterminated string.");
        }
        self.current += 1; // The closing quote.
        self.make(TokenKind::String)
    }

    fn number(&mut self) -> Token {
        while self.peek().is_ascii_digit() {
            self.current += 1;
        }
        if self.peek() == b'.' && self.peek_next().is_ascii_digit() {
            self.current += 1;
            while self.peek().is_ascii_digit() {
                self.current += 1;
            }
        }
        self.make(TokenKind::Number)
    }

    fn identifier(&mut self) -> Token {
        while is_alpha(self.peek()) || self.peek().is_ascii_digit() {
            self.current += 1;
        }
        let text = &self.source[self.start..self.current];
        self.make(keyword(text).unwrap_or(TokenKind::Identifier))
    }
}

/// Whether `source` stops in the middle of something: an open `(` or `{`,
/// or a string without its closing quote. A REPL reads more lines then.
pub fn is_unfinished(source: &str) -> bool {
    let mut scanner = Scanner::new(source);
    let mut depth: i64 = 0;
    loop {
        let token = scanner.next_token();
        match token.kind {
            TokenKind::LeftParen | TokenKind::LeftBrace => depth += 1,
            TokenKind::RightParen | TokenKind::RightBrace => depth -= 1,
            TokenKind::Error if token.error == Some("Unterminated string.") => return true,
            TokenKind::Eof => return depth > 0,
            _ => {}
        }
    }
}

fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Vec<TokenKind> {
        Scanner::new(source).scan_all().iter().map(|t| t.kind).collect()
    }

    #[test]
    fn one_error_per_non_ascii_character() {
        use TokenKind as T;
        assert_eq!(kinds("a é b"), [T::Identifier, T::Error, T::Identifier, T::Eof]);
    }

    #[test]
    fn trailing_dot_is_not_part_of_a_number() {
        use TokenKind as T;
        assert_eq!(kinds("5."), [T::Number, T::Dot, T::Eof]);
        assert_eq!(kinds(".5"), [T::Dot, T::Number, T::Eof]);
    }

    #[test]
    fn unterminated_string_reports_the_last_line() {
        let tokens = Scanner::new("\"a\nb\nc").scan_all();
        assert_eq!(tokens[0].kind, TokenKind::Error);
        assert_eq!(tokens[0].line, 3);
    }
}
