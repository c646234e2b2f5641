// SPDX-License-Identifier: GPL-2.0
/* ksim's own test module (not kernel code): timers, hrtimers and delayed work from C. A device
 * whose timer callback takes dev->lock, stopped with del_timer_sync() under that lock (the
 * bug lockdep reports) or after it; a timer that stops itself from its own callback; where
 * each callback runs (softirq, hardirq, process context); cancel_delayed_work_sync() in
 * atomic context. Entry points are exported for cface/tests/c_timers.rs. */
#include <linux/module.h>
#include <linux/hrtimer.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/workqueue.h>

#define EXPORT_TEST __attribute__((__used__, __visibility__("default")))

struct tdev {
	spinlock_t lock;
	struct timer_list timer;
	struct timer_list self_timer;
	struct hrtimer hr;
	struct delayed_work poll;
	unsigned long expires;
	int fired, in_softirq, late;
	int hr_fired, hr_in_hardirq;
	int polls, poll_in_process, poll_container_ok;
};

static struct tdev tdev;
static int static_fired;

static void tdev_static_fn(struct timer_list *t)
{
	static_fired++;
}
static DEFINE_TIMER(static_timer, tdev_static_fn);

static void tdev_timer_fn(struct timer_list *t)
{
	struct tdev *d = from_timer(d, t, timer);

	if (in_softirq() && !in_irq())
		d->in_softirq++;
	if (time_before(jiffies, d->expires))
		d->late = -1;
	spin_lock(&d->lock); /* @cb_lock */
	d->fired++;
	spin_unlock(&d->lock);
}

static int self_entered;

static void tdev_self_timer_fn(struct timer_list *t)
{
	WRITE_ONCE(self_entered, 1);
	del_timer_sync(t); /* @self_sync */
}

static enum hrtimer_restart tdev_hr_fn(struct hrtimer *hr)
{
	struct tdev *d = container_of(hr, struct tdev, hr);

	if (in_irq())
		d->hr_in_hardirq++;
	d->hr_fired++;
	return HRTIMER_NORESTART;
}

static void tdev_poll_fn(struct work_struct *work)
{
	struct delayed_work *dw = to_delayed_work(work);
	struct tdev *d = container_of(dw, struct tdev, poll);

	d->poll_container_ok = dw == &tdev.poll;
	if (!in_interrupt() && !in_atomic())
		d->poll_in_process++;
	d->polls++;
}

EXPORT_TEST int timers_setup(void)
{
	spin_lock_init(&tdev.lock);
	timer_setup(&tdev.timer, tdev_timer_fn, 0); /* @setup */
	timer_setup(&tdev.self_timer, tdev_self_timer_fn, 0);
	hrtimer_init(&tdev.hr, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	tdev.hr.function = tdev_hr_fn;
	INIT_DELAYED_WORK(&tdev.poll, tdev_poll_fn);
	return 0;
}

/* The bug: the callback takes dev->lock, and del_timer_sync() waits for the callback. */
EXPORT_TEST int timers_sync_under_lock(void)
{
	tdev.expires = jiffies + msecs_to_jiffies(10);
	mod_timer(&tdev.timer, tdev.expires);
	spin_lock_bh(&tdev.lock); /* @bh_lock */
	del_timer_sync(&tdev.timer); /* @sync_locked */
	spin_unlock_bh(&tdev.lock);
	return 0;
}

/* The fix: stop the timer first, then take the lock. */
EXPORT_TEST int timers_sync_then_lock(void)
{
	tdev.expires = jiffies + msecs_to_jiffies(10);
	mod_timer(&tdev.timer, tdev.expires);
	del_timer_sync(&tdev.timer);
	spin_lock_bh(&tdev.lock);
	tdev.fired = 0;
	spin_unlock_bh(&tdev.lock);
	return 0;
}

/* The timer fires (at or after its expiry, in softirq context); the hrtimer's callback runs
 * in hardirq context; the delayed work runs later in process context, once. */
EXPORT_TEST int timers_fire(void)
{
	unsigned long start = jiffies;

	tdev.expires = start + msecs_to_jiffies(20);
	if (mod_timer(&tdev.timer, tdev.expires))
		return -1;
	while (timer_pending(&tdev.timer))
		schedule();
	del_timer_sync(&tdev.timer);
	if (tdev.fired != 1 || tdev.in_softirq != 1 || tdev.late)
		return -3;
	if (time_before(jiffies, tdev.expires) || jiffies_to_msecs(tdev.expires - start) != 20)
		return -4;

	hrtimer_start(&tdev.hr, ms_to_ktime(1), HRTIMER_MODE_REL);
	while (hrtimer_active(&tdev.hr))
		schedule();
	if (hrtimer_cancel(&tdev.hr) || tdev.hr_fired != 1 || tdev.hr_in_hardirq != 1)
		return -5;

	if (!schedule_delayed_work(&tdev.poll, msecs_to_jiffies(5)))
		return -6;
	while (!READ_ONCE(tdev.polls))
		schedule();
	if (cancel_delayed_work_sync(&tdev.poll))
		return -7;
	/* A static timer needs no timer_setup(). */
	mod_timer(&static_timer, jiffies + 1);
	while (timer_pending(&static_timer))
		schedule();
	del_timer_sync(&static_timer);
	if (static_fired != 1)
		return -9;
	return tdev.polls == 1 && tdev.poll_in_process == 1 && tdev.poll_container_ok ? 0 : -8;
}

/* A timer stopping itself from its callback: del_timer_sync() would wait for itself. */
EXPORT_TEST int timers_self_sync(void)
{
	mod_timer(&tdev.self_timer, jiffies + 1);
	while (!READ_ONCE(self_entered))
		schedule();
	/* Waits for the callback, whatever it did. */
	del_timer_sync(&tdev.self_timer);
	return 0;
}

/* cancel_delayed_work_sync() may sleep: under a spinlock it is a sleep in atomic context. */
EXPORT_TEST int timers_cancel_sync_atomic(void)
{
	schedule_delayed_work(&tdev.poll, msecs_to_jiffies(50));
	spin_lock(&tdev.lock);
	cancel_delayed_work_sync(&tdev.poll); /* @cancel_locked */
	spin_unlock(&tdev.lock);
	return 0;
}
MODULE_LICENSE("GPL");
