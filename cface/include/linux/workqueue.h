/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/workqueue.h: struct work_struct (the layout the C face's work items use: a
 * handle, the function, its name) and delayed work (ksim/delayed_work.h). Written for ksim. */
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

#include <ksim/delayed_work.h>
#endif
