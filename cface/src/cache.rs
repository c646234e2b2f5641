//! Where built modules and extracted kernel sources are kept: `KSIM_CACHE_DIR`, else
//! `$XDG_CACHE_HOME/ksim`, else `~/.cache/ksim`, else the temporary directory. Everything in it
//! is named by what it holds (a content hash, a source archive's size and time), so it can be
//! shared by concurrent processes and deleted at any time.

use std::path::PathBuf;

/// The cache directory (created).
pub(crate) fn dir() -> std::io::Result<PathBuf> {
    let d = std::env::var_os("KSIM_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|x| PathBuf::from(x).join("ksim")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ksim")))
        .unwrap_or_else(|| std::env::temp_dir().join("ksim-cache"));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// Writes `bytes` to `path` atomically (a temporary file in the same directory, renamed), so a
/// concurrent reader never sees a partial file.
pub(crate) fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// A 64-bit hash of byte strings naming cache entries by content (std's SipHash with its fixed
/// keys: the same for the same input with the same Rust release, which is all a cache needs).
pub(crate) fn hash(parts: &[&[u8]]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish()
}
