//! Sigma's `condition`: `and`, `or`, `not`, parentheses, selection names and
//! `1 of sel*` / `all of them` / `N of x`, parsed to a small tree (precedence: `not`,
//! then `and`, then `or`). An aggregation (`| count() > 5`) is its own error, so the
//! rule is refused for what it is. Pure parsing.

/// A parsed condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Cond {
    Or(Vec<Cond>),
    And(Vec<Cond>),
    Not(Box<Cond>),
    /// A detection (selection) name.
    Name(String),
    /// `<quantifier> of <pattern>`; `them` is every detection not starting with `_`.
    Of {
        quant: Quant,
        pattern: String,
    },
}

/// How many of the detections an `of` needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quant {
    All,
    AtLeast(usize),
}

/// Why a condition did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CondError {
    /// Byte offset into the condition.
    pub offset: usize,
    pub message: String,
    /// A `|` pipe (aggregation), which Picket does not run.
    pub aggregation: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Pipe,
    End,
}

fn lex(text: &str) -> Vec<(Tok, usize)> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                out.push((Tok::Open, i));
                chars.next();
            }
            ')' => {
                out.push((Tok::Close, i));
                chars.next();
            }
            '|' => {
                out.push((Tok::Pipe, i));
                chars.next();
            }
            _ => {
                let mut w = String::new();
                while let Some(&(_, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '|') {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                out.push((Tok::Word(w), i));
            }
        }
    }
    out.push((Tok::End, text.len()));
    out
}

struct P {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 64;

/// Parses a condition.
pub(crate) fn parse(text: &str) -> Result<Cond, CondError> {
    let mut p = P {
        toks: lex(text),
        pos: 0,
        depth: 0,
    };
    let c = p.or()?;
    match p.peek() {
        Tok::End => Ok(c),
        Tok::Pipe => Err(CondError {
            offset: p.offset(),
            message: "aggregations (`| count() ...`) are not supported".into(),
            aggregation: true,
        }),
        t => Err(p.err(format!("unexpected {t:?}"))),
    }
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

impl P {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }
    fn offset(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].1
    }
    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }
    fn err(&self, message: String) -> CondError {
        CondError {
            offset: self.offset(),
            message,
            aggregation: false,
        }
    }

    fn or(&mut self) -> Result<Cond, CondError> {
        let mut items = vec![self.and()?];
        while is_kw(self.peek(), "or") {
            self.bump();
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::Or(items)
        })
    }

    fn and(&mut self) -> Result<Cond, CondError> {
        let mut items = vec![self.not()?];
        while is_kw(self.peek(), "and") {
            self.bump();
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Cond::And(items)
        })
    }

    fn not(&mut self) -> Result<Cond, CondError> {
        if is_kw(self.peek(), "not") {
            self.bump();
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(self.err("condition nested too deeply".into()));
            }
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Cond::Not(Box::new(inner)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Cond, CondError> {
        match self.bump() {
            Tok::Open => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(self.err("condition nested too deeply".into()));
                }
                let inner = self.or()?;
                self.depth -= 1;
                match self.bump() {
                    Tok::Close => Ok(inner),
                    t => Err(self.err(format!("expected `)`, found {t:?}"))),
                }
            }
            Tok::Word(w) => {
                let quant = if w.eq_ignore_ascii_case("all") {
                    Some(Quant::All)
                } else if w.eq_ignore_ascii_case("any") {
                    Some(Quant::AtLeast(1))
                } else {
                    w.parse::<usize>().ok().map(Quant::AtLeast)
                };
                if let Some(quant) = quant {
                    if !is_kw(self.peek(), "of") {
                        return Err(self.err(format!("expected `of` after `{w}`")));
                    }
                    self.bump();
                    return match self.bump() {
                        Tok::Word(pattern) if !is_reserved(&pattern) => {
                            Ok(Cond::Of { quant, pattern })
                        }
                        t => Err(self.err(format!("expected a name pattern, found {t:?}"))),
                    };
                }
                if is_reserved(&w) {
                    return Err(self.err(format!("unexpected `{w}`")));
                }
                Ok(Cond::Name(w))
            }
            Tok::Pipe => Err(CondError {
                offset: self.offset(),
                message: "aggregations (`| count() ...`) are not supported".into(),
                aggregation: true,
            }),
            t => Err(self.err(format!("expected a detection name, found {t:?}"))),
        }
    }
}

fn is_reserved(w: &str) -> bool {
    ["and", "or", "not", "of"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
}

/// Whether detection `name` matches an `of` pattern (`*` wildcards; `them` is all).
pub(crate) fn name_matches(pattern: &str, name: &str) -> bool {
    if pattern == "them" {
        return !name.starts_with('_');
    }
    crate::glob::Glob::new(pattern, false).matches(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_quantifiers() {
        let c = parse("a or b and not c").expect("ok");
        assert_eq!(
            c,
            Cond::Or(vec![
                Cond::Name("a".into()),
                Cond::And(vec![
                    Cond::Name("b".into()),
                    Cond::Not(Box::new(Cond::Name("c".into())))
                ])
            ])
        );
        let c = parse("all of sel* and not 1 of filter_*").expect("ok");
        assert!(matches!(c, Cond::And(_)));
        assert!(parse("selection | count() > 5").is_err_and(|e| e.aggregation));
        assert!(parse("(a").is_err());
        assert!(parse("a and").is_err());
        assert!(name_matches("sel*", "selection_1"));
        assert!(!name_matches("them", "_private"));
    }
}
