/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/kref.h: struct kref, a refcount_t with a release function called when the
 * last reference goes (6.1 builds it on refcount_t, so its misuse is refcount_t's warning).
 * Written for ksim. */
#ifndef _LINUX_KREF_H
#define _LINUX_KREF_H
#include <linux/kernel.h>
#include <linux/refcount.h>

struct kref {
	refcount_t refcount;
};

#define KREF_INIT(n) { .refcount = REFCOUNT_INIT(n), }
#define kref_init(kref) refcount_set(&(kref)->refcount, 1)
#define kref_read(kref) refcount_read(&(kref)->refcount)
#define kref_get(kref) refcount_inc(&(kref)->refcount)
#define kref_get_unless_zero(kref) refcount_inc_not_zero(&(kref)->refcount)

static inline int __ksim_kref_put(struct kref *kref, void (*release)(struct kref *kref), const char *file,
				  int line)
{
	if (!ksim_refcount_sub_and_test(1, &kref->refcount, file, line))
		return 0;
	/* The kernel would call address 0: reported, never executed. */
	if (!release)
		ksim_kref_null_release(file, line);
	else
		release(kref);
	return 1;
}
#define kref_put(kref, release) __ksim_kref_put((kref), (release), __FILE__, __LINE__)
#endif
