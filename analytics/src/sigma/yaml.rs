//! A small YAML tree with the line and column of every node, built from saphyr-parser's
//! events, so a Sigma rule's problems point into its file. Plain text in, no I/O.
//!
//! Only what Sigma rules use: mappings, sequences, scalars (with whether they were
//! quoted, so `null`/`true`/numbers are told from strings). Anchors and aliases are
//! refused: SigmaHQ rules have none, and resolving them is a way to blow up a tree.

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// Where a node starts (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

/// A YAML node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Yaml {
    /// A scalar's text; `plain` when unquoted (so it may be a null, bool or number).
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Keys in file order (a duplicate key is an error).
    Map(Vec<(Node, Node)>),
}

/// A node and its place.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub value: Yaml,
    pub pos: Pos,
}

/// A document that is not YAML, or not the subset this module reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub pos: Pos,
    pub message: String,
}

/// Deepest nesting accepted (bounds recursion on hostile input).
const MAX_DEPTH: usize = 64;

fn pos(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

/// Parses every document of `text`.
pub(crate) fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<(Node, Option<Node>)> = Vec::new();
    let mut last = Pos::default();
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                return Err(YamlError {
                    pos: Pos {
                        line: e.marker().line(),
                        column: e.marker().col() + 1,
                    },
                    message: e.info().to_string(),
                })
            }
        };
        let at = pos(&span);
        last = at;
        let done = match event {
            Event::StreamEnd => break,
            Event::Nothing | Event::StreamStart | Event::DocumentStart(_) | Event::DocumentEnd => {
                continue
            }
            Event::Alias(_) => {
                return Err(YamlError {
                    pos: at,
                    message: "aliases are not supported in rules".into(),
                })
            }
            Event::Scalar(text, style, anchor, _) => {
                if anchor != 0 {
                    return Err(YamlError {
                        pos: at,
                        message: "anchors are not supported in rules".into(),
                    });
                }
                Node {
                    value: Yaml::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                    pos: at,
                }
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError {
                        pos: at,
                        message: format!("nested deeper than {MAX_DEPTH} levels"),
                    });
                }
                let value = if matches!(event, Event::SequenceStart(..)) {
                    Yaml::Seq(Vec::new())
                } else {
                    Yaml::Map(Vec::new())
                };
                stack.push((Node { value, pos: at }, None));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some((node, _)) => node,
                None => continue,
            },
        };
        match stack.last_mut() {
            None => docs.push(done),
            Some((parent, pending_key)) => match &mut parent.value {
                Yaml::Seq(items) => items.push(done),
                Yaml::Map(entries) => match pending_key.take() {
                    None => *pending_key = Some(done),
                    Some(key) => {
                        if let Yaml::Scalar { text, .. } = &key.value {
                            if entries
                                .iter()
                                .any(|(k, _)| k.as_str() == Some(text.as_str()))
                            {
                                return Err(YamlError {
                                    pos: key.pos,
                                    message: format!("duplicate key {text:?}"),
                                });
                            }
                        }
                        entries.push((key, done));
                    }
                },
                Yaml::Scalar { .. } => {}
            },
        }
    }
    if !stack.is_empty() {
        return Err(YamlError {
            pos: last,
            message: "unexpected end of the document".into(),
        });
    }
    Ok(docs)
}

impl Node {
    /// The scalar's text.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Yaml::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The value of `key` in a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Yaml::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Where `key` is written in a mapping.
    pub(crate) fn key_pos(&self, key: &str) -> Option<Pos> {
        match &self.value {
            Yaml::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(k, _)| k.pos),
            _ => None,
        }
    }

    /// A plain `null`, `~` or empty scalar.
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.value, Yaml::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_styles() {
        let docs = parse("a: 1\nb:\n  - 'x'\n  - null\n").expect("yaml");
        let doc = &docs[0];
        let b = doc.get("b").expect("b");
        let Yaml::Seq(items) = &b.value else {
            panic!("seq")
        };
        assert_eq!(items[0].pos, Pos { line: 3, column: 5 });
        assert_eq!(
            items[0].value,
            Yaml::Scalar {
                text: "x".into(),
                plain: false
            }
        );
        assert!(items[1].is_null());
        assert_eq!(doc.get("a").and_then(Node::as_str), Some("1"));
    }

    #[test]
    fn errors_are_located() {
        let e = parse("a: [1, 2\nb: c\n").expect_err("unclosed");
        assert!(e.pos.line >= 1, "{e:?}");
        let e = parse("a: 1\na: 2\n").expect_err("dup");
        assert_eq!(e.pos.line, 2);
        assert!(parse("a: &x 1\nb: *x\n").is_err());
    }
}
