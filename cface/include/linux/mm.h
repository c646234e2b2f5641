/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/mm.h: page helpers. Written for ksim. */
#ifndef _LINUX_MM_H
#define _LINUX_MM_H
#include <linux/kernel.h>
#include <linux/gfp.h>
#include <linux/mm_types.h>
#include <linux/list.h>
#include <linux/sched.h>
#include <ksim/api.h>
#define PAGE_SHIFT 12
#define PAGE_SIZE (1UL << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define PAGE_ALIGN(addr) ALIGN(addr, PAGE_SIZE)
#define offset_in_page(p) ((unsigned long)(p) & ~PAGE_MASK)
#define page_to_pfn(page) ((unsigned long)(page)->ksim_pfn)
#define page_address(page) ksim_page_address(page)
#define get_page(page) ksim_get_page((page), __FILE__, __LINE__)
#define put_page(page) ksim_put_page((page), __FILE__, __LINE__)
#define page_count(page) ksim_page_count(page)
#define PageTransHuge(page) 0
#define PageCompound(page) 0
#define set_page_private(page, v) ((page)->private = (v))
#define page_private(page) ((page)->private)
static inline int get_order(unsigned long size)
{
	int order = 0;
	size = (size - 1) >> PAGE_SHIFT;
	while (size) {
		order++;
		size >>= 1;
	}
	return order;
}
#endif
