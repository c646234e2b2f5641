/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/spinlock.h: spin_lock and its irq/bh variants, with the kernel's preempt_count
 * and irq accounting and lockdep (ksim's spinlock model). Written for ksim. */
#ifndef _LINUX_SPINLOCK_H
#define _LINUX_SPINLOCK_H
#include <linux/spinlock_types.h>
#include <linux/preempt.h>
#include <linux/irqflags.h>
#include <linux/bottom_half.h>
#include <ksim/api.h>

#define KSIM_SPIN_PLAIN 0
#define KSIM_SPIN_IRQ 1
#define KSIM_SPIN_IRQSAVE 2
#define KSIM_SPIN_BH 3

/* The lockdep class is named after the lock expression, as the kernel names it (#lock). */
#define spin_lock_init(lock) ksim_spin_lock_init((lock), #lock, __FILE__, __LINE__)
#define spin_lock(lock) ((void)ksim_spin_lock((lock), KSIM_SPIN_PLAIN, __FILE__, __LINE__))
#define spin_unlock(lock) ksim_spin_unlock((lock), KSIM_SPIN_PLAIN, __FILE__, __LINE__)
#define spin_lock_irq(lock) ((void)ksim_spin_lock((lock), KSIM_SPIN_IRQ, __FILE__, __LINE__))
#define spin_unlock_irq(lock) ksim_spin_unlock((lock), KSIM_SPIN_IRQ, __FILE__, __LINE__)
#define spin_lock_irqsave(lock, flags) do { (flags) = ksim_spin_lock((lock), KSIM_SPIN_IRQSAVE, __FILE__, __LINE__); } while (0)
#define spin_unlock_irqrestore(lock, flags) do { (void)(flags); ksim_spin_unlock((lock), KSIM_SPIN_IRQSAVE, __FILE__, __LINE__); } while (0)
#define spin_lock_bh(lock) ((void)ksim_spin_lock((lock), KSIM_SPIN_BH, __FILE__, __LINE__))
#define spin_unlock_bh(lock) ksim_spin_unlock((lock), KSIM_SPIN_BH, __FILE__, __LINE__)
#define spin_trylock(lock) ksim_spin_trylock((lock), __FILE__, __LINE__)
#define assert_spin_locked(lock) do { } while (0)
#define lockdep_assert_held(lock) do { (void)(lock); } while (0)

/* raw_spinlock_t: spins even on PREEMPT_RT (lockdep wait type LD_WAIT_SPIN). _Generic makes
 * passing any other lock type a compile error, as the kernel's types do. */
#define __ksim_raw(l) _Generic((l), raw_spinlock_t *: (l))
#define raw_spin_lock_init(lock) ksim_klock_init(__ksim_raw(lock), KSIM_LOCK_RAW_SPIN, #lock, __FILE__, __LINE__)
#define __ksim_raw_lock(l, op, fl) ksim_klock_lock(__ksim_raw(l), KSIM_LOCK_RAW_SPIN, op, fl, 0, __FILE__, __LINE__)
#define __ksim_raw_unlock(l, op, fl, flags) \
	ksim_klock_unlock(__ksim_raw(l), KSIM_LOCK_RAW_SPIN, op, fl, 0, (flags), __FILE__, __LINE__)
#define raw_spin_lock(lock) ((void)__ksim_raw_lock(lock, "raw_spin_lock", KSIM_SPIN_PLAIN))
#define raw_spin_unlock(lock) __ksim_raw_unlock(lock, "raw_spin_unlock", KSIM_SPIN_PLAIN, 0)
#define raw_spin_lock_irq(lock) ((void)__ksim_raw_lock(lock, "raw_spin_lock_irq", KSIM_SPIN_IRQ))
#define raw_spin_unlock_irq(lock) __ksim_raw_unlock(lock, "raw_spin_unlock_irq", KSIM_SPIN_IRQ, 0)
#define raw_spin_lock_irqsave(lock, flags) \
	do { (flags) = __ksim_raw_lock(lock, "raw_spin_lock_irqsave", KSIM_SPIN_IRQSAVE); } while (0)
#define raw_spin_unlock_irqrestore(lock, flags) \
	__ksim_raw_unlock(lock, "raw_spin_unlock_irqrestore", KSIM_SPIN_IRQSAVE, (flags))
#define raw_spin_lock_bh(lock) ((void)__ksim_raw_lock(lock, "raw_spin_lock_bh", KSIM_SPIN_BH))
#define raw_spin_unlock_bh(lock) __ksim_raw_unlock(lock, "raw_spin_unlock_bh", KSIM_SPIN_BH, 0)
#define raw_spin_trylock(lock) \
	ksim_klock_trylock(__ksim_raw(lock), KSIM_LOCK_RAW_SPIN, "raw_spin_trylock", KSIM_SPIN_PLAIN, 0, __FILE__, __LINE__)

#include <linux/rwlock.h>
#endif
