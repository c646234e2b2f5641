//! A case that crashes in C (a NULL dereference): the process running it says on stderr which
//! signal, at which address, and where in which module (`ksim-crash: SIGSEGV address=0x0
//! so=PATH offset=0x1139 function=NAME`), then dies of the signal as it would have. The process
//! that started it turns the offset into `file:line` with the module's debug information.
//!
//! The handler only reads lock-free tables and writes to fd 2 from a stack buffer: nothing in it
//! allocates or locks.

use std::ffi::c_int;

/// A line written without allocating.
struct Line {
    buf: [u8; 1024],
    len: usize,
}

impl Line {
    fn push(&mut self, s: &[u8]) {
        let n = s.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&s[..n]);
        self.len += n;
    }

    fn hex(&mut self, v: u64) {
        let mut d = [0u8; 16];
        let mut i = d.len();
        let mut v = v;
        loop {
            i -= 1;
            d[i] = b"0123456789abcdef"[(v & 15) as usize];
            v >>= 4;
            if v == 0 {
                break;
            }
        }
        self.push(b"0x");
        self.push(&d[i..]);
    }
}

const SIGNALS: &[(c_int, &str)] = &[
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGILL, "SIGILL"),
];

/// The program counter of a signal's context.
///
/// # Safety
/// `ctx` is the `ucontext_t` the kernel passed to an SA_SIGINFO handler.
unsafe fn pc_of(ctx: *mut libc::c_void) -> Option<u64> {
    let uc = ctx as *const libc::ucontext_t;
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    // SAFETY: the caller's contract.
    return Some(unsafe { (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] } as u64);
    #[cfg(all(target_os = "linux", target_arch = "aarch64"))]
    // SAFETY: the caller's contract.
    return Some(unsafe { (*uc).uc_mcontext.pc });
    #[allow(unreachable_code)]
    {
        let _ = uc;
        None
    }
}

extern "C" fn handler(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let mut l = Line { buf: [0; 1024], len: 0 };
    l.push(b"ksim-crash: ");
    l.push(SIGNALS.iter().find(|(s, _)| *s == sig).map_or("signal", |(_, n)| n).as_bytes());
    // SAFETY: the kernel's siginfo for this signal.
    let addr = unsafe { (*info).si_addr() } as u64;
    l.push(b" address=");
    l.hex(addr);
    // SAFETY: the context of this handler invocation.
    if let Some((so, off, func)) = unsafe { pc_of(ctx) }.and_then(|pc| crate::module::locate(pc as usize)) {
        l.push(b" so=");
        l.push(so.as_bytes());
        l.push(b" offset=");
        l.hex(off);
        l.push(b" function=");
        l.push(func.as_bytes());
    }
    l.push(b"\n");
    // SAFETY: write(2) of our buffer; SA_RESETHAND restored the default action, so returning
    // re-runs the faulting instruction and the process dies of the signal.
    unsafe { libc::write(2, l.buf.as_ptr().cast(), l.len) };
}

/// Installs the handler for the signals a C crash raises (in a process that runs one case).
pub fn install() {
    for &(sig, _) in SIGNALS {
        // SAFETY: a zeroed sigaction filled in as sigaction(2) documents; the handler is
        // async-signal-safe (see the module comment).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESETHAND;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}
