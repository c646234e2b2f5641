// SPDX-License-Identifier: GPL-2.0
/* ksim's own test module (not kernel code): the C face's locks under lockdep. A device whose
 * interrupt handler takes dev.lock, taken in process context with irqs on (the bug) or with
 * spin_lock_irqsave (the fix); a spinlock_t inside a raw_spinlock_t (PROVE_RAW_LOCK_NESTING);
 * rwlock_t and rw_semaphore semantics and their sleep rules. Entry points are exported for
 * the tests (cface/tests/c_locks.rs); markers name the lines reports must point at. */
#include <linux/module.h>
#include <linux/spinlock.h>
#include <linux/interrupt.h>
#include <linux/mutex.h>
#include <linux/rwsem.h>

#define EXPORT_TEST __attribute__((__used__, __visibility__("default")))

struct locks_dev {
	spinlock_t lock;
	raw_spinlock_t raw;
	rwlock_t rw;
	struct rw_semaphore sem;
	struct mutex m;
	int count;
};

static struct locks_dev dev;
static DEFINE_RWLOCK(table_lock);
static DECLARE_RWSEM(cfg_sem);
static DEFINE_RAW_SPINLOCK(stats_lock);

static irqreturn_t locks_irq(int irq, void *cookie)
{
	struct locks_dev *d = cookie;

	spin_lock(&d->lock); /* @irq_lock */
	d->count++;
	spin_unlock(&d->lock);
	read_lock(&table_lock);
	read_unlock(&table_lock);
	return IRQ_HANDLED;
}

EXPORT_TEST int locks_setup(void)
{
	spin_lock_init(&dev.lock);
	raw_spin_lock_init(&dev.raw);
	rwlock_init(&dev.rw);
	init_rwsem(&dev.sem);
	mutex_init(&dev.m);
	return request_irq(7, locks_irq, 0, "locks", &dev);
}

EXPORT_TEST int locks_teardown(void)
{
	free_irq(7, &dev);
	return 0;
}

/* The bug: the handler's lock taken with interrupts on. */
EXPORT_TEST int locks_count_plain(void)
{
	spin_lock(&dev.lock); /* @task_lock */
	dev.count++;
	spin_unlock(&dev.lock);
	return 0;
}

/* The fix; and the irq state each irq form leaves, as the kernel leaves it. */
EXPORT_TEST int locks_count_irqsave(void)
{
	unsigned long flags, outer;

	spin_lock_irqsave(&dev.lock, flags);
	dev.count++;
	spin_unlock_irqrestore(&dev.lock, flags);
	if (irqs_disabled())
		return -1;
	write_lock_irqsave(&table_lock, flags);
	if (!irqs_disabled())
		return -2;
	write_unlock_irqrestore(&table_lock, flags);
	if (irqs_disabled())
		return -3;
	/* Nested: the inner irqrestore keeps irqs off, the outer turns them on. */
	local_irq_save(outer);
	raw_spin_lock_irqsave(&dev.raw, flags);
	raw_spin_unlock_irqrestore(&dev.raw, flags);
	if (!irqs_disabled())
		return -4;
	local_irq_restore(outer);
	write_lock_irq(&dev.rw);
	write_unlock_irq(&dev.rw);
	if (irqs_disabled())
		return -5;
	read_lock_bh(&dev.rw);
	if (!in_softirq())
		return -6;
	read_unlock_bh(&dev.rw);
	return in_softirq() ? -7 : 0;
}

/* A spinlock_t (a sleeping lock on PREEMPT_RT) inside a raw_spinlock_t. */
EXPORT_TEST int locks_nest_in_raw(void)
{
	raw_spin_lock(&dev.raw); /* @raw */
	spin_lock(&dev.lock); /* @inner */
	spin_unlock(&dev.lock);
	raw_spin_unlock(&dev.raw);
	return 0;
}

/* The fix: the raw lock's section keeps to raw locks. */
EXPORT_TEST int locks_nest_fixed(void)
{
	spin_lock(&dev.lock);
	raw_spin_lock(&dev.raw);
	raw_spin_unlock(&dev.raw);
	spin_unlock(&dev.lock);
	return 0;
}

/* Readers share an rwlock_t and an rw_semaphore; a writer excludes everyone; trylocks say so. */
EXPORT_TEST int locks_rw_semantics(void)
{
	read_lock(&dev.rw);
	if (!read_trylock(&dev.rw))
		return -1;
	if (write_trylock(&dev.rw))
		return -2;
	read_unlock(&dev.rw);
	read_unlock(&dev.rw);
	if (!write_trylock(&dev.rw))
		return -3;
	write_unlock(&dev.rw);

	if (!down_read_trylock(&dev.sem))
		return -4;
	up_read(&dev.sem);
	/* Static locks, made on first use. */
	down_write(&cfg_sem);
	up_write(&cfg_sem);
	raw_spin_lock(&stats_lock);
	if (!raw_spin_trylock(&dev.raw))
		return -10;
	raw_spin_unlock(&dev.raw);
	raw_spin_unlock(&stats_lock);
	if (mutex_lock_interruptible(&dev.m))
		return -5;
	mutex_unlock(&dev.m);
	return 0;
}

/* Held by one task while another tries (a trylock of a lock its own task holds is lockdep's
 * business, not a test of exclusion). */
EXPORT_TEST int locks_hold_write(void)
{
	down_write(&dev.sem);
	mutex_lock(&dev.m);
	return 0;
}

EXPORT_TEST int locks_release_write(void)
{
	mutex_unlock(&dev.m);
	up_write(&dev.sem);
	return 0;
}

/* 0 if the sem and the mutex are both taken elsewhere, else which trylock succeeded. */
EXPORT_TEST int locks_try_while_held(void)
{
	if (down_read_trylock(&dev.sem)) {
		up_read(&dev.sem);
		return 1;
	}
	if (down_write_trylock(&dev.sem)) {
		up_write(&dev.sem);
		return 2;
	}
	if (mutex_trylock(&dev.m)) {
		mutex_unlock(&dev.m);
		return 3;
	}
	return 0;
}

/* 0 if both are free: each trylock succeeds. */
EXPORT_TEST int locks_try_when_free(void)
{
	if (!down_write_trylock(&dev.sem))
		return -1;
	up_write(&dev.sem);
	if (!mutex_trylock(&dev.m))
		return -2;
	mutex_unlock(&dev.m);
	return 0;
}

/* An rw_semaphore sleeps: down_read under a spinlock is a sleep in atomic context. */
EXPORT_TEST int locks_down_read_atomic(void)
{
	spin_lock(&dev.lock);
	down_read(&dev.sem); /* @down_read */
	up_read(&dev.sem);
	spin_unlock(&dev.lock);
	return 0;
}
MODULE_LICENSE("GPL");
