/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/mm_types.h: struct page, with the fields drivers use. ksim makes one for each
 * allocation of a frame a C module sees, and keeps which frame and allocation it stands for, so
 * a stale pointer to a freed page is caught. Written for ksim. */
#ifndef _LINUX_MM_TYPES_H
#define _LINUX_MM_TYPES_H
#include <linux/types.h>
struct address_space;
struct page {
	unsigned long flags;
	struct list_head lru;
	struct address_space *mapping;
	pgoff_t index;
	unsigned long private;
	/* ksim: the frame (pfn) and the allocation's generation this struct page stands for. */
	u64 ksim_pfn;
	u32 ksim_gen;
};
#endif
