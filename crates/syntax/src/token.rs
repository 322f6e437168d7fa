//! Tokens: what the scanner produces and the parser consumes.

/// A byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Where a token stands: enough to report a diagnostic at it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenRef {
    pub span: Span,
    pub line: u32,
    /// The token is the end of the input (`Error at end`).
    pub at_end: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    // Punctuation.
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    Comma,
    Dot,
    Minus,
    Plus,
    Semicolon,
    Slash,
    Star,
    Bang,
    BangEqual,
    Equal,
    EqualEqual,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
    // Literals.
    Identifier,
    String,
    Number,
    // Keywords.
    And,
    Class,
    Else,
    False,
    For,
    Fun,
    If,
    Nil,
    Or,
    Print,
    Return,
    Super,
    This,
    True,
    Var,
    While,
    /// A scanner error; the message is in [`Token::error`].
    Error,
    Eof,
}

#[derive(Debug, Clone, Copy)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
    pub line: u32,
    /// For `TokenKind::Error`: what went wrong.
    pub error: Option<&'static str>,
}

impl Token {
    pub fn to_ref(&self) -> TokenRef {
        TokenRef { span: self.span, line: self.line, at_end: self.kind == TokenKind::Eof }
    }
}

/// The keyword spelled `text`, if it is one.
pub fn keyword(text: &str) -> Option<TokenKind> {
    Some(match text {
        "and" => TokenKind::And,
        "class" => TokenKind::Class,
        "else" => TokenKind::Else,
        "false" => TokenKind::False,
        "for" => TokenKind::For,
        "fun" => TokenKind::Fun,
        "if" => TokenKind::If,
        "nil" => TokenKind::Nil,
        "or" => TokenKind::Or,
        "print" => TokenKind::Print,
        "return" => TokenKind::Return,
        "super" => TokenKind::Super,
        "this" => TokenKind::This,
        "true" => TokenKind::True,
        "var" => TokenKind::Var,
        "while" => TokenKind::While,
        _ => return None,
    })
}
