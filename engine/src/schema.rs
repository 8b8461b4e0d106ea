//! The graph schema language.
//!
//! ```text
//! // a comment
//! node Person {
//!     name: String @key
//!     age: I32?
//! }
//! node Company { name: String @key }
//! edge WorksAt: Person -> Company { since: I32? }
//! ```
//!
//! Every node type has exactly one `@key` (`String`, `I32` or `I64`, not
//! optional). An edge is keyed by `(src, dst)`, the keys of its endpoints.
//! Errors name the line and column of the offending token.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PropType {
    String,
    I32,
    I64,
    F64,
    Bool,
}

impl PropType {
    fn parse(word: &str) -> Option<PropType> {
        Some(match word {
            "String" => PropType::String,
            "I32" => PropType::I32,
            "I64" => PropType::I64,
            "F64" => PropType::F64,
            "Bool" => PropType::Bool,
            _ => return None,
        })
    }

    pub fn can_be_key(self) -> bool {
        matches!(self, PropType::String | PropType::I32 | PropType::I64)
    }
}

impl fmt::Display for PropType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PropType::String => "String",
            PropType::I32 => "I32",
            PropType::I64 => "I64",
            PropType::F64 => "F64",
            PropType::Bool => "Bool",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Property {
    pub name: String,
    pub ty: PropType,
    pub optional: bool,
    pub key: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeKind {
    Node,
    Edge { src: String, dst: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeDef {
    pub name: String,
    pub kind: TypeKind,
    pub properties: Vec<Property>,
}

impl TypeDef {
    pub fn key(&self) -> Option<&Property> {
        self.properties.iter().find(|p| p.key)
    }
}

/// A parsed schema. Types are kept by name, so two schemas that declare the
/// same types in another order are equal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schema {
    pub types: BTreeMap<String, TypeDef>,
}

impl Schema {
    pub fn parse(source: &str) -> Result<Schema> {
        Parser::new(source).schema()
    }

    pub fn get(&self, name: &str) -> Option<&TypeDef> {
        self.types.get(name)
    }

    /// The key type of a node type (the type of an edge's `src`/`dst`).
    pub fn key_type(&self, node: &str) -> Option<PropType> {
        self.get(node).and_then(TypeDef::key).map(|p| p.ty)
    }
}

/// A small schema used by the legacy fixture writer and the examples.
pub const EXAMPLE_SCHEMA: &str = "\
// people and where they work
node Person {
    name: String @key
    age: I32?
}
node Company { name: String @key }
edge WorksAt: Person -> Company { since: I32? }
";

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Punct(char),
    Arrow,
    At,
    End,
}

struct Parser<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    source: &'a str,
    line: usize,
    column: usize,
    peeked: Option<(Token, usize, usize)>,
}

