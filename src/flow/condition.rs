//! Branch conditions: `csat <= 2 and resolved == no`, `nps in 0..6`,
//! `not (plan == "premium" or tier > 2)`.
//!
//! The language is deliberately tiny — comparisons, inclusive ranges,
//! `and`/`or`/`not`, parentheses — so that ops staff can read every
//! condition and `validate` can check names and types before a call runs.
//! A condition about a question the caller skipped is false (its negation
//! true): "no answer" never satisfies a comparison.

use std::collections::BTreeMap;

use super::model::AnswerType;
use super::value::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Compare {
        name: String,
        op: Op,
        literal: Literal,
    },
    InRange {
        name: String,
        low: i64,
        high: i64,
    },
    /// A bare name: true when it holds a yes answer.
    Truthy(String),
    Not(Box<Condition>),
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Bool(bool),
    Number(i64),
    Text(String),
}

impl Literal {
    fn ty(&self) -> AnswerType {
        match self {
            Literal::Bool(_) => AnswerType::YesNo,
            Literal::Number(_) => AnswerType::Number,
            Literal::Text(_) => AnswerType::Text,
        }
    }
}

/// A problem in a condition, with the byte offset inside the condition text.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionError {
    pub at: std::ops::Range<usize>,
    pub message: String,
    pub hint: Option<String>,
    pub type_mismatch: bool,
}

impl ConditionError {
    fn new(at: std::ops::Range<usize>, message: impl Into<String>) -> Self {
        ConditionError {
            at,
            message: message.into(),
            hint: None,
            type_mismatch: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(i64),
    Str(String),
    Op(Op),
    DotDot,
    LParen,
    RParen,
}

fn lex(src: &str) -> Result<Vec<(Tok, std::ops::Range<usize>)>, ConditionError> {
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        let next = chars.get(i + 1).map(|(_, c)| *c);
        let two = |tok| (tok, at..at + 2);
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push((Tok::LParen, at..at + 1));
                i += 1;
            }
            ')' => {
                out.push((Tok::RParen, at..at + 1));
                i += 1;
            }
            '=' if next == Some('=') => {
                out.push(two(Tok::Op(Op::Eq)));
                i += 2;
            }
            '!' if next == Some('=') => {
                out.push(two(Tok::Op(Op::Ne)));
                i += 2;
            }
            '<' if next == Some('=') => {
                out.push(two(Tok::Op(Op::Le)));
                i += 2;
            }
            '>' if next == Some('=') => {
                out.push(two(Tok::Op(Op::Ge)));
                i += 2;
            }
            '<' => {
                out.push((Tok::Op(Op::Lt), at..at + 1));
                i += 1;
            }
            '>' => {
                out.push((Tok::Op(Op::Gt), at..at + 1));
                i += 1;
            }
            '.' if next == Some('.') => {
                out.push(two(Tok::DotDot));
                i += 2;
            }
            '=' => {
                return Err(ConditionError {
                    hint: Some("compare with `==`".into()),
                    ..ConditionError::new(at..at + 1, "a single `=` is not a comparison")
                });
            }
            '"' | '\'' => {
                let quote = c;
                let mut j = i + 1;
                let mut text = String::new();
                while j < chars.len() && chars[j].1 != quote {
                    text.push(chars[j].1);
                    j += 1;
                }
                if j >= chars.len() {
                    return Err(ConditionError::new(
                        at..src.len(),
                        "this text has no closing quote",
                    ));
                }
                let end = chars[j].0 + 1;
                out.push((Tok::Str(text), at..end));
                i = j + 1;
            }
            c if c.is_ascii_digit() || (c == '-' && next.is_some_and(|n| n.is_ascii_digit())) => {
                let mut j = i + 1;
                while j < chars.len() && chars[j].1.is_ascii_digit() {
                    j += 1;
                }
                let end = chars.get(j).map_or(src.len(), |(a, _)| *a);
                let n = src[at..end]
                    .parse::<i64>()
                    .map_err(|_| ConditionError::new(at..end, "this number is too large"))?;
                out.push((Tok::Num(n), at..end));
                i = j;
            }
            c if c.is_alphabetic() || c == '_' => {
                let mut j = i + 1;
                let word = |c: char| c.is_alphanumeric() || c == '_';
                // A dot followed by a letter joins a group and its variable
                // (`previous.csat`); `..` stays a range.
                while j < chars.len()
                    && (word(chars[j].1)
                        || (chars[j].1 == '.'
                            && chars
                                .get(j + 1)
                                .is_some_and(|(_, c)| c.is_alphabetic() || *c == '_')))
                {
                    j += 1;
                }
                let end = chars.get(j).map_or(src.len(), |(a, _)| *a);
                out.push((Tok::Ident(src[at..end].to_string()), at..end));
                i = j;
            }
            other => {
                return Err(ConditionError::new(
                    at..at + other.len_utf8(),
                    format!("unexpected `{other}` in a condition"),
                ));
            }
        }
    }
    Ok(out)
}

