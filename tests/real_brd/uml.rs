//! The UML oracle: Debian's `user-mode-linux` 6.1 (`linux.uml`) with the host's root as its
//! hostfs root, loading the package's own `brd.ko`. Fast (no emulation), but it needs a host on
//! which UML can restore its processes' floating-point state: on some (an Intel Xeon with
//! AVX-512 and AMX, host kernel 6.18) init dies on its first instruction (`ptrace set fp regs
//! failed, errno = 14`). The probe boots it with an init that only leaves a marker.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ksim_scenarios::differential::Workload;

use super::guest::{build_helper, config_lines, read_facts, read_runs, workload_lines, write_inputs};
use super::host::{console_reason, find_or_install, last_lines, read_lossy, run_until, sh, WorkDir};
use super::oracle::{RealKernel, RealSide, Setup, Unavailable};

/// Limit for the probe. UML reaches the marker in 1.4 to 2.7 s on this project's machine, most of
/// it setting up its memory file (the guest's memory plus a 450 MB "exec-shield gap"); it is
/// stopped as soon as the marker appears, and the margin is for a loaded machine.
const PROBE_LIMIT: Duration = Duration::from_secs(10);
/// The probe's memory: less is not faster by much, and at 32M init is sometimes OOM-killed.
const PROBE_MEM: &str = "64M";
/// Limit for the boot plus all workloads; UML is killed after it.
const RUN_LIMIT: Duration = Duration::from_secs(60);

#[derive(Default)]
pub struct Uml {
    bin: PathBuf,
    /// `linux.uml --version` (e.g. `6.1.176`), which names the module directory.
    version: String,
    module: PathBuf,
}

impl RealKernel for Uml {
    fn name(&self) -> &'static str {
        "uml"
    }

    fn probe(&mut self, setup: &Setup) -> Result<String, Unavailable> {
        self.bin = find_or_install("linux.uml", "user-mode-linux", setup.may_fetch)?;
        self.version = version(&self.bin)?;
        self.module =
            PathBuf::from(format!("/usr/lib/uml/modules/{}/kernel/drivers/block/brd.ko", self.version));
        if !self.module.is_file() {
            return Err(Unavailable(format!(
                "{} not found (UML reports version {})",
                self.module.display(),
                self.version
            )));
        }
        let dir = WorkDir::create("uml-probe")?;
        let marker = dir.join("ran");
        let mut s = String::from("#!/bin/sh\n# ksim: can UML run user space on this host?\n");
        if setup.broken {
            // KSIM_REAL_BRD_BREAK=uml: init dies at once, as on a host where it cannot start.
            s += "exit 11\n";
        }
        let _ = writeln!(s, ": > '{}'\nexec /sbin/poweroff -f", marker.display());
        let script = write_script(&dir, "probe.sh", &s)?;
        let console = dir.join("console.log");
        let started = Instant::now();
        let status = run_until(
            boot(&self.bin, &dir, &script, PROBE_MEM),
            "UML (probe)",
            &console,
            PROBE_LIMIT,
            &|| marker.exists(),
        )
        .map_err(|Unavailable(e)| Unavailable(format!("{e} [kept {}]", dir.keep().display())))?;
        if !marker.exists() {
            return Err(Unavailable(format!(
                "UML exited ({}) before its probe's init ran user space; its console says: {} [kept {}]",
                status.map_or("killed".to_string(), |s| s.to_string()),
                console_reason(&read_lossy(&console)),
                dir.keep().display()
            )));
        }
        Ok(format!(
            "user space ran under linux.uml {} after {:.1} s",
            self.version,
            started.elapsed().as_secs_f64()
        ))
    }

    fn run(&self, setup: &Setup, workloads: &[Workload]) -> Result<RealSide, Unavailable> {
        let started = Instant::now();
        let dir = WorkDir::create("uml")?;
        let helper = build_helper(&dir.path, false)?;
        for f in write_inputs(&dir.path, workloads)? {
            dir.bulky(f);
        }
        let d = dir.path.display();
        let mut s = String::new();
        let _ = writeln!(s, "#!/bin/sh");
        let _ = writeln!(s, "# init of a ksim real-brd run under UML (tests/real_brd.rs)");
        if setup.broken {
            s += "exit 11\n";
        }
        let _ = writeln!(s, "PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH");
        let _ = writeln!(s, "D='{d}'; O='{d}'; H='{}'; M='{}'", helper.display(), self.module.display());
        let _ = writeln!(s, "exec >\"$O/guest.log\" 2>&1");
        let _ = writeln!(s, "mount -t proc proc /proc || echo 'mount /proc failed'");
        // /dev is the host's on hostfs: the guest's own device nodes come from its devtmpfs.
        let _ = writeln!(s, "[ -b /dev/ram0 ] || mount -t devtmpfs devtmpfs /dev 2>/dev/null");
        s += &workload_lines(workloads);
        let _ = writeln!(s, "sync\npoweroff -f\necho o > /proc/sysrq-trigger\nsleep 60");
        let script = write_script(&dir, "init.sh", &s)?;

        let console = dir.join("console.log");
        let status = run_until(boot(&self.bin, &dir, &script, "512M"), "UML", &console, RUN_LIMIT, &|| false)
            .map_err(|Unavailable(e)| Unavailable(format!("{e} [kept {}]", dir.keep().display())))?;
        let status = status.map_or("killed".to_string(), |s| s.to_string());
        if !dir.join("finished").exists() {
            let started = dir.join("started").exists();
            let log = if started {
                last_lines(&read_lossy(&dir.join("guest.log")), 3)
            } else {
                console_reason(&read_lossy(&console))
            };
            return Err(Unavailable(format!(
                "UML exited ({status}) {} the workloads; {} says: {} [kept {}]",
                if started { "without finishing" } else { "before its init script ran" },
                if started { "the guest log" } else { "the console" },
                log,
                dir.keep().display()
            )));
        }
        let runs = read_runs(&dir.path, workloads, &read_lossy(&dir.join("guest.log")))
            .map_err(|e| Unavailable(format!("{e} [kept {}]", dir.keep().display())))?;
        let package = sh("dpkg-query -W -f '${Version}' user-mode-linux").unwrap_or_default();
        Ok(RealSide {
            oracle: "uml",
            build: format!("Debian user-mode-linux {package} (linux.uml {})", self.version),
            // UML prints the config it was built with.
            config: config_lines(&sh(&format!("'{}' --showconfig", self.bin.display())).unwrap_or_default()),
            facts: read_facts(&dir.path),
            runs,
            wall: started.elapsed(),
        })
    }
}

