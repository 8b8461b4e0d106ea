//! Schema changes: which are supported, and how they are written. The lock
//! protocol that runs them is `stampede_protocol::lock`.

use std::collections::BTreeMap;

use arrow_schema::Field;
use stampede_protocol::lock::SchemaChange;

use crate::commit::{publish, read_manifest};
use crate::error::{write_failed, Error, Result};
use crate::manifest::{ManifestState, TablePin};
use crate::schema::{Property, Schema};
use crate::storage::LanceStore;
use crate::tables;

/// One supported step, in the order they are applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaStep {
    AddType(String),
    AddProperty { type_name: String, property: String },
}

impl std::fmt::Display for SchemaStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SchemaStep::AddType(name) => write!(f, "add type {name}"),
            SchemaStep::AddProperty {
                type_name,
                property,
            } => write!(f, "add optional property {type_name}.{property}"),
        }
    }
}

/// The steps from `current` to `desired`: add a type, add an optional
/// property. Anything else is `UnsupportedSchemaChange` naming the step.
pub fn diff(current: &Schema, desired: &Schema) -> Result<Vec<SchemaStep>> {
    let unsupported = |step: String| Err(Error::UnsupportedSchemaChange { step });
    let mut steps = Vec::new();
    for (name, old) in &current.types {
        let Some(new) = desired.get(name) else {
            return unsupported(format!("remove type {name}"));
        };
        if new.kind != old.kind {
            return unsupported(format!("change the kind or endpoints of {name}"));
        }
        for prop in &old.properties {
            match new.properties.iter().find(|p| p.name == prop.name) {
                None => return unsupported(format!("remove property {name}.{}", prop.name)),
                Some(p) if p != prop => {
                    return unsupported(format!(
                        "change property {name}.{} from {} to {}",
                        prop.name,
                        describe(prop),
                        describe(p)
                    ))
                }
                Some(_) => {}
            }
        }
        for prop in new
            .properties
            .iter()
            .filter(|p| old.properties.iter().all(|o| o.name != p.name))
        {
            if !prop.optional || prop.key {
                return unsupported(format!(
                    "add required property {name}.{} (only optional properties can be added)",
                    prop.name
                ));
            }
            steps.push(SchemaStep::AddProperty {
                type_name: name.clone(),
                property: prop.name.clone(),
            });
        }
    }
    let added = desired
        .types
        .keys()
        .filter(|n| !current.types.contains_key(*n));
    steps.splice(0..0, added.map(|n| SchemaStep::AddType(n.clone())));
    Ok(steps)
}

fn describe(p: &Property) -> String {
    format!(
        "{}{}{}",
        p.ty,
        if p.optional { "?" } else { "" },
        if p.key { " @key" } else { "" }
    )
}

/// The engine's side of one apply: the tables it writes and the manifest
/// commit that publishes them.
pub struct EngineChange<'a> {
    pub store: &'a LanceStore,
    /// Main's schema source when the apply was checked, before the lock.
    pub checked_source: String,
    pub desired_source: String,
    pub desired: Schema,
    pub steps: Vec<SchemaStep>,
}

pub struct Staged {
    main: ManifestState,
    pins: BTreeMap<String, TablePin>,
}

impl SchemaChange for EngineChange<'_> {
    type Staged = Staged;

    async fn write(&self) -> Result<Staged> {
        let main = read_manifest(self.store, None).await?;
        if main.schema_source != self.checked_source {
            return Err(Error::Conflict {
                detail: "main's schema changed while this apply waited for the lock".into(),
            });
        }
        let mut pins = main.pins.clone();
        let root = self.store.root_uri();
        let params = self.store.params();
        for step in &self.steps {
            match step {
                SchemaStep::AddType(name) => {
                    let def = &self.desired.types[name];
                    let created = tables::create_table(root, &self.desired, def, params)
                        .await
                        .map_err(|e| write_failed(&format!("creating the table of {name}"), e))?;
                    pins.insert(name.clone(), created);
                }
                SchemaStep::AddProperty {
                    type_name,
                    property,
                } => {
                    let def = &self.desired.types[type_name];
                    let prop = def
                        .properties
                        .iter()
                        .find(|p| &p.name == property)
                        .expect("diffed");
                    let field = Field::new(&prop.name, tables::data_type(prop.ty), true);
                    let pin = crate::manifest::pin_of(&pins, type_name)?;
                    // Boxed: Lance's add_columns future nested in the
                    // protocol's apply future overflows the layout query depth.
                    let adding = tables::add_optional_columns(root, pin, vec![field], params);
                    let updated = Box::pin(adding)
                        .await
                        .map_err(|e| write_failed(&format!("adding {type_name}.{property}"), e))?;
                    pins.insert(type_name.clone(), updated);
                }
            }
        }
        Ok(Staged { main, pins })
    }

    async fn publish(&self, staged: Staged) -> Result<()> {
        publish(self.store, &staged.main, &self.desired_source, &staged.pins).await
    }
}

/// What an apply did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyReport {
    pub applied: bool,
    pub steps: Vec<SchemaStep>,
    /// False only when the publish committed and the lock could not be
    /// removed: the schema is applied; `unlock` clears the lock.
    pub lock_released: bool,
}

impl crate::graph::Graph {
    /// Main's schema: its source and the parsed form.
    pub async fn schema(&self) -> Result<(String, Schema)> {
        self.schema_on("main").await
    }

    /// The schema `branch`'s own manifest holds: its source and the parsed
    /// form. Every branch holds main's (an apply publishes only with no
    /// branch standing, and a create forks main's schema with its head);
    /// one that does not was forked across an apply.
    pub async fn schema_on(&self, branch: &str) -> Result<(String, Schema)> {
        let manifest = read_manifest(self.store(), (branch != "main").then_some(branch)).await?;
        let schema = Schema::parse(&manifest.schema_source)?;
        Ok((manifest.schema_source, schema))
    }

    /// Check order: read-only → invalid schema → no change (a pure read, so
    /// also while the lock is held) → unsupported change → blocking
    /// branches → lock held.
    pub async fn apply_schema(&self, desired_source: &str) -> Result<ApplyReport> {
        self.writable("schema apply")?;
        let desired = Schema::parse(desired_source)?;
        let (current_source, current) = self.schema().await?;
        if desired == current {
            return Ok(ApplyReport {
                applied: false,
                steps: Vec::new(),
                lock_released: true,
            });
        }
        let steps = diff(&current, &desired)?;
        let change = EngineChange {
            store: self.store(),
            checked_source: current_source,
            desired_source: desired_source.to_string(),
            desired,
            steps: steps.clone(),
        };
        // Boxed: the protocol's future nests deep enough that spawning an
        // unboxed apply overflows the compiler's Send-check depth.
        let applied = Box::pin(stampede_protocol::lock::apply_under_lock(
            self.store(),
            &change,
        ))
        .await?;
        Ok(ApplyReport {
            applied: true,
            steps,
            lock_released: applied.lock_released,
        })
    }

    /// Remove a lock left by a crashed apply; whether one was there.
    pub async fn unlock(&self) -> Result<bool> {
        self.writable("unlock")?;
        stampede_protocol::lock::unlock(self.store()).await
    }
}
