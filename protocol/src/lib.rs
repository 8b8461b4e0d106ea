//! The control-plane protocols of Stampede, free of Lance.
//!
//! Every protocol that decides what a concurrent opener, creator or deleter
//! does (enumeration, the stamp guard and stamp write, the `__run__` sweep,
//! branch create and delete) is written here once, against [`RefStore`]. The
//! engine runs it on Lance; the loom suite runs the very same code on an
//! in-memory store. Keeping Lance out of this crate means a loom build never
//! recompiles Lance.

pub mod branches;
pub mod cause;
pub mod claim;
pub mod defects;
pub mod enumerate;
pub mod error;
pub mod lock;
pub mod memory;
pub mod migrate;
pub mod names;
pub mod stamp;
pub mod store;
pub mod sync;

pub use cause::Cause;
pub use error::{Error, ErrorKind, Result};
pub use migrate::OpenReport;
pub use stamp::{StampState, CURRENT_VERSION};
pub use store::{
    Claim, Fence, MainHead, PkState, RefRecord, RefStore, StoreError, StoreResult, TreeState, Wait,
};
