/* SPDX-License-Identifier: GPL-2.0 */
/* include/linux/irqflags.h: local interrupt disabling. Written for ksim. */
#ifndef _LINUX_IRQFLAGS_H
#define _LINUX_IRQFLAGS_H
#include <ksim/api.h>
#define local_irq_save(flags) do { (flags) = ksim_local_irq_save(__FILE__, __LINE__); } while (0)
#define local_irq_restore(flags) ksim_local_irq_restore((flags), __FILE__, __LINE__)
#define local_irq_disable() ksim_local_irq_disable(__FILE__, __LINE__)
#define local_irq_enable() ksim_local_irq_enable(__FILE__, __LINE__)
#define irqs_disabled() ksim_irqs_disabled()
#endif
