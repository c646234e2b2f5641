/* SPDX-License-Identifier: GPL-2.0 */
/*
 * include/linux/workqueue.h: work items on the system workqueue. Each queued execution of a
 * work item is its own worker task (kworker/events) in process context, run when the scheduler
 * chooses; schedule_work() never sleeps, flush_work() may. A static DECLARE_WORK() is made on
 * first use. Delayed work is in ksim/delayed_work.h. Written for ksim.
 */
#ifndef _LINUX_WORKQUEUE_H
#define _LINUX_WORKQUEUE_H
#include <linux/spinlock_types.h>
#include <linux/types.h>
#include <ksim/api.h>

struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);

struct work_struct {
	struct ksim_handle ksim;
	work_func_t func;
	const char *name;
};

#define __WORK_INITIALIZER(n, f) { .func = (f), .name = #f }
#define DECLARE_WORK(n, f) struct work_struct n = __WORK_INITIALIZER(n, f)
#define INIT_WORK(_work, _func)                                                                 \
	do {                                                                                    \
		(_work)->func = (_func);                                                        \
		(_work)->name = #_func;                                                         \
		ksim_init_work(_work);                                                          \
	} while (0)
#define schedule_work(w) ((bool)ksim_schedule_work(w))
#define flush_work(w) ((bool)ksim_flush_work((w), __FILE__, __LINE__))
#define work_pending(w) ((bool)ksim_work_pending(w))

#include <ksim/delayed_work.h>
#endif
