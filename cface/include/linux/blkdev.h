/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/blkdev.h (with 6.1's genhd.h): disks, queues and block_device_operations. A
 * disk added with add_disk() becomes a ksim disk whose bios go through ->submit_bio. Written
 * for ksim. */
#ifndef _LINUX_BLKDEV_H
#define _LINUX_BLKDEV_H
#include <linux/types.h>
#include <linux/kernel.h>
#include <linux/blk_types.h>
#include <linux/bio.h>
#include <linux/kdev_t.h>
#include <linux/major.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/list.h>
#include <linux/sched.h>
#include <ksim/api.h>

#define DISK_MAX_PARTS 256
#define DISK_NAME_LEN 32
#define SECTOR_SHIFT 9
#define SECTOR_SIZE (1 << SECTOR_SHIFT)
#define PAGE_SECTORS_SHIFT (PAGE_SHIFT - SECTOR_SHIFT)
#define PAGE_SECTORS (1 << PAGE_SECTORS_SHIFT)

struct module;
struct gendisk;

struct queue_limits {
	unsigned int physical_block_size;
	unsigned int logical_block_size;
	unsigned int max_hw_sectors;
	unsigned int max_discard_sectors;
	unsigned int max_hw_discard_sectors;
	unsigned int max_write_zeroes_sectors;
	unsigned int discard_granularity;
	unsigned short max_discard_segments;
};

struct request_queue {
	unsigned long queue_flags;
	struct queue_limits limits;
};

#define QUEUE_FLAG_NONROT 6
#define QUEUE_FLAG_ADD_RANDOM 10
#define QUEUE_FLAG_SYNCHRONOUS 11
#define QUEUE_FLAG_NOWAIT 29

struct block_device {
	sector_t bd_start_sect;
	sector_t bd_nr_sectors;
	struct gendisk *bd_disk;
	u8 bd_partno;
};

struct block_device_operations {
	void (*submit_bio)(struct bio *bio);
	int (*open)(struct block_device *bdev, fmode_t mode);
	void (*release)(struct gendisk *disk, fmode_t mode);
	int (*rw_page)(struct block_device *bdev, sector_t sector, struct page *page, enum req_op op);
	int (*ioctl)(struct block_device *bdev, fmode_t mode, unsigned int cmd, unsigned long arg);
	int (*compat_ioctl)(struct block_device *bdev, fmode_t mode, unsigned int cmd, unsigned long arg);
	struct module *owner;
};

struct gendisk {
	int major;
	int first_minor;
	int minors;
	char disk_name[DISK_NAME_LEN];
	unsigned short flags;
	const struct block_device_operations *fops;
	struct request_queue *queue;
	void *private_data;
	/* ksim: capacity in sectors (the kernel keeps it in part0) and the model's disk. */
	sector_t ksim_capacity;
	void *ksim_disk;
};

#define GENHD_FL_REMOVABLE 1
#define GENHD_FL_HIDDEN 2
#define GENHD_FL_NO_PART 4

static inline void set_capacity(struct gendisk *disk, sector_t size) { disk->ksim_capacity = size; }
static inline sector_t get_capacity(struct gendisk *disk) { return disk->ksim_capacity; }
#define blk_alloc_disk(node) ksim_blk_alloc_disk((node), __FILE__, __LINE__)
#define add_disk(disk) ksim_add_disk((disk), __FILE__, __LINE__)
#define device_add_disk(parent, disk, groups) add_disk(disk)
#define del_gendisk(disk) ksim_del_gendisk((disk), __FILE__, __LINE__)
#define put_disk(disk) ksim_put_disk((disk), __FILE__, __LINE__)
#define __register_blkdev(major, name, probe) ksim_register_blkdev((major), (name), (probe), __FILE__, __LINE__)
#define register_blkdev(major, name) __register_blkdev(major, name, NULL)
#define unregister_blkdev(major, name) ksim_unregister_blkdev((major), (name), __FILE__, __LINE__)

static inline void blk_queue_flag_set(unsigned int flag, struct request_queue *q) { q->queue_flags |= 1UL << flag; }
static inline void blk_queue_flag_clear(unsigned int flag, struct request_queue *q) { q->queue_flags &= ~(1UL << flag); }
static inline bool blk_queue_flag_test_and_set(unsigned int flag, struct request_queue *q)
{
	bool was = q->queue_flags & (1UL << flag);
	blk_queue_flag_set(flag, q);
	return was;
}
static inline void blk_queue_physical_block_size(struct request_queue *q, unsigned int size) { q->limits.physical_block_size = size; }
static inline void blk_queue_logical_block_size(struct request_queue *q, unsigned int size) { q->limits.logical_block_size = size; }
static inline void blk_queue_max_hw_sectors(struct request_queue *q, unsigned int n) { q->limits.max_hw_sectors = n; }
static inline void blk_queue_max_discard_sectors(struct request_queue *q, unsigned int n) { q->limits.max_discard_sectors = q->limits.max_hw_discard_sectors = n; }
static inline void blk_queue_max_write_zeroes_sectors(struct request_queue *q, unsigned int n) { q->limits.max_write_zeroes_sectors = n; }
static inline void blk_queue_max_discard_segments(struct request_queue *q, unsigned short n) { q->limits.max_discard_segments = n; }
static inline struct request_queue *bdev_get_queue(struct block_device *bdev) { return bdev->bd_disk->queue; }
static inline sector_t bdev_nr_sectors(struct block_device *bdev) { return bdev->bd_nr_sectors; }
static inline sector_t get_start_sect(struct block_device *bdev) { return bdev->bd_start_sect; }
/* Opening a disk by its device number (a test of a block driver); ERR_PTR(-ENXIO) if none. */
#define blkdev_get_by_dev(dev, mode, holder) \
	((struct block_device *)ksim_blkdev_get_by_dev((dev), __FILE__, __LINE__))
#define blkdev_put(bdev, mode) ksim_blkdev_put(bdev)
/*
 * The 4.0 DAX entry point (fs/block_dev.c), which callers of the 2015 linux-mm thread used:
 * bytes accessible at *addr, or a negative errno. It may sleep (brd allocates on first touch).
 */
#define bdev_direct_access(bdev, sector, addr, pfn, size) \
	ksim_bdev_direct_access((bdev), (sector), (addr), (u64 *)(pfn), (size), __FILE__, __LINE__)
#endif
