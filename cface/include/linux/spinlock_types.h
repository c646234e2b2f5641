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

#define __SPIN_LOCK_UNLOCKED(lockname) { .name = #lockname }
#define DEFINE_SPINLOCK(x) spinlock_t x = __SPIN_LOCK_UNLOCKED(x)

/* raw_spinlock_t, rwlock_t and struct rw_semaphore share one layout (ksim's guard-less lock,
 * cface/src/bind/locks.rs); the header passes which kind, for a lock made on first use. */
#define KSIM_LOCK_RAW_SPIN 0
#define KSIM_LOCK_RWLOCK 1
#define KSIM_LOCK_RWSEM 2

typedef struct raw_spinlock {
	struct ksim_handle ksim;
	const char *name; /* the lockdep class name */
} raw_spinlock_t;
#define __RAW_SPIN_LOCK_UNLOCKED(lockname) { .name = #lockname }
#define DEFINE_RAW_SPINLOCK(x) raw_spinlock_t x = __RAW_SPIN_LOCK_UNLOCKED(x)

typedef struct {
	struct ksim_handle ksim;
	const char *name;
} rwlock_t;
#define __RW_LOCK_UNLOCKED(lockname) { .name = #lockname }
#define DEFINE_RWLOCK(x) rwlock_t x = __RW_LOCK_UNLOCKED(x)
#endif
