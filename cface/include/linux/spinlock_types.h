/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/spinlock_types.h: a spinlock_t is a handle to ksim's lock model, created by
 * spin_lock_init() or, for a static DEFINE_SPINLOCK(), on first use. Written for ksim. */
#ifndef _LINUX_SPINLOCK_TYPES_H
#define _LINUX_SPINLOCK_TYPES_H
#include <linux/types.h>

/* The model object a C lock (or tree) stands for, valid in the execution that made it. */
struct ksim_handle {
	void *obj;
	unsigned long exec;
};

typedef struct spinlock {
	struct ksim_handle ksim;
	const char *name; /* the lockdep class name */
} spinlock_t;

typedef spinlock_t raw_spinlock_t;
#define __SPIN_LOCK_UNLOCKED(lockname) { .name = #lockname }
#define DEFINE_SPINLOCK(x) spinlock_t x = __SPIN_LOCK_UNLOCKED(x)
#define DEFINE_RAW_SPINLOCK(x) DEFINE_SPINLOCK(x)
#endif
