//! Historical defects of this area, planted back one at a time so the
//! harness can prove it catches each. Compiled in only with the `defects`
//! feature; without it `planted` is a constant `false` and the checks fold
//! away.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Defect {
    /// The sweep deletes with a plain delete: a ref already gone fails.
    SweepPlainDelete = 1,
    /// The sweep's delete does not absorb a tree already gone.
    SweepForceDeleteNotFound = 2,
    /// A ref that vanishes between list and read fails the enumeration.
    NoEnumerationRetry = 3,
    /// A stamp write that loses a commit race fails instead of re-reading.
    StampWriteNotIdempotent = 4,
    /// The apply takes the lock without re-checking blocking branches
    /// (neither after taking it nor before publishing).
    LockWithoutRecheck = 5,
    /// Create writes its ref and returns, without looking for the lock or
    /// a schema change.
    CreateWithoutRecheck = 6,
}

impl Defect {
    pub const ALL: [Defect; 6] = [
        Defect::SweepPlainDelete,
        Defect::SweepForceDeleteNotFound,
        Defect::NoEnumerationRetry,
        Defect::StampWriteNotIdempotent,
        Defect::LockWithoutRecheck,
        Defect::CreateWithoutRecheck,
    ];
}

#[cfg(feature = "defects")]
static PLANTED: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Plant `defect` (or none) for the whole process.
#[cfg(feature = "defects")]
pub fn plant(defect: Option<Defect>) {
    PLANTED.store(
        defect.map_or(0, |d| d as u8),
        std::sync::atomic::Ordering::SeqCst,
    );
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
