//! The C face's headers and runtime, embedded in the crate and written to the cache on first use
//! (under a directory named by their hash, so a changed header never meets a stale copy).

use std::path::PathBuf;
use std::sync::OnceLock;

include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// The directory holding `include/` and `runtime/`, and the hash of their contents.
pub(crate) fn root() -> Result<&'static (PathBuf, u64), String> {
    static ROOT: OnceLock<Result<(PathBuf, u64), String>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let parts: Vec<&[u8]> = FILES.iter().flat_map(|(p, c)| [p.as_bytes(), c.as_bytes()]).collect();
        let h = super::cache::hash(&parts);
        let dir = super::cache::dir().map_err(|e| format!("cannot create the ksim cache directory: {e}"))?;
        let root = dir.join(format!("cface-{h:016x}"));
        if !root.join(".complete").exists() {
            for (path, contents) in FILES {
                let p = root.join(path);
                std::fs::create_dir_all(p.parent().expect("a parent"))
                    .and_then(|()| super::cache::write_atomic(&p, contents.as_bytes()))
                    .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
            }
            std::fs::write(root.join(".complete"), b"")
                .map_err(|e| format!("cannot finish {}: {e}", root.display()))?;
        }
        Ok((root, h))
    })
    .as_ref()
    .map_err(Clone::clone)
}
