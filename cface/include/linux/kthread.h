/* SPDX-License-Identifier: GPL-2.0 */
/*
 * include/linux/kthread.h: kernel threads as simulated tasks (the scheduler interleaves them
 * with everything else). kthread_stop() sets the thread's stop flag, then waits for it to end
 * and returns its function's value. Written for ksim.
 */
#ifndef _LINUX_KTHREAD_H
#define _LINUX_KTHREAD_H
#include <linux/err.h>
#include <linux/sched.h>
#include <linux/sprintf.h>
#include <ksim/api.h>

struct task_struct;

#define kthread_run(threadfn, data, namefmt, ...)                                               \
	({                                                                                      \
		char __ksim_comm[TASK_COMM_LEN];                                                \
		snprintf(__ksim_comm, sizeof(__ksim_comm), namefmt, ##__VA_ARGS__);             \
		(struct task_struct *)ksim_kthread_run((threadfn), (data), __ksim_comm, __FILE__, \
						       __LINE__);                               \
	})
#define kthread_stop(k) ksim_kthread_stop((k), __FILE__, __LINE__)
#define kthread_should_stop() ((bool)ksim_kthread_should_stop())
#endif
