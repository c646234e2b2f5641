//! Embeds the C face's headers and runtime in the crate, so that a built `ksim` carries them
//! (they are written to the cache directory on first use, under a name that hashes their
//! contents).

use std::fmt::Write as _;
use std::path::Path;

fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).expect("read the C face's directory").flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            walk(&p, base, out);
        } else if p.extension().is_some_and(|x| x == "h" || x == "c") {
            out.push(p.strip_prefix(base).expect("under the crate").to_string_lossy().into_owned());
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for d in ["include", "runtime"] {
        println!("cargo:rerun-if-changed={d}");
        walk(&root.join(d), root, &mut files);
    }
    let mut s = String::from("/// Every header and runtime file: (path under the crate, contents).\npub const FILES: &[(&str, &str)] = &[\n");
    for f in &files {
        let _ = writeln!(s, "    ({f:?}, include_str!({:?})),", root.join(f).display().to_string());
    }
    s.push_str("];\n");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    std::fs::write(Path::new(&out).join("embedded.rs"), s).expect("write embedded.rs");
}
