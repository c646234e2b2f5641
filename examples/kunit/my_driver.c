// SPDX-License-Identifier: GPL-2.0
/*
 * A small driver with the classic bug, for the README's "KUnit suites" walk-through: it grows
 * its statistics array with krealloc(GFP_KERNEL) while holding its spinlock. GFP_KERNEL may
 * sleep; a kernel with CONFIG_DEBUG_ATOMIC_SLEEP prints a splat and KUnit still passes the
 * test, ksim fails it. Written for ksim.
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

static DEFINE_SPINLOCK(my_stats_lock);
static unsigned long *my_stats;
static unsigned int nr_stats = 4;
module_param(nr_stats, uint, 0444);
MODULE_PARM_DESC(nr_stats, "Initial number of counters");

unsigned int my_stats_count(void)
{
	return nr_stats;
}

int my_stats_grow(unsigned int n)
{
	unsigned long *p;

	spin_lock(&my_stats_lock);
	p = krealloc(my_stats, n * sizeof(*p), GFP_KERNEL);
	if (p) {
		my_stats = p;
		nr_stats = n;
	}
	spin_unlock(&my_stats_lock);
	return p ? 0 : -ENOMEM;
}

static int __init my_init(void)
{
	my_stats = kcalloc(nr_stats, sizeof(*my_stats), GFP_KERNEL);
	return my_stats ? 0 : -ENOMEM;
}

static void __exit my_exit(void)
{
	kfree(my_stats);
}

module_init(my_init);
module_exit(my_exit);
MODULE_LICENSE("GPL");
