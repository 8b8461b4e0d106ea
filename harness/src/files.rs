//! A graph's files as bytes: read, compared, and put back in place.
//!
//! A graph is put back where it was, never copied elsewhere: Lance records
//! branch data by absolute path, so a copy of a graph with branches would
//! read the original's files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every file under a root, by path, with its contents.
pub type Files = BTreeMap<PathBuf, Vec<u8>>;

/// Every file under `root` (nothing if it does not exist).
pub fn contents(root: &Path) -> Files {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                out.insert(path, bytes);
            }
        }
    }
    out
}

/// `path` with the names Lance and the engine generate (UUIDs, data file
/// names: runs of 24 or more hex digits and dashes; a table fork's
/// `.f<16 hex digits>`) as `*`: the same text for the same file of two
/// builds of one graph. Version numbers (20 digits) and branch names stay.
pub fn generic(path: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        let fork = out.ends_with('.') && run.len() == 17 && run.starts_with('f');
        if run.len() >= 24 || fork {
            out.push('*');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in path.chars() {
        if c.is_ascii_hexdigit() || c == '-' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// Make `root` hold exactly `files` (taken from it by [`contents`]).
pub fn restore(root: &Path, files: &Files) -> Result<(), String> {
    match std::fs::remove_dir_all(root) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("clearing {}: {e}", root.display())),
    }
    for (path, bytes) in files {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| format!("restoring {}: {e}", parent.display()))?;
        }
        std::fs::write(path, bytes).map_err(|e| format!("restoring {}: {e}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restore_puts_back_exactly_what_was_taken() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("g");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/kept"), b"1").unwrap();
        std::fs::write(root.join("top"), b"2").unwrap();
        let taken = contents(&root);
        // A crash state's changes: a file rewritten, one removed, one added.
        std::fs::write(root.join("top"), b"changed").unwrap();
        std::fs::remove_file(root.join("a/b/kept")).unwrap();
        std::fs::write(root.join("a/new"), b"3").unwrap();
        assert_ne!(contents(&root), taken, "control: the changes show");
        restore(&root, &taken).unwrap();
        assert_eq!(contents(&root), taken);
    }

    #[test]
    fn a_graph_never_made_is_restored_as_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("never");
        let taken = contents(&root);
        assert!(taken.is_empty());
        std::fs::create_dir_all(root.join("x")).unwrap();
        std::fs::write(root.join("x/f"), b"1").unwrap();
        restore(&root, &taken).unwrap();
        assert!(contents(&root).is_empty());
    }
}
