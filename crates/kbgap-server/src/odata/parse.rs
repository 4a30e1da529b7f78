//! The `$filter` grammar: a hand-written lexer and recursive-descent parser.
//!
//! ```text
//! or      := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | compare
//! compare := operand (("eq"|"ne"|"gt"|"ge"|"lt"|"le") operand | "in" "(" literal ("," literal)* ")")?
//! operand := "(" or ")" | literal | function "(" or ("," or)* ")" | path ("/" ("any"|"all") "(" [var ":" or] ")")?
//! literal := 'string' | integer | decimal | true | false | null | 2024-01-01[T00:00:00Z]
//! ```
//!
//! `and`/`or` chains are kept flat (`And(vec![…])`), so a long chain does not make a deep tree;
//! only parentheses, `not`, function arguments and lambdas nest, and they are capped at
//! [`MAX_DEPTH`] so no input can overflow the stack, here or when the tree is evaluated or
//! dropped. Keywords and function names are matched without regard to case, as .NET OData does.

use chrono::{DateTime, NaiveDate, Utc};

/// The deepest nesting accepted.
pub const MAX_DEPTH: usize = 64;
/// The longest `$filter` accepted, in bytes.
pub const MAX_LEN: usize = 8192;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `gt`
    Gt,
    /// `ge`
    Ge,
    /// `lt`
    Lt,
    /// `le`
    Le,
}

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `startswith(s, prefix)`
    StartsWith,
    /// `endswith(s, suffix)`
    EndsWith,
    /// `contains(s, part)`
    Contains,
    /// `substringof(part, s)`: OData v3's spelling of `contains`, arguments swapped.
    SubstringOf,
    /// `tolower(s)`
    ToLower,
    /// `toupper(s)`
    ToUpper,
    /// `trim(s)`
    Trim,
}

impl Func {
    fn from_name(name: &str) -> Option<(Self, usize)> {
        Some(match name.to_ascii_lowercase().as_str() {
            "startswith" => (Self::StartsWith, 2),
            "endswith" => (Self::EndsWith, 2),
            "contains" => (Self::Contains, 2),
            "substringof" => (Self::SubstringOf, 2),
            "tolower" => (Self::ToLower, 1),
            "toupper" => (Self::ToUpper, 1),
            "trim" => (Self::Trim, 1),
            _ => return None,
        })
    }
}

/// `any` or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LambdaKind {
    /// `any(…)`: some element matches (or, without a body, the collection is not empty).
    Any,
    /// `all(…)`: every element matches.
    All,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `null`
    Null,
    /// `true`/`false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A decimal or floating-point number.
    Decimal(f64),
    /// A quoted string.
    String(String),
    /// An unquoted date (`2024-01-01`, midnight UTC) or date-time.
    DateTime(DateTime<Utc>),
}

/// A parsed `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Any operand true.
    Or(Vec<Expr>),
    /// All operands true.
    And(Vec<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// A comparison.
    Compare(CmpOp, Box<Expr>, Box<Expr>),
    /// `x in (a, b, …)`.
    In(Box<Expr>, Vec<Literal>),
    /// A function call.
    Call(Func, Vec<Expr>),
    /// `path/any(v: body)` or `path/all(v: body)`; `var` and `body` are absent for `any()`.
    Lambda {
        /// The collection property.
        path: Vec<String>,
        /// `any` or `all`.
        kind: LambdaKind,
        /// The range variable and the condition on it.
        body: Option<(String, Box<Expr>)>,
    },
    /// A property path (`computerDnsName`, `ip/ipAddress`).
    Property(Vec<String>),
    /// A literal.
    Literal(Literal),
}

/// A syntax error at a character position (0-based).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error at position {position}: {message}")]
pub struct SyntaxError {
    /// 0-based character position in the filter text.
    pub position: usize,
    /// What was expected or wrong.
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Lit(Literal),
    LParen,
    RParen,
    Comma,
    Slash,
    Colon,
    End,
}

struct Token {
    tok: Tok,
    /// Byte offset.
    at: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Lit(Literal::String(_)) => "a string".into(),
        Tok::Lit(_) => "a literal".into(),
        Tok::LParen => "'('".into(),
        Tok::RParen => "')'".into(),
        Tok::Comma => "','".into(),
        Tok::Slash => "'/'".into(),
        Tok::Colon => "':'".into(),
        Tok::End => "the end of the filter".into(),
    }
}

