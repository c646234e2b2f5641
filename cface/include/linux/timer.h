/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/timer.h: struct timer_list. An armed timer fires when the scheduler lets it
 * (advancing jiffies to its expiry); its callback runs in softirq context holding the timer's
 * lockdep map, so del_timer_sync() from the callback or under a lock the callback takes is
 * reported. The lockdep class is named after the timer expression, as the kernel names it.
 * Written for ksim. */
#ifndef _LINUX_TIMER_H
#define _LINUX_TIMER_H
#include <linux/kernel.h>
#include <linux/jiffies.h>
#include <linux/spinlock_types.h>
#include <ksim/api.h>

struct timer_list {
	struct ksim_handle ksim;
	const char *name; /* the lockdep class name */
	unsigned long expires;
	void (*function)(struct timer_list *);
	u32 flags; /* kept for the driver; ksim's timers model no flag */
};

#define TIMER_DEFERRABLE 0x00080000
#define TIMER_PINNED 0x00100000
#define TIMER_IRQSAFE 0x00200000

#define __TIMER_INITIALIZER(_function, _flags) { .function = (_function), .flags = (_flags) }
#define DEFINE_TIMER(_name, _function) \
	struct timer_list _name = { .name = #_name, .function = (_function) }

#define timer_setup(timer, callback, _flags)                                          \
	do {                                                                          \
		(timer)->function = (callback);                                       \
		(timer)->flags = (_flags);                                            \
		ksim_timer_setup((timer), #timer, #callback, __FILE__, __LINE__);     \
	} while (0)
#define from_timer(var, callback_timer, timer_fieldname) \
	container_of(callback_timer, __typeof__(*var), timer_fieldname)

#define mod_timer(timer, expires) ksim_mod_timer((timer), (expires), __FILE__, __LINE__)
#define add_timer(timer) ksim_add_timer((timer), __FILE__, __LINE__)
#define del_timer(timer) ksim_del_timer(timer)
#define del_timer_sync(timer) ksim_del_timer_sync((timer), __FILE__, __LINE__)
#define timer_delete(timer) del_timer(timer)
#define timer_delete_sync(timer) del_timer_sync(timer)
#define timer_pending(timer) ((bool)ksim_timer_pending(timer))
#endif
