// SPDX-License-Identifier: GPL-2.0
/* ksim's own test module (not kernel code): user copies from C. A driver that copies its state
 * to user space while holding its spinlock (a sleep in atomic context: the copy may fault),
 * the fix that snapshots under the lock and copies after it, and copies that run off the end
 * of the user mapping (the uncopied byte count, -EFAULT). The user buffer's address comes from
 * the test (cface/tests/c_uaccess.rs), which maps it through the Rust API. */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#define EXPORT_TEST __attribute__((__used__, __visibility__("default")))

struct ua_state {
	u32 events;
	u32 flags;
	u64 bytes;
};

static DEFINE_SPINLOCK(state_lock);
static struct ua_state state = { .events = 3, .flags = 0x11, .bytes = 1ULL << 33 };

/* The bug: the copy may fault and sleep, under a spinlock. */
EXPORT_TEST int ua_copy_under_lock(unsigned long uaddr)
{
	unsigned long left;

	spin_lock(&state_lock);
	left = copy_to_user((void __user *)uaddr, &state, sizeof(state)); /* @copy_locked */
	spin_unlock(&state_lock);
	return left ? -EFAULT : 0;
}

/* The fix: a snapshot under the lock, copied after it; then the copy back, get_user/put_user
 * and clear_user, each checked. */
EXPORT_TEST int ua_copy_fixed(unsigned long uaddr)
{
	void __user *u = (void __user *)uaddr;
	struct ua_state snap, *back;
	u32 events;
	u64 bytes;

	spin_lock(&state_lock);
	snap = state;
	spin_unlock(&state_lock);
	if (copy_to_user(u, &snap, sizeof(snap)))
		return -1;
	back = kzalloc(sizeof(*back), GFP_KERNEL);
	if (!back)
		return -ENOMEM;
	if (copy_from_user(back, u, sizeof(*back)) || memcmp(back, &snap, sizeof(snap))) {
		kfree(back);
		return -2;
	}
	kfree(back);
	if (get_user(events, (u32 __user *)u) || events != 3)
		return -3;
	if (put_user(7ULL << 40, (u64 __user *)(u + 8)) || get_user(bytes, (u64 __user *)(u + 8)))
		return -4;
	if (bytes != 7ULL << 40)
		return -5;
	if (clear_user(u + 4, 4))
		return -6;
	return access_ok(u, 16) ? 0 : -7;
}

/* A 16-byte copy starting 6 bytes before the end of a mapping of `uaddr`'s page: 10 bytes are
 * left uncopied; get_user past the end is -EFAULT and sets its variable to 0. */
EXPORT_TEST int ua_copy_past_end(unsigned long end)
{
	char buf[16] = "0123456789abcdef";
	u32 v = 99;
	unsigned long left;
	int err;

	left = copy_to_user((void __user *)(end - 6), buf, sizeof(buf));
	if (left != 10)
		return -100 - (int)left;
	left = copy_from_user(buf, (void __user *)(end - 6), sizeof(buf));
	if (left != 10 || buf[5] != '5' || buf[6] != 0 || buf[15] != 0)
		return -200 - (int)left;
	err = get_user(v, (u32 __user *)end);
	if (err != -EFAULT || v != 0)
		return -3;
	if (put_user(v, (u32 __user *)end) != -EFAULT)
		return -4;
	return clear_user((void __user *)(end - 2), 8) == 6 ? 0 : -5;
}
MODULE_LICENSE("GPL");
