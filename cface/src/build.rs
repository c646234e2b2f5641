//! Compiling C files into a module: the system C compiler (`$CC`, else `cc`), ksim's headers
//! instead of the host's (`-nostdinc`, only the compiler's freestanding headers beside them, as a
//! kernel build does), `-finstrument-functions` so every C function is a simulated frame, and
//! unwind tables so a report that ends an execution can unwind through C frames. The result is
//! cached by the hash of everything that goes into it, so an unchanged module is never rebuilt.
//!
//! Errors are one line each ([`BuildError`]'s `Display`), with the compiler's own output kept
//! for a file that does not compile; a kernel function or header ksim does not provide is named,
//! with the header it belongs in when a kernel tree is at hand to look it up.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use crate::module::Image;

/// What to build.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModuleSpec {
    /// Module name (`KBUILD_MODNAME`, and the name errors use).
    pub name: String,
    /// The C files.
    pub sources: Vec<PathBuf>,
    /// The directory the compiler runs in: sources under it are passed relative to it, so their
    /// `__FILE__` (and every report's location) reads `drivers/block/brd.c`, not an absolute path.
    pub root: Option<PathBuf>,
    /// Extra `-D` definitions (`NAME` or `NAME=VALUE`).
    pub defines: Vec<String>,
    /// Include directories searched after ksim's own (kernel headers ksim does not replace).
    pub include_dirs: Vec<PathBuf>,
}

impl ModuleSpec {
    /// A module `name` of `sources`.
    pub fn new(name: &str, sources: impl IntoIterator<Item = PathBuf>) -> ModuleSpec {
        ModuleSpec {
            name: name.to_string(),
            sources: sources.into_iter().collect(),
            root: None,
            defines: Vec::new(),
            include_dirs: Vec::new(),
        }
    }

    /// Compiles under `root` (see [`ModuleSpec::root`]).
    pub fn root(mut self, root: impl Into<PathBuf>) -> Self {
        self.root = Some(root.into());
        self
    }

    /// Adds a `-D` definition.
    pub fn define(mut self, d: &str) -> Self {
        self.defines.push(d.to_string());
        self
    }

    /// Builds the module (or finds it in the cache) and opens its image.
    pub fn build(&self) -> Result<Arc<Image>, BuildError> {
        // One build of a given module at a time in this process; other processes are safe too
        // (atomic renames into the cache).
        type Built = Mutex<Vec<(ModuleSpec, Arc<Image>)>>;
        static BUILT: OnceLock<Built> = OnceLock::new();
        let built = BUILT.get_or_init(Default::default);
        let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
        let so = build_so(self)?;
        if let Some((_, img)) = built.iter().find(|(s, i)| s == self && i.path() == so) {
            return Ok(img.clone());
        }
        let img = Arc::new(Image::open(&self.name, &so).map_err(BuildError::Io)?);
        built.retain(|(s, _)| s != self);
        built.push((self.clone(), img.clone()));
        Ok(img)
    }
}

/// Why a module could not be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// A source file is missing or unreadable.
    Source(String),
    /// No C compiler could be run.
    NoCompiler(String),
    /// A C file did not compile: its name and the compiler's output.
    Compile {
        /// The file, as given.
        file: String,
        /// The compiler's error output.
        output: String,
    },
    /// Kernel functions the code calls that ksim's headers do not provide, each with the
    /// header it belongs in (when a kernel tree could say).
    Missing {
        /// The file that calls them.
        file: String,
        /// (symbol, header).
        symbols: Vec<(String, Option<String>)>,
    },
    /// A header the code includes that ksim does not provide.
    MissingHeader {
        /// The file that includes it.
        file: String,
        /// The header, as included.
        header: String,
    },
    /// Linking failed for another reason: the linker's output.
    Link(String),
    /// Writing the cache or loading the result failed.
    Io(String),
}

impl BuildError {
    /// The compiler's own lines, to print before the one-line summary (for a file that does not
    /// compile or link).
    pub fn details(&self) -> Option<&str> {
        match self {
            BuildError::Compile { output, .. } | BuildError::Link(output) => Some(output),
            _ => None,
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Source(s) | BuildError::NoCompiler(s) | BuildError::Io(s) => f.write_str(s),
            BuildError::Compile { file, .. } => write!(f, "{file} failed to compile against ksim's kernel headers"),
            BuildError::Missing { file, symbols } => {
                let names: Vec<String> = symbols
                    .iter()
                    .map(|(s, h)| match h {
                        Some(h) => format!("{s} (declared in <{h}>)"),
                        None => s.clone(),
                    })
                    .collect();
                write!(f, "{file} uses kernel functions ksim does not provide: {}", names.join(", "))
            }
            BuildError::MissingHeader { file, header } => write!(
                f,
                "{file} includes <{header}>, which ksim's kernel headers do not provide (add it to cface/include, \
                 or point KSIM_LINUX_SRC at a tree and add that tree's include directory for headers ksim need not replace)"
            ),
            BuildError::Link(_) => f.write_str("the module failed to link"),
        }
    }
}

