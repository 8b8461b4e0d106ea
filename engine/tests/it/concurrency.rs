//! Concurrent openers, creators, deleters and listers on one graph, as
//! tokio tasks on real Lance. (The same with OS processes of the CLI lives
//! in the harness's `cli_processes` test.) Rounds: STAMPEDE_ROUNDS.

use crate::common;

use std::collections::BTreeSet;

use common::{rounds, strings, TempGraph};
use stampede_engine::legacy::{LegacySpec, LegacyVersion};
use stampede_engine::{read_stamp, ErrorKind, Graph, Mode, StampState};

async fn spawn_all<T: Send + 'static>(
    futures: Vec<impl std::future::Future<Output = T> + Send + 'static>,
) -> Vec<T> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task panicked"));
    }
    out
}

/// 8 read-write opens of a v2 graph with 50 `__run__*` refs and 2 user
/// branches at once: every open succeeds, the result equals one open.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_read_write_opens_of_a_legacy_graph() {
    for round in 0..rounds("STAMPEDE_ROUNDS", 30) {
        let version = if round % 5 == 4 {
            LegacyVersion::V1
        } else {
            LegacyVersion::V2
        };
        let spec = LegacySpec::new(version)
            .run_branches(50)
            .branch("feature", None)
            .branch("fork", Some("__run__7"));
        let t = TempGraph::legacy(&spec).await;
        let opens = spawn_all(
            (0..8)
                .map(|_| {
                    let root = t.root.clone();
                    async move { Graph::open(&root, Mode::ReadWrite).await }
                })
                .collect(),
        )
        .await;
        let (mut swept, mut sweepers) = (Vec::new(), 0);
        for open in opens {
            let g = open.unwrap_or_else(|e| panic!("round {round}: an open failed: {e:?}"));
            let report = g.report();
            assert_eq!(report.to, 3, "round {round}");
            // An opener either ran the sweep (and kept __run__7), or found
            // another opener had finished it and did nothing.
            if report.kept.is_empty() {
                assert!(report.swept.is_empty(), "round {round}: {report:?}");
            } else {
                assert_eq!(report.kept, strings(&["__run__7"]), "round {round}");
                // On a v1 graph another opener may have finished v1→v2 first.
                assert!(
                    (version.number()..=2).contains(&report.from),
                    "round {round}: {report:?}"
                );
                sweepers += 1;
            }
            swept.extend(report.swept.clone());
        }
        assert!(sweepers >= 1, "round {round}: nobody ran the sweep");
        let swept_once: BTreeSet<_> = swept.iter().collect();
        assert_eq!(
            swept.len(),
            49,
            "round {round}: each legacy ref is swept by exactly one opener"
        );
        assert_eq!(swept_once.len(), 49, "round {round}");
        assert_eq!(
            read_stamp(&t.root).await.unwrap().state,
            StampState::Version(3)
        );
        assert_eq!(
            t.ro().await.branch_list().await.unwrap(),
            strings(&["main", "__run__7", "feature", "fork"]),
            "round {round}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creates_of_one_name_have_exactly_one_winner() {
    for round in 0..rounds("STAMPEDE_ROUNDS", 30) {
        let (t, g) = TempGraph::init().await;
        if round % 2 == 1 {
            // Half the rounds race over a zombie tree of the same name.
            g.branch_create("x", "main").await.unwrap();
            std::fs::remove_file(t.ref_file("x")).unwrap();
        }
        let results = spawn_all(
            (0..4)
                .map(|_| {
                    let root = t.root.clone();
                    async move {
                        let g = Graph::open(&root, Mode::ReadWrite).await.unwrap();
                        g.branch_create("x", "main").await.map_err(|e| {
                            if e.kind() == ErrorKind::Storage {
                                eprintln!("{e}");
                            }
                            e.kind()
                        })
                    }
                })
                .collect(),
        )
        .await;
        let wins = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "round {round}: {results:?}");
        assert!(
            results
                .iter()
                .all(|r| r.is_ok() || *r == Err(ErrorKind::BranchExists)),
            "round {round}: {results:?}"
        );
        assert_eq!(g.branch_list().await.unwrap(), strings(&["main", "x"]));
        // The winner's branch is whole: readable and deletable.
        let main = lance::Dataset::open(&format!("{}/__manifest", t.root))
            .await
            .unwrap();
        main.checkout_branch("x")
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        g.branch_delete("x").await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_deletes_of_one_name_have_exactly_one_winner() {
    for round in 0..rounds("STAMPEDE_ROUNDS", 30) {
        let (t, g) = TempGraph::init().await;
        g.branch_create("x", "main").await.unwrap();
        g.branch_create("x/y", "main").await.unwrap();
        let results = spawn_all(
            (0..4)
                .map(|_| {
                    let root = t.root.clone();
                    async move {
                        let g = Graph::open(&root, Mode::ReadWrite).await.unwrap();
                        g.branch_delete("x").await.map_err(|e| e.kind())
                    }
                })
                .collect(),
        )
        .await;
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "round {round}: {results:?}"
        );
        assert!(
            results
                .iter()
                .all(|r| r.is_ok() || *r == Err(ErrorKind::BranchNotFound)),
            "round {round}: {results:?}"
        );
        assert_eq!(g.branch_list().await.unwrap(), strings(&["main", "x/y"]));
        let main = lance::Dataset::open(&format!("{}/__manifest", t.root))
            .await
            .unwrap();
        main.checkout_branch("x/y").await.unwrap();
    }
}

/// The seed engine's `branch_list` failed while another branch was being
/// deleted (Lance's list reads refs one by one after listing them).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lists_never_fail_while_branches_are_deleted() {
    let (t, g) = TempGraph::init().await;
    let names: Vec<String> = (0..40).map(|i| format!("b{i:02}")).collect();
    for name in &names {
        g.branch_create(name, "main").await.unwrap();
    }
    let deleter = {
        let root = t.root.clone();
        let names = names.clone();
        tokio::spawn(async move {
            let g = Graph::open(&root, Mode::ReadWrite).await.unwrap();
            for name in names {
                g.branch_delete(&name).await.unwrap();
            }
        })
    };
    let listers = spawn_all(
        (0..3)
            .map(|_| {
                let root = t.root.clone();
                let names = names.clone();
                async move {
                    let g = Graph::open(&root, Mode::ReadOnly).await.unwrap();
                    let mut lists = 0;
                    let mut previous = names.len() + 1;
                    loop {
                        let list = g.branch_list().await.expect("a list failed during deletes");
                        assert_eq!(list[0], "main");
                        // Deletes run in name order, so every list is a suffix.
                        let rest = &list[1..];
                        assert_eq!(rest, &names[names.len() - rest.len()..]);
                        assert!(rest.len() <= previous, "a deleted branch came back");
                        previous = rest.len();
                        lists += 1;
                        if rest.is_empty() {
                            return lists;
                        }
                    }
                }
            })
            .collect(),
    )
    .await;
    deleter.await.unwrap();
    assert!(
        listers.iter().all(|&n| n > 1),
        "listers did not overlap the deletes: {listers:?}"
    );
}
