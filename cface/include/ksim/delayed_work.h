/* SPDX-License-Identifier: GPL-2.0 */
/* struct delayed_work (include/linux/workqueue.h's delayed half, included from there): a work
 * item and the timer that queues it on the system workqueue after its delay, when the
 * scheduler lets the timer fire. It is ksim's DelayedWork (cface/src/bind/timer.rs), reached
 * through its own calls: the embedded work_struct gives only the function, its name and
 * to_delayed_work(). Written for ksim. */
#ifndef _KSIM_DELAYED_WORK_H
#define _KSIM_DELAYED_WORK_H
#include <linux/kernel.h>
#include <linux/spinlock_types.h>
#include <ksim/api.h>

struct delayed_work {
	struct work_struct work;
	struct ksim_handle ksim_dwork;
};

#define __ksim_dw(dw) _Generic((dw), struct delayed_work *: (dw))
#define INIT_DELAYED_WORK(_work, _func)                                               \
	do {                                                                          \
		(_work)->work.func = (_func);                                         \
		(_work)->work.name = #_func;                                          \
		ksim_init_delayed_work(__ksim_dw(_work), __FILE__, __LINE__);         \
	} while (0)
#define DECLARE_DELAYED_WORK(n, f) struct delayed_work n = { .work = { .func = (f), .name = #f } }
#define to_delayed_work(_work) container_of(_work, struct delayed_work, work)
#define schedule_delayed_work(dw, delay) \
	((bool)ksim_schedule_delayed_work(__ksim_dw(dw), (delay), __FILE__, __LINE__))
#define cancel_delayed_work(dw) ((bool)ksim_cancel_delayed_work(__ksim_dw(dw), __FILE__, __LINE__))
#define cancel_delayed_work_sync(dw) ((bool)ksim_cancel_delayed_work_sync(__ksim_dw(dw), __FILE__, __LINE__))
#endif
