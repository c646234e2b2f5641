//! Loaded modules. An [`Image`] is a built shared object; an [`Instance`] is one loaded copy of
//! it (each concurrent run leases its own, so parallel test threads never share a module's
//! globals); at the start of every execution the instance's writable data (`.data`, `.bss`) is
//! restored to what it held at load, so module globals are as at load time, and its parameters
//! are set as modprobe sets them, before `module_init` runs.
//!
//! Measured choice: restoring a snapshot of the writable segment costs a memcpy of a few KiB
//! per execution; loading a fresh copy of the shared object per execution costs a dlopen (about
//! a hundred microseconds, and a file copy), so instances are loaded once and restored.

use std::ffi::{c_char, c_int, c_ulong, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// A function symbol of a module: `[start, end)` offsets from the load base and its name.
#[derive(Clone, Debug)]
struct Func {
    start: u64,
    end: u64,
    name: &'static str,
}

/// A built module: its shared object, its function names, and a pool of idle instances.
pub struct Image {
    name: String,
    path: PathBuf,
    funcs: Arc<[Func]>,
    entries: Arc<Entries>,
    idle: Mutex<Vec<Instance>>,
}

/// Function entry offsets -> names, open addressing in a power-of-two table: every C
/// function's entry hook asks, with the function's own start address, so an exact-match probe
/// (a few instructions, no lock, read-only after load) answers nearly always.
struct Entries {
    slots: Box<[(u64, &'static str)]>,
    mask: usize,
}

impl Entries {
    const EMPTY: u64 = u64::MAX;

    fn new(funcs: &[Func]) -> Entries {
        let size = (funcs.len() * 2).next_power_of_two().max(16);
        let mut slots = vec![(Self::EMPTY, ""); size].into_boxed_slice();
        for f in funcs {
            let mut i = Self::hash(f.start) & (size - 1);
            while slots[i].0 != Self::EMPTY {
                i = (i + 1) & (size - 1);
            }
            slots[i] = (f.start, f.name);
        }
        Entries { slots, mask: size - 1 }
    }

    fn hash(off: u64) -> usize {
        ((off >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize
    }

    fn get(&self, off: u64) -> Option<&'static str> {
        let mut i = Self::hash(off) & self.mask;
        loop {
            match self.slots[i] {
                (o, name) if o == off => return Some(name),
                (Self::EMPTY, _) => return None,
                _ => i = (i + 1) & self.mask,
            }
        }
    }
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Image({}, {})", self.name, self.path.display())
    }
}

/// The symbol of a function name in the module: `brd_insert_page`, without the compiler's
/// clone suffixes (`.isra.0`, `.constprop.0`); `.cold` parts are not entries.
fn func_name(raw: &str) -> Option<&str> {
    if raw.contains(".cold") || raw.starts_with("__cyg_profile") {
        return None;
    }
    Some(raw.split('.').next().unwrap_or(raw))
}

impl Image {
    /// Opens a built module (reads its symbol table).
    pub fn open(name: &str, path: &Path) -> Result<Image, String> {
        use object::{Object, ObjectSymbol, SymbolKind};
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file = object::File::parse(&*bytes)
            .map_err(|e| format!("{} is not a shared object: {e}", path.display()))?;
        let mut funcs: Vec<Func> = file
            .symbols()
            .filter(|s| s.kind() == SymbolKind::Text && s.size() > 0)
            .filter_map(|s| {
                let name = func_name(s.name().ok()?)?;
                let name: &'static str = Box::leak(name.to_string().into_boxed_str());
                Some(Func { start: s.address(), end: s.address() + s.size(), name })
            })
            .collect();
        funcs.sort_by_key(|f| f.start);
        Ok(Image {
            name: name.to_string(),
            path: path.to_path_buf(),
            entries: Arc::new(Entries::new(&funcs)),
            funcs: funcs.into(),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The module's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The shared object's path (in the cache).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// An instance for the caller's exclusive use (an idle one, or a newly loaded one); it goes
    /// back to the pool when the lease is dropped.
    pub fn lease(self: &Arc<Self>) -> Result<Lease, String> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let inst = match idle {
            Some(i) => i,
            None => Instance::load(self)?,
        };
        Ok(Lease { inst: Some(inst), image: self.clone() })
    }
}

/// A module parameter (`module_param`).
#[derive(Clone, Debug)]
pub struct Param {
    /// Its name.
    pub name: String,
    /// Its type, as `module_param` names it (`int`, `ulong`, `bool`, `charp`...).
    pub kind: &'static str,
    /// `MODULE_PARM_DESC`, if any.
    pub desc: Option<String>,
    type_code: c_int,
    value: usize,
    size: u32,
}

/// A parameter that cannot be set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamError(pub String);

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The C runtime's `struct ksim_param`.
#[repr(C)]
struct CParam {
    name: *const c_char,
    type_code: c_int,
    value: *mut c_void,
    size: u32,
    desc: *const c_char,
}

/// The C runtime's `struct ksim_binding`.
#[repr(C)]
struct CBinding {
    name: *const c_char,
    slot: *mut *const c_void,
}

const PARAM_KINDS: &[&str] =
    &["byte", "short", "ushort", "int", "uint", "long", "ulong", "ullong", "bool", "charp", "invbool"];

type InitFn = unsafe extern "C-unwind" fn() -> c_int;
type ExitFn = unsafe extern "C-unwind" fn();

/// One loaded copy of a module.
pub struct Instance {
    id: usize,
    handle: *mut c_void,
    snapshot: Vec<(usize, Vec<u8>)>,
    init: Option<InitFn>,
    exit: Option<ExitFn>,
    params: Vec<Param>,
    /// Strings given to `charp` parameters (they must outlive the execution).
    strings: Vec<CString>,
}

// SAFETY: the loader handle and the module's memory are process-wide; an instance is used by one
// run at a time (a lease), whose tasks are the only callers into the module.
unsafe impl Send for Instance {}

/// Registered instances' function tables, by instance id, for the frame hooks: (load base,
/// functions). Append-only; pointers are never freed.
struct Registered {
    base: u64,
    funcs: Arc<[Func]>,
    entries: Arc<Entries>,
    /// The image's shared object (for a crash's location).
    path: &'static str,
}
const MAX_INSTANCES: usize = 4096;
static REGISTRY: [AtomicPtr<Registered>; MAX_INSTANCES] =
    [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_INSTANCES];
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// The function of instance `id` that address `fn_addr` falls in.
pub(crate) fn function_name(id: c_int, fn_addr: usize) -> &'static str {
    let Some(slot) = REGISTRY.get(id as usize) else { return "?" };
    let r = slot.load(Ordering::Acquire);
    if r.is_null() {
        return "?";
    }
    // SAFETY: registered pointers are leaked boxes, never freed.
    let r = unsafe { &*r };
    let off = (fn_addr as u64).wrapping_sub(r.base);
    if let Some(name) = r.entries.get(off) {
        return name;
    }
    let i = r.funcs.partition_point(|f| f.start <= off);
    match i.checked_sub(1).map(|i| &r.funcs[i]) {
        Some(f) if off < f.end => f.name,
        _ => "?",
    }
}

/// The loaded module and function code address `pc` falls in: (the image's shared object, the
/// offset in it, the function). Allocation-free and lock-free: a signal handler calls it.
pub(crate) fn locate(pc: usize) -> Option<(&'static str, u64, &'static str)> {
    let n = NEXT_ID.load(Ordering::Relaxed).min(MAX_INSTANCES);
    (1..n).find_map(|id| {
        let r = REGISTRY[id].load(Ordering::Acquire);
        if r.is_null() {
            return None;
        }
        // SAFETY: registered pointers are leaked boxes, never freed.
        let r = unsafe { &*r };
        let off = (pc as u64).checked_sub(r.base)?;
        let i = r.funcs.partition_point(|f| f.start <= off);
        let f = &r.funcs[i.checked_sub(1)?];
        (off < f.end).then_some((r.path, off, f.name))
    })
}

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a C string valid until the next dl call on this thread.
    unsafe {
        let e = libc::dlerror();
        if e.is_null() {
            "unknown error".into()
        } else {
            CStr::from_ptr(e).to_string_lossy().into_owned()
        }
    }
}

impl Instance {
    fn sym(&self, name: &str) -> Option<*mut c_void> {
        let c = CString::new(name).ok()?;
        // SAFETY: a live handle and a C string.
        let p = unsafe { libc::dlsym(self.handle, c.as_ptr()) };
        (!p.is_null()).then_some(p)
    }

    /// Loads a new copy of `image`: a private copy of the file (the loader shares one mapping per
    /// path), bound to ksim, registered for frames, its writable data snapshotted.
    fn load(image: &Image) -> Result<Instance, String> {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        if id >= MAX_INSTANCES {
            return Err(format!("more than {MAX_INSTANCES} module instances in one process"));
        }
        let copy = std::env::temp_dir().join(format!("ksim-{}-{}-{id}.so", image.name, std::process::id()));
        std::fs::copy(&image.path, &copy)
            .map_err(|e| format!("cannot copy {}: {e}", image.path.display()))?;
        let cpath = CString::new(copy.to_string_lossy().as_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: a C string path; RTLD_LOCAL keeps the copy's symbols to itself.
        let handle = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        let _ = std::fs::remove_file(&copy);
        if handle.is_null() {
            return Err(format!("cannot load {}: {}", image.name, dlerror()));
        }
        let mut inst = Instance {
            id,
            handle,
            snapshot: Vec::new(),
            init: None,
            exit: None,
            params: Vec::new(),
            strings: Vec::new(),
        };
        inst.bind()?;
        let base = inst.base(image)?;
        let path: &'static str = Box::leak(image.path.display().to_string().into_boxed_str());
        let reg = Box::leak(Box::new(Registered {
            base,
            funcs: image.funcs.clone(),
            entries: image.entries.clone(),
            path,
        }));
        REGISTRY[id].store(reg, Ordering::Release);
        let id_slot = inst.sym("ksim_rt_instance").ok_or("the module lacks ksim's runtime")? as *mut c_int;
        // SAFETY: the runtime's `int ksim_rt_instance`.
        unsafe { *id_slot = id as c_int };
        // SAFETY: the variables `module_init`/`module_exit` define hold function pointers (or
        // are absent).
        unsafe {
            inst.init = inst.sym("__ksim_module_init").and_then(|p| *(p as *const Option<InitFn>));
            inst.exit = inst.sym("__ksim_module_exit").and_then(|p| *(p as *const Option<ExitFn>));
        }
        inst.read_params();
        inst.snapshot = writable_segments(base)?;
        Ok(inst)
    }

    /// Fills every pointer the runtime lists with ksim's function of that name.
    fn bind(&self) -> Result<(), String> {
        let table = self.sym("ksim_rt_bindings").ok_or("the module lacks ksim's runtime")? as *const CBinding;
        let mut i = 0;
        loop {
            // SAFETY: the runtime's table, terminated by a NULL name.
            let b = unsafe { &*table.add(i) };
            if b.name.is_null() {
                return Ok(());
            }
            // SAFETY: a C string from the table.
            let name = unsafe { CStr::from_ptr(b.name) }.to_string_lossy();
            let f = crate::bind::lookup(&name)
                .ok_or_else(|| format!("ksim binds no function for ksim_{name}"))?;
            // SAFETY: the slot is the runtime's pointer variable of that function's type.
            unsafe { *b.slot = f };
            i += 1;
        }
    }

    /// The load base: the runtime's `ksim_rt_instance` address less its offset in the file.
    fn base(&self, image: &Image) -> Result<u64, String> {
        use object::{Object, ObjectSymbol};
        let bytes = std::fs::read(&image.path).map_err(|e| e.to_string())?;
        let file = object::File::parse(&*bytes).map_err(|e| e.to_string())?;
        let off = file
            .symbols()
            .chain(file.dynamic_symbols())
            .find(|s| s.name() == Ok("ksim_rt_instance"))
            .map(|s| s.address())
            .ok_or("the module lacks ksim's runtime")?;
        let addr = self.sym("ksim_rt_instance").ok_or("the module lacks ksim's runtime")? as u64;
        Ok(addr - off)
    }

    fn read_params(&mut self) {
        type ParamsFn = unsafe extern "C" fn(*mut c_ulong) -> *const CParam;
        type DescFn = unsafe extern "C" fn(*mut c_ulong) -> *const *const c_char;
        let (Some(pf), Some(df)) = (self.sym("ksim_rt_params"), self.sym("ksim_rt_param_descs")) else {
            return;
        };
        let cstr = |p: *const c_char| {
            (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
        };
        // SAFETY: the runtime's functions with these signatures return arrays of `n` entries.
        unsafe {
            let pf = std::mem::transmute::<*mut c_void, ParamsFn>(pf);
            let df = std::mem::transmute::<*mut c_void, DescFn>(df);
            let mut n: c_ulong = 0;
            let ps = pf(&mut n);
            let mut nd: c_ulong = 0;
            let ds = df(&mut nd);
            let descs: Vec<(String, String)> = (0..nd as usize)
                .filter_map(|i| Some((cstr(*ds.add(2 * i))?, cstr(*ds.add(2 * i + 1))?)))
                .collect();
            for i in 0..n as usize {
                let p = &*ps.add(i);
                let Some(name) = cstr(p.name) else { continue };
                let desc = descs.iter().find(|(n, _)| *n == name).map(|(_, d)| d.clone());
                let kind = PARAM_KINDS.get(p.type_code as usize).copied().unwrap_or("?");
                self.params.push(Param {
                    name,
                    kind,
                    desc,
                    type_code: p.type_code,
                    value: p.value as usize,
                    size: p.size,
                });
            }
        }
        self.params.sort_by(|a, b| a.name.cmp(&b.name));
    }

    /// The instance's number (unique in the process; the frame hooks name it).
    pub fn id(&self) -> usize {
        self.id
    }

    /// The module's parameters.
    pub fn params(&self) -> &[Param] {
        &self.params
    }

    /// Restores the module's writable data to its state at load (a fresh module).
    pub fn reset(&mut self) {
        for (addr, bytes) in &self.snapshot {
            // SAFETY: a writable segment of the loaded module, of this length.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), *addr as *mut u8, bytes.len()) };
        }
        self.strings.clear();
    }

    /// Sets parameters as modprobe does (`name=value`, in order); an unknown name or a value its
    /// type cannot hold is an error naming the parameter.
    pub fn set_params(&mut self, module: &str, params: &[(String, String)]) -> Result<(), ParamError> {
        for (name, value) in params {
            let p = self.params.iter().find(|p| p.name == *name).cloned().ok_or_else(|| {
                let names: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                ParamError(format!("{module}: unknown parameter '{name}' (it takes: {})", names.join(", ")))
            })?;
            self.set(&p, value).map_err(|why| {
                ParamError(format!(
                    "{module}: invalid value '{value}' for parameter '{name}' ({}): {why}",
                    p.kind
                ))
            })?;
        }
        Ok(())
    }

    fn set(&mut self, p: &Param, v: &str) -> Result<(), String> {
        let int = |v: &str| -> Result<i128, String> {
            let (neg, s) = v.strip_prefix('-').map_or((false, v), |s| (true, s));
            let n = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                i128::from_str_radix(h, 16)
            } else if s.len() > 1 && s.starts_with('0') {
                i128::from_str_radix(&s[1..], 8)
            } else {
                s.parse::<i128>()
            };
            n.map(|n| if neg { -n } else { n }).map_err(|_| "not a number".to_string())
        };
        let (lo, hi): (i128, i128) = match p.kind {
            "byte" => (0, u8::MAX as i128),
            "short" => (i16::MIN as i128, i16::MAX as i128),
            "ushort" => (0, u16::MAX as i128),
            "int" => (i32::MIN as i128, i32::MAX as i128),
            "uint" => (0, u32::MAX as i128),
            "long" => (i64::MIN as i128, i64::MAX as i128),
            "ulong" | "ullong" => (0, u64::MAX as i128),
            "bool" | "invbool" => {
                let b = match v {
                    "1" | "y" | "Y" | "on" | "" => true,
                    "0" | "n" | "N" | "off" => false,
                    _ => return Err("not a boolean (y/n/1/0)".into()),
                };
                let b = if p.kind == "invbool" { !b } else { b };
                // SAFETY: a `bool` module variable.
                unsafe { *(p.value as *mut bool) = b };
                return Ok(());
            }
            "charp" => {
                let s = CString::new(v).map_err(|_| "contains a NUL byte".to_string())?;
                // SAFETY: a `char *` module variable; the string lives until the next reset.
                unsafe { *(p.value as *mut *const c_char) = s.as_ptr() };
                self.strings.push(s);
                return Ok(());
            }
            _ => return Err("a parameter type ksim does not set".into()),
        };
        let n = int(v)?;
        if n < lo || n > hi {
            return Err("out of range".into());
        }
        let bytes = (n as i64 as u64).to_le_bytes();
        let size = (p.size as usize).min(8);
        // SAFETY: a module variable of `size` bytes (little-endian host).
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), p.value as *mut u8, size) };
        let _ = p.type_code;
        Ok(())
    }

    /// The module's `module_init` function, to call in a simulated task.
    pub fn init_fn(&self) -> Option<unsafe extern "C-unwind" fn() -> c_int> {
        self.init
    }

    /// The module's `module_exit` function.
    pub fn exit_fn(&self) -> Option<unsafe extern "C-unwind" fn()> {
        self.exit
    }

    /// Calls `module_init` (in the current simulated task): its return value, or `None` if the
    /// module has none.
    pub fn init(&self) -> Option<c_int> {
        // SAFETY: the module's init function, called as the kernel calls it.
        self.init.map(|f| unsafe { f() })
    }

    /// Calls `module_exit`, if the module has one.
    pub fn exit(&self) {
        if let Some(f) = self.exit {
            // SAFETY: the module's exit function.
            unsafe { f() }
        }
    }

    /// The address of the module's global `name`, if it has one (for tests).
    pub fn symbol(&self, name: &str) -> Option<*mut c_void> {
        self.sym(name)
    }
}

/// The writable parts of the module loaded at `base`: its RW `PT_LOAD` segments less the part
/// `PT_GNU_RELRO` made read-only after relocation, with their bytes now.
fn writable_segments(base: u64) -> Result<Vec<(usize, Vec<u8>)>, String> {
    struct Ctx {
        base: u64,
        ranges: Vec<(usize, usize)>,
        found: bool,
    }
    unsafe extern "C" fn cb(info: *mut libc::dl_phdr_info, _size: libc::size_t, data: *mut c_void) -> c_int {
        // SAFETY: the loader passes a valid info and our context.
        let (info, ctx) = unsafe { (&*info, &mut *(data as *mut Ctx)) };
        if info.dlpi_addr != ctx.base {
            return 0;
        }
        ctx.found = true;
        // SAFETY: `dlpi_phnum` program headers at `dlpi_phdr`.
        let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
        let relro = phdrs.iter().find(|p| p.p_type == libc::PT_GNU_RELRO).map(|p| {
            let s = (ctx.base + p.p_vaddr) as usize;
            (s, (s + p.p_memsz as usize + 4095) & !4095)
        });
        for p in phdrs.iter().filter(|p| p.p_type == libc::PT_LOAD && p.p_flags & libc::PF_W != 0) {
            let mut s = (ctx.base + p.p_vaddr) as usize;
            let e = s + p.p_memsz as usize;
            if let Some((rs, re)) = relro {
                if rs <= s && re > s {
                    s = re.min(e);
                }
            }
            if e > s {
                ctx.ranges.push((s, e));
            }
        }
        1
    }
    let mut ctx = Ctx { base, ranges: Vec::new(), found: false };
    // SAFETY: the callback only reads the loader's headers and writes our context.
    unsafe { libc::dl_iterate_phdr(Some(cb), &mut ctx as *mut Ctx as *mut c_void) };
    if !ctx.found {
        return Err("the loaded module was not found among the loaded objects".into());
    }
    Ok(ctx
        .ranges
        .into_iter()
        // SAFETY: mapped, readable bytes of the module.
        .map(|(s, e)| (s, unsafe { std::slice::from_raw_parts(s as *const u8, e - s) }.to_vec()))
        .collect())
}

/// An instance leased by one run; back to its image's pool when dropped.
pub struct Lease {
    inst: Option<Instance>,
    image: Arc<Image>,
}

impl Lease {
    /// The image it is an instance of.
    pub fn image(&self) -> &Arc<Image> {
        &self.image
    }
}

impl std::ops::Deref for Lease {
    type Target = Instance;
    fn deref(&self) -> &Instance {
        self.inst.as_ref().expect("a leased instance")
    }
}

impl std::ops::DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut Instance {
        self.inst.as_mut().expect("a leased instance")
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(i) = self.inst.take() {
            self.image.idle.lock().unwrap_or_else(|e| e.into_inner()).push(i);
        }
    }
}
