//! The in-memory store the loom suite runs on is only as good as this test.
//! The same protocol sequences run against `MemoryStore` and against the
//! Lance store, on a local filesystem and on S3 (SeaweedFS on 127.0.0.1,
//! where a delete of a missing key succeeds, `/` in a name is a flat key,
//! and listings are the server's), give the same outcomes and
//! observations; and a probe that deletes a ref between Lance's list and
//! its read shows the real Lance store has the race the in-memory store
//! models.

use crate::common;

use std::collections::BTreeMap;

use common::{probed, TempGraph};
use stampede_engine::legacy::{LegacySpec, LegacyStamp, LegacyVersion};
use stampede_engine::probe::{Call, Probe, Scripted};
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::storage::LanceStore;
use stampede_engine::Mode;
use stampede_protocol::branches::{create_branch, delete_branch};
use stampede_protocol::enumerate::enumerate;
use stampede_protocol::lock::{acquire, release, unlock};
use stampede_protocol::memory::MemoryStore;
use stampede_protocol::migrate::migrate;
use stampede_protocol::{PkState, RefStore, StoreError};

#[derive(Clone, Copy, Debug)]
enum Step {
    Migrate,
    Create(&'static str, &'static str),
    Delete(&'static str),
    Acquire,
    Release,
    Unlock,
    /// Take a name's claim (as another actor would), keeping it.
    Claim(&'static str),
    /// Give that claim up.
    Unclaim(&'static str),
    /// Take several names' claims at once (as the sweep does), keeping
    /// those held.
    ClaimAll(&'static [&'static str]),
    /// Give those claims up at once.
    UnclaimAll(&'static [&'static str]),
}

type Observation = (
    String,
    BTreeMap<String, Option<String>>,
    Option<String>,
    PkState,
);

async fn run<S: RefStore>(store: &S, steps: &[Step]) -> Vec<Observation> {
    let mut out = Vec::new();
    let mut claims = BTreeMap::new();
    let mut lock = None;
    for step in steps {
        let outcome = match *step {
            Step::Migrate => {
                let head = store.read_main().await.unwrap();
                migrate(store, &head)
                    .await
                    .map(|r| format!("{}→{} swept {:?} kept {:?}", r.from, r.to, r.swept, r.kept))
            }
            Step::Create(name, from) => create_branch(store, name, from).await.map(|_| "ok".into()),
            Step::Delete(name) => delete_branch(store, name).await.map(|_| "ok".into()),
            Step::Acquire => acquire(store).await.map(|written| {
                lock = Some(written);
                "ok".into()
            }),
            Step::Release => {
                let held = lock.take().expect("a lock this test acquired");
                release(store, &held).await.map(|_| "ok".into())
            }
            Step::Unlock => unlock(store).await.map(|held| format!("was held: {held}")),
            Step::Claim(name) => match store.try_claim(name).await.unwrap() {
                Some(claim) => {
                    claims.insert(name, claim);
                    Ok("held".into())
                }
                None => Ok("taken".into()),
            },
            Step::Unclaim(name) => {
                let claim = claims.remove(name).expect("a claim this test holds");
                store.release_claim(&claim).await.unwrap();
                Ok("released".into())
            }
            Step::ClaimAll(names) => {
                let owned: Vec<String> = names.iter().map(|n| n.to_string()).collect();
                let taken = store.try_claims(&owned).await.unwrap();
                let mut answers = Vec::new();
                for (name, claim) in names.iter().zip(taken) {
                    answers.push(if claim.is_some() { "held" } else { "taken" });
                    if let Some(claim) = claim {
                        claims.insert(*name, claim);
                    }
                }
                Ok(answers.join(","))
            }
            Step::UnclaimAll(names) => {
                let held: Vec<_> = names
                    .iter()
                    .map(|n| claims.remove(*n).expect("a claim this test holds"))
                    .collect();
                store.release_claims(&held).await.unwrap();
                Ok("released".into())
            }
        };
        let outcome = match outcome {
            Ok(value) => value,
            Err(e) => format!("error {:?}", e.kind()),
        };
        let refs = enumerate(store).await.unwrap();
        let parents = refs
            .names()
            .map(|n| (n.to_string(), refs.get(n).unwrap().parent.clone()))
            .collect();
        let main = store.read_main().await.unwrap();
        out.push((
            format!("{step:?} => {outcome}"),
            parents,
            main.stamp,
            main.pk,
        ));
    }
    out
}

async fn lance(spec: &LegacySpec) -> (TempGraph, LanceStore) {
    let t = TempGraph::legacy(spec).await;
    let store = LanceStore::connect(&stampede_engine::root_uri(&t.root), Default::default())
        .await
        .unwrap();
    (t, store)
}

/// The same graph on S3, at a root of its own.
async fn lance_on_s3(spec: &LegacySpec) -> LanceStore {
    use stampede_s3server::S3Server;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::OnceLock;
    static SERVER: OnceLock<S3Server> = OnceLock::new();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let server = SERVER.get_or_init(|| S3Server::start().unwrap_or_else(|e| panic!("{e}")));
    let root = server.root(&format!(
        "conformance/{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let params = stampede_engine::location::with_storage_options(
        Default::default(),
        server.storage_options().into_iter().collect(),
    );
    stampede_engine::legacy::write_legacy(&root, spec, params.clone())
        .await
        .unwrap();
    LanceStore::connect(&root, params).await.unwrap()
}

async fn agree(spec: LegacySpec, memory: MemoryStore, steps: &[Step]) {
    let in_memory = run(&memory, steps).await;
    let (_t, lance) = lance(&spec).await;
    let on_s3 = lance_on_s3(&spec).await;
    for (store, on_lance) in [
        ("Lance", run(&lance, steps).await),
        ("Lance on S3", run(&on_s3, steps).await),
    ] {
        for (l, m) in on_lance.iter().zip(&in_memory) {
            assert_eq!(
                l, m,
                "{store} (left) and the in-memory store (right) disagree"
            );
        }
    }
}

#[tokio::test]
async fn lifecycle_of_a_legacy_v2_graph() {
    let spec = LegacySpec::new(LegacyVersion::V2)
        .run_branches(2)
        .branch("u", Some("__run__1"))
        .branch("w", Some("u"));
    let memory = MemoryStore::graph(
        Some("2"),
        true,
        &[
            ("__run__0", None),
            ("__run__1", None),
            ("u", Some("__run__1")),
            ("w", Some("u")),
        ],
    );
    use Step::*;
    agree(
        spec,
        memory,
        &[
            Migrate,
            Migrate,
            Create("x", "u"),
            Delete("u"),
            Delete("w"),
            Delete("x"),
            Delete("u"),
            Delete("__run__1"),
            Create("__run__1", "main"),
            Acquire,
            Acquire,
            Create("y", "main"),
            Delete("__run__1"),
            Release,
            Unlock,
            Acquire,
            Unlock,
            Create("y", "main"),
            Create("y", "main"),
            Delete("nope"),
            Create("z", "nope"),
            Create("z", "y"),
            Delete("y"),
            Claim("y"),
            Claim("y"),
            Claim("z"),
            Unclaim("y"),
            Claim("y"),
            Unclaim("y"),
            ClaimAll(&["y", "z", "a/b"]),
            ClaimAll(&["a/b", "y"]),
            UnclaimAll(&["y", "a/b"]),
            Claim("y"),
            Unclaim("y"),
            Unclaim("z"),
            Delete("z"),
        ],
    )
    .await;
}

#[tokio::test]
async fn every_migration_start() {
    use Step::*;
    for (spec, stamp, pk) in [
        (
            LegacySpec::new(LegacyVersion::V1).run_branches(1),
            None,
            false,
        ),
        (
            LegacySpec::new(LegacyVersion::V2)
                .run_branches(1)
                .stamp(LegacyStamp::Absent),
            None,
            true,
        ),
        (
            LegacySpec::new(LegacyVersion::V2)
                .run_branches(1)
                .stamp(LegacyStamp::Raw("abc".into())),
            Some("abc"),
            true,
        ),
        (
            LegacySpec::new(LegacyVersion::V2)
                .run_branches(1)
                .stamp(LegacyStamp::Raw("99".into())),
            Some("99"),
            true,
        ),
        (
            LegacySpec::new(LegacyVersion::V2)
                .run_branches(1)
                .stamp(LegacyStamp::Raw("3".into())),
            Some("3"),
            true,
        ),
    ] {
        let memory = MemoryStore::graph(stamp, pk, &[("__run__0", None)]);
        agree(spec, memory, &[Migrate, Migrate, Create("a", "__run__0")]).await;
    }
}

/// The race itself: a ref deleted between the list and the read.
#[tokio::test]
async fn a_ref_vanishing_between_list_and_read_is_the_modelled_race() {
    let spec = LegacySpec::new(LegacyVersion::V2)
        .run_branches(4)
        .branch("u", None);
    let t = TempGraph::legacy(&spec).await;
    let probe = Probe::new();
    let root = stampede_engine::root_uri(&t.root);
    let lance = LanceStore::connect(&root, probe.params()).await.unwrap();

    // Step by step, Lance and the in-memory store behave alike.
    let memory = MemoryStore::graph(
        Some("2"),
        true,
        &[
            ("__run__0", None),
            ("__run__1", None),
            ("__run__2", None),
            ("__run__3", None),
            ("u", None),
        ],
    );
    probe.vanish_after_next_list("_refs/branches");
    let listed = lance.list_ref_names().await.unwrap();
    let mut listed_in_memory = memory.list_ref_names().await.unwrap();
    // The probe removed the first name the directory listing returned.
    memory.delete_ref(&listed[0], None).await.unwrap();
    let mut sorted = listed.clone();
    sorted.sort();
    listed_in_memory.sort();
    assert_eq!(sorted, listed_in_memory);
    assert!(matches!(
        lance.read_ref(&listed[0]).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        memory.read_ref(&listed[0]).await,
        Err(StoreError::NotFound(_))
    ));

    // Lance's own list_branches fails on it; the protocol's enumeration
    // starts over and returns the refs that remain.
    probe.vanish_after_next_list("_refs/branches");
    let dataset = lance.open_main().await.unwrap();
    let lance_list = dataset.list_branches().await;
    assert!(
        lance_list.is_err(),
        "Lance's list_branches survived a vanishing ref: {lance_list:?}"
    );
    probe.vanish_after_next_list("_refs/branches");
    let refs = enumerate(&lance).await.unwrap();
    let remaining: Vec<&str> = refs.names().collect();
    assert_eq!(
        remaining.len(),
        2,
        "five refs, three vanished: {remaining:?}"
    );
    assert!(refs.names().all(|n| n != listed[0]));
}

/// The hazard the in-memory store models for a removal no claim covers
/// (finding 39): on Lance, a tree's files listed before its branch was
/// deleted and created again name files of the new tree too (a version
/// file has the same path in every incarnation), so deleting what was
/// listed breaks the new branch.
#[tokio::test]
async fn a_removal_listed_before_a_recreate_breaks_the_new_tree() {
    use futures::TryStreamExt;
    use object_store::{ObjectStore as _, ObjectStoreExt as _};
    let spec = LegacySpec::new(LegacyVersion::V2).run_branches(0);
    let t = TempGraph::legacy(&spec).await;
    let root = stampede_engine::root_uri(&t.root);
    let lance = LanceStore::connect(&root, Default::default())
        .await
        .unwrap();
    migrate(&lance, &lance.read_main().await.unwrap())
        .await
        .unwrap();
    create_branch(&lance, "x", "main").await.unwrap();
    let inner = lance.object_store().inner.clone();
    let listed: Vec<_> = inner
        .list(Some(&lance.tree_path("x")))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .unwrap();
    delete_branch(&lance, "x").await.unwrap();
    create_branch(&lance, "x", "main").await.unwrap();
    assert!(
        lance.open_branch(Some("x"), None).await.is_ok(),
        "the control"
    );
    for path in &listed {
        let _ = inner.delete(path).await;
    }
    assert!(
        lance.open_branch(Some("x"), None).await.is_err(),
        "the new tree of x survived a removal listed before it was written"
    );
}

/// Finding 50: an apply whose lock delete lost its acknowledgement, and
/// whose re-read of the lock then failed, answered `lock_released = false`
/// with the lock gone (the fault campaign's judge requires the lock left).
/// The release now asks again: it reports the lock left only when every
/// attempt left it there, and then it is there for `unlock` to clear.
#[tokio::test]
async fn regression_an_apply_reports_its_lock_left_only_when_it_is() {
    use Scripted::{LostAck, TransientError};
    // The faults scripted on the lock's object, in order; whether the lock
    // is left.
    type Script<'a> = &'a [(Call, Scripted, u32)];
    let cases: [(Script, bool); 3] = [
        (&[], false),
        (
            &[(Call::Delete, LostAck, 1), (Call::Get, TransientError, 1)],
            false,
        ),
        (&[(Call::Delete, TransientError, 3)], true),
    ];
    for (faults, left) in cases {
        let (t, _) = TempGraph::init().await;
        let probe = Probe::new();
        let g = probed(&t, Mode::ReadWrite, &probe).await;
        for &(call, fault, times) in faults {
            probe.script(call, "__schema_apply_lock__", fault, times);
        }
        let report = g
            .apply_schema(&format!("{EXAMPLE_SCHEMA}node Extra {{ id: I64 @key }}\n"))
            .await
            .unwrap();
        let met: u32 = faults.iter().map(|f| f.2).sum();
        assert_eq!(
            probe.injected().len() as u32,
            met,
            "{faults:?}: {:?}",
            probe.injected()
        );
        assert!(report.applied, "{faults:?}");
        assert_eq!(report.lock_released, !left, "{faults:?}");
        // Whether a lock was there to clear.
        assert_eq!(g.unlock().await.unwrap(), left, "{faults:?}");
    }
}

/// Finding 33, exactly: a create that finds a zombie tree under its name
/// (a create that died between its tree and its ref) replaces it, and a
/// lost acknowledgement on the zombie's removal makes it fail. It must fail
/// invisibly (no ref over missing tables), and the name's next create must
/// stand whole. The campaign's four tokens that once found it drew faults
/// by call position; this script does not depend on the order of calls.
#[tokio::test]
async fn regression_a_create_failing_over_a_zombie_tree_is_invisible() {
    for lost in [
        None,
        Some(Scripted::LostAck),
        Some(Scripted::TransientError),
    ] {
        let (t, _) = TempGraph::init().await;
        let probe = Probe::new();
        let g = probed(&t, Mode::ReadWrite, &probe).await;
        g.branch_create("z", "main").await.unwrap();
        std::fs::remove_file(t.ref_file("z")).unwrap();
        assert!(t.tree_dir("z").exists());
        if let Some(fault) = lost {
            probe.script(Call::Delete, "tree/z/", fault, 1);
        }
        let created = g.branch_create("z", "main").await;
        assert_eq!(
            probe.injected().len(),
            usize::from(lost.is_some()),
            "{lost:?}"
        );
        let listed = g.branch_list().await.unwrap();
        // The scripted fault fails the create (no retry hides it).
        assert_eq!(created.is_err(), lost.is_some(), "{lost:?}: {created:?}");
        match created {
            Ok(()) => assert!(listed.contains(&"z".to_string()), "{lost:?}"),
            Err(e) => {
                assert_eq!(
                    e.kind(),
                    stampede_engine::ErrorKind::Storage,
                    "{lost:?}: {e}"
                );
                assert_eq!(
                    listed,
                    vec!["main".to_string()],
                    "{lost:?}: a failed create is visible"
                );
                g.branch_create("z", "main").await.unwrap();
            }
        }
        assert!(g.scan("z", "Person").await.unwrap().is_empty(), "{lost:?}");
    }
}
