//! The QEMU oracle: Debian's `qemu-system-x86` in TCG mode (no KVM needed, so it runs on any
//! x86-64 host) booting Debian's own amd64 6.1 kernel, whose `brd.ko` is a module
//! (`CONFIG_BLK_DEV_RAM=m`), from an initramfs built here: busybox, the statically linked
//! helper, the workloads, `brd.ko` and an init script.
//!
//! Results come back on a second virtual disk: after the workloads the guest loads virtio-blk
//! and writes its results directory to it as a tar archive, which the host unpacks. Measured on
//! this project's machine, moving 16 MiB out of the guest took 0.53 s as a tar onto a virtio
//! disk, 1.3 s through a 9p share (msize 512000), and 2.35 s for just 256 KiB through the serial
//! console as base64 (the 8250's byte-at-a-time port I/O is slow under TCG; the 48 MB the
//! workloads read back would take minutes). The disk also needs the fewest modules (six, against
//! eleven for 9p).

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use ksim_scenarios::differential::Workload;

use super::debian::{self, Kernel};
use super::guest::{build_helper, config_lines, read_facts, read_runs, workload_lines};
use super::host::{console_reason, find_or_install, last_lines, read_lossy, run_until, sh, WorkDir};
use super::initramfs::Cpio;
use super::oracle::{RealKernel, RealSide, Setup, Unavailable};

/// Modules the guest loads: brd, and what the results disk needs, in load order.
const MODULES: [&str; 7] = [
    "drivers/block/brd",
    "drivers/virtio/virtio_ring",
    "drivers/virtio/virtio",
    "drivers/virtio/virtio_pci_legacy_dev",
    "drivers/virtio/virtio_pci_modern_dev",
    "drivers/virtio/virtio_pci",
    "drivers/block/virtio_blk",
];
/// Limit for the boot plus all workloads under TCG (about 20 s here); QEMU is killed after it.
const RUN_LIMIT: Duration = Duration::from_secs(240);
/// Guest memory (MiB) beyond the inputs and results, which live in the initramfs (about 80 MB
/// for the 16 workloads): the kernel, brd's pages, the helper's buffers.
const GUEST_MEM_BASE: u64 = 384;

#[derive(Default)]
pub struct Qemu {
    bin: PathBuf,
    kernel: Option<Kernel>,
    busybox: Vec<u8>,
    helper: Vec<u8>,
}

