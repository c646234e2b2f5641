/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/hrtimer.h, the basics: a started hrtimer fires when the scheduler lets it (the
 * simulated time does not order it against other timers, so the expiry and hrtimer_forward*()
 * are not modelled); its callback runs in hardirq context, or softirq with a _SOFT mode, and
 * returns whether to restart. hrtimer_cancel() from the callback itself is a deadlock,
 * reported. The C callback is read from the struct when the timer fires. Written for ksim. */
#ifndef _LINUX_HRTIMER_H
#define _LINUX_HRTIMER_H
#include <linux/kernel.h>
#include <linux/spinlock_types.h>
#include <ksim/api.h>

typedef s64 ktime_t;
#define NSEC_PER_USEC 1000L
#define NSEC_PER_MSEC 1000000L
#define NSEC_PER_SEC 1000000000L
#define ktime_set(secs, nsecs) ((ktime_t)(secs) * NSEC_PER_SEC + (nsecs))
#define ns_to_ktime(ns) ((ktime_t)(ns))
#define ms_to_ktime(ms) ((ktime_t)(ms) * NSEC_PER_MSEC)
#define us_to_ktime(us) ((ktime_t)(us) * NSEC_PER_USEC)

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_BOOTTIME 7

enum hrtimer_restart {
	HRTIMER_NORESTART,
	HRTIMER_RESTART,
};

enum hrtimer_mode {
	HRTIMER_MODE_ABS = 0x00,
	HRTIMER_MODE_REL = 0x01,
	HRTIMER_MODE_PINNED = 0x02,
	HRTIMER_MODE_SOFT = 0x04,
	HRTIMER_MODE_HARD = 0x08,
	HRTIMER_MODE_ABS_SOFT = HRTIMER_MODE_ABS | HRTIMER_MODE_SOFT,
	HRTIMER_MODE_REL_SOFT = HRTIMER_MODE_REL | HRTIMER_MODE_SOFT,
	HRTIMER_MODE_ABS_HARD = HRTIMER_MODE_ABS | HRTIMER_MODE_HARD,
	HRTIMER_MODE_REL_HARD = HRTIMER_MODE_REL | HRTIMER_MODE_HARD,
};

struct hrtimer {
	struct ksim_handle ksim;
	const char *name;
	enum hrtimer_restart (*function)(struct hrtimer *);
	int mode;
	const char *init_file; /* where hrtimer_init() was called (the callback's entry site) */
	int init_line;
};

#define hrtimer_init(timer, clock_id, mode) \
	ksim_hrtimer_init((timer), (clock_id), (mode), #timer, __FILE__, __LINE__)
#define hrtimer_start(timer, tim, mode) ksim_hrtimer_start((timer), (tim), (mode))
#define hrtimer_cancel(timer) ksim_hrtimer_cancel((timer), __FILE__, __LINE__)
#define hrtimer_try_to_cancel(timer) ksim_hrtimer_try_to_cancel(timer)
#define hrtimer_active(timer) ((bool)ksim_hrtimer_active(timer))
#endif
