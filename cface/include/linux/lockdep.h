/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/lockdep.h: lockdep_is_held(), whether the current task holds a lock (the
 * condition rcu_dereference_check() takes). Written for ksim. */
#ifndef _LINUX_LOCKDEP_H
#define _LINUX_LOCKDEP_H
#include <linux/spinlock_types.h>
#include <ksim/api.h>

struct rw_semaphore;
/* Which kind of C lock `l` is, for the binding (cface/src/bind/locks.rs): spinlock_t 0,
 * struct mutex 1, then 2 + KSIM_LOCK_*. Any other type does not compile. */
#define lockdep_is_held(l)                                                          \
	ksim_lockdep_is_held((void *)(l), _Generic((l),                             \
		spinlock_t *: 0, struct mutex *: 1,                                 \
		raw_spinlock_t *: 2 + KSIM_LOCK_RAW_SPIN, rwlock_t *: 2 + KSIM_LOCK_RWLOCK, \
		struct rw_semaphore *: 2 + KSIM_LOCK_RWSEM))
#endif
