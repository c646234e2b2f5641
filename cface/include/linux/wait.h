/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/wait.h: wait queues. wait_event*() is might_sleep() on every call, then
 * sleeps until its condition (C code, re-evaluated by the macro after every wake-up, outside
 * the queue's lock) holds; interruptible forms return -ERESTARTSYS for a pending signal,
 * _timeout forms 0 when the timeout came first (else the jiffies left, at least 1). A wait
 * nobody ends is ksim's deadlock report, naming where each task sleeps. Written for ksim. */
#ifndef _LINUX_WAIT_H
#define _LINUX_WAIT_H
#include <linux/kernel.h>
#include <linux/spinlock_types.h>
#include <ksim/api.h>

struct wait_queue_head {
	struct ksim_handle ksim;
	const char *name;
};
typedef struct wait_queue_head wait_queue_head_t;

#define __WAIT_QUEUE_HEAD_INITIALIZER(wq_name) { .name = #wq_name }
#define DECLARE_WAIT_QUEUE_HEAD(wq_name) struct wait_queue_head wq_name = __WAIT_QUEUE_HEAD_INITIALIZER(wq_name)
#define init_waitqueue_head(wq) ksim_init_waitqueue_head((wq), #wq, __FILE__, __LINE__)

/* The steps of one wait (cface/src/bind/wait.rs): begin, evaluate, sleep, ..., end with the
 * condition's last value, which gives the API's return value. A timeout < 0 is none. */
#define __ksim_wait_event(wq_head, condition, api, intr, timeout)                             \
	({                                                                                    \
		long __ksim_ret;                                                              \
		struct wait_queue_head *__ksim_wq = &(wq_head);                               \
		ksim_wait_begin(__ksim_wq, api, intr, timeout, __FILE__, __LINE__);           \
		for (;;) {                                                                    \
			if (condition) {                                                      \
				__ksim_ret = ksim_wait_end(__ksim_wq, 1);                     \
				break;                                                        \
			}                                                                     \
			if (!ksim_wait_sleep(__ksim_wq)) {                                    \
				__ksim_ret = ksim_wait_end(__ksim_wq, !!(condition));         \
				break;                                                        \
			}                                                                     \
		}                                                                             \
		__ksim_ret;                                                                   \
	})

#define wait_event(wq_head, condition) \
	do { (void)__ksim_wait_event(wq_head, condition, "wait_event()", 0, -1L); } while (0)
#define wait_event_interruptible(wq_head, condition) \
	((int)__ksim_wait_event(wq_head, condition, "wait_event_interruptible()", 1, -1L))
#define wait_event_timeout(wq_head, condition, timeout) \
	__ksim_wait_event(wq_head, condition, "wait_event_timeout()", 0, (long)(timeout))
#define wait_event_interruptible_timeout(wq_head, condition, timeout) \
	__ksim_wait_event(wq_head, condition, "wait_event_interruptible_timeout()", 1, (long)(timeout))

#define wake_up(wq) ksim_wake_up(wq)
#define wake_up_all(wq) ksim_wake_up(wq)
#define wake_up_interruptible(wq) ksim_wake_up(wq)
#define wake_up_interruptible_all(wq) ksim_wake_up(wq)
#endif
