// SPDX-License-Identifier: GPL-2.0
/* ksim's own test module (not kernel code): PROVE_RCU from C. A configuration published
 * through an __rcu pointer, read with and without the RCU read lock or the update lock,
 * replaced under the lock and freed with kfree_rcu() or call_rcu(); a reader that keeps using
 * the old one after its section is a use after free. Entry points are exported for
 * cface/tests/c_rcu.rs. */
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

#define EXPORT_TEST __attribute__((__used__, __visibility__("default")))

struct rcu_cfg {
	int value;
	struct rcu_head rcu;
};

static struct rcu_cfg __rcu *cur;
static DEFINE_SPINLOCK(cfg_lock);
static int callbacks;

EXPORT_TEST int rcu_setup(void)
{
	struct rcu_cfg *c = kzalloc(sizeof(*c), GFP_KERNEL);

	if (!c)
		return -ENOMEM;
	c->value = 1;
	rcu_assign_pointer(cur, c);
	return 0;
}

/* The bug: a read with neither the RCU read lock nor the update lock. */
EXPORT_TEST int rcu_read_bare(void)
{
	struct rcu_cfg *c = rcu_dereference(cur); /* @bare */

	return c->value == 1 ? 0 : -1;
}

/* The bug: the condition names the update lock, which is not held. */
EXPORT_TEST int rcu_check_unlocked(void)
{
	struct rcu_cfg *c = rcu_dereference_check(cur, lockdep_is_held(&cfg_lock)); /* @check */

	return c->value == 1 ? 0 : -1;
}

/* The update side without its lock. */
EXPORT_TEST int rcu_protected_unlocked(void)
{
	struct rcu_cfg *c = rcu_dereference_protected(cur, lockdep_is_held(&cfg_lock)); /* @protected */

	return c->value == 1 ? 0 : -1;
}

/* Each read side as the kernel allows it. */
EXPORT_TEST int rcu_reads_fixed(void)
{
	struct rcu_cfg *c;
	int v;

	rcu_read_lock();
	c = rcu_dereference(cur);
	v = c->value;
	rcu_read_unlock();
	spin_lock(&cfg_lock);
	c = rcu_dereference_check(cur, lockdep_is_held(&cfg_lock));
	v += c->value;
	c = rcu_dereference_protected(cur, lockdep_is_held(&cfg_lock));
	v += c->value;
	spin_unlock(&cfg_lock);
	return v == 3 ? 0 : -1;
}

EXPORT_TEST int rcu_sync_in_reader(void)
{
	rcu_read_lock();
	synchronize_rcu(); /* @sync */
	rcu_read_unlock();
	return 0;
}

static void rcu_cfg_free(struct rcu_head *head)
{
	struct rcu_cfg *c = container_of(head, struct rcu_cfg, rcu);

	callbacks++;
	kfree(c);
}

/* A reader inside its section replaces the configuration and frees the old one after a grace
 * period: the old one stays usable until the section ends; after it (and rcu_barrier(), which
 * lets the free happen) a use is a use after free when `late`. */
static int rcu_replace(bool late, bool with_call_rcu)
{
	struct rcu_cfg *old, *new;
	int v = 0;

	new = kzalloc(sizeof(*new), GFP_KERNEL);
	if (!new)
		return -ENOMEM;
	new->value = 2;
	rcu_read_lock();
	old = rcu_dereference(cur);
	spin_lock(&cfg_lock);
	rcu_assign_pointer(cur, new);
	spin_unlock(&cfg_lock);
	if (with_call_rcu)
		call_rcu(&old->rcu, rcu_cfg_free);
	else
		kfree_rcu(old, rcu);
	memcpy(&v, &old->value, sizeof(v));
	rcu_read_unlock();
	rcu_barrier();
	if (late)
		memcpy(&v, &old->value, sizeof(v)); /* @late_use */
	return v == 1 ? 0 : -1;
}

EXPORT_TEST int rcu_replace_late_use(void)
{
	return rcu_replace(true, false);
}

EXPORT_TEST int rcu_replace_fixed(void)
{
	int r = rcu_replace(false, false);

	if (r)
		return r;
	r = rcu_replace(false, true);
	if (r != -1) /* the second replace reads the first's value, 2 */
		return -10;
	return callbacks == 1 ? 0 : -11;
}

EXPORT_TEST int rcu_teardown(void)
{
	struct rcu_cfg *c;

	spin_lock(&cfg_lock);
	c = rcu_dereference_protected(cur, lockdep_is_held(&cfg_lock));
	RCU_INIT_POINTER(cur, NULL);
	spin_unlock(&cfg_lock);
	kfree(c);
	return 0;
}
MODULE_LICENSE("GPL");
