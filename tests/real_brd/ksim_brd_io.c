/*
 * ksim-brd-io: the guest-side helper of ksim's differential test against the real brd.ko
 * (tests/real_brd.rs).
 *
 * It runs inside the real kernel -- user-mode Linux on the host's root, or Debian's amd64 kernel
 * under QEMU from an initramfs (built statically there) -- started from the init script that the
 * test writes, and does the few things a minimal root has no command for: loading and unloading
 * a module
 * (finit_module/delete_module), and running one workload on a block device with O_DIRECT
 * pread/pwrite/pwritev2(RWF_NOWAIT) from buffers placed at a chosen offset inside a page, while
 * snapshotting the kernel's page accounting (/proc/zoneinfo, /proc/vmstat, /proc/slabinfo)
 * right before the first and right after the last operation.
 *
 *   ksim-brd-io insmod MODULE.ko "PARAMS"
 *   ksim-brd-io rmmod NAME
 *   ksim-brd-io run DEVICE OPS DATA OUTDIR
 *
 * OPS is text, one operation a line (all numbers decimal, offsets and lengths in bytes):
 *   W <dev_offset> <len> <data_offset> <buf_offset> <nowait 0|1>   write DATA[data_offset..+len]
 *   R <dev_offset> <len> <buf_offset>                              read, appended to reads.bin
 * Everything the measurement window needs (data, buffers, snapshot space) is allocated and
 * touched before the "before" snapshot; results are written to OUTDIR only after "after":
 *   OUTDIR/results.txt   one line per op: "<index> <return value> <errno or 0>"
 *   OUTDIR/reads.bin     the bytes of every R op, in op order
 *   OUTDIR/{before,after}.{zoneinfo,vmstat,slabinfo}
 *   OUTDIR/done          written last
 *
 * Part of ksim, GPL-2.0-only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif

#define PAGE 4096
#define SNAP_BYTES (256 * 1024)
#define MAX_OPS 4096

static const char *const snap_files[3] = {"/proc/zoneinfo", "/proc/vmstat", "/proc/slabinfo"};
static const char *const snap_names[3] = {"zoneinfo", "vmstat", "slabinfo"};

struct op {
	char kind;
	long long dev_off, len, data_off, buf_off;
	int nowait;
	long long ret;
	int err;
};

static struct op ops[MAX_OPS];

static void die(const char *what)
{
	fprintf(stderr, "ksim-brd-io: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void *alloc_touched(size_t bytes)
{
	void *p = NULL;
	if (posix_memalign(&p, PAGE, bytes ? bytes : PAGE))
		die("posix_memalign");
	memset(p, 0, bytes ? bytes : PAGE);
	return p;
}

/*
 * Folds every CPU's pending vmstat deltas into the global counters, so that zoneinfo's "pages
 * free" is exact rather than off by up to the per-cpu stat threshold. SMP kernels only (the
 * file is absent on UML, whose counters are exact anyway); best effort.
 */
static void refresh_stats(void)
{
	int fd = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1\n", 2) < 0) {
			/* counters that went negative are reported, not fatal */
		}
		close(fd);
	}
}

/* Reads a /proc file into buf (already touched) with plain read(2); returns its length. */
static size_t snap(const char *path, char *buf)
{
	int fd = open(path, O_RDONLY);
	size_t n = 0;
	if (fd < 0)
		die(path);
	for (;;) {
		ssize_t r = read(fd, buf + n, SNAP_BYTES - 1 - n);
		if (r < 0)
			die(path);
		if (r == 0 || n + r >= SNAP_BYTES - 1)
			break;
		n += r;
	}
	close(fd);
	return n;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f)
		die(path);
	if (len && fwrite(data, 1, len, f) != len)
		die(path);
	if (fclose(f))
		die(path);
}

