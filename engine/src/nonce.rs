//! Nonces: how a writer tells its own object from a racer's (a ref's
//! writer, a claim's token, a delete claim's stamp). A leaf: the store and
//! the claim and delete protocols built on it all use it.

/// A value no other put of any process writes: this process's id, the
/// time, and the std hasher's per-instance random keys.
pub(crate) fn writer_nonce() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    format!("{:016x}{:08x}", hasher.finish(), std::process::id())
}
