use std::process::ExitCode;

fn main() -> ExitCode {
    stampede_harness::cli::main()
}
