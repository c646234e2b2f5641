/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/bvec.h: bio segments and the iterator over them. Written for ksim. */
#ifndef __LINUX_BVEC_H
#define __LINUX_BVEC_H
#include <linux/types.h>
#include <linux/minmax.h>
struct page;
struct bio_vec {
	struct page *bv_page;
	unsigned int bv_len;
	unsigned int bv_offset;
};
struct bvec_iter {
	sector_t bi_sector;
	unsigned int bi_size;
	unsigned int bi_idx;
	unsigned int bi_bvec_done;
} __attribute__((__packed__, __aligned__(4)));

/* The segment the iterator points at, clipped to what is left of the bio (ksim's bios hold
 * single-page segments, so no segment is split at a page boundary here). */
#define bvec_iter_bvec(bvec, iter) ((struct bio_vec){                                        \
	.bv_page = (bvec)[(iter).bi_idx].bv_page,                                             \
	.bv_len = min_t(unsigned int, (iter).bi_size,                                         \
			(bvec)[(iter).bi_idx].bv_len - (iter).bi_bvec_done),                  \
	.bv_offset = (bvec)[(iter).bi_idx].bv_offset + (iter).bi_bvec_done,                   \
})

static inline void bvec_iter_advance_single(const struct bio_vec *bv, struct bvec_iter *iter, unsigned int bytes)
{
	unsigned int done = iter->bi_bvec_done + bytes;
	if (done == bv[iter->bi_idx].bv_len) {
		done = 0;
		iter->bi_idx++;
	}
	iter->bi_bvec_done = done;
	iter->bi_size -= bytes;
}
#endif
