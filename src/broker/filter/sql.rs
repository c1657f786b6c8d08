//! SQL92 property filters (`MessageSelector.bySql`), with the grammar and
//! evaluation rules of RocketMQ's `SelectorParser` and `ComparisonExpression`:
//! comparisons, BETWEEN, IN, IS [NOT] NULL, AND/OR/NOT, string equality;
//! property values are strings, converted to the other operand's type when
//! compared with a number or boolean.

use std::cmp::Ordering;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SqlError {
    #[error("Lexical error at column {0}: {1}")]
    Lex(usize, String),
    #[error("Encountered \"{0}\" at column {1}. {2}")]
    Parse(String, usize, String),
    #[error("{0}")]
    Semantic(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Id(String),
    Str(String),
    Long(i64),
    Double(f64),
    Kw(&'static str),
    Sym(&'static str),
    End,
}

fn lex(s: &str) -> Result<Vec<(Tok, usize)>, SqlError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let col = i + 1;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if s[i..].starts_with("--") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if s[i..].starts_with("/*") {
            let end = s[i + 2..].find("*/").ok_or_else(|| SqlError::Lex(col, "unterminated comment".into()))?;
            i += end + 4;
        } else if c == b'\'' {
            let mut v = String::new();
            i += 1;
            loop {
                match s[i..].chars().next() {
                    None => return Err(SqlError::Lex(col, "unterminated string literal".into())),
                    Some('\'') if s[i + 1..].starts_with('\'') => {
                        v.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        v.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            out.push((Tok::Str(v), col));
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let mut float = false;
            if i < b.len() && b[i] == b'.' {
                float = true;
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    float = true;
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text = &s[start..i];
            if float {
                let v = text.parse().map_err(|_| SqlError::Lex(col, format!("bad number {text}")))?;
                out.push((Tok::Double(v), col));
            } else {
                if text.len() > 1 && text.starts_with('0') {
                    return Err(SqlError::Lex(col, format!("bad number {text}")));
                }
                if i < b.len() && (b[i] == b'l' || b[i] == b'L') {
                    i += 1;
                }
                let v = text.parse().map_err(|_| SqlError::Lex(col, format!("number out of range {text}")))?;
                out.push((Tok::Long(v), col));
            }
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b'$' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'$') {
                i += 1;
            }
            let word = &s[start..i];
            let kw = ["NOT", "AND", "OR", "BETWEEN", "IN", "TRUE", "FALSE", "NULL", "IS"]
                .into_iter()
                .find(|k| k.eq_ignore_ascii_case(word));
            out.push((kw.map_or_else(|| Tok::Id(word.to_string()), Tok::Kw), col));
        } else {
            let sym = [">=", "<=", "<>", "=", ">", "<", "(", ")", ",", "+", "-"]
                .into_iter()
                .find(|sym| s[i..].starts_with(sym))
                .ok_or_else(|| SqlError::Lex(col, format!("unexpected character {:?}", s[i..].chars().next().unwrap())))?;
            i += sym.len();
            out.push((Tok::Sym(sym), col));
        }
    }
    out.push((Tok::End, s.len() + 1));
    Ok(out)
}

/// A compiled expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Const(Value),
    Prop(String),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Cmp(Box<Expr>, Op, Box<Expr>),
    Eq(Box<Expr>, Box<Expr>),
    In(String, Vec<String>, bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Long(i64),
    Double(f64),
    Str(String),
}

impl Expr {
    fn is_boolean(&self) -> bool {
        matches!(
            self,
            Expr::Const(Value::Bool(_)) | Expr::And(..) | Expr::Or(..) | Expr::Not(..) | Expr::Cmp(..) | Expr::Eq(..) | Expr::In(..)
        )
    }
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn peek2(&self) -> &Tok {
        &self.toks[(self.pos + 1).min(self.toks.len() - 1)].0
    }
    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }
    fn err(&self, expected: &str) -> SqlError {
        let (t, col) = &self.toks[self.pos];
        let shown = match t {
            Tok::Id(s) => s.clone(),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Long(v) => v.to_string(),
            Tok::Double(v) => v.to_string(),
            Tok::Kw(k) => k.to_string(),
            Tok::Sym(s) => s.to_string(),
            Tok::End => "<EOF>".into(),
        };
        SqlError::Parse(shown, *col, format!("Was expecting {expected}"))
    }
    fn eat_kw(&mut self, k: &str) -> bool {
        if matches!(self.peek(), Tok::Kw(x) if *x == k) {
            self.next();
            true
        } else {
            false
        }
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Tok::Sym(x) if *x == s) {
            self.next();
            true
        } else {
            false
        }
    }
    fn expect_sym(&mut self, s: &str) -> Result<(), SqlError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.err(&format!("\"{s}\"")))
        }
    }

    fn boolean(e: Expr) -> Result<Expr, SqlError> {
        if e.is_boolean() {
            Ok(e)
        } else {
            Err(SqlError::Semantic(format!("Expression will not result in a boolean value: {e:?}")))
        }
    }

    fn or_expr(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.and_expr()?;
        while self.eat_kw("OR") {
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(Self::boolean(left)?), Box::new(Self::boolean(right)?));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.equality()?;
        while self.eat_kw("AND") {
            let right = self.equality()?;
            left = Expr::And(Box::new(Self::boolean(left)?), Box::new(Self::boolean(right)?));
        }
        Ok(left)
    }

    fn equality(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.comparison()?;
        loop {
            if self.eat_sym("=") {
                let right = self.comparison()?;
                left = make_equal(left, right)?;
            } else if self.eat_sym("<>") {
                let right = self.comparison()?;
                left = Expr::Not(Box::new(make_equal(left, right)?));
            } else if matches!(self.peek(), Tok::Kw("IS")) {
                self.next();
                let not = self.eat_kw("NOT");
                if !self.eat_kw("NULL") {
                    return Err(self.err("\"NULL\""));
                }
                let eq = Expr::Eq(Box::new(left), Box::new(Expr::Const(Value::Null)));
                left = if not { Expr::Not(Box::new(eq)) } else { eq };
            } else {
                return Ok(left);
            }
        }
    }

    fn comparison(&mut self) -> Result<Expr, SqlError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Sym(">") => Some(Op::Gt),
                Tok::Sym(">=") => Some(Op::Ge),
                Tok::Sym("<") => Some(Op::Lt),
                Tok::Sym("<=") => Some(Op::Le),
                _ => None,
            };
            if let Some(op) = op {
                self.next();
                let right = self.unary()?;
                left = make_cmp(left, op, right)?;
                continue;
            }
            let not = matches!(self.peek(), Tok::Kw("NOT")) && matches!(self.peek2(), Tok::Kw("BETWEEN") | Tok::Kw("IN"));
            if not {
                self.next();
            }
            if self.eat_kw("BETWEEN") {
                let low = self.unary()?;
                if !self.eat_kw("AND") {
                    return Err(self.err("\"AND\""));
                }
                let high = self.unary()?;
                if let (Expr::Const(lv), Expr::Const(hv)) = (&low, &high) {
                    if *lv == Value::Null || *hv == Value::Null {
                        return Err(SqlError::Semantic("Illegal values of between, values can not be null!".into()));
                    }
                    if matches!(compare(hv, lv), Ok(Some(Ordering::Less))) {
                        return Err(SqlError::Semantic(format!(
                            "Illegal values of between, left value({}) must less than or equal to right value({})",
                            show(lv),
                            show(hv)
                        )));
                    }
                }
                left = if not {
                    Expr::Or(Box::new(make_cmp(left.clone(), Op::Lt, low)?), Box::new(make_cmp(left, Op::Gt, high)?))
                } else {
                    Expr::And(Box::new(make_cmp(left.clone(), Op::Ge, low)?), Box::new(make_cmp(left, Op::Le, high)?))
                };
            } else if self.eat_kw("IN") {
                self.expect_sym("(")?;
                let mut items = Vec::new();
                loop {
                    match self.next() {
                        Tok::Str(s) => items.push(s),
                        _ => {
                            self.pos -= 1;
                            return Err(self.err("<STRING_LITERAL>"));
                        }
                    }
                    if !self.eat_sym(",") {
                        break;
                    }
                }
                self.expect_sym(")")?;
                let Expr::Prop(name) = left else {
                    return Err(SqlError::Semantic(format!("Expected a property for In expression, got: {left:?}")));
                };
                left = Expr::In(name, items, not);
            } else if not {
                return Err(self.err("\"BETWEEN\" or \"IN\""));
            } else {
                return Ok(left);
            }
        }
    }

    fn unary(&mut self) -> Result<Expr, SqlError> {
        if self.eat_sym("+") {
            return self.unary();
        }
        if self.eat_sym("-") {
            return Ok(match self.unary()? {
                Expr::Const(Value::Long(v)) => Expr::Const(Value::Long(-v)),
                Expr::Const(Value::Double(v)) => Expr::Const(Value::Double(-v)),
                e => Expr::Neg(Box::new(e)),
            });
        }
        if self.eat_kw("NOT") {
            let e = self.unary()?;
            return Ok(Expr::Not(Box::new(Self::boolean(e)?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, SqlError> {
        let e = match self.next() {
            Tok::Str(s) => Expr::Const(Value::Str(s)),
            Tok::Long(v) => Expr::Const(Value::Long(v)),
            Tok::Double(v) => Expr::Const(Value::Double(v)),
            Tok::Kw("TRUE") => Expr::Const(Value::Bool(true)),
            Tok::Kw("FALSE") => Expr::Const(Value::Bool(false)),
            Tok::Kw("NULL") => Expr::Const(Value::Null),
            Tok::Id(name) => Expr::Prop(name),
            Tok::Sym("(") => {
                let e = self.or_expr()?;
                self.expect_sym(")")?;
                e
            }
            _ => {
                self.pos = self.pos.saturating_sub(1);
                return Err(self.err("a literal, a property name or \"(\""));
            }
        };
        Ok(e)
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Bool(b) => b.to_string(),
        Value::Long(l) => l.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Str(s) => s.clone(),
    }
}

fn make_equal(l: Expr, r: Expr) -> Result<Expr, SqlError> {
    for e in [&l, &r] {
        if *e == Expr::Const(Value::Null) {
            return Err(SqlError::Semantic("'NULL' cannot be compared.".into()));
        }
    }
    if let (Expr::Const(Value::Bool(_)), Expr::Const(v)) | (Expr::Const(v), Expr::Const(Value::Bool(_))) = (&l, &r) {
        if !matches!(v, Value::Bool(_)) {
            return Err(SqlError::Semantic(format!("'{}' cannot be compared with '{}'", show_expr(&l), show_expr(&r))));
        }
    }
    Ok(Expr::Eq(Box::new(l), Box::new(r)))
}

fn show_expr(e: &Expr) -> String {
    match e {
        Expr::Const(v) => show(v),
        other => format!("{other:?}"),
    }
}

fn make_cmp(l: Expr, op: Op, r: Expr) -> Result<Expr, SqlError> {
    for e in [&l, &r] {
        if let Expr::Const(v) = e {
            if !matches!(v, Value::Long(_) | Value::Double(_) | Value::Str(_)) {
                return Err(SqlError::Semantic(format!("Value '{}' cannot be compared.", show(v))));
            }
        } else if e.is_boolean() {
            return Err(SqlError::Semantic(format!("Value '{}' cannot be compared.", show_expr(e))));
        }
    }
    Ok(Expr::Cmp(Box::new(l), op, Box::new(r)))
}

/// Compiles an expression (`SqlFilter.compile`).
pub fn compile(sql: &str) -> Result<Expr, SqlError> {
    let mut p = Parser { toks: lex(sql)?, pos: 0 };
    let e = p.or_expr()?;
    if *p.peek() != Tok::End {
        return Err(p.err("<EOF>"));
    }
    Parser::boolean(e)
}

#[derive(Debug)]
struct EvalError;

fn parse_as<T: std::str::FromStr>(s: &str) -> Result<T, EvalError> {
    s.trim().parse().map_err(|_| EvalError)
}

/// `ComparisonExpression.__compare` with string conversion on.
fn compare(l: &Value, r: &Value) -> Result<Option<Ordering>, EvalError> {
    use Value::*;
    Ok(match (l, r) {
        (Long(a), Long(b)) => Some(a.cmp(b)),
        (Double(a), Double(b)) => a.partial_cmp(b),
        (Long(a), Double(b)) => (*a as f64).partial_cmp(b),
        (Double(a), Long(b)) => a.partial_cmp(&(*b as f64)),
        (Str(a), Str(b)) => Some(a.cmp(b)),
        (Bool(a), Bool(b)) => Some(a.cmp(b)),
        (Str(a), Long(b)) => Some(parse_as::<i64>(a)?.cmp(b)),
        (Long(a), Str(b)) => Some(a.cmp(&parse_as::<i64>(b)?)),
        (Str(a), Double(b)) => parse_as::<f64>(a)?.partial_cmp(b),
        (Double(a), Str(b)) => a.partial_cmp(&parse_as::<f64>(b)?),
        (Str(a), Bool(b)) => Some(a.eq_ignore_ascii_case("true").cmp(b)),
        (Bool(a), Str(b)) => Some(a.cmp(&b.eq_ignore_ascii_case("true"))),
        // Mismatched kinds compare as "less" in the Java code: never equal.
        _ => Some(Ordering::Less),
    })
}

fn eval(e: &Expr, get: &dyn Fn(&str) -> Option<String>) -> Result<Value, EvalError> {
    use Value::*;
    let truth = |v: Value| match v {
        Bool(b) => Some(b),
        _ => None,
    };
    Ok(match e {
        Expr::Const(v) => v.clone(),
        Expr::Prop(name) => get(name).map_or(Null, Str),
        Expr::Neg(inner) => match eval(inner, get)? {
            Long(v) => Long(-v),
            Double(v) => Double(-v),
            Str(s) => match s.trim().parse::<i64>() {
                Ok(v) => Long(-v),
                Err(_) => Double(-parse_as::<f64>(&s)?),
            },
            _ => Null,
        },
        Expr::And(a, b) => {
            if truth(eval(a, get)?) != Some(true) {
                Bool(false)
            } else {
                Bool(truth(eval(b, get)?) == Some(true))
            }
        }
        Expr::Or(a, b) => {
            if truth(eval(a, get)?) == Some(true) {
                Bool(true)
            } else {
                Bool(truth(eval(b, get)?) == Some(true))
            }
        }
        Expr::Not(a) => match truth(eval(a, get)?) {
            Some(b) => Bool(!b),
            None => Null,
        },
        Expr::Eq(a, b) => {
            let (l, r) = (eval(a, get)?, eval(b, get)?);
            match (&l, &r) {
                (Null, Null) => Bool(true),
                (Null, _) => Null,
                (_, Null) => Bool(false),
                _ if l == r => Bool(true),
                _ => Bool(compare(&l, &r)? == Some(Ordering::Equal)),
            }
        }
        Expr::Cmp(a, op, b) => {
            let (l, r) = (eval(a, get)?, eval(b, get)?);
            if l == Null || r == Null {
                return Ok(Null);
            }
            // Two strings compare as numbers, as the Java side does.
            let ord = match (&l, &r) {
                (Str(x), Str(y)) => parse_as::<f64>(x)?.partial_cmp(&parse_as::<f64>(y)?),
                _ => compare(&l, &r)?,
            };
            let Some(ord) = ord else { return Ok(Bool(false)) };
            Bool(match op {
                Op::Gt => ord == Ordering::Greater,
                Op::Ge => ord != Ordering::Less,
                Op::Lt => ord == Ordering::Less,
                Op::Le => ord != Ordering::Greater,
            })
        }
        Expr::In(name, items, not) => match get(name) {
            None => Null,
            Some(v) => Bool(items.contains(&v) ^ not),
        },
    })
}

/// Whether a message with these properties matches (`isMatchedByCommitLog`):
/// only a definite TRUE matches; an evaluation error does not.
pub fn matches(e: &Expr, get: &dyn Fn(&str) -> Option<String>) -> bool {
    matches!(eval(e, get), Ok(Value::Bool(true)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn check(sql: &str, props: &[(&str, &str)]) -> bool {
        let m: HashMap<String, String> = props.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let e = compile(sql).unwrap_or_else(|err| panic!("{sql}: {err}"));
        matches(&e, &|k| m.get(k).cloned())
    }

    #[test]
    fn comparisons_convert_string_properties() {
        assert!(check("a > 5 AND b = 'x'", &[("a", "7"), ("b", "x")]));
        assert!(!check("a > 5 AND b = 'x'", &[("a", "3"), ("b", "x")]));
        assert!(!check("a > 5 AND b = 'x'", &[("a", "7"), ("b", "y")]));
        assert!(check("a >= 7 and a <= 7.0", &[("a", "7")]));
        assert!(check("a = 5", &[("a", "5")]));
        assert!(check("a <> 5", &[("a", "6")]));
        assert!(check("a < -1", &[("a", "-2")]));
        assert!(!check("a > 5", &[("a", "abc")]), "a non-number never matches");
        assert!(check("f = TRUE", &[("f", "true")]));
    }

    #[test]
    fn between_in_null_and_logic() {
        assert!(check("a BETWEEN 0 AND 3", &[("a", "3")]));
        assert!(!check("a BETWEEN 0 AND 3", &[("a", "4")]));
        assert!(check("a NOT BETWEEN 0 AND 3", &[("a", "4")]));
        assert!(check("b IN ('x', 'y')", &[("b", "y")]));
        assert!(!check("b NOT IN ('x', 'y')", &[("b", "y")]));
        assert!(check("c IS NULL", &[]));
        assert!(check("b IS NOT NULL", &[("b", "1")]));
        assert!(!check("c > 1", &[]), "a missing property never matches");
        assert!(!check("NOT (c > 1)", &[]), "NOT of unknown stays unknown");
        assert!(check("(a = 1 OR a = 2) AND NOT (b = 'z')", &[("a", "2"), ("b", "q")]));
        assert!(check("TRUE", &[]));
        assert!(check("tags = 'TagA' -- comment\n", &[("tags", "TagA")]));
        assert!(check("b = 'it''s'", &[("b", "it's")]));
    }

    #[test]
    fn malformed_expressions_are_errors() {
        for bad in [
            "",
            "a >",
            "a > 5 AND",
            "a = 'x",
            "a IN ()",
            "a IN (1, 2)",
            "(a = 1",
            "a = 1)",
            "a",
            "a # 1",
            "a BETWEEN 5 AND 1",
            "a = NULL",
            "TRUE = 1",
            "a > TRUE",
            "01 = a",
            "99999999999999999999 = a",
            "a NOT 5",
            // As in the Java grammar, NOT binds to the operand, not the comparison.
            "NOT b = 'z'",
        ] {
            assert!(compile(bad).is_err(), "{bad:?} should not compile");
        }
    }
}
