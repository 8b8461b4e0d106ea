//! The schema as the model sees it: structure, not text. The harness renders
//! it to the schema language for the engine.

use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PropType {
    String,
    I32,
    I64,
    F64,
    Bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Prop {
    pub name: String,
    pub ty: PropType,
    pub optional: bool,
    pub key: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Kind {
    Node,
    Edge { src: String, dst: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TypeSpec {
    pub kind: Kind,
    pub props: Vec<Prop>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SchemaSpec {
    pub types: BTreeMap<String, TypeSpec>,
}

/// What `apply_schema` is given: a schema, or text that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Desired {
    Schema(SchemaSpec),
    Malformed,
}

impl Prop {
    pub fn new(name: &str, ty: PropType, optional: bool, key: bool) -> Prop {
        Prop {
            name: name.into(),
            ty,
            optional,
            key,
        }
    }
}

impl SchemaSpec {
    /// The schema every harness graph starts with (the engine's example).
    pub fn example() -> SchemaSpec {
        let node = |props| TypeSpec {
            kind: Kind::Node,
            props,
        };
        let mut types = BTreeMap::new();
        types.insert(
            "Person".into(),
            node(vec![
                Prop::new("name", PropType::String, false, true),
                Prop::new("age", PropType::I32, true, false),
            ]),
        );
        types.insert(
            "Company".into(),
            node(vec![Prop::new("name", PropType::String, false, true)]),
        );
        types.insert(
            "WorksAt".into(),
            TypeSpec {
                kind: Kind::Edge {
                    src: "Person".into(),
                    dst: "Company".into(),
                },
                props: vec![Prop::new("since", PropType::I32, true, false)],
            },
        );
        SchemaSpec { types }
    }

    pub fn key_type(&self, node: &str) -> Option<PropType> {
        self.types
            .get(node)?
            .props
            .iter()
            .find(|p| p.key)
            .map(|p| p.ty)
    }

    /// The columns of a type's rows: `src`, `dst` for edges, then its props.
    pub fn columns(&self, type_name: &str) -> Option<Vec<(String, PropType, bool)>> {
        let spec = self.types.get(type_name)?;
        let mut columns = Vec::new();
        if let Kind::Edge { src, dst } = &spec.kind {
            columns.push(("src".into(), self.key_type(src)?, false));
            columns.push(("dst".into(), self.key_type(dst)?, false));
        }
        columns.extend(
            spec.props
                .iter()
                .map(|p| (p.name.clone(), p.ty, p.optional)),
        );
        Some(columns)
    }

    pub fn key_columns(&self, type_name: &str) -> Vec<String> {
        match self.types.get(type_name).map(|t| &t.kind) {
            Some(Kind::Edge { .. }) => vec!["src".into(), "dst".into()],
            Some(Kind::Node) => self.types[type_name]
                .props
                .iter()
                .filter(|p| p.key)
                .map(|p| p.name.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    /// The schema language text for this schema.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, spec) in &self.types {
            match &spec.kind {
                Kind::Node => {
                    let _ = write!(out, "node {name} {{");
                }
                Kind::Edge { src, dst } => {
                    let _ = write!(out, "edge {name}: {src} -> {dst} {{");
                }
            }
            for p in &spec.props {
                let ty = match p.ty {
                    PropType::String => "String",
                    PropType::I32 => "I32",
                    PropType::I64 => "I64",
                    PropType::F64 => "F64",
                    PropType::Bool => "Bool",
                };
                let _ = write!(
                    out,
                    "\n    {}: {ty}{}{}",
                    p.name,
                    if p.optional { "?" } else { "" },
                    if p.key { " @key" } else { "" }
                );
            }
            out.push_str("\n}\n");
        }
        out
    }
}

/// The supported steps from `current` to `desired`, named as the engine
/// reports them; `None` when the change is unsupported.
pub fn steps(current: &SchemaSpec, desired: &SchemaSpec) -> Option<Vec<String>> {
    let mut added_props = Vec::new();
    for (name, old) in &current.types {
        let new = desired.types.get(name)?;
        if new.kind != old.kind {
            return None;
        }
        for prop in &old.props {
            if new.props.iter().find(|p| p.name == prop.name) != Some(prop) {
                return None;
            }
        }
        for prop in new
            .props
            .iter()
            .filter(|p| old.props.iter().all(|o| o.name != p.name))
        {
            if !prop.optional || prop.key {
                return None;
            }
            added_props.push(format!("add optional property {name}.{}", prop.name));
        }
    }
    let mut steps: Vec<String> = desired
        .types
        .keys()
        .filter(|n| !current.types.contains_key(*n))
        .map(|n| format!("add type {n}"))
        .collect();
    steps.extend(added_props);
    Some(steps)
}
