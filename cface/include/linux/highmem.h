/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/highmem.h: kernel mappings of pages. kmap_atomic() is an atomic section (6.1:
 * preempt_disable() + pagefault_disable()), mappings nest strictly, kmap() may sleep. The
 * pointers returned are real: C reads and writes the page through them. Written for ksim. */
#ifndef _LINUX_HIGHMEM_H
#define _LINUX_HIGHMEM_H
#include <linux/mm.h>
#include <linux/string.h>
#include <ksim/api.h>
#define kmap(page) ksim_kmap((page), __FILE__, __LINE__)
#define kunmap(page) ksim_kunmap((page), __FILE__, __LINE__)
#define kmap_atomic(page) ksim_kmap_atomic((page), __FILE__, __LINE__)
#define kunmap_atomic(addr) ksim_kunmap_atomic((void *)(addr), __FILE__, __LINE__)
#define kmap_local_page(page) ksim_kmap_local_page((page), __FILE__, __LINE__)
#define kunmap_local(addr) ksim_kunmap_local((addr), __FILE__, __LINE__)
#define flush_dcache_page(page) do { (void)(page); } while (0)
#define clear_highpage(page) do { void *__a = kmap_atomic(page); memset(__a, 0, PAGE_SIZE); kunmap_atomic(__a); } while (0)
#define memcpy_to_page(page, offset, from, len) do { char *__to = kmap_local_page(page); \
	memcpy(__to + (offset), (from), (len)); kunmap_local(__to); } while (0)
#define memcpy_from_page(to, page, offset, len) do { char *__from = kmap_local_page(page); \
	memcpy((to), __from + (offset), (len)); kunmap_local(__from); } while (0)
#define memzero_page(page, offset, len) do { char *__a = kmap_local_page(page); \
	memset(__a + (offset), 0, (len)); kunmap_local(__a); } while (0)
#endif
