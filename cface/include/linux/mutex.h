/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/mutex.h: a sleeping lock (might_sleep on every mutex_lock, lockdep). Written
 * for ksim. */
#ifndef _LINUX_MUTEX_H
#define _LINUX_MUTEX_H
#include <linux/spinlock_types.h>
#include <ksim/api.h>

struct mutex {
	struct ksim_handle ksim;
	const char *name; /* the lockdep class name */
};

#define __MUTEX_INITIALIZER(lockname) { .name = #lockname }
#define DEFINE_MUTEX(mutexname) struct mutex mutexname = __MUTEX_INITIALIZER(mutexname)
#define mutex_init(lock) ksim_mutex_init((lock), #lock, __FILE__, __LINE__)
#define mutex_lock(lock) ksim_mutex_lock((lock), __FILE__, __LINE__)
#define mutex_lock_nested(lock, sub) mutex_lock(lock)
#define mutex_lock_interruptible(lock) ksim_mutex_lock_interruptible((lock), __FILE__, __LINE__)
#define mutex_lock_killable(lock) mutex_lock_interruptible(lock)
#define mutex_trylock(lock) ksim_mutex_trylock((lock), __FILE__, __LINE__)
#define mutex_unlock(lock) ksim_mutex_unlock((lock), __FILE__, __LINE__)
#define mutex_is_locked(lock) ksim_mutex_is_locked(lock)
#define mutex_destroy(lock) do { (void)(lock); } while (0)
#endif
