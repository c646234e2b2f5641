//! Debian's amd64 6.1 kernel and busybox for the QEMU oracle, fetched with `apt-get download`
//! and unpacked with `dpkg-deb` into a cache under `target/` — never installed into the host's
//! `/boot` — so that a fresh clone's `cargo test` sets itself up. Only the files the guest needs
//! are kept (the kernel, its config, and a handful of modules: about 75 MB with the kernel
//! decompressed), not the 400 MB of modules the package holds.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::host::{sh, which};
use super::oracle::{Setup, Unavailable};

/// The metapackage whose dependency names the current ABI's kernel package.
const KERNEL_META: &str = "linux-image-amd64";
/// The kernel generation ksim's brd port re-expresses.
const KERNEL_PREFIX: &str = "linux-image-6.1.0-";

/// One unpacked kernel package.
pub struct Kernel {
    /// e.g. `linux-image-6.1.0-57-amd64`.
    pub package: String,
    /// The package's version, e.g. `6.1.192-3`.
    pub version: String,
    /// The kernel to boot: the uncompressed `vmlinux` (QEMU boots it through its PVH entry,
    /// skipping the 8 s the bzImage spends decompressing itself under TCG), else `vmlinuz`.
    pub image: PathBuf,
    /// `/boot/config-*` of the package.
    pub config: PathBuf,
    /// `lib/modules/RELEASE/kernel` of the package.
    pub modules: PathBuf,
}

impl Kernel {
    /// The module `rel` (e.g. `drivers/block/brd`), uncompressed.
    pub fn module(&self, rel: &str) -> PathBuf {
        self.modules.join(format!("{rel}.ko"))
    }
}

/// The current Debian 6.1 amd64 kernel, from the cache or fetched into it. `modules` are the
/// paths (under `kernel/`, without `.ko`) to keep.
pub fn kernel(setup: &Setup, modules: &[&str]) -> Result<Kernel, Unavailable> {
    // apt-cache takes seconds on a machine without its binary cache: ask it at most once a day.
    let resolved = setup.cache.join("current-kernel");
    let fresh = fs::metadata(&resolved)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age < Duration::from_secs(24 * 3600)));
    let remembered = fs::read_to_string(&resolved).ok().map(|p| p.trim().to_string());
    let (package, asked) = match remembered.filter(|p| fresh && setup.cache.join(p).join("ready").exists()) {
        Some(p) => (p, false),
        None => match current_kernel_package(setup.may_fetch) {
            Ok(p) => (p, true),
            // Offline or opted out: any kernel already in the cache will do.
            Err(why) => (newest_cached(&setup.cache).ok_or(Unavailable(why))?, false),
        },
    };
    let dir = setup.cache.join(&package);
    if !dir.join("ready").exists() {
        if !setup.may_fetch {
            return Err(Unavailable(format!(
                "{package} is not in {} (not fetched: opted out)",
                setup.cache.display()
            )));
        }
        let mut members: Vec<String> = vec!["./boot/vmlinuz-*".into(), "./boot/config-*".into()];
        members.extend(modules.iter().map(|m| format!("./lib/modules/*/kernel/{m}.ko*")));
        fetch(&package, &setup.cache, &dir, &members, &unpack_kernel)?;
    }
    if asked {
        let _ = fs::write(&resolved, &package);
    }
    let version = fs::read_to_string(dir.join("version")).unwrap_or_default().trim().to_string();
    let boot = only_entry(&dir.join("boot"), "config-")?;
    let release =
        boot.file_name().unwrap_or_default().to_string_lossy().trim_start_matches("config-").to_string();
    let vmlinux = dir.join("vmlinux");
    let image = if vmlinux.is_file() { vmlinux } else { dir.join("boot").join(format!("vmlinuz-{release}")) };
    let modules_dir = dir.join("lib/modules").join(&release).join("kernel");
    let kernel = Kernel { package, version, image, config: boot, modules: modules_dir };
    for m in modules {
        if !kernel.module(m).is_file() {
            return Err(Unavailable(format!("{} has no {m}.ko", kernel.package)));
        }
    }
    Ok(kernel)
}

/// busybox-static's `busybox`, from the cache or fetched into it.
pub fn busybox(setup: &Setup) -> Result<PathBuf, Unavailable> {
    let dir = setup.cache.join("busybox-static");
    if !dir.join("ready").exists() {
        if !setup.may_fetch {
            return Err(Unavailable(format!(
                "busybox-static is not in {} (not fetched: opted out)",
                setup.cache.display()
            )));
        }
        fetch("busybox-static", &setup.cache, &dir, &["./bin/busybox".to_string()], &|_| Ok(()))?;
    }
    Ok(dir.join("bin/busybox"))
}