impl<'a> Parser<'a> {
    fn new(source: &'a str) -> Self {
        Parser {
            chars: source.char_indices().peekable(),
            source,
            line: 1,
            column: 1,
            peeked: None,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let (_, c) = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn lex(&mut self) -> Result<(Token, usize, usize)> {
        loop {
            match self.chars.peek().map(|&(_, c)| c) {
                Some(c) if c.is_whitespace() => {
                    self.bump();
                }
                Some('/') => {
                    let (line, column) = (self.line, self.column);
                    self.bump();
                    if self.chars.peek().map(|&(_, c)| c) != Some('/') {
                        return Err(error_at(line, column, "expected `//` to start a comment"));
                    }
                    while let Some(c) = self.bump() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                _ => break,
            }
        }
        let (line, column) = (self.line, self.column);
        let Some(&(start, c)) = self.chars.peek() else {
            return Ok((Token::End, line, column));
        };
        let token = if c.is_ascii_alphabetic() || c == '_' {
            let mut end = start;
            while let Some(&(i, c)) = self.chars.peek() {
                if !(c.is_ascii_alphanumeric() || c == '_') {
                    break;
                }
                end = i + c.len_utf8();
                self.bump();
            }
            Token::Word(self.source[start..end].to_string())
        } else if c == '-' {
            self.bump();
            if self.chars.peek().map(|&(_, c)| c) != Some('>') {
                return Err(error_at(line, column, "expected `->`"));
            }
            self.bump();
            Token::Arrow
        } else if c == '@' {
            self.bump();
            Token::At
        } else if "{}:?,".contains(c) {
            self.bump();
            Token::Punct(c)
        } else {
            return Err(error_at(
                line,
                column,
                &format!("unexpected character {c:?}"),
            ));
        };
        Ok((token, line, column))
    }

    fn next(&mut self) -> Result<(Token, usize, usize)> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lex(),
        }
    }

    fn peek(&mut self) -> Result<&Token> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lex()?);
        }
        Ok(&self.peeked.as_ref().expect("just filled").0)
    }

    fn word(&mut self, what: &str) -> Result<(String, usize, usize)> {
        match self.next()? {
            (Token::Word(w), line, column) => Ok((w, line, column)),
            (other, line, column) => Err(error_at(
                line,
                column,
                &format!("expected {what}, found {}", describe(&other)),
            )),
        }
    }

    fn punct(&mut self, expected: char) -> Result<()> {
        match self.next()? {
            (Token::Punct(c), _, _) if c == expected => Ok(()),
            (other, line, column) => Err(error_at(
                line,
                column,
                &format!("expected `{expected}`, found {}", describe(&other)),
            )),
        }
    }

    fn schema(mut self) -> Result<Schema> {
        let mut schema = Schema::default();
        let mut positions = BTreeMap::new();
        loop {
            let (keyword, line, column) = match self.next()? {
                (Token::End, _, _) => break,
                (Token::Word(w), line, column) => (w, line, column),
                (other, line, column) => {
                    return Err(error_at(
                        line,
                        column,
                        &format!("expected `node` or `edge`, found {}", describe(&other)),
                    ))
                }
            };
            let def = match keyword.as_str() {
                "node" => self.node()?,
                "edge" => self.edge()?,
                other => {
                    return Err(error_at(
                        line,
                        column,
                        &format!("expected `node` or `edge`, found `{other}`"),
                    ))
                }
            };
            if schema.types.contains_key(&def.0.name) {
                return Err(error_at(
                    def.1,
                    def.2,
                    &format!("type `{}` is declared twice", def.0.name),
                ));
            }
            positions.insert(def.0.name.clone(), (def.1, def.2));
            schema.types.insert(def.0.name.clone(), def.0);
        }
        for def in schema.types.values() {
            let (line, column) = positions[&def.name];
            if let TypeKind::Edge { src, dst } = &def.kind {
                for end in [src, dst] {
                    if schema.get(end).map(|t| &t.kind) != Some(&TypeKind::Node) {
                        return Err(error_at(
                            line,
                            column,
                            &format!(
                                "edge `{}` names `{end}`, which is not a node type",
                                def.name
                            ),
                        ));
                    }
                }
            }
        }
        Ok(schema)
    }

    fn node(&mut self) -> Result<(TypeDef, usize, usize)> {
        let (name, line, column) = self.word("a node type name")?;
        let properties = self.properties(true)?;
        let keys: Vec<&Property> = properties.iter().filter(|p| p.key).collect();
        if keys.len() != 1 {
            return Err(error_at(
                line,
                column,
                &format!(
                    "node `{name}` must have exactly one `@key` property, has {}",
                    keys.len()
                ),
            ));
        }
        Ok((
            TypeDef {
                name,
                kind: TypeKind::Node,
                properties,
            },
            line,
            column,
        ))
    }

    fn edge(&mut self) -> Result<(TypeDef, usize, usize)> {
        let (name, line, column) = self.word("an edge type name")?;
        self.punct(':')?;
        let (src, _, _) = self.word("the source node type")?;
        match self.next()? {
            (Token::Arrow, _, _) => {}
            (other, l, c) => {
                return Err(error_at(
                    l,
                    c,
                    &format!("expected `->`, found {}", describe(&other)),
                ))
            }
        }
        let (dst, _, _) = self.word("the target node type")?;
        let properties = if self.peek()? == &Token::Punct('{') {
            self.properties(false)?
        } else {
            Vec::new()
        };
        Ok((
            TypeDef {
                name,
                kind: TypeKind::Edge { src, dst },
                properties,
            },
            line,
            column,
        ))
    }

    fn properties(&mut self, is_node: bool) -> Result<Vec<Property>> {
        self.punct('{')?;
        let mut properties: Vec<Property> = Vec::new();
        loop {
            match self.peek()? {
                Token::Punct('}') => {
                    self.next()?;
                    return Ok(properties);
                }
                Token::Punct(',') => {
                    self.next()?;
                    continue;
                }
                _ => {}
            }
            let (name, line, column) = self.word("a property name or `}`")?;
            if !is_node && (name == "src" || name == "dst") {
                return Err(error_at(
                    line,
                    column,
                    &format!("`{name}` is reserved on edges"),
                ));
            }
            if properties.iter().any(|p| p.name == name) {
                return Err(error_at(
                    line,
                    column,
                    &format!("property `{name}` is declared twice"),
                ));
            }
            self.punct(':')?;
            let (ty_name, ty_line, ty_column) = self.word("a property type")?;
            let ty = PropType::parse(&ty_name).ok_or_else(|| {
                error_at(
                    ty_line,
                    ty_column,
                    &format!("unknown type `{ty_name}` (expected String, I32, I64, F64 or Bool)"),
                )
            })?;
            let mut optional = false;
            if self.peek()? == &Token::Punct('?') {
                self.next()?;
                optional = true;
            }
            let mut key = false;
            if self.peek()? == &Token::At {
                let (_, at_line, at_column) = self.next()?;
                let (annotation, _, _) = self.word("an annotation")?;
                if annotation != "key" {
                    return Err(error_at(
                        at_line,
                        at_column,
                        &format!("unknown annotation `@{annotation}` (only `@key`)"),
                    ));
                }
                if !is_node {
                    return Err(error_at(
                        at_line,
                        at_column,
                        "edges are keyed by (src, dst); `@key` is not allowed",
                    ));
                }
                if optional || !ty.can_be_key() {
                    return Err(error_at(
                        at_line,
                        at_column,
                        "a `@key` must be a non-optional String, I32 or I64",
                    ));
                }
                key = true;
            }
            properties.push(Property {
                name,
                ty,
                optional,
                key,
            });
        }
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Word(w) => format!("`{w}`"),
        Token::Punct(c) => format!("`{c}`"),
        Token::Arrow => "`->`".into(),
        Token::At => "`@`".into(),
        Token::End => "end of input".into(),
    }
}

