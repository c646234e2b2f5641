/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/interrupt.h: request_irq()/free_irq(). The handler runs in hardirq context,
 * as ksim's handler task for the line, once the device raises it. Written for ksim. */
#ifndef _LINUX_INTERRUPT_H
#define _LINUX_INTERRUPT_H
#include <linux/kernel.h>
#include <linux/irqflags.h>
#include <linux/preempt.h>
#include <ksim/api.h>

typedef enum irqreturn {
	IRQ_NONE = 0,
	IRQ_HANDLED = 1,
	IRQ_WAKE_THREAD = 2,
} irqreturn_t;
typedef irqreturn_t (*irq_handler_t)(int, void *);

#define IRQF_SHARED 0x00000080
#define IRQF_ONESHOT 0x00002000

#define request_irq(irq, handler, flags, name, dev) \
	ksim_request_irq((irq), (int (*)(int, void *))(irq_handler_t)(handler), (flags), (name), (dev), __FILE__, __LINE__)
#define free_irq(irq, dev) ksim_free_irq((irq), (dev), __FILE__, __LINE__)
#define synchronize_irq(irq) ksim_synchronize_irq((irq), __FILE__, __LINE__)
#endif
