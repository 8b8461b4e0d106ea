//! Main's internal schema stamp: how it is read and guarded.
//!
//! | on disk                       | state              | effective version |
//! |-------------------------------|--------------------|-------------------|
//! | no key, no PK                 | `Unstamped`        | 1                 |
//! | no key, PK on `object_id`     | `PkSetUnstamped`   | 1 (resume v1→v2)  |
//! | canonical decimal `n`         | `Version(n)`       | n                 |
//! | anything else                 | `Corrupt(raw)`     | refused           |
//!
//! A version above [`CURRENT_VERSION`] is refused with `UpgradeRequired`;
//! a corrupt value with `CorruptStamp`. Both in read-only and read-write mode.

use crate::defects::{planted, Defect};
use crate::error::{Error, Result};
use crate::store::{MainHead, PkState};

/// The internal schema version this engine writes and migrates to.
pub const CURRENT_VERSION: u32 = 3;

/// The schema-level metadata key on `__manifest` holding the stamp.
pub const STAMP_KEY: &str = "omnigraph:internal_schema_version";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StampState {
    /// v1: no stamp key and no primary-key annotation.
    Unstamped,
    /// A v1→v2 step that set the primary key and stopped before the stamp.
    PkSetUnstamped,
    /// A canonical decimal stamp. Values too large for `u64` saturate: they
    /// are above any supported version either way.
    Version(u64),
    /// Present but not canonical: never read as v1, never migrated.
    Corrupt(String),
}

impl StampState {
    pub fn of(head: &MainHead) -> StampState {
        match &head.stamp {
            None if head.pk == PkState::Absent => StampState::Unstamped,
            None => StampState::PkSetUnstamped,
            Some(raw) => match parse_stamp(raw) {
                StampState::Corrupt(_) if planted(Defect::CorruptStampAsV1) => {
                    if head.pk == PkState::Absent {
                        StampState::Unstamped
                    } else {
                        StampState::PkSetUnstamped
                    }
                }
                state => state,
            },
        }
    }

    /// The version migrations start from, or why the graph must not be touched.
    pub fn guard(&self) -> Result<u32> {
        match self {
            StampState::Unstamped | StampState::PkSetUnstamped => Ok(1),
            StampState::Version(v) if *v <= u64::from(CURRENT_VERSION) => Ok(*v as u32),
            StampState::Version(v) => Err(Error::UpgradeRequired {
                found: v.to_string(),
                supported: CURRENT_VERSION,
            }),
            StampState::Corrupt(raw) => Err(Error::CorruptStamp { raw: raw.clone() }),
        }
    }
}

/// The state as people and the JSON outputs name it: `unstamped`,
/// `pk-set-unstamped`, `vN`, `corrupt`.
impl std::fmt::Display for StampState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StampState::Unstamped => f.write_str("unstamped"),
            StampState::PkSetUnstamped => f.write_str("pk-set-unstamped"),
            StampState::Version(v) => write!(f, "v{v}"),
            StampState::Corrupt(_) => f.write_str("corrupt"),
        }
    }
}

/// Canonical: ASCII digits only, no sign, no spaces, no leading zero, not 0.
pub fn parse_stamp(raw: &str) -> StampState {
    let canonical =
        !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0');
    if !canonical {
        return StampState::Corrupt(raw.to_string());
    }
    StampState::Version(raw.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn head(stamp: Option<&str>, pk: PkState) -> MainHead {
        MainHead {
            version: 1,
            stamp: stamp.map(str::to_string),
            pk,
            schema_epoch: 0,
        }
    }

    #[test]
    fn every_stamp_shape() {
        let cases: &[(Option<&str>, PkState, std::result::Result<u32, ErrorKind>)] = &[
            (None, PkState::Absent, Ok(1)),
            (None, PkState::OnObjectId, Ok(1)),
            (Some("1"), PkState::Absent, Ok(1)),
            (Some("2"), PkState::OnObjectId, Ok(2)),
            (Some("3"), PkState::OnObjectId, Ok(3)),
            (
                Some("4"),
                PkState::OnObjectId,
                Err(ErrorKind::UpgradeRequired),
            ),
            (
                Some("99"),
                PkState::OnObjectId,
                Err(ErrorKind::UpgradeRequired),
            ),
            (
                Some("99999999999999999999999"),
                PkState::Absent,
                Err(ErrorKind::UpgradeRequired),
            ),
            (Some("0"), PkState::OnObjectId, Err(ErrorKind::CorruptStamp)),
            (
                Some("03"),
                PkState::OnObjectId,
                Err(ErrorKind::CorruptStamp),
            ),
            (
                Some(" 3"),
                PkState::OnObjectId,
                Err(ErrorKind::CorruptStamp),
            ),
            (
                Some("3 "),
                PkState::OnObjectId,
                Err(ErrorKind::CorruptStamp),
            ),
            (
                Some("+3"),
                PkState::OnObjectId,
                Err(ErrorKind::CorruptStamp),
            ),
            (
                Some("-1"),
                PkState::OnObjectId,
                Err(ErrorKind::CorruptStamp),
            ),
            (Some("abc"), PkState::Absent, Err(ErrorKind::CorruptStamp)),
            (Some(""), PkState::Absent, Err(ErrorKind::CorruptStamp)),
            (Some("３"), PkState::Absent, Err(ErrorKind::CorruptStamp)),
        ];
        for (stamp, pk, expected) in cases {
            let got = StampState::of(&head(*stamp, pk.clone()))
                .guard()
                .map_err(|e| e.kind());
            assert_eq!(&got, expected, "stamp {stamp:?} pk {pk:?}");
        }
    }

    #[test]
    fn corrupt_stamp_names_the_raw_value() {
        let err = parse_stamp(" 3").guard().unwrap_err();
        assert!(err.to_string().contains("\" 3\""), "{err}");
    }
}