/// `linux.uml --version` (e.g. `6.1.176`).
fn version(uml: &Path) -> Result<String, Unavailable> {
    let mut cmd = Command::new(uml);
    cmd.arg("--version").stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
    let out = cmd.output().map_err(|e| Unavailable(format!("cannot run {}: {e}", uml.display())))?;
    let v = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || v.is_empty() || v.contains(char::is_whitespace) {
        return Err(Unavailable(format!("{} --version said {v:?} ({})", uml.display(), out.status)));
    }
    Ok(v)
}

fn write_script(dir: &WorkDir, name: &str, text: &str) -> Result<PathBuf, Unavailable> {
    let path = dir.join(name);
    let io = |e: std::io::Error| Unavailable(format!("cannot write {}: {e}", path.display()));
    fs::write(&path, text).map_err(io)?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).map_err(io)?;
    Ok(path)
}

/// The command that boots UML with `script` as init on the host's root.
fn boot(uml: &Path, dir: &WorkDir, script: &Path, mem: &str) -> Command {
    let _ = fs::create_dir_all(dir.join("uml"));
    let mut cmd = Command::new(uml);
    cmd.args([format!("mem={mem}").as_str(), "rootfstype=hostfs", "rootflags=/", "rw"])
        .arg(format!("init={}", script.display()))
        .arg(format!("uml_dir={}/", dir.join("uml").display()));
    // UML keeps its memory in a file under $TMPDIR, else /dev/shm, else /tmp, which must allow
    // PROT_EXEC mappings; with an unusable TMPDIR it exits silently. Prefer /dev/shm (tmpfs).
    if Path::new("/dev/shm").is_dir() {
        cmd.env("TMPDIR", "/dev/shm");
    }
    cmd
}
