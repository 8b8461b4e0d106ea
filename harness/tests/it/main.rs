//! The harness's integration tests, one module per subject, in one test
//! binary (each binary statically links Lance: one link instead of
//! fourteen). Filter by module (`cargo test -p stampede-harness --test it
//! concurrent::`). Three keep binaries of their own: `quietly` installs a
//! panic hook, `s3` puts every graph of its process on a local S3 server
//! (`place::start_local_s3`), and `sensitivity` needs the `defects`
//! feature.

#[path = "../common/mod.rs"]
mod common;

mod ci_recipe;
mod cli_processes;
mod concurrent;
mod crash;
mod damage;
mod docs;
mod faults;
mod json_shapes;
mod peer_omnigraph;
mod regressions;
mod sequential;
mod shards;
mod transcripts;
mod wire;
