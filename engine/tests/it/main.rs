//! The engine's integration tests, one module per subject, in one test
//! binary: each binary statically links Lance, so one link instead of
//! eleven is minutes off a cold build. Filter by module as by file before
//! (`cargo test -p stampede-engine --test it costs::`). The storage-cost,
//! conformance and S3 modules count calls through the `instrument`
//! feature (on in any workspace build: the harness turns it on).

#[path = "../common/mod.rs"]
mod common;

mod branches;
mod concurrency;
#[cfg(feature = "instrument")]
mod conformance;
#[cfg(feature = "instrument")]
mod costs;
mod damage;
mod data;
mod init;
mod migrations;
#[cfg(feature = "instrument")]
mod s3;
mod schema_apply;
mod stamp;