impl RealKernel for Qemu {
    fn name(&self) -> &'static str {
        "qemu"
    }

    fn probe(&mut self, setup: &Setup) -> Result<String, Unavailable> {
        let started = Instant::now();
        self.bin = find_or_install("qemu-system-x86_64", "qemu-system-x86", setup.may_fetch)?;
        let version = sh(&format!("'{}' --version", self.bin.display()))
            .map_err(|e| Unavailable(format!("qemu-system-x86_64 does not run: {e}")))?;
        let kernel = debian::kernel(setup, &MODULES)?;
        let busybox = debian::busybox(setup)?;
        self.busybox =
            fs::read(&busybox).map_err(|e| Unavailable(format!("cannot read {}: {e}", busybox.display())))?;
        let dir = WorkDir::create("qemu-helper")?;
        self.helper = fs::read(build_helper(&dir.path, true)?)
            .map_err(|e| Unavailable(format!("cannot read the static helper: {e}")))?;
        let line = format!(
            "{} with Debian {} {} ({}) and busybox-static ready after {:.1} s",
            version.lines().next().unwrap_or("qemu").trim(),
            kernel.package,
            kernel.version,
            if kernel.image.ends_with("vmlinux") { "vmlinux, PVH entry" } else { "bzImage" },
            started.elapsed().as_secs_f64()
        );
        self.kernel = Some(kernel);
        Ok(line)
    }

    fn run(&self, setup: &Setup, workloads: &[Workload]) -> Result<RealSide, Unavailable> {
        let started = Instant::now();
        let kernel =
            self.kernel.as_ref().ok_or_else(|| Unavailable("run before a successful probe".into()))?;
        let dir = WorkDir::create("qemu")?;
        let io = |what: &str, e: std::io::Error| {
            Unavailable(format!("cannot {what} in {}: {e}", dir.path.display()))
        };

        let mut cpio = Cpio::default();
        for d in ["bin", "dev", "proc", "sys", "tmp", "m", "ksim", "ksim/out"] {
            cpio.dir(d);
        }
        // The kernel opens /dev/console for init before devtmpfs is mounted.
        cpio.char_dev("dev/console", 0o600, 5, 1);
        cpio.file("bin/busybox", true, &self.busybox);
        cpio.file("ksim/ksim-brd-io", true, &self.helper);
        for m in MODULES {
            let ko = fs::read(kernel.module(m)).map_err(|e| io("read the modules", e))?;
            cpio.file(&format!("m/{}.ko", m.rsplit('/').next().unwrap_or(m)), false, &ko);
        }
        for (i, w) in workloads.iter().enumerate() {
            let (ops, data) = w.guest_ops();
            cpio.file(&format!("ksim/w{i}.ops"), false, ops.as_bytes());
            cpio.file(&format!("ksim/w{i}.data"), false, &data);
        }
        cpio.file("init", true, init_script(workloads, setup.broken).as_bytes());
        let initrd = dir.join("initrd.cpio");
        let image = cpio.finish();
        let initrd_len = image.len() as u64;
        fs::write(&initrd, image).map_err(|e| io("write the initramfs", e))?;
        dir.bulky(initrd.clone());

        // Sparse, all zeros: a guest that writes nothing leaves an empty archive.
        let disk = dir.join("results.img");
        let read_bytes: u64 = workloads.iter().map(Workload::read_bytes).sum();
        fs::File::create(&disk)
            .and_then(|f| f.set_len(read_bytes + (workloads.len() as u64 + 8) * (2 << 20)))
            .map_err(|e| io("create the results disk", e))?;

        // The initramfs is unpacked into the root tmpfs and the results written beside it; a
        // tmpfs may fill half of memory.
        let mem = GUEST_MEM_BASE + 2 * (initrd_len + read_bytes) / (1 << 20);
        let console = dir.join("console.log");
        let mut cmd = Command::new(&self.bin);
        cmd.args(["-accel", "tcg", "-m", &mem.to_string(), "-smp", "1", "-display", "none", "-no-reboot"])
            .args(["-nic", "none", "-monitor", "none"])
            .arg("-serial")
            .arg(format!("file:{}", console.display()))
            .arg("-drive")
            .arg(format!("file={},format=raw,if=virtio", disk.display()))
            .arg("-kernel")
            .arg(&kernel.image)
            .arg("-initrd")
            .arg(&initrd)
            .args(["-append", "console=ttyS0 quiet panic=-1"]);
        let qemu_log = dir.join("qemu.log");
        let status = run_until(cmd, "QEMU", &qemu_log, RUN_LIMIT, &|| false).map_err(|Unavailable(e)| {
            Unavailable(format!(
                "{e}; the guest console: {} [kept {}]",
                last_lines(&read_lossy(&console), 2),
                dir.keep().display()
            ))
        })?;
        let status = status.map_or("killed".to_string(), |s| s.to_string());
        let _ = fs::remove_file(&initrd);

        let out = dir.join("out");
        fs::create_dir_all(&out).map_err(|e| io("create out/", e))?;
        let unpacked = fs::File::open(&disk).and_then(|f| tar::Archive::new(f).unpack(&out));
        let console_text = read_lossy(&console);
        if unpacked.is_err() || !out.join("finished").exists() {
            let started = out.join("started").exists();
            return Err(Unavailable(format!(
                "QEMU exited ({status}) {} the workloads{}; the console says: {} [kept {}]",
                if started { "without finishing" } else { "before its init script ran" },
                unpacked.err().map(|e| format!(" (results disk: {e})")).unwrap_or_default(),
                console_reason(&console_text),
                dir.keep().display()
            )));
        }
        let runs = read_runs(&out, workloads, &console_text)
            .map_err(|e| Unavailable(format!("{e} [kept {}]", dir.keep().display())))?;
        Ok(RealSide {
            oracle: "qemu",
            build: format!("Debian {} {} under QEMU TCG, -m {mem}", kernel.package, kernel.version),
            config: config_lines(&fs::read_to_string(&kernel.config).unwrap_or_default()),
            facts: read_facts(&out),
            runs,
            wall: started.elapsed(),
        })
    }
}

/// The guest's `/init` (busybox sh). Its output goes to the console; the workloads' results
/// to `/ksim/out`, which then goes to the results disk as a tar archive.
fn init_script(workloads: &[Workload], broken: bool) -> String {
    let mut s =
        String::from("#!/bin/busybox sh\n# init of a ksim real-brd run under QEMU (tests/real_brd.rs)\n");
    if broken {
        // KSIM_REAL_BRD_BREAK=qemu: init dies at once.
        s += "exit 11\n";
    }
    s += "/bin/busybox --install -s /bin\nPATH=/bin; export PATH\n";
    s += "D=/ksim; O=/ksim/out; H=/ksim/ksim-brd-io; M=/m/brd.ko\n";
    s += "mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs devtmpfs /dev\n";
    // The preemption model in force (PREEMPT_DYNAMIC: the mode in parentheses).
    s += "mount -t debugfs debugfs /sys/kernel/debug && cat /sys/kernel/debug/sched/preempt > \"$O/preempt\"\n";
    s += &workload_lines(workloads);
    // The results disk only now, so that no virtio interrupts run during the workloads.
    let _ = writeln!(
        s,
        "for m in virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do \
         insmod /m/$m.ko || echo \"insmod $m failed\"; done"
    );
    s += "for i in $(seq 100); do [ -b /dev/vda ] && break; sleep 0.05; done\n";
    s += "tar -c -f /dev/vda -C \"$O\" . && sync && echo 'results written'\n";
    s += "poweroff -f\n";
    s
}