/// `linux-image-amd64`'s `linux-image-6.1.0-*-amd64` dependency; refreshes the package lists
/// once when they know no such package (a fresh machine has none).
fn current_kernel_package(may_update: bool) -> Result<String, String> {
    let ask = || -> Option<String> {
        let out = sh(&format!("apt-cache depends {KERNEL_META}")).ok()?;
        out.lines()
            .filter_map(|l| l.trim().strip_prefix("Depends: "))
            .find(|p| p.starts_with(KERNEL_PREFIX) && p.ends_with("-amd64"))
            .map(str::to_string)
    };
    if let Some(p) = ask() {
        return Ok(p);
    }
    if may_update && sh("apt-get update -qq").is_ok() {
        if let Some(p) = ask() {
            return Ok(p);
        }
    }
    Err(format!("apt-cache names no {KERNEL_PREFIX}*-amd64 dependency of {KERNEL_META} (a Debian 12 package list is needed)"))
}

fn newest_cached(cache: &Path) -> Option<String> {
    let mut found: Vec<String> = fs::read_dir(cache)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(KERNEL_PREFIX) && cache.join(n).join("ready").exists())
        .collect();
    // ABI numbers sort numerically: linux-image-6.1.0-57-amd64 < ...-101-amd64.
    found.sort_by_key(|n| {
        n.trim_start_matches(KERNEL_PREFIX).split('-').next().and_then(|v| v.parse::<u32>().ok())
    });
    found.pop()
}

/// `apt-get download PACKAGE`, then the `members` of its data into `dest` (through a scratch
/// directory renamed into place, so that a concurrent or interrupted run never sees half).
fn fetch(
    package: &str,
    cache: &Path,
    dest: &Path,
    members: &[String],
    finish: &dyn Fn(&Path) -> Result<(), String>,
) -> Result<(), Unavailable> {
    let fail =
        |e: String| Unavailable(format!("cannot fetch Debian's {package} into {}: {e}", cache.display()));
    let scratch = cache.join(format!(".fetch-{package}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    let unpacked = scratch.join("root");
    fs::create_dir_all(&unpacked).map_err(|e| fail(e.to_string()))?;
    let result = (|| {
        let s = scratch.display();
        sh(&format!("cd '{s}' && apt-get download -qq {package} 2>&1"))?;
        let deb = fs::read_dir(&scratch)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
            .ok_or("apt-get download left no .deb")?;
        let d = deb.display();
        let quoted: Vec<String> = members.iter().map(|m| format!("'{m}'")).collect();
        sh(&format!(
            "dpkg-deb --fsys-tarfile '{d}' | tar -x -C '{}' --wildcards {}",
            unpacked.display(),
            quoted.join(" ")
        ))?;
        let version = sh(&format!("dpkg-deb -f '{d}' Version"))?;
        fs::write(unpacked.join("version"), version).map_err(|e| e.to_string())?;
        finish(&unpacked)?;
        fs::write(unpacked.join("ready"), "").map_err(|e| e.to_string())?;
        let _ = fs::remove_dir_all(dest);
        fs::rename(&unpacked, dest).map_err(|e| e.to_string())
    })();
    let _ = fs::remove_dir_all(&scratch);
    result.map_err(fail)
}

/// Decompresses modules shipped as `.ko.xz` and writes `vmlinux`, the kernel the bzImage holds
/// (xz-compressed in Debian's build), when the host's `xz` can extract it; without it QEMU boots
/// the bzImage, only slower.
fn unpack_kernel(root: &Path) -> Result<(), String> {
    let r = root.display();
    sh(&format!("find '{r}/lib/modules' -name '*.ko.xz' -exec xz -d {{}} +"))?;
    let vmlinuz = only_entry(&root.join("boot"), "vmlinuz-").map_err(|Unavailable(e)| e)?;
    let Some(xz) = which("xz") else { return Ok(()) };
    let image = fs::read(&vmlinuz).map_err(|e| e.to_string())?;
    let Some(at) = image.windows(6).position(|w| w == b"\xfd7zXZ\x00") else { return Ok(()) };
    let mut child = Command::new(xz)
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let payload = image[at..].to_vec();
    let feeder = std::thread::spawn(move || {
        // xz stops reading at the end of its stream; the rest of the bzImage is not its input.
        let _ = stdin.write_all(&payload);
    });
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = feeder.join();
    if out.stdout.starts_with(b"\x7fELF") && out.stdout.len() > 1 << 20 {
        fs::write(root.join("vmlinux"), &out.stdout).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The one entry of `dir` whose name starts with `prefix`.
fn only_entry(dir: &Path, prefix: &str) -> Result<PathBuf, Unavailable> {
    let found: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(|e| Unavailable(format!("cannot read {}: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .collect();
    match &found[..] {
        [one] => Ok(one.clone()),
        _ => Err(Unavailable(format!("{} has {} {prefix}* files, not one", dir.display(), found.len()))),
    }
}
