/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/rwsem.h: struct rw_semaphore, a sleeping reader-writer lock (might_sleep on
 * every down_*, lockdep as for a mutex). Written for ksim. */
#ifndef _LINUX_RWSEM_H
#define _LINUX_RWSEM_H
#include <linux/spinlock_types.h>
#include <ksim/api.h>

struct rw_semaphore {
	struct ksim_handle ksim;
	const char *name; /* the lockdep class name */
};

#define __RWSEM_INITIALIZER(sem_name) { .name = #sem_name }
#define DECLARE_RWSEM(sem_name) struct rw_semaphore sem_name = __RWSEM_INITIALIZER(sem_name)

#define __ksim_sem(s) _Generic((s), struct rw_semaphore *: (s))
#define init_rwsem(sem) ksim_klock_init(__ksim_sem(sem), KSIM_LOCK_RWSEM, #sem, __FILE__, __LINE__)
#define __ksim_down(s, op, rd) ((void)ksim_klock_lock(__ksim_sem(s), KSIM_LOCK_RWSEM, op, 0, rd, __FILE__, __LINE__))
#define __ksim_up(s, op, rd) ksim_klock_unlock(__ksim_sem(s), KSIM_LOCK_RWSEM, op, 0, rd, 0, __FILE__, __LINE__)
#define down_read(sem) __ksim_down(sem, "down_read", 1)
#define down_write(sem) __ksim_down(sem, "down_write", 0)
#define up_read(sem) __ksim_up(sem, "up_read", 1)
#define up_write(sem) __ksim_up(sem, "up_write", 0)
#define down_read_trylock(sem) \
	ksim_klock_trylock(__ksim_sem(sem), KSIM_LOCK_RWSEM, "down_read_trylock", 0, 1, __FILE__, __LINE__)
#define down_write_trylock(sem) \
	ksim_klock_trylock(__ksim_sem(sem), KSIM_LOCK_RWSEM, "down_write_trylock", 0, 0, __FILE__, __LINE__)
#endif