/// The C compiler to run.
fn compiler() -> String {
    std::env::var("CC").unwrap_or_else(|_| "cc".to_string())
}

fn run(cmd: &mut Command) -> Result<std::process::Output, BuildError> {
    cmd.output()
        .map_err(|e| BuildError::NoCompiler(format!("cannot run the C compiler {:?}: {e}", compiler())))
}

/// The compiler's freestanding header directory and its version line.
fn toolchain() -> Result<&'static (String, String), BuildError> {
    static TC: OnceLock<Result<(String, String), BuildError>> = OnceLock::new();
    TC.get_or_init(|| {
        let out = run(Command::new(compiler()).arg("-print-file-name=include"))?;
        let inc = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let ver = run(Command::new(compiler()).arg("--version"))?;
        let ver = String::from_utf8_lossy(&ver.stdout).lines().next().unwrap_or("").to_string();
        if !out.status.success() || inc.is_empty() {
            return Err(BuildError::NoCompiler(format!("{} -print-file-name=include failed", compiler())));
        }
        Ok((inc, ver))
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// The path a source is compiled as: relative to the root if it is under it.
fn as_given(spec: &ModuleSpec, src: &Path) -> PathBuf {
    match &spec.root {
        Some(r) => src.strip_prefix(r).map(Path::to_path_buf).unwrap_or_else(|_| src.to_path_buf()),
        None => src.to_path_buf(),
    }
}

/// Builds the shared object (or returns the cached one).
fn build_so(spec: &ModuleSpec) -> Result<PathBuf, BuildError> {
    let (root, headers_hash) = crate::headers::root().map_err(BuildError::Io)?;
    let (gcc_inc, version) = toolchain()?;
    let mut parts: Vec<Vec<u8>> = vec![headers_hash.to_le_bytes().to_vec(), version.as_bytes().to_vec()];
    for src in &spec.sources {
        let text = std::fs::read(src)
            .map_err(|e| BuildError::Source(format!("cannot read {}: {e}", src.display())))?;
        parts.push(as_given(spec, src).to_string_lossy().as_bytes().to_vec());
        parts.push(text);
    }
    parts.push(
        format!("{:?}{:?}{:?}{:?}", spec.name, spec.defines, spec.include_dirs, spec.root).into_bytes(),
    );
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let h = crate::cache::hash(&refs);
    let cache =
        crate::cache::dir().map_err(|e| BuildError::Io(format!("cannot create the ksim cache: {e}")))?;
    let dir = cache.join("modules");
    std::fs::create_dir_all(&dir)
        .map_err(|e| BuildError::Io(format!("cannot create {}: {e}", dir.display())))?;
    let so = dir.join(format!("{}-{h:016x}.so", spec.name));
    if so.exists() {
        return Ok(so);
    }
    let work = dir.join(format!("{}-{h:016x}.build.{}", spec.name, std::process::id()));
    std::fs::create_dir_all(&work)
        .map_err(|e| BuildError::Io(format!("cannot create {}: {e}", work.display())))?;
    let result = compile_and_link(spec, root, gcc_inc, &work, &so);
    let _ = std::fs::remove_dir_all(&work);
    result.map(|()| so)
}

fn compile_and_link(
    spec: &ModuleSpec,
    root: &Path,
    gcc_inc: &str,
    work: &Path,
    so: &Path,
) -> Result<(), BuildError> {
    let include = root.join("include");
    let mut objs = Vec::new();
    for (i, src) in spec.sources.iter().enumerate() {
        let given = as_given(spec, src);
        let obj = work.join(format!("{i}.o"));
        let mut cmd = kernel_cc(spec, &include, gcc_inc);
        if let Some(r) = &spec.root {
            cmd.current_dir(r);
        }
        cmd.arg("-finstrument-functions")
            .arg(format!("-finstrument-functions-exclude-file-list={}", include.display()))
            .arg("-o")
            .arg(&obj)
            .arg(&given);
        let out = run(&mut cmd)?;
        if !out.status.success() {
            return Err(compile_error(&given.to_string_lossy(), &String::from_utf8_lossy(&out.stderr)));
        }
        objs.push(obj);
    }
    // The KUnit runtime: kernel C like the sources, but harness code, so no frames of its own.
    let kunit = work.join("kunit.o");
    let out =
        run(kernel_cc(spec, &include, gcc_inc).arg("-o").arg(&kunit).arg(root.join("runtime/kunit.c")))?;
    if !out.status.success() {
        return Err(BuildError::Compile {
            file: "kunit.c".into(),
            output: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    objs.push(kunit);
    let rt = work.join("ksim_rt.o");
    let out = run(Command::new(compiler())
        .args(["-c", "-fPIC", "-O2", "-g", "-fexceptions", "-fvisibility=hidden"])
        .arg(format!("-I{}", include.display()))
        .arg("-o")
        .arg(&rt)
        .arg(root.join("runtime/ksim_rt.c")))?;
    if !out.status.success() {
        return Err(BuildError::Compile {
            file: "ksim_rt.c".into(),
            output: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let tmp = so.with_extension(format!("so.{}", std::process::id()));
    let out = run(Command::new(compiler())
        .args(["-shared", "-Wl,--no-undefined", "-Wl,-Bsymbolic", "-Wl,-z,now", "-o"])
        .arg(&tmp)
        .args(&objs)
        .arg(&rt))?;
    if !out.status.success() {
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        let missing = undefined_symbols(&text);
        if missing.is_empty() {
            return Err(BuildError::Link(text));
        }
        let file = spec.sources.first().map(|s| as_given(spec, s).display().to_string()).unwrap_or_default();
        return Err(BuildError::Missing { file, symbols: with_headers(missing) });
    }
    std::fs::rename(&tmp, so).map_err(|e| BuildError::Io(format!("cannot store {}: {e}", so.display())))
}

/// The compiler with the flags every kernel C file of a module is built with.
fn kernel_cc(spec: &ModuleSpec, include: &Path, gcc_inc: &str) -> Command {
    let mut cmd = Command::new(compiler());
    cmd.args(["-c", "-fPIC", "-O2", "-g", "-std=gnu11", "-nostdinc", "-isystem", gcc_inc])
        .arg(format!("-I{}", include.display()));
    for d in &spec.include_dirs {
        cmd.arg(format!("-I{}", d.display()));
    }
    cmd.args(["-include", "ksim/kconfig.h", "-D__KERNEL__", "-DMODULE"])
        .arg(format!("-DKBUILD_MODNAME=\"{}\"", spec.name))
        .args(spec.defines.iter().map(|d| format!("-D{d}")))
        .args(["-fexceptions", "-fno-strict-aliasing", "-fno-common"])
        .args(["-fno-omit-frame-pointer", "-fvisibility=hidden", "-Wall", "-Wno-unused-function"])
        .args(["-Werror=implicit-function-declaration", "-Werror=implicit-int", "-Werror=return-type"]);
    cmd
}

/// Turns a compiler's failure into the error: missing functions and headers by name, anything
/// else with the compiler's output.
fn compile_error(file: &str, stderr: &str) -> BuildError {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error:")).collect();
    if let Some(h) = errors.iter().find_map(|l| {
        l.split("fatal error: ").nth(1).and_then(|r| r.strip_suffix(": No such file or directory"))
    }) {
        return BuildError::MissingHeader { file: file.to_string(), header: h.to_string() };
    }
    let implicit: Vec<String> = errors
        .iter()
        .filter_map(|l| l.split("implicit declaration of function ").nth(1))
        .filter_map(|r| r.split(['\'', '\u{2018}', '\u{2019}']).nth(1))
        .map(str::to_string)
        .collect();
    if !implicit.is_empty() && implicit.len() == errors.len() {
        let mut syms = implicit;
        syms.sort();
        syms.dedup();
        return BuildError::Missing { file: file.to_string(), symbols: with_headers(syms) };
    }
    BuildError::Compile { file: file.to_string(), output: stderr.to_string() }
}

/// The symbols a linker's "undefined reference to `x'" lines name.
fn undefined_symbols(text: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter_map(|l| l.split("undefined reference to ").nth(1))
        .map(|r| r.trim_matches(|c| c == '`' || c == '\'' || c == '\u{2018}' || c == '\u{2019}').to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

fn with_headers(symbols: Vec<String>) -> Vec<(String, Option<String>)> {
    symbols
        .into_iter()
        .map(|s| {
            let h = crate::source::declaring_header(&s);
            (s, h)
        })
        .collect()
}
