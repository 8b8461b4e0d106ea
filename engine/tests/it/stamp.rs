//! The stamp guard: every stamp state, in both modes.

use crate::common;

use common::{kind, TempGraph};
use lance::Dataset;
use stampede_engine::legacy::{LegacySpec, LegacyStamp, LegacyVersion};
use stampede_engine::manifest::PK_KEY;
use stampede_engine::{read_stamp, ErrorKind, Mode, PkState, StampState};

struct Case {
    spec: LegacySpec,
    state: StampState,
    /// Read-only and read-write open: Ok(from) or the error kind.
    open: Result<u32, ErrorKind>,
}

fn raw(version: LegacyVersion, value: &str) -> LegacySpec {
    LegacySpec::new(version).stamp(LegacyStamp::Raw(value.into()))
}

fn cases() -> Vec<Case> {
    let corrupt = |v: LegacyVersion, value: &str| Case {
        spec: raw(v, value),
        state: StampState::Corrupt(value.into()),
        open: Err(ErrorKind::CorruptStamp),
    };
    vec![
        Case {
            spec: LegacySpec::new(LegacyVersion::V1),
            state: StampState::Unstamped,
            open: Ok(1),
        },
        Case {
            spec: LegacySpec::new(LegacyVersion::V2).stamp(LegacyStamp::Absent),
            state: StampState::PkSetUnstamped,
            open: Ok(1),
        },
        Case {
            spec: raw(LegacyVersion::V1, "1"),
            state: StampState::Version(1),
            open: Ok(1),
        },
        Case {
            spec: LegacySpec::new(LegacyVersion::V2),
            state: StampState::Version(2),
            open: Ok(2),
        },
        Case {
            spec: raw(LegacyVersion::V2, "3"),
            state: StampState::Version(3),
            open: Ok(3),
        },
        Case {
            spec: raw(LegacyVersion::V2, "4"),
            state: StampState::Version(4),
            open: Err(ErrorKind::UpgradeRequired),
        },
        Case {
            spec: raw(LegacyVersion::V2, "99"),
            state: StampState::Version(99),
            open: Err(ErrorKind::UpgradeRequired),
        },
        corrupt(LegacyVersion::V2, "abc"),
        corrupt(LegacyVersion::V2, " 3"),
        corrupt(LegacyVersion::V2, "3 "),
        corrupt(LegacyVersion::V2, "0"),
        corrupt(LegacyVersion::V2, "03"),
        corrupt(LegacyVersion::V2, "+2"),
        corrupt(LegacyVersion::V2, ""),
        // Never read as v1, even without a primary key.
        corrupt(LegacyVersion::V1, "x"),
    ]
}

#[tokio::test]
async fn every_stamp_state_in_both_modes() {
    for case in cases() {
        let t = TempGraph::legacy(&case.spec).await;
        let report = read_stamp(&t.root).await.unwrap();
        assert_eq!(report.state, case.state, "{:?}", case.spec);
        assert_eq!(
            report.verdict.clone().map_err(|e| e.kind()),
            case.open,
            "{:?}",
            case.spec
        );

        let before = t.files();
        let ro = t.open(Mode::ReadOnly).await;
        match &case.open {
            Ok(from) => {
                let g = ro.unwrap();
                assert_eq!((g.report().from, g.report().to), (*from, *from));
                g.branch_list().await.unwrap();
            }
            Err(expected) => assert_eq!(kind(ro), *expected, "{:?}", case.spec),
        }
        assert_eq!(t.files(), before, "a read-only open wrote: {:?}", case.spec);

        let rw = t.open(Mode::ReadWrite).await;
        match &case.open {
            Ok(from) => {
                let g = rw.unwrap();
                assert_eq!(
                    (g.report().from, g.report().to),
                    (*from, 3),
                    "{:?}",
                    case.spec
                );
                assert_eq!(
                    read_stamp(&t.root).await.unwrap().state,
                    StampState::Version(3)
                );
                assert_eq!(
                    read_stamp(&t.root).await.unwrap().head.pk,
                    PkState::OnObjectId
                );
            }
            Err(expected) => {
                assert_eq!(kind(rw), *expected, "{:?}", case.spec);
                assert_eq!(t.files(), before, "a refused open wrote: {:?}", case.spec);
            }
        }
    }
}

#[tokio::test]
async fn errors_name_the_raw_value_and_the_versions() {
    let t = TempGraph::legacy(&raw(LegacyVersion::V2, " 3")).await;
    let err = t.open(Mode::ReadWrite).await.unwrap_err();
    assert!(err.to_string().contains("\" 3\""), "{err}");
    let t = TempGraph::legacy(&raw(LegacyVersion::V2, "99")).await;
    let err = t.open(Mode::ReadOnly).await.unwrap_err();
    assert!(
        err.to_string().contains("99") && err.to_string().contains('3'),
        "{err}"
    );
}

#[tokio::test]
async fn a_primary_key_on_another_field_is_a_corrupt_manifest() {
    let t = TempGraph::legacy(&LegacySpec::new(LegacyVersion::V1)).await;
    let mut manifest = Dataset::open(&format!("{}/__manifest", t.root))
        .await
        .unwrap();
    manifest
        .update_field_metadata()
        .update("kind", [(PK_KEY, "true")])
        .unwrap()
        .await
        .unwrap();
    let before = t.files();
    assert_eq!(
        kind(t.open(Mode::ReadWrite).await),
        ErrorKind::CorruptManifest
    );
    assert_eq!(t.files(), before);
}
