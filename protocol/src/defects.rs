//! Historical defects of this area, planted back one at a time so the
//! harness can prove it catches each. Compiled in only with the `defects`
//! feature; without it `planted` is a constant `false` and the checks fold
//! away. Numbers 1–14 are the historical list (docs/findings.md); 15 is the
//! seed's create, which never looked for the lock after writing its ref;
//! 16 a spurious conflict; 17–20 this engine's own findings 14, 15 and 39
//! (its sweep and its create), planted back; 21 a claim holder that does
//! not notice its lease passed; 22 a `check` that trusts one reading of a
//! live graph.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Defect {
    /// The sweep deletes with a plain delete: a ref already gone fails.
    SweepPlainDelete = 1,
    /// A ref that vanishes between list and read fails the enumeration.
    NoEnumerationRetry = 2,
    /// The sweep's force delete does not absorb a tree already gone.
    SweepForceDeleteNotFound = 3,
    /// A read-write open does not migrate; the first publish does.
    MigrationDeferred = 4,
    /// Resuming v1→v2 after its PK commit sets the primary key again.
    PkSetAgain = 5,
    /// A stamp write that loses a commit race fails instead of re-reading.
    StampWriteNotIdempotent = 6,
    /// A stamp that does not parse reads as v1 (and gets migrated).
    CorruptStampAsV1 = 7,
    /// A read-only open skips the stamp guard.
    ReadOnlySkipsGuard = 8,
    /// The internal-ref guard looks at the name before it is normalized
    /// (trimmed), so ` __schema_apply_lock__` passes and becomes the lock.
    GuardBeforeNormalization = 9,
    /// The apply takes the lock after its first check and never re-checks
    /// blocking branches (neither after taking it nor before publishing).
    LockWithoutRecheck = 10,
    /// No blocking-branch check right before publish. Planted alone it is
    /// masked in this protocol (see [`Defect::masked_by`]).
    NoRecheckBeforePublish = 11,
    /// A release that fails after a committed apply is reported as an error.
    ReleaseErrorAfterApply = 12,
    /// Init commits the manifest unstamped and writes the stamp in a second
    /// commit.
    StampInSecondCommit = 13,
    /// The sweep matches `__run` instead of `__run__` (user branches go).
    LooseSweepPrefix = 14,
    /// Create writes its ref and returns, without looking for the lock or
    /// a schema change (the seed's create).
    CreateWithoutRecheck = 15,
    /// A create of a name ending in `b` answers `conflict` without having
    /// done anything, whether or not anything raced it: what the concurrent
    /// judge must not admit as "overlapped a conflicting operation". (Keyed
    /// by the name, not a count, so a failing round replays.)
    SpuriousConflict = 16,
    /// Finding 14: an in-place table write that Lance rebased onto a racing
    /// one is published as it came back (holding the other's rows too), so
    /// two loads of one new key publish it twice.
    RebasedWriteKept = 17,
    /// Finding 15: a create that finds its name taken answers
    /// `branch_exists` at once, even for a ref whose create may still
    /// withdraw it (the name never stands).
    ExistsBeforeSettled = 18,
    /// Finding 39's sweep: delete a legacy ref, then remove its tree (also
    /// when the ref was already gone), under no claim, so a late removal
    /// lists and deletes the tree of a branch re-created under the name.
    SweepWithoutClaim = 19,
    /// Finding 39's create: write the tree, or replace a zombie tree, under
    /// no claim, so a delete's or sweep's removal still under way deletes
    /// the new branch's files.
    CreateWithoutClaim = 20,
    /// A claim's holder goes on changing a name's tree and ref after half
    /// its lease has passed (a pause it does not notice), when another
    /// claimer may already have taken the name over.
    HolderIgnoresLapse = 21,
    /// `check` reports what it finds on one reading, without reading again
    /// what pointed at it: work in flight on a live graph (a sweep, a
    /// delete, a create) reads as damage.
    CheckWithoutReread = 22,
    /// Finding 51's load and merge: publish a commit on a branch under no
    /// claim and without reading its ref again, so a commit that read the
    /// branch before a delete lands after it, in the removed tree (a zombie
    /// `check` reports) or in a branch created under the name since.
    PublishWithoutClaim = 23,
}

