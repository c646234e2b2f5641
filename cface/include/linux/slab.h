/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/slab.h: the kmalloc family and object caches (ksim's slab model: GFP rules,
 * failslab, KASAN-style checks, kmemleak). Written for ksim. */
#ifndef _LINUX_SLAB_H
#define _LINUX_SLAB_H
#include <linux/gfp.h>
#include <linux/types.h>
#include <ksim/api.h>
#define SLAB_HWCACHE_ALIGN 0x00002000UL
#define SLAB_PANIC 0x00040000UL
#define SLAB_ACCOUNT 0x04000000UL
#define SLAB_RECLAIM_ACCOUNT 0x00020000UL
#define ZERO_SIZE_PTR ((void *)16)
#define ZERO_OR_NULL_PTR(x) ((unsigned long)(x) <= (unsigned long)ZERO_SIZE_PTR)
#define kmalloc(size, gfp) ksim_kmalloc((size), (gfp), "kmalloc", __FILE__, __LINE__)
#define kzalloc(size, gfp) ksim_kmalloc((size), (gfp) | __GFP_ZERO, "kzalloc", __FILE__, __LINE__)
#define kmalloc_node(size, gfp, node) kmalloc(size, gfp)
#define kzalloc_node(size, gfp, node) kzalloc(size, gfp)
#define kcalloc(n, size, gfp) ({ size_t __n = (n), __s = (size); \
	__s && __n > (size_t)-1 / __s ? NULL : ksim_kmalloc(__n * __s, (gfp) | __GFP_ZERO, "kcalloc", __FILE__, __LINE__); })
#define kmalloc_array(n, size, gfp) ({ size_t __n = (n), __s = (size); \
	__s && __n > (size_t)-1 / __s ? NULL : ksim_kmalloc(__n * __s, (gfp), "kmalloc_array", __FILE__, __LINE__); })
#define krealloc(p, size, gfp) ksim_krealloc((p), (size), (gfp), __FILE__, __LINE__)
#define kfree(p) ksim_kfree((p), __FILE__, __LINE__)
#define kfree_sensitive(p) kfree(p)
#define kvmalloc(size, gfp) kmalloc(size, gfp)
#define kvzalloc(size, gfp) kzalloc(size, gfp)
#define kvfree(p) kfree(p)
#define ksize(p) ksim_ksize(p)
struct kmem_cache;
#define kmem_cache_create(name, size, align, flags, ctor) \
	ksim_kmem_cache_create((name), (size), (align), (flags), __FILE__, __LINE__)
#define KMEM_CACHE(s, flags) kmem_cache_create(#s, sizeof(struct s), __alignof__(struct s), (flags), NULL)
#define kmem_cache_alloc(c, gfp) ksim_kmem_cache_alloc((c), (gfp), __FILE__, __LINE__)
#define kmem_cache_zalloc(c, gfp) ksim_kmem_cache_alloc((c), (gfp) | __GFP_ZERO, __FILE__, __LINE__)
#define kmem_cache_free(c, p) ksim_kmem_cache_free((c), (p), __FILE__, __LINE__)
#define kmem_cache_destroy(c) ksim_kmem_cache_destroy((c), __FILE__, __LINE__)
#endif
