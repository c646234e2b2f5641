/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/bio.h: walking and completing bios. bio_endio() hands the status back to
 * ksim's block layer. Written for ksim. */
#ifndef __LINUX_BIO_H
#define __LINUX_BIO_H
#include <linux/blk_types.h>
#include <linux/mm.h>
#include <ksim/api.h>
#define bio_iter_iovec(bio, iter) bvec_iter_bvec((bio)->bi_io_vec, (iter))
#define bio_iovec(bio) bio_iter_iovec((bio), (bio)->bi_iter)
static inline void bio_advance_iter_single(const struct bio *bio, struct bvec_iter *iter, unsigned int bytes)
{
	iter->bi_sector += bytes >> 9;
	bvec_iter_advance_single(bio->bi_io_vec, iter, bytes);
}
#define __bio_for_each_segment(bvl, bio, iter, start)                                     \
	for (iter = (start); (iter).bi_size && ((bvl = bio_iter_iovec((bio), (iter))), 1); \
	     bio_advance_iter_single((bio), &(iter), (bvl).bv_len))
#define bio_for_each_segment(bvl, bio, iter) __bio_for_each_segment(bvl, bio, iter, (bio)->bi_iter)
#define bio_sectors(bio) ((bio)->bi_iter.bi_size >> 9)
#define bio_end_sector(bio) ((bio)->bi_iter.bi_sector + bio_sectors((bio)))
#define bio_data_dir(bio) (op_is_write(bio_op(bio)) ? 1 : 0)
#define bio_has_data(bio) ((bio) && (bio)->bi_iter.bi_size && bio_op(bio) != REQ_OP_DISCARD)
#define bio_endio(bio) ksim_bio_endio((bio), __FILE__, __LINE__)

/* The submitter's side: bios in host memory, submitted through ksim's block layer. */
#define bio_alloc(bdev, nr_vecs, opf, gfp) ksim_bio_alloc((bdev), (nr_vecs), (opf), (gfp), __FILE__, __LINE__)
#define bio_add_page(bio, page, len, off) ksim_bio_add_page((bio), (page), (len), (off))
#define submit_bio(bio) ((void)ksim_submit_bio((bio), 0, __FILE__, __LINE__))
#define submit_bio_wait(bio) ksim_submit_bio((bio), 1, __FILE__, __LINE__)
#define bio_put(bio) ksim_bio_put(bio)
static inline void __ksim_bio_end(struct bio *bio, blk_status_t sts, const char *file, int line)
{
	bio->bi_status = sts;
	ksim_bio_endio(bio, file, line);
}
#define bio_io_error(bio) __ksim_bio_end((bio), BLK_STS_IOERR, __FILE__, __LINE__)
#define bio_wouldblock_error(bio) __ksim_bio_end((bio), BLK_STS_AGAIN, __FILE__, __LINE__)
#endif