fn lex(input: &str) -> Result<Vec<Token>, (usize, String)> {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' | b')' | b',' | b'/' | b':' => {
                i += 1;
                let tok = match c {
                    b'(' => Tok::LParen,
                    b')' => Tok::RParen,
                    b',' => Tok::Comma,
                    b'/' => Tok::Slash,
                    _ => Tok::Colon,
                };
                out.push(Token { tok, at: start });
            }
            b'\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(rel) = input[i..].find('\'') else {
                        return Err((start, "unterminated string literal".into()));
                    };
                    s.push_str(&input[i..i + rel]);
                    i += rel + 1;
                    if bytes.get(i) == Some(&b'\'') {
                        s.push('\'');
                        i += 1;
                    } else {
                        break;
                    }
                }
                out.push(Token {
                    tok: Tok::Lit(Literal::String(s)),
                    at: start,
                });
            }
            b'0'..=b'9' | b'-' => {
                if c == b'-' && !bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    return Err((start, "'-' must start a number".into()));
                }
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_digit() {
                    i += 1;
                }
                let lit = if c != b'-' && i - start == 4 && bytes.get(i) == Some(&b'-') {
                    while i < bytes.len()
                        && matches!(
                            bytes[i],
                            b'0'..=b'9' | b'-' | b':' | b'.' | b'+' | b'T' | b't' | b'Z' | b'z'
                        )
                    {
                        i += 1;
                    }
                    Literal::DateTime(
                        parse_datetime(&input[start..i])
                            .ok_or((start, "invalid date/time literal".to_string()))?,
                    )
                } else {
                    let mut decimal = false;
                    if bytes.get(i) == Some(&b'.')
                        && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                    {
                        decimal = true;
                        i += 1;
                        while i < bytes.len() && bytes[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                    if matches!(bytes.get(i), Some(b'e' | b'E')) {
                        let mut j = i + 1;
                        if matches!(bytes.get(j), Some(b'+' | b'-')) {
                            j += 1;
                        }
                        if bytes.get(j).is_some_and(u8::is_ascii_digit) {
                            decimal = true;
                            i = j;
                            while i < bytes.len() && bytes[i].is_ascii_digit() {
                                i += 1;
                            }
                        }
                    }
                    let text = &input[start..i];
                    if decimal {
                        Literal::Decimal(
                            text.parse()
                                .map_err(|_| (start, "invalid number".to_string()))?,
                        )
                    } else {
                        Literal::Int(
                            text.parse()
                                .map_err(|_| (start, "integer out of range".to_string()))?,
                        )
                    }
                };
                if bytes
                    .get(i)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                {
                    return Err((i, "unexpected character after a number".into()));
                }
                out.push(Token {
                    tok: Tok::Lit(lit),
                    at: start,
                });
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &input[start..i];
                let tok = match word.to_ascii_lowercase().as_str() {
                    "true" => Tok::Lit(Literal::Bool(true)),
                    "false" => Tok::Lit(Literal::Bool(false)),
                    "null" => Tok::Lit(Literal::Null),
                    _ => Tok::Ident(word.to_owned()),
                };
                out.push(Token { tok, at: start });
            }
            _ => {
                return Err((
                    start,
                    format!(
                        "unexpected character {:?}",
                        input[start..].chars().next().unwrap_or(' ')
                    ),
                ));
            }
        }
    }
    out.push(Token {
        tok: Tok::End,
        at: input.len(),
    });
    Ok(out)
}

/// RFC 3339 date-time, or a bare date (midnight UTC).
pub(crate) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)
        .map(|n| n.and_utc())
}

struct Parser {
    toks: Vec<Token>,
    i: usize,
}

