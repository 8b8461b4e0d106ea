//! `stampede-sensitivity`: the `stampede` CLI with planted defects. The
//! defect comes from `STAMPEDE_DEFECT` (its number); `sensitivity` runs the
//! whole table.

use std::process::ExitCode;

fn main() -> ExitCode {
    stampede_engine::defects::plant_from_env();
    stampede_harness::cli::main()
}
