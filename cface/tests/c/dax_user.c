// SPDX-License-Identifier: GPL-2.0
/*
 * The DAX user of the 2015 linux-mm thread, written in C for ksim: it maps a range with
 * bdev_direct_access() and copies into it while holding its spinlock (the bug: direct_access
 * may sleep, and brd's does when it allocates a page on first touch), or, fixed, punts each
 * direct_access to a work item and waits for it outside the lock. ksim's tests run it against
 * the modelled brd v4.0 and pmem v4.1. Written for ksim.
 */
#include <linux/blkdev.h>
#include <linux/kernel.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/workqueue.h>

static DEFINE_SPINLOCK(dax_user_lock);

/* Copies `len` bytes of `src` to the device at `sector`, a page at a time. */
static long dax_user_copy(struct block_device *bdev, sector_t sector, const char *src, long len)
{
	while (len > 0) {
		void *addr;
		unsigned long pfn;
		long n = bdev_direct_access(bdev, sector, &addr, &pfn, min(len, (long)PAGE_SIZE));

		if (n < 0)
			return n;
		memcpy(addr, src, n);
		src += n;
		len -= n;
		sector += n >> SECTOR_SHIFT;
	}
	return 0;
}

/* The bug: direct_access under a spinlock. */
__attribute__((visibility("default"))) long dax_user_map_atomic(struct block_device *bdev, const char *src, long len)
{
	long r;

	spin_lock(&dax_user_lock);
	r = dax_user_copy(bdev, 0, src, len);
	spin_unlock(&dax_user_lock);
	return r;
}

struct dax_user_work {
	struct work_struct work;
	struct block_device *bdev;
	const char *src;
	long len;
	long ret;
};

static void dax_user_work_fn(struct work_struct *w)
{
	struct dax_user_work *dw = container_of(w, struct dax_user_work, work);

	dw->ret = dax_user_copy(dw->bdev, 0, dw->src, dw->len);
}

/* The fix: the lock holder queues the mapping to a worker (process context), then waits for it
 * after unlocking. */
__attribute__((visibility("default"))) long dax_user_map_wq(struct block_device *bdev, const char *src, long len)
{
	struct dax_user_work dw = { .bdev = bdev, .src = src, .len = len, .ret = -1 };

	INIT_WORK(&dw.work, dax_user_work_fn);
	spin_lock(&dax_user_lock);
	schedule_work(&dw.work);
	spin_unlock(&dax_user_lock);
	flush_work(&dw.work);
	return dw.ret;
}
