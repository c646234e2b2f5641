// SPDX-License-Identifier: GPL-2.0
/*
 * A KUnit suite for drivers/block/brd.c (Linux 6.1), written for ksim:
 *
 *   ksim kunit examples/kunit/brd_test.c drivers/block/brd.c --param rd_nr=1 --param rd_size=64
 *
 * (brd.c from a kernel tree: cargo test builds it from Debian's linux-source-6.1.) Each case
 * opens ram0 the way any kernel user does (blkdev_get_by_dev) and submits bios to it:
 *
 * - reads of never-written sectors return zeros and allocate no page;
 * - a write that straddles a page boundary reads back, from both of brd's pages;
 * - a REQ_NOWAIT write with no free memory ends with BLK_STS_AGAIN (-EAGAIN) and never sleeps
 *   (it runs in a non_block section, where any sleep is reported);
 * - two kthreads race to first-touch one page: brd ends up with one page, the loser's freed;
 * - a write from a work item, flushed, reads back.
 *
 * ksim/testing.h is ksim's: the page count and "no free memory" on demand.
 */
#include <kunit/test.h>
#include <linux/blkdev.h>
#include <linux/completion.h>
#include <linux/kthread.h>
#include <linux/workqueue.h>
#include <ksim/testing.h>

struct brd_test {
	struct block_device *bdev;
	struct page *buf;	/* the test's I/O page */
	struct page *back;	/* a second page, to read back into */
};

static int brd_test_init(struct kunit *test)
{
	struct brd_test *t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, t);
	t->bdev = blkdev_get_by_dev(MKDEV(RAMDISK_MAJOR, 0), FMODE_READ | FMODE_WRITE, NULL);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, t->bdev);
	t->buf = alloc_page(GFP_KERNEL | __GFP_ZERO);
	t->back = alloc_page(GFP_KERNEL | __GFP_ZERO);
	KUNIT_ASSERT_NOT_NULL(test, t->buf);
	KUNIT_ASSERT_NOT_NULL(test, t->back);
	test->priv = t;
	return 0;
}

static void brd_test_exit(struct kunit *test)
{
	struct brd_test *t = test->priv;

	if (!t)
		return;
	__free_page(t->buf);
	__free_page(t->back);
	blkdev_put(t->bdev, FMODE_READ | FMODE_WRITE);
}

/* One synchronous bio of `len` bytes of `page` (from `off`) at `sector`: its errno. */
static int brd_test_rw(struct brd_test *t, blk_opf_t opf, sector_t sector, struct page *page,
		       unsigned int len, unsigned int off)
{
	struct bio *bio = bio_alloc(t->bdev, 1, opf, GFP_KERNEL);
	int err;

	bio->bi_iter.bi_sector = sector;
	bio_add_page(bio, page, len, off);
	err = submit_bio_wait(bio);
	bio_put(bio);
	return err;
}

static void brd_test_read_unwritten(struct kunit *test)
{
	struct brd_test *t = test->priv;
	unsigned char *p = page_address(t->back);
	unsigned long before;
	int i, nonzero = 0;

	memset(p, 0xaa, PAGE_SIZE);
	before = ksim_allocated_pages();
	KUNIT_EXPECT_EQ(test, brd_test_rw(t, REQ_OP_READ, 24, t->back, PAGE_SIZE, 0), 0);
	for (i = 0; i < PAGE_SIZE; i++)
		nonzero += p[i] != 0;
	KUNIT_EXPECT_EQ(test, nonzero, 0);
	KUNIT_EXPECT_EQ(test, ksim_allocated_pages(), before);
}

static void brd_test_straddling_write(struct kunit *test)
{
	struct brd_test *t = test->priv;
	unsigned char *in = page_address(t->buf), *out = page_address(t->back);
	unsigned long before = ksim_allocated_pages();
	int i;

	for (i = 0; i < PAGE_SIZE; i++)
		in[i] = (unsigned char)(i * 7 + 1);
	/* Sector 4 is 2 KiB into brd's page 0: the write ends 2 KiB into page 1. */
	KUNIT_ASSERT_EQ(test, brd_test_rw(t, REQ_OP_WRITE, 4, t->buf, PAGE_SIZE, 0), 0);
	KUNIT_EXPECT_EQ(test, ksim_allocated_pages(), before + 2);
	KUNIT_ASSERT_EQ(test, brd_test_rw(t, REQ_OP_READ, 4, t->back, PAGE_SIZE, 0), 0);
	KUNIT_EXPECT_MEMEQ(test, out, in, PAGE_SIZE);
}

static blk_status_t brd_test_nowait_status;

