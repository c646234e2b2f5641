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
#define raw_spin_lock_init spin_lock_init
#define raw_spin_lock spin_lock
#define raw_spin_unlock spin_unlock
#define raw_spin_lock_irqsave spin_lock_irqsave
#define raw_spin_unlock_irqrestore spin_unlock_irqrestore
#define assert_spin_locked(lock) do { } while (0)
#define lockdep_assert_held(lock) do { (void)(lock); } while (0)
#endif
