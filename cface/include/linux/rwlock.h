/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/rwlock.h: rwlock_t, a spinning reader-writer lock (readers share it, a writer
 * is alone), with the irq/bh forms of spin_lock; included by spinlock.h. Each call passes the
 * API's own name, which lockdep's reports print. Written for ksim. */
#ifndef _LINUX_RWLOCK_H
#define _LINUX_RWLOCK_H
#include <linux/spinlock_types.h>
#include <ksim/api.h>

#define __ksim_rw(l) _Generic((l), rwlock_t *: (l))
#define rwlock_init(lock) ksim_klock_init(__ksim_rw(lock), KSIM_LOCK_RWLOCK, #lock, __FILE__, __LINE__)
#define __ksim_rw_lock(l, op, fl, rd) ksim_klock_lock(__ksim_rw(l), KSIM_LOCK_RWLOCK, op, fl, rd, __FILE__, __LINE__)
#define __ksim_rw_unlock(l, op, fl, rd, flags) \
	ksim_klock_unlock(__ksim_rw(l), KSIM_LOCK_RWLOCK, op, fl, rd, (flags), __FILE__, __LINE__)

#define read_lock(lock) ((void)__ksim_rw_lock(lock, "read_lock", KSIM_SPIN_PLAIN, 1))
#define read_unlock(lock) __ksim_rw_unlock(lock, "read_unlock", KSIM_SPIN_PLAIN, 1, 0)
#define read_lock_irq(lock) ((void)__ksim_rw_lock(lock, "read_lock_irq", KSIM_SPIN_IRQ, 1))
#define read_unlock_irq(lock) __ksim_rw_unlock(lock, "read_unlock_irq", KSIM_SPIN_IRQ, 1, 0)
#define read_lock_irqsave(lock, flags) \
	do { (flags) = __ksim_rw_lock(lock, "read_lock_irqsave", KSIM_SPIN_IRQSAVE, 1); } while (0)
#define read_unlock_irqrestore(lock, flags) \
	__ksim_rw_unlock(lock, "read_unlock_irqrestore", KSIM_SPIN_IRQSAVE, 1, (flags))
#define read_lock_bh(lock) ((void)__ksim_rw_lock(lock, "read_lock_bh", KSIM_SPIN_BH, 1))
#define read_unlock_bh(lock) __ksim_rw_unlock(lock, "read_unlock_bh", KSIM_SPIN_BH, 1, 0)

#define write_lock(lock) ((void)__ksim_rw_lock(lock, "write_lock", KSIM_SPIN_PLAIN, 0))
#define write_unlock(lock) __ksim_rw_unlock(lock, "write_unlock", KSIM_SPIN_PLAIN, 0, 0)
#define write_lock_irq(lock) ((void)__ksim_rw_lock(lock, "write_lock_irq", KSIM_SPIN_IRQ, 0))
#define write_unlock_irq(lock) __ksim_rw_unlock(lock, "write_unlock_irq", KSIM_SPIN_IRQ, 0, 0)
#define write_lock_irqsave(lock, flags) \
	do { (flags) = __ksim_rw_lock(lock, "write_lock_irqsave", KSIM_SPIN_IRQSAVE, 0); } while (0)
#define write_unlock_irqrestore(lock, flags) \
	__ksim_rw_unlock(lock, "write_unlock_irqrestore", KSIM_SPIN_IRQSAVE, 0, (flags))
#define write_lock_bh(lock) ((void)__ksim_rw_lock(lock, "write_lock_bh", KSIM_SPIN_BH, 0))
#define write_unlock_bh(lock) __ksim_rw_unlock(lock, "write_unlock_bh", KSIM_SPIN_BH, 0, 0)

#define read_trylock(lock) \
	ksim_klock_trylock(__ksim_rw(lock), KSIM_LOCK_RWLOCK, "read_trylock", KSIM_SPIN_PLAIN, 1, __FILE__, __LINE__)
#define write_trylock(lock) \
	ksim_klock_trylock(__ksim_rw(lock), KSIM_LOCK_RWLOCK, "write_trylock", KSIM_SPIN_PLAIN, 0, __FILE__, __LINE__)
#endif