static int run(const char *dev, const char *ops_path, const char *data_path, const char *outdir)
{
	FILE *f = fopen(ops_path, "r");
	char line[512];
	size_t nops = 0;
	long long max_len = 0, read_total = 0;
	if (!f)
		die(ops_path);
	while (fgets(line, sizeof(line), f)) {
		struct op *o = &ops[nops];
		if (line[0] == '\n' || line[0] == '#')
			continue;
		if (nops == MAX_OPS) {
			fprintf(stderr, "ksim-brd-io: too many ops\n");
			return 1;
		}
		memset(o, 0, sizeof(*o));
		o->kind = line[0];
		if (o->kind == 'W' && sscanf(line + 1, "%lld %lld %lld %lld %d", &o->dev_off, &o->len,
					     &o->data_off, &o->buf_off, &o->nowait) == 5) {
		} else if (o->kind == 'R' &&
			   sscanf(line + 1, "%lld %lld %lld", &o->dev_off, &o->len, &o->buf_off) == 3) {
			read_total += o->len;
		} else {
			fprintf(stderr, "ksim-brd-io: bad op line: %s", line);
			return 1;
		}
		if (o->len + o->buf_off > max_len)
			max_len = o->len + o->buf_off;
		nops++;
	}
	fclose(f);

	/* The write payloads, read through the page cache (hostfs or initramfs) now, not later. */
	int dfd = open(data_path, O_RDONLY);
	struct stat st;
	if (dfd < 0 || fstat(dfd, &st))
		die(data_path);
	unsigned char *data = alloc_touched(st.st_size);
	for (off_t at = 0; at < st.st_size;) {
		ssize_t r = read(dfd, data + at, st.st_size - at);
		if (r <= 0)
			die(data_path);
		at += r;
	}
	close(dfd);

	unsigned char *io = alloc_touched(max_len + PAGE);
	unsigned char *reads = alloc_touched(read_total);
	char *snaps[6];
	size_t snap_len[6];
	for (int i = 0; i < 6; i++)
		snaps[i] = alloc_touched(SNAP_BYTES);
	mlockall(MCL_CURRENT); /* best effort: nothing of ours is paged in the window */

	int fd = open(dev, O_RDWR | O_DIRECT);
	if (fd < 0)
		die(dev);

	/* Warm up the read path once outside the window (reads never allocate in brd). */
	if (pread(fd, io, PAGE, 0) != PAGE)
		die("warm-up read");
	refresh_stats();
	for (int i = 0; i < 3; i++)
		snap_len[i] = snap(snap_files[i], snaps[i]);

	long long read_at = 0;
	for (size_t i = 0; i < nops; i++) {
		struct op *o = &ops[i];
		unsigned char *buf = io + o->buf_off;
		ssize_t r;
		errno = 0;
		if (o->kind == 'W') {
			memcpy(buf, data + o->data_off, o->len);
			if (o->nowait) {
				struct iovec iov = {.iov_base = buf, .iov_len = o->len};
				r = pwritev2(fd, &iov, 1, o->dev_off, RWF_NOWAIT);
			} else {
				r = pwrite(fd, buf, o->len, o->dev_off);
			}
		} else {
			r = pread(fd, buf, o->len, o->dev_off);
			memcpy(reads + read_at, buf, o->len);
			read_at += o->len;
		}
		o->ret = r;
		o->err = r < 0 ? errno : 0;
	}

	refresh_stats();
	for (int i = 0; i < 3; i++)
		snap_len[3 + i] = snap(snap_files[i], snaps[3 + i]);
	close(fd);

	mkdir(outdir, 0755);
	char name[64];
	for (int i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "%s.%s", i < 3 ? "before" : "after", snap_names[i % 3]);
		write_file(outdir, name, snaps[i], snap_len[i]);
	}
	write_file(outdir, "reads.bin", reads, read_total);
	char path[4096];
	snprintf(path, sizeof(path), "%s/results.txt", outdir);
	f = fopen(path, "w");
	if (!f)
		die(path);
	for (size_t i = 0; i < nops; i++)
		fprintf(f, "%zu %lld %d\n", i, ops[i].ret, ops[i].err);
	if (fclose(f))
		die(path);
	write_file(outdir, "done", "ok\n", 3);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "insmod")) {
		int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die(argv[2]);
		if (syscall(SYS_finit_module, fd, argv[3], 0))
			die("finit_module");
		close(fd);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "rmmod")) {
		if (syscall(SYS_delete_module, argv[2], O_NONBLOCK))
			die("delete_module");
		return 0;
	}
	if (argc == 6 && !strcmp(argv[1], "run"))
		return run(argv[2], argv[3], argv[4], argv[5]);
	fprintf(stderr, "usage: ksim-brd-io insmod MODULE PARAMS | rmmod NAME | run DEV OPS DATA OUTDIR\n");
	return 2;
}
