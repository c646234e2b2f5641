/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/gfp.h: the page allocator (might_sleep on every blocking call, fault injection,
 * reclaim). Written for ksim. */
#ifndef __LINUX_GFP_H
#define __LINUX_GFP_H
#include <linux/types.h>
#include <linux/gfp_types.h>
#include <linux/numa.h>
#include <ksim/api.h>
struct page;
static inline bool gfpflags_allow_blocking(const gfp_t gfp_flags) { return !!(gfp_flags & __GFP_DIRECT_RECLAIM); }
#define alloc_pages(gfp, order) ksim_alloc_pages((gfp), (order), __FILE__, __LINE__)
#define alloc_page(gfp) ksim_alloc_pages((gfp), 0, __FILE__, __LINE__)
#define alloc_pages_node(nid, gfp, order) alloc_pages(gfp, order)
#define __free_pages(page, order) ksim_free_pages((page), (order), __FILE__, __LINE__)
#define __free_page(page) ksim_free_pages((page), 0, __FILE__, __LINE__)
#endif
