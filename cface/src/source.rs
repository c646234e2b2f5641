//! Where kernel C comes from. Kernel source is never part of ksim: it is read from the user's
//! tree (`KSIM_LINUX_SRC=/path/to/linux`), else from Debian's `linux-source-6.1` package
//! (`/usr/src/linux-source-6.1.tar.xz`), of which only the files ksim uses are extracted into
//! the cache. `KSIM_LINUX_SRC=skip` says no tree is to be used (what needs one is skipped).
//!
//! [`tree`] never installs anything; [`tree_installing`] installs the package first when it is
//! missing (what `ksim` and the test suite use, so a fresh clone's `ksim check` and `cargo test`
//! have the tree).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// Debian's source package and the tarball it installs.
pub const DEBIAN_PACKAGE: &str = "linux-source-6.1";
/// The tarball.
pub const DEBIAN_TARBALL: &str = "/usr/src/linux-source-6.1.tar.xz";

/// The files ksim reads from a tree (extracted from the tarball: a full extraction is 1.4 GB).
const WANTED: &[&str] = &[
    "Makefile",
    "drivers/block/brd.c",
    "lib/list-test.c",
    "lib/kunit/*",
    "tools/testing/kunit/*",
    "include/linux/*.h",
    "include/kunit/*",
];

/// A kernel source tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelTree {
    /// Its top directory.
    pub root: PathBuf,
    /// `VERSION.PATCHLEVEL.SUBLEVEL` from its Makefile.
    pub version: String,
    /// Where it came from (`KSIM_LINUX_SRC=...`, or the Debian tarball).
    pub origin: String,
}

impl KernelTree {
    /// A file of the tree, if it exists.
    pub fn file(&self, rel: &str) -> Option<PathBuf> {
        let p = self.root.join(rel);
        p.is_file().then_some(p)
    }
}

/// How to get a tree, for messages that say one is missing.
pub const HOW_TO_GET_ONE: &str = "set KSIM_LINUX_SRC=/path/to/linux, or install Debian's linux-source-6.1 \
     (apt-get install linux-source-6.1)";

/// The kernel tree at hand, without installing anything: `Err` says why there is none.
pub fn tree() -> Result<KernelTree, String> {
    static TREE: OnceLock<Mutex<Option<Result<KernelTree, String>>>> = OnceLock::new();
    let slot = TREE.get_or_init(Default::default);
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = slot.as_ref().filter(|r| r.is_ok()) {
        return r.clone();
    }
    let r = locate();
    *slot = Some(r.clone());
    r
}

/// The kernel tree, installing Debian's `linux-source-6.1` first if neither `KSIM_LINUX_SRC` nor
/// the tarball is there (this project's machines are Debian; elsewhere the install fails and the
/// error says so). `KSIM_LINUX_SRC=skip` installs nothing.
pub fn tree_installing() -> Result<KernelTree, String> {
    if std::env::var_os("KSIM_LINUX_SRC").is_none() && !Path::new(DEBIAN_TARBALL).is_file() {
        static INSTALL: Mutex<()> = Mutex::new(());
        let _g = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
        if !Path::new(DEBIAN_TARBALL).is_file() {
            // Said once, on stderr: a command that installs a package should say so.
            eprintln!(
                "ksim: installing Debian's {DEBIAN_PACKAGE} (the kernel tree ksim's C drivers come from; \
                 KSIM_LINUX_SRC=skip to do without)"
            );
            let ok = Command::new("sh")
                .args(["-c", &format!(
                    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {DEBIAN_PACKAGE}"
                )])
                .stdin(std::process::Stdio::null())
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if !ok {
                return Err(format!(
                    "no kernel tree: KSIM_LINUX_SRC is not set and installing Debian's {DEBIAN_PACKAGE} failed \
                     (apt-get install {DEBIAN_PACKAGE})"
                ));
            }
        }
    }
    tree()
}

