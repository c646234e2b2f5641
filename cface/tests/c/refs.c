// SPDX-License-Identifier: GPL-2.0
/* ksim's own test module (not kernel code): refcount_t and kref from C. An object whose last
 * reference is put twice (the second put is the kernel's "underflow; use-after-free."), one
 * taken again after its release ("addition on 0"), a kref_put() with no release, and the
 * balanced use that is clean. Entry points are exported for cface/tests/c_refs.rs. */
#include <linux/module.h>
#include <linux/kref.h>
#include <linux/refcount.h>
#include <linux/atomic.h>

#define EXPORT_TEST __attribute__((__used__, __visibility__("default")))

struct refs_obj {
	struct kref ref;
	int released;
};

static struct refs_obj obj;
static refcount_t users = REFCOUNT_INIT(1);
static atomic64_t bytes = ATOMIC64_INIT(0);

static void refs_release(struct kref *kref)
{
	struct refs_obj *o = container_of(kref, struct refs_obj, ref);

	o->released++;
}

EXPORT_TEST int refs_released(void)
{
	return obj.released;
}

EXPORT_TEST int refs_double_put(void)
{
	kref_init(&obj.ref);
	kref_get(&obj.ref);
	kref_put(&obj.ref, refs_release);
	kref_put(&obj.ref, refs_release);
	kref_put(&obj.ref, refs_release); /* @third_put */
	return refcount_read(&obj.ref.refcount) == REFCOUNT_SATURATED ? 0 : -1;
}

EXPORT_TEST int refs_get_after_release(void)
{
	kref_init(&obj.ref);
	kref_put(&obj.ref, refs_release);
	kref_get(&obj.ref); /* @late_get */
	return 0;
}

EXPORT_TEST int refs_put_without_release(void)
{
	kref_init(&obj.ref);
	kref_put(&obj.ref, NULL); /* @null_release */
	return 0;
}

/* The fixed use: every get has its put, the release runs once, the counters agree. */
EXPORT_TEST int refs_balanced(void)
{
	kref_init(&obj.ref);
	kref_get(&obj.ref);
	if (!kref_get_unless_zero(&obj.ref))
		return -1;
	if (kref_read(&obj.ref) != 3)
		return -2;
	if (kref_put(&obj.ref, refs_release) || kref_put(&obj.ref, refs_release))
		return -3;
	if (!kref_put(&obj.ref, refs_release))
		return -4;
	if (kref_get_unless_zero(&obj.ref))
		return -5;
	refcount_add(2, &users);
	if (refcount_sub_and_test(2, &users) || !refcount_dec_and_test(&users))
		return -6;
	atomic64_add(1LL << 40, &bytes);
	atomic64_inc(&bytes);
	if (atomic64_read(&bytes) != (1LL << 40) + 1 || atomic64_cmpxchg(&bytes, 1, 2) != (1LL << 40) + 1)
		return -7;
	return obj.released == 1 ? 0 : -8;
}
MODULE_LICENSE("GPL");
