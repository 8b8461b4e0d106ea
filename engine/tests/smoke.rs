use stampede_engine::legacy::{write_legacy, LegacySpec};
use stampede_engine::schema::EXAMPLE_SCHEMA;
use stampede_engine::{Graph, Mode};

#[tokio::test]
async fn smoke() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("g");
    let root = root.to_str().unwrap();
    let g = Graph::init(root, EXAMPLE_SCHEMA).await.unwrap();
    assert_eq!(g.branch_list().await.unwrap(), vec!["main"]);
    g.branch_create("a", "main").await.unwrap();
    g.branch_create("a/b", "a").await.unwrap();
    println!("{:?}", g.branch_list().await.unwrap());
    println!("{:?}", g.branch_delete("a").await);
    g.branch_delete("a/b").await.unwrap();
    g.branch_delete("a").await.unwrap();
    let g = Graph::open(root, Mode::ReadWrite).await.unwrap();
    println!("{:?}", g.report());

    let root2 = dir.path().join("legacy");
    let root2 = root2.to_str().unwrap();
    write_legacy(root2, &LegacySpec::new(1).run_branches(3).branch("u", Some("__run__1"))).await.unwrap();
    let ro = Graph::open(root2, Mode::ReadOnly).await.unwrap();
    println!("ro {:?} {:?}", ro.report(), ro.branch_list().await.unwrap());
    let g = Graph::open(root2, Mode::ReadWrite).await.unwrap();
    println!("rw {:?} {:?}", g.report(), g.branch_list().await.unwrap());
    println!("{:?}", stampede_engine::read_stamp(root2).await.unwrap());
}