fn locate() -> Result<KernelTree, String> {
    match std::env::var("KSIM_LINUX_SRC") {
        Ok(v) if v == "skip" => Err("KSIM_LINUX_SRC=skip: no kernel tree is used".to_string()),
        Ok(v) => {
            let root = PathBuf::from(&v);
            let version = version_of(&root).ok_or_else(|| {
                format!("KSIM_LINUX_SRC={v} is not a kernel tree (no readable Makefile with VERSION)")
            })?;
            Ok(KernelTree { root, version, origin: format!("KSIM_LINUX_SRC={v}") })
        }
        Err(_) if Path::new(DEBIAN_TARBALL).is_file() => extract(),
        Err(_) => Err(format!("no kernel tree at hand: {HOW_TO_GET_ONE}")),
    }
}

/// `VERSION.PATCHLEVEL.SUBLEVEL` of a tree.
fn version_of(root: &Path) -> Option<String> {
    let mk = std::fs::read_to_string(root.join("Makefile")).ok()?;
    let get = |k: &str| {
        mk.lines().find_map(|l| {
            l.strip_prefix(k).and_then(|r| r.trim_start().strip_prefix('=')).map(|v| v.trim().to_string())
        })
    };
    Some(format!("{}.{}.{}", get("VERSION")?, get("PATCHLEVEL")?, get("SUBLEVEL").unwrap_or_default()))
}

/// The Debian tarball's files ksim uses, extracted once into the cache (named after the
/// tarball's size and modification time, so an upgraded package is extracted again).
fn extract() -> Result<KernelTree, String> {
    let meta = std::fs::metadata(DEBIAN_TARBALL).map_err(|e| format!("cannot read {DEBIAN_TARBALL}: {e}"))?;
    let stamp = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    let cache = crate::cache::dir().map_err(|e| format!("cannot create the ksim cache: {e}"))?;
    let dest = cache.join(format!("linux-source-6.1-{}-{stamp}", meta.len()));
    let root = dest.join("linux-source-6.1");
    if !dest.join(".complete").exists() {
        let tmp = cache.join(format!(".extract-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
        let out = Command::new("tar")
            .arg("-xJf")
            .arg(DEBIAN_TARBALL)
            .arg("-C")
            .arg(&tmp)
            .arg("--wildcards")
            .args(WANTED.iter().map(|w| format!("linux-source-6.1/{w}")))
            .output()
            .map_err(|e| format!("cannot run tar to extract {DEBIAN_TARBALL}: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(format!(
                "extracting {DEBIAN_TARBALL} failed: {}",
                String::from_utf8_lossy(&out.stderr).lines().next().unwrap_or("")
            ));
        }
        std::fs::write(tmp.join(".complete"), b"")
            .map_err(|e| format!("cannot finish the extraction: {e}"))?;
        // Another process may have finished first: theirs is as good as ours.
        if std::fs::rename(&tmp, &dest).is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
    }
    let version = version_of(&root).ok_or_else(|| format!("{} has no kernel Makefile", root.display()))?;
    Ok(KernelTree { root, version, origin: format!("Debian {DEBIAN_PACKAGE} ({DEBIAN_TARBALL})") })
}

/// The kernel header (`linux/foo.h`) of the tree at hand that declares function `sym`, if a tree
/// is at hand and one does.
pub fn declaring_header(sym: &str) -> Option<String> {
    let tree = tree().ok()?;
    let dir = tree.root.join("include/linux");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir).ok()?.flatten().map(|e| e.path()).collect();
    entries.sort();
    entries.into_iter().find_map(|p| {
        let text = std::fs::read_to_string(&p).ok()?;
        let name = p.file_name()?.to_string_lossy().into_owned();
        text.lines().any(|l| declares(l, sym)).then(|| format!("linux/{name}"))
    })
}

/// Whether a header line declares or defines `sym` as a function or function-like macro.
fn declares(line: &str, sym: &str) -> bool {
    let Some(i) = line.find(sym) else { return false };
    let before = line[..i].chars().next_back();
    let after = line[i + sym.len()..].trim_start();
    before.is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
        && after.starts_with('(')
        && (line.trim_start().starts_with("#define") || !line.trim_start().starts_with("return"))
}