fn error_at(line: usize, column: usize, message: &str) -> Error {
    Error::InvalidSchema {
        line,
        column,
        message: message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(source: &str) -> (usize, usize, String) {
        match Schema::parse(source) {
            Err(Error::InvalidSchema {
                line,
                column,
                message,
            }) => (line, column, message),
            other => panic!("expected a schema error for {source:?}, got {other:?}"),
        }
    }

    #[test]
    fn parses_the_example() {
        let schema = Schema::parse(EXAMPLE_SCHEMA).unwrap();
        assert_eq!(schema.types.len(), 3);
        let person = schema.get("Person").unwrap();
        assert_eq!(person.key().unwrap().name, "name");
        assert!(person.properties[1].optional);
        assert_eq!(
            schema.get("WorksAt").unwrap().kind,
            TypeKind::Edge {
                src: "Person".into(),
                dst: "Company".into()
            }
        );
        assert_eq!(schema.key_type("Company"), Some(PropType::String));
    }

    #[test]
    fn declaration_order_does_not_matter() {
        let a = Schema::parse("node A { k: I64 @key }\nnode B { k: String @key }").unwrap();
        let b = Schema::parse("node B { k: String @key }, node A { k: I64 @key }");
        assert!(b.is_err(), "commas separate properties, not types");
        let b = Schema::parse("node B { k: String @key }\n// x\nnode A { k: I64 @key }").unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn errors_name_line_and_column() {
        assert_eq!(err("node A {\n  k: Strin @key\n}").0, 2);
        assert_eq!(err("node A {\n  k: Strin @key\n}").1, 6);
        assert!(err("node A { k: String }").2.contains("exactly one `@key`"));
        assert!(err("node A { k: String? @key }").2.contains("non-optional"));
        assert!(err("node A { k: F64 @key }")
            .2
            .contains("non-optional String, I32 or I64"));
        assert!(err("node A { k: I32 @key k: I32 }")
            .2
            .contains("declared twice"));
        assert!(err("node A { k: I32 @key }\nnode A { k: I32 @key }")
            .2
            .contains("declared twice"));
        assert!(err("edge E: A -> B").2.contains("not a node type"));
        assert_eq!(err("node A { k: I32 @key }\nedge E: A - A").0, 2);
        assert!(err("node A { k: I32 @key }\nedge E: A -> A { src: I32 }")
            .2
            .contains("reserved"));
        assert!(err("node A { k: I32 @id }").2.contains("only `@key`"));
        assert_eq!(err("graph X").2, "expected `node` or `edge`, found `graph`");
        assert_eq!(
            err("node A { k: I32 @key } /x"),
            (1, 24, "expected `//` to start a comment".into())
        );
        assert!(err("node A { k: I32 @key").2.contains("end of input"));
    }
}
