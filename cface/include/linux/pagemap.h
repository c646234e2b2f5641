/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/pagemap.h: page_endio() (page-cache state is not modelled). Written for ksim. */
#ifndef _LINUX_PAGEMAP_H
#define _LINUX_PAGEMAP_H
#include <linux/mm.h>
#include <linux/highmem.h>
static inline void page_endio(struct page *page, bool is_write, int err) { (void)page; (void)is_write; (void)err; }
#endif
