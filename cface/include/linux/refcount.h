/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/refcount.h: refcount_t, a reference count that saturates instead of wrapping;
 * misuse is the kernel's "refcount_t: ..." warning at the caller's line. A refcount_t is a
 * handle to ksim's model (every operation a scheduling point), made on first use from its
 * REFCOUNT_INIT() value or by refcount_set(). Written for ksim. */
#ifndef _LINUX_REFCOUNT_H
#define _LINUX_REFCOUNT_H
#include <linux/kernel.h>
#include <linux/spinlock_types.h>
#include <ksim/api.h>

typedef struct refcount_struct {
	struct ksim_handle ksim;
	int init; /* the value a refcount_t made on first use starts at */
} refcount_t;

#define REFCOUNT_INIT(n) { .init = (n) }
#define REFCOUNT_MAX INT_MAX
#define REFCOUNT_SATURATED (INT_MIN / 2)

#define refcount_set(r, n) ksim_refcount_set((r), (n))
#define refcount_read(r) ksim_refcount_read(r)
#define refcount_add(i, r) ksim_refcount_add((i), (r), __FILE__, __LINE__)
#define refcount_inc(r) ksim_refcount_add(1, (r), __FILE__, __LINE__)
#define refcount_inc_not_zero(r) ((bool)ksim_refcount_inc_not_zero((r), __FILE__, __LINE__))
#define refcount_sub_and_test(i, r) ((bool)ksim_refcount_sub_and_test((i), (r), __FILE__, __LINE__))
#define refcount_dec_and_test(r) ((bool)ksim_refcount_sub_and_test(1, (r), __FILE__, __LINE__))
#define refcount_dec(r) ksim_refcount_dec((r), __FILE__, __LINE__)
#endif