impl Defect {
    pub const ALL: [Defect; 23] = [
        Defect::SweepPlainDelete,
        Defect::NoEnumerationRetry,
        Defect::SweepForceDeleteNotFound,
        Defect::MigrationDeferred,
        Defect::PkSetAgain,
        Defect::StampWriteNotIdempotent,
        Defect::CorruptStampAsV1,
        Defect::ReadOnlySkipsGuard,
        Defect::GuardBeforeNormalization,
        Defect::LockWithoutRecheck,
        Defect::NoRecheckBeforePublish,
        Defect::ReleaseErrorAfterApply,
        Defect::StampInSecondCommit,
        Defect::LooseSweepPrefix,
        Defect::CreateWithoutRecheck,
        Defect::SpuriousConflict,
        Defect::RebasedWriteKept,
        Defect::ExistsBeforeSettled,
        Defect::SweepWithoutClaim,
        Defect::CreateWithoutClaim,
        Defect::HolderIgnoresLapse,
        Defect::CheckWithoutReread,
        Defect::PublishWithoutClaim,
    ];

    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn from_number(number: u8) -> Option<Defect> {
        Self::ALL.into_iter().find(|d| d.number() == number)
    }

    /// Why no campaign can observe this defect planted alone, if none can:
    /// the sensitivity table reports it as masked (and loom proves the
    /// masking) instead of counting it caught.
    pub fn masked_by(self) -> Option<&'static str> {
        match self {
            Defect::NoRecheckBeforePublish => Some(
                "a create re-checks for the lock after writing its ref, and the apply re-checks for branches after taking the lock: whichever looks second sees the other before any publish",
            ),
            _ => None,
        }
    }

    /// A short kebab-case name for tables and flags.
    pub fn name(self) -> &'static str {
        match self {
            Defect::SweepPlainDelete => "sweep-plain-delete",
            Defect::NoEnumerationRetry => "no-enumeration-retry",
            Defect::SweepForceDeleteNotFound => "force-delete-not-found",
            Defect::MigrationDeferred => "migration-deferred",
            Defect::PkSetAgain => "pk-set-again",
            Defect::StampWriteNotIdempotent => "stamp-write-not-idempotent",
            Defect::CorruptStampAsV1 => "corrupt-stamp-as-v1",
            Defect::ReadOnlySkipsGuard => "read-only-skips-guard",
            Defect::GuardBeforeNormalization => "guard-before-normalization",
            Defect::LockWithoutRecheck => "lock-without-recheck",
            Defect::NoRecheckBeforePublish => "no-recheck-before-publish",
            Defect::ReleaseErrorAfterApply => "release-error-after-apply",
            Defect::StampInSecondCommit => "stamp-in-second-commit",
            Defect::LooseSweepPrefix => "loose-sweep-prefix",
            Defect::CreateWithoutRecheck => "create-without-recheck",
            Defect::SpuriousConflict => "spurious-conflict",
            Defect::RebasedWriteKept => "rebased-write-kept",
            Defect::ExistsBeforeSettled => "exists-before-settled",
            Defect::SweepWithoutClaim => "sweep-without-claim",
            Defect::CreateWithoutClaim => "create-without-claim",
            Defect::HolderIgnoresLapse => "holder-ignores-lapse",
            Defect::CheckWithoutReread => "check-without-reread",
            Defect::PublishWithoutClaim => "publish-without-claim",
        }
    }
}

/// The environment variable that plants a defect (by number) in processes
/// a campaign spawns.
pub const DEFECT_ENV: &str = "STAMPEDE_DEFECT";

#[cfg(feature = "defects")]
// A process-wide switch, set outside any loom model: std's atomic on
// purpose, not the `sync` facade's.
static PLANTED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Plant `defect` (or none) for the whole process.
#[cfg(feature = "defects")]
pub fn plant(defect: Option<Defect>) {
    PLANTED.store(
        defect.map_or(0, |d| d as u8),
        std::sync::atomic::Ordering::SeqCst,
    );
}

/// Plant the defect `STAMPEDE_DEFECT` names, if any.
#[cfg(feature = "defects")]
pub fn plant_from_env() {
    let number = std::env::var(DEFECT_ENV).ok().and_then(|v| v.parse().ok());
    plant(number.and_then(Defect::from_number));
}

#[inline]
pub fn planted(defect: Defect) -> bool {
    #[cfg(feature = "defects")]
    {
        PLANTED.load(std::sync::atomic::Ordering::SeqCst) == defect as u8
    }
    #[cfg(not(feature = "defects"))]
    {
        let _ = defect;
        false
    }
}