/// What `parse` needs to know about names: the type of each answer or
/// variable that a condition may use.
pub trait Names {
    fn type_of(&self, name: &str) -> Option<AnswerType>;
    fn all(&self) -> Vec<String>;
}

impl Names for BTreeMap<String, AnswerType> {
    fn type_of(&self, name: &str) -> Option<AnswerType> {
        self.get(name).copied()
    }
    fn all(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

struct Parser<'a, N: Names> {
    toks: Vec<(Tok, std::ops::Range<usize>)>,
    pos: usize,
    len: usize,
    names: &'a N,
}

/// Parses and type-checks a condition.
pub fn parse(src: &str, names: &impl Names) -> Result<Condition, ConditionError> {
    let toks = lex(src)?;
    if toks.is_empty() {
        return Err(ConditionError::new(0..src.len(), "the condition is empty"));
    }
    let mut p = Parser {
        toks,
        pos: 0,
        len: src.len(),
        names,
    };
    let c = p.or()?;
    if let Some((_, span)) = p.toks.get(p.pos) {
        return Err(ConditionError {
            hint: Some("join conditions with `and` or `or`".into()),
            ..ConditionError::new(span.clone(), "unexpected text after the condition")
        });
    }
    Ok(c)
}

impl<N: Names> Parser<'_, N> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn span(&self) -> std::ops::Range<usize> {
        self.toks
            .get(self.pos)
            .map_or(self.len..self.len, |(_, s)| s.clone())
    }

    fn keyword(&mut self, word: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(w)) if w == word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            left = Condition::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Condition, ConditionError> {
        let mut left = self.not()?;
        while self.keyword("and") {
            left = Condition::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Condition, ConditionError> {
        if self.keyword("not") {
            return Ok(Condition::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Condition, ConditionError> {
        let span = self.span();
        match self.toks.get(self.pos).cloned() {
            Some((Tok::LParen, _)) => {
                self.pos += 1;
                let c = self.or()?;
                match self.peek() {
                    Some(Tok::RParen) => {
                        self.pos += 1;
                        Ok(c)
                    }
                    _ => Err(ConditionError::new(self.span(), "expected `)`")),
                }
            }
            Some((Tok::Ident(name), _)) if !is_reserved(&name) => {
                self.pos += 1;
                let ty = self.name_type(&name, span.clone())?;
                self.comparison(name, ty, span)
            }
            _ => Err(ConditionError {
                hint: Some(
                    "a condition starts with an answer or variable name, like `csat <= 2`".into(),
                ),
                ..ConditionError::new(span, "expected the name of an answer or variable")
            }),
        }
    }

    fn name_type(
        &self,
        name: &str,
        span: std::ops::Range<usize>,
    ) -> Result<AnswerType, ConditionError> {
        self.names.type_of(name).ok_or_else(|| {
            let all = self.names.all();
            let hint = super::diagnostic::did_you_mean(name, all.iter().map(String::as_str))
                .unwrap_or_else(|| format!("answers and variables here: {}", all.join(", ")));
            ConditionError {
                hint: Some(hint),
                ..ConditionError::new(span, format!("no answer or variable is called `{name}`"))
            }
        })
    }

    fn comparison(
        &mut self,
        name: String,
        ty: AnswerType,
        name_span: std::ops::Range<usize>,
    ) -> Result<Condition, ConditionError> {
        if ty == AnswerType::Recording {
            return Err(ConditionError {
                type_mismatch: true,
                ..ConditionError::new(
                    name_span,
                    format!("`{name}` is a recording and cannot be compared"),
                )
            });
        }
        if self.keyword("in") {
            let low = self.number()?;
            if !matches!(self.peek(), Some(Tok::DotDot)) {
                return Err(ConditionError {
                    hint: Some("write a range as `low..high`, both ends included".into()),
                    ..ConditionError::new(self.span(), "expected `..`")
                });
            }
            self.pos += 1;
            let high = self.number()?;
            if ty != AnswerType::Number {
                return Err(mismatch(&name, ty, AnswerType::Number, name_span));
            }
            return Ok(Condition::InRange { name, low, high });
        }
        let op = match self.peek() {
            Some(Tok::Op(op)) => *op,
            _ => {
                if ty == AnswerType::YesNo {
                    return Ok(Condition::Truthy(name));
                }
                return Err(ConditionError {
                    hint: Some(format!("compare it, like `{name} == …`")),
                    ..ConditionError::new(
                        self.span(),
                        format!("`{name}` is {} and needs a comparison", ty.describe()),
                    )
                });
            }
        };
        self.pos += 1;
        let lit_span = self.span();
        let literal = match self.toks.get(self.pos).cloned() {
            Some((Tok::Num(n), _)) => Literal::Number(n),
            Some((Tok::Str(s), _)) => Literal::Text(s),
            Some((Tok::Ident(w), _)) if matches!(w.as_str(), "yes" | "true") => Literal::Bool(true),
            Some((Tok::Ident(w), _)) if matches!(w.as_str(), "no" | "false") => {
                Literal::Bool(false)
            }
            _ => {
                return Err(ConditionError {
                    hint: Some("compare with a number, \"text\" in quotes, or yes/no".into()),
                    ..ConditionError::new(lit_span, "expected a value to compare with")
                });
            }
        };
        self.pos += 1;
        if literal.ty() != ty {
            return Err(mismatch(
                &name,
                ty,
                literal.ty(),
                name_span.start..lit_span.end,
            ));
        }
        if !matches!(op, Op::Eq | Op::Ne) && ty != AnswerType::Number {
            return Err(ConditionError {
                type_mismatch: true,
                hint: Some("use `==` or `!=`".into()),
                ..ConditionError::new(
                    name_span.start..lit_span.end,
                    format!("`{name}` is {} and has no order", ty.describe()),
                )
            });
        }
        Ok(Condition::Compare { name, op, literal })
    }

    fn number(&mut self) -> Result<i64, ConditionError> {
        match self.toks.get(self.pos).cloned() {
            Some((Tok::Num(n), _)) => {
                self.pos += 1;
                Ok(n)
            }
            _ => Err(ConditionError::new(self.span(), "expected a whole number")),
        }
    }
}

fn is_reserved(word: &str) -> bool {
    matches!(
        word,
        "and" | "or" | "not" | "in" | "yes" | "no" | "true" | "false"
    )
}

fn mismatch(
    name: &str,
    ty: AnswerType,
    other: AnswerType,
    at: std::ops::Range<usize>,
) -> ConditionError {
    let hint = match ty {
        AnswerType::YesNo => "compare a yes/no answer with `yes` or `no`",
        AnswerType::Number => "compare a number with a number, like `>= 4`",
        _ => "compare text with text in quotes, like `== \"useful\"`",
    };
    ConditionError {
        type_mismatch: true,
        hint: Some(hint.into()),
        ..ConditionError::new(
            at,
            format!(
                "`{name}` is {}, compared with {}",
                ty.describe(),
                other.describe()
            ),
        )
    }
}

/// Looks up the value of a name during a call.
pub trait Lookup {
    fn value(&self, name: &str) -> Option<Value>;
}

impl Condition {
    pub fn eval(&self, env: &impl Lookup) -> bool {
        match self {
            Condition::Not(c) => !c.eval(env),
            Condition::And(a, b) => a.eval(env) && b.eval(env),
            Condition::Or(a, b) => a.eval(env) || b.eval(env),
            Condition::Truthy(name) => matches!(env.value(name), Some(Value::Bool(true))),
            Condition::InRange { name, low, high } => {
                matches!(env.value(name), Some(Value::Number(n)) if (*low..=*high).contains(&n))
            }
            Condition::Compare { name, op, literal } => {
                let Some(value) = env.value(name) else {
                    return false;
                };
                let ord = match (&value, literal) {
                    (Value::Bool(a), Literal::Bool(b)) => a.cmp(b),
                    (Value::Number(a), Literal::Number(b)) => a.cmp(b),
                    (Value::Text(a), Literal::Text(b)) => a.as_str().cmp(b.as_str()),
                    _ => return false,
                };
                match op {
                    Op::Eq => ord.is_eq(),
                    Op::Ne => ord.is_ne(),
                    Op::Lt => ord.is_lt(),
                    Op::Le => ord.is_le(),
                    Op::Gt => ord.is_gt(),
                    Op::Ge => ord.is_ge(),
                }
            }
        }
    }
}

impl std::fmt::Display for Condition {
    /// The condition as ops staff would write it (for graphs and logs).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::Compare { name, op, literal } => {
                let op = match op {
                    Op::Eq => "==",
                    Op::Ne => "!=",
                    Op::Lt => "<",
                    Op::Le => "<=",
                    Op::Gt => ">",
                    Op::Ge => ">=",
                };
                match literal {
                    Literal::Bool(b) => write!(f, "{name} {op} {}", if *b { "yes" } else { "no" }),
                    Literal::Number(n) => write!(f, "{name} {op} {n}"),
                    Literal::Text(t) => write!(f, "{name} {op} \"{t}\""),
                }
            }
            Condition::InRange { name, low, high } => write!(f, "{name} in {low}..{high}"),
            Condition::Truthy(name) => f.write_str(name),
            Condition::Not(c) => write!(f, "not ({c})"),
            Condition::And(a, b) => write!(f, "({a}) and ({b})"),
            Condition::Or(a, b) => write!(f, "({a}) or ({b})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> BTreeMap<String, AnswerType> {
        [
            ("csat".to_string(), AnswerType::Number),
            ("resolved".to_string(), AnswerType::YesNo),
            ("feature".to_string(), AnswerType::Text),
        ]
        .into_iter()
        .collect()
    }

    struct Env(BTreeMap<String, Value>);
    impl Lookup for Env {
        fn value(&self, name: &str) -> Option<Value> {
            self.0.get(name).cloned()
        }
    }

    fn env(pairs: &[(&str, Value)]) -> Env {
        Env(pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect())
    }

    #[test]
    fn a_grouped_variable_is_one_name_and_a_range_after_a_name_still_parses() {
        let mut names = names();
        names.insert("previous.csat".into(), AnswerType::Number);
        names.insert("previous.resolved".into(), AnswerType::Text);
        let e = env(&[
            ("previous.csat", Value::Number(2)),
            ("previous.resolved", Value::Text("no".into())),
            ("csat", Value::Number(5)),
        ]);

        let c = parse(
            "previous.csat in 1..2 and previous.resolved == \"no\"",
            &names,
        )
        .unwrap();
        let unknown = parse("previous.nps > 3", &names).unwrap_err();

        assert!(c.eval(&e));
        assert_eq!(
            unknown.message,
            "no answer or variable is called `previous.nps`"
        );
        assert_eq!(unknown.at, 0..12);
    }

    #[test]
    fn comparisons_ranges_and_logic_evaluate_as_written() {
        let e = env(&[
            ("csat", Value::Number(2)),
            ("resolved", Value::Bool(false)),
            ("feature", Value::Text("useful".into())),
        ]);
        let cases = [
            ("csat <= 2", true),
            ("csat > 2", false),
            ("csat in 1..2", true),
            ("csat in 3..5", false),
            ("resolved == no", true),
            ("resolved", false),
            ("not resolved", true),
            ("csat <= 2 and resolved == no", true),
            ("csat >= 4 or feature == \"useful\"", true),
            ("not (csat == 2 or resolved)", false),
            ("feature != 'useless'", true),
        ];
        for (src, want) in cases {
            let c = parse(src, &names()).unwrap_or_else(|e| panic!("{src}: {e:?}"));
            assert_eq!(c.eval(&e), want, "{src}");
        }
    }

    #[test]
    fn a_skipped_question_satisfies_no_comparison() {
        let e = env(&[]);
        for src in [
            "csat <= 2",
            "csat > 2",
            "csat != 3",
            "resolved == no",
            "csat in 0..10",
        ] {
            assert!(!parse(src, &names()).unwrap().eval(&e), "{src}");
        }
        assert!(parse("not csat <= 2", &names()).unwrap().eval(&e));
    }

    #[test]
    fn comparing_a_yes_no_answer_to_a_number_is_a_type_error() {
        let err = parse("resolved == 1", &names()).unwrap_err();
        assert!(err.type_mismatch);
        assert_eq!(
            err.message,
            "`resolved` is a yes/no answer, compared with a number"
        );
    }

    #[test]
    fn an_unknown_name_suggests_the_closest_one() {
        let err = parse("cast <= 2", &names()).unwrap_err();
        assert_eq!(err.at, 0..4);
        assert_eq!(err.hint.as_deref(), Some("did you mean `csat`?"));
    }

    #[test]
    fn malformed_conditions_point_at_the_problem() {
        let cases = [
            ("csat = 2", 5..6),
            ("csat <=", 7..7),
            ("csat <= 2 csat", 10..14),
            ("(csat <= 2", 10..10),
            ("csat in 1 5", 10..11),
            ("feature < \"a\"", 0..13),
            ("", 0..0),
        ];
        for (src, at) in cases {
            let err = parse(src, &names()).expect_err(src);
            assert_eq!(err.at, at, "{src}: {}", err.message);
        }
    }
}
