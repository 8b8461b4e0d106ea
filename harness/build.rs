//! The harness revision reports carry: the git commit it was built from
//! (or "unknown" outside a checkout), so a figure or a replay token says
//! which code produced it.

use std::process::Command;

fn main() {
    let revision = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=STAMPEDE_REVISION={revision}");
    // A new commit changes HEAD's target; rebuild then, and only then.
    for path in ["../.git/HEAD", "../.git/refs/heads"] {
        println!("cargo:rerun-if-changed={path}");
    }
}
