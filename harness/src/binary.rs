//! This harness as a built program: the version tokens name, and the
//! `stampede` binary that actor processes, the damage campaign's commands
//! and the tests run. A leaf.

/// The version a token names: this harness's, with its revision.
pub fn harness_build() -> String {
    format!(
        "{}+{}",
        env!("CARGO_PKG_VERSION"),
        env!("STAMPEDE_REVISION")
    )
}

/// The `stampede` binary actors run as: `$STAMPEDE_BIN`, this executable
/// when it is `stampede`, or the `stampede` beside a test binary's `deps/`.
pub fn stampede_binary() -> std::path::PathBuf {
    if let Some(bin) = std::env::var_os("STAMPEDE_BIN") {
        return bin.into();
    }
    let exe = std::env::current_exe().expect("the current executable");
    if exe
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("stampede"))
    {
        return exe;
    }
    let dir = exe.parent().expect("a directory");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("the profile directory")
    } else {
        dir
    };
    dir.join("stampede")
}
