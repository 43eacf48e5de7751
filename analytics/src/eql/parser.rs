//! EQL parser: single-event queries (`<category> where <condition>`) into an AST.

use super::lexer::{lex, Tok};
use super::EqlError;

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `:` — case-insensitive, wildcards, lists.
    Colon,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    /// `in` / `in~`.
    In {
        ci: bool,
    },
    /// `like` / `like~`.
    Like {
        ci: bool,
    },
    /// `regex` / `regex~`.
    Regex {
        ci: bool,
    },
}

/// Arithmetic operators (`+ - * / %`, and the functions `add` ... `modulo`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// A value expression: a field, a literal, a function call or arithmetic on them. The
/// left side of a comparison, a function argument, or (with `==`, `<` ...) a right side.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Field(String),
    Lit(Lit),
    Func {
        name: String,
        ci: bool,
        args: Vec<(Operand, usize)>,
    },
    Arith {
        op: ArithOp,
        lhs: Box<Operand>,
        rhs: Box<Operand>,
    },
}

/// A function argument is any value expression.
pub(crate) type Arg = Operand;

/// The condition AST.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Bool(bool),
    /// `lhs op rhs...` (a list for `:`, `in`, `like`, `regex`).
    Cmp {
        lhs: Operand,
        op: Op,
        rhs: Vec<Lit>,
        at: usize,
    },
    /// `lhs op rhs` where the right side is not a literal (a field, function or
    /// arithmetic): `==`, `!=`, `<`, `<=`, `>`, `>=`.
    Compare {
        lhs: Operand,
        op: Op,
        rhs: Operand,
        at: usize,
    },
    /// A bare operand used as a condition (boolean field or boolean function).
    Truthy {
        operand: Operand,
        at: usize,
    },
    /// Two fields hold an equal value (Sigma's `fieldref`; EQL has no syntax for it).
    FieldsEqual {
        lhs: String,
        rhs: String,
        ci: bool,
    },
}

/// One step of a sequence: `[<category> where <condition>] [by keys] [with runs=N]`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeqStep {
    pub ast: Ast,
    /// The step's own join keys, after the sequence's shared ones.
    pub by: Vec<String>,
    /// `with runs=N`: the step repeated N times.
    pub runs: u32,
}

/// A parsed `sequence` query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SeqAst {
    /// `sequence by …`: keys every step shares.
    pub by: Vec<String>,
    /// `with maxspan=…`, in milliseconds.
    pub maxspan_ms: Option<u64>,
    pub steps: Vec<SeqStep>,
    /// `until [...]`: an event that ends the pending sequences of its keys.
    pub until: Option<SeqStep>,
}

/// Most steps a sequence may have (after `runs` expansion): bounds its state.
pub(crate) const MAX_SEQUENCE_STEPS: usize = 32;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ast {
    /// The event category (`process`, `any`, ...).
    pub category: String,
    pub condition: Expr,
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    depth: usize,
}

/// Deepest nesting of parentheses and `not` a query may have (bounds recursion).
const MAX_DEPTH: usize = 128;

/// Parses a whole query.
pub(crate) fn parse(text: &str) -> Result<Ast, EqlError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    p.query()
}

/// Parses a whole `sequence` query.
pub(crate) fn parse_sequence(text: &str) -> Result<SeqAst, EqlError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
    };
    p.sequence()
}

fn additive(tok: &Tok) -> Option<ArithOp> {
    match tok {
        Tok::Plus => Some(ArithOp::Add),
        Tok::Minus => Some(ArithOp::Sub),
        _ => None,
    }
}

fn multiplicative(tok: &Tok) -> Option<ArithOp> {
    match tok {
        Tok::Star => Some(ArithOp::Mul),
        Tok::Slash => Some(ArithOp::Div),
        Tok::Percent => Some(ArithOp::Mod),
        _ => None,
    }
}