static void brd_test_nowait_end(struct bio *bio)
{
	brd_test_nowait_status = bio->bi_status;
}

static void brd_test_nowait_no_memory(struct kunit *test)
{
	struct brd_test *t = test->priv;
	struct bio *bio = bio_alloc(t->bdev, 1, REQ_OP_WRITE | REQ_NOWAIT, GFP_KERNEL);

	bio->bi_iter.bi_sector = 0;
	bio->bi_end_io = brd_test_nowait_end;
	bio_add_page(bio, t->buf, PAGE_SIZE, 0);
	brd_test_nowait_status = BLK_STS_OK;
	ksim_limit_free_pages(0);
	non_block_start();
	submit_bio(bio);
	non_block_end();
	ksim_limit_free_pages(-1);
	KUNIT_EXPECT_EQ(test, brd_test_nowait_status, BLK_STS_AGAIN);
	bio_put(bio);
	/* With memory free, the same write goes through. */
	KUNIT_EXPECT_EQ(test, brd_test_rw(t, REQ_OP_WRITE | REQ_NOWAIT, 0, t->buf, PAGE_SIZE, 0), 0);
}

struct brd_test_writer {
	struct brd_test *t;
	struct completion *go;
	sector_t sector;
	int err;
};

static int brd_test_writer_fn(void *data)
{
	struct brd_test_writer *w = data;

	wait_for_completion(w->go);
	/* Each writes its own 2 KiB of the same brd page. */
	w->err = brd_test_rw(w->t, REQ_OP_WRITE, w->sector, w->t->buf, 2048, 0);
	return 0;
}

static void brd_test_first_touch_race(struct kunit *test)
{
	struct brd_test *t = test->priv;
	struct brd_test_writer a = { .t = t, .sector = 0 }, b = { .t = t, .sector = 4 };
	struct task_struct *ka, *kb;
	struct completion go;
	unsigned long before;

	memset(page_address(t->buf), 0x5a, PAGE_SIZE);
	init_completion(&go);
	a.go = b.go = &go;
	before = ksim_allocated_pages();
	ka = kthread_run(brd_test_writer_fn, &a, "brd-writer/%d", 0);
	kb = kthread_run(brd_test_writer_fn, &b, "brd-writer/%d", 1);
	complete_all(&go);
	kthread_stop(ka);
	kthread_stop(kb);
	KUNIT_EXPECT_EQ(test, a.err, 0);
	KUNIT_EXPECT_EQ(test, b.err, 0);
	/* Both may have allocated; brd keeps one page and frees the other. */
	KUNIT_EXPECT_EQ(test, ksim_allocated_pages(), before + 1);
	KUNIT_ASSERT_EQ(test, brd_test_rw(t, REQ_OP_READ, 0, t->back, PAGE_SIZE, 0), 0);
	KUNIT_EXPECT_MEMEQ(test, page_address(t->back), page_address(t->buf), PAGE_SIZE);
}

static struct brd_test *brd_test_work_target;
static int brd_test_work_err = -1;

static void brd_test_work_fn(struct work_struct *work)
{
	brd_test_work_err = brd_test_rw(brd_test_work_target, REQ_OP_WRITE, 8, brd_test_work_target->buf,
					PAGE_SIZE, 0);
}

static void brd_test_write_from_work(struct kunit *test)
{
	struct brd_test *t = test->priv;
	struct work_struct work;

	memset(page_address(t->buf), 0x3c, PAGE_SIZE);
	brd_test_work_target = t;
	INIT_WORK(&work, brd_test_work_fn);
	KUNIT_EXPECT_TRUE(test, schedule_work(&work));
	flush_work(&work);
	KUNIT_EXPECT_EQ(test, brd_test_work_err, 0);
	KUNIT_ASSERT_EQ(test, brd_test_rw(t, REQ_OP_READ, 8, t->back, PAGE_SIZE, 0), 0);
	KUNIT_EXPECT_MEMEQ(test, page_address(t->back), page_address(t->buf), PAGE_SIZE);
}

static struct kunit_case brd_test_cases[] = {
	KUNIT_CASE(brd_test_read_unwritten),
	KUNIT_CASE(brd_test_straddling_write),
	KUNIT_CASE(brd_test_nowait_no_memory),
	KUNIT_CASE(brd_test_first_touch_race),
	KUNIT_CASE(brd_test_write_from_work),
	{}
};

static struct kunit_suite brd_test_suite = {
	.name = "brd",
	.init = brd_test_init,
	.exit = brd_test_exit,
	.test_cases = brd_test_cases,
};
kunit_test_suite(brd_test_suite);

MODULE_LICENSE("GPL");
