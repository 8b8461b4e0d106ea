//! Writes graphs as older engines left them, for tests, benches, the
//! harness and `stampede legacy`: v1 (no stamp, no primary key) or v2, with
//! `__run__*` branches and user branches made through Lance's own
//! `create_branch`, as those engines did.

use lance::io::ObjectStoreParams;
use stampede_protocol::names::{LEGACY_RUN_PREFIX, SCHEMA_APPLY_LOCK};

use crate::error::{Error, Result};
use crate::graph::{connect, write_graph};
use crate::manifest::ManifestShape;
use crate::schema::{Schema, EXAMPLE_SCHEMA};
use crate::storage::LanceStore;

/// Main's stamp as the fixture writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LegacyStamp {
    /// What the version wrote: none for v1, "2" for v2.
    Default,
    /// No stamp key at all. With v2: a v1→v2 step stopped after its PK commit.
    Absent,
    /// Any raw value, canonical or not ("2", "99", "abc", " 3").
    Raw(String),
}

/// The versions older engines wrote. A number the writer does not know is
/// refused where it is parsed, so a spec always names one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LegacyVersion {
    /// No stamp, no primary key.
    V1,
    /// Primary key on `object_id`, stamp "2".
    V2,
}

impl LegacyVersion {
    pub fn number(self) -> u32 {
        match self {
            LegacyVersion::V1 => 1,
            LegacyVersion::V2 => 2,
        }
    }
}

impl TryFrom<u32> for LegacyVersion {
    type Error = String;

    fn try_from(version: u32) -> std::result::Result<Self, String> {
        match version {
            1 => Ok(LegacyVersion::V1),
            2 => Ok(LegacyVersion::V2),
            other => Err(format!(
                "the legacy writer knows versions 1 and 2, not {other}"
            )),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LegacySpec {
    pub version: LegacyVersion,
    /// How many `__run__<i>` branches to fork from main (i = 0..n).
    pub run_branches: usize,
    /// User branches in creation order: (name, parent); a parent is `main`,
    /// a `__run__<i>` or an earlier user branch.
    pub branches: Vec<(String, Option<String>)>,
    pub stamp: LegacyStamp,
}

impl LegacySpec {
    pub fn new(version: LegacyVersion) -> Self {
        LegacySpec {
            version,
            run_branches: 0,
            branches: Vec::new(),
            stamp: LegacyStamp::Default,
        }
    }

    pub fn run_branches(mut self, n: usize) -> Self {
        self.run_branches = n;
        self
    }

    pub fn branch(mut self, name: &str, parent: Option<&str>) -> Self {
        self.branches
            .push((name.into(), parent.map(str::to_string)));
        self
    }

    pub fn stamp(mut self, stamp: LegacyStamp) -> Self {
        self.stamp = stamp;
        self
    }

    fn shape(&self) -> ManifestShape {
        let v2 = self.version == LegacyVersion::V2;
        let stamp = match &self.stamp {
            LegacyStamp::Default if v2 => Some(self.version.number().to_string()),
            LegacyStamp::Default | LegacyStamp::Absent => None,
            LegacyStamp::Raw(raw) => Some(raw.clone()),
        };
        ManifestShape::stamped(stamp, v2)
    }
}

pub fn run_branch_name(i: usize) -> String {
    format!("{LEGACY_RUN_PREFIX}{i}")
}

/// A fixture's branch made through Lance's own `create_branch`, which does
/// not tell its own put whose answer was lost (on S3 object_store retries a
/// 5xx into a 412: "already exists") from a branch that was there: at a
/// fresh root nothing else writes refs, so a ref found there is this
/// create's.
async fn landed<T>(store: &LanceStore, name: &str, created: lance::Result<T>) -> Result<()> {
    use stampede_protocol::RefStore;
    match created {
        Ok(_) => Ok(()),
        Err(e) if store.read_ref(name).await.is_ok() => {
            let _its_own_put_retried = e;
            Ok(())
        }
        Err(e) => Err(Error::storage(
            &format!("creating legacy branch {name:?}"),
            e,
        )),
    }
}

/// Write `spec` at `root` (its store reached with `params`).
pub async fn write_legacy(root: &str, spec: &LegacySpec, params: ObjectStoreParams) -> Result<()> {
    let store = connect(root, params).await?;
    let schema = Schema::parse(EXAMPLE_SCHEMA)?;
    write_graph(&store, &schema, EXAMPLE_SCHEMA, &spec.shape()).await?;
    let mut main = store
        .open_main()
        .await
        .map_err(|e| Error::storage("opening the new __manifest", e))?;
    let version = main.version().version;
    for i in 0..spec.run_branches {
        let name = run_branch_name(i);
        let created = main.create_branch(&name, ("main", version), None).await;
        landed(&store, &name, created).await?;
    }
    for (name, parent) in &spec.branches {
        let parent = parent.as_deref().unwrap_or("main");
        let source = if parent == "main" {
            main.clone()
        } else {
            main.checkout_branch(parent)
                .await
                .map_err(|e| Error::storage(&format!("opening legacy parent {parent:?}"), e))?
        };
        let head = source.version().version;
        let created = main.create_branch(name, (parent, head), None).await;
        landed(&store, name, created).await?;
    }
    Ok(())
}

/// Leave the schema-apply lock as an apply that died holding it, a while
/// ago, would: the lock ref, nothing else, written longer ago than the
/// claim lease (so `check` sees it left behind, not an apply in flight). A
/// lock already there stays as it is.
pub async fn leave_lock(root: &str, params: ObjectStoreParams) -> Result<()> {
    let store = connect(root, params).await?;
    crate::graph::read_main_head(&store).await?;
    match stampede_protocol::lock::acquire(&store).await {
        Ok(_) => store
            .backdate_ref(SCHEMA_APPLY_LOCK, store.lease() * 2)
            .await
            .map_err(|e| Error::storage("backdating the lock", e)),
        Err(Error::SchemaApplyInProgress) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::LegacyVersion;

    /// A bad version was once refused by `write_legacy` as
    /// `corrupt_manifest`, blaming a graph for its caller's input.
    #[test]
    fn regression_a_version_the_writer_does_not_know_is_refused_as_input() {
        assert_eq!(LegacyVersion::try_from(2), Ok(LegacyVersion::V2));
        let refused = LegacyVersion::try_from(3).expect_err("3 is not a legacy version");
        assert!(refused.contains('3'), "{refused}");
    }
}