fn is_kw(tok: &Tok, kw: &str) -> bool {
    matches!(tok, Tok::Ident { name, ci: false } if name.eq_ignore_ascii_case(kw))
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos.min(self.toks.len() - 1)].0
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.pos + n).min(self.toks.len() - 1)].0
    }

    fn offset(&self) -> usize {
        self.toks[self.pos.min(self.toks.len() - 1)].1
    }

    fn bump(&mut self) -> (Tok, usize) {
        let t = self.toks[self.pos.min(self.toks.len() - 1)].clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn expected(&self, what: &str) -> EqlError {
        EqlError::new(
            self.offset(),
            format!("expected {what}, found {}", self.peek().describe()),
        )
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if is_kw(self.peek(), kw) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<usize, EqlError> {
        if *self.peek() == tok {
            Ok(self.bump().1)
        } else {
            Err(self.expected(what))
        }
    }

    fn query(&mut self) -> Result<Ast, EqlError> {
        for unsupported in ["sequence", "sample", "join"] {
            if is_kw(self.peek(), unsupported) {
                return Err(EqlError::new(
                    self.offset(),
                    format!(
                        "`{unsupported}` queries are not supported: Picket runs single-event EQL queries (`<category> where <condition>`)"
                    ),
                ));
            }
        }
        let category = match self.peek().clone() {
            Tok::Ident { name, ci: false } => {
                self.bump();
                name
            }
            _ => return Err(self.expected("an event category such as `process`")),
        };
        if !self.eat_kw("where") {
            return Err(self.expected("`where`"));
        }
        let condition = self.or()?;
        match self.peek() {
            Tok::Eof => Ok(Ast {
                category,
                condition,
            }),
            Tok::Pipe => Err(EqlError::new(
                self.offset(),
                "pipes (`| head`, `| filter` ...) are not supported in detection rules",
            )),
            _ => Err(self.expected("`and`, `or` or the end of the query")),
        }
    }

    fn sequence(&mut self) -> Result<SeqAst, EqlError> {
        if !self.eat_kw("sequence") {
            return Err(self.expected("`sequence`"));
        }
        let mut seq = SeqAst {
            by: Vec::new(),
            maxspan_ms: None,
            steps: Vec::new(),
            until: None,
        };
        // `by` and `with maxspan` in either order.
        for _ in 0..2 {
            if is_kw(self.peek(), "by") {
                self.bump();
                seq.by = self.fields()?;
            } else if is_kw(self.peek(), "with") {
                self.bump();
                if !self.eat_kw("maxspan") {
                    return Err(self.expected("`maxspan=` after `with`"));
                }
                self.expect(Tok::Assign, "`=`")?;
                seq.maxspan_ms = Some(self.span()?);
            }
        }
        while *self.peek() == Tok::LBracket {
            let step = self.step()?;
            seq.steps.push(step);
        }
        if self.eat_kw("until") {
            let at = self.offset();
            let step = self.step()?;
            if step.runs != 1 {
                return Err(EqlError::new(at, "`until` takes no `runs`"));
            }
            seq.until = Some(step);
        }
        let total: usize = seq.steps.iter().map(|s| s.runs as usize).sum();
        if seq.steps.len() < 2 && total < 2 {
            return Err(EqlError::new(
                self.offset(),
                "a sequence needs at least two steps `[<category> where <condition>]`",
            ));
        }
        if total > MAX_SEQUENCE_STEPS {
            return Err(EqlError::new(
                self.offset(),
                format!("a sequence may have at most {MAX_SEQUENCE_STEPS} steps, runs included"),
            ));
        }
        let keys = seq.steps.first().map_or(0, |s| s.by.len());
        if seq
            .steps
            .iter()
            .chain(&seq.until)
            .any(|s| s.by.len() != keys)
        {
            return Err(EqlError::new(
                self.offset(),
                "every step of a sequence needs the same number of `by` keys",
            ));
        }
        match self.peek() {
            Tok::Eof => Ok(seq),
            Tok::Pipe => Err(EqlError::new(
                self.offset(),
                "pipes (`| head`, `| filter` ...) are not supported in detection rules",
            )),
            _ => Err(self.expected("another step `[...]`, `until` or the end of the query")),
        }
    }

    /// `[<category> where <condition>] [by keys] [with runs=N]`.
    fn step(&mut self) -> Result<SeqStep, EqlError> {
        self.expect(Tok::LBracket, "`[`")?;
        let category = match self.peek().clone() {
            Tok::Ident { name, ci: false } => {
                self.bump();
                name
            }
            _ => return Err(self.expected("an event category such as `process`")),
        };
        if !self.eat_kw("where") {
            return Err(self.expected("`where`"));
        }
        let condition = self.or()?;
        self.expect(Tok::RBracket, "`]`")?;
        let mut step = SeqStep {
            ast: Ast {
                category,
                condition,
            },
            by: Vec::new(),
            runs: 1,
        };
        if is_kw(self.peek(), "by") {
            self.bump();
            step.by = self.fields()?;
        }
        if is_kw(self.peek(), "with") {
            self.bump();
            if !self.eat_kw("runs") {
                return Err(self.expected("`runs=` after a step's `with`"));
            }
            self.expect(Tok::Assign, "`=`")?;
            let at = self.offset();
            step.runs = match self.bump().0 {
                Tok::Int(n) if (1..=MAX_SEQUENCE_STEPS as i64).contains(&n) => n as u32,
                _ => {
                    return Err(EqlError::new(
                        at,
                        format!("`runs` takes a whole number from 1 to {MAX_SEQUENCE_STEPS}"),
                    ))
                }
            };
        }
        Ok(step)
    }

    /// `a, b.c, …`: join keys.
    fn fields(&mut self) -> Result<Vec<String>, EqlError> {
        let mut out = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::Ident { name, ci: false } => {
                    self.bump();
                    out.push(name);
                }
                _ => return Err(self.expected("a field name")),
            }
            if *self.peek() != Tok::Comma {
                return Ok(out);
            }
            self.bump();
        }
    }

    /// `30s`, `5m`, `1h`, `2d`, `500ms` (a bare number is seconds), in milliseconds.
    fn span(&mut self) -> Result<u64, EqlError> {
        let at = self.offset();
        let n = match self.bump().0 {
            Tok::Int(n) if n > 0 => n as u64,
            _ => {
                return Err(EqlError::new(
                    at,
                    "`maxspan` takes a positive duration such as `30s`",
                ))
            }
        };
        let unit_ms = match self.peek().clone() {
            Tok::Ident { name, ci: false } => {
                let ms = match name.as_str() {
                    "ms" => 1,
                    "s" => 1_000,
                    "m" => 60_000,
                    "h" => 3_600_000,
                    "d" => 86_400_000,
                    _ => return Ok(n.saturating_mul(1_000)),
                };
                self.bump();
                ms
            }
            _ => 1_000,
        };
        Ok(n.saturating_mul(unit_ms))
    }

    fn or(&mut self) -> Result<Expr, EqlError> {
        let mut items = vec![self.and()?];
        while self.eat_kw("or") {
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self) -> Result<Expr, EqlError> {
        let mut items = vec![self.not()?];
        while self.eat_kw("and") {
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn nested<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, EqlError>,
    ) -> Result<T, EqlError> {
        if self.depth >= MAX_DEPTH {
            return Err(EqlError::new(
                self.offset(),
                format!("the query nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn not(&mut self) -> Result<Expr, EqlError> {
        if self.eat_kw("not") {
            let inner = self.nested(Self::not)?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, EqlError> {
        let at = self.offset();
        match self.peek().clone() {
            Tok::LParen => {
                self.bump();
                let e = self.nested(Self::or)?;
                self.expect(Tok::RParen, "`)`")?;
                Ok(e)
            }
            Tok::Ident {
                ref name,
                ci: false,
            } if name == "true" || name == "false" => {
                self.bump();
                Ok(Expr::Bool(name == "true"))
            }
            Tok::Ident { ci: true, ref name } if self.peek_at(1) != &Tok::LParen => {
                Err(EqlError::new(
                    at,
                    format!("`~` follows a function name or `in`/`like`/`regex`, not the field `{name}`"),
                ))
            }
            Tok::Ident { .. } | Tok::Minus => {
                let operand = self.operand()?;
                self.rest(operand, at)
            }
            Tok::Str(_) | Tok::Int(_) | Tok::Float(_) => Err(EqlError::new(
                at,
                "a comparison starts with a field or function, not a value",
            )),
            _ => Err(self.expected("a condition")),
        }
    }

    /// A value expression: sums of products of (signed) primaries.
    fn operand(&mut self) -> Result<Operand, EqlError> {
        self.nested(|p| p.arith(additive, Self::product))
    }

    fn product(&mut self) -> Result<Operand, EqlError> {
        self.arith(multiplicative, Self::unary)
    }

    /// One precedence level: `next (op next)*`, left-associative, for the operators
    /// `op_of` knows.
    fn arith(
        &mut self,
        op_of: fn(&Tok) -> Option<ArithOp>,
        next: fn(&mut Self) -> Result<Operand, EqlError>,
    ) -> Result<Operand, EqlError> {
        let mut lhs = next(self)?;
        while let Some(op) = op_of(self.peek()) {
            self.bump();
            let rhs = next(self)?;
            lhs = Operand::Arith {
                op,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Operand, EqlError> {
        if *self.peek() == Tok::Minus && !matches!(self.peek_at(1), Tok::Int(_) | Tok::Float(_)) {
            self.bump();
            let inner = self.nested(Self::unary)?;
            return Ok(Operand::Arith {
                op: ArithOp::Sub,
                lhs: Box::new(Operand::Lit(Lit::Int(0))),
                rhs: Box::new(inner),
            });
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Operand, EqlError> {
        let at = self.offset();
        match self.peek().clone() {
            Tok::Ident { name, ci }
                if !ci && matches!(name.as_str(), "true" | "false" | "null") =>
            {
                Ok(Operand::Lit(self.literal()?))
            }
            Tok::Ident { name, ci } => {
                self.bump();
                if *self.peek() == Tok::LParen {
                    self.bump();
                    let args = self.args()?;
                    Ok(Operand::Func { name, ci, args })
                } else if ci {
                    Err(EqlError::new(
                        at,
                        format!("`~` follows a function name or `in`/`like`/`regex`, not the field `{name}`"),
                    ))
                } else {
                    Ok(Operand::Field(name))
                }
            }
            Tok::LParen => {
                self.bump();
                let inner = self.operand()?;
                self.expect(Tok::RParen, "`)`")?;
                Ok(inner)
            }
            _ => Ok(Operand::Lit(self.literal()?)),
        }
    }

    fn args(&mut self) -> Result<Vec<(Arg, usize)>, EqlError> {
        let mut args = Vec::new();
        if *self.peek() == Tok::RParen {
            self.bump();
            return Ok(args);
        }
        loop {
            let at = self.offset();
            args.push((self.operand()?, at));
            match self.bump() {
                (Tok::Comma, _) => continue,
                (Tok::RParen, _) => return Ok(args),
                (t, off) => {
                    return Err(EqlError::new(
                        off,
                        format!("expected `,` or `)`, found {}", t.describe()),
                    ))
                }
            }
        }
    }

    fn literal(&mut self) -> Result<Lit, EqlError> {
        let at = self.offset();
        match self.bump() {
            (Tok::Str(s), _) => Ok(Lit::Str(s)),
            (Tok::Int(i), _) => Ok(Lit::Int(i)),
            (Tok::Float(f), _) => Ok(Lit::Float(f)),
            (Tok::Minus, _) => match self.bump() {
                (Tok::Int(i), _) => Ok(Lit::Int(-i)),
                (Tok::Float(f), _) => Ok(Lit::Float(-f)),
                (t, off) => Err(EqlError::new(
                    off,
                    format!("expected a number after `-`, found {}", t.describe()),
                )),
            },
            (Tok::Ident { name, ci: false }, _) if name == "true" => Ok(Lit::Bool(true)),
            (Tok::Ident { name, ci: false }, _) if name == "false" => Ok(Lit::Bool(false)),
            (Tok::Ident { name, ci: false }, _) if name == "null" => Ok(Lit::Null),
            (Tok::Ident { name, .. }, _) => Err(EqlError::new(
                at,
                format!("expected a value, found the field `{name}` (only `==`, `!=`, `<`, `<=`, `>` and `>=` compare with a field)"),
            )),
            (t, _) => Err(EqlError::new(at, format!("expected a value, found {}", t.describe()))),
        }
    }

    /// A value, or a parenthesised list of values.
    fn values(&mut self, list_ok: bool) -> Result<Vec<Lit>, EqlError> {
        if *self.peek() != Tok::LParen {
            return Ok(vec![self.literal()?]);
        }
        if !list_ok {
            return Err(self.expected("a single value"));
        }
        self.bump();
        let mut out = vec![self.literal()?];
        loop {
            match self.bump() {
                (Tok::Comma, _) => out.push(self.literal()?),
                (Tok::RParen, _) => return Ok(out),
                (t, off) => {
                    return Err(EqlError::new(
                        off,
                        format!(
                            "expected `,` or `)` in the value list, found {}",
                            t.describe()
                        ),
                    ))
                }
            }
        }
    }

    fn rest(&mut self, lhs: Operand, at: usize) -> Result<Expr, EqlError> {
        let tok = self.peek().clone();
        let simple = |op: Op| Some(op);
        let op = match &tok {
            Tok::Colon => simple(Op::Colon),
            Tok::EqEq => simple(Op::Eq),
            Tok::NotEq => simple(Op::Ne),
            Tok::Lt => simple(Op::Lt),
            Tok::Le => simple(Op::Le),
            Tok::Gt => simple(Op::Gt),
            Tok::Ge => simple(Op::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.bump();
            if op == Op::Colon || *self.peek() == Tok::LParen {
                let rhs = self.values(op == Op::Colon)?;
                return Ok(Expr::Cmp { lhs, op, rhs, at });
            }
            return Ok(match self.operand()? {
                Operand::Lit(lit) => Expr::Cmp {
                    lhs,
                    op,
                    rhs: vec![lit],
                    at,
                },
                rhs => Expr::Compare { lhs, op, rhs, at },
            });
        }
        // `not in` / `not like` / `not regex`
        let negated = is_kw(&tok, "not")
            && matches!(self.peek_at(1), Tok::Ident { name, .. } if ["in", "like", "regex"].contains(&name.to_ascii_lowercase().as_str()));
        if negated {
            self.bump();
        }
        let word = match self.peek() {
            Tok::Ident { name, ci } => Some((name.to_ascii_lowercase(), *ci)),
            _ => None,
        };
        let op = match word.as_ref().map(|(n, ci)| (n.as_str(), *ci)) {
            Some(("in", ci)) => Some(Op::In { ci }),
            Some(("like", ci)) => Some(Op::Like { ci }),
            Some(("regex", ci)) => Some(Op::Regex { ci }),
            _ => None,
        };
        match op {
            Some(op) => {
                self.bump();
                if matches!(op, Op::In { .. }) && *self.peek() != Tok::LParen {
                    return Err(self.expected("`(` and a list of values after `in`"));
                }
                let rhs = self.values(true)?;
                let cmp = Expr::Cmp { lhs, op, rhs, at };
                Ok(if negated {
                    Expr::Not(Box::new(cmp))
                } else {
                    cmp
                })
            }
            None => Ok(Expr::Truthy { operand: lhs, at }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_not_and_or() {
        let ast =
            parse("process where a : \"x\" or not b == 1 and c in (\"y\", \"z\")").expect("parses");
        let Expr::Or(items) = ast.condition else {
            panic!("or at the top")
        };
        assert!(matches!(items[1], Expr::And(_)));
    }

    #[test]
    fn errors_have_offsets() {
        let e = parse("process where process.name : ").expect_err("dangling");
        assert_eq!(e.offset, 29);
        let e = parse("sequence by host.id [process where true]").expect_err("seq");
        assert!(e.message.contains("single-event"), "{e:?}");
        let deep = format!(
            "process where {}a : \"x\"{}",
            "(".repeat(5000),
            ")".repeat(5000)
        );
        assert!(parse(&deep)
            .expect_err("deep")
            .message
            .contains("nests deeper"));
        let deep = format!("process where {}a : \"x\"", "not ".repeat(5000));
        assert!(parse(&deep).is_err());
        let e = parse("process where (a : \"x\"").expect_err("paren");
        assert!(e.message.contains("`)`"), "{e:?}");
    }
}
