/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/preempt.h: preempt_count and the context predicates (6.1 layout: NMI_BITS 4).
 * Written for ksim. */
#ifndef _LINUX_PREEMPT_H
#define _LINUX_PREEMPT_H
#include <ksim/api.h>
#define PREEMPT_MASK 0x000000ff
#define SOFTIRQ_MASK 0x0000ff00
#define HARDIRQ_MASK 0x000f0000
#define NMI_MASK 0x00f00000
#define PREEMPT_OFFSET 1
#define SOFTIRQ_OFFSET 0x100
#define SOFTIRQ_DISABLE_OFFSET 0x200
#define HARDIRQ_OFFSET 0x10000
#define NMI_OFFSET 0x100000
#define preempt_count() ksim_preempt_count()
#define hardirq_count() (preempt_count() & HARDIRQ_MASK)
#define softirq_count() (preempt_count() & SOFTIRQ_MASK)
#define irq_count() (preempt_count() & (HARDIRQ_MASK | SOFTIRQ_MASK | NMI_MASK))
#define in_irq() (hardirq_count())
#define in_hardirq() (hardirq_count())
#define in_softirq() (softirq_count())
#define in_serving_softirq() (softirq_count() & SOFTIRQ_OFFSET)
#define in_interrupt() (irq_count())
#define in_nmi() (preempt_count() & NMI_MASK)
#define in_task() (!(preempt_count() & (NMI_MASK | HARDIRQ_MASK | SOFTIRQ_OFFSET)))
#define in_atomic() (preempt_count() != 0)
#define preempt_disable() ksim_preempt_disable(__FILE__, __LINE__)
#define preempt_enable() ksim_preempt_enable(__FILE__, __LINE__)
#define preempt_enable_no_resched() preempt_enable()
#define migrate_disable() preempt_disable()
#define migrate_enable() preempt_enable()
#endif