type PResult<T> = Result<T, (usize, String)>;

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].tok
    }
    fn at(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].at
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w.eq_ignore_ascii_case(kw))
    }
    fn expect(&mut self, want: &Tok, what: &str) -> PResult<()> {
        if self.peek() == want {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }
    fn unexpected(&self, what: &str) -> (usize, String) {
        (
            self.at(),
            format!("expected {what}, found {}", describe(self.peek())),
        )
    }
    fn depth(&self, depth: usize) -> PResult<()> {
        if depth > MAX_DEPTH {
            Err((self.at(), format!("nesting deeper than {MAX_DEPTH} levels")))
        } else {
            Ok(())
        }
    }

    fn or(&mut self, depth: usize) -> PResult<Expr> {
        self.depth(depth)?;
        let mut items = vec![self.and(depth)?];
        while self.keyword("or") {
            self.bump();
            items.push(self.and(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self, depth: usize) -> PResult<Expr> {
        let mut items = vec![self.unary(depth)?];
        while self.keyword("and") {
            self.bump();
            items.push(self.unary(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn unary(&mut self, depth: usize) -> PResult<Expr> {
        if self.keyword("not") {
            self.bump();
            self.depth(depth + 1)?;
            return Ok(Expr::Not(Box::new(self.unary(depth + 1)?)));
        }
        self.compare(depth)
    }

    fn compare(&mut self, depth: usize) -> PResult<Expr> {
        let left = self.operand(depth)?;
        let op = match self.peek() {
            Tok::Ident(w) => match w.to_ascii_lowercase().as_str() {
                "eq" => Some(CmpOp::Eq),
                "ne" => Some(CmpOp::Ne),
                "gt" => Some(CmpOp::Gt),
                "ge" => Some(CmpOp::Ge),
                "lt" => Some(CmpOp::Lt),
                "le" => Some(CmpOp::Le),
                "in" => None,
                _ => return Ok(left),
            },
            _ => return Ok(left),
        };
        self.bump();
        match op {
            Some(op) => Ok(Expr::Compare(
                op,
                Box::new(left),
                Box::new(self.operand(depth)?),
            )),
            None => {
                self.expect(&Tok::LParen, "'(' after 'in'")?;
                let mut list = Vec::new();
                loop {
                    let Tok::Lit(l) = self.peek().clone() else {
                        return Err(self.unexpected("a literal"));
                    };
                    self.bump();
                    list.push(l);
                    if self.peek() == &Tok::Comma {
                        self.bump();
                        continue;
                    }
                    self.expect(&Tok::RParen, "',' or ')'")?;
                    break;
                }
                Ok(Expr::In(Box::new(left), list))
            }
        }
    }

    fn operand(&mut self, depth: usize) -> PResult<Expr> {
        match self.peek().clone() {
            Tok::LParen => {
                self.bump();
                let e = self.or(depth + 1)?;
                self.expect(&Tok::RParen, "')'")?;
                Ok(e)
            }
            Tok::Lit(l) => {
                self.bump();
                Ok(Expr::Literal(l))
            }
            Tok::Ident(name) if is_reserved(&name) => {
                Err(self.unexpected("a property, literal or function"))
            }
            Tok::Ident(name) => {
                let name_at = self.at();
                self.bump();
                if self.peek() == &Tok::LParen {
                    let (func, arity) = Func::from_name(&name)
                        .ok_or((name_at, format!("unknown function '{name}'")))?;
                    self.bump();
                    let mut args = vec![self.or(depth + 1)?];
                    while self.peek() == &Tok::Comma {
                        self.bump();
                        args.push(self.or(depth + 1)?);
                    }
                    self.expect(&Tok::RParen, "')'")?;
                    if args.len() != arity {
                        return Err((
                            name_at,
                            format!("{name} takes {arity} argument(s), not {}", args.len()),
                        ));
                    }
                    return Ok(Expr::Call(func, args));
                }
                let mut path = vec![name];
                while self.peek() == &Tok::Slash {
                    self.bump();
                    let seg_at = self.at();
                    let Tok::Ident(seg) = self.bump() else {
                        return Err((seg_at, "expected a property name after '/'".into()));
                    };
                    let kind = match seg.to_ascii_lowercase().as_str() {
                        "any" if self.peek() == &Tok::LParen => Some(LambdaKind::Any),
                        "all" if self.peek() == &Tok::LParen => Some(LambdaKind::All),
                        _ => None,
                    };
                    if let Some(kind) = kind {
                        return self.lambda(path, kind, depth);
                    }
                    path.push(seg);
                }
                Ok(Expr::Property(path))
            }
            _ => Err(self.unexpected("a property, literal or function")),
        }
    }

    fn lambda(&mut self, path: Vec<String>, kind: LambdaKind, depth: usize) -> PResult<Expr> {
        self.bump(); // (
        if self.peek() == &Tok::RParen && kind == LambdaKind::Any {
            self.bump();
            return Ok(Expr::Lambda {
                path,
                kind,
                body: None,
            });
        }
        let Tok::Ident(var) = self.peek().clone() else {
            return Err(self.unexpected("a range variable"));
        };
        self.bump();
        self.expect(&Tok::Colon, "':' after the range variable")?;
        let body = self.or(depth + 1)?;
        self.expect(&Tok::RParen, "')'")?;
        Ok(Expr::Lambda {
            path,
            kind,
            body: Some((var, Box::new(body))),
        })
    }
}

fn is_reserved(w: &str) -> bool {
    ["and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
}

/// Parses a `$filter` expression.
pub fn parse(input: &str) -> Result<Expr, SyntaxError> {
    let to_err = |(at, message): (usize, String)| SyntaxError {
        position: input[..at.min(input.len())].chars().count(),
        message,
    };
    if input.len() > MAX_LEN {
        return Err(SyntaxError {
            position: 0,
            message: format!("the filter is longer than {MAX_LEN} characters"),
        });
    }
    let toks = lex(input).map_err(to_err)?;
    let mut p = Parser { toks, i: 0 };
    if p.peek() == &Tok::End {
        return Err(to_err((0, "the filter is empty".into())));
    }
    let e = p.or(0).map_err(to_err)?;
    if p.peek() != &Tok::End {
        return Err(to_err(p.unexpected("an operator or the end of the filter")));
    }
    Ok(e)
}
