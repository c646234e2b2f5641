//! An initramfs: a cpio archive in the kernel's "newc" format, uncompressed (the payloads are
//! mostly random write data, which compression would only slow down). Every entry is owned by
//! root with mtime 0, so the same inputs give the same bytes.

/// A cpio archive being built in memory.
#[derive(Default)]
pub struct Cpio {
    bytes: Vec<u8>,
    ino: u32,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;

impl Cpio {
    /// A directory (its parents must already be there).
    pub fn dir(&mut self, path: &str) {
        self.entry(path, S_IFDIR | 0o755, 2, (0, 0), &[]);
    }

    /// A regular file; `exec` makes it 0755, else 0644.
    pub fn file(&mut self, path: &str, exec: bool, data: &[u8]) {
        self.entry(path, S_IFREG | if exec { 0o755 } else { 0o644 }, 1, (0, 0), data);
    }

    /// A character device node.
    pub fn char_dev(&mut self, path: &str, mode: u32, major: u32, minor: u32) {
        self.entry(path, S_IFCHR | mode, 1, (major, minor), &[]);
    }

    /// The archive, closed with the trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, 1, (0, 0), &[]);
        self.bytes
    }

    fn entry(&mut self, name: &str, mode: u32, nlink: u32, rdev: (u32, u32), data: &[u8]) {
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            data.len() as u32,
            0, // devmajor
            0, // devminor
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0, // check (unused in newc)
        ];
        self.bytes.extend_from_slice(b"070701");
        for f in fields {
            self.bytes.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    /// Header plus name, and data, each end on a 4-byte boundary.
    fn pad(&mut self) {
        while self.bytes.len() % 4 != 0 {
            self.bytes.push(0);
        }
    }
}

#[test]
fn newc_entries_are_laid_out_as_the_kernel_reads_them() {
    let mut c = Cpio::default();
    c.file("init", true, b"#!/bin/sh\n");
    let bytes = c.finish();
    // Header (110) + "init\0" (5) padded to 116, data (10) padded to 12, then the trailer.
    assert_eq!(&bytes[..6], b"070701");
    assert_eq!(&bytes[14..22], b"000081ED"); // S_IFREG | 0755
    assert_eq!(&bytes[54..62], b"0000000A"); // file size
    assert_eq!(&bytes[94..102], b"00000005"); // name size with its NUL
    assert_eq!(&bytes[110..115], b"init\0");
    assert_eq!(&bytes[116..126], b"#!/bin/sh\n");
    assert_eq!(&bytes[128..134], b"070701");
    assert_eq!(&bytes[238..249], b"TRAILER!!!\0");
    assert_eq!(bytes.len() % 4, 0);
}
