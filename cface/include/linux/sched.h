/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/sched.h: the current task, cond_resched() and schedule(). Written for ksim. */
#ifndef _LINUX_SCHED_H
#define _LINUX_SCHED_H
#include <linux/kernel.h>
#include <linux/preempt.h>
#include <ksim/api.h>
#define TASK_COMM_LEN 16
#define cond_resched() ksim_cond_resched(__FILE__, __LINE__)
#define schedule() ksim_schedule(__FILE__, __LINE__)
#define task_pid_nr(t) ksim_current_pid()
#define current_comm() ksim_current_comm()
#endif
